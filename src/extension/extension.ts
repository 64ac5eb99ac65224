// The extension's entry point. activate() builds the shared services — context (settings, engine,
// status bar), the current analysis, the editor highlights, the panel — registers the commands and
// the hover, and returns a small API the VS Code test suite reads; the engine process is started on
// first use and stopped on deactivate.

import * as vscode from 'vscode';
import type { HighlightMode, RenderedCounts } from '../contract/panel.js';
import { AnalysisStore, type Analysis } from './analysis.js';
import { registerCommands, type LensServices } from './commands.js';
import { EVALUATE_COMMANDS } from './evaluate.js';
import { LensContext } from './context.js';
import { Highlights } from './highlights.js';
import { registerAnalysisLens } from './codelens.js';
import { registerPromptHover } from './hover.js';
import { registerLegend } from './legend.js';
import { LensPanel } from './panel.js';
import { panelReportProblem } from '../engine/report-validation.js';

/** What activate() returns: read by the @vscode/test-electron suite. */
export interface LensApi {
  readonly analysis: Analysis | undefined;
  readonly highlightMode: HighlightMode;
  readonly lastRendered: RenderedCounts | undefined;
  readonly engineRunning: boolean;
  decoratedCount(uri: vscode.Uri): number;
}

let lens: LensContext | undefined;

export function activate(context: vscode.ExtensionContext): LensApi {
  const current = new LensContext(context);
  lens = current;
  context.subscriptions.push(current);
  const store = current.own(new AnalysisStore(context.workspaceState));
  const highlights = current.own(new Highlights(store));
  current.own(registerLegend(highlights));
  const panel = current.own(
    new LensPanel(current, {
      onMessage: (message) => {
        switch (message.type) {
          case 'highlight':
            highlights.setMode(message.mode);
            break;
          case 'reveal':
            void reveal(store, message.start, message.end);
            break;
          case 'compute':
            void vscode.commands.executeCommand(message.section === 'heads' ? 'instructionLens.showHeads' : 'instructionLens.showFfn');
            break;
          case 'run':
            if (message.command === 'compare') void vscode.commands.executeCommand('instructionLens.compareSelection', 'again');
            else if (message.command === 'showLog') current.output.show(true);
            else if (message.command === 'openSettings') void vscode.commands.executeCommand('instructionLens.openSettings');
            else void vscode.commands.executeCommand(message.command === 'selectModels' ? 'instructionLens.selectModels' : 'instructionLens.exportReport');
            break;
        }
      },
    }),
  );
  const services: LensServices = { lens: current, store, highlights, panel };
  current.own(highlights.onDidChangeMode((mode) => panel.setMode(mode)));
  current.own(store.onDidChange((analysis) => analysis && panel.setEdited(analysis.id, analysis.stale)));
  current.own(registerPromptHover(current, store, highlights));
  current.own(registerAnalysisLens(store));
  // After a reload: the analysis comes back (highlights, hover, Export, the panel's document).
  // When it cannot (its file gone or changed), a panel restored from its own state says it is a snapshot.
  void store.restore((report) => panelReportProblem(report) === null).then((analysis) => {
    if (analysis) {
      panel.restore(store.panelDocument(analysis)!);
      highlights.refresh();
      void vscode.commands.executeCommand('setContext', 'instructionLens.hasReport', true);
    }
    panel.restoreSettled();
  });
  registerCommands(services);
  registerCommands(services, EVALUATE_COMMANDS);
  return {
    get analysis() {
      return store.analysis;
    },
    get highlightMode() {
      return highlights.mode;
    },
    get lastRendered() {
      return panel.lastRendered;
    },
    get engineRunning() {
      return current.engineRunning;
    },
    decoratedCount: (uri) => highlights.decoratedCount(uri),
  };
}

/** Selects prompt characters [start, end) of the analysis in its editor (a click in the panel). */
async function reveal(store: AnalysisStore, start: number, end: number): Promise<void> {
  const analysis = store.analysis;
  if (!analysis || analysis.stale || end > analysis.length) return;
  const document = await vscode.workspace.openTextDocument(analysis.uri);
  const editor = await vscode.window.showTextDocument(document, { viewColumn: vscode.ViewColumn.One, preserveFocus: false });
  const range = new vscode.Range(document.positionAt(analysis.offset + start), document.positionAt(analysis.offset + end));
  editor.selection = new vscode.Selection(range.start, range.end);
  editor.revealRange(range, vscode.TextEditorRevealType.InCenterIfOutsideViewport);
}

/** Stops the engine: shutdown request, then a kill if it does not exit in time. */
export async function deactivate(): Promise<void> {
  const current = lens;
  lens = undefined;
  await current?.disposeEngine();
}
