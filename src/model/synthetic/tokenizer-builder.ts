// Builds a byte-level BPE tokenizer.json (the GPT-2 / Llama-3 / Qwen2 / SmolLM2 scheme) of an
// exact vocabulary size, without training data.
//
// Vocabulary: 3 special tokens (ids 0..2, like SmolLM2), the 256 byte symbols (id = 3 + byte),
// then one token per merge. Merges are learned word by word the way BPE training would order
// them: a word is encoded with the merges so far and, while it is still in pieces, the first two
// pieces are merged by a new lowest-priority rule. A rule added last can only fire once no older
// rule applies, so words learned earlier keep encoding to the same single token; that makes
// every listed word one token in the real `tokenizers` library (the tests check it).

import { fillerWords, orderedWords } from './words.js';

export const SPECIAL_TOKENS = ['<|endoftext|>', '<|im_start|>', '<|im_end|>'] as const;
export const ENDOFTEXT_ID = 0;
export const IM_START_ID = 1;
export const IM_END_ID = 2;
const FIRST_BYTE_ID = SPECIAL_TOKENS.length;

/** The smallest vocabulary that can still encode every text: the specials and the 256 bytes. */
export const MIN_VOCAB_SIZE = SPECIAL_TOKENS.length + 256;

/** ChatML, as in Qwen2 and SmolLM2-Instruct; the `\n` escapes are Jinja's, inside string literals. */
export const CHATML_TEMPLATE =
  "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}" +
  "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

/**
 * GPT-2's byte → printable-character table: printable Latin-1 bytes map to themselves, the rest
 * (control bytes, space, …) to U+0100 onwards, so that 0x20 becomes 'Ġ' and 0x0A becomes 'Ċ'.
 */
export function bytesToUnicode(): string[] {
  const table: string[] = new Array<string>(256);
  let next = 256;
  for (let b = 0; b < 256; b++) {
    const printable = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
    table[b] = String.fromCharCode(printable ? b : next++);
  }
  return table;
}

export interface BpeVocabulary {
  /** token → id, specials included, ids 0..size-1 without gaps. */
  vocab: Map<string, number>;
  /** Merge rules in priority order, each "left right" (byte-level symbols never contain a space). */
  merges: [string, string][];
}

/**
 * A BPE vocabulary of exactly `vocabSize` entries: the specials, the bytes, the built-in words
 * (as far as they fit), then filler pseudo-words up to the size.
 */
export function buildBpeVocabulary(vocabSize: number): BpeVocabulary {
  if (!Number.isSafeInteger(vocabSize) || vocabSize < MIN_VOCAB_SIZE) {
    throw new RangeError(`vocabSize must be an integer ≥ ${MIN_VOCAB_SIZE} (3 special tokens + 256 bytes), got ${vocabSize}`);
  }
  const built = learnBpeVocabulary(concat(orderedWords(), fillerWords()), vocabSize);
  if (built.vocab.size !== vocabSize) throw new Error(`internal: filler words ran out at vocabulary size ${built.vocab.size} < ${vocabSize}`);
  return built;
}

/** The vocabulary size the built-in words reach on their own, without fillers or truncation. */
export function naturalVocabSize(): number {
  return learnBpeVocabulary(orderedWords()).vocab.size;
}

function* concat<T>(...parts: Iterable<T>[]): Generator<T> {
  for (const part of parts) yield* part;
}

/**
 * Learns merges that make each of `words` (raw text such as " write": a leading space is part of
 * the word, as the pre-tokenizer cuts it) one token, in order, until the vocabulary has `limit`
 * entries. Each word should be a single pre-tokenizer piece (letters with an optional leading
 * space); anything else yields tokens that encoding never produces.
 */
export function learnBpeVocabulary(words: Iterable<string>, limit = Infinity): BpeVocabulary {
  const byteChars = bytesToUnicode();
  const vocab = new Map<string, number>();
  SPECIAL_TOKENS.forEach((t, i) => vocab.set(t, i));
  byteChars.forEach((c, b) => vocab.set(c, FIRST_BYTE_ID + b));
  const merges: [string, string][] = [];
  const ranks = new Map<string, number>(); // "left right" → rank

  // Mirrors tokenizers' BPE::merge_word: repeatedly apply the lowest-ranked adjacent pair,
  // leftmost first on ties, until none applies.
  const encode = (symbols: string[]): string[] => {
    const pieces = symbols.slice();
    for (;;) {
      let bestRank = Infinity;
      let bestAt = -1;
      for (let i = 0; i + 1 < pieces.length; i++) {
        const rank = ranks.get(pieces[i] + ' ' + pieces[i + 1]);
        if (rank !== undefined && rank < bestRank) {
          bestRank = rank;
          bestAt = i;
        }
      }
      if (bestAt < 0) return pieces;
      pieces.splice(bestAt, 2, pieces[bestAt]! + pieces[bestAt + 1]!);
    }
  };

  const learn = (word: string): void => {
    const symbols = Array.from(Buffer.from(word, 'utf8'), (b) => byteChars[b]!);
    for (let pieces = encode(symbols); pieces.length > 1 && vocab.size < limit; pieces = encode(symbols)) {
      const [left, right] = [pieces[0]!, pieces[1]!];
      ranks.set(left + ' ' + right, merges.length);
      merges.push([left, right]);
      // Different merge paths can reach the same string; it stays one vocabulary entry.
      if (!vocab.has(left + right)) vocab.set(left + right, vocab.size);
    }
  };

  for (const word of words) {
    if (vocab.size >= limit) break;
    learn(word);
  }
  return { vocab, merges };
}

/** tokenizer.json, in the layout `tokenizers` writes for SmolLM2. */
export function buildTokenizerJson(vocabSize: number): Record<string, unknown> {
  return tokenizerJsonFor(buildBpeVocabulary(vocabSize));
}

/** tokenizer.json for a vocabulary (specials, bytes, merges), in the layout `tokenizers` writes for SmolLM2. */
export function tokenizerJsonFor({ vocab, merges }: BpeVocabulary): Record<string, unknown> {
  const byteLevel = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true };
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: SPECIAL_TOKENS.map((content, id) => ({
      id,
      content,
      single_word: false,
      lstrip: false,
      rstrip: false,
      normalized: false,
      special: true,
    })),
    normalizer: null,
    pre_tokenizer: byteLevel,
    // trim_offsets false, as in SmolLM2 and Qwen2: a token's offsets cover the space it carries,
    // so the offsets of consecutive tokens tile the text without gaps.
    post_processor: { ...byteLevel, trim_offsets: false },
    decoder: byteLevel,
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab: Object.fromEntries(vocab),
      merges: merges.map(([l, r]) => `${l} ${r}`),
    },
  };
}

export interface SpecialTokenChoice {
  bos: (typeof SPECIAL_TOKENS)[number];
  eos: (typeof SPECIAL_TOKENS)[number];
}

/**
 * Which specials act as bos/eos. A chat model ends its turn with <|im_end|>, so that is its eos
 * (SmolLM2-Instruct: bos <|im_start|>, eos <|im_end|>); a base model uses <|endoftext|> for both.
 */
export function specialTokenChoice(chatTemplate: boolean): SpecialTokenChoice {
  return chatTemplate ? { bos: '<|im_start|>', eos: '<|im_end|>' } : { bos: '<|endoftext|>', eos: '<|endoftext|>' };
}

export function specialTokenId(token: (typeof SPECIAL_TOKENS)[number]): number {
  return SPECIAL_TOKENS.indexOf(token);
}

/** tokenizer_config.json for the tokenizer above. */
export function buildTokenizerConfig(options: { modelMaxLength: number; chatTemplate: boolean }): Record<string, unknown> {
  const { bos, eos } = specialTokenChoice(options.chatTemplate);
  const config: Record<string, unknown> = {
    add_bos_token: false, // byte-level models such as SmolLM2 and Qwen2 prepend nothing
    add_eos_token: false,
    add_prefix_space: false,
    added_tokens_decoder: Object.fromEntries(
      SPECIAL_TOKENS.map((content, id) => [
        String(id),
        { content, lstrip: false, normalized: false, rstrip: false, single_word: false, special: true },
      ]),
    ),
    bos_token: bos,
    eos_token: eos,
    unk_token: '<|endoftext|>',
    clean_up_tokenization_spaces: false,
    model_max_length: options.modelMaxLength,
    tokenizer_class: 'GPT2Tokenizer',
  };
  if (options.chatTemplate) config.chat_template = CHATML_TEMPLATE;
  return config;
}
