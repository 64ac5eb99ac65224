// The extension's entry point. activate() builds the shared context and registers the commands;
// the context owns every disposable, and the engine process is started on first use.

import type * as vscode from 'vscode';
import { registerCommands } from './commands.js';
import { LensContext } from './context.js';

let lens: LensContext | undefined;

export function activate(context: vscode.ExtensionContext): void {
  lens = new LensContext(context);
  context.subscriptions.push(lens);
  registerCommands(lens);
}

/** Stops the engine: shutdown request, then a kill if it does not exit in time. */
export async function deactivate(): Promise<void> {
  const current = lens;
  lens = undefined;
  await current?.disposeEngine();
}
