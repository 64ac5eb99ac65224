/**
 * The evaluate report as one self-contained HTML page (report.html): Table 2 per group and overall,
 * the density on instruction vs other tokens, detection against the annotations, Table 3 and the
 * FFN rotation when computed, skipped lines and the per-prompt results; plots drawn by Chart.js
 * (webview/evaluate-charts.ts, bundled into dist/evaluate-charts.js and inlined here).
 *
 * The same policy as the compare page (src/report/html.ts): a Content-Security-Policy meta tag with
 * `default-src 'none'`, the one style sheet and the one script allowed by a per-render nonce, no
 * network; every string from the results (ids, groups, responses, errors, model paths) goes through
 * `htmlText`, and the plots' data sits in a JSON block that is not executed, with `<` escaped.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { LensError } from '../model/errors.js';
import { escapeHtml, htmlText } from '../report/escape.js';
import { selfContainedHead } from '../report/html.js';
import { createNonce } from '../shared/panel-html.js';
import type { EvaluateReport, GroupStats } from './report.js';

const CHART_BUNDLE = 'evaluate-charts.js';

/** The bundled chart script: beside the CLI bundle (dist/), or in dist/ when running from src/. */
export function chartBundle(): string {
  for (const path of [join(__dirname, CHART_BUNDLE), join(__dirname, '..', '..', 'dist', CHART_BUNDLE)]) {
    if (existsSync(path)) {
      const code = readFileSync(path, 'utf8');
      if (/<\/script/i.test(code)) throw new LensError(`${path} contains "</script", which cannot be inlined`);
      return code;
    }
  }
  throw new LensError(`${CHART_BUNDLE} not found beside ${__dirname}: run \`npm run build\``);
}

const num = (x: number | null | undefined, digits = 4) => (x === null || x === undefined || !Number.isFinite(x) ? '–' : x.toFixed(digits));
const pValue = (x: number) => (x < 1e-3 ? x.toExponential(2) : x.toFixed(4));
const pct = (x: number | null) => (x === null ? '–' : `${(100 * x).toFixed(1)}%`);

function table2(r: EvaluateReport): string {
  const row = (g: GroupStats, overall: boolean) =>
    `<tr${overall ? ' class="overall"' : ''}><th scope="row">${htmlText(g.group)}</th><td class="num">${g.n}</td>` +
    `<td class="num">${num(g.base.mean)}</td><td class="num">${num(g.base.sd)}</td><td class="num">${num(g.tuned.mean)}</td><td class="num">${num(g.tuned.sd)}</td>` +
    `<td class="num">${g.welch ? g.welch.t.toFixed(3) : '–'}</td><td class="num">${g.welch ? g.welch.df.toFixed(1) : '–'}</td><td class="num">${g.welch ? pValue(g.welch.pTwoSided) : '–'}</td></tr>`;
  return [
    '<section id="table2"><h2>Instruction score (Table 2)</h2>',
    '<p class="note">Mean instruction score per model; Welch\'s t-test of tuned against base (two-sided p).</p>',
    '<table><thead><tr><th>group</th><th>n</th><th>base mean</th><th>base sd</th><th>tuned mean</th><th>tuned sd</th><th>t</th><th>df</th><th>p</th></tr></thead><tbody>',
    ...r.groups.map((g) => row(g, false)),
    row(r.overall, true),
    '</tbody></table>',
    '<div class="charts">',
    ...[...r.groups, r.overall].map((g, k) => `<div class="chart"><canvas id="chart-scores-${k}" role="img" aria-label="instruction score distribution, ${htmlText(g.group)}"></canvas></div>`),
    '</div></section>',
  ].join('\n');
}

function densitySection(r: EvaluateReport): string {
  const row = (g: GroupStats) =>
    `<tr><th scope="row">${htmlText(g.group)}</th><td class="num">${num(g.base.density.instruction)}</td><td class="num">${num(g.base.density.other)}</td><td class="num">${num(g.tuned.density.instruction)}</td><td class="num">${num(g.tuned.density.other)}</td></tr>`;
  return [
    '<section id="density"><h2>Importance density: instruction vs other tokens</h2>',
    '<p class="note">Per prompt, the mean density of its instruction tokens and of its other tokens; then the mean over the prompts.</p>',
    '<table><thead><tr><th>group</th><th>base: instruction</th><th>base: other</th><th>tuned: instruction</th><th>tuned: other</th></tr></thead><tbody>',
    ...[...r.groups, r.overall].map(row),
    '</tbody></table>',
    '<div class="chart wide"><canvas id="chart-density" role="img" aria-label="density on instruction vs other tokens"></canvas></div>',
    '</section>',
  ].join('\n');
}

function detectionSection(r: EvaluateReport): string {
  if (!r.detection) return '';
  const d = r.detection;
  return `<section id="detection"><h2>Instruction detection</h2><p>Against the annotated instruction spans of ${d.prompts} prompts, at character level: precision <b>${d.precision.toFixed(3)}</b>, recall <b>${d.recall.toFixed(3)}</b>, F1 <b>${d.f1.toFixed(3)}</b>. (The scores above use the annotated spans.)</p></section>`;
}

function headsSection(r: EvaluateReport): string {
  if (!r.heads) return '';
  const h = r.heads;
  const labels = h.groups.map((g) => `layers ${g.layers[0] + 1}–${g.layers[1]}`);
  const row = (label: string, cells: (number | null)[]) => `<tr><th scope="row">${htmlText(label)}</th>${cells.map((c) => `<td class="num">${pct(c)}</td>`).join('')}</tr>`;
  return [
    '<section id="table3"><h2>Heads: instruction verbs vs general verbs (Table 3)</h2>',
    '<p class="note">Share of heads where the tuned model has more word pairs with the verb than the base model (ties ignored).</p>',
    `<table><thead><tr><th>verbs</th>${labels.map((l) => `<th>${htmlText(l)}</th>`).join('')}</tr></thead><tbody>`,
    row('instruction (mean)', h.instruction.mean),
    row('instruction (pooled)', h.instruction.pooled),
    row('general (mean)', h.general.mean),
    row('general (pooled)', h.general.pooled),
    '</tbody></table>',
    '<div class="chart wide"><canvas id="chart-table3" role="img" aria-label="Table 3 per layer group"></canvas></div>',
    '</section>',
  ].join('\n');
}

function ffnSection(r: EvaluateReport): string {
  if (!r.ffn) return '';
  return [
    '<section id="rotation"><h2>FFN rotation per layer</h2>',
    '<table><thead><tr><th>layer</th><th>k</th><th>mean cosine</th><th>mean angle</th><th>mean best match</th></tr></thead><tbody>',
    ...r.ffn.map((l) => `<tr><td class="num">${l.layer}</td><td class="num">${l.k}</td><td class="num">${num(l.meanCosine)}</td><td class="num">${l.meanAngleDegrees.toFixed(1)}°</td><td class="num">${num(l.meanBestMatch)}</td></tr>`),
    '</tbody></table>',
    '<div class="chart wide"><canvas id="chart-rotation" role="img" aria-label="FFN rotation per layer"></canvas></div>',
    '</section>',
  ].join('\n');
}

function promptsSection(r: EvaluateReport, maxRows: number): string {
  const rows = r.results.slice(0, maxRows);
  const cell = (c: { score: number | null; response: string | null; error: string | null }) =>
    c.error !== null ? `<td class="num">–</td><td class="error">${htmlText(c.error)}</td>` : `<td class="num">${num(c.score)}</td><td class="response">${htmlText(c.response ?? '')}</td>`;
  const parts = [
    '<section id="prompts"><h2>Per prompt</h2>',
    r.results.length > rows.length ? `<p class="note">The first ${rows.length} of ${r.results.length} prompts; report.json has them all.</p>` : '',
    '<table><thead><tr><th>#</th><th>id</th><th>group</th><th>base score</th><th>base response</th><th>tuned score</th><th>tuned response</th></tr></thead><tbody>',
    ...rows.map((p) => `<tr><td class="num">${p.index}</td><td>${htmlText(p.id)}</td><td>${htmlText(p.group)}</td>${cell(p.base)}${cell(p.tuned)}</tr>`),
    '</tbody></table>',
  ];
  if (r.prompts.skipped.length) {
    parts.push(`<h3>Malformed lines skipped (${r.prompts.skipped.length})</h3><ul>`, ...r.prompts.skipped.map((s) => `<li>${htmlText(r.prompts.file)}:${s.line}: ${htmlText(s.message)}</li>`), '</ul>');
  }
  parts.push('</section>');
  return parts.join('\n');
}

/** What the plots need, as JSON that is safe inside a <script type="application/json"> block. */
function chartData(r: EvaluateReport): string {
  const data = {
    groups: [...r.groups, r.overall].map((g) => ({
      group: g.group,
      base: { scores: g.base.scores, density: g.base.density },
      tuned: { scores: g.tuned.scores, density: g.tuned.density },
    })),
    table3: r.heads
      ? { labels: r.heads.groups.map((g) => `layers ${g.layers[0] + 1}–${g.layers[1]}`), instruction: r.heads.instruction.mean, general: r.heads.general.mean }
      : null,
    rotation: r.ffn ? { layers: r.ffn.map((l) => l.layer), meanCosine: r.ffn.map((l) => l.meanCosine), meanBestMatch: r.ffn.map((l) => l.meanBestMatch) } : null,
  };
  return JSON.stringify(data).replace(/</g, '\\u003c').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}

const STYLE = [
  ':root{color-scheme:light dark;--fg:#1b1b1b;--bg:#fff;--muted:#5f6368;--rule:#d0d0d0}',
  '@media (prefers-color-scheme:dark){:root{--fg:#e8e8e8;--bg:#1e1e1e;--muted:#a0a0a0;--rule:#444}}',
  'body{margin:0;background:var(--bg);color:var(--fg);font:15px/1.5 system-ui,-apple-system,"Segoe UI",sans-serif}',
  'main{max-width:1200px;margin:0 auto;padding:1rem 1.5rem 3rem}',
  'h2{border-bottom:1px solid var(--rule);padding-bottom:.2rem;margin-top:2rem}',
  '.meta,.note{color:var(--muted)}',
  'table{border-collapse:collapse;margin:.5rem 0}',
  'th,td{border:1px solid var(--rule);padding:.2rem .5rem;text-align:left;vertical-align:top}',
  '.num{text-align:right;font-variant-numeric:tabular-nums}',
  'tr.overall th,tr.overall td{font-weight:600}',
  'td.response,td.error{white-space:pre-wrap;overflow-wrap:anywhere;max-width:28rem;font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:13px}',
  'td.error{color:#b00020}',
  '.charts{display:grid;grid-template-columns:repeat(auto-fit,minmax(22rem,1fr));gap:1rem}',
  '.chart{position:relative;height:260px}',
  '.chart.wide{height:320px;max-width:900px}',
].join('\n');

export interface EvaluateHtmlOptions {
  nonce?: string;
  /** Per-prompt rows shown (default 2,000). */
  maxRows?: number;
}

export function renderEvaluateHtml(r: EvaluateReport, options: EvaluateHtmlOptions = {}): string {
  const nonce = options.nonce ?? createNonce();
  const n = escapeHtml(nonce);
  const script = chartBundle();
  return [
    ...selfContainedHead(`Instruction Lens evaluation: ${r.base.spec} vs ${r.tuned.spec}`, nonce, STYLE),
    '<main>',
    '<h1>Instruction Lens: prompt-set evaluation</h1>',
    `<p class="meta">Base <code>${htmlText(r.base.spec)}</code>, tuned <code>${htmlText(r.tuned.spec)}</code>; prompt set <code>${htmlText(r.prompts.file)}</code>: ${r.prompts.evaluated} of ${r.prompts.count} prompts evaluated` +
      `${r.prompts.errors ? `, ${r.prompts.errors} model error(s)` : ''}${r.prompts.skipped.length ? `, ${r.prompts.skipped.length} malformed line(s) skipped` : ''}; shards ${r.shards.found.length} of ${r.shards.n}` +
      `${r.shards.missing.length ? ` (<b>missing: ${r.shards.missing.join(', ')}</b>)` : ''}. Options: L ${r.options.importance.L}, b ${r.options.importance.b}, p ${r.options.importance.p}, ${htmlText(r.options.format)}, ${r.options.maxNewTokens} new tokens at most.</p>`,
    table2(r),
    densitySection(r),
    detectionSection(r),
    headsSection(r),
    ffnSection(r),
    promptsSection(r, options.maxRows ?? 2000),
    '</main>',
    `<script type="application/json" id="evaluate-data">${chartData(r)}</script>`,
    `<script nonce="${n}">${script}</script>`,
    '</body>',
    '</html>',
    '',
  ].join('\n');
}
