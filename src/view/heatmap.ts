// What a heatmap shows, computed once for every view (the panel, the editor highlights, the HTML
// page and the terminal): per prompt token (or per word) a character range of the prompt and a
// value on the shared colour scales of src/view/colors.ts — density in [0, 1] (sequential), tuned − base in [−1, 1] (diverging), or one
// response token's column of the raw matrix scaled to its maximum (sequential).

import type { ModelReport, Word } from '../contract/report.js';
import type { HighlightMode, PanelReport } from '../contract/panel.js';

export interface HeatCell {
  /** [start, end) in UTF-16 units of the prompt. */
  start: number;
  end: number;
  /** The token's (or word's) text as the tokenizer gave it. */
  text: string;
  /** Density in [0, 1], a column value in [0, 1], or a difference in [−1, 1]. */
  value: number;
  /** The cell overlaps an instruction span. */
  instruction: boolean;
  /** Index of the prompt token (−1 for a word cell). */
  token: number;
}

export interface DifferenceCell extends HeatCell {
  base: number;
  tuned: number;
}

/** A report's number as drawn: a missing or non-finite value (NaN, ±Infinity) counts as 0. */
export const finiteOrZero = (v: number | undefined): number => (typeof v === 'number' && Number.isFinite(v) ? v : 0);

/** One model's prompt tokens, valued by importance density. */
export function densityCells(m: ModelReport): HeatCell[] {
  return m.tokens.map((t, i) => ({ start: t.start, end: t.end, text: t.text, value: finiteOrZero(m.density[i]), instruction: m.instructionMask[i] === 1, token: i }));
}

/** Response token j's own column of the raw matrix, negative parts dropped, scaled to its maximum: one value in [0, 1] per prompt token. */
export function columnValues(m: ModelReport, j: number): number[] {
  const column = m.tokens.map((_, i) => Math.max(0, finiteOrZero(m.raw[i]?.[j])));
  const max = Math.max(0, ...column);
  return column.map((v) => (max > 0 ? v / max : 0));
}

export function sameTokenization(a: ModelReport, b: ModelReport): boolean {
  return a.tokens.length === b.tokens.length && a.tokens.every((t, i) => t.start === b.tokens[i]!.start && t.end === b.tokens[i]!.end);
}

function overlapsAny(start: number, end: number, spans: readonly { start: number; end: number }[]): boolean {
  return spans.some((s) => start < s.end && end > s.start);
}

/**
 * Tuned − base. Per token when both models tokenized the prompt the same way; otherwise per word
 * (words come from the same prompt text, so they align), and text outside words is not a cell.
 */
export function differenceCells(base: ModelReport, tuned: ModelReport): { perWord: boolean; cells: DifferenceCell[] } {
  if (sameTokenization(base, tuned)) {
    return {
      perWord: false,
      cells: tuned.tokens.map((t, i) => {
        const b = finiteOrZero(base.density[i]);
        const u = finiteOrZero(tuned.density[i]);
        return { start: t.start, end: t.end, text: t.text, value: u - b, base: b, tuned: u, instruction: tuned.instructionMask[i] === 1 || base.instructionMask[i] === 1, token: i };
      }),
    };
  }
  const baseWords = new Map(base.words.map((w) => [`${w.start}:${w.end}`, w.density]));
  const spans = [...base.instructions.spans, ...tuned.instructions.spans];
  const cells: DifferenceCell[] = [];
  let at = 0;
  for (const w of [...tuned.words].sort((a, b) => a.start - b.start)) {
    if (w.start < at) continue;
    const b = finiteOrZero(baseWords.get(`${w.start}:${w.end}`));
    const u = finiteOrZero(w.density);
    cells.push({ start: w.start, end: w.end, text: w.text, value: u - b, base: b, tuned: u, instruction: overlapsAny(w.start, w.end, spans), token: -1 });
    at = w.end;
  }
  return { perWord: true, cells };
}

/** The cells the editor highlights in a mode; null when the mode needs a model the report lacks. */
export function highlightCells(report: PanelReport, mode: HighlightMode): HeatCell[] | null {
  if (mode === 'difference') return report.base && report.tuned ? differenceCells(report.base, report.tuned).cells : null;
  const m = report[mode];
  return m ? densityCells(m) : null;
}

/** The word of a model's report that covers [start, end) of the prompt (the first overlapping one). */
export function wordAt(m: ModelReport, start: number, end: number): Word | undefined {
  return m.words.find((w) => w.start < end && w.end > start);
}

/** A word's rank by density among the model's words (1 = most important), and how many there are. */
export function wordRank(m: ModelReport, word: Word): { rank: number; of: number } {
  const withTokens = m.words.filter((w) => w.tokenIndices.length > 0);
  const higher = withTokens.filter((w) => finiteOrZero(w.density) > finiteOrZero(word.density)).length;
  return { rank: higher + 1, of: withTokens.length };
}
