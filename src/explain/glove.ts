/**
 * GloVe-format word vectors for the heads analysis's co-occurrence similarity (the paper used
 * GloVe; the default is the model's own input vectors).
 *
 * Format: UTF-8 text, one word per line: the word, then D numbers, separated by single spaces
 * (tabs and repeated spaces are accepted). D is fixed by the first line. A first line of exactly
 * two integers is a word2vec-style header (count, D) and is skipped. Some GloVe releases have
 * words containing spaces; so a line's last D fields are its vector and everything before them is
 * the word. A line with fewer than D + 1 fields, or a field among the last D that is not a finite
 * number, is an error naming the file and line. Only the words of the list are kept: a word's
 * vector is its exact entry, else its lower-cased entry (GloVe's common releases are uncased).
 */
import { createReadStream } from 'node:fs';
import { LensError } from '../model/errors.js';
import { boundedLines } from '../model/lines.js';
import { openRegularFile } from '../model/read-file.js';
import { throwIfAborted } from './analysis-graph.js';

export interface GloveVectors {
  file: string;
  dims: number;
  /** [N, dims] row-major, in word-list order; zero rows where `found` is false. */
  vectors: Float64Array;
  found: boolean[];
  foundCount: number;
}

/** The longest line read (a 300-dimensional vector takes ~3 KB). */
const MAX_GLOVE_LINE_BYTES = 1024 * 1024;

const NUMBER = /^[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?$/;

export async function readGloveVectors(file: string, words: readonly string[], signal?: AbortSignal): Promise<GloveVectors> {
  // A regular file only: a FIFO or a device is refused without blocking.
  const { fd } = openRegularFile(file, 'the word vectors');
  const exact = new Map<string, number>();
  words.forEach((w, i) => exact.set(w, i));
  const lower = new Map<string, number[]>();
  words.forEach((w, i) => {
    const l = w.toLowerCase();
    if (!lower.has(l)) lower.set(l, []);
    lower.get(l)!.push(i);
  });
  // Per word: the line its vector came from, and whether that was an exact match.
  const source = new Array<{ values: Float64Array; exact: boolean } | undefined>(words.length);
  let dims = 0;
  let lineNumber = 0;
  const stream = createReadStream('', { fd, start: 0 });
  const lines = boundedLines(stream, MAX_GLOVE_LINE_BYTES, (n) => new LensError(`${file}:${n}: a line longer than ${MAX_GLOVE_LINE_BYTES} bytes`, file));
  try {
    for await (const rawLine of lines) {
      lineNumber++;
      if (lineNumber % 65536 === 0) throwIfAborted(signal);
      const line = lineNumber === 1 && rawLine.startsWith('\uFEFF') ? rawLine.slice(1) : rawLine;
      if (line.trim() === '') continue;
      const fields = line.trim().split(/[ \t]+/);
      if (dims === 0) {
        if (fields.length === 2 && /^\d+$/.test(fields[0]!) && /^\d+$/.test(fields[1]!)) {
          dims = Number(fields[1]);
          if (dims < 1) throw new LensError(`${file}:${lineNumber}: header gives ${dims} dimensions`, file);
          continue;
        }
        dims = fields.length - 1;
        if (dims < 1) throw new LensError(`${file}:${lineNumber}: expected a word and its vector, got ${JSON.stringify(line.slice(0, 80))}`, file);
      }
      if (fields.length < dims + 1) {
        throw new LensError(`${file}:${lineNumber}: ${fields.length - 1} values, but the vectors have ${dims} dimensions (from the first line)`, file);
      }
      if (fields.length > dims + 1 && NUMBER.test(fields[fields.length - dims - 1]!)) {
        // A word with spaces is fine; a number right before the vector means a longer vector.
        throw new LensError(`${file}:${lineNumber}: ${fields.length - 1} values, but the vectors have ${dims} dimensions (from the first line)`, file);
      }
      const word = fields.slice(0, fields.length - dims).join(' ');
      const at = exact.get(word);
      const lowerAt = lower.get(word);
      const numbers = fields.slice(fields.length - dims);
      // Every line's numbers are checked, so a bad file fails wherever the fault is.
      const values = new Float64Array(dims);
      for (let d = 0; d < dims; d++) {
        const s = numbers[d]!;
        if (!NUMBER.test(s)) throw new LensError(`${file}:${lineNumber}: value ${d + 1} (${JSON.stringify(s.slice(0, 40))}) is not a number`, file);
        values[d] = Number(s);
        if (!Number.isFinite(values[d]!)) throw new LensError(`${file}:${lineNumber}: value ${d + 1} is not finite`, file);
      }
      if (at !== undefined && !source[at]?.exact) source[at] = { values, exact: true };
      // The lower-cased entry serves the list's other spellings of it ("Write" → "write").
      for (const i of lowerAt ?? []) if (!source[i]) source[i] = { values, exact: false };
    }
  } catch (e) {
    if (e instanceof LensError) throw e;
    throw new LensError(`Cannot read the word vectors ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, file);
  } finally {
    await lines.return(undefined);
    stream.destroy();
  }
  if (dims === 0) throw new LensError(`${file}: no word vectors in the file`, file);
  const vectors = new Float64Array(words.length * dims);
  const found = Array.from(source, (s) => s !== undefined);
  source.forEach((s, i) => {
    if (s) vectors.set(s.values, i * dims);
  });
  const foundCount = found.filter(Boolean).length;
  if (foundCount === 0) throw new LensError(`${file}: none of the ${words.length} words of the list has a vector in this file`, file);
  return { file, dims, vectors, found, foundCount };
}
