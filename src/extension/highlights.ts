// Editor highlights: the analysed range coloured by importance — one model's density on the
// sequential scale, or tuned − base on the diverging one (the panel's colour-blind-safe scales,
// src/report/html.ts) — with instruction spans underlined, so they are marked by more than colour.
// They follow the current analysis: when its text is edited they stay on the tokens the edit left
// alone, dimmed, with an "edited" mark after the range (Compare again runs the edited prompt); gone
// on "Clear Highlights"; "Toggle Highlight" cycles base → tuned → difference.

import * as vscode from 'vscode';
import { DIV_BINS, SEQ_BINS, contrastText, divBin, divBinColor, seqBin, seqBinColor, type ColorScheme, type Rgb } from '../view/colors.js';
import { highlightCells } from '../view/heatmap.js';
import { HIGHLIGHT_MODES, type HighlightMode } from '../contract/panel.js';
import type { AnalysisStore } from './analysis.js';

/** What the highlights show in the visible editors. */
export interface HighlightsShown {
  mode: HighlightMode;
  /** The prompt was edited since the run (the highlights are dimmed). */
  stale: boolean;
}

const css = ([r, g, b]: Rgb) => `rgb(${r}, ${g}, ${b})`;
const MODE_NAME: Record<HighlightMode, string> = { base: 'base model', tuned: 'instruction-tuned model', difference: 'difference (tuned − base)' };

export class Highlights implements vscode.Disposable {
  private readonly sequential: vscode.TextEditorDecorationType[];
  private readonly diverging: vscode.TextEditorDecorationType[];
  private readonly instruction: vscode.TextEditorDecorationType;
  private readonly staleMark: vscode.TextEditorDecorationType;
  private readonly subscriptions: vscode.Disposable[] = [];
  private modeValue: HighlightMode = 'difference';
  private hidden = false;
  private readonly modeChanged = new vscode.EventEmitter<HighlightMode>();
  readonly onDidChangeMode = this.modeChanged.event;
  /** Ranges decorated per document, for the status and the tests. */
  private readonly counts = new Map<string, number>();
  private readonly refreshed = new vscode.EventEmitter<HighlightsShown | null>();
  /** After every refresh: what the visible editors show (null: no highlights), for the legend. */
  readonly onDidRefresh = this.refreshed.event;

  constructor(private readonly store: AnalysisStore) {
    // Each bin in the scheme of the editor's theme (dark and high-contrast themes get the dark one,
    // where low importance sits near the background), with black or white text, whichever contrasts.
    const shade = (bin: (scheme: ColorScheme) => Rgb) => {
      const colours = (scheme: ColorScheme) => ({ backgroundColor: css(bin(scheme)), color: css(contrastText(bin(scheme))) });
      return vscode.window.createTextEditorDecorationType({
        light: colours('light'),
        dark: colours('dark'),
        borderRadius: '2px',
        rangeBehavior: vscode.DecorationRangeBehavior.ClosedClosed,
      });
    };
    this.sequential = Array.from({ length: SEQ_BINS }, (_, k) => shade((scheme) => seqBinColor(k, scheme)));
    this.diverging = Array.from({ length: DIV_BINS }, (_, k) => shade((scheme) => divBinColor(k, scheme)));
    this.instruction = vscode.window.createTextEditorDecorationType({
      textDecoration: 'underline 2px',
      fontWeight: '600',
      rangeBehavior: vscode.DecorationRangeBehavior.ClosedClosed,
    });
    this.staleMark = vscode.window.createTextEditorDecorationType({
      opacity: '0.75',
      after: { contentText: ' ✎ edited since the last run: Compare again', color: new vscode.ThemeColor('editorCodeLens.foreground'), fontStyle: 'italic' },
      rangeBehavior: vscode.DecorationRangeBehavior.ClosedClosed,
    });
    this.subscriptions.push(
      store.onDidChange(() => this.refresh()),
      vscode.window.onDidChangeVisibleTextEditors(() => this.refresh()),
    );
  }

  get mode(): HighlightMode {
    return this.modeValue;
  }

  /** Shows the highlights in `mode` (they come back if they were cleared). */
  setMode(mode: HighlightMode): void {
    const changed = mode !== this.modeValue;
    this.modeValue = mode;
    this.hidden = false;
    this.refresh();
    if (changed) this.modeChanged.fire(mode);
  }

  /** The next mode the current report can show, after the current one. */
  nextMode(): HighlightMode {
    const report = this.store.analysis?.report;
    const at = HIGHLIGHT_MODES.indexOf(this.modeValue);
    for (let k = 1; k <= HIGHLIGHT_MODES.length; k++) {
      const mode = HIGHLIGHT_MODES[(at + k) % HIGHLIGHT_MODES.length]!;
      if (report && highlightCells(report, mode)) return mode;
    }
    return this.modeValue;
  }

  describe(mode = this.modeValue): string {
    return MODE_NAME[mode];
  }

  clear(): void {
    this.hidden = true;
    this.refresh();
  }

  /** How many ranges are decorated in the document (importance colours and underlines). */
  decoratedCount(uri: vscode.Uri): number {
    return this.counts.get(uri.toString()) ?? 0;
  }

  /** Re-applies the decorations of the current analysis to every visible editor. */
  refresh(): void {
    this.counts.clear();
    const analysis = this.store.analysis;
    for (const editor of vscode.window.visibleTextEditors) {
      const sameDocument = analysis && editor.document.uri.toString() === analysis.uri.toString();
      const range = sameDocument ? this.store.rangeIn(editor.document) : undefined;
      const cells = range && !this.hidden && analysis ? highlightCells(analysis.report, this.shownMode()) : null;
      const sequential: vscode.Range[][] = this.sequential.map(() => []);
      const diverging: vscode.Range[][] = this.diverging.map(() => []);
      const instruction: vscode.Range[] = [];
      const stale: vscode.Range[] = [];
      if (cells && analysis && range) {
        const doc = editor.document;
        const difference = this.shownMode() === 'difference';
        for (const cell of cells) {
          // Whitespace-only cells (a newline token) are left plain.
          if (cell.end <= cell.start || !/\S/.test(cell.text)) continue;
          const at = this.store.place(cell.start, cell.end, analysis);
          if (!at) continue;
          const r = new vscode.Range(doc.positionAt(at.start), doc.positionAt(at.end));
          if (difference) diverging[divBin(cell.value)]!.push(r);
          else sequential[seqBin(cell.value)]!.push(r);
          if (cell.instruction) instruction.push(r);
        }
        if (analysis.stale) stale.push(range);
        this.counts.set(doc.uri.toString(), sequential.reduce((s, l) => s + l.length, 0) + diverging.reduce((s, l) => s + l.length, 0) + instruction.length);
      }
      this.sequential.forEach((t, k) => editor.setDecorations(t, sequential[k]!));
      this.diverging.forEach((t, k) => editor.setDecorations(t, diverging[k]!));
      editor.setDecorations(this.instruction, instruction);
      editor.setDecorations(this.staleMark, stale);
    }
    const shown = [...this.counts.values()].some((n) => n > 0);
    this.refreshed.fire(shown && analysis ? { mode: this.shownMode(), stale: analysis.stale } : null);
  }

  /** The mode in effect: the chosen one if the report can show it, else one it can. */
  shownMode(): HighlightMode {
    const report = this.store.analysis?.report;
    if (!report || highlightCells(report, this.modeValue)) return this.modeValue;
    return report.tuned ? 'tuned' : 'base';
  }

  dispose(): void {
    for (const s of this.subscriptions) s.dispose();
    for (const t of [...this.sequential, ...this.diverging, this.instruction, this.staleMark]) t.dispose();
    this.modeChanged.dispose();
    this.refreshed.dispose();
  }
}
