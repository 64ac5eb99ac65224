// The Summary tab: the paper's three findings as measured on this prompt (src/shared/findings.ts),
// each with its verdict in words and a symbol (never colour alone) and the numbers behind it.

import { FINDING_STATUS, findingValue as value, findings } from '../src/view/findings.js';
import { modelName } from '../src/view/format.js';
import { el, shown } from './dom.js';
import { ROLE_NAME, type View } from './view.js';

export function renderSummary(view: View): HTMLElement {
  const report = view.doc.report;
  const list = findings(report, view.doc.sections);
  const models = (['base', 'tuned'] as const).filter((r) => report[r]).map((r) => `${ROLE_NAME[r]}: ${shown(modelName(report[r]!.model.id))} (${shown(report[r]!.executionDevice ?? report[r]!.executionProvider)})`);
  return el('div', { class: 'tab-body' },
    el('section', { class: 'card', attrs: { 'aria-labelledby': 'h-summary' } },
      el('h2', { attrs: { id: 'h-summary' } }, 'The paper’s findings, on this prompt'),
      el('p', { class: 'muted' }, 'Wu et al., “From Language Modeling to Instruction Following” (NAACL 2024, arXiv 2310.00492). One prompt is one sample: a finding that does not hold here may still hold on average.'),
      el('p', { class: 'muted small' }, models.join(' · ')),
      el('ol', { class: 'findings' }, ...list.map((f) => {
        const s = FINDING_STATUS[f.status];
        const numbers = f.numbers.length
          ? el('table', { class: 'data' },
              el('thead', null, el('tr', null, el('th', { attrs: { scope: 'col' } }, 'Measure'), el('th', { attrs: { scope: 'col' } }, 'Base'), el('th', { attrs: { scope: 'col' } }, 'Tuned'), el('th', { attrs: { scope: 'col' } }, 'Value'))),
              el('tbody', null, ...f.numbers.map((n) => el('tr', null, el('th', { attrs: { scope: 'row' } }, n.label), el('td', { class: 'num' }, value(n.base)), el('td', { class: 'num' }, value(n.tuned)), el('td', { class: 'num' }, value(n.value))))),
            )
          : null;
        return el('li', { class: `finding ${f.status}`, attrs: { 'data-finding': f.id, 'data-status': f.status } },
          el('h3', null, el('span', { class: 'status-symbol', attrs: { 'aria-hidden': 'true' } }, s.symbol), ' ', f.title, ' — ', el('span', { class: 'status-label' }, s.label)),
          el('p', { class: 'claim' }, el('strong', null, 'Paper: '), f.claim),
          el('p', { class: 'measured' }, el('strong', null, 'Here: '), f.measured),
          numbers,
        );
      })),
    ),
  );
}
