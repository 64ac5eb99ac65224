/**
 * The word list of the global analyses (DESIGN.md §2 and §3): which words the attention heads'
 * and the FFN components' dimensions are read in.
 *
 * Default: the vocabulary's whole-word entries — a word-initial marker (`Ġ` in byte-level BPE,
 * `▁` in SentencePiece) followed by at least two letters (Unicode `\p{L}`, nothing else) — the first
 * 20,000 in id order, each the single token it is; then the prompt's words (as `findWords` finds
 * them) that are not already in the list, in order of appearance. A user file replaces all of that:
 * one word per line, used exactly as given (no case folding, no prompt words added).
 *
 * A word's tokens are its word-initial form: the vocabulary entry marker + word when there is one,
 * otherwise what the tokenizer makes of the word after a space (byte-level) or as a text of its own
 * (SentencePiece, whose normalizer adds the marker; and any vocabulary without a marker, such as
 * WordLevel or whitespace-split ones, which a given list works with but the default list cannot). Its input vector is the mean of those tokens'
 * embedding rows, its output vector the mean of their lm_head rows.
 */
import { createHash } from 'node:crypto';
import type { Checkpoint } from '../model/checkpoint.js';
import { LensError } from '../model/errors.js';
import { MAX_WORD_LINE_CHARS, MAX_WORDS_FILE_BYTES, readTextFileBounded } from '../model/read-file.js';
import { findWords } from './words.js';
import { countStep } from '../model/debug-counts.js';

export const DEFAULT_VOCABULARY_WORDS = 20_000;

export type WordMarker = 'Ġ' | '▁';

export interface WordList {
  words: string[];
  /** The token ids of each word (its word-initial form), at least one each. */
  tokens: number[][];
  /** `vocabulary`: vocabulary words (+ prompt words); `file`: the user's list as given. */
  source: 'vocabulary' | 'file';
  /** How many of the words came from the vocabulary (they come first). */
  vocabularyCount: number;
  /** The file the words came from, for `file`. */
  file?: string;
  /** sha256 of the words and their token ids: part of the analysis cache key. */
  hash: string;
}

/** GPT-2's byte → printable-character table (byte-level BPE vocabularies are written in it). */
function byteDecoder(): Map<string, number> {
  const table = new Map<string, number>();
  let next = 256;
  for (let b = 0; b < 256; b++) {
    const printable = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
    table.set(String.fromCharCode(printable ? b : next++), b);
  }
  return table;
}

const BYTE_DECODER = byteDecoder();
const UTF8 = new TextDecoder('utf-8', { fatal: true });
const LETTERS = /^\p{L}{2,}$/u;

/** A byte-level token's text, or null when its bytes are not valid UTF-8 on their own. */
function decodeByteLevel(token: string): string | null {
  const bytes = new Uint8Array(token.length);
  for (let i = 0; i < token.length; i++) {
    const b = BYTE_DECODER.get(token[i]!);
    if (b === undefined) return null;
    bytes[i] = b;
  }
  try {
    return UTF8.decode(bytes);
  } catch {
    return null;
  }
}

/** Which word-initial marker the vocabulary uses: the one more of its entries start with; null when none does (WordLevel, whitespace-split vocabularies). */
export function findWordMarker(vocab: Record<string, number>): WordMarker | null {
  let g = 0;
  let s = 0;
  for (const token of Object.keys(vocab)) {
    if (token.startsWith('Ġ')) g++;
    else if (token.startsWith('▁')) s++;
  }
  if (g === 0 && s === 0) return null;
  return g >= s ? 'Ġ' : '▁';
}

/** The word-initial marker, which the default word list needs (its words are the vocabulary entries that carry it). */
export function wordMarker(vocab: Record<string, number>, file: string): WordMarker {
  const marker = findWordMarker(vocab);
  if (marker === null) {
    throw new LensError(
      `${file}: the vocabulary has no word-initial tokens (neither 'Ġ' nor '▁'), so the default word list cannot be taken from it; pass a word list with --words FILE (one word per line)`,
      file,
    );
  }
  return marker;
}

/** The vocabulary's whole-word entries in id order (the first `limit`), with their ids. */
export function vocabularyWords(checkpoint: Checkpoint, limit = DEFAULT_VOCABULARY_WORDS): { word: string; id: number }[] {
  const { tokenizer, tokenizerFile } = checkpoint.tokenizer;
  const vocab = tokenizer.getVocab(false);
  const marker = wordMarker(vocab, tokenizerFile);
  const entries = Object.entries(vocab)
    .filter(([token, id]) => token.startsWith(marker) && id < checkpoint.config.vocabSize)
    .sort((a, b) => a[1] - b[1]);
  const out: { word: string; id: number }[] = [];
  const seen = new Set<string>();
  for (const [token, id] of entries) {
    if (out.length >= limit) break;
    const text = marker === 'Ġ' ? decodeByteLevel(token) : token.replace(/▁/g, ' ');
    if (text === null || !text.startsWith(' ')) continue;
    const word = text.slice(1);
    if (!LETTERS.test(word) || seen.has(word)) continue;
    seen.add(word);
    out.push({ word, id });
  }
  return out;
}

/**
 * The token ids of `word` in its word-initial form; empty when the tokenizer gives none. Without a
 * marker (`null`: a WordLevel or whitespace-split vocabulary) a word's tokens are what the
 * tokenizer gives for the word as a text of its own.
 */
export async function wordTokens(checkpoint: Checkpoint, word: string, marker?: WordMarker | null): Promise<number[]> {
  const { tokenizer, tokenizerFile } = checkpoint.tokenizer;
  const m = marker === undefined ? wordMarker(tokenizer.getVocab(false), tokenizerFile) : marker;
  const direct = m === 'Ġ'
    ? tokenizer.tokenToId('Ġ' + Array.from(new TextEncoder().encode(word), (b) => byteChar(b)).join(''))
    : m === '▁'
      ? tokenizer.tokenToId('▁' + word.replace(/ /g, '▁'))
      : null;
  if (direct !== null && direct !== undefined && direct < checkpoint.config.vocabSize) return [direct];
  const text = m === 'Ġ' ? ' ' + word : word;
  const start = m === 'Ġ' ? 1 : 0;
  countStep(checkpoint.spec, 'word-encode');
  const encoding = await tokenizer.encode(text, null, { addSpecialTokens: false });
  const ids = encoding.getIds();
  const offsets = encoding.getOffsets();
  const special = encoding.getSpecialTokensMask();
  const tokens = encoding.getTokens();
  const out: number[] = [];
  for (let i = 0; i < ids.length; i++) {
    if (special[i] || tokens[i] === '▁') continue;
    const [a, b] = offsets[i]!;
    // Offsets are in code points; the word starts at `start` and has this many of them.
    if (b! > start && a! < start + [...word].length) out.push(ids[i]!);
  }
  return out.filter((id) => id < checkpoint.config.vocabSize);
}

const BYTE_CHARS = (() => {
  const chars: string[] = [];
  for (const [c, b] of BYTE_DECODER) chars[b] = c;
  return chars;
})();
const byteChar = (b: number) => BYTE_CHARS[b]!;

/** The distinct words of a prompt, in order of first appearance. */
export function promptWords(prompt: string): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  for (const w of findWords(prompt)) {
    if (!seen.has(w.text)) {
      seen.add(w.text);
      out.push(w.text);
    }
  }
  return out;
}

/**
 * Reads a word file: UTF-8, one word per line (a final line break, CRLF line ends and a BOM are
 * allowed). Empty lines, lines with leading or trailing white space and repeated words are
 * errors naming the line, so that the list is used exactly as the user wrote it.
 */
export function readWordsFile(path: string): string[] {
  // A regular file of bounded size (a FIFO or /dev/zero is refused before reading), lines bounded below.
  let text = readTextFileBounded(path, 'the word list', MAX_WORDS_FILE_BYTES);
  if (text.startsWith('\uFEFF')) text = text.slice(1);
  const lines = text.split('\n');
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  if (lines.length === 0) throw new LensError(`${path}: the word list is empty (expected one word per line)`, path);
  const seen = new Map<string, number>();
  return lines.map((raw, i) => {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    const where = `${path}:${i + 1}`;
    if (line.length > MAX_WORD_LINE_CHARS) throw new LensError(`${where}: a line of ${line.length} characters (a word has at most ${MAX_WORD_LINE_CHARS})`, path);
    if (line.trim().length === 0) throw new LensError(`${where}: empty line (expected one word per line)`, path);
    if (line.trim() !== line) throw new LensError(`${where}: ${JSON.stringify(line)} has leading or trailing white space`, path);
    const first = seen.get(line);
    if (first !== undefined) throw new LensError(`${where}: ${JSON.stringify(line)} repeats line ${first}`, path);
    seen.set(line, i + 1);
    return line;
  });
}

function hashWords(words: string[], tokens: number[][]): string {
  const h = createHash('sha256');
  for (let i = 0; i < words.length; i++) h.update(`${words[i]}\u0000${tokens[i]!.join(',')}\n`);
  return h.digest('hex');
}

export interface WordListOptions {
  /** A word file (one word per line), used exactly as given. */
  file?: string;
  /** Words given directly (instead of a file), used exactly as given. */
  words?: readonly string[];
  /** Words appended to the vocabulary words when absent (the prompt's words). */
  extraWords?: readonly string[];
  /** How many vocabulary words (default 20,000). */
  limit?: number;
}

/** The word list of an analysis (see the file comment). */
export async function buildWordList(checkpoint: Checkpoint, options: WordListOptions = {}): Promise<WordList> {
  const { tokenizer, tokenizerFile } = checkpoint.tokenizer;
  if (options.file !== undefined || options.words !== undefined) {
    // A given list works with any tokenizer; only the default list needs the marker.
    const marker = findWordMarker(tokenizer.getVocab(false));
    const given = options.file !== undefined ? readWordsFile(options.file) : [...options.words!];
    if (given.length === 0) throw new LensError('The word list is empty.');
    const tokens: number[][] = [];
    for (let i = 0; i < given.length; i++) {
      const ids = await wordTokens(checkpoint, given[i]!, marker);
      if (ids.length === 0) {
        const where = options.file !== undefined ? `${options.file}:${i + 1}` : `word ${i + 1}`;
        throw new LensError(`${where}: ${JSON.stringify(given[i])} gives no tokens with ${tokenizerFile}`, options.file);
      }
      tokens.push(ids);
    }
    return { words: given, tokens, source: 'file', vocabularyCount: 0, file: options.file, hash: hashWords(given, tokens) };
  }
  const marker = wordMarker(tokenizer.getVocab(false), tokenizerFile);
  const vocabulary = vocabularyWords(checkpoint, options.limit ?? DEFAULT_VOCABULARY_WORDS);
  const words = vocabulary.map((v) => v.word);
  const tokens = vocabulary.map((v) => [v.id]);
  const present = new Set(words);
  for (const w of options.extraWords ?? []) {
    if (present.has(w)) continue;
    const ids = await wordTokens(checkpoint, w, marker);
    if (ids.length === 0) continue;
    present.add(w);
    words.push(w);
    tokens.push(ids);
  }
  if (words.length === 0) throw new LensError(`${tokenizerFile}: the vocabulary has no whole-word entries; pass a word list with --words`, tokenizerFile);
  return { words, tokens, source: 'vocabulary', vocabularyCount: vocabulary.length, hash: hashWords(words, tokens) };
}
