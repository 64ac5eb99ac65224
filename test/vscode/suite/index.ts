// The @vscode/test-electron suite: runs inside a real VS Code's extension host (scripts/test-vscode.mjs
// bundles this file to out/vscode-suite/index.js and launches VS Code on a throwaway workspace). The
// same flows as the code-server end-to-end test, through the API instead of the UI: compare on a
// selection → a report with both models, the panel rendered both heatmaps, the editor is
// highlighted; the hover on an instruction verb; other commands answer while a long analysis runs;
// a corrupt model folder fails without breaking the extension; editing the analysed text removes
// the highlights. No test framework: `run()` runs the cases in order and rejects on the first failure.

import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as vscode from 'vscode';
import type { LensApi } from '../../../src/extension/extension.js';
import { writeSyntheticCheckpoint } from '../../../src/model/synthetic.js';

const EXTENSION_ID = 'instruction-lens.instruction-lens';
const PROMPT = 'Summarize the article below in two sentences, as it is written.\nThe city council voted on Tuesday to expand the bike lanes.\n';

async function until(what: string, probe: () => boolean | Promise<boolean>, timeout = 60_000): Promise<void> {
  const started = Date.now();
  while (!(await probe())) {
    if (Date.now() - started > timeout) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function configure(settings: Record<string, unknown>): Promise<void> {
  const config = vscode.workspace.getConfiguration('instructionLens');
  for (const [key, value] of Object.entries(settings)) await config.update(key, value, vscode.ConfigurationTarget.Workspace);
}

async function openPrompt(folder: string): Promise<vscode.TextEditor> {
  const file = join(folder, 'prompt.md');
  writeFileSync(file, PROMPT);
  const document = await vscode.workspace.openTextDocument(file);
  const editor = await vscode.window.showTextDocument(document, vscode.ViewColumn.One);
  editor.selection = new vscode.Selection(document.positionAt(0), document.positionAt(document.getText().length));
  return editor;
}

export async function run(): Promise<void> {
  const folder = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
  assert.ok(folder, 'the suite runs on a workspace folder');
  const extension = vscode.extensions.getExtension<LensApi>(EXTENSION_ID);
  assert.ok(extension, `${EXTENSION_ID} is installed`);
  const api = await extension.activate();

  const models = join(folder, '.models');
  mkdirSync(models, { recursive: true });
  const slow = { preset: 'tiny', hiddenSize: 512, intermediateSize: 1024, numLayers: 6, maxPositionEmbeddings: 2048 } as const;
  await Promise.all([
    writeSyntheticCheckpoint(join(models, 'base'), { preset: 'tiny', seed: 1 }),
    writeSyntheticCheckpoint(join(models, 'tuned'), { preset: 'tiny', seed: 2 }),
    writeSyntheticCheckpoint(join(models, 'slow-base'), { ...slow, seed: 3 }),
  ]);
  mkdirSync(join(models, 'corrupt'), { recursive: true });
  writeFileSync(join(models, 'corrupt', 'config.json'), '{ not JSON');
  await configure({ baseModel: join(models, 'base'), tunedModel: join(models, 'tuned'), executionProvider: 'cpu', maxNewTokens: 6 });

  const cases: [string, () => Promise<void>][] = [
    ['compare on a selection: report, panel, highlights', async () => {
      const editor = await openPrompt(folder);
      await vscode.commands.executeCommand('instructionLens.compareSelection');
      const analysis = api.analysis;
      assert.ok(analysis?.report.base && analysis.report.tuned, 'a report with both models');
      assert.equal(analysis.report.prompt, PROMPT);
      await until('the panel to render', () => (api.lastRendered?.documentId ?? -1) === analysis.id && api.lastRendered!.heatmaps >= 2);
      assert.ok(api.decoratedCount(editor.document.uri) > 5, 'the analysed text is highlighted');
    }],
    ['hover on an instruction verb (an inflected form)', async () => {
      const document = vscode.window.activeTextEditor!.document;
      const at = document.positionAt(PROMPT.indexOf('written') + 2);
      const hovers = (await vscode.commands.executeCommand<vscode.Hover[]>('vscode.executeHoverProvider', document.uri, at)) ?? [];
      const text = hovers.flatMap((h) => h.contents.map((c) => (typeof c === 'string' ? c : 'value' in c ? c.value : ''))).join('\n');
      assert.match(text, /Instruction verb/);
      assert.match(text, /write/);
      assert.match(text, /Importance/);
      assert.match(text, /instructionLens\.showPanel/);
    }],
    ['other commands answer while a long analysis runs', async () => {
      await configure({ baseModel: join(models, 'slow-base'), maxNewTokens: 300, 'analyses.heads': false, 'analyses.ffn': false });
      await openPrompt(folder);
      const before = api.analysis?.id;
      const long = vscode.commands.executeCommand('instructionLens.compareSelection');
      await until('the engine to work', () => api.engineRunning, 10_000);
      await new Promise((r) => setTimeout(r, 1000));
      const started = Date.now();
      await vscode.commands.executeCommand('instructionLens.clearHighlights');
      await vscode.commands.executeCommand('instructionLens.toggleHighlight', 'base');
      const took = Date.now() - started;
      assert.ok(took < 2000, `two commands took ${took} ms during the analysis`);
      assert.equal(api.analysis?.id, before, 'the long analysis has not finished yet');
      await configure({ baseModel: join(models, 'base'), maxNewTokens: 6, 'analyses.heads': true, 'analyses.ffn': true });
      await long;
    }],
    ['a corrupt model folder fails with a message; the next run works', async () => {
      await configure({ baseModel: join(models, 'corrupt') });
      await openPrompt(folder);
      const before = api.analysis?.id;
      await vscode.commands.executeCommand('instructionLens.compareSelection');
      assert.equal(api.analysis?.id, before, 'no new analysis from a corrupt model');
      await configure({ baseModel: join(models, 'base') });
      await openPrompt(folder);
      await vscode.commands.executeCommand('instructionLens.compareSelection');
      assert.notEqual(api.analysis?.id, before, 'a new analysis');
    }],
    ['editing the analysed text removes its highlights', async () => {
      const editor = vscode.window.activeTextEditor!;
      assert.ok(api.decoratedCount(editor.document.uri) > 0);
      await editor.edit((edit) => edit.insert(editor.document.positionAt(PROMPT.indexOf('article')), 'news '));
      await until('the highlights to go', () => api.decoratedCount(editor.document.uri) === 0, 5000);
      assert.equal(api.analysis?.stale, true);
      await vscode.commands.executeCommand('workbench.action.files.revert');
    }],
  ];
  for (const [name, body] of cases) {
    const started = Date.now();
    try {
      await body();
      console.log(`  ✔ ${name} (${Date.now() - started} ms)`);
    } catch (e) {
      console.log(`  ✖ ${name}`);
      throw e;
    }
  }
}
