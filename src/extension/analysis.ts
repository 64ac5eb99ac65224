// The current analysis: which document range was analysed, the report, and the state of its
// heads/FFN sections. The range follows edits: one before it shifts it, one inside it grows or
// shrinks it and marks the analysis stale (edited) — its highlights stay on the tokens the edit left
// alone, the panel says the report is of the earlier text, and "Compare again" runs the edited range.
// Each prompt keeps a short history of its runs (src/view/history.ts).

import * as vscode from 'vscode';
import type { ModelRole, PanelDocument, PanelReport, RunSummary, SectionName, SectionStatus } from '../contract/panel.js';
import { followRange, mapSpan, type TextChange } from '../shared/text-range.js';
import { appendRun, summarizeRun } from '../view/history.js';

export interface Analysis {
  readonly id: number;
  readonly uri: vscode.Uri;
  /** Document offset of the prompt's first character, and the prompt's length (UTF-16 units). */
  offset: number;
  length: number;
  /** The prompt's document offset when it was analysed (the report's character offsets count from it). */
  readonly origin: number;
  /** The analysed text no longer matches the document (it was edited): the range covers the edited text. */
  stale: boolean;
  /** The document changes inside or before the range since the run, in order (to place the highlights of untouched tokens). */
  readonly changes: TextChange[];
  /** The prompt's runs, oldest first, this one last. */
  history: RunSummary[];
  /** Why a model of the comparison is missing from the report (it produced nothing). */
  missing?: Partial<Record<ModelRole, string>>;
  report: PanelReport;
  sections: Record<SectionName, SectionStatus>;
  /** "prompt.md, lines 3–7". */
  readonly source: string;
}

/** What is kept in the workspace state, so that a reload (Reload Window, a restart) brings the analysis back. */
interface SavedAnalysis {
  version: 1;
  id: number;
  uri: string;
  offset: number;
  length: number;
  origin: number;
  stale: boolean;
  changes: TextChange[];
  history: RunSummary[];
  missing?: Partial<Record<ModelRole, string>>;
  report: PanelReport;
  sections: Record<SectionName, SectionStatus>;
  source: string;
}

const SAVED_KEY = 'instructionLens.analysis';
const SAVED_RANGE_KEY = 'instructionLens.analysisRange';

export class AnalysisStore implements vscode.Disposable {
  private current: Analysis | undefined;
  private nextId = 1;
  private readonly changed = new vscode.EventEmitter<Analysis | undefined>();
  /** Fires when the analysis is replaced, goes stale, or its report/sections change. */
  readonly onDidChange = this.changed.event;
  private readonly subscription: vscode.Disposable;

  /** `memento`: where the analysis is kept across reloads (the workspace state). */
  constructor(private readonly memento?: vscode.Memento) {
    this.subscription = vscode.workspace.onDidChangeTextDocument((event) => this.onEdit(event));
  }

  /**
   * The analysis kept before a reload, when its report is still valid (`valid` checks the contract's
   * shape), its document opens and the range is still inside it: the range is checked against the
   * text (an edit made while the window was closed marks it edited, with no highlight kept).
   */
  async restore(valid: (report: unknown) => boolean): Promise<Analysis | undefined> {
    const saved = this.memento?.get<SavedAnalysis>(SAVED_KEY);
    if (!saved || saved.version !== 1 || this.current || !valid(saved.report)) return undefined;
    const range = this.memento?.get<Pick<SavedAnalysis, 'id' | 'offset' | 'length' | 'stale' | 'changes'>>(SAVED_RANGE_KEY);
    const place = range && range.id === saved.id ? range : saved;
    let document: vscode.TextDocument;
    try {
      document = await vscode.workspace.openTextDocument(vscode.Uri.parse(saved.uri));
    } catch {
      return undefined;
    }
    if (this.current) return undefined;
    // The file changed so much that the range is no longer in it: nothing to restore (the panel keeps a snapshot).
    if (place.offset + place.length > document.getText().length) return undefined;
    let { stale, changes } = place;
    const text = document.getText().slice(place.offset, place.offset + place.length);
    if (!stale && text !== saved.report.prompt) {
      stale = true;
      changes = [{ rangeOffset: place.offset, rangeLength: place.length, text }];
    }
    this.current = { id: saved.id, uri: document.uri, offset: place.offset, length: place.length, origin: saved.origin, stale, changes: [...changes], history: saved.history, report: saved.report, sections: saved.sections, source: saved.source, ...(saved.missing ? { missing: saved.missing } : {}) };
    this.nextId = Math.max(this.nextId, saved.id + 1);
    this.changed.fire(this.current);
    return this.current;
  }

  private save(): void {
    const a = this.current;
    if (!a || !this.memento) return;
    const saved: SavedAnalysis = { version: 1, id: a.id, uri: a.uri.toString(), offset: a.offset, length: a.length, origin: a.origin, stale: a.stale, changes: a.changes, history: a.history, report: a.report, sections: a.sections, source: a.source, ...(a.missing ? { missing: a.missing } : {}) };
    void this.memento.update(SAVED_KEY, saved);
    void this.memento.update(SAVED_RANGE_KEY, undefined);
  }

  /** After an edit only the range changes: a small entry, not the whole report again. */
  private saveRange(): void {
    const a = this.current;
    if (!a || !this.memento) return;
    void this.memento.update(SAVED_RANGE_KEY, { id: a.id, offset: a.offset, length: a.length, stale: a.stale, changes: a.changes });
  }

  get analysis(): Analysis | undefined {
    return this.current;
  }

  /**
   * A new analysis of `length` characters at `offset` of `document`. When it is a new run of the
   * current analysis's prompt (the same document, overlapping ranges: "Compare again" after an
   * edit), it continues that prompt's history.
   */
  set(document: vscode.TextDocument, offset: number, length: number, report: PanelReport, sections: Record<SectionName, SectionStatus>, missing?: Partial<Record<ModelRole, string>>): Analysis {
    const start = document.positionAt(offset);
    const end = document.positionAt(offset + length);
    const name = document.uri.path.split('/').pop() || document.uri.toString();
    const lines = start.line === end.line ? `line ${start.line + 1}` : `lines ${start.line + 1}–${end.line + 1}`;
    const previous = this.current;
    const samePrompt = previous !== undefined && previous.uri.toString() === document.uri.toString() && offset < previous.offset + Math.max(previous.length, 1) && previous.offset < offset + Math.max(length, 1);
    const id = this.nextId++;
    const history = appendRun(samePrompt ? previous.history : [], summarizeRun(id, report));
    this.current = { id, uri: document.uri, offset, length, origin: offset, stale: false, changes: [], history, report, sections, source: `${name}, ${lines}`, ...(missing ? { missing } : {}) };
    this.save();
    this.changed.fire(this.current);
    return this.current;
  }

  /** Replaces the report and the section states of the current analysis (a section computed later). */
  update(analysis: Analysis, report: PanelReport, sections: Record<SectionName, SectionStatus>): void {
    if (analysis !== this.current) return;
    analysis.report = report;
    analysis.sections = sections;
    analysis.history = appendRun(analysis.history, summarizeRun(analysis.id, report));
    this.save();
    this.changed.fire(analysis);
  }

  /** The panel's document of the current analysis. */
  panelDocument(analysis = this.current): PanelDocument | undefined {
    return analysis && { id: analysis.id, report: analysis.report, source: analysis.source, sections: analysis.sections, history: analysis.history, edited: analysis.stale, ...(analysis.missing ? { missing: analysis.missing } : {}) };
  }

  /** The analysed range in `document` when it is the analysed one (edited or not). */
  rangeIn(document: vscode.TextDocument): vscode.Range | undefined {
    const a = this.current;
    if (!a || a.uri.toString() !== document.uri.toString()) return undefined;
    return new vscode.Range(document.positionAt(a.offset), document.positionAt(a.offset + a.length));
  }

  /**
   * Where the report's prompt characters [start, end) are in the document now: shifted by the edits
   * before them, null when an edit touched them.
   */
  place(start: number, end: number, analysis = this.current): { start: number; end: number } | null {
    return analysis ? mapSpan(analysis.origin + start, analysis.origin + end, analysis.changes) : null;
  }

  /** The analysed range's text as it is now in `document` (the edited prompt). */
  textIn(document: vscode.TextDocument): string | undefined {
    const range = this.rangeIn(document);
    return range && document.getText(range);
  }

  private onEdit(event: vscode.TextDocumentChangeEvent): void {
    const a = this.current;
    if (!a || a.uri.toString() !== event.document.uri.toString() || event.contentChanges.length === 0) return;
    // Changes come in an order where each applies to the document as the previous left it.
    let changed = false;
    for (const change of event.contentChanges) {
      const next = followRange(a.offset, a.length, change);
      if (change.rangeOffset < a.offset + a.length) a.changes.push({ rangeOffset: change.rangeOffset, rangeLength: change.rangeLength, text: change.text });
      if (next.offset !== a.offset || next.length !== a.length || next.touched) changed = true;
      a.offset = next.offset;
      a.length = next.length;
      if (next.touched) a.stale = true;
    }
    if (changed) {
      this.saveRange();
      this.changed.fire(a);
    }
  }

  dispose(): void {
    this.subscription.dispose();
    this.changed.dispose();
  }
}
