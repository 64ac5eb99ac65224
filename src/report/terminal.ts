/**
 * The report as text for a terminal (`instruction-lens compare` without `--json`).
 *
 * Layout, wrapped to `width` columns (default 100): the two models side by side; the prompt's
 * tokens shaded by each model's importance density on one common scale, with the instruction spans
 * marked; the instruction spans and verbs; each model's instruction score; the top five words of
 * each model; when the report has them, the heads linking the instruction verbs (the strongest
 * links per model, the count per layer) and the FFN rotation per layer, each with the Summary's
 * verdict on the paper's finding (src/view/findings.ts); each response (cut to a few lines) with
 * its average token probability.
 *
 * With `color`, token cells get a background from the same colour-blind-safe sequential scale as
 * the HTML page (256-colour by default, truecolor on request) and instruction tokens are underlined;
 * the only escape sequences written are SGR ones (`ESC [ … m`). Without colour there is no escape
 * sequence at all: each token row has a heat row of ASCII characters under it (` .:-=+*#%@`, one
 * step per tenth of density) and a `^` row under the instruction spans.
 *
 * Nothing from the model reaches the terminal raw: `terminalSafe` replaces C0/C1 controls, ESC,
 * DEL, bidi overrides/isolates and line separators with visible stand-ins and lone surrogates with
 * U+FFFD, and cutting happens at grapheme boundaries only.
 *
 * Whether to use colour is the CLI's decision (`supportsColor`), not this module's.
 */
import type { ModelReport, PromptTokenReport, Report } from '../explain/report.js';
import {
  displayWidth, graphemes, graphemeWidth, padStartToWidth, padToWidth, truncateToWidth, visibleControls, visibleToken,
} from './escape.js';
import { contrastText, seqBinColor, sequentialColor, type Rgb } from '../view/colors.js';
import { formatMeasure, formatNumber, formatParameters, meanProbability } from '../view/format.js';
import { sameTokenization } from '../view/heatmap.js';
import { findings, type Finding } from '../view/findings.js';
import { ffnView, headsView, type HeadsModelView } from '../view/section-views.js';

export interface TerminalOptions {
  /** Emit SGR colour sequences (decide with `supportsColor`). */
  color: boolean;
  /** Columns to wrap to (default 100, at least 40). */
  width?: number;
  /** `256` (default) or `truecolor` backgrounds (see `colorPalette`). */
  palette?: '256' | 'truecolor';
  /** Lines shown of each response before it is cut (default 8). */
  responseLines?: number;
  /** The instruction-verb lexicon the findings use (default: the built-in one). */
  verbs?: readonly string[];
}

/**
 * `text` made safe for a terminal: every control character (C0, C1, ESC, DEL), bidi control and
 * line/paragraph separator replaced by a visible stand-in (`␛`, `␇`, `\u{9b}`, `\u{202e}`, …), lone
 * surrogates by U+FFFD. `\n` becomes `⏎` and `\t` `⇥`, unless `keepNewlines` (then `\n` stays).
 */
export function terminalSafe(text: string, options: { keepNewlines?: boolean } = {}): string {
  return visibleControls(String(text), { newline: options.keepNewlines ? 'keep' : 'visible' });
}

/** The stream side of `supportsColor`: a `tty.WriteStream` or anything with `isTTY`. */
export interface ColorStream {
  isTTY?: boolean;
}

/**
 * Whether to colour output written to `stream`: `NO_COLOR` (set and non-empty) disables, then
 * `FORCE_COLOR` enables (unless `0` or `false`, which disable), else colour when the stream is a
 * TTY and `TERM` is not `dumb`.
 */
export function supportsColor(stream: ColorStream | undefined, env: Record<string, string | undefined> = process.env): boolean {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  if (env.FORCE_COLOR !== undefined) {
    const v = env.FORCE_COLOR.trim().toLowerCase();
    return v !== '0' && v !== 'false';
  }
  return Boolean(stream?.isTTY) && env.TERM !== 'dumb';
}

/** `truecolor` when `COLORTERM` says so (`truecolor`, `24bit`), else `256`. */
export function colorPalette(env: Record<string, string | undefined> = process.env): '256' | 'truecolor' {
  const v = (env.COLORTERM ?? '').toLowerCase();
  return v === 'truecolor' || v === '24bit' ? 'truecolor' : '256';
}

/** The index of the xterm-256 colour nearest to `rgb` (the 6×6×6 cube or the grey ramp). */
export function xterm256(rgb: Rgb): number {
  const levels = [0, 95, 135, 175, 215, 255];
  const nearestLevel = (c: number) => {
    let best = 0;
    for (let k = 1; k < 6; k++) if (Math.abs(levels[k]! - c) < Math.abs(levels[best]! - c)) best = k;
    return best;
  };
  const [r, g, b] = rgb;
  const ci = [nearestLevel(r), nearestLevel(g), nearestLevel(b)];
  const cube = ci.map((k) => levels[k]!);
  const dist = (c: number[]) => (c[0]! - r) ** 2 + (c[1]! - g) ** 2 + (c[2]! - b) ** 2;
  const avg = (r + g + b) / 3;
  const gi = Math.max(0, Math.min(23, Math.round((avg - 8) / 10)));
  const grey = 8 + 10 * gi;
  return dist([grey, grey, grey]) < dist(cube) ? 232 + gi : 16 + 36 * ci[0]! + 6 * ci[1]! + ci[2]!;
}

interface Style {
  bg?: Rgb;
  fg?: Rgb;
  bold?: boolean;
  dim?: boolean;
  underline?: boolean;
}

/** One output line under construction: painted text plus its width in columns. */
class Line {
  private parts: string[] = [];
  width = 0;
  constructor(readonly ctx: Ctx) {}

  /** Appends already-safe text (the caller made it safe and measured nothing). */
  add(text: string, style?: Style): this {
    if (!text) return this;
    this.width += displayWidth(text);
    this.parts.push(this.ctx.paint(text, style));
    return this;
  }

  padTo(width: number): this {
    if (this.width < width) this.add(' '.repeat(width - this.width));
    return this;
  }

  append(other: Line): this {
    this.parts.push(other.toString());
    this.width += other.width;
    return this;
  }

  toString(): string {
    return this.parts.join('');
  }
}

class Ctx {
  constructor(readonly color: boolean, readonly palette: '256' | 'truecolor', readonly width: number) {}

  paint(text: string, style?: Style): string {
    if (!this.color || !style) return text;
    const codes: string[] = [];
    if (style.bold) codes.push('1');
    if (style.dim) codes.push('2');
    if (style.underline) codes.push('4');
    if (style.fg) codes.push(this.palette === 'truecolor' ? `38;2;${style.fg.join(';')}` : `38;5;${xterm256(style.fg)}`);
    if (style.bg) codes.push(this.palette === 'truecolor' ? `48;2;${style.bg.join(';')}` : `48;5;${xterm256(style.bg)}`);
    if (codes.length === 0) return text;
    return `\u001b[${codes.join(';')}m${text}\u001b[0m`;
  }

  line(): Line {
    return new Line(this);
  }
}

/** The ten heat characters, one per tenth of density. */
export const HEAT_RAMP = ' .:-=+*#%@';

function clamp01(v: number): number {
  return Number.isFinite(v) ? Math.min(1, Math.max(0, v)) : 0;
}

function heatChar(d: number): string {
  return HEAT_RAMP[Math.min(9, Math.floor(clamp01(d) * 10))]!;
}

/** Background and contrasting text for a density on the common scale (same bins as the HTML). */
function heatStyle(d: number, underline: boolean): Style {
  const bg = sequentialColor(clamp01(d));
  return { bg, fg: contrastText(bg), underline };
}

/** Renders the report as text for a terminal, `width` columns wide at most. */
export function renderTerminal(report: Report, options: TerminalOptions): string {
  const width = Math.max(40, Math.floor(options.width ?? 100));
  const ctx = new Ctx(Boolean(options.color), options.palette ?? '256', width);
  const out: string[] = [];
  const push = (l: Line | string) => out.push(typeof l === 'string' ? l : l.toString());
  const title = (text: string) => push(ctx.line().add(truncateToWidth(text, width), { bold: true }));
  const rule = () => push(ctx.line().add('\u2500'.repeat(width), { dim: true }));

  // Title and models.
  const created = terminalSafe(String(report.createdAt ?? ''));
  push(ctx.line().add('Instruction Lens', { bold: true }).add(truncateToWidth(` \u00b7 base vs instruction-tuned \u00b7 ${created}`, width - 16)));
  rule();
  modelTable(ctx, report.base, report.tuned).forEach(push);
  out.push('');

  // Prompt heatmap.
  title('Prompt tokens, shaded by importance density (one scale for both models)');
  legend(ctx).forEach(push);
  promptHeatmap(ctx, report).forEach(push);
  out.push('');

  // Instruction spans and scores.
  instructionLines(ctx, report).forEach(push);
  out.push('');
  scoreLines(ctx, report.base, report.tuned).forEach(push);
  out.push('');

  // Top words.
  title('Top words by density');
  topWords(ctx, report.base, report.tuned).forEach(push);
  out.push('');

  // Heads and FFN, when the report has them: the Summary's findings with their numbers, compactly.
  const found = report.heads || report.ffn ? findings(report, {}, options.verbs) : [];
  for (const lines of [headsLines(ctx, report, found), ffnLines(ctx, report, found)]) {
    if (!lines.length) continue;
    lines.forEach(push);
    out.push('');
  }

  // Responses.
  title('Responses');
  responses(ctx, report.base, report.tuned, Math.max(1, Math.floor(options.responseLines ?? 8))).forEach(push);
  return out.map((l) => (ctx.color ? l : l.replace(/ +$/, ''))).join('\n') + '\n';
}

function modelTable(ctx: Ctx, base: ModelReport, tuned: ModelReport): Line[] {
  const labelW = 14;
  const colW = Math.floor((ctx.width - labelW - 2) / 2);
  const rows: [string, (m: ModelReport) => string][] = [
    ['model', (m) => m.model.id],
    ['architecture', (m) => m.model.architecture],
    ['parameters', (m) => `${formatParameters(m.model.parameters)} (${m.model.dtype}, ${m.model.layers} layers \u00d7 ${m.model.heads} heads)`],
    ['provider', (m) => m.executionDevice ?? m.executionProvider],
    ['prompt', (m) => `${m.promptFormat}, objective ${m.objective}, L/b/p ${m.importance.L}/${m.importance.b}/${m.importance.p}`],
    ['time', (m) => `generate ${Math.round(m.timings.generateMs)} ms, attribute ${Math.round(m.timings.attributeMs)} ms`],
  ];
  const cell = (text: string) => truncateToWidth(terminalSafe(text), colW);
  const lines: Line[] = [];
  lines.push(ctx.line().add(' '.repeat(labelW)).add(padToWidth('base', colW), { bold: true }).add('  ').add(truncateToWidth('instruction-tuned', colW), { bold: true }));
  for (const [label, get] of rows) {
    lines.push(ctx.line().add(padToWidth(label, labelW), { dim: true }).add(padToWidth(cell(String(get(base))), colW)).add('  ').add(cell(String(get(tuned)))));
  }
  return lines;
}

function legend(ctx: Ctx): Line[] {
  if (!ctx.color) {
    return [
      ctx.line().add(truncateToWidth(`heat   0 [${HEAT_RAMP}] 1   (one character per tenth of density)`, ctx.width)),
      ctx.line().add(truncateToWidth('instr  ^^^ under the tokens of an instruction span', ctx.width)),
    ];
  }
  const l = ctx.line().add('scale  0 ');
  for (let k = 0; k < 10; k++) {
    const bg = sequentialColor((k + 0.5) / 10);
    l.add(String(k), { bg, fg: contrastText(bg) }).add(' ', { bg });
  }
  l.add(' 1');
  return [l, ctx.line().add('instr  ').add('underlined', { underline: true }).add(truncateToWidth(' and ^^^ = in an instruction span', ctx.width - 17))];
}

interface Cell {
  text: string;
  width: number;
  breakAfter: boolean;
}

function tokenCells(tokens: readonly PromptTokenReport[], maxWidth: number): Cell[] {
  return tokens.map((t) => {
    const text = truncateToWidth(visibleToken(String(t.text ?? ''), 'dot'), maxWidth);
    return { text, width: displayWidth(text), breakAfter: String(t.text ?? '').includes('\n') };
  });
}

/** Groups cell indices into lines of at most `width` columns (cells one space apart). */
function layoutCells(cells: readonly Cell[], width: number): number[][] {
  const lines: number[][] = [];
  let cur: number[] = [];
  let used = 0;
  cells.forEach((c, i) => {
    const need = cur.length ? used + 1 + c.width : c.width;
    if (cur.length && need > width) {
      lines.push(cur);
      cur = [];
      used = 0;
    }
    used = cur.length ? used + 1 + c.width : c.width;
    cur.push(i);
    if (c.breakAfter) {
      lines.push(cur);
      cur = [];
      used = 0;
    }
  });
  if (cur.length) lines.push(cur);
  return lines;
}

const LABEL_W = 7;

function promptHeatmap(ctx: Ctx, report: Report): Line[] {
  const { base, tuned } = report;
  const contentW = ctx.width - LABEL_W;
  const lines: Line[] = [];
  const label = (text: string) => ctx.line().add(padToWidth(text, LABEL_W), { dim: true });

  const textRow = (cells: Cell[], idx: number[]) => {
    const l = label('text');
    idx.forEach((i, k) => l.add(k ? ' ' : '').add(cells[i]!.text));
    return l;
  };
  const heatRow = (name: string, m: ModelReport, cells: Cell[], idx: number[]) => {
    const l = label(name);
    idx.forEach((i, k) => {
      if (k) l.add(' ');
      const d = m.density[i] ?? 0;
      if (ctx.color) l.add(cells[i]!.text, heatStyle(d, m.instructionMask[i] === 1));
      else l.add(heatChar(d).repeat(cells[i]!.width));
    });
    return l;
  };
  const instrRow = (masks: (readonly number[])[], cells: Cell[], idx: number[]) => {
    const on = (i: number) => masks.some((m) => m[i] === 1);
    if (!idx.some(on)) return null;
    let s = '';
    idx.forEach((i, k) => {
      if (k) s += on(i) && on(idx[k - 1]!) ? '^' : ' ';
      s += (on(i) ? '^' : ' ').repeat(cells[i]!.width);
    });
    return label('instr').add(s.replace(/ +$/, ''));
  };

  if (sameTokenization(base, tuned)) {
    const cells = tokenCells(tuned.tokens, contentW);
    const groups = layoutCells(cells, contentW);
    groups.forEach((idx, g) => {
      if (g) lines.push(ctx.line());
      if (!ctx.color) lines.push(textRow(cells, idx));
      lines.push(heatRow('base', base, cells, idx));
      lines.push(heatRow('tuned', tuned, cells, idx));
      const ir = instrRow([base.instructionMask, tuned.instructionMask], cells, idx);
      if (ir) lines.push(ir);
    });
    if (!groups.length) lines.push(ctx.line().add('(no prompt tokens)'));
    return lines;
  }
  // Different tokenizations: one block per model.
  lines.push(ctx.line().add(truncateToWidth('(the two models tokenize the prompt differently: one block each)', ctx.width), { dim: true }));
  for (const [name, m] of [['base', base], ['tuned', tuned]] as const) {
    lines.push(ctx.line().add(truncateToWidth(`${name}: ${terminalSafe(m.model.id)}`, ctx.width), { bold: true }));
    const cells = tokenCells(m.tokens, contentW);
    const groups = layoutCells(cells, contentW);
    groups.forEach((idx, g) => {
      if (g) lines.push(ctx.line());
      if (!ctx.color) lines.push(textRow(cells, idx));
      lines.push(heatRow(ctx.color ? name : 'heat', m, cells, idx));
      const ir = instrRow([m.instructionMask], cells, idx);
      if (ir) lines.push(ir);
    });
    if (!groups.length) lines.push(ctx.line().add('(no prompt tokens)'));
  }
  return lines;
}

function instructionLines(ctx: Ctx, report: Report): Line[] {
  const lines: Line[] = [];
  const prompt = String(report.prompt ?? '');
  const show = (m: ModelReport, heading: string) => {
    const spans = m.instructions?.spans ?? [];
    const source = m.instructions?.source === 'user' ? 'given' : 'detected';
    lines.push(ctx.line().add(truncateToWidth(`${heading} (${source}): ${spans.length || 'none'}`, ctx.width), { bold: true }));
    const max = 5;
    for (const s of spans.slice(0, max)) {
      const text = terminalSafe(prompt.slice(Math.max(0, s.start), Math.max(0, s.end)).trim());
      lines.push(ctx.line().add(truncateToWidth(`  \u201c${text}\u201d`, ctx.width)));
    }
    if (spans.length > max) lines.push(ctx.line().add(`  \u2026 and ${spans.length - max} more`));
    const verbs = [...new Set((m.instructions?.verbs ?? []).map((v) => terminalSafe(v.verb)))];
    if (verbs.length) lines.push(ctx.line().add(truncateToWidth(`  verbs: ${verbs.join(', ')}`, ctx.width)));
  };
  const same = JSON.stringify(report.base.instructions?.spans ?? []) === JSON.stringify(report.tuned.instructions?.spans ?? []);
  if (same) show(report.tuned, 'Instruction spans');
  else {
    show(report.base, 'Instruction spans, base');
    show(report.tuned, 'Instruction spans, tuned');
  }
  return lines;
}

function scoreLines(ctx: Ctx, base: ModelReport, tuned: ModelReport): Line[] {
  const b = base.instructionScore;
  const t = tuned.instructionScore;
  const max = Math.max(1, Number.isFinite(b) ? b : 0, Number.isFinite(t) ? t : 0);
  const barW = Math.max(5, Math.min(30, ctx.width - 32));
  const lines: Line[] = [ctx.line().add('Instruction score', { bold: true }).add(truncateToWidth('  (\u03a3 density on instruction tokens / log2(2 + their count))', ctx.width - 17), { dim: true })];
  const row = (name: string, m: ModelReport, higher: boolean) => {
    const v = m.instructionScore;
    const l = ctx.line().add(`  ${padToWidth(name, 6)} ${padStartToWidth(formatNumber(v), 7)}  `);
    bar(l, (Number.isFinite(v) ? v : 0) / max, barW);
    if (higher) l.add('  < higher', { bold: true });
    return l;
  };
  lines.push(row('base', base, b > t));
  lines.push(row('tuned', tuned, t > b));
  let verdict: string;
  if (!Number.isFinite(b) || !Number.isFinite(t)) verdict = 'the scores cannot be compared';
  else if (b === t) verdict = 'both models score the instruction the same';
  else {
    const ratio = Math.min(b, t) > 0 ? `, \u00d7${(Math.max(b, t) / Math.min(b, t)).toFixed(2)}` : '';
    verdict = `the ${t > b ? 'instruction-tuned' : 'base'} model's score is higher by ${Math.abs(t - b).toFixed(3)}${ratio}`;
  }
  lines.push(ctx.line().add(truncateToWidth(`  \u2192 ${verdict}`, ctx.width)));
  return lines;
}

/** A bar of `width` columns, `fraction` of it filled: shaded cells with colour, `#` and `.` without. */
function bar(l: Line, fraction: number, width: number): Line {
  const fill = Math.round(clamp01(fraction) * width);
  if (l.ctx.color) return l.add(' '.repeat(fill), { bg: seqBinColor(19) }).add(' '.repeat(width - fill), { bg: seqBinColor(0) });
  return l.add('#'.repeat(fill) + '.'.repeat(width - fill));
}

/** A finding's verdict, wrapped under its section: "→ Holds: …". */
function verdictLines(ctx: Ctx, finding: Finding | undefined): Line[] {
  if (!finding) return [];
  return wrap(terminalSafe(finding.measured), ctx.width - 4).map((text, k) => ctx.line().add(k ? '    ' : '  \u2192 ').add(text));
}

/** Two columns side by side, `colW` wide each, under a base / instruction-tuned heading. */
function sideBySide(ctx: Ctx, left: Line[], right: Line[], colW: number): Line[] {
  const lines: Line[] = [ctx.line().add('  ').add(padToWidth('base', colW), { bold: true }).add('   ').add(truncateToWidth('instruction-tuned', colW), { bold: true })];
  for (let k = 0; k < Math.max(left.length, right.length); k++) {
    const l = ctx.line().add('  ');
    l.append(left[k] ?? ctx.line()).padTo(2 + colW).add('   ');
    if (right[k]) l.append(right[k]!);
    lines.push(l);
  }
  return lines;
}

/**
 * The heads section in a few lines: the strongest links from this prompt's instruction verbs to its
 * other words (layer.head, verb → word, weight), per model; per layer, how many heads make such a
 * link; then the Summary's verdict on the paper's heads finding.
 */
function headsLines(ctx: Ctx, report: Report, found: readonly Finding[]): Line[] {
  if (!report.heads) return [];
  const view = headsView(report.heads);
  const colW = Math.floor((ctx.width - 2 - 3) / 2);
  const shown = 5;
  const column = (m: HeadsModelView | undefined): Line[] => {
    const links = [...(m?.verbLinks ?? [])].sort((a, b) => b.weight - a.weight || a.layer - b.layer || a.head - b.head);
    if (!links.length) return [ctx.line().add(truncateToWidth('(no head links them)', colW))];
    // "L2.H0   verb → word   0.71": the pair gets what the place and the weight leave of the column.
    const pairW = colW - 8 - 6;
    const rows = links.slice(0, shown).map((l) => {
      const where = padToWidth(`L${l.layer}.H${l.head}`, 8);
      const pair = `${visibleToken(l.verb)} \u2192 ${visibleToken(l.word)}`;
      const weight = padStartToWidth(formatMeasure(l.weight, 2), 6);
      if (pairW < 4) return ctx.line().add(truncateToWidth(`${where}${pair} ${weight.trim()}`, colW));
      return ctx.line().add(where, { dim: true }).add(padToWidth(truncateToWidth(pair, pairW), pairW)).add(weight);
    });
    if (links.length > shown) rows.push(ctx.line().add(truncateToWidth(`\u2026 and ${links.length - shown} more`, colW), { dim: true }));
    return rows;
  };
  const perLayer = (name: string, m: HeadsModelView | undefined): Line | null => {
    if (!m) return null;
    const counts = Array.from({ length: m.layers }, (_, layer) => new Set(m.verbLinks.filter((l) => l.layer === layer).map((l) => l.head)).size);
    return ctx.line().add(truncateToWidth(`  ${padToWidth(name, 6)} ${counts.join(' ')}  (of ${m.heads} heads a layer)`, ctx.width));
  };
  const lines: Line[] = [
    ctx.line().add('Heads linking the instruction verbs', { bold: true }).add(truncateToWidth('  (layer.head, verb \u2192 word on this prompt, weight)', ctx.width - 35), { dim: true }),
    ...sideBySide(ctx, column(view.models.base), column(view.models.tuned), colW),
    ctx.line().add(truncateToWidth('  heads linking them, per layer from 0:', ctx.width), { dim: true }),
  ];
  for (const row of [perLayer('base', view.models.base), perLayer('tuned', view.models.tuned)]) if (row) lines.push(row);
  return [...lines, ...verdictLines(ctx, found.find((f) => f.id === 'verb-heads'))];
}

/**
 * The FFN section in a few lines: per layer, the rotation of the principal directions from the base
 * to the tuned model (the mean best-match cosine, 1 = unchanged) with a bar, several layers a line;
 * then the Summary's verdict on the paper's FFN finding.
 */
function ffnLines(ctx: Ctx, report: Report, found: readonly Finding[]): Line[] {
  if (!report.ffn) return [];
  const rotation = ffnView(report.ffn).rotation;
  const lines: Line[] = [
    ctx.line().add('FFN rotation per layer', { bold: true }).add(truncateToWidth('  (mean best-match cosine of the components, base \u2192 tuned; 1 = unchanged)', ctx.width - 22), { dim: true }),
  ];
  const labelW = String(Math.max(0, ...rotation.map((r) => r.layer))).length + 1;
  const barW = 10;
  const cellW = labelW + 1 + 6 + 1 + barW;
  const perLine = Math.max(1, Math.floor((ctx.width - 2 + 3) / (cellW + 3)));
  for (let k = 0; k < rotation.length; k += perLine) {
    const l = ctx.line().add('  ');
    rotation.slice(k, k + perLine).forEach((r, i) => {
      if (i) l.add('   ');
      l.add(padToWidth(`L${r.layer}`, labelW), { dim: true }).add(` ${padStartToWidth(formatNumber(r.cosine, 3), 6)} `);
      bar(l, r.cosine, barW);
    });
    lines.push(l);
  }
  if (!rotation.length) lines.push(ctx.line().add('  (no layer compared)'));
  return [...lines, ...verdictLines(ctx, found.find((f) => f.id === 'ffn-rotation'))];
}

function topWords(ctx: Ctx, base: ModelReport, tuned: ModelReport): Line[] {
  const colW = Math.floor((ctx.width - 2 - 3) / 2);
  const barW = colW >= 32 ? 10 : colW >= 24 ? 5 : 0;
  const wordW = colW - 8 - (barW ? barW + 1 : 0);
  const best = (m: ModelReport) => [...(m.words ?? [])].filter((w) => Number.isFinite(w.density)).sort((a, b) => b.density - a.density || a.start - b.start).slice(0, 5);
  // A word's density is the sum of its tokens' densities, so it can pass 1: bars share one scale.
  const scale = Math.max(1, ...best(base).map((w) => w.density), ...best(tuned).map((w) => w.density));
  const column = (m: ModelReport): Line[] => {
    const top = best(m);
    if (!top.length) return [ctx.line().add('(no words)')];
    return top.map((w, k) => {
      const word = padToWidth(truncateToWidth(visibleToken(w.text), wordW), wordW);
      const l = ctx.line().add(`${k + 1} `).add(word, ctx.color ? heatStyle(w.density, false) : undefined).add(' ').add(truncateToWidth(w.density.toFixed(3), 5).padStart(5));
      if (barW) l.add(' ').add(padToWidth('#'.repeat(Math.round(clamp01(w.density / scale) * barW)), barW));
      return l;
    });
  };
  return sideBySide(ctx, column(base), column(tuned), colW);
}

/** Word-wraps safe text (with `\n` kept) to `width` columns; a long word is broken at graphemes. */
function wrap(text: string, width: number): string[] {
  const out: string[] = [];
  const paragraphs = text.split('\n');
  paragraphs.forEach((para, p) => {
    const shown = p < paragraphs.length - 1 ? `${para}\u23ce` : para;
    let line = '';
    let lineW = 0;
    for (const word of shown.split(/(?<= )/)) {
      const w = displayWidth(word);
      if (lineW + w <= width) {
        line += word;
        lineW += w;
        continue;
      }
      if (line) out.push(line.replace(/ +$/, ''));
      line = '';
      lineW = 0;
      if (w <= width) {
        line = word;
        lineW = w;
        continue;
      }
      for (const g of graphemes(word)) {
        const gw = graphemeWidth(g);
        if (lineW + gw > width) {
          out.push(line);
          line = '';
          lineW = 0;
        }
        line += g;
        lineW += gw;
      }
    }
    out.push(line.replace(/ +$/, ''));
  });
  return out;
}

function responses(ctx: Ctx, base: ModelReport, tuned: ModelReport, maxLines: number): Line[] {
  const colW = Math.floor((ctx.width - 3) / 2);
  const column = (name: string, m: ModelReport): Line[] => {
    const avg = meanProbability(m);
    const count = m.response?.tokens?.length ?? 0;
    const head = `${name} \u00b7 ${m.response?.source === 'given' ? 'given' : 'generated'} \u00b7 ${count} tokens \u00b7 mean p ${avg === null ? 'n/a' : avg.toFixed(3)}`;
    const lines = [ctx.line().add(truncateToWidth(head, colW), { bold: true })];
    const text = terminalSafe(String(m.response?.text ?? ''), { keepNewlines: true });
    let body = text.length ? wrap(text, colW) : ['(empty)'];
    if (body.length > maxLines) {
      const kept = body.slice(0, maxLines);
      kept[maxLines - 1] = truncateToWidth(`${kept[maxLines - 1]!}\u2026`, colW);
      if (!kept[maxLines - 1]!.endsWith('\u2026')) kept[maxLines - 1] = truncateToWidth(`${kept[maxLines - 1]!} \u2026`, colW);
      body = kept;
    }
    for (const b of body) lines.push(ctx.line().add(b));
    return lines;
  };
  const left = column('base', base);
  const right = column('tuned', tuned);
  const lines: Line[] = [];
  for (let k = 0; k < Math.max(left.length, right.length); k++) {
    const l = ctx.line().append(left[k] ?? ctx.line()).padTo(colW).add(' \u2502 ', { dim: true });
    if (right[k]) l.append(right[k]!);
    lines.push(l);
  }
  return lines;
}
