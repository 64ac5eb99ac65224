// The prompt's runs in the panel header: a banner when the analysed text was edited since this run
// (or when the report is a snapshot whose prompt a reload could not find again, with Re-run),
// and how the instruction score and the strongest words moved between two runs of the prompt
// (src/view/history.ts computes the moves). Clicking an earlier run compares the latest with it.

import type { RunSummary } from '../src/contract/panel.js';
import { formatNumber } from '../src/view/format.js';
import { describeMoves, runMoves } from '../src/view/history.js';
import { el, shown } from './dom.js';
import type { View } from './view.js';

/** The run the latest one is compared with (an earlier run's id), null: the one before it. */
let against: number | null = null;

/** A notice above the results with a button that runs the comparison again. */
function compareBanner(view: View, state: string, text: string, button: string): HTMLElement {
  return el('div', { class: 'edited-banner', attrs: { role: 'status', 'data-state': state } },
    text,
    el('vscode-button', { attrs: { 'data-command': `compare-${state}` }, on: { click: () => view.post({ type: 'run', command: 'compare' }) } }, button));
}

export function editedBanner(view: View): HTMLElement | null {
  if (!view.doc.edited) return null;
  return compareBanner(view, 'edited', 'The prompt was edited since this run: these results describe the earlier text. ', 'Compare again');
}

/** After a reload whose prompt was not found again (its file gone or changed): the panel shows a snapshot. */
export function snapshotBanner(view: View): HTMLElement | null {
  if (!view.doc.snapshot) return null;
  return compareBanner(view, 'snapshot',
    `A snapshot from before the window reloaded: its prompt (${shown(view.doc.source)}) was not found again, as the file is gone or changed, so the editor has no highlights or hover for it. Re-run compares the prompt again in a new editor. `,
    'Re-run');
}

function scores(run: RunSummary): string {
  return (['base', 'tuned'] as const).filter((r) => run.scores[r] !== undefined).map((r) => `${r} ${formatNumber(run.scores[r]!, 2)}`).join(', ');
}

export function historySection(view: View): HTMLElement | null {
  const history = view.doc.history ?? [];
  if (history.length < 2) return null;
  const latest = history[history.length - 1]!;
  const earlier = history.slice(0, -1);
  const before = earlier.find((r) => r.id === against) ?? earlier[earlier.length - 1]!;
  const lines = describeMoves(runMoves(before, latest));
  const list = el('ol', { class: 'runs' });
  history.forEach((run, k) => {
    const chosen = run.id === before.id;
    const label = `Run ${k + 1}${run === latest ? ' (shown)' : ''}: ${scores(run)}`;
    const item = run === latest
      ? el('span', null, label)
      : el('button', { class: 'link', attrs: { type: 'button', 'aria-pressed': chosen ? 'true' : 'false', title: shown(run.prompt) }, on: { click: () => { against = run.id; view.rerender(); } } }, label);
    list.append(el('li', { attrs: { 'data-run': run.id, ...(chosen ? { 'data-against': 'true' } : {}) } }, item));
  });
  return el('section', { class: 'history card', attrs: { 'aria-label': 'Runs on this prompt' } },
    el('h2', null, `Runs on this prompt (${history.length})`),
    list,
    el('p', { class: 'muted small' }, `From run ${history.indexOf(before) + 1} to run ${history.length} (instruction score; the strongest words’ importance):`),
    el('ul', { class: 'moves', attrs: { 'data-moves': '' } }, ...lines.map((line) => el('li', null, shown(line)))));
}
