// The panel's script (bundled to dist/webview.js, an IIFE). It receives the report from the
// extension (src/contract/panel.ts), renders the four tabs with @vscode-elements/elements,
// and keeps its view state with vscode.setState, so a panel that was hidden (its webview destroyed:
// retainContextWhenHidden is off) or restored after a restart comes back as it was.
// Every model-produced string goes in through textContent or setAttribute (webview/dom.ts).

import '@vscode-elements/elements/dist/vscode-tabs/index.js';
import '@vscode-elements/elements/dist/vscode-tab-header/index.js';
import '@vscode-elements/elements/dist/vscode-tab-panel/index.js';
import '@vscode-elements/elements/dist/vscode-button/index.js';
import '@vscode-elements/elements/dist/vscode-radio-group/index.js';
import '@vscode-elements/elements/dist/vscode-radio/index.js';
import '@vscode-elements/elements/dist/vscode-progress-ring/index.js';
import {
  PANEL_TABS,
  parseState,
  parseToWebview,
  reportRoles,
  type FromWebview,
  type PanelState,
  type PanelTab,
  type ToWebview,
} from '../src/contract/panel.js';
import { renderAttribution } from './attribution.js';
import { el, modelTag, shown } from './dom.js';
import { failureCard, missingNotes } from './failure.js';
import { editedBanner, historySection, snapshotBanner } from './history.js';
import { renderFfn, renderHeads } from './sections.js';
import { renderSummary } from './summary.js';
import { TAB_TITLE, tabLead } from '../src/view/tab-leads.js';
import { ROLE_NAME, type View } from './view.js';

interface VsCodeApi {
  postMessage(message: unknown): void;
  getState(): unknown;
  setState(state: unknown): void;
}

declare function acquireVsCodeApi(): VsCodeApi;

const vscode = acquireVsCodeApi();
let state: PanelState = parseState(vscode.getState());
let busy: string | null = null;

function post(message: FromWebview): void {
  vscode.postMessage(message);
}

function save(): void {
  vscode.setState(state);
}

function patch(change: Partial<PanelState>): void {
  state = { ...state, ...change };
  save();
}

function app(): HTMLElement {
  return document.getElementById('app') ?? document.body;
}

function busyLine(): HTMLElement {
  return el('div', { class: 'busy', attrs: { role: 'status', 'aria-live': 'polite', id: 'busy' } },
    busy ? el('vscode-progress-ring', { attrs: { 'aria-hidden': 'true' } }) : null,
    busy ? shown(busy) : '');
}

function toolbar(): HTMLElement {
  const button = (label: string, command: 'compare' | 'selectModels' | 'export', secondary = true) =>
    el('vscode-button', { attrs: { secondary, 'data-command': command }, on: { click: () => post({ type: 'run', command }) } }, label);
  return el('div', { class: 'actions' }, button('Compare again', 'compare', false), button('Choose models…', 'selectModels'), state.document ? button('Export…', 'export') : null);
}

function runCommand(command: FromWebview & { type: 'run' }): void {
  post(command);
}

function failureNode(hasPrevious: boolean): HTMLElement | null {
  return state.failure ? failureCard(state.failure, (command) => runCommand({ type: 'run', command }), hasPrevious) : null;
}

function renderEmpty(): void {
  if (state.failure) {
    app().replaceChildren(el('header', { class: 'top' }, el('h1', null, 'Instruction Lens')), busyLine(), failureNode(false)!);
    return;
  }
  app().replaceChildren(
    el('header', { class: 'top' }, el('h1', null, 'Instruction Lens')),
    busyLine(),
    el('div', { class: 'empty-state', attrs: { 'data-state': 'no-report' } },
      el('h2', null, 'No analysis yet'),
      el('p', null, 'Select a prompt in the editor and run “Instruction Lens: Compare Models on Selection” (also in the editor’s context menu).'),
      el('vscode-button', { attrs: { 'data-command': 'compare' }, on: { click: () => post({ type: 'run', command: 'compare' }) } }, 'Compare models on the selection'),
    ),
  );
}

function render(): void {
  const doc = state.document;
  if (!doc) {
    renderEmpty();
    return;
  }
  const view: View = { doc, get state() { return state; }, patch, rerender: render, post };
  const report = doc.report;
  const roles = reportRoles(report);
  const title: (Node | string)[] = [];
  roles.forEach((r, k) => title.push(k ? '  ·  ' : '', `${ROLE_NAME[r]}: `, modelTag(report[r]!.model.id, '')));
  const header = el('header', { class: 'top' },
    el('h1', null, 'Instruction Lens', ' ', el('span', { class: 'muted small' }, roles.length === 2 ? 'base vs instruction-tuned' : `${ROLE_NAME[roles[0]!].toLowerCase()} model only`)),
    el('p', { class: 'models' }, ...title),
    el('p', { class: 'muted small' }, `${shown(doc.source)} · ${shown(String(report.createdAt))}`),
    toolbar(),
    editedBanner(view),
    snapshotBanner(view),
    historySection(view),
  );
  const failure = failureNode(true);

  const attribution = renderAttribution(view);
  const bodies: Record<PanelTab, () => HTMLElement> = {
    attribution: () => attribution.node,
    heads: () => renderHeads(view),
    ffn: () => renderFfn(view),
    summary: () => renderSummary(view),
  };
  const tabs = el('vscode-tabs', { attrs: { 'selected-index': PANEL_TABS.indexOf(state.tab), 'aria-label': 'Instruction Lens views' } });
  for (const tab of PANEL_TABS) {
    const status = tab === 'heads' || tab === 'ffn' ? (report[tab] === undefined ? ' (not computed)' : '') : '';
    tabs.append(el('vscode-tab-header', { attrs: { slot: 'header', 'data-tab': tab } }, TAB_TITLE[tab], status ? el('span', { class: 'sr-only' }, status) : null));
  }
  for (const tab of PANEL_TABS) tabs.append(el('vscode-tab-panel', { attrs: { 'data-tab': tab } }, el('div', null, el('p', { class: 'tab-lead', attrs: { 'data-lead': tab } }, shown(tabLead(tab, report, doc.sections))), bodies[tab]())));
  tabs.addEventListener('vsc-tabs-select', (event) => {
    const index = (event as CustomEvent<{ selectedIndex: number }>).detail.selectedIndex;
    const tab = PANEL_TABS[index];
    if (!tab || tab === state.tab) return;
    patch({ tab });
    post({ type: 'tab', tab });
    reportRendered(attribution);
  });
  app().replaceChildren(header, busyLine(), ...(failure ? [failure] : []), ...[missingNotes(view)].filter((n): n is HTMLElement => n !== null), tabs);
  reportRendered(attribution);
}

function reportRendered(counts: { heatmaps: number; promptTokens: number; responseTokens: number }): void {
  if (!state.document) return;
  post({ type: 'rendered', documentId: state.document.id, tab: state.tab, heatmaps: counts.heatmaps, promptTokens: counts.promptTokens, responseTokens: counts.responseTokens });
}

function showTab(tab: PanelTab): void {
  patch({ tab });
  const tabs = document.querySelector('vscode-tabs') as (HTMLElement & { selectedIndex: number }) | null;
  if (tabs) tabs.selectedIndex = PANEL_TABS.indexOf(tab);
  else render();
}

function onMessage(message: ToWebview): void {
  switch (message.type) {
    case 'document': {
      const fresh = message.document.id !== state.document?.id;
      patch({
        document: message.document,
        tab: message.tab ?? state.tab,
        mode: message.mode ?? state.mode,
        ...(fresh ? { column: null, head: null, layer: null, failure: null } : {}),
      });
      busy = null;
      render();
      break;
    }
    case 'sections': {
      const doc = state.document;
      if (!doc || doc.id !== message.documentId) return;
      patch({ document: { ...doc, sections: message.sections, report: message.report ?? doc.report } });
      render();
      break;
    }
    case 'edited': {
      const doc = state.document;
      if (!doc || doc.id !== message.documentId || Boolean(doc.edited) === message.edited) return;
      patch({ document: { ...doc, edited: message.edited } });
      render();
      break;
    }
    case 'failure':
      patch({ failure: message.failure });
      busy = null;
      render();
      break;
    case 'busy':
      busy = message.message;
      document.getElementById('busy')?.replaceWith(busyLine());
      break;
    case 'showTab':
      showTab(message.tab);
      break;
    case 'highlight':
      if (state.mode !== message.mode) {
        patch({ mode: message.mode });
        for (const radio of Array.from(document.querySelectorAll<HTMLElement & { checked: boolean }>('vscode-radio[name="highlight-mode"]'))) radio.checked = radio.getAttribute('value') === message.mode;
      }
      break;
  }
}

window.addEventListener('message', (event: MessageEvent) => {
  const message = parseToWebview(event.data);
  if (message) onMessage(message);
});
window.addEventListener('error', (event) => post({ type: 'error', message: `${event.message} (${event.filename}:${event.lineno})` }));
window.addEventListener('unhandledrejection', (event) => post({ type: 'error', message: String((event as PromiseRejectionEvent).reason) }));

try {
  render();
} catch (e) {
  // A state from an incompatible panel: start empty rather than stay blank.
  post({ type: 'error', message: `restoring the panel failed: ${(e as Error).message}` });
  state = parseState(undefined);
  save();
  render();
}
post({ type: 'ready', documentId: state.document?.id ?? null });
