// The current analysis: which document range was analysed, the report, and the state of its
// heads/FFN sections. Edits before the range shift it; an edit that touches the analysed text makes
// it stale (its highlights go, the hover no longer shows its numbers — the panel keeps the report).

import * as vscode from 'vscode';
import type { PanelDocument, PanelReport, SectionName, SectionStatus } from '../contract/panel.js';
import { shiftRange } from '../shared/text-range.js';

export interface Analysis {
  readonly id: number;
  readonly uri: vscode.Uri;
  /** Document offset of the prompt's first character, and the prompt's length (UTF-16 units). */
  offset: number;
  readonly length: number;
  /** The analysed text no longer matches the document. */
  stale: boolean;
  report: PanelReport;
  sections: Record<SectionName, SectionStatus>;
  /** "prompt.md, lines 3–7". */
  readonly source: string;
}

export class AnalysisStore implements vscode.Disposable {
  private current: Analysis | undefined;
  private nextId = 1;
  private readonly changed = new vscode.EventEmitter<Analysis | undefined>();
  /** Fires when the analysis is replaced, goes stale, or its report/sections change. */
  readonly onDidChange = this.changed.event;
  private readonly subscription: vscode.Disposable;

  constructor() {
    this.subscription = vscode.workspace.onDidChangeTextDocument((event) => this.onEdit(event));
  }

  get analysis(): Analysis | undefined {
    return this.current;
  }

  /** A new analysis of `length` characters at `offset` of `document`. */
  set(document: vscode.TextDocument, offset: number, length: number, report: PanelReport, sections: Record<SectionName, SectionStatus>): Analysis {
    const start = document.positionAt(offset);
    const end = document.positionAt(offset + length);
    const name = document.uri.path.split('/').pop() || document.uri.toString();
    const lines = start.line === end.line ? `line ${start.line + 1}` : `lines ${start.line + 1}–${end.line + 1}`;
    this.current = { id: this.nextId++, uri: document.uri, offset, length, stale: false, report, sections, source: `${name}, ${lines}` };
    this.changed.fire(this.current);
    return this.current;
  }

  /** Replaces the report and the section states of the current analysis (a section computed later). */
  update(analysis: Analysis, report: PanelReport, sections: Record<SectionName, SectionStatus>): void {
    if (analysis !== this.current) return;
    analysis.report = report;
    analysis.sections = sections;
    this.changed.fire(analysis);
  }

  /** The panel's document of the current analysis. */
  panelDocument(analysis = this.current): PanelDocument | undefined {
    return analysis && { id: analysis.id, report: analysis.report, source: analysis.source, sections: analysis.sections };
  }

  /** The analysed range in `document` when it is the analysed one and still matches. */
  rangeIn(document: vscode.TextDocument): vscode.Range | undefined {
    const a = this.current;
    if (!a || a.stale || a.uri.toString() !== document.uri.toString()) return undefined;
    return new vscode.Range(document.positionAt(a.offset), document.positionAt(a.offset + a.length));
  }

  private onEdit(event: vscode.TextDocumentChangeEvent): void {
    const a = this.current;
    if (!a || a.stale || a.uri.toString() !== event.document.uri.toString() || event.contentChanges.length === 0) return;
    // Changes come in an order where each applies to the document as the previous left it.
    let offset = a.offset;
    for (const change of event.contentChanges) {
      const effect = shiftRange(offset, a.length, change);
      if (effect === 'touched') {
        a.stale = true;
        this.changed.fire(a);
        return;
      }
      if (effect !== 'unaffected') offset = effect.offset;
    }
    if (offset !== a.offset) {
      a.offset = offset;
      this.changed.fire(a);
    }
  }

  dispose(): void {
    this.subscription.dispose();
    this.changed.dispose();
  }
}
