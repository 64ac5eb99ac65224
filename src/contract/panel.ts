// The messages between the extension host and the panel's webview, in both directions, and the
// state the webview keeps across hide/show. Imported by src/extension/panel.ts and webview/main.ts:
// plain types and pure functions only (no `vscode`, no Node modules, no DOM); part of the contract.
//
// Extension → webview (`ToWebview`):
//   document   a new analysis (or a restore): the report and the state of its heads/FFN sections
//   sections   the heads/FFN sections changed (computed later, failed, being computed)
//   busy       an analysis runs (a line to show) or ended (null)
//   showTab    bring a tab to the front (the "Show head word pairs" command, the hover's link)
//   highlight  the editor's highlight mode changed (the panel's view follows it)
//   edited     the analysed text was edited since the document's run (or not any more)
//   failure    the last run failed: its message and actions, where the results would be (null clears it)
// Webview → extension (`FromWebview`):
//   ready      the script runs; `documentId` is what it restored from its state (null: nothing)
//   tab        the user switched tabs (kept so that a restore opens the same tab)
//   highlight  the user chose a view in the panel: the editor highlights follow
//   reveal     select these characters of the analysed prompt in the editor
//   compute    compute the heads or FFN section for the current prompt
//   run        run a command: compare again, choose models, export the report
//   rendered   what the panel drew (counts), for the status line and the tests
//   error      a script error in the panel, for the output channel
//
// Every message from the webview is checked with `parseFromWebview` before it is acted on.

import type { ModelRole } from './engine.js';
import type { ModelReport, Report } from './report.js';

export type { ModelRole };

export const PANEL_VIEW_TYPE = 'instructionLens.panel';

export const PANEL_TABS = ['attribution', 'heads', 'ffn', 'summary'] as const;
export type PanelTab = (typeof PANEL_TABS)[number];

export const HIGHLIGHT_MODES = ['base', 'tuned', 'difference'] as const;
/** What the editor highlights and the panel's heatmap view show: one model's density, or tuned − base. */
export type HighlightMode = (typeof HIGHLIGHT_MODES)[number];

export const ROLES: readonly ModelRole[] = ['base', 'tuned'];

/**
 * What the panel renders: the report contract, where a single-model run ("Explain with the base
 * model only") has just one of the two models.
 */
export type PanelReport = Omit<Report, 'base' | 'tuned'> & { base?: ModelReport; tuned?: ModelReport };

export type SectionName = 'heads' | 'ffn';

/** Why a heads/FFN section is (not) in the report. */
export type SectionStatus =
  | { state: 'computed' }
  /** `canCompute`: the engine offers the analysis, so the panel shows a button. */
  | { state: 'not-computed'; reason: string; canCompute: boolean }
  | { state: 'computing' }
  | { state: 'failed'; reason: string };

export interface PanelDocument {
  /** Increases with every analysis of this editor session. */
  id: number;
  report: PanelReport;
  /** Where the prompt came from, e.g. "prompt.md, lines 1–4". */
  source: string;
  sections: Record<SectionName, SectionStatus>;
  /** The earlier runs on this prompt (its earlier versions), oldest first; absent in older states. */
  history?: RunSummary[];
  /** The analysed text was edited since this run: the report describes the text as it was. */
  edited?: boolean;
  /** Why a model of the comparison is missing from the report (it produced nothing), by role. */
  missing?: Partial<Record<ModelRole, string>>;
  /**
   * A snapshot: the panel's own copy from before a reload, whose prompt could not be found again
   * (its file gone, or changed so that the analysed range is not in it). No highlights or hover go
   * with it; the panel offers Re-run, which compares its prompt again in a new editor.
   */
  snapshot?: boolean;
}

/** What the panel's buttons can ask the extension to run. */
export const PANEL_COMMANDS = ['compare', 'selectModels', 'export', 'openSettings', 'showLog'] as const;
export type PanelCommand = (typeof PANEL_COMMANDS)[number];

/** A failed run, shown in the panel where its results would be, with what the user can do about it. */
export interface PanelFailure {
  title: string;
  message: string;
  actions: PanelCommand[];
}

/** What the panel keeps of one run on a prompt, to show how the next run moved. */
export interface RunSummary {
  /** The document id of the run. */
  id: number;
  createdAt: string;
  prompt: string;
  /** The models' ids ("base ↔ tuned"): a prompt's history holds the runs of one pair. */
  models: string;
  /** Each model's instruction score. */
  scores: Partial<Record<ModelRole, number>>;
  /** Each model's prompt words with their density, strongest first (at most HISTORY_WORDS). */
  words: Partial<Record<ModelRole, { text: string; density: number }[]>>;
}

export type ToWebview =
  | { type: 'document'; document: PanelDocument; tab?: PanelTab; mode?: HighlightMode }
  | { type: 'sections'; documentId: number; sections: Record<SectionName, SectionStatus>; report?: PanelReport }
  | { type: 'busy'; message: string | null }
  | { type: 'showTab'; tab: PanelTab }
  | { type: 'highlight'; mode: HighlightMode }
  | { type: 'edited'; documentId: number; edited: boolean }
  /** The last run failed (null: clear it). */
  | { type: 'failure'; failure: PanelFailure | null };

export interface RenderedCounts {
  documentId: number;
  tab: PanelTab;
  /** Heatmaps drawn on the attribution tab (one per model, plus the difference when shown). */
  heatmaps: number;
  promptTokens: number;
  responseTokens: number;
}

export type FromWebview =
  | { type: 'ready'; documentId: number | null }
  | { type: 'tab'; tab: PanelTab }
  | { type: 'highlight'; mode: HighlightMode }
  | { type: 'reveal'; start: number; end: number }
  | { type: 'compute'; section: SectionName }
  | { type: 'run'; command: PanelCommand }
  | ({ type: 'rendered' } & RenderedCounts)
  | { type: 'error'; message: string };

/** The view state the webview keeps with `vscode.setState` (and the serializer gets back). */
export interface PanelState {
  document: PanelDocument | null;
  tab: PanelTab;
  mode: HighlightMode;
  /** The response token whose column shades its model's heatmap, if any. */
  column: { role: ModelRole; index: number } | null;
  /** The head chosen in a head grid. */
  head: { role: ModelRole; layer: number; head: number } | null;
  /** The layer chosen on the FFN tab. */
  layer: number | null;
  /** The last run's failure, shown where the results would be. */
  failure: PanelFailure | null;
}

export const INITIAL_STATE: PanelState = { document: null, tab: 'attribution', mode: 'difference', column: null, head: null, layer: null, failure: null };

function parseFailure(x: unknown): PanelFailure | null {
  if (!isObject(x) || typeof x.title !== 'string' || typeof x.message !== 'string' || !Array.isArray(x.actions)) return null;
  const actions = x.actions.filter((a): a is PanelCommand => typeof a === 'string' && (PANEL_COMMANDS as readonly string[]).includes(a));
  return { title: x.title, message: x.message, actions };
}

const isObject = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);
const isIndex = (x: unknown): x is number => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;

export function isPanelTab(x: unknown): x is PanelTab {
  return typeof x === 'string' && (PANEL_TABS as readonly string[]).includes(x);
}

export function isHighlightMode(x: unknown): x is HighlightMode {
  return typeof x === 'string' && (HIGHLIGHT_MODES as readonly string[]).includes(x);
}

/** A message from the webview, checked field by field; null when it is not one of ours. */
export function parseFromWebview(x: unknown): FromWebview | null {
  if (!isObject(x)) return null;
  switch (x.type) {
    case 'ready':
      return x.documentId === null || isIndex(x.documentId) ? { type: 'ready', documentId: x.documentId } : null;
    case 'tab':
      return isPanelTab(x.tab) ? { type: 'tab', tab: x.tab } : null;
    case 'highlight':
      return isHighlightMode(x.mode) ? { type: 'highlight', mode: x.mode } : null;
    case 'reveal':
      return isIndex(x.start) && isIndex(x.end) && x.end >= x.start ? { type: 'reveal', start: x.start, end: x.end } : null;
    case 'compute':
      return x.section === 'heads' || x.section === 'ffn' ? { type: 'compute', section: x.section } : null;
    case 'run':
      return typeof x.command === 'string' && (PANEL_COMMANDS as readonly string[]).includes(x.command) ? { type: 'run', command: x.command as PanelCommand } : null;
    case 'rendered':
      return isIndex(x.documentId) && isPanelTab(x.tab) && isIndex(x.heatmaps) && isIndex(x.promptTokens) && isIndex(x.responseTokens)
        ? { type: 'rendered', documentId: x.documentId, tab: x.tab, heatmaps: x.heatmaps, promptTokens: x.promptTokens, responseTokens: x.responseTokens }
        : null;
    case 'error':
      return typeof x.message === 'string' ? { type: 'error', message: x.message.slice(0, 2000) } : null;
    default:
      return null;
  }
}

/**
 * A message from the extension; null when it is not one of ours (the webview ignores it). A
 * document's report is not checked field by field here: the extension sends only reports that
 * passed docs/report.schema.json (EngineClient), and checks a state the webview hands back before
 * adopting it (panelReportProblem).
 */
export function parseToWebview(x: unknown): ToWebview | null {
  if (!isObject(x)) return null;
  switch (x.type) {
    case 'document':
      return isObject(x.document) && isIndex(x.document.id) && isObject(x.document.report) ? (x as ToWebview) : null;
    case 'sections':
      return isIndex(x.documentId) && isObject(x.sections) ? (x as ToWebview) : null;
    case 'busy':
      return x.message === null || typeof x.message === 'string' ? { type: 'busy', message: x.message } : null;
    case 'showTab':
      return isPanelTab(x.tab) ? { type: 'showTab', tab: x.tab } : null;
    case 'highlight':
      return isHighlightMode(x.mode) ? { type: 'highlight', mode: x.mode } : null;
    case 'edited':
      return isIndex(x.documentId) && typeof x.edited === 'boolean' ? { type: 'edited', documentId: x.documentId, edited: x.edited } : null;
    case 'failure':
      return x.failure === null ? { type: 'failure', failure: null } : parseFailure(x.failure) ? { type: 'failure', failure: parseFailure(x.failure) } : null;
    default:
      return null;
  }
}

/** A restored state, checked (a state written by an older panel may lack fields). */
export function parseState(x: unknown): PanelState {
  if (!isObject(x)) return { ...INITIAL_STATE };
  const doc = isObject(x.document) && isIndex(x.document.id) && isObject(x.document.report) ? (x.document as unknown as PanelDocument) : null;
  const isRole = (r: unknown): r is ModelRole => r === 'base' || r === 'tuned';
  const column = isObject(x.column) && isRole(x.column.role) && isIndex(x.column.index) ? { role: x.column.role, index: x.column.index } : null;
  const head = isObject(x.head) && isRole(x.head.role) && isIndex(x.head.layer) && isIndex(x.head.head) ? { role: x.head.role, layer: x.head.layer, head: x.head.head } : null;
  return {
    document: doc,
    tab: isPanelTab(x.tab) ? x.tab : INITIAL_STATE.tab,
    mode: isHighlightMode(x.mode) ? x.mode : INITIAL_STATE.mode,
    column,
    head,
    layer: isIndex(x.layer) ? x.layer : null,
    failure: parseFailure(x.failure),
  };
}

/** The models a report holds, in display order. */
export function reportRoles(report: PanelReport): ModelRole[] {
  return ROLES.filter((r) => report[r] !== undefined);
}
