// The demo's tokenizer: byte-level BPE (the GPT-2 / SmolLM2 scheme) in which every word of the
// demo world is one token, with and without its leading space and capitalized where the text has
// it; anything else falls back to the 256 byte tokens, so every text tokenizes.

import {
  ENDOFTEXT_ID,
  SPECIAL_TOKENS,
  buildTokenizerConfig,
  learnBpeVocabulary,
  tokenizerJsonFor,
} from '../model/synthetic/tokenizer-builder.js';
import { FRENCH, ITEMS, NUMBERS, TASK_DONE, TASK_VERBS, capitalize } from './world.js';

/** GPT-2's pre-tokenizer pattern, as the ByteLevel pre-tokenizer applies it. */
const PIECES = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;

/** The pre-tokenizer pieces of a text that consist of letters (with an optional leading space). */
export function wordPieces(text: string): string[] {
  return (text.match(PIECES) ?? []).filter((p) => /^ ?\p{L}+$/u.test(p));
}

/**
 * The words the tokenizer learns, most important first: the task vocabulary in every form the
 * prompts and answers use, then every other word piece of the given texts by frequency (ties in
 * code-unit order), so the order is a function of the texts alone.
 */
export function demoWordList(texts: Iterable<string>): string[] {
  const first: string[] = [];
  for (const verb of Object.values(TASK_VERBS)) first.push(verb, ' ' + verb.toLowerCase());
  for (const done of Object.values(TASK_DONE)) first.push(' ' + done, ' ' + done.toLowerCase());
  first.push('The', ' words', ' them', ' the', 'Answer');
  for (const w of ITEMS) first.push(' ' + w, ' ' + capitalize(w), ' ' + FRENCH[w]!);
  for (const n of NUMBERS) first.push(' ' + n);
  const counts = new Map<string, number>();
  for (const text of texts) for (const p of wordPieces(text)) counts.set(p, (counts.get(p) ?? 0) + 1);
  const rest = [...counts].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)).map(([w]) => w);
  return [...new Set([...first, ...rest])];
}

export interface DemoTokenizer {
  tokenizer: Record<string, unknown>;
  tokenizerConfig: Record<string, unknown>;
  vocabSize: number;
  eosId: number;
}

/**
 * Like Llama's tokenizers, this one starts every encoded text with a beginning-of-sequence token
 * (here <|endoftext|>, as GPT-2 and SmolLM2 use it): the post-processor is ByteLevel followed by a
 * TemplateProcessing that prepends it (the layout of Llama 3's tokenizer.json). The first real
 * token is then never at position 0, which attends only to itself and acts as every head's
 * default ("attention sink"), so its gradient × input says little about its importance.
 */
export function buildDemoTokenizer(words: readonly string[], modelMaxLength: number): DemoTokenizer {
  const vocabulary = learnBpeVocabulary(words);
  const tokenizer = tokenizerJsonFor(vocabulary);
  const bos = SPECIAL_TOKENS[ENDOFTEXT_ID];
  tokenizer.post_processor = {
    type: 'Sequence',
    processors: [
      { type: 'ByteLevel', add_prefix_space: false, trim_offsets: false, use_regex: true },
      {
        type: 'TemplateProcessing',
        single: [{ SpecialToken: { id: bos, type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
        pair: [{ SpecialToken: { id: bos, type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: bos, type_id: 1 } }, { Sequence: { id: 'B', type_id: 1 } }],
        special_tokens: { [bos]: { id: bos, ids: [ENDOFTEXT_ID], tokens: [bos] } },
      },
    ],
  };
  return {
    tokenizer,
    tokenizerConfig: { ...buildTokenizerConfig({ modelMaxLength, chatTemplate: false }), add_bos_token: true },
    vocabSize: vocabulary.vocab.size,
    eosId: ENDOFTEXT_ID,
  };
}
