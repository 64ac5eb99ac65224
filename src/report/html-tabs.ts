/**
 * The HTML page's Summary, Heads and FFN sections — the panel's tabs of the same names, from the same
 * view layer (src/view/: the findings, the heads and FFN views, the tabs' lead sentences), as static
 * markup: every colour a class (the page's CSP forbids style attributes), every report string
 * through `htmlText`.
 */
import type { Report } from '../contract/report.js';
import type { PanelTab, SectionName, SectionStatus } from '../contract/panel.js';
import { FINDING_STATUS, findingValue, findings } from '../view/findings.js';
import { formatNumber } from '../view/format.js';
import { seqBin } from '../view/colors.js';
import { ffnView, groupsTable, headCounts, headsView, rotationDegrees, sharePercent, verbLinksByWeight, type FfnModelView, type HeadsModelView } from '../view/section-views.js';
import { TAB_TITLE, tabLead } from '../view/tab-leads.js';
import { htmlText } from './escape.js';

/** The page's order: the verdicts first, then the evidence. */
export const PAGE_TABS: readonly PanelTab[] = ['summary', 'attribution', 'heads', 'ffn'];

const ROLE_TITLE = { base: 'Base', tuned: 'Instruction-tuned' } as const;
const ROLES = ['base', 'tuned'] as const;

/** What the page knows of the optional sections: computed when the report holds them. */
export function reportSections(report: Report): Record<SectionName, SectionStatus> {
  const status = (present: boolean, what: string): SectionStatus =>
    present ? { state: 'computed' } : { state: 'not-computed', reason: `This report holds no ${what} analysis.`, canCompute: false };
  return { heads: status(report.heads !== undefined, 'head'), ffn: status(report.ffn !== undefined, 'FFN') };
}

/** A tab's section: its title, the panel's one sentence for it, then its parts. */
export function tabSection(tab: PanelTab, report: Report, parts: string[]): string {
  const lead = tabLead(tab, report, reportSections(report));
  return [
    `<section class="tab" id="${tab}" aria-labelledby="h-tab-${tab}">`,
    `<h2 id="h-tab-${tab}">${htmlText(TAB_TITLE[tab])}</h2>`,
    `<p class="lead" data-lead="${tab}">${htmlText(lead)}</p>`,
    ...parts,
    '</section>',
  ].join('\n');
}

/** The in-page links to the four tabs. */
export function tabNav(): string {
  return `<nav class="tabs" aria-label="The report’s tabs">${PAGE_TABS.map((t) => `<a href="#${t}">${htmlText(TAB_TITLE[t])}</a>`).join('')}</nav>`;
}

function table(caption: string | null, head: string[], rows: string[][], numeric: readonly number[] = []): string {
  const cell = (v: string, k: number, tag: 'td' | 'th') => `<${tag}${tag === 'th' ? ' scope="row"' : ''}${numeric.includes(k) ? ' class="num"' : ''}>${v}</${tag}>`;
  return [
    '<table>',
    caption === null ? '' : `<caption>${htmlText(caption)}</caption>`,
    `<thead><tr>${head.map((h) => `<th scope="col">${htmlText(h)}</th>`).join('')}</tr></thead>`,
    `<tbody>\n${rows.map((r) => `<tr>${r.map((v, k) => cell(v, k, k === 0 ? 'th' : 'td')).join('')}</tr>`).join('\n')}\n</tbody>`,
    '</table>',
  ].join('');
}

export function summaryTab(report: Report): string {
  const list = findings(report, reportSections(report));
  const items = list.map((f) => {
    const s = FINDING_STATUS[f.status];
    const numbers = f.numbers.length
      ? table(null, ['Measure', 'Base', 'Tuned', 'Value'], f.numbers.map((n) => [htmlText(n.label), findingValue(n.base), findingValue(n.tuned), findingValue(n.value)]), [1, 2, 3])
      : '';
    return [
      `<li class="finding" data-finding="${htmlText(f.id)}" data-status="${htmlText(f.status)}">`,
      `<h3><span class="sym" aria-hidden="true">${s.symbol}</span> ${htmlText(f.title)} — ${htmlText(s.label)}</h3>`,
      `<p><strong>Paper:</strong> ${htmlText(f.claim)}</p>`,
      `<p><strong>Here:</strong> ${htmlText(f.measured)}</p>`,
      numbers,
      '</li>',
    ].join('\n');
  });
  return tabSection('summary', report, [
    '<p class="note">Wu et al., “From Language Modeling to Instruction Following” (NAACL 2024, arXiv 2310.00492). One prompt is one sample: a finding that does not hold here may still hold on average.</p>',
    `<ol class="findings">\n${items.join('\n')}\n</ol>`,
  ]);
}

function headGrid(role: 'base' | 'tuned', model: HeadsModelView, max: number): string {
  const byPos = new Map(model.perHead.map((h) => [`${h.layer}:${h.head}`, h]));
  const head = `<thead><tr><th scope="col">layer ╲ head</th>${Array.from({ length: model.heads }, (_, h) => `<th scope="col">${h}</th>`).join('')}</tr></thead>`;
  const rows: string[] = [];
  for (let layer = 0; layer < model.layers; layer++) {
    const cells: string[] = [`<th scope="row">${layer}</th>`];
    for (let h = 0; h < model.heads; h++) {
      const data = byPos.get(`${layer}:${h}`);
      const value = data?.verbPairs ?? 0;
      const title = data ? `Layer ${layer}, head ${h}: ${value} of ${data.recurringPairs} recurring word pairs hold an instruction verb` : `Layer ${layer}, head ${h}: no data`;
      cells.push(`<td class="num q${seqBin(max > 0 ? value / max : 0)}" title="${htmlText(title)}">${data ? value : '–'}</td>`);
    }
    rows.push(`<tr>${cells.join('')}</tr>`);
  }
  const label = `${ROLE_TITLE[role]} model: word pairs with an instruction verb per head, ${model.layers} layers × ${model.heads} heads`;
  return `<div><h4>${htmlText(ROLE_TITLE[role])}</h4><div class="scroll" tabindex="0" role="region" aria-label="${htmlText(label)}"><table class="grid">${head}<tbody>${rows.join('')}</tbody></table></div></div>`;
}

function strongestHeads(role: 'base' | 'tuned', model: HeadsModelView, count: number): string {
  const heads = [...model.perHead].filter((h) => h.verbPairs > 0).sort((a, b) => b.verbPairs - a.verbPairs || a.layer - b.layer || a.head - b.head).slice(0, count);
  if (!heads.length) return `<div><h4>${htmlText(ROLE_TITLE[role])}</h4><p class="note">No head of this model holds a word pair with an instruction verb.</p></div>`;
  const blocks = heads.map((h) => [
    `<h5>Layer ${h.layer} · head ${h.head}</h5>`,
    `<p class="note">${htmlText(headCounts(h))}</p>`,
    table('Recurring word pairs (query word → key word): most dimensions first, then the most similar', ['#', 'Query', 'Key', 'Dimensions', 'Similarity'],
      h.pairs.map((p, k) => [String(k + 1), htmlText(p.query), htmlText(p.key), String(p.dims), htmlText(formatNumber(p.score))]), [0, 3, 4]),
  ].join('\n'));
  return `<div><h4>${htmlText(ROLE_TITLE[role])}</h4>\n${blocks.join('\n')}</div>`;
}

export function headsTab(report: Report): string {
  if (!report.heads) return tabSection('heads', report, ['<p class="note">This report holds no head analysis.</p>']);
  const view = headsView(report.heads);
  const roles = ROLES.filter((r) => view.models[r]);
  const max = Math.max(0, ...roles.flatMap((r) => view.models[r]!.perHead.map((h) => h.verbPairs)));
  const links = verbLinksByWeight(view);
  const parts = [
    '<h3 id="h-grids">Heads as word pairs</h3>',
    `<p class="note">Each cell: how many of the head’s recurring word pairs hold an instruction verb (both models on one scale, 0 to ${max}; hover a cell for its counts).</p>`,
    `<div class="cols">\n${roles.map((r) => headGrid(r, view.models[r]!, max)).join('\n')}\n</div>`,
    '<h3 id="h-links">Heads linking this prompt’s instruction verbs</h3>',
    links.length
      ? table(links.length > 30 ? `The 30 strongest of ${links.length} links` : null, ['Model', 'Layer', 'Head', 'Verb', 'Linked word', 'Attention'],
          links.slice(0, 30).map((l) => [htmlText(ROLE_TITLE[l.role]), String(l.layer), String(l.head), htmlText(l.verb), htmlText(l.word), htmlText(formatNumber(l.weight))]), [1, 2, 5])
      : '<p class="note">No head links an instruction verb of this prompt to another word.</p>',
    '<h3 id="h-strongest">The heads with the most instruction-verb word pairs</h3>',
    `<div class="cols">\n${roles.map((r) => strongestHeads(r, view.models[r]!, 3)).join('\n')}\n</div>`,
  ];
  if (view.groups.length) {
    const { columns, rows } = groupsTable(view.groups);
    parts.push(
      '<h3 id="h-groups">Per layer group: share of heads where the tuned model has more pairs with the word</h3>',
      '<p class="note">The paper’s Table 3: above 50% means that in most heads of those layers, instruction tuning added word pairs with the verb. “—”: no head’s counts differ.</p>',
      table(null, ['Verb', ...columns], rows.map((r) => [
        r.word === null ? (r.kind === 'instruction' ? 'Instruction verbs (mean)' : 'General verbs (mean)') : htmlText(r.word),
        ...r.shares.map(sharePercent),
      ]), columns.map((_, k) => k + 1)),
    );
  }
  return tabSection('heads', report, parts);
}

function conceptList(model: FfnModelView, layer: number, count: number): string {
  const data = model.layers.find((l) => l.layer === layer);
  if (!data) return '<p class="note">No concepts for this layer.</p>';
  const active = new Map(model.active.filter((a) => a.layer === layer).map((a) => [a.component, a.score]));
  const shown = data.components.filter((c, k) => k < count || active.has(c.index));
  return `<ol class="concepts">${shown.map((c) => {
    const score = active.get(c.index);
    const meta = `component ${c.index} · ${(c.explained * 100).toFixed(1)}% variance${score !== undefined ? ` · ◆ used by this prompt (${formatNumber(score, 2)})` : ''}`;
    return `<li${score !== undefined ? ' class="active"' : ''}><span class="note">${htmlText(meta)}</span><br>${htmlText(c.words.slice(0, 15).join(', '))}</li>`;
  }).join('')}</ol>`;
}

export function ffnTab(report: Report): string {
  if (!report.ffn) return tabSection('ffn', report, ['<p class="note">This report holds no FFN analysis.</p>']);
  const { models, rotation } = ffnView(report.ffn);
  const parts: string[] = [];
  if (rotation.length) {
    parts.push(
      '<h3 id="h-rotation">How tuning rotated each layer’s FFN components</h3>',
      '<p class="note">The angle between the base and the tuned model’s components (mean best match): 0° unchanged … 90° unrelated.</p>',
      `<table><thead><tr><th scope="col">Layer</th><th scope="col">Best-match cosine</th><th scope="col">Angle</th></tr></thead><tbody>\n${rotation.map((r) => {
        const angle = rotationDegrees(r.cosine);
        return `<tr><th scope="row">${r.layer}</th><td class="num">${htmlText(formatNumber(r.cosine))}</td><td class="num q${seqBin(angle / 90)}">${htmlText(formatNumber(angle, 1))}°</td></tr>`;
      }).join('\n')}\n</tbody></table>`,
    );
  }
  const layers = [...new Set(ROLES.flatMap((r) => models[r]?.layers.map((l) => l.layer) ?? []))].sort((a, b) => a - b);
  parts.push(
    '<h3 id="h-concepts">Concepts (principal components of the FFN value vectors, as their closest words)</h3>',
    '<p class="note">Per layer, each model’s first components and every component this prompt uses (marked ◆).</p>',
    ...layers.map((layer) => [
      `<h4>Layer ${layer}</h4>`,
      `<div class="cols">${ROLES.map((r) => `<div><h5>${htmlText(ROLE_TITLE[r])}</h5>${models[r] ? conceptList(models[r]!, layer, 5) : '<p class="note">Not analysed.</p>'}</div>`).join('')}</div>`,
    ].join('\n')),
  );
  return tabSection('ffn', report, parts);
}
