// The Attribution tab: instruction scores, both models' heatmaps on one scale, the difference,
// the responses (click or Enter/Space a response token to shade its model's heatmap by that token's
// own column; arrow keys, Home and End move between tokens; Escape goes back to the density), and
// the top words.

import type { ModelReport } from '../src/explain/report.js';
import { columnValues, densityCells, differenceCells, type HeatCell } from '../src/view/heatmap.js';
import { HIGHLIGHT_MODES, reportRoles, type HighlightMode, type ModelRole } from '../src/contract/panel.js';
import { meanProbability } from '../src/view/format.js';
import { divergingLegend, el, focusItem, modelTag, num, quoted, rovingKeys, sequentialLegend, shadeDiverging, shadeSequential, shown, tokenText } from './dom.js';
import { ROLE_NAME, type View } from './view.js';

function heatmapCells(view: View, cells: readonly HeatCell[], shade: (node: HTMLElement, cell: HeatCell) => void, title: (cell: HeatCell) => string): HTMLElement[] {
  const nodes: HTMLElement[] = [];
  for (const cell of cells) {
    const span = el('span', {
      class: `tok${cell.instruction ? ' instr' : ''}${/^\s*$/.test(cell.text) ? ' ws' : ''}`,
      attrs: { title: title(cell) },
      on: { click: () => view.post({ type: 'reveal', start: cell.start, end: cell.end }) },
    }, tokenText(cell.text));
    shade(span, cell);
    nodes.push(span);
  }
  return nodes;
}

/**
 * Lays the cells out, with a line break after every cell whose text holds a newline. With `prompt`
 * (word cells, which do not cover the whole text) the prompt's text between cells is kept, plain.
 */
function heatmapBox(label: string, cells: readonly HeatCell[], nodes: readonly HTMLElement[], prompt?: string): HTMLElement {
  const box = el('div', { class: 'heatmap', attrs: { role: 'group', 'aria-label': label } });
  const gap = (text: string) => {
    text.split('\n').forEach((line, k) => {
      if (k > 0) box.append(el('br'));
      if (line) box.append(el('span', { class: 'gap' }, shown(line)));
    });
  };
  let at = 0;
  nodes.forEach((node, k) => {
    const cell = cells[k]!;
    if (prompt !== undefined) gap(prompt.slice(at, cell.start));
    box.append(node);
    if (prompt === undefined && cell.text.includes('\n')) box.append(el('br'));
    at = cell.end;
  });
  if (prompt !== undefined) gap(prompt.slice(at));
  return box;
}

function instructionSummary(m: ModelReport, prompt: string): string {
  const spans = m.instructions.spans;
  if (!spans.length) return 'No instruction span was detected in this prompt.';
  const texts = spans.map((s) => `\u201c${shown(prompt.slice(s.start, s.end))}\u201d`);
  return `Instruction spans (${m.instructions.source === 'user' ? 'given' : 'detected'}, underlined): ${texts.join('; ')}.`;
}

/** The screen reader's summary of a heatmap: the strongest tokens of the view shown (density, or one response token's column). */
function topTokensSentence(m: ModelReport, column: { index: number; values: number[] } | null = null): string {
  const values = column ? column.values : m.density;
  const order = m.tokens.map((t, i) => ({ t, d: values[i] ?? 0 })).sort((a, b) => b.d - a.d).slice(0, 5);
  const list = order.map(({ t, d }) => `${quoted(t.text)} ${num(d, 2)}`).join(', ');
  return column
    ? `Most attributed tokens for response token #${column.index + 1} ${quoted(m.response.tokens[column.index]?.text ?? '')}: ${list}.`
    : `Most important tokens: ${list}.`;
}

function scoresSection(view: View): HTMLElement {
  const report = view.doc.report;
  const roles = reportRoles(report);
  const max = Math.max(1e-9, ...roles.map((r) => report[r]!.instructionScore).filter(Number.isFinite));
  const rows = roles.map((role) => {
    const m = report[role]!;
    const count = m.instructionMask.filter((v) => v === 1).length;
    const bar = el('span', { class: 'bar', attrs: { 'aria-hidden': 'true' } }, el('span', { class: `fill ${role}` }));
    (bar.firstElementChild as HTMLElement).style.width = `${Math.max(0, Math.min(1, m.instructionScore / max)) * 100}%`;
    return el('tr', null,
      el('th', { attrs: { scope: 'row' } }, ROLE_NAME[role], el('div', null, modelTag(m.model.id))),
      el('td', { class: 'num score' }, num(m.instructionScore)),
      el('td', null, bar),
      el('td', { class: 'num' }, `${count} of ${m.tokens.length}`),
      el('td', null, shown(m.executionDevice ?? m.executionProvider)),
    );
  });
  let verdict = '';
  if (report.base && report.tuned) {
    const b = report.base.instructionScore;
    const t = report.tuned.instructionScore;
    verdict = t > b ? `The instruction-tuned model’s score is higher by ${num(t - b)}.` : t < b ? `The base model’s score is higher by ${num(b - t)}.` : 'Both models give the instruction the same score.';
  }
  return el('section', { class: 'card', attrs: { 'aria-labelledby': 'h-scores' } },
    el('h2', { attrs: { id: 'h-scores' } }, 'Instruction score'),
    el('p', { class: 'muted' }, 'Σ density over the tokens in an instruction span ÷ log₂(2 + their number). Higher: the response leans more on the instruction.'),
    // Scrollable at narrow widths (the default panel beside an editor): no column is cut off.
    el('div', { class: 'scroll', attrs: { tabindex: '0', role: 'region', 'aria-label': 'Instruction scores, scrollable' } },
      el('table', { class: 'data scores' },
        el('thead', null, el('tr', null, ...['Model', 'Score', 'Scale', 'Instruction tokens', 'Execution provider'].map((h) => el('th', { attrs: { scope: 'col' } }, h)))),
        el('tbody', null, ...rows),
      ),
    ),
    verdict ? el('p', { class: 'verdict' }, verdict) : null,
  );
}

function highlightChooser(view: View): HTMLElement {
  const report = view.doc.report;
  const available = (mode: HighlightMode) => (mode === 'difference' ? !!(report.base && report.tuned) : !!report[mode]);
  const labels: Record<HighlightMode, string> = { base: 'Base model', tuned: 'Instruction-tuned model', difference: 'Difference (tuned − base)' };
  const group = el('vscode-radio-group', {
    attrs: { 'aria-label': 'Highlight in the editor' },
    on: {
      change: (event: Event) => {
        const target = event.target as HTMLElement & { value?: string; checked?: boolean };
        const mode = target.getAttribute('value') as HighlightMode | null;
        if (!mode || !(HIGHLIGHT_MODES as readonly string[]).includes(mode) || target.checked === false) return;
        view.patch({ mode });
        view.post({ type: 'highlight', mode });
      },
    },
  }, ...HIGHLIGHT_MODES.map((mode) => el('vscode-radio', { attrs: { name: 'highlight-mode', value: mode, label: labels[mode], checked: view.state.mode === mode, disabled: !available(mode) } })));
  return el('div', { class: 'toolbar' }, el('span', { class: 'toolbar-label', attrs: { id: 'highlight-label' } }, 'Highlight in the editor:'), group);
}

interface ModelBlock {
  role: ModelRole;
  cells: HeatCell[];
  nodes: HTMLElement[];
  caption: HTMLElement;
  reset: HTMLElement;
  buttons: HTMLButtonElement[];
  /** The screen reader's summary of the heatmap, and the heatmap itself. */
  summary: HTMLElement;
  map: HTMLElement;
}

function densityTitle(role: ModelRole, cell: HeatCell): string {
  return `${ROLE_NAME[role]} · token #${cell.token + 1} ${quoted(cell.text)} · density ${num(cell.value)}${cell.instruction ? ' · in an instruction span' : ''}`;
}

/** Shades a model's heatmap by its density, or by response token j's column. */
function applyShading(view: View, block: ModelBlock, m: ModelReport): void {
  const column = view.state.column?.role === block.role ? view.state.column.index : null;
  const values = column === null || column >= m.response.tokens.length ? null : columnValues(m, column);
  block.nodes.forEach((node, i) => {
    const cell = block.cells[i]!;
    if (values) {
      shadeSequential(node, values[i]!);
      node.title = `${ROLE_NAME[block.role]} · ${quoted(cell.text)} · attribution to response token #${column! + 1}: ${num(values[i]!)} of its maximum`;
    } else {
      shadeSequential(node, cell.value);
      node.title = densityTitle(block.role, cell);
    }
  });
  block.buttons.forEach((b, j) => b.setAttribute('aria-pressed', String(values !== null && j === column)));
  block.caption.textContent = values
    ? `Shading: attribution to response token #${column! + 1} ${quoted(m.response.tokens[column!]!.text)} (its column of the raw matrix, scaled to its maximum).`
    : 'Shading: importance density (the same scale for both models).';
  block.reset.hidden = values === null;
  block.summary.textContent = topTokensSentence(m, values ? { index: column!, values } : null);
}

function heatmapsSection(view: View): { section: HTMLElement; blocks: ModelBlock[] } {
  const report = view.doc.report;
  const blocks: ModelBlock[] = [];
  const columns = el('div', { class: 'cols' });
  for (const role of reportRoles(report)) {
    const m = report[role]!;
    const cells = densityCells(m);
    const nodes = heatmapCells(view, cells, (node, cell) => shadeSequential(node, cell.value), (cell) => densityTitle(role, cell));
    const caption = el('p', { class: 'muted caption', attrs: { id: `caption-${role}`, 'aria-live': 'polite' } });
    const block: ModelBlock = { role, cells, nodes, caption, reset: el('span'), buttons: [], summary: el('span'), map: el('span') };
    block.reset = el('vscode-button', {
      attrs: { secondary: true, 'data-reset': role },
      on: { click: () => selectColumn(view, blocks, role, null) },
    }, 'Back to density');
    const heading = el('h3', null, ROLE_NAME[role], ' ', modelTag(m.model.id));
    const summary = el('p', { class: 'sr-only', attrs: { id: `summary-${role}` } }, topTokensSentence(m));
    const map = heatmapBox(`${ROLE_NAME[role]} model: the prompt’s tokens shaded by importance`, cells, nodes);
    map.classList.add(`heatmap-${role}`);
    map.setAttribute('aria-describedby', `caption-${role} summary-${role}`);
    block.summary = summary;
    block.map = map;
    columns.append(el('div', { class: 'model-block' }, heading, el('div', { class: 'caption-row' }, caption, block.reset), map, summary));
    blocks.push(block);
  }
  const first = report.base ?? report.tuned!;
  const section = el('section', { class: 'card', attrs: { 'aria-labelledby': 'h-heat' } },
    el('h2', { attrs: { id: 'h-heat' } }, 'Importance of each prompt token'),
    el('p', { class: 'muted' }, 'Faint (close to the background) = unimportant, strong = important; both models on one scale. Click a token to select it in the editor; click a response token below to see that token’s own column.'),
    el('div', { class: 'legend-row' }, sequentialLegend('Colour scale: faint is importance 0, strong is importance 1, the same for both models', '0', '1'),
      el('span', { class: 'instr-sample' }, 'underlined'), el('span', null, '= in an instruction span')),
    el('p', { class: 'muted' }, instructionSummary(first, view.doc.report.prompt)),
    columns,
  );
  return { section, blocks };
}

function differenceSection(view: View): HTMLElement | null {
  const { base, tuned } = view.doc.report;
  if (!base || !tuned) return null;
  const { perWord, cells } = differenceCells(base, tuned);
  const nodes = heatmapCells(
    view,
    cells,
    (node, cell) => shadeDiverging(node, cell.value),
    (cell) => {
      const c = cell as (typeof cells)[number];
      return `${quoted(c.text)} · tuned − base ${c.value >= 0 ? '+' : ''}${num(c.value)} (base ${num(c.base)}, tuned ${num(c.tuned)})${c.instruction ? ' · in an instruction span' : ''}`;
    },
  );
  const gainers = [...cells].sort((a, b) => b.value - a.value).slice(0, 3).filter((c) => c.value > 0);
  const losers = [...cells].sort((a, b) => a.value - b.value).slice(0, 3).filter((c) => c.value < 0);
  const described = `Largest gains for the tuned model: ${gainers.map((c) => `${quoted(c.text)} +${num(c.value, 2)}`).join(', ') || 'none'}. Largest losses: ${losers.map((c) => `${quoted(c.text)} ${num(c.value, 2)}`).join(', ') || 'none'}.`;
  const map = heatmapBox(`Difference: tuned minus base importance per prompt ${perWord ? 'word' : 'token'}`, cells, nodes, perWord ? view.doc.report.prompt : undefined);
  map.classList.add('heatmap-difference');
  map.setAttribute('aria-describedby', 'summary-difference');
  return el('section', { class: 'card', attrs: { 'aria-labelledby': 'h-diff' } },
    el('h2', { attrs: { id: 'h-diff' } }, 'Difference (tuned − base)'),
    el('p', { class: 'muted' }, perWord
      ? 'The two models tokenize the prompt differently, so the difference is per word: the tuned model’s word density minus the base model’s.'
      : 'Per prompt token: the tuned model’s density minus the base model’s.'),
    divergingLegend('Diverging colour scale: orange means the base model gives the token more importance, purple the tuned model, close to the background no difference', '−1 base higher', '+1 tuned higher'),
    map,
    el('p', { class: 'sr-only', attrs: { id: 'summary-difference' } }, described),
  );
}

function selectColumn(view: View, blocks: ModelBlock[], role: ModelRole, index: number | null): void {
  view.patch({ column: index === null ? null : { role, index } });
  for (const block of blocks) applyShading(view, block, view.doc.report[block.role]!);
}

function responsesSection(view: View, blocks: ModelBlock[]): HTMLElement {
  const report = view.doc.report;
  const columns = el('div', { class: 'cols' });
  for (const block of blocks) {
    const m = report[block.role]!;
    const tokens = m.response.tokens;
    const list = el('div', {
      class: 'response',
      attrs: { role: 'group', 'aria-label': `${ROLE_NAME[block.role]} model’s response: ${tokens.length} tokens. Press Enter or Space on a token to shade the prompt by its attribution; arrow keys move between tokens; Escape returns to the density.` },
    });
    tokens.forEach((t, j) => {
      const p = m.probabilities[j];
      const button = el('button', {
        class: 'rt',
        attrs: {
          type: 'button',
          tabindex: j === 0 ? '0' : '-1',
          'aria-pressed': 'false',
          'data-role': block.role,
          'data-index': j,
          title: `Response token #${j + 1} ${quoted(t.text)} · p = ${p === undefined ? 'n/a' : num(p)}`,
          'aria-label': `Token ${j + 1} of ${tokens.length}: ${quoted(t.text)}, probability ${p === undefined ? 'not available' : num(p, 2)}`,
        },
        on: {
          click: () => {
            const current = view.state.column;
            const same = current?.role === block.role && current.index === j;
            selectColumn(view, blocks, block.role, same ? null : j);
            focusItem(block.buttons, j);
            // The heatmap that changed is far above the responses: bring it into view.
            if (!same) block.map.scrollIntoView({ block: 'nearest' });
          },
        },
      }, tokenText(t.text));
      shadeSequential(button, p ?? 0);
      block.buttons.push(button);
      list.append(button);
      if (t.text.includes('\n')) list.append(el('br'));
    });
    const roving = rovingKeys(() => block.buttons);
    list.addEventListener('keydown', (event) => {
      if (event.key === 'Escape') {
        event.preventDefault();
        selectColumn(view, blocks, block.role, null);
        return;
      }
      roving(event);
    });
    const avg = meanProbability(m);
    columns.append(el('div', { class: 'model-block' },
      el('h3', null, ROLE_NAME[block.role], ' ', modelTag(m.model.id)),
      el('p', { class: 'muted' }, `${m.response.source === 'given' ? 'Given by the user' : 'Generated greedily'}, ${tokens.length} tokens, average token probability ${avg === null ? 'n/a' : num(avg)}. Shaded by probability.`),
      tokens.length ? list : el('p', { class: 'muted' }, '(empty response)'),
    ));
  }
  return el('section', { class: 'card', attrs: { 'aria-labelledby': 'h-responses' } }, el('h2', { attrs: { id: 'h-responses' } }, 'Responses'), columns);
}

function wordsSection(view: View): HTMLElement {
  const report = view.doc.report;
  const tables = reportRoles(report).map((role) => {
    const m = report[role]!;
    const top = [...m.words].filter((w) => Number.isFinite(w.density)).sort((a, b) => b.density - a.density || a.start - b.start).slice(0, 10);
    const rows = top.map((w, k) => {
      const cell = el('th', { class: 'tok', attrs: { scope: 'row' } }, tokenText(w.text));
      shadeSequential(cell, Math.min(1, w.density));
      return el('tr', null, el('td', { class: 'num' }, String(k + 1)), cell, el('td', { class: 'num' }, num(w.density)), el('td', { class: 'num' }, String(w.tokenIndices.length)));
    });
    return el('table', { class: 'data' },
      el('caption', null, `${ROLE_NAME[role]} (`, modelTag(m.model.id, ''), ')'),
      el('thead', null, el('tr', null, ...['#', 'Word', 'Density', 'Tokens'].map((h) => el('th', { attrs: { scope: 'col' } }, h)))),
      el('tbody', null, ...(rows.length ? rows : [el('tr', null, el('td', { attrs: { colspan: 4 } }, 'No words.'))])),
    );
  });
  return el('section', { class: 'card', attrs: { 'aria-labelledby': 'h-words' } },
    el('h2', { attrs: { id: 'h-words' } }, 'Top words by density'),
    el('p', { class: 'muted' }, 'A word’s density is the sum of its tokens’ densities.'),
    el('div', { class: 'cols' }, ...tables),
  );
}

export function renderAttribution(view: View): { node: HTMLElement; heatmaps: number; promptTokens: number; responseTokens: number } {
  const report = view.doc.report;
  const { section, blocks } = heatmapsSection(view);
  const difference = differenceSection(view);
  const responses = responsesSection(view, blocks);
  for (const block of blocks) applyShading(view, block, report[block.role]!);
  const node = el('div', { class: 'tab-body' }, scoresSection(view), highlightChooser(view), section, difference, responses, wordsSection(view));
  const roles = reportRoles(report);
  return {
    node,
    heatmaps: blocks.length + (difference ? 1 : 0),
    promptTokens: roles.reduce((s, r) => s + report[r]!.tokens.length, 0),
    responseTokens: roles.reduce((s, r) => s + report[r]!.response.tokens.length, 0),
  };
}
