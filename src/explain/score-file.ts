/**
 * `instruction-lens score`: importance density and instruction score for every attribution matrix
 * of a JSON-lines file (plain or gzip, detected by its magic bytes), streamed line by line.
 *
 * Input line: `{ "explain": number[][], "mask"?: (0|1)[], "id"?: …, "model"?: …, … }` with
 * `explain` indexed [prompt token][response token]. Output line:
 * `{ "id"?, "model"?, "density": number[], "score"?: number }` — `id` and `model` copied when
 * present, `score` only when a mask is given (its length must equal the number of prompt tokens).
 * The output is gzip-compressed when its name ends in `.gz`.
 *
 * Decision — an empty matrix (no prompt tokens or no response tokens: `[]` or rows of `[]`) is not
 * malformed: a model may generate nothing (the paper's published file has one such record). Its
 * line is written with `density: []`, `score: null` and a `note`, and it is counted in `empty`,
 * not in `scored`. Its mask is checked for 0/1 values but not for length when the matrix has no
 * rows (the number of prompt tokens is then unknown). Everything else that is wrong with a line —
 * invalid JSON, `explain` missing, not a matrix, ragged, with a non-number or non-finite entry, a
 * bad mask — stops the run with a LensError naming the input file and the 1-based line number.
 * Blank lines are skipped.
 *
 * Nothing half-written: the output goes to a temporary file beside it, renamed over the output at
 * the end; on any error the temporary file is removed and an existing output is left untouched.
 */
import { createReadStream, createWriteStream, closeSync, renameSync, rmSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { createGunzip, createGzip } from 'node:zlib';
import type { Readable, Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { LensError } from '../model/errors.js';
import { boundedLines } from '../model/lines.js';
import { fileError, openRegularFile, readExactly } from '../model/read-file.js';
import { planOutput } from '../model/write-file.js';
import { DEFAULT_IMPORTANCE_OPTIONS, importanceDensity, instructionScore, type ImportanceOptions } from './importance.js';

export interface ScoreSummary {
  /** Records read and written (blank lines excluded). */
  lines: number;
  /** Records with a score (a mask was given and the matrix is not empty). */
  scored: number;
  /** Records with an empty matrix. */
  empty: number;
}

export interface ScoredRecord {
  id?: unknown;
  model?: unknown;
  density: number[];
  score?: number | null;
  note?: string;
}

/** The longest input line read (an attribution matrix of some 3,000 × 3,000 numbers); longer lines are refused, not parsed. */
export const MAX_SCORE_LINE_BYTES = 64 * 1024 * 1024;

export const EMPTY_MATRIX_NOTE = 'empty attribution matrix (no prompt or no response tokens): nothing to score';

/** Opens the input (a regular file, nothing that could block) and tells whether it is gzip-compressed. */
function openInput(path: string): { fd: number; gzip: boolean } {
  const { fd } = openRegularFile(path, 'the input file');
  try {
    const head = readExactly(fd, 2, 0);
    return { fd, gzip: head.length === 2 && head[0] === 0x1f && head[1] === 0x8b };
  } catch (e) {
    closeSync(fd);
    throw fileError('Cannot read the input file', path, e);
  }
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return typeof v === 'string' ? `the string ${JSON.stringify(v.length > 20 ? v.slice(0, 20) + '…' : v)}` : `${typeof v} ${String(v)}`;
}

/**
 * Validates and scores one parsed record. Throws a plain Error with the problem (the caller adds
 * the file and line).
 */
export function scoreRecord(record: unknown, options: Required<ImportanceOptions>): ScoredRecord {
  if (record === null || typeof record !== 'object' || Array.isArray(record)) throw new Error('the line is not a JSON object');
  const r = record as Record<string, unknown>;
  const out = {} as ScoredRecord; // key order: id, model, density, score, note
  if ('id' in r) out.id = r.id;
  if ('model' in r) out.model = r.model;
  out.density = [];

  const explain = r.explain;
  if (explain === undefined) throw new Error('"explain" is missing');
  if (!Array.isArray(explain)) throw new Error(`"explain" is ${describe(explain)}, not a matrix (an array of rows)`);
  const rows = explain.length;
  let cols = -1;
  for (let i = 0; i < rows; i++) {
    const row: unknown = explain[i];
    if (!Array.isArray(row)) throw new Error(`"explain" row ${i} is ${describe(row)}, not an array`);
    if (cols < 0) cols = row.length;
    else if (row.length !== cols) throw new Error(`"explain" is ragged: row ${i} has ${row.length} entries, row 0 has ${cols}`);
    for (let j = 0; j < row.length; j++) {
      const v: unknown = row[j];
      if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`"explain"[${i}][${j}] is ${describe(v)}, not a finite number`);
    }
  }
  const empty = rows === 0 || cols === 0;

  let mask: number[] | undefined;
  if (r.mask !== undefined && r.mask !== null) {
    if (!Array.isArray(r.mask)) throw new Error(`"mask" is ${describe(r.mask)}, not an array`);
    mask = r.mask.map((m: unknown, k: number) => {
      if (m === 0 || m === 1) return m;
      if (m === true || m === false) return m ? 1 : 0;
      throw new Error(`"mask"[${k}] is ${describe(m)}: it must be 0 or 1`);
    });
    if (rows > 0 && mask.length !== rows) {
      throw new Error(`"mask" has ${mask.length} entries but "explain" has ${rows} prompt tokens (rows)`);
    }
  }

  if (empty) {
    out.score = null;
    out.note = EMPTY_MATRIX_NOTE;
    return out;
  }
  out.density = importanceDensity(explain as number[][], options);
  if (mask) out.score = instructionScore(out.density, mask);
  return out;
}

function writeChunk(stream: Writable, chunk: string): Promise<void> {
  if (stream.write(chunk)) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const onDrain = (): void => {
      stream.off('error', onError);
      resolve();
    };
    const onError = (e: Error): void => {
      stream.off('drain', onDrain);
      reject(e);
    };
    stream.once('drain', onDrain);
    stream.once('error', onError);
  });
}

function endStream(stream: Writable, file: Writable): Promise<void> {
  return new Promise((resolve, reject) => {
    file.once('error', reject);
    stream.once('error', reject);
    file.once('close', () => resolve());
    stream.end();
  });
}

/**
 * Scores every line of `inputPath` into `outputPath` (see the file comment for the format and the
 * rules). Resolves with the counts; rejects with a LensError naming the file and line.
 */
export async function scoreJsonl(inputPath: string, outputPath: string, options: ImportanceOptions = {}): Promise<ScoreSummary> {
  const opts: Required<ImportanceOptions> = {
    L: options.L ?? DEFAULT_IMPORTANCE_OPTIONS.L,
    b: options.b ?? DEFAULT_IMPORTANCE_OPTIONS.b,
    p: options.p ?? DEFAULT_IMPORTANCE_OPTIONS.p,
  };
  // Checks the options once, up front, rather than on the first line.
  importanceDensity([[1]], opts);

  // The output is planned first: a missing folder fails before anything is read.
  const plan = planOutput(outputPath);
  const input = openInput(inputPath);
  const gzipIn = input.gzip;
  // A device or FIFO (/dev/null, /dev/stdout) is written through; a regular file via a temporary file and a rename.
  const temp = plan.kind === 'atomic' ? join(dirname(plan.target), `.${basename(plan.target)}.${process.pid}.${Date.now()}.tmp`) : null;

  const fileIn = createReadStream('', { fd: input.fd, start: 0 });
  const source: Readable = gzipIn ? fileIn.pipe(createGunzip()) : fileIn;
  let inputError: Error | undefined;
  const onInputError = (e: Error): void => {
    inputError ??= e;
    source.destroy(); // ends the line iterator
  };
  fileIn.on('error', onInputError);
  if (source !== fileIn) source.on('error', onInputError);

  const fileOut = temp === null ? createWriteStream(outputPath) : createWriteStream(temp, { flags: 'wx' });
  const sink: Writable = outputPath.endsWith('.gz') ? createGzip() : fileOut;
  if (sink !== fileOut) sink.pipe(fileOut);
  let outputError: Error | undefined;
  fileOut.on('error', (e) => (outputError ??= e));
  sink.on('error', (e) => (outputError ??= e));

  const summary: ScoreSummary = { lines: 0, scored: 0, empty: 0 };
  let lineNo = 0;
  try {
    const lines = boundedLines(source, MAX_SCORE_LINE_BYTES, (n) => new LensError(`${inputPath}, line ${n}: longer than ${MAX_SCORE_LINE_BYTES} bytes; refused`, inputPath));
    for await (let line of lines) {
      lineNo++;
      if (lineNo === 1 && line.charCodeAt(0) === 0xfeff) line = line.slice(1);
      if (line.trim() === '') continue;
      let record: unknown;
      try {
        record = JSON.parse(line);
      } catch (e) {
        throw new LensError(`${inputPath}, line ${lineNo}: invalid JSON (${(e as Error).message}).`, inputPath);
      }
      let scored: ScoredRecord;
      try {
        scored = scoreRecord(record, opts);
      } catch (e) {
        throw new LensError(`${inputPath}, line ${lineNo}: ${(e as Error).message}.`, inputPath);
      }
      summary.lines++;
      if (typeof scored.score === 'number') summary.scored++;
      if (scored.note === EMPTY_MATRIX_NOTE) summary.empty++;
      if (outputError) throw outputError;
      await writeChunk(sink, JSON.stringify(scored) + '\n');
    }
    if (inputError) {
      const code = (inputError as NodeJS.ErrnoException).code;
      throw new LensError(`Cannot read ${inputPath} after line ${lineNo}: ${code ? `${code} ` : ''}${inputError.message}`, inputPath);
    }
    await endStream(sink, fileOut);
    if (outputError) throw outputError;
    if (temp !== null) renameSync(temp, plan.kind === 'atomic' ? plan.target : outputPath);
  } catch (e) {
    source.destroy();
    fileIn.destroy();
    sink.destroy();
    fileOut.destroy();
    await finished(fileOut).catch(() => undefined);
    if (temp !== null) rmSync(temp, { force: true });
    if (e instanceof LensError) throw e;
    if (inputError) {
      const code = (inputError as NodeJS.ErrnoException).code;
      throw new LensError(`Cannot read ${inputPath} after line ${lineNo}: ${code ? `${code} ` : ''}${inputError.message}`, inputPath);
    }
    const code = (e as NodeJS.ErrnoException).code;
    throw new LensError(`Cannot write ${outputPath}: ${code ?? (e as Error).message}`, outputPath);
  }
  return summary;
}
