/**
 * Token → word aggregation (DESIGN.md §1, "Word level"). Offsets are UTF-16 code-unit offsets
 * into the text, the same as JavaScript string indices, so astral characters (emoji) take two.
 *
 * A word is a maximal run of letters, digits, combining marks and apostrophes (`'` and `’`) that
 * starts with a letter or digit and does not end with an apostrophe (so `'quoted'` gives `quoted`,
 * a lone `'` is no word, `don't` and `rock'n'roll` stay whole). Letters and digits are
 * Unicode-aware (`\p{L}`, `\p{N}`); combining marks (`\p{M}`) continue a word so decomposed accents
 * and scripts such as Devanagari do not split, but never start one (an emoji's variation selector
 * U+FE0F is a mark and forms no word).
 *
 * Tokens: a token belongs to the first word it overlaps (half-open ranges; a zero-length token
 * overlaps nothing). A token that overlaps no word — whitespace, punctuation, emoji, a newline,
 * a BOS/template token with an empty range — belongs to no word: `assignTokensToWords` gives it
 * -1, and `aggregateWords` reports such tokens in `unassigned` with their summed density, so
 * the per-word densities plus `unassignedDensity` always add up to the tokens' total.
 * Every word of the text is returned, in order, even one no token overlaps (density 0, no tokens).
 */
import { LensError } from '../model/errors.js';
import type { WordSpan, Word } from '../contract/report.js';
export type { WordSpan, Word };

export interface TokenOffsets {
  /** First UTF-16 offset of the token in the text. */
  start: number;
  /** One past its last UTF-16 offset. */
  end: number;
}

export interface WordAggregation {
  words: Word[];
  /** Indices of the tokens that overlap no word (whitespace, punctuation, emoji, empty ranges). */
  unassigned: number[];
  /** Sum of their density. */
  unassignedDensity: number;
}

/** A letter or digit, then letters, digits, combining marks and apostrophes. */
const WORD_RUN = /[\p{L}\p{N}][\p{L}\p{N}\p{M}'\u2019]*/gu;
const TRAILING_APOSTROPHES = /['\u2019]+$/u;

/** The words of `text`, in order, with their UTF-16 offsets. */
export function findWords(text: string): WordSpan[] {
  const words: WordSpan[] = [];
  for (const m of text.matchAll(WORD_RUN)) {
    const core = m[0].replace(TRAILING_APOSTROPHES, '');
    words.push({ text: core, start: m.index!, end: m.index! + core.length });
  }
  return words;
}

function validateTokens(text: string, tokens: readonly TokenOffsets[]): void {
  for (let k = 0; k < tokens.length; k++) {
    const t = tokens[k]!;
    if (!Number.isInteger(t.start) || !Number.isInteger(t.end) || t.start < 0 || t.end < t.start || t.end > text.length) {
      throw new LensError(`Token ${k} has offsets [${t.start}, ${t.end}) outside the text (length ${text.length}).`);
    }
  }
}

/**
 * For each token, the index into `words` of the first word it overlaps, or -1 when it overlaps
 * none. `words` must be sorted and non-overlapping (as `findWords` returns them).
 */
export function assignTokensToWords(words: readonly WordSpan[], tokens: readonly TokenOffsets[]): number[] {
  return tokens.map((t) => {
    if (t.end <= t.start) return -1;
    // Binary search: the first word whose end is after the token's start.
    let lo = 0;
    let hi = words.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (words[mid]!.end <= t.start) lo = mid + 1;
      else hi = mid;
    }
    return lo < words.length && words[lo]!.start < t.end ? lo : -1;
  });
}

/** Words of `text` with their summed token density, plus the tokens that belong to no word. */
export function aggregateWords(text: string, tokens: readonly TokenOffsets[], density: readonly number[]): WordAggregation {
  if (tokens.length !== density.length) {
    throw new LensError(`There are ${tokens.length} tokens but ${density.length} density values.`);
  }
  validateTokens(text, tokens);
  const spans = findWords(text);
  const words: Word[] = spans.map((w) => ({ ...w, density: 0, tokenIndices: [] }));
  const unassigned: number[] = [];
  let unassignedDensity = 0;
  const owner = assignTokensToWords(spans, tokens);
  for (let k = 0; k < tokens.length; k++) {
    const w = owner[k]!;
    if (w < 0) {
      unassigned.push(k);
      unassignedDensity += density[k]!;
    } else {
      words[w]!.density += density[k]!;
      words[w]!.tokenIndices.push(k);
    }
  }
  return { words, unassigned, unassignedDensity };
}

/** The words of `text` with their summed token density (see `aggregateWords` for the rest). */
export function aggregateToWords(text: string, tokens: readonly TokenOffsets[], density: readonly number[]): Word[] {
  return aggregateWords(text, tokens, density).words;
}
