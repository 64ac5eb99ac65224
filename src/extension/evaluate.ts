// Instruction Lens: Evaluate Prompt Set… — a .jsonl prompt set through both configured models, then
// the merged HTML report in a panel. The work is the CLI's `evaluate` (dist/cli.js, run by the
// editor's own Node with ELECTRON_RUN_AS_NODE), not the engine process: its results are appended
// line by line to `<prompt set>.lens-eval/`, so Cancel (SIGINT to the child) loses nothing and the
// next run of the command on the same file continues where it stopped. Progress comes from the
// child's plain progress lines; everything else it writes goes to the output channel.

import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import * as vscode from 'vscode';
import { parseProgressLine } from '../evaluate/progress.js';
import type { LensCommand, LensServices } from './commands.js';

function promptSetUri(args: unknown[]): vscode.Uri | undefined {
  if (args[0] instanceof vscode.Uri) return args[0];
  const doc = vscode.window.activeTextEditor?.document;
  if (doc && doc.uri.scheme === 'file' && /\.jsonl(\.gz)?$/i.test(doc.uri.fsPath)) return doc.uri;
  return undefined;
}

/** Runs the CLI with `args`; resolves with its exit code. Each stderr line goes to `onLine`. */
function runCli(services: LensServices, args: string[], token: vscode.CancellationToken, onLine: (line: string) => void): Promise<number> {
  const cli = services.lens.extension.asAbsolutePath(join('dist', 'cli.js'));
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cli, ...args], {
      env: { ...process.env, ELECTRON_RUN_AS_NODE: '1', INSTRUCTION_LENS_PROGRESS_SECONDS: '1', NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const cancel = token.onCancellationRequested(() => child.kill('SIGINT'));
    let pending = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => {
      pending += chunk;
      const lines = pending.split('\n');
      pending = lines.pop()!;
      for (const line of lines) onLine(line);
    });
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => services.lens.log(chunk.trimEnd()));
    child.on('error', (e) => {
      cancel.dispose();
      reject(e);
    });
    child.on('close', (code) => {
      cancel.dispose();
      if (pending) onLine(pending);
      resolve(code ?? 1);
    });
  });
}

async function evaluatePromptSet(services: LensServices, ...args: unknown[]): Promise<void> {
  const { lens } = services;
  let uri = promptSetUri(args);
  if (!uri) {
    const picked = await vscode.window.showOpenDialog({ canSelectMany: false, openLabel: 'Evaluate', filters: { 'Prompt sets': ['jsonl', 'gz'] } });
    uri = picked?.[0];
  }
  if (!uri) return;
  const settings = lens.settings();
  const file = uri.fsPath;
  const out = join(dirname(file), `${basename(file).replace(/\.jsonl(\.gz)?$/i, '')}.lens-eval`);
  const cliArgs = ['evaluate', '--prompts', file, '--out', out, '--provider', settings.executionProvider, '--precision', settings.precision, '--max-new-tokens', String(settings.maxNewTokens)];
  if (settings.baseModel) cliArgs.push('--base', settings.baseModel);
  if (settings.tunedModel) cliArgs.push('--tuned', settings.tunedModel);
  cliArgs.push('--L', String(settings.importance.L), '--b', String(settings.importance.b), '--p', String(settings.importance.p));
  lens.log(`evaluate: ${file} → ${out}`);
  const lastError: string[] = [];
  const code = await vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: `Evaluating ${basename(file)}`, cancellable: true },
    async (progress, token) => {
      let reported = 0;
      const result = await runCli(services, cliArgs, token, (line) => {
        const p = parseProgressLine(line);
        if (!p) {
          lens.log(line);
          if (line.startsWith('instruction-lens: ')) lastError.push(line.slice('instruction-lens: '.length));
          return;
        }
        const percent = p.total ? (100 * p.done) / p.total : 100;
        progress.report({ increment: Math.max(0, percent - reported), message: p.detail });
        reported = Math.max(reported, percent);
      });
      if (result !== 0 || token.isCancellationRequested) return result;
      progress.report({ message: 'merging the results' });
      return runCli(services, ['evaluate-report', out], token, (line) => lens.log(line));
    },
  );
  if (code === 130) {
    void vscode.window.showInformationMessage(`Evaluation of ${basename(file)} cancelled; its results so far are kept in ${out}: run the command again to continue.`);
    return;
  }
  if (code !== 0) throw new Error(lastError.at(-1) ?? `instruction-lens evaluate exited with code ${code} (see the Instruction Lens output)`);
  showReport(services, join(out, 'report.html'), basename(file));
}

function showReport(services: LensServices, path: string, name: string): void {
  const panel = vscode.window.createWebviewPanel('instructionLens.evaluateReport', `Evaluation: ${name}`, vscode.ViewColumn.Active, {
    enableScripts: true,
    localResourceRoots: [],
  });
  services.lens.own(panel);
  // The page is self-contained under its own CSP (nonce'd style and script, nothing else loads).
  panel.webview.html = readFileSync(path, 'utf8');
}

export const EVALUATE_COMMANDS: readonly LensCommand[] = [{ id: 'instructionLens.evaluatePromptSet', run: evaluatePromptSet }];
