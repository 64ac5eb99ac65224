// A failed run in the panel, where its results would be: what happened, and buttons for what the
// user can do (Choose Models…, Open Settings, Show Log, Compare again). A report of one model whose
// counterpart produced nothing says so above its results.

import type { PanelCommand, PanelFailure } from '../src/contract/panel.js';
import { el, shown } from './dom.js';
import { ROLE_NAME, type View } from './view.js';

const ACTION_LABEL: Record<PanelCommand, string> = {
  compare: 'Compare again',
  selectModels: 'Choose Models…',
  export: 'Export…',
  openSettings: 'Open Settings',
  showLog: 'Show Log',
};

export function actionButtons(actions: readonly PanelCommand[], post: (command: PanelCommand) => void): HTMLElement {
  return el('div', { class: 'actions' }, ...actions.map((command, k) =>
    el('vscode-button', { attrs: { secondary: k > 0, 'data-action': command }, on: { click: () => post(command) } }, ACTION_LABEL[command])));
}

/** The failure card (role="alert": a screen reader reads it when it appears). */
export function failureCard(failure: PanelFailure, post: (command: PanelCommand) => void, hasPrevious: boolean): HTMLElement {
  return el('section', { class: 'card failure', attrs: { role: 'alert', 'data-state': 'failed' } },
    el('h2', null, shown(failure.title)),
    el('p', null, shown(failure.message)),
    hasPrevious ? el('p', { class: 'muted small' }, 'The results of the previous run are below.') : null,
    actionButtons(failure.actions, post));
}

/** "The base model produced nothing for this prompt: …" above a one-model report of a comparison. */
export function missingNotes(view: View): HTMLElement | null {
  const missing = view.doc.missing;
  if (!missing) return null;
  const roles = (['base', 'tuned'] as const).filter((r) => missing[r]);
  if (!roles.length) return null;
  return el('section', { class: 'card failure', attrs: { 'data-state': 'missing' } },
    ...roles.map((r) => el('p', { attrs: { 'data-missing': r } }, el('strong', null, `${ROLE_NAME[r]} model: `), shown(missing[r]!))),
    actionButtons(['selectModels', 'openSettings'], (command) => view.post({ type: 'run', command })));
}
