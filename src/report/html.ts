/**
 * The report as one self-contained HTML page (`--html`, "Export report (HTML)").
 *
 * No external resource: the CSS is inline, and a strict Content-Security-Policy meta tag
 * (`default-src 'none'`, style and script allowed only with a per-render random nonce) makes sure
 * nothing else loads. Because the policy forbids `style="…"` attributes, every colour is a class:
 * densities are quantized into `SEQ_BINS` bins of the sequential scale, differences into `DIV_BINS`
 * bins of the diverging one and the raw matrices' gradient sign into as many bins of a scale of its
 * own — the scales (for a light and a dark colour scheme, by `prefers-color-scheme`), the number
 * format and the difference cells of every view (src/view/), so the page and the panel colour a
 * token alike.
 *
 * The page holds the panel's four tabs as sections, each opening with the panel's one sentence for
 * it (src/view/tab-leads.ts), after the two models and links to the tabs: Summary (the paper's
 * findings on this prompt), Attribution (the instruction scores; the prompt with its instruction
 * spans; both heatmaps on one scale; the difference (tuned − base); the top words; the responses
 * with each token's probability in its tooltip; each model's raw attribution matrix as a table),
 * Heads and FFN (src/report/html-tabs.ts; a note where the report holds no such analysis). The page
 * is complete without JavaScript; a small nonce'd script adds one thing: clicking a response token
 * shades that model's heatmap by the token's own column of the raw matrix.
 *
 * Every string that comes from the report goes through `htmlText` (controls made visible, lone
 * surrogates replaced, `& < > " '` escaped), in attributes too.
 */
import type { ModelReport, Report, ReportToken } from '../explain/report.js';
import { escapeHtml, htmlText, visibleToken } from './escape.js';
import { COLOR_SCHEMES, DIV_BINS, SEQ_BINS, contrastText, divBin, divBinColor, seqBin, seqBinColor, signBinColor, type Rgb } from '../view/colors.js';
import { formatNumber, formatParameters, meanProbability } from '../view/format.js';
import { differenceCells } from '../view/heatmap.js';
import { ffnTab, headsTab, summaryTab, tabNav, tabSection } from './html-tabs.js';

const css = ([r, g, b]: Rgb) => `rgb(${r} ${g} ${b})`;

export interface HtmlOptions {
  /** The CSP nonce; a fresh random one per render when absent (give one only for reproducible output). */
  nonce?: string;
  /** Raw-matrix tables with more cells than this show their first rows only (default 100 000). */
  maxMatrixCells?: number;
}

/** One self-contained HTML page of the report. */
export function renderHtml(report: Report, options: HtmlOptions = {}): string {
  const nonce = options.nonce ?? freshNonce();
  const maxCells = options.maxMatrixCells ?? 100_000;
  const { base, tuned } = report;
  const n = escapeHtml(nonce);
  const title = `Instruction Lens: ${report.base.model.id} vs ${report.tuned.model.id}`;

  const parts: string[] = [];
  parts.push(
    ...selfContainedHead(title, nonce, stylesheet()),
    '<main>',
    `<h1>Instruction Lens <span class="sub">base vs instruction-tuned</span></h1>`,
    `<p class="meta">Report <code>${htmlText(String(report.schema))}</code>, created ${htmlText(String(report.createdAt))}.</p>`,
  );
  parts.push(modelsSection(base, tuned), tabNav(), summaryTab(report));
  parts.push(tabSection('attribution', report, [
    scoresSection(base, tuned),
    promptSection(report),
    heatmapSection(base, tuned),
    differenceSection(report),
    wordsSection(base, tuned),
    responsesSection(base, tuned),
    matricesSection(base, tuned, maxCells),
  ]));
  parts.push(headsTab(report), ffnTab(report));
  parts.push('</main>', `<script nonce="${n}">${SCRIPT}</script>`, '</body>', '</html>', '');
  return parts.join('\n');
}

/**
 * The start of a self-contained page, up to `<body>`: a Content-Security-Policy that loads nothing
 * (`default-src 'none'`) and allows the page's one style sheet and its scripts by `nonce` only;
 * `title` is escaped here.
 */
export function selfContainedHead(title: string, nonce: string, css: string): string[] {
  if (!/^[A-Za-z0-9+/_-]{16,}={0,2}$/.test(nonce)) throw new Error('The CSP nonce must be at least 16 base64 characters.');
  const n = escapeHtml(nonce);
  return [
    '<!DOCTYPE html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'nonce-${n}'; script-src 'nonce-${n}'; base-uri 'none'; form-action 'none'">`,
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>${htmlText(title)}</title>`,
    `<style nonce="${n}">${css}</style>`,
    '</head>',
    '<body>',
  ];
}

/** 18 random bytes, base64 (Web Crypto: works in Node 20 and in a browser). */
function freshNonce(): string {
  const bytes = globalThis.crypto.getRandomValues(new Uint8Array(18));
  return btoa(String.fromCharCode(...bytes));
}

function stylesheet(): string {
  const rules: string[] = [
    ':root{color-scheme:light dark;--fg:#1b1b1b;--bg:#fff;--muted:#5f6368;--rule:#d0d0d0;--mark:#1b1b1b}',
    '@media (prefers-color-scheme:dark){:root{--fg:#e8e8e8;--bg:#1e1e1e;--muted:#a0a0a0;--rule:#444;--mark:#e8e8e8}}',
    'body{margin:0;background:var(--bg);color:var(--fg);font:15px/1.5 system-ui,-apple-system,"Segoe UI",sans-serif}',
    'main{max-width:1200px;margin:0 auto;padding:1rem 1.5rem 3rem}',
    'h1 .sub{font-weight:400;color:var(--muted);font-size:.6em}',
    'h2{border-bottom:1px solid var(--rule);padding-bottom:.2rem;margin-top:2rem}',
    '.meta,.note{color:var(--muted)}',
    'table{border-collapse:collapse}',
    'th,td{border:1px solid var(--rule);padding:.2rem .5rem;text-align:left;vertical-align:top}',
    'thead th{background:color-mix(in srgb,var(--fg) 8%,transparent)}',
    '.num{text-align:right;font-variant-numeric:tabular-nums}',
    '.cols{display:grid;grid-template-columns:repeat(auto-fit,minmax(22rem,1fr));gap:1rem 2rem}',
    '.heatmap,.response{font:14px/2.1 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;border:1px solid var(--rule);padding:.5rem;border-radius:4px;overflow-wrap:anywhere}',
    '.t{white-space:pre-wrap;padding:.1rem .05rem;border-bottom:3px solid transparent;border-radius:2px}',
    '.t.i{border-bottom-color:var(--mark);border-bottom-style:solid}',
    'button.rt{font:inherit;white-space:pre-wrap;border:1px solid transparent;margin:0;padding:.1rem .05rem;cursor:pointer;border-radius:2px}',
    'button.rt[aria-pressed="true"]{outline:2px solid var(--mark);outline-offset:1px}',
    'button.reset{font:inherit;font-size:.85em;margin-left:.5rem}',
    'pre.prompt{white-space:pre-wrap;overflow-wrap:anywhere;border:1px solid var(--rule);padding:.5rem;border-radius:4px;font:14px/1.6 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}',
    'pre.prompt mark{background:transparent;color:inherit;border-bottom:3px solid var(--mark);text-decoration:underline dotted}',
    '.legend{display:flex;align-items:center;gap:.5rem;flex-wrap:wrap;margin:.5rem 0}',
    '.legend .sw{display:inline-block;width:1.2rem;height:1rem;border:1px solid var(--rule)}',
    '.legend .i-sample{border-bottom:3px solid var(--mark);padding:0 .2rem}',
    '.scroll{overflow:auto;max-height:40rem;border:1px solid var(--rule)}',
    'table.raw{font:12px/1.3 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}',
    'table.raw th,table.raw td{padding:.1rem .3rem;white-space:pre}',
    'table.raw thead th{position:sticky;top:0;background:var(--bg)}',
    'table.raw tbody th{position:sticky;left:0;background:var(--bg)}',
    'table.raw th.i{border-bottom:3px solid var(--mark)}',
    'meter{width:12rem}',
    '.sr{position:absolute;width:1px;height:1px;overflow:hidden;clip-path:inset(50%);white-space:nowrap}',
    'code{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}',
    'nav.tabs{display:flex;gap:1rem;flex-wrap:wrap;border-bottom:1px solid var(--rule);padding:.5rem 0;position:sticky;top:0;background:var(--bg);z-index:1}',
    'nav.tabs a{color:var(--fg);font-weight:600}',
    'section.tab,section.tab h3{margin-top:1.5rem;scroll-margin-top:3.5rem}',
    'section.tab>h2{font-size:1.6em}',
    '.lead{font-size:1.1em}',
    'table.grid{border-collapse:collapse;font-variant-numeric:tabular-nums;font-size:.9em}',
    'table.grid th{color:var(--muted);font-weight:400;border:0;padding:.1rem .3rem}',
    'table.grid td{min-width:1.8em;text-align:center;padding:.1rem;border:1px solid var(--bg)}',
    'ol.findings{padding-left:1.2rem}',
    '.sym{display:inline-block;width:1.2em;text-align:center}',
    'ol.concepts{padding-left:1.5em;margin:.25rem 0}',
    'ol.concepts li{margin:.25rem 0}',
    'ol.concepts li.active{border-left:3px solid var(--mark);padding-left:.4rem}',
  ];
  // The shades, one class per bin, for each colour scheme: q density, v difference, g gradient sign.
  for (const scheme of COLOR_SCHEMES) {
    const shades: string[] = [];
    const add = (cls: string, bg: Rgb) => shades.push(`.${cls}{background:${css(bg)};color:${css(contrastText(bg))}}`);
    for (let k = 0; k < SEQ_BINS; k++) add(`q${k}`, seqBinColor(k, scheme));
    for (let k = 0; k < DIV_BINS; k++) add(`v${k}`, divBinColor(k, scheme));
    for (let k = 0; k < DIV_BINS; k++) add(`g${k}`, signBinColor(k, scheme));
    rules.push(scheme === 'light' ? shades.join('\n') : `@media (prefers-color-scheme:dark){\n${shades.join('\n')}\n}`);
  }
  return rules.join('\n');
}

/** Clicking a response token shades its model's heatmap by that token's column (data-c: one bin per column). */
const SCRIPT = `(() => {
  const digits = '0123456789abcdefghijklmnopqrstuvwxyz';
  const setBins = (map, pick) => {
    for (const cell of map.querySelectorAll('.t')) {
      const k = pick(cell);
      cell.className = cell.className.replace(/\\bq\\d+\\b/, 'q' + k);
    }
  };
  for (const button of document.querySelectorAll('button.rt')) {
    button.addEventListener('click', () => {
      const map = document.getElementById(button.dataset.map);
      const label = document.getElementById(button.dataset.map + '-view');
      if (!map || !label) return;
      const j = Number(button.dataset.j);
      const pressed = button.getAttribute('aria-pressed') === 'true';
      for (const b of document.querySelectorAll('button.rt[data-map="' + button.dataset.map + '"]')) b.setAttribute('aria-pressed', 'false');
      if (pressed) {
        setBins(map, (cell) => cell.dataset.q);
        label.textContent = 'importance density';
        return;
      }
      button.setAttribute('aria-pressed', 'true');
      setBins(map, (cell) => digits.indexOf((cell.dataset.c || '')[j] || '0'));
      label.textContent = 'attribution to response token ' + (j + 1) + ' (its column of the raw matrix, scaled to its maximum)';
    });
  }
})();`;

function cellText(text: string): string {
  return htmlText(visibleToken(text));
}

function tokenTitle(text: string): string {
  // A tooltip shows the token with its spaces made visible too.
  return `\u201c${visibleToken(text, 'dot')}\u201d`;
}

function modelsSection(base: ModelReport, tuned: ModelReport): string {
  const rows: [string, (m: ModelReport) => string][] = [
    ['Model', (m) => m.model.id],
    ['Path', (m) => m.model.path],
    ['Architecture', (m) => m.model.architecture],
    ['Parameters', (m) => formatParameters(m.model.parameters)],
    ['Weights', (m) => m.model.dtype],
    ['Layers × heads', (m) => `${m.model.layers} × ${m.model.heads}`],
    ['Execution provider', (m) => m.executionDevice ?? m.executionProvider],
    ['Prompt format', (m) => m.promptFormat],
    ['Objective', (m) => m.objective],
    ['Importance (L, b, p)', (m) => `${m.importance.L}, ${m.importance.b}, ${m.importance.p}`],
    ['Timings', (m) => `generate ${Math.round(m.timings.generateMs)} ms, attribute ${Math.round(m.timings.attributeMs)} ms`],
  ];
  const body = rows
    .map(([label, get]) => `<tr><th scope="row">${htmlText(label)}</th><td>${htmlText(String(get(base)))}</td><td>${htmlText(String(get(tuned)))}</td></tr>`)
    .join('\n');
  return [
    '<section aria-labelledby="h-models">',
    '<h2 id="h-models">Models</h2>',
    '<table>',
    '<thead><tr><th scope="col"><span class="sr">Property</span></th><th scope="col">Base</th><th scope="col">Instruction-tuned</th></tr></thead>',
    `<tbody>\n${body}\n</tbody>`,
    '</table>',
    '</section>',
  ].join('\n');
}

function scoresSection(base: ModelReport, tuned: ModelReport): string {
  const b = base.instructionScore;
  const t = tuned.instructionScore;
  const max = Math.max(1, b, t);
  let verdict: string;
  if (!Number.isFinite(b) || !Number.isFinite(t)) verdict = 'The scores cannot be compared.';
  else if (b === t) verdict = 'Both models give the instruction the same score.';
  else {
    const higher = t > b ? 'instruction-tuned' : 'base';
    const ratio = Math.min(b, t) > 0 ? ` (×${(Math.max(b, t) / Math.min(b, t)).toFixed(2)})` : '';
    verdict = `The ${higher} model’s score is higher by ${Math.abs(t - b).toFixed(3)}${ratio}.`;
  }
  const row = (label: string, m: ModelReport) => {
    const count = m.instructionMask.filter((v) => v === 1).length;
    return `<tr><th scope="row">${htmlText(label)}</th><td class="num">${htmlText(formatNumber(m.instructionScore))}</td>` +
      `<td><meter min="0" max="${max}" value="${Number.isFinite(m.instructionScore) ? m.instructionScore : 0}" aria-label="${htmlText(`${label} instruction score`)}">${htmlText(formatNumber(m.instructionScore))}</meter></td>` +
      `<td class="num">${count} of ${m.tokens.length}</td></tr>`;
  };
  return [
    '<section aria-labelledby="h-scores">',
    '<h3 id="h-scores">Instruction score</h3>',
    '<p class="note">Σ density over the prompt tokens in an instruction span ÷ log₂(2 + their number) (Wu et al., arXiv 2310.00492). Higher: the model’s response leans more on the instruction.</p>',
    '<table>',
    '<thead><tr><th scope="col">Model</th><th scope="col">Score</th><th scope="col">Scale</th><th scope="col">Instruction tokens</th></tr></thead>',
    '<tbody>',
    row(`Base (${base.model.id})`, base),
    row(`Instruction-tuned (${tuned.model.id})`, tuned),
    '</tbody>',
    '</table>',
    `<p><strong>${htmlText(verdict)}</strong></p>`,
    '</section>',
  ].join('\n');
}

function promptSection(report: Report): string {
  const prompt = String(report.prompt ?? '');
  // Both models saw the same prompt; their spans normally agree. Use the union.
  const spans = [...(report.base.instructions?.spans ?? []), ...(report.tuned.instructions?.spans ?? [])]
    .map((s) => ({ start: Math.max(0, Math.min(prompt.length, s.start)), end: Math.max(0, Math.min(prompt.length, s.end)) }))
    .filter((s) => s.end > s.start)
    .sort((a, b) => a.start - b.start);
  const merged: { start: number; end: number }[] = [];
  for (const s of spans) {
    const last = merged[merged.length - 1];
    if (last && s.start <= last.end) last.end = Math.max(last.end, s.end);
    else merged.push({ ...s });
  }
  let html = '';
  let at = 0;
  const plain = (s: string) => htmlText(s, { newline: 'keep', tab: 'keep' });
  for (const s of merged) {
    html += plain(prompt.slice(at, s.start));
    html += `<mark>${plain(prompt.slice(s.start, s.end))}</mark>`;
    at = s.end;
  }
  html += plain(prompt.slice(at));
  const verbs = new Map<string, string>();
  for (const m of [report.base, report.tuned]) for (const v of m.instructions?.verbs ?? []) verbs.set(v.verb, v.verb);
  const source = report.tuned.instructions?.source ?? report.base.instructions?.source ?? 'detected';
  return [
    '<section aria-labelledby="h-prompt">',
    '<h3 id="h-prompt">Prompt</h3>',
    `<p class="note">Instruction spans (${htmlText(source === 'user' ? 'given by the user' : 'detected')}) are underlined${verbs.size ? `; instruction verbs: ${[...verbs.keys()].map((v) => `<code>${htmlText(v)}</code>`).join(', ')}` : ''}.</p>`,
    `<pre class="prompt" aria-label="The prompt, instruction spans marked">${html}</pre>`,
    '</section>',
  ].join('\n');
}

function seqLegend(): string {
  const swatches: string[] = [];
  for (let k = 0; k < SEQ_BINS; k += 1) swatches.push(`<span class="sw q${k}" title="${formatNumber(k / SEQ_BINS, 2)}–${formatNumber((k + 1) / SEQ_BINS, 2)}"></span>`);
  return `<div class="legend" role="img" aria-label="Colour scale: faint is density 0, strong is density 1, the same for both models"><span>0</span>${swatches.join('')}<span>1</span><span class="i-sample">underlined</span><span>= in an instruction span</span></div>`;
}

function divLegend(): string {
  const swatches: string[] = [];
  for (let k = 0; k < DIV_BINS; k++) swatches.push(`<span class="sw v${k}"></span>`);
  return `<div class="legend" role="img" aria-label="Diverging colour scale: orange means the base model gives the token more importance, purple the tuned model, close to the background no difference"><span>−1 (base higher)</span>${swatches.join('')}<span>+1 (tuned higher)</span></div>`;
}

function signLegend(): string {
  const swatches: string[] = [];
  for (let k = 0; k < DIV_BINS; k++) swatches.push(`<span class="sw g${k}"></span>`);
  return `<div class="legend" role="img" aria-label="Gradient-sign colour scale: red negative, blue positive, close to the background zero"><span>−1 (negative)</span>${swatches.join('')}<span>+1 (positive)</span></div>`;
}

/** Per prompt token: the bins (one character each) of its attribution to each response token. */
function columnBins(m: ModelReport): string[] {
  const rows = m.raw ?? [];
  const cols = rows[0]?.length ?? 0;
  const colMax = new Array<number>(cols).fill(0);
  for (const row of rows) for (let j = 0; j < cols; j++) colMax[j] = Math.max(colMax[j]!, Number.isFinite(row[j]) ? row[j]! : 0);
  const digits = '0123456789abcdefghijklmnopqrstuvwxyz';
  return m.tokens.map((_, i) => {
    const row = rows[i] ?? [];
    let s = '';
    for (let j = 0; j < cols; j++) {
      const v = Number.isFinite(row[j]) ? Math.max(0, row[j]!) : 0;
      s += digits[seqBin(colMax[j]! > 0 ? v / colMax[j]! : 0)];
    }
    return s;
  });
}

function heatmap(m: ModelReport, id: string, label: string): string {
  const bins = columnBins(m);
  const cells = m.tokens.map((tok, i) => {
    const d = m.density[i] ?? 0;
    const q = seqBin(d);
    const instr = m.instructionMask[i] === 1;
    const ws = /^\s*$/.test(tok.text);
    const title = `#${i + 1} ${tokenTitle(tok.text)} · density ${formatNumber(d)}${instr ? ' · in an instruction span' : ''}`;
    const cls = `t q${q}${instr ? ' i' : ''}${ws ? ' ws' : ''}`;
    return `<span class="${cls}" data-q="${q}" data-c="${bins[i]}" title="${htmlText(title)}">${cellText(tok.text)}</span>${tok.text.includes('\n') ? '<br>' : ''}`;
  });
  return `<div class="heatmap" id="${id}" role="group" aria-label="${htmlText(label)}">${cells.join('')}</div>`;
}

function heatmapSection(base: ModelReport, tuned: ModelReport): string {
  const block = (m: ModelReport, key: string, name: string) => [
    '<div>',
    `<h4>${htmlText(name)} <span class="sub note">${htmlText(m.model.id)}</span></h4>`,
    `<p class="note">Shading: <span id="map-${key}-view">importance density</span>.</p>`,
    heatmap(m, `map-${key}`, `${name} model ${m.model.id}: the prompt's tokens shaded by importance density`),
    '</div>',
  ].join('\n');
  return [
    '<section aria-labelledby="h-heat">',
    '<h3 id="h-heat">Importance of each prompt token</h3>',
    '<p class="note">Both models on one scale. Hover a token for its density; click a response token below to see that token’s own column.</p>',
    seqLegend(),
    '<div class="cols">',
    block(base, 'base', 'Base'),
    block(tuned, 'tuned', 'Instruction-tuned'),
    '</div>',
    '</section>',
  ].join('\n');
}

function differenceSection(report: Report): string {
  // The cells every view shows (src/view/heatmap.ts): per token with one tokenization, per word with two.
  const { perWord, cells } = differenceCells(report.base, report.tuned);
  const sign = (v: number) => (v >= 0 ? '+' : '');
  let body: string;
  let note: string;
  if (!perWord) {
    note = 'Per prompt token: the tuned model’s density minus the base model’s.';
    body = cells
      .map((c) => {
        const title = `#${c.token + 1} ${tokenTitle(c.text)} · tuned − base ${sign(c.value)}${formatNumber(c.value)} (base ${formatNumber(c.base)}, tuned ${formatNumber(c.tuned)})${c.instruction ? ' · in an instruction span' : ''}`;
        return `<span class="t v${divBin(c.value)}${c.instruction ? ' i' : ''}" title="${htmlText(title)}">${cellText(c.text)}</span>${c.text.includes('\n') ? '<br>' : ''}`;
      })
      .join('');
  } else {
    // Different tokenizations: compare per word (words come from the same prompt text).
    note = 'The two models tokenize the prompt differently, so the difference is per word: the tuned model’s word density minus the base model’s; text outside words is left plain.';
    const prompt = String(report.prompt ?? '');
    const plain = (text: string) => htmlText(text, { newline: 'keep', tab: 'keep' }).replace(/\n/g, '<br>');
    let at = 0;
    body = '';
    for (const c of cells) {
      body += plain(prompt.slice(at, c.start));
      const title = `${tokenTitle(c.text)} · tuned − base ${sign(c.value)}${formatNumber(c.value)} (base ${formatNumber(c.base)}, tuned ${formatNumber(c.tuned)})`;
      body += `<span class="t v${divBin(c.value)}${c.instruction ? ' i' : ''}" title="${htmlText(title)}">${cellText(prompt.slice(c.start, c.end))}</span>`;
      at = c.end;
    }
    body += plain(prompt.slice(at));
  }
  return [
    '<section aria-labelledby="h-diff">',
    '<h3 id="h-diff">Difference (tuned − base)</h3>',
    `<p class="note">${htmlText(note)}</p>`,
    divLegend(),
    `<div class="heatmap" role="group" aria-label="Difference heatmap: tuned minus base importance density per prompt token">${body}</div>`,
    '</section>',
  ].join('\n');
}

function wordsSection(base: ModelReport, tuned: ModelReport): string {
  const table = (m: ModelReport, name: string) => {
    const top = [...(m.words ?? [])].filter((w) => Number.isFinite(w.density)).sort((a, b) => b.density - a.density || a.start - b.start).slice(0, 10);
    const rows = top
      .map((w, k) => `<tr><td class="num">${k + 1}</td><th scope="row" class="t q${seqBin(w.density)}">${htmlText(visibleToken(w.text))}</th><td class="num">${htmlText(formatNumber(w.density))}</td><td class="num">${w.tokenIndices.length}</td></tr>`)
      .join('\n');
    return [
      '<div>',
      '<table>',
      `<caption>${htmlText(name)} (${htmlText(m.model.id)})</caption>`,
      '<thead><tr><th scope="col">#</th><th scope="col">Word</th><th scope="col">Density</th><th scope="col">Tokens</th></tr></thead>',
      `<tbody>\n${rows || '<tr><td colspan="4">No words.</td></tr>'}\n</tbody>`,
      '</table>',
      '</div>',
    ].join('\n');
  };
  return [
    '<section aria-labelledby="h-words">',
    '<h3 id="h-words">Top words by density</h3>',
    '<p class="note">A word’s density is the sum of its tokens’ densities.</p>',
    '<div class="cols">',
    table(base, 'Base'),
    table(tuned, 'Instruction-tuned'),
    '</div>',
    '</section>',
  ].join('\n');
}

function responseBlock(m: ModelReport, key: string, name: string): string {
  const avg = meanProbability(m);
  const tokens = m.response?.tokens ?? [];
  const cells = tokens.map((tok: ReportToken, j: number) => {
    const p = m.probabilities[j];
    const title = `#${j + 1} ${tokenTitle(tok.text)} · p = ${p === undefined ? 'n/a' : formatNumber(p)} · click: this token’s column`;
    return `<button type="button" class="rt q${seqBin(p ?? 0)}" data-map="map-${key}" data-j="${j}" aria-pressed="false" title="${htmlText(title)}">${cellText(tok.text)}</button>${tok.text.includes('\n') ? '<br>' : ''}`;
  });
  return [
    '<div>',
    `<h4>${htmlText(name)} <span class="sub note">${htmlText(m.model.id)}</span></h4>`,
    `<p class="note">${htmlText(m.response?.source === 'given' ? 'Given by the user' : 'Generated greedily')}, ${tokens.length} tokens, average token probability ${avg === null ? 'n/a' : htmlText(formatNumber(avg))}. Shaded by probability (same scale as above).</p>`,
    `<div class="response" role="group" aria-label="${htmlText(`${name} model's response tokens; hover for each token's probability, click to shade the prompt by its column`)}">${cells.join('') || '<em>(empty response)</em>'}</div>`,
    '</div>',
  ].join('\n');
}

function responsesSection(base: ModelReport, tuned: ModelReport): string {
  return [
    '<section aria-labelledby="h-responses">',
    '<h3 id="h-responses">Responses</h3>',
    '<div class="cols">',
    responseBlock(base, 'base', 'Base'),
    responseBlock(tuned, 'tuned', 'Instruction-tuned'),
    '</div>',
    '</section>',
  ].join('\n');
}

function matrixTable(m: ModelReport, name: string, maxCells: number): string {
  const raw = m.raw ?? [];
  const cols = m.response?.tokens ?? [];
  const nCols = Math.max(cols.length, raw[0]?.length ?? 0);
  const colMax = new Array<number>(nCols).fill(0);
  for (const row of raw) for (let j = 0; j < nCols; j++) if (Number.isFinite(row[j])) colMax[j] = Math.max(colMax[j]!, Math.abs(row[j]!));
  const maxRows = nCols > 0 ? Math.max(1, Math.floor(maxCells / nCols)) : m.tokens.length;
  const shownRows = Math.min(m.tokens.length, maxRows);
  const head = [`<th scope="col">prompt ↓ · response →</th>`];
  for (let j = 0; j < nCols; j++) {
    const tok = cols[j];
    const p = m.probabilities[j];
    head.push(`<th scope="col" title="${htmlText(`response token #${j + 1} ${tokenTitle(tok?.text ?? '')} · p = ${p === undefined ? 'n/a' : formatNumber(p)}`)}">${cellText(tok?.text ?? '')}</th>`);
  }
  const body: string[] = [];
  for (let i = 0; i < shownRows; i++) {
    const tok = m.tokens[i]!;
    const row = raw[i] ?? [];
    const instr = m.instructionMask[i] === 1;
    const cells = [`<th scope="row"${instr ? ' class="i"' : ''} title="${htmlText(`prompt token #${i + 1} ${tokenTitle(tok.text)} · density ${formatNumber(m.density[i] ?? 0)}${instr ? ' · in an instruction span' : ''}`)}">${cellText(tok.text)}</th>`];
    for (let j = 0; j < nCols; j++) {
      const v = row[j];
      const ok = typeof v === 'number' && Number.isFinite(v);
      const k = ok && colMax[j]! > 0 ? divBin(v / colMax[j]!) : divBin(0);
      cells.push(`<td class="num g${k}">${ok ? htmlText(formatNumber(v, 2)) : 'n/a'}</td>`);
    }
    body.push(`<tr>${cells.join('')}</tr>`);
  }
  const cut = shownRows < m.tokens.length ? `<p class="note">Showing the first ${shownRows} of ${m.tokens.length} prompt tokens (the table is capped at ${maxCells} cells).</p>` : '';
  return [
    '<div>',
    `<h4>${htmlText(name)} <span class="sub note">${htmlText(m.model.id)}</span></h4>`,
    `<div class="scroll" tabindex="0" role="region" aria-label="${htmlText(`${name} model's raw attribution matrix, scrollable`)}">`,
    '<table class="raw">',
    `<caption>${htmlText(`${name}: gradient × input, ${m.tokens.length} prompt tokens × ${nCols} response tokens`)}</caption>`,
    `<thead><tr>${head.join('')}</tr></thead>`,
    `<tbody>\n${body.join('\n')}\n</tbody>`,
    '</table>',
    '</div>',
    cut,
    '</div>',
  ].join('\n');
}

function matricesSection(base: ModelReport, tuned: ModelReport, maxCells: number): string {
  return [
    '<section aria-labelledby="h-raw">',
    '<h3 id="h-raw">Raw attribution matrices</h3>',
    '<p class="note">Rows: prompt tokens; columns: response tokens. Each entry is the gradient × input of the response token’s objective with respect to the prompt token’s embedding, shaded by its sign relative to its column’s largest magnitude (blue positive, red negative: colours of their own, not the difference’s).</p>',
    signLegend(),
    matrixTable(base, 'Base', maxCells),
    matrixTable(tuned, 'Instruction-tuned', maxCells),
    '</section>',
  ].join('\n');
}
