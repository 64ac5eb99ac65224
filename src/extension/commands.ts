// The extension's commands, as a table: id → handler. Every handler gets the shared services;
// failures are shown by one wrapper (the engine's message, no stack). Long work runs in the engine
// process under window.withProgress, whose Cancel aborts the request (AbortSignal →
// $/cancelRequest → the engine stops between decoding steps and attribution chunks).

import { dirname } from 'node:path';
import * as vscode from 'vscode';
import { EngineError, type RequestOptions } from '../engine/client.js';
import type { GenerateResult, ModelInfo, ModelRole } from '../engine/protocol.js';
import { REPORT_SCHEMA, type Report } from '../explain/report.js';
import { listCachedModels } from '../model/hub.js';
import { renderHtml } from '../report/html.js';
import { formatModelInfo } from '../shared/model-info.js';
import { isHighlightMode, type PanelReport, type PanelTab, type SectionName, type SectionStatus } from '../contract/panel.js';
import type { Analysis, AnalysisStore } from './analysis.js';
import { SECTION, modelLabel, withShortNames, type LensContext, type LensSettings } from './context.js';
import type { Highlights } from './highlights.js';
import type { LensPanel } from './panel.js';

export interface LensServices {
  lens: LensContext;
  store: AnalysisStore;
  highlights: Highlights;
  panel: LensPanel;
}

export interface LensCommand {
  /** The command id, as package.json contributes it. */
  id: string;
  run(services: LensServices, ...args: unknown[]): Promise<void>;
}

/** Text longer than this is cut in notifications (the output channel has it all). */
const NOTIFICATION_CHARS = 200;

export function truncate(text: string, max = NOTIFICATION_CHARS): string {
  const oneLine = text.replace(/\s+/g, ' ').trim();
  return oneLine.length <= max ? oneLine : `${oneLine.slice(0, max - 1)}…`;
}

/**
 * The prompt: the primary selection, or the whole document when the selection is empty, without
 * trailing whitespace. A file or a selection of whole lines usually ends with a line break that is
 * not meant as part of the prompt, and models answer differently after one (the embedded demo pair
 * answers nothing at all). The start stays where it is, so offsets into the text are unchanged.
 */
export function promptOf(editor: vscode.TextEditor): string {
  const text = editor.selection.isEmpty ? editor.document.getText() : editor.document.getText(editor.selection);
  return text.replace(/\s+$/u, '');
}

interface PromptTarget {
  document: vscode.TextDocument;
  offset: number;
  text: string;
}

/**
 * The prompt to analyse: the active editor's selection (or whole document) — or, when the panel has
 * the focus (no active text editor), the visible editor's; null after telling the user why not.
 */
function promptTarget(): PromptTarget | null {
  const editor = vscode.window.activeTextEditor ?? vscode.window.visibleTextEditors.find((e) => e.document.uri.scheme !== 'output');
  if (!editor) {
    void vscode.window.showWarningMessage('Instruction Lens: open a document and select the prompt first.');
    return null;
  }
  const text = promptOf(editor);
  if (!text.trim()) {
    void vscode.window.showWarningMessage('Instruction Lens: the prompt is empty; select some text (or write some in the document).');
    return null;
  }
  const offset = editor.selection.isEmpty ? 0 : editor.document.offsetAt(editor.selection.start);
  return { document: editor.document, offset, text };
}

/**
 * Runs `work` under a cancellable progress notification: its Cancel aborts the signal (the engine
 * request is cancelled); the panel shows the same progress line.
 */
async function withEngineProgress<T>(services: LensServices, title: string, work: (options: RequestOptions) => Promise<T>): Promise<T> {
  services.panel.setBusy(title);
  try {
    return await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: `Instruction Lens: ${title}`, cancellable: true }, async (progress, token) => {
      const controller = new AbortController();
      const subscription = token.onCancellationRequested(() => controller.abort());
      try {
        return await work({
          signal: controller.signal,
          onProgress: (p) => {
            progress.report(p);
            services.panel.setBusy(`${title} ${p.message}`);
          },
        });
      } finally {
        subscription.dispose();
      }
    });
  } finally {
    services.panel.setBusy(null);
  }
}

function sectionStatus(report: PanelReport, section: SectionName, asked: boolean): SectionStatus {
  if (report[section] !== undefined) return { state: 'computed' };
  const title = section === 'heads' ? 'Head word pairs' : 'FFN concepts';
  if (!report.base || !report.tuned) return { state: 'not-computed', reason: `${title} compare both models: this analysis used one model only.`, canCompute: true };
  if (!asked) return { state: 'not-computed', reason: `${title} were not computed with this comparison (the setting instructionLens.analyses.${section} is off).`, canCompute: true };
  return { state: 'not-computed', reason: `${title} are not computed: the engine returned no ${section === 'heads' ? 'heads' : 'FFN'} section.`, canCompute: false };
}

function compareParams(settings: LensSettings, prompt: string, sections: { heads: boolean; ffn: boolean }) {
  return {
    base: settings.baseModel,
    tuned: settings.tunedModel,
    prompt,
    maxNewTokens: settings.maxNewTokens,
    mode: settings.attributionMode,
    formatBase: settings.promptFormatBase,
    formatTuned: settings.promptFormatTuned,
    importance: settings.importance,
    ...(settings.extraVerbs.length ? { instructionVerbs: [...settings.verbs] } : {}),
    heads: sections.heads,
    ffn: sections.ffn,
  };
}

/** Shows an analysis: the store (hover), the highlights, the panel, the status bar. */
function present(services: LensServices, target: PromptTarget, report: PanelReport, sections: Record<SectionName, SectionStatus>, tab: PanelTab, missing?: Partial<Record<ModelRole, string>>): Analysis {
  const analysis = services.store.set(target.document, target.offset, target.text.length, report, sections, missing);
  const tunedOrBase = report.tuned ?? report.base;
  const provider = tunedOrBase && (tunedOrBase.executionDevice ?? tunedOrBase.executionProvider);
  services.lens.updateStatusBar(provider);
  services.highlights.refresh();
  services.panel.show(services.store.panelDocument(analysis), { tab });
  void vscode.commands.executeCommand('setContext', 'instructionLens.hasReport', true);
  return analysis;
}

function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}


/**
 * A model produced nothing on the prompt (its first token ended the response): each model alone, so
 * that the one that answers is shown; the panel says which one did not, and offers other models.
 */
async function eachModelAlone(services: LensServices, target: PromptTarget, settings: LensSettings): Promise<void> {
  const engine = services.lens.engine();
  const report: PanelReport = { schema: REPORT_SCHEMA, createdAt: new Date().toISOString(), prompt: target.text };
  const missing: Partial<Record<ModelRole, string>> = {};
  for (const role of ['base', 'tuned'] as const) {
    const model = services.lens.model(role, settings);
    try {
      report[role] = await withEngineProgress(services, `explaining with the ${role} model ${modelLabel(model)}…`, (options) =>
        engine.attribute({ model, role, prompt: target.text, maxNewTokens: settings.maxNewTokens, format: role === 'base' ? settings.promptFormatBase : settings.promptFormatTuned, importance: settings.importance, ...(settings.extraVerbs.length ? { instructionVerbs: [...settings.verbs] } : {}) }, options),
      );
    } catch (e) {
      if (!(e instanceof EngineError) || e.reason !== 'empty-response') throw e;
      missing[role] = `${modelLabel(model)} produced nothing for this prompt (its first token ended the response), so there is nothing to attribute. It may not know how to continue this text: try a prompt in the form it was trained on, or choose other models.`;
    }
  }
  services.lens.log(`── Compare · ${(['base', 'tuned'] as const).map((r) => `${r}: ${missing[r] ? 'no response' : 'instruction score ' + report[r]!.instructionScore.toFixed(3)}`).join(', ')} ──`);
  if (!report.base && !report.tuned) {
    services.panel.setFailure({
      title: 'Neither model produced a response',
      message: `${modelLabel(settings.baseModel)} (base) and ${modelLabel(settings.tunedModel)} (instruction-tuned) both ended their response at once on this prompt, so there is nothing to attribute. They may not know how to continue this text: try a prompt in the form they were trained on, or choose other models.`,
      actions: ['selectModels', 'openSettings', 'showLog'],
    });
    return;
  }
  const shown = report.tuned ? 'tuned' : 'base';
  if (services.highlights.mode !== shown) services.highlights.setMode(shown);
  const sections = { heads: sectionStatus(report, 'heads', false), ffn: sectionStatus(report, 'ffn', false) };
  present(services, target, report, sections, 'attribution', missing);
}

/** Compares both models on `target`; `section` is computed even when its setting is off, and its tab shown. */
async function compareOn(services: LensServices, target: PromptTarget, section?: SectionName): Promise<void> {
  const settings = services.lens.settings();
  services.lens.noticeDefaults(settings);
  const engine = services.lens.engine();
  const sections = { heads: settings.heads || section === 'heads', ffn: settings.ffn || section === 'ffn' };
  const started = Date.now();
  let report: Report;
  try {
    report = await withEngineProgress(services, `comparing ${modelLabel(settings.baseModel)} and ${modelLabel(settings.tunedModel)}…`, (options) =>
      engine.compare(compareParams(settings, target.text, sections), options),
    );
  } catch (e) {
    if (e instanceof EngineError && e.kind === 'cancelled') throw e;
    if (e instanceof EngineError && e.reason === 'empty-response') {
      await eachModelAlone(services, target, settings);
      return;
    }
    // Where the results would be, with what to do about it; the toast too (the wrapper).
    services.panel.setFailure({ title: 'The comparison failed', message: withShortNames(errorMessage(e), settings), actions: ['selectModels', 'openSettings', 'showLog'] });
    throw e;
  }
  services.lens.log(`── Compare · ${report.base.model.id} vs ${report.tuned.model.id} · ${report.tuned.executionDevice ?? report.tuned.executionProvider} · ${((Date.now() - started) / 1000).toFixed(1)} s · instruction score base ${report.base.instructionScore.toFixed(3)}, tuned ${report.tuned.instructionScore.toFixed(3)} ──`);
  present(services, target, report, { heads: sectionStatus(report, 'heads', sections.heads), ffn: sectionStatus(report, 'ffn', sections.ffn) }, section ?? 'attribution');
}

/**
 * Compare on the selection; from the panel or the CodeLens ("again"), on the analysed range as it is
 * now — edited or not: the range follows the edits, so the edited prompt is what runs again. From a
 * snapshot (the panel's copy whose prompt was not found after a reload), its prompt runs again in a
 * new editor, so that the new run has highlights and a hover.
 */
async function compareSelection(services: LensServices, again?: unknown): Promise<void> {
  const analysis = services.store.analysis;
  if (again === 'again' && analysis) {
    const document = await vscode.workspace.openTextDocument(analysis.uri);
    const text = (services.store.textIn(document) ?? '').replace(/\s+$/u, '');
    if (text.trim()) {
      await compareOn(services, { document, offset: analysis.offset, text });
      return;
    }
  }
  const snapshot = services.panel.current;
  if (again === 'again' && !analysis && snapshot?.snapshot && snapshot.report.prompt.trim()) {
    const document = await vscode.workspace.openTextDocument({ language: 'markdown', content: snapshot.report.prompt });
    await vscode.window.showTextDocument(document, { viewColumn: vscode.ViewColumn.One, preserveFocus: false });
    await compareOn(services, { document, offset: 0, text: snapshot.report.prompt });
    return;
  }
  const target = promptTarget();
  if (target) await compareOn(services, target);
}

async function explainWith(services: LensServices, role: ModelRole): Promise<void> {
  const target = promptTarget();
  if (!target) return;
  const settings = services.lens.settings();
  services.lens.noticeDefaults(settings);
  const model = services.lens.model(role, settings);
  const engine = services.lens.engine();
  const modelReport = await withEngineProgress(services, `explaining with the ${role} model ${modelLabel(model)}…`, (options) =>
    engine.attribute(
      {
        model,
        role,
        prompt: target.text,
        maxNewTokens: settings.maxNewTokens,
        mode: settings.attributionMode,
        format: role === 'base' ? settings.promptFormatBase : settings.promptFormatTuned,
        importance: settings.importance,
        ...(settings.extraVerbs.length ? { instructionVerbs: [...settings.verbs] } : {}),
      },
      options,
    ),
  );
  const report: PanelReport = { schema: REPORT_SCHEMA, createdAt: new Date().toISOString(), prompt: target.text, [role]: modelReport };
  services.lens.log(`── Explain · ${modelReport.model.id} · ${modelReport.executionDevice ?? modelReport.executionProvider} · instruction score ${modelReport.instructionScore.toFixed(3)} ──`);
  if (services.highlights.mode !== role) services.highlights.setMode(role);
  present(services, target, report, { heads: sectionStatus(report, 'heads', false), ffn: sectionStatus(report, 'ffn', false) }, 'attribution');
}

/**
 * The heads or FFN section for the current analysis: shown when present; otherwise computed for
 * its prompt (with the responses it has, so nothing is generated again) and added to it.
 */
async function showSection(services: LensServices, section: SectionName): Promise<void> {
  const tab: PanelTab = section;
  const analysis = services.store.analysis;
  const title = section === 'heads' ? 'Head word pairs' : 'FFN concepts';
  if (!analysis) {
    // Nothing analysed yet: compare the selection, the section included.
    const target = promptTarget();
    if (target) await compareOn(services, target, section);
    return;
  }
  if (analysis.report[section] !== undefined) {
    services.panel.show(services.store.panelDocument(analysis), { tab, preserveFocus: false });
    return;
  }
  if (!analysis.report.base || !analysis.report.tuned) {
    const action = await vscode.window.showInformationMessage(`Instruction Lens: ${title} compare both models; the current analysis used one. Compare the models on the same text?`, 'Compare');
    if (!action) return;
    // The same text when it is still there unchanged, else the current selection.
    const target = analysis.stale ? promptTarget() : { document: await vscode.workspace.openTextDocument(analysis.uri), offset: analysis.offset, text: analysis.report.prompt };
    if (target) await compareOn(services, target, section);
    return;
  }
  const settings = services.lens.settings();
  const engine = services.lens.engine();
  services.store.update(analysis, analysis.report, { ...analysis.sections, [section]: { state: 'computing' } });
  services.panel.show(services.store.panelDocument(analysis), { tab, preserveFocus: false });
  try {
    const { base, tuned } = analysis.report;
    const fresh = await withEngineProgress(services, `computing ${title.toLowerCase()}…`, (options) =>
      engine.compare(
        { ...compareParams(settings, analysis.report.prompt, { heads: section === 'heads', ffn: section === 'ffn' }), base: base.model.id, tuned: tuned.model.id, responseBase: base.response.text, responseTuned: tuned.response.text },
        options,
      ),
    );
    const report: PanelReport = { ...analysis.report, [section]: fresh[section] };
    services.store.update(analysis, report, { ...analysis.sections, [section]: fresh[section] !== undefined ? { state: 'computed' } : sectionStatus(report, section, true) });
  } catch (e) {
    const cancelled = e instanceof Error && (e as { kind?: string }).kind === 'cancelled';
    services.store.update(analysis, analysis.report, {
      ...analysis.sections,
      [section]: cancelled ? { state: 'not-computed', reason: `${title}: the computation was cancelled.`, canCompute: true } : { state: 'failed', reason: e instanceof Error ? e.message : String(e) },
    });
    throw e;
  } finally {
    const document = services.store.panelDocument();
    if (document) services.panel.update(document);
  }
}

interface ModelItem extends vscode.QuickPickItem {
  value?: string;
  browse?: boolean;
}

/** One role's model: the embedded default, a folder (open dialog), or a model of the local Hugging Face cache. */
async function pickModel(role: ModelRole, current: string): Promise<string | undefined> {
  const items: ModelItem[] = [
    { label: '$(folder-opened) Browse for a model folder…', browse: true, detail: 'A Hugging Face model folder: config.json, *.safetensors, tokenizer.json' },
    { label: '$(package) Embedded default', value: '', description: current === '' ? '(current)' : undefined, detail: `The demo ${role} model that ships with the extension` },
  ];
  let cached: { id: string; path: string }[] = [];
  try {
    cached = listCachedModels();
  } catch {
    cached = [];
  }
  if (cached.length) {
    items.push({ label: 'Local Hugging Face cache', kind: vscode.QuickPickItemKind.Separator });
    for (const m of cached) items.push({ label: `$(database) ${m.id}`, value: m.id, description: current === m.id ? '(current)' : undefined, detail: m.path });
  }
  if (current && !cached.some((m) => m.id === current)) items.splice(2, 0, { label: `$(check) ${current}`, value: current, description: '(current)' });
  const roleName = role === 'base' ? 'base (pre-trained)' : 'instruction-tuned';
  const picked = await vscode.window.showQuickPick(items, {
    title: `Instruction Lens: the ${roleName} model`,
    placeHolder: cached.length ? `Choose the ${roleName} model` : `Choose the ${roleName} model (the local Hugging Face cache holds none)`,
    matchOnDetail: true,
  });
  if (!picked) return undefined;
  if (!picked.browse) return picked.value;
  const folders = await vscode.window.showOpenDialog({ canSelectFolders: true, canSelectFiles: false, canSelectMany: false, openLabel: `Use as the ${role} model`, title: `The ${roleName} model folder` });
  return folders?.[0]?.fsPath;
}

async function selectModels(services: LensServices): Promise<void> {
  const config = vscode.workspace.getConfiguration(SECTION);
  const settings = services.lens.settings();
  const base = await pickModel('base', settings.baseModel);
  if (base === undefined) return;
  const tuned = await pickModel('tuned', settings.tunedModel);
  if (tuned === undefined) return;
  // Where the setting lives now (a workspace value wins over the user's), else the user settings:
  // model paths belong to the machine, not to a repository.
  const target = (key: string) => (config.inspect(key)?.workspaceValue !== undefined && vscode.workspace.isTrusted ? vscode.ConfigurationTarget.Workspace : vscode.ConfigurationTarget.Global);
  await config.update('baseModel', base, target('baseModel'));
  await config.update('tunedModel', tuned, target('tunedModel'));
  services.lens.updateStatusBar();
  void vscode.window.showInformationMessage(`Instruction Lens: comparing ${modelLabel(base)} (base) with ${modelLabel(tuned)} (tuned).`, 'Open Settings').then((action) => {
    if (action) void openSettings(services);
  });
}

/**
 * Opens the settings where the models take effect: the model paths belong to the machine that runs
 * the engine (scope machine-overridable), so under a remote (code-server, Remote-SSH) the Remote
 * tab, else the User tab; filtered to this extension's settings.
 */
async function openSettings(services: LensServices): Promise<void> {
  const lens = services.lens;
  const query = `@ext:${lens.extension.extension.id}`;
  if (vscode.env.remoteName) {
    try {
      await vscode.commands.executeCommand('workbench.action.openRemoteSettings', { query });
      return;
    } catch {
      // a workbench without the Remote tab: the user settings below
    }
  }
  await vscode.commands.executeCommand('workbench.action.openSettings', query);
}

async function toggleHighlight(services: LensServices, mode?: unknown): Promise<void> {
  const analysis = services.store.analysis;
  if (!analysis || analysis.stale) {
    void vscode.window.showInformationMessage(analysis ? 'Instruction Lens: the analysed text has changed; run the comparison again to highlight it.' : 'Instruction Lens: nothing is analysed yet; run “Compare Models on Selection” first.');
    return;
  }
  const next = isHighlightMode(mode) ? mode : services.highlights.nextMode();
  services.highlights.setMode(next);
  vscode.window.setStatusBarMessage(`Instruction Lens: highlighting the ${services.highlights.describe(next)}`, 3000);
}

async function clearHighlights(services: LensServices): Promise<void> {
  services.highlights.clear();
}

async function exportReport(services: LensServices): Promise<void> {
  const analysis = services.store.analysis;
  // After a reload whose analysis could not come back (its file gone), the panel's own snapshot.
  const report = analysis?.report ?? services.panel.current?.report;
  if (!report) {
    void vscode.window.showInformationMessage('Instruction Lens: nothing to export yet; run “Compare Models on Selection” first.');
    return;
  }
  const full = report.base !== undefined && report.tuned !== undefined;
  const choices: (vscode.QuickPickItem & { format: 'json' | 'html' })[] = [
    { label: 'JSON', description: full ? 'the report (instruction-lens/report@1)' : 'the model’s attribution report', format: 'json' },
  ];
  if (full) choices.push({ label: 'HTML', description: 'a self-contained page (no script or style from outside)', format: 'html' });
  const choice = choices.length === 1 ? choices[0] : await vscode.window.showQuickPick(choices, { title: 'Instruction Lens: export the report as' });
  if (!choice) return;
  const folder = analysis?.uri.scheme === 'file' ? dirname(analysis.uri.fsPath) : vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
  const defaultUri = folder ? vscode.Uri.file(`${folder}/instruction-lens-report.${choice.format}`) : undefined;
  const uri = await vscode.window.showSaveDialog({ defaultUri, filters: choice.format === 'json' ? { JSON: ['json'] } : { HTML: ['html', 'htm'] }, title: 'Export the Instruction Lens report' });
  if (!uri) return;
  const text = choice.format === 'html' ? renderHtml(report as Report) : `${JSON.stringify(full ? report : (report.base ?? report.tuned), null, 2)}\n`;
  await vscode.workspace.fs.writeFile(uri, new TextEncoder().encode(text));
  void vscode.window.showInformationMessage(`Instruction Lens: report written to ${uri.fsPath || uri.toString()}`, 'Open').then((open) => {
    if (open !== 'Open') return;
    if (choice.format === 'html') void vscode.env.openExternal(uri);
    else void vscode.window.showTextDocument(uri);
  });
}

async function showPanel(services: LensServices, tab?: unknown): Promise<void> {
  const document = services.store.panelDocument();
  const chosen = typeof tab === 'string' && ['attribution', 'heads', 'ffn', 'summary'].includes(tab) ? (tab as PanelTab) : undefined;
  services.panel.show(document, { tab: chosen, preserveFocus: false });
}

async function openWalkthrough(services: LensServices): Promise<void> {
  const id = `${services.lens.extension.extension.id}#instructionLens.gettingStarted`;
  await vscode.commands.executeCommand('workbench.action.openWalkthrough', id, false);
}

async function restartEngine(services: LensServices): Promise<void> {
  await services.lens.restartEngine();
  void vscode.window.setStatusBarMessage('Instruction Lens: engine restarted', 3000);
}

async function generateFromSelection(services: LensServices): Promise<void> {
  const target = promptTarget();
  if (!target) return;
  const { lens } = services;
  const settings = lens.settings();
  const model = settings.baseModel;
  const engine = lens.engine();
  const result = await withEngineProgress<GenerateResult>(services, `generating with ${modelLabel(model)}…`, (options) =>
    engine.generate({ model, role: 'base', prompt: target.text, maxNewTokens: settings.maxNewTokens, format: settings.promptFormatBase }, options),
  );
  lens.updateStatusBar(result.executionDevice);
  lens.log(`── Generate from selection · ${modelLabel(result.model)} · ${result.executionDevice} · ${result.outputIds.length} tokens ──`);
  lens.log(result.text);
  lens.log('');
  const action = await vscode.window.showInformationMessage(`Instruction Lens (${modelLabel(result.model)}): ${truncate(result.text) || '(no text: the model stopped at once)'}`, 'Show Output');
  if (action === 'Show Output') lens.output.show(true);
}

async function showModelInfo(services: LensServices): Promise<void> {
  const { lens } = services;
  const settings = lens.settings();
  for (const role of ['base', 'tuned'] as const) {
    const model = lens.model(role, settings);
    const info = await vscode.window.withProgress({ location: vscode.ProgressLocation.Window, title: `Instruction Lens: reading the ${role} model` }, () => lens.engine().info({ model, role }));
    lens.log(`── ${role === 'base' ? 'Base' : 'Tuned'} model${model ? '' : ' (embedded default)'} ──`);
    lens.log(formatModelInfo(info));
    lens.log('');
  }
  lens.output.show(true);
}

export const COMMANDS: readonly LensCommand[] = [
  { id: 'instructionLens.compareSelection', run: (s, again) => compareSelection(s, again) },
  { id: 'instructionLens.explainWithBase', run: (s) => explainWith(s, 'base') },
  { id: 'instructionLens.explainWithTuned', run: (s) => explainWith(s, 'tuned') },
  { id: 'instructionLens.showHeads', run: (s) => showSection(s, 'heads') },
  { id: 'instructionLens.showFfn', run: (s) => showSection(s, 'ffn') },
  { id: 'instructionLens.selectModels', run: selectModels },
  { id: 'instructionLens.openSettings', run: openSettings },
  { id: 'instructionLens.toggleHighlight', run: toggleHighlight },
  { id: 'instructionLens.clearHighlights', run: clearHighlights },
  { id: 'instructionLens.exportReport', run: exportReport },
  { id: 'instructionLens.showPanel', run: showPanel },
  { id: 'instructionLens.openWalkthrough', run: openWalkthrough },
  { id: 'instructionLens.restartEngine', run: restartEngine },
  { id: 'instructionLens.generateFromSelection', run: generateFromSelection },
  { id: 'instructionLens.showModelInfo', run: showModelInfo },
];

/** Registers every command of the table; failures go to lens.showError. */
export function registerCommands(services: LensServices, commands: readonly LensCommand[] = COMMANDS): void {
  for (const command of commands) {
    services.lens.own(
      vscode.commands.registerCommand(command.id, async (...args: unknown[]) => {
        try {
          await command.run(services, ...args);
        } catch (e) {
          services.lens.showError(e);
        }
      }),
    );
  }
}
