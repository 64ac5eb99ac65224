// The extension's commands, as a table: id → handler. Every handler gets the shared
// LensContext; failures are shown by one wrapper (the engine's message, no stack).

import * as vscode from 'vscode';
import type { GenerateResult, ModelInfo } from '../engine/protocol.js';
import { modelLabel, type LensContext } from './context.js';

export interface LensCommand {
  /** The command id, as package.json contributes it. */
  id: string;
  run(lens: LensContext, ...args: unknown[]): Promise<void>;
}

/** Text longer than this is cut in notifications (the output channel has it all). */
const NOTIFICATION_CHARS = 200;

export function truncate(text: string, max = NOTIFICATION_CHARS): string {
  const oneLine = text.replace(/\s+/g, ' ').trim();
  return oneLine.length <= max ? oneLine : `${oneLine.slice(0, max - 1)}…`;
}

/** The prompt: the primary selection, or the whole document when the selection is empty. */
export function promptOf(editor: vscode.TextEditor): string {
  return editor.selection.isEmpty ? editor.document.getText() : editor.document.getText(editor.selection);
}

async function generateFromSelection(lens: LensContext): Promise<void> {
  const editor = vscode.window.activeTextEditor;
  if (!editor) {
    void vscode.window.showWarningMessage('Instruction Lens: open a document and select the prompt first.');
    return;
  }
  const prompt = promptOf(editor);
  if (!prompt.trim()) {
    void vscode.window.showWarningMessage('Instruction Lens: the prompt is empty; select some text (or write some in the document).');
    return;
  }
  const settings = lens.settings();
  const model = settings.baseModel;
  const engine = lens.engine();
  const result = await vscode.window.withProgress<GenerateResult | undefined>(
    { location: vscode.ProgressLocation.Notification, title: `Instruction Lens: generating with ${modelLabel(model)}`, cancellable: true },
    async (progress, token) => {
      // The editor's cancel button → AbortSignal → $/cancelRequest → the engine stops decoding.
      const controller = new AbortController();
      const subscription = token.onCancellationRequested(() => controller.abort());
      try {
        return await engine.generate(
          { model, role: 'base', prompt, maxNewTokens: settings.maxNewTokens },
          { signal: controller.signal, onProgress: (p) => progress.report(p) },
        );
      } finally {
        subscription.dispose();
      }
    },
  );
  if (!result) return;
  lens.showRun(result.model, result.executionProvider);
  lens.log(`── Generate from selection · ${modelLabel(result.model)} · ${result.executionProvider} · ${result.outputIds.length} tokens ──`);
  lens.log(result.text);
  lens.log('');
  const action = await vscode.window.showInformationMessage(`Instruction Lens (${modelLabel(result.model)}): ${truncate(result.text) || '(no text: the model stopped at once)'}`, 'Show Output');
  if (action === 'Show Output') lens.output.show(true);
}

export function formatModelInfo(info: ModelInfo): string {
  const mib = (b: number) => `${(b / 2 ** 20).toFixed(1)} MiB`;
  const millions = (n: number) => `${(n / 1e6).toFixed(1)} M`;
  return [
    `model          ${info.path}`,
    `architecture   ${info.architecture}`,
    `parameters     ${millions(info.parameters)} (${info.dtype}, ${mib(info.weightBytes)})`,
    `layers         ${info.layers}`,
    `heads          ${info.heads} query, ${info.kvHeads} key/value (head_dim ${info.headDim})`,
    `hidden         ${info.hiddenSize} (FFN ${info.intermediateSize})`,
    `vocabulary     ${info.vocabSize}`,
    `context        ${info.contextLength} tokens (RoPE ${info.ropeScaling})`,
    `embeddings     ${info.tiedEmbeddings ? 'tied to lm_head' : 'separate lm_head'}${info.attentionBias ? ', q/k/v bias' : ''}`,
    `tokenizer      ${info.tokenizer.file} (${info.tokenizer.vocabSize} tokens, EOS ${info.tokenizer.eosTokenIds.join(', ') || 'none'})`,
    `chat template  ${info.chatTemplate ? 'present' : 'absent'}`,
  ].join('\n');
}

async function showModelInfo(lens: LensContext): Promise<void> {
  const model = lens.settings().baseModel;
  const info = await vscode.window.withProgress(
    { location: vscode.ProgressLocation.Window, title: 'Instruction Lens: reading the model' },
    () => lens.engine().info({ model, role: 'base' }),
  );
  lens.log(`── Base model${model ? '' : ' (embedded default)'} ──`);
  lens.log(formatModelInfo(info));
  lens.log('');
  lens.output.show(true);
}

export const COMMANDS: readonly LensCommand[] = [
  { id: 'instructionLens.generateFromSelection', run: generateFromSelection },
  { id: 'instructionLens.showModelInfo', run: showModelInfo },
];

/** Registers every command of the table; failures go to lens.showError. */
export function registerCommands(lens: LensContext, commands: readonly LensCommand[] = COMMANDS): void {
  for (const command of commands) {
    lens.own(
      vscode.commands.registerCommand(command.id, async (...args: unknown[]) => {
        try {
          await command.run(lens, ...args);
        } catch (e) {
          lens.showError(e);
        }
      }),
    );
  }
}
