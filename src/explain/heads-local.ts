/**
 * The heads on one prompt (DESIGN.md §2, local): each head's real attention probabilities on the
 * prompt aggregated to words — a query word's row is the mean over its tokens, a key word's column
 * the sum over its tokens (rows stay distributions) — its strongest word pairs, and the pairs that
 * link an instruction verb to another word. `forward` is the forward over the prompt that compare
 * already ran (generation's first pass), not a forward of its own.
 */
import type { EncodedPrompt } from '../model/prompt.js';
import type { ForwardResult } from '../llm/runner.js';
import type { InstructionVerb } from './instructions.js';
import { assignTokensToWords, findWords } from './words.js';
import type { LocalHead, LocalWordPair, VerbLink } from '../contract/report.js';


export interface LocalHeadsResult {
  words: { text: string; start: number; end: number }[];
  instructionVerbs: { verb: string; word: number }[];
  heads: LocalHead[];
  /** Pairs among the heads' strongest that involve an instruction verb, strongest first. */
  verbLinks: VerbLink[];
}

export const DEFAULT_LOCAL_PAIRS = 5;

/**
 * The heads' attention on the prompt aggregated to words. `forward` must hold the attentions of
 * `encoded.inputIds`; `verbs` are the instruction verbs' occurrences in the prompt.
 */
export function analyzeHeadsLocal(prompt: string, encoded: EncodedPrompt, forward: ForwardResult, numHeads: number, verbs: readonly InstructionVerb[], pairsPerHead = DEFAULT_LOCAL_PAIRS): LocalHeadsResult {
  if (!forward.attentions) throw new Error('internal: analyzeHeadsLocal needs the attentions');
  const S = encoded.inputIds.length;
  const [p0] = encoded.promptSpan;
  const words = findWords(prompt);
  const owner = assignTokensToWords(words, encoded.tokens);
  const tokensOf: number[][] = words.map(() => []);
  owner.forEach((w, t) => {
    if (w >= 0) tokensOf[w]!.push(p0 + t);
  });
  const present = words.map((_, i) => i).filter((i) => tokensOf[i]!.length > 0);
  const W = words.length;
  const instructionVerbs: { verb: string; word: number }[] = [];
  for (const v of verbs) {
    const i = words.findIndex((w) => w.start <= v.start && v.start < w.end);
    if (i >= 0 && tokensOf[i]!.length > 0 && !instructionVerbs.some((x) => x.word === i)) instructionVerbs.push({ verb: v.verb, word: i });
  }
  const verbAt = new Map(instructionVerbs.map((v) => [v.word, v.verb]));
  const heads: LocalHead[] = [];
  const verbLinks: VerbLink[] = [];
  const M = new Float64Array(W * W);
  forward.attentions.forEach((probs, layer) => {
    for (let h = 0; h < numHeads; h++) {
      M.fill(0);
      const base = h * S * S;
      for (const i of present) {
        const rows = tokensOf[i]!;
        for (const j of present) {
          let sum = 0;
          for (const a of rows) for (const b of tokensOf[j]!) sum += probs[base + a * S + b]!;
          M[i * W + j] = sum / rows.length;
        }
      }
      const pairs: LocalWordPair[] = [];
      for (const i of present) for (const j of present) if (i !== j && M[i * W + j]! > 0) pairs.push({ query: i, key: j, weight: M[i * W + j]! });
      pairs.sort((a, b) => b.weight - a.weight || a.query - b.query || a.key - b.key);
      const strongest = pairs.slice(0, pairsPerHead);
      heads.push({ layer, head: h, pairs: strongest });
      for (const p of strongest) {
        for (const role of ['query', 'key'] as const) {
          const verbWord = role === 'query' ? p.query : p.key;
          const verb = verbAt.get(verbWord);
          const other = role === 'query' ? p.key : p.query;
          if (verb !== undefined) verbLinks.push({ layer, head: h, verb, word: words[other]!.text, verbWord, wordIndex: other, role, weight: p.weight });
        }
      }
    }
  });
  verbLinks.sort((a, b) => b.weight - a.weight || a.layer - b.layer || a.head - b.head || a.verbWord - b.verbWord || a.wordIndex - b.wordIndex);
  return { words: words.map((w) => ({ text: w.text, start: w.start, end: w.end })), instructionVerbs, heads, verbLinks };
}
