// Everything the extension's commands share: the output channel, the status bar item, the
// settings (read with workspace trust in mind) and the engine client, started on first use.
// It owns every disposable; activate() creates one, deactivate() disposes it.

import { modelName } from '../view/format.js';
import * as vscode from 'vscode';
import { EngineClient, EngineError, describeExit } from '../engine/client.js';
import type { ModelRole, Precision } from '../engine/protocol.js';
import { instructionLexicon } from '../explain/instruction-lexicon.js';
import type { PromptFormat } from '../model/prompt.js';
import { deviceKind } from '../runtime/adapter.js';
import { DEFAULT_MAX_NEW_TOKENS, PRECISION_SETTINGS, PROVIDER_SETTINGS, type ProviderSetting } from '../contract/engine.js';
import { DEFAULT_IMPORTANCE_OPTIONS } from '../contract/report.js';

export const SECTION = 'instructionLens';
const DEFAULT_HOVER_LANGUAGES = ['markdown', 'plaintext', 'prompt'];

export interface LensSettings {
  /** '' = the embedded default. */
  baseModel: string;
  tunedModel: string;
  executionProvider: ProviderSetting;
  precision: Precision;
  maxNewTokens: number;
  attributionMode: 'auto' | 'forward' | 'reverse';
  promptFormatBase: PromptFormat;
  promptFormatTuned: PromptFormat;
  importance: { L: number; b: number; p: number };
  /** Verbs added to the default instruction-verb list. */
  extraVerbs: string[];
  /** The instruction-verb list in effect (the default list plus the added verbs). */
  verbs: readonly string[];
  hoverLanguages: string[];
  /** Compute the heads / FFN sections with every comparison. */
  heads: boolean;
  ffn: boolean;
}

/**
 * A model setting. In an untrusted workspace, values from the workspace (and its folders) are
 * ignored: a repository must not be able to point the engine at files of its choosing.
 */
export function readModelSetting(config: vscode.WorkspaceConfiguration, key: 'baseModel' | 'tunedModel', trusted: boolean): string {
  if (trusted) return (config.get<string>(key) ?? '').trim();
  const inspected = config.inspect<string>(key);
  return (inspected?.globalValue ?? inspected?.defaultValue ?? '').trim();
}

function oneOf<T extends string>(value: unknown, allowed: readonly T[], fallback: T): T {
  return typeof value === 'string' && (allowed as readonly string[]).includes(value) ? (value as T) : fallback;
}

function number(value: unknown, fallback: number, ok: (v: number) => boolean): number {
  return typeof value === 'number' && Number.isFinite(value) && ok(value) ? value : fallback;
}

export function readSettings(trusted = vscode.workspace.isTrusted): LensSettings {
  const config = vscode.workspace.getConfiguration(SECTION);
  const extraVerbs = (config.get<unknown[]>('instructionVerbs') ?? [])
    .filter((v): v is string => typeof v === 'string')
    .map((v) => v.trim().toLowerCase())
    .filter((v) => /^[a-z]+$/.test(v));
  const languages = config.get<unknown[]>('hoverLanguages') ?? DEFAULT_HOVER_LANGUAGES;
  return {
    baseModel: readModelSetting(config, 'baseModel', trusted),
    tunedModel: readModelSetting(config, 'tunedModel', trusted),
    executionProvider: oneOf(config.get('executionProvider'), PROVIDER_SETTINGS, 'auto'),
    precision: oneOf(config.get('precision'), PRECISION_SETTINGS, 'auto'),
    maxNewTokens: number(config.get('maxNewTokens'), DEFAULT_MAX_NEW_TOKENS, (v) => Number.isSafeInteger(v) && v >= 1),
    attributionMode: oneOf(config.get('attributionMode'), ['auto', 'forward', 'reverse'] as const, 'auto'),
    promptFormatBase: oneOf<PromptFormat>(config.get('promptFormat.base'), ['raw', 'chat-template'], 'raw'),
    promptFormatTuned: oneOf<PromptFormat>(config.get('promptFormat.tuned'), ['raw', 'chat-template'], 'raw'),
    importance: {
      L: number(config.get('importance.L'), DEFAULT_IMPORTANCE_OPTIONS.L, (v) => Number.isSafeInteger(v) && v >= 1),
      b: number(config.get('importance.b'), DEFAULT_IMPORTANCE_OPTIONS.b, (v) => v >= 0),
      p: number(config.get('importance.p'), DEFAULT_IMPORTANCE_OPTIONS.p, (v) => v >= 1),
    },
    extraVerbs,
    verbs: instructionLexicon(extraVerbs),
    hoverLanguages: languages.filter((v): v is string => typeof v === 'string' && v.length > 0),
    heads: config.get<boolean>('analyses.heads', true) !== false,
    ffn: config.get<boolean>('analyses.ffn', true) !== false,
  };
}

/** A short name for a model: a folder's name, or a hub id as it is. */
export function modelLabel(model: string): string {
  return modelName(model);
}

/** A message with the models' paths replaced by their short names (the status bar's and the panel's tooltips have the paths). */
export function withShortNames(message: string, settings: Pick<LensSettings, 'baseModel' | 'tunedModel'>): string {
  let text = message;
  for (const model of [settings.baseModel, settings.tunedModel].filter((m) => m.length > 0).sort((a, b) => b.length - a.length)) text = text.split(model).join(modelLabel(model));
  return text;
}

export class LensContext implements vscode.Disposable {
  readonly output: vscode.LogOutputChannel;
  readonly statusBar: vscode.StatusBarItem;
  private readonly disposables: vscode.Disposable[] = [];
  private client: EngineClient | undefined;
  private clientKey: string | undefined;
  private lastProvider: string | undefined;
  private defaultNoticeShown = false;

  constructor(readonly extension: vscode.ExtensionContext) {
    // A log channel: VS Code also keeps it as a file in its logs folder (Developer: Open Extension Logs Folder).
    this.output = this.own(vscode.window.createOutputChannel('Instruction Lens', { log: true }));
    this.statusBar = this.own(vscode.window.createStatusBarItem('instructionLens.status', vscode.StatusBarAlignment.Right, 100));
    this.statusBar.name = 'Instruction Lens';
    this.statusBar.command = 'instructionLens.selectModels';
    this.updateStatusBar();
    this.statusBar.show();
    this.own(
      vscode.workspace.onDidChangeConfiguration((e) => {
        if (e.affectsConfiguration(SECTION)) this.updateStatusBar();
      }),
    );
  }

  /** Registers a disposable to be disposed with the context. */
  own<T extends vscode.Disposable>(disposable: T): T {
    this.disposables.push(disposable);
    return disposable;
  }

  settings(): LensSettings {
    return readSettings();
  }

  /** The model setting for a role ('' = the embedded default). */
  model(role: ModelRole, settings = this.settings()): string {
    return role === 'base' ? settings.baseModel : settings.tunedModel;
  }

  log(line: string): void {
    this.output.appendLine(line);
  }

  /**
   * The engine client, started on first use. A change of the execution provider or precision
   * setting takes effect here: the engine runs with one of each, so it is replaced by a fresh one.
   */
  engine(): EngineClient {
    const { executionProvider: provider, precision } = this.settings();
    const key = `${provider}/${precision}`;
    if (this.client && this.clientKey !== key) {
      const old = this.client;
      this.client = undefined;
      this.log(`Execution provider or precision changed (${key}): restarting the engine.`);
      void old.dispose();
    }
    if (!this.client) {
      const client = new EngineClient({ enginePath: this.extension.asAbsolutePath('dist/engine.js'), provider, precision });
      client.onLog((line) => this.log(`[engine] ${line}`));
      client.onExit((exit) => {
        if (exit.expected) return;
        this.log(`The engine stopped unexpectedly (${describeExit(exit)}).`);
        void vscode.window
          .showErrorMessage(`Instruction Lens: the engine stopped unexpectedly (${describeExit(exit)}). It restarts by itself on the next request.`, 'Restart Now', 'Show Log')
          .then((action) => {
            if (action === 'Restart Now' && this.client === client) client.start();
            if (action === 'Show Log') this.output.show(true);
          });
      });
      this.client = client;
      this.clientKey = key;
    }
    return this.client;
  }

  /** Whether an engine process runs now. */
  get engineRunning(): boolean {
    return this.client?.running ?? false;
  }

  /** Restarts the engine process (the command, and after a crash). */
  async restartEngine(): Promise<void> {
    await this.engine().restart();
    this.log('Engine restarted.');
  }

  /** Says once per session that the embedded default pair is in use, and offers to choose models. */
  noticeDefaults(settings: LensSettings): void {
    if (settings.baseModel && settings.tunedModel) return;
    if (this.defaultNoticeShown) return;
    this.defaultNoticeShown = true;
    const which = !settings.baseModel && !settings.tunedModel ? 'No models are configured' : `No ${settings.baseModel ? 'tuned' : 'base'} model is configured`;
    void vscode.window
      .showInformationMessage(`Instruction Lens: ${which}; using the embedded demo pair, two tiny models that know only lists of colours, animals and things (try "The words: red horse shoe key." and a line "Capitalize:"). Choose your own base and instruction-tuned models to compare them.`, 'Choose Models…')
      .then((action) => {
        if (action) void vscode.commands.executeCommand('instructionLens.selectModels');
      });
  }

  /** The status bar: both models and the device the last run used ("webgpu · NVIDIA H200", "cpu"), or the setting. */
  updateStatusBar(device?: string): void {
    if (device) this.lastProvider = device;
    const settings = this.settings();
    const ep = this.lastProvider ?? `${settings.executionProvider} (not started)`;
    // A software adapter (llvmpipe under --provider webgpu) is the CPU: do not call it a GPU.
    const gpu = this.lastProvider ? deviceKind(this.lastProvider) : '';
    this.statusBar.text = `$(beaker) ${modelLabel(settings.baseModel)} ↔ ${modelLabel(settings.tunedModel)} · ${this.lastProvider ?? settings.executionProvider}`;
    const tooltip = new vscode.MarkdownString(undefined, true);
    tooltip.appendMarkdown('**Instruction Lens**\n\n');
    tooltip.appendText(`Base: ${settings.baseModel || 'embedded default'}\nTuned: ${settings.tunedModel || 'embedded default'}\nExecution provider: ${ep}${gpu ? ` (${gpu})` : ''}\n`);
    tooltip.appendMarkdown('\nClick to choose the models.');
    this.statusBar.tooltip = tooltip;
    this.statusBar.accessibilityInformation = { label: `Instruction Lens: base ${modelLabel(settings.baseModel)}, tuned ${modelLabel(settings.tunedModel)}, execution provider ${ep}` };
  }

  /** Shows a failure: the engine's message as it is (no stack), nothing for a cancel. */
  showError(e: unknown): void {
    if (e instanceof EngineError) {
      if (e.kind === 'cancelled') {
        this.log('Cancelled.');
        return;
      }
      // A crash is reported once, by the onExit handler.
      if (e.kind === 'stopped' && e.message.includes('unexpectedly')) return;
      this.log(`Error: ${e.message}`);
      void vscode.window.showErrorMessage(`Instruction Lens: ${withShortNames(e.message, this.settings())}`, 'Choose Models…', 'Show Log').then((action) => {
        if (action === 'Show Log') this.output.show(true);
        if (action === 'Choose Models…') void vscode.commands.executeCommand('instructionLens.selectModels');
      });
      return;
    }
    const message = e instanceof Error ? e.message : String(e);
    this.log(`Error: ${e instanceof Error && e.stack ? e.stack : message}`);
    void vscode.window.showErrorMessage(`Instruction Lens: ${message}`);
  }

  /** Stops the engine (shutdown, then kill after a timeout). */
  async disposeEngine(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    await client?.dispose();
  }

  dispose(): void {
    void this.disposeEngine();
    for (const d of this.disposables.splice(0).reverse()) d.dispose();
  }
}
