// A CodeLens on the analysed range: "Compare again" (runs the range as it is now, edited or not)
// and "Show panel". It follows the range as the text is edited (src/extension/analysis.ts).

import * as vscode from 'vscode';
import type { AnalysisStore } from './analysis.js';

class AnalysisLens implements vscode.CodeLensProvider {
  private readonly changed = new vscode.EventEmitter<void>();
  readonly onDidChangeCodeLenses = this.changed.event;

  constructor(private readonly store: AnalysisStore) {}

  refresh(): void {
    this.changed.fire();
  }

  provideCodeLenses(document: vscode.TextDocument): vscode.CodeLens[] {
    const range = this.store.rangeIn(document);
    const analysis = this.store.analysis;
    if (!range || !analysis) return [];
    const at = new vscode.Range(range.start, range.start);
    const runs = analysis.history.length;
    return [
      new vscode.CodeLens(at, {
        title: analysis.stale ? '$(refresh) Compare again (edited)' : '$(refresh) Compare again',
        tooltip: 'Instruction Lens: compare both models on this prompt as it is now',
        command: 'instructionLens.compareSelection',
        arguments: ['again'],
      }),
      new vscode.CodeLens(at, { title: runs > 1 ? `Instruction Lens: ${runs} runs` : 'Instruction Lens', command: 'instructionLens.showPanel' }),
    ];
  }

  dispose(): void {
    this.changed.dispose();
  }
}

export function registerAnalysisLens(store: AnalysisStore): vscode.Disposable {
  const provider = new AnalysisLens(store);
  const registration = vscode.languages.registerCodeLensProvider({ scheme: '*' }, provider);
  const subscription = store.onDidChange(() => provider.refresh());
  return { dispose: () => (subscription.dispose(), registration.dispose(), provider.dispose()) };
}
