// Everything the extension's commands share: the output channel, the status bar item, the
// settings (read with workspace trust in mind) and the engine client, started on first use.
// It owns every disposable; activate() creates one, deactivate() disposes it.

import { basename, isAbsolute } from 'node:path';
import * as vscode from 'vscode';
import { EngineClient, EngineError, describeExit } from '../engine/client.js';
import type { ModelRole } from '../engine/protocol.js';
import type { ProviderSetting } from '../runtime/session.js';

export const SECTION = 'instructionLens';
// Not runtime/session's PROVIDER_SETTINGS: that module loads onnxruntime, which belongs in the engine.
const PROVIDERS: readonly ProviderSetting[] = ['auto', 'cuda', 'webgpu', 'cpu'];
const DEFAULT_MAX_NEW_TOKENS = 32;

export interface LensSettings {
  /** '' = the embedded default. */
  baseModel: string;
  tunedModel: string;
  executionProvider: ProviderSetting;
  maxNewTokens: number;
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

export function readSettings(trusted = vscode.workspace.isTrusted): LensSettings {
  const config = vscode.workspace.getConfiguration(SECTION);
  const provider = config.get<string>('executionProvider', 'auto');
  const maxNewTokens = config.get<number>('maxNewTokens', DEFAULT_MAX_NEW_TOKENS);
  return {
    baseModel: readModelSetting(config, 'baseModel', trusted),
    tunedModel: readModelSetting(config, 'tunedModel', trusted),
    executionProvider: (PROVIDERS as readonly string[]).includes(provider) ? (provider as ProviderSetting) : 'auto',
    maxNewTokens: Number.isSafeInteger(maxNewTokens) && maxNewTokens >= 1 ? maxNewTokens : DEFAULT_MAX_NEW_TOKENS,
  };
}

/** A short name for a model: a folder's name, or a hub id as it is. */
export function modelLabel(model: string): string {
  if (!model) return 'default model';
  return isAbsolute(model) || model.startsWith('.') || model.includes('\\') ? basename(model) : model;
}

export class LensContext implements vscode.Disposable {
  readonly output: vscode.OutputChannel;
  readonly statusBar: vscode.StatusBarItem;
  private readonly disposables: vscode.Disposable[] = [];
  private client: EngineClient | undefined;
  private clientProvider: ProviderSetting | undefined;

  constructor(private readonly extension: vscode.ExtensionContext) {
    this.output = this.own(vscode.window.createOutputChannel('Instruction Lens'));
    this.statusBar = this.own(vscode.window.createStatusBarItem('instructionLens.status', vscode.StatusBarAlignment.Right, 100));
    this.statusBar.name = 'Instruction Lens';
    this.statusBar.command = 'instructionLens.showModelInfo';
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
   * The engine client, started on first use. A change of the execution provider setting takes
   * effect here: the engine runs with one provider, so it is replaced by a fresh one.
   */
  engine(): EngineClient {
    const provider = this.settings().executionProvider;
    if (this.client && this.clientProvider !== provider) {
      const old = this.client;
      this.client = undefined;
      this.log(`Execution provider changed to ${provider}: restarting the engine.`);
      void old.dispose();
    }
    if (!this.client) {
      const client = new EngineClient({ enginePath: this.extension.asAbsolutePath('dist/engine.js'), provider });
      client.onLog((line) => this.log(`[engine] ${line}`));
      client.onExit((exit) => {
        if (exit.expected) return;
        this.log(`The engine stopped unexpectedly (${describeExit(exit)}).`);
        void vscode.window.showErrorMessage(`Instruction Lens engine stopped unexpectedly (${describeExit(exit)}); it will restart on the next request`);
      });
      this.client = client;
      this.clientProvider = provider;
    }
    return this.client;
  }

  /** Shows the model and the execution provider the last run used. */
  showRun(model: string, provider: string): void {
    this.statusBar.text = `Instruction Lens: ${modelLabel(model)} · ${provider}`;
    this.statusBar.tooltip = `${model}\nExecution provider: ${provider}\nClick for model info`;
    this.statusBar.show();
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
      void vscode.window.showErrorMessage(e.message);
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
