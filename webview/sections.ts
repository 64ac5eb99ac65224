// The Heads and FFN tabs. Both show the report's optional sections through
// src/shared/section-views.ts; without a section they show why (not computed, computing, failed),
// with a button to compute it when the engine offers that analysis. Nothing is shown
// that the report does not hold.

import type { SectionName, SectionStatus, ModelRole } from '../src/contract/panel.js';
import { ffnView, groupsTable, headCounts, headsView, rotationDegrees, sharePercent, verbLinksByWeight, type FfnModelView, type GroupRow, type HeadsModelView, type HeadView } from '../src/view/section-views.js';
import { el, focusItem, num, sequentialLegend, shadeSequential, shown, svg } from './dom.js';
import { ROLE_NAME, type View } from './view.js';

const SECTION_TITLE: Record<SectionName, string> = { heads: 'Head word pairs', ffn: 'FFN concepts' };

/** The empty state of a section: why it is absent, and a button when it can be computed. */
function emptyState(view: View, section: SectionName, status: SectionStatus): HTMLElement {
  const title = SECTION_TITLE[section];
  const box = el('div', { class: 'empty-state', attrs: { role: 'status', 'data-section': section, 'data-state': status.state } });
  switch (status.state) {
    case 'computing':
      box.append(el('h2', null, `${title}: computing…`), el('vscode-progress-ring', { attrs: { 'aria-label': `Computing ${title.toLowerCase()}` } }));
      break;
    case 'failed':
      box.append(el('h2', null, `${title}: failed`), el('p', null, shown(status.reason)));
      break;
    case 'not-computed':
    case 'computed':
      box.append(el('h2', null, `${title}: not computed`), el('p', null, shown(status.state === 'not-computed' ? status.reason : 'This report has no such section.')));
      if (status.state === 'not-computed' && status.canCompute) {
        box.append(el('vscode-button', { attrs: { 'data-compute': section }, on: { click: () => view.post({ type: 'compute', section }) } }, `Compute ${title.toLowerCase()}`));
      }
      break;
  }
  return box;
}

function headDetails(view: View, models: Partial<Record<ModelRole, HeadsModelView>>): HTMLElement {
  const chosen = view.state.head;
  const box = el('div', { class: 'head-details', attrs: { 'aria-live': 'polite', id: 'head-details' } });
  const model = chosen ? models[chosen.role] : undefined;
  const head = model?.perHead.find((h) => h.layer === chosen!.layer && h.head === chosen!.head);
  if (!chosen || !head) {
    box.append(el('p', { class: 'muted' }, 'Choose a head in a grid (click, or arrow keys and Enter) to see its word pairs.'));
    return box;
  }
  const links = model!.verbLinks.filter((l) => l.layer === head.layer && l.head === head.head);
  box.append(
    el('h3', null, `${ROLE_NAME[chosen.role]} · layer ${head.layer} · head ${head.head}`),
    el('p', { class: 'muted', attrs: { 'data-head-counts': '' } }, headCounts(head)),
    el('div', { class: 'scroll' },
      el('table', { class: 'data' },
        el('caption', null, 'Recurring word pairs (query word → key word): most dimensions first, then the most similar'),
        el('thead', null, el('tr', null, ...['#', 'Query', 'Key', 'Dimensions', 'Similarity'].map((h) => el('th', { attrs: { scope: 'col' } }, h)))),
        el('tbody', null, ...head.pairs.slice(0, 50).map((p, k) => el('tr', null, el('td', { class: 'num' }, String(k + 1)), el('td', null, shown(p.query)), el('td', null, shown(p.key)), el('td', { class: 'num' }, String(p.dims)), el('td', { class: 'num' }, num(p.score))))),
      ),
    ),
    links.length ? el('p', null, `On this prompt it links ${links.map((l) => `“${shown(l.verb)}” → “${shown(l.word)}” (${num(l.weight, 2)})`).join(', ')}.`) : '',
  );
  return box;
}

function headGrid(view: View, role: ModelRole, model: HeadsModelView, max: number, onChoose: () => void): HTMLElement {
  const byPos = new Map<string, HeadView>(model.perHead.map((h) => [`${h.layer}:${h.head}`, h]));
  const cells: HTMLElement[] = [];
  const table = el('table', { class: 'grid', attrs: { role: 'grid', 'aria-label': `${ROLE_NAME[role]} model: word pairs with an instruction verb per head, ${model.layers} layers × ${model.heads} heads` } });
  table.append(el('thead', null, el('tr', null, el('th', { attrs: { scope: 'col' } }, 'layer ╲ head'), ...Array.from({ length: model.heads }, (_, h) => el('th', { attrs: { scope: 'col' } }, String(h))))));
  const body = el('tbody');
  for (let layer = 0; layer < model.layers; layer++) {
    const row = el('tr', null, el('th', { attrs: { scope: 'row' } }, String(layer)));
    for (let h = 0; h < model.heads; h++) {
      const data = byPos.get(`${layer}:${h}`);
      const value = data?.verbPairs ?? 0;
      const selected = view.state.head?.role === role && view.state.head.layer === layer && view.state.head.head === h;
      const cell = el('td', {
        class: 'cell',
        attrs: {
          role: 'gridcell',
          tabindex: cells.length === 0 ? '0' : '-1',
          'aria-selected': String(selected),
          'aria-label': `Layer ${layer}, head ${h}: ${data ? `${value} instruction-verb pairs of ${data.pairs.length}` : 'no data'}`,
          title: `Layer ${layer}, head ${h}: ${value} instruction-verb pairs`,
          'data-layer': layer,
          'data-head': h,
        },
        on: {
          click: () => choose(layer, h),
          keydown: (event: KeyboardEvent) => {
            if (event.key === 'Enter' || event.key === ' ') {
              event.preventDefault();
              choose(layer, h);
            }
          },
        },
      }, data ? String(value) : '–');
      shadeSequential(cell, max > 0 ? value / max : 0);
      cells.push(cell);
      row.append(cell);
    }
    body.append(row);
  }
  table.append(body);
  const choose = (layer: number, head: number) => {
    view.patch({ head: { role, layer, head } });
    cells.forEach((c) => c.setAttribute('aria-selected', String(c.dataset.layer === String(layer) && c.dataset.head === String(head))));
    onChoose();
  };
  table.addEventListener('keydown', (event) => {
    const at = cells.indexOf(document.activeElement as HTMLElement);
    if (at < 0) return;
    const step = { ArrowRight: 1, ArrowLeft: -1, ArrowDown: model.heads, ArrowUp: -model.heads } as Record<string, number>;
    let next = at;
    if (event.key in step) next = at + step[event.key]!;
    else if (event.key === 'Home') next = at - (at % model.heads);
    else if (event.key === 'End') next = at - (at % model.heads) + model.heads - 1;
    else return;
    event.preventDefault();
    if (next >= 0 && next < cells.length) focusItem(cells, next);
  });
  return el('div', { class: 'grid-block' }, el('h3', null, ROLE_NAME[role]), el('div', { class: 'scroll' }, table));
}

export function renderHeads(view: View): HTMLElement {
  const report = view.doc.report;
  const status = view.doc.sections.heads;
  if (report.heads === undefined) return el('div', { class: 'tab-body' }, emptyState(view, 'heads', status));
  const { models, groups } = headsView(report.heads);
  const roles = (['base', 'tuned'] as const).filter((r) => models[r]);
  const max = Math.max(0, ...roles.flatMap((r) => models[r]!.perHead.map((h) => h.verbPairs)));
  let details = headDetails(view, models);
  const refresh = () => {
    const next = headDetails(view, models);
    details.replaceWith(next);
    details = next;
  };
  const grids = el('div', { class: 'cols' }, ...roles.map((r) => headGrid(view, r, models[r]!, max, refresh)));
  const links = verbLinksByWeight({ models, groups });
  return el('div', { class: 'tab-body' },
    el('section', { class: 'card', attrs: { 'aria-labelledby': 'h-grids' } },
      el('h2', { attrs: { id: 'h-grids' } }, 'Heads as word pairs'),
      el('p', { class: 'muted' }, 'Each cell: how many of the head’s word pairs hold an instruction verb (both models on one scale).'),
      sequentialLegend(`Colour scale: faint is 0 pairs, strong is ${max} pairs`, '0', String(max)),
      grids,
      details,
    ),
    el('section', { class: 'card', attrs: { 'aria-labelledby': 'h-links' } },
      el('h2', { attrs: { id: 'h-links' } }, 'Heads linking this prompt’s instruction verbs'),
      links.length
        ? el('table', { class: 'data' },
            el('thead', null, el('tr', null, ...['Model', 'Layer', 'Head', 'Verb', 'Linked word', 'Attention'].map((h) => el('th', { attrs: { scope: 'col' } }, h)))),
            el('tbody', null, ...links.slice(0, 30).map((l) => el('tr', null, el('td', null, ROLE_NAME[l.role]), el('td', { class: 'num' }, String(l.layer)), el('td', { class: 'num' }, String(l.head)), el('td', null, shown(l.verb)), el('td', null, shown(l.word)), el('td', { class: 'num' }, num(l.weight))))),
          )
        : el('p', { class: 'muted' }, 'The section lists no head linking an instruction verb of this prompt.'),
      links.length > 30 ? el('p', { class: 'muted' }, `The 30 strongest of ${links.length} links.`) : null,
    ),
    groups.length ? groupsSection(groups) : null,
  );
}

/** The paper's Table 3, pivoted: a row per verb, a column per layer group, the mean per kind. */
function groupsSection(groups: readonly GroupRow[]): HTMLElement {
  const { columns, rows: pivot } = groupsTable(groups);
  const rows = pivot.map((r) => r.word === null
    ? el('tr', { class: 'group-mean' }, el('th', { attrs: { scope: 'row' } }, r.kind === 'instruction' ? 'Instruction verbs (mean)' : 'General verbs (mean)'), ...r.shares.map((m) => el('td', { class: 'num' }, sharePercent(m))))
    : el('tr', null, el('th', { attrs: { scope: 'row' }, class: 'indent' }, shown(r.word)), ...r.shares.map((m) => el('td', { class: 'num' }, sharePercent(m)))));
  return el('section', { class: 'card', attrs: { 'aria-labelledby': 'h-groups' } },
    el('h2', { attrs: { id: 'h-groups' } }, 'Per layer group: share of heads where the tuned model has more pairs with the word'),
    el('p', { class: 'muted' }, 'The paper’s Table 3: above 50% means that in most heads of those layers, instruction tuning added word pairs with the verb. “—”: no head’s counts differ.'),
    el('div', { class: 'scroll tall', attrs: { tabindex: '0', role: 'region', 'aria-label': 'Share of heads per verb and layer group, scrollable' } },
      el('table', { class: 'data' },
        el('thead', null, el('tr', null, el('th', { attrs: { scope: 'col' } }, 'Verb'), ...columns.map((c) => el('th', { attrs: { scope: 'col' } }, shown(c))))),
        el('tbody', null, ...rows),
      ),
    ),
  );
}

function rotationChart(rotation: { layer: number; cosine: number }[]): HTMLElement {
  const width = 560;
  const barH = 14;
  const gap = 4;
  const left = 60;
  const height = rotation.length * (barH + gap) + 24;
  const chart = svg('svg', { viewBox: `0 0 ${width} ${height}`, width: '100%', role: 'img', 'aria-labelledby': 'rotation-title rotation-desc', class: 'rotation' });
  chart.append(svg('title', { id: 'rotation-title' }, 'Rotation of the FFN components per layer'));
  chart.append(svg('desc', { id: 'rotation-desc' }, rotation.map((r) => `layer ${r.layer}: cosine ${num(r.cosine)}, ${num(rotationDegrees(r.cosine), 1)} degrees`).join('; ')));
  rotation.forEach((r, k) => {
    const y = k * (barH + gap);
    const angle = rotationDegrees(r.cosine);
    const w = ((width - left - 80) * angle) / 90;
    chart.append(svg('text', { x: left - 6, y: y + barH - 3, 'text-anchor': 'end', class: 'axis' }, `layer ${r.layer}`));
    const bar = svg('rect', { x: left, y, width: Math.max(1, w), height: barH, stroke: 'currentColor', 'stroke-width': 0.5 });
    shadeSequential(bar, Math.min(1, angle / 90));
    chart.append(bar);
    chart.append(svg('text', { x: left + Math.max(1, w) + 6, y: y + barH - 3, class: 'axis' }, `${num(angle, 1)}° (cos ${num(r.cosine, 2)})`));
  });
  chart.append(svg('text', { x: left, y: height - 6, class: 'axis' }, 'angle between base and tuned components: 0° unchanged … 90° unrelated'));
  return el('div', { class: 'chart' }, chart);
}

function conceptList(role: ModelRole, model: FfnModelView | undefined, layer: number): HTMLElement {
  const data = model?.layers.find((l) => l.layer === layer);
  if (!data) return el('div', null, el('h3', null, ROLE_NAME[role]), el('p', { class: 'muted' }, 'No concepts for this layer.'));
  const active = new Map((model!.active ?? []).filter((a) => a.layer === layer).map((a) => [a.component, a.score]));
  return el('div', null,
    el('h3', null, ROLE_NAME[role]),
    el('ol', { class: 'concepts' }, ...data.components.slice(0, 20).map((c) => {
      const score = active.get(c.index);
      return el('li', { class: score !== undefined ? 'active' : '' },
        el('span', { class: 'muted small' }, `component ${c.index} · ${(c.explained * 100).toFixed(1)}% variance${score !== undefined ? ` · used by this prompt (${num(score, 2)})` : ''}`),
        score !== undefined ? el('span', { class: 'badge' }, '◆ active') : null,
        el('div', null, c.words.slice(0, 15).map(shown).join(', ')),
      );
    })),
  );
}

export function renderFfn(view: View): HTMLElement {
  const report = view.doc.report;
  const status = view.doc.sections.ffn;
  if (report.ffn === undefined) return el('div', { class: 'tab-body' }, emptyState(view, 'ffn', status));
  const { models, rotation } = ffnView(report.ffn);
  const layers = [...new Set([...(models.base?.layers ?? []), ...(models.tuned?.layers ?? [])].map((l) => l.layer))].sort((a, b) => a - b);
  const layer = view.state.layer !== null && layers.includes(view.state.layer) ? view.state.layer : layers[0] ?? 0;
  const lists = el('div', { class: 'cols', attrs: { 'aria-live': 'polite' } }, conceptList('base', models.base, layer), conceptList('tuned', models.tuned, layer));
  const select = el('select', {
    attrs: { 'aria-label': 'Layer', id: 'ffn-layer' },
    on: {
      change: (event: Event) => {
        const chosen = Number((event.target as HTMLSelectElement).value);
        view.patch({ layer: chosen });
        lists.replaceChildren(conceptList('base', models.base, chosen), conceptList('tuned', models.tuned, chosen));
      },
    },
  }, ...layers.map((l) => el('option', { attrs: { value: l, selected: l === layer } }, `Layer ${l}`)));
  return el('div', { class: 'tab-body' },
    rotation.length
      ? el('section', { class: 'card', attrs: { 'aria-labelledby': 'h-rotation' } }, el('h2', { attrs: { id: 'h-rotation' } }, 'How tuning rotated each layer’s FFN components'), rotationChart(rotation))
      : null,
    el('section', { class: 'card', attrs: { 'aria-labelledby': 'h-concepts' } },
      el('h2', { attrs: { id: 'h-concepts' } }, 'Concepts (principal components of the FFN value vectors, as their closest words)'),
      el('label', { class: 'toolbar', attrs: { for: 'ffn-layer' } }, 'Layer: '), select,
      lists,
    ),
  );
}
