/**
 * The results of one shard: an append-only JSON-lines file, `shard-K-of-N.jsonl` in the output
 * folder. The first line is the header (models, options, prompt set, shard); then one line per
 * (prompt, model) and, with --heads/--ffn, one line per analysis. Each line is written whole by a
 * single write of the complete line (file opened for appending) and made durable with fsync before
 * the next one starts, so a run killed at any moment leaves complete lines and at most one torn
 * last line (a write cut by a full disk or a power loss): the torn tail is cut off when the run
 * resumes. Nothing in a line depends on time, so an interrupted run and an uninterrupted one write
 * the same bytes.
 */
import { closeSync, existsSync, fstatSync, fsyncSync, ftruncateSync, openSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { LensError } from '../model/errors.js';
import { readExactly } from '../model/read-file.js';
import type { ImportanceOptions } from '../explain/importance.js';
import type { HeadsVerbComparison } from '../explain/heads.js';
import type { FfnRotationLayer } from '../explain/ffn.js';
import type { DetectionCounts } from './detection-metrics.js';
import type { SkippedLine } from './prompt-set.js';

export const RESULTS_SCHEMA = 'instruction-lens/evaluate-results@1';

export type Role = 'base' | 'tuned';

export interface ModelIdentity {
  /** The model as given (a folder or a hub id). */
  spec: string;
  /** The checkpoint's content fingerprint: the same model under another path has the same one. */
  fingerprint: string;
}

/** Everything that changes a result: a run continues only with the same. */
export interface RunOptions {
  format: string;
  maxNewTokens: number;
  objective: string;
  importance: Required<ImportanceOptions>;
  /** Extra instruction verbs (--verbs), or null. */
  verbs: string[] | null;
  heads: boolean;
  ffn: boolean;
  /** --layers for heads/ffn, or null for all. */
  layers: number[] | null;
  /** --words for heads/ffn, or null for the default list. */
  words: string | null;
}

export interface ResultsHeader {
  kind: 'header';
  schema: typeof RESULTS_SCHEMA;
  base: ModelIdentity;
  tuned: ModelIdentity;
  options: RunOptions;
  prompts: { file: string; hash: string; count: number; skipped: SkippedLine[] };
  shard: { k: number; n: number };
}

export interface PromptResult {
  kind: 'result';
  index: number;
  id: string;
  group: string;
  model: Role;
  /** Present when the model could not be run on this prompt (then nothing else is). */
  error?: string;
  response?: { text: string; source: 'generated' | 'given' };
  instructionSource?: 'user' | 'detected';
  instructionScore?: number;
  /** Importance density per prompt token. */
  density?: number[];
  instructionMask?: number[];
  /** Detection against the annotated spans (only when the prompt carries them). */
  detection?: DetectionCounts;
}

export interface HeadsLine {
  kind: 'heads';
  verbs: HeadsVerbComparison;
}

export interface FfnLine {
  kind: 'ffn';
  rotation: FfnRotationLayer[];
}

export type ResultLine = PromptResult | HeadsLine | FfnLine;

export function shardFileName(shard: { k: number; n: number }): string {
  return `shard-${shard.k}-of-${shard.n}.jsonl`;
}

export const SHARD_FILE = /^shard-(\d+)-of-(\d+)\.jsonl$/;

/** The parts of two headers that must agree for their lines to belong to one run (resume) or one evaluation (merge). */
export function headerMismatch(a: ResultsHeader, b: ResultsHeader, what: { shard: boolean }): string | null {
  if (a.schema !== b.schema) return `results format ${a.schema} vs ${b.schema}`;
  for (const role of ['base', 'tuned'] as const) {
    if (a[role].fingerprint !== b[role].fingerprint) return `the ${role} model differs (${a[role].spec} vs ${b[role].spec}: other weights or tokenizer)`;
  }
  const oa = JSON.stringify(a.options);
  const ob = JSON.stringify(b.options);
  if (oa !== ob) {
    const keys = Object.keys(a.options).filter((k) => JSON.stringify(a.options[k as keyof RunOptions]) !== JSON.stringify(b.options[k as keyof RunOptions]));
    return `the options differ (${keys.join(', ')})`;
  }
  if (a.prompts.hash !== b.prompts.hash) return 'the prompt set differs';
  if (a.shard.n !== b.shard.n) return `the shard count differs (${a.shard.n} vs ${b.shard.n})`;
  if (what.shard && a.shard.k !== b.shard.k) return `the shard differs (${a.shard.k} vs ${b.shard.k})`;
  return null;
}

export interface ParsedResults {
  header: ResultsHeader;
  lines: ResultLine[];
  /** Bytes of complete lines; a torn tail starts here. */
  completeBytes: number;
  /** Whether the file ended with a torn (incomplete) line. */
  torn: boolean;
}

function isHeader(v: unknown): v is ResultsHeader {
  const h = v as ResultsHeader;
  return !!h && h.kind === 'header' && typeof h.schema === 'string' && !!h.base && !!h.tuned && !!h.options && !!h.prompts && !!h.shard;
}

function isLine(v: unknown): v is ResultLine {
  const l = v as ResultLine;
  if (!l || typeof l !== 'object') return false;
  if (l.kind === 'result') return Number.isSafeInteger(l.index) && (l.model === 'base' || l.model === 'tuned') && typeof l.id === 'string';
  if (l.kind === 'heads') return !!l.verbs;
  if (l.kind === 'ffn') return Array.isArray(l.rotation);
  return false;
}

/** Parses a results file's bytes; a torn last line (no newline at the end) is reported, not an error. */
export function parseResults(bytes: Buffer, file: string): ParsedResults {
  const lastNewline = bytes.lastIndexOf(0x0a);
  const completeBytes = lastNewline + 1;
  const text = bytes.subarray(0, completeBytes).toString('utf8');
  const rows = text.split('\n');
  rows.pop();
  if (!rows.length) throw new LensError(`${file}: no header line (an empty or torn results file)`, file);
  const parse = (row: string, k: number): unknown => {
    try {
      return JSON.parse(row);
    } catch {
      throw new LensError(`${file}:${k + 1}: not a results line (damaged file; --restart starts the shard afresh)`, file);
    }
  };
  const header = parse(rows[0]!, 0);
  if (!isHeader(header)) throw new LensError(`${file}:1: not an evaluate results header`, file);
  if (header.schema !== RESULTS_SCHEMA) throw new LensError(`${file}:1: results format ${header.schema}, expected ${RESULTS_SCHEMA}`, file);
  const lines: ResultLine[] = [];
  for (let k = 1; k < rows.length; k++) {
    const v = parse(rows[k]!, k);
    if (!isLine(v)) throw new LensError(`${file}:${k + 1}: not a results line (damaged file; --restart starts the shard afresh)`, file);
    lines.push(v);
  }
  return { header, lines, completeBytes, torn: completeBytes < bytes.length };
}

/** An open results file: append one complete line at a time. */
export class ResultsWriter {
  private constructor(
    readonly path: string,
    private fd: number,
    readonly lines: ResultLine[],
  ) {}

  /**
   * Opens the shard's file in `dir`: a new file gets `header` as its first line; an existing one
   * must have the same header (else refused, unless `restart`, which empties it), and a torn last
   * line is cut off. `log` hears what was found.
   */
  static open(dir: string, header: ResultsHeader, options: { restart: boolean; log?: (line: string) => void }): ResultsWriter {
    const path = join(dir, shardFileName(header.shard));
    const existed = existsSync(path);
    let fd: number;
    try {
      fd = openSync(path, existed ? 'r+' : 'wx+');
    } catch (e) {
      throw new LensError(`Cannot open the results file ${path}: ${(e as Error).message}`, path);
    }
    try {
      let lines: ResultLine[] = [];
      let fresh = !existed || fstatSync(fd).size === 0;
      if (!fresh && options.restart) {
        ftruncateSync(fd, 0);
        fsyncSync(fd);
        options.log?.(`${path}: --restart, previous results discarded`);
        fresh = true;
      }
      if (!fresh) {
        const size = fstatSync(fd).size;
        const parsed = parseResults(readExactly(fd, size, 0), path);
        const mismatch = headerMismatch(parsed.header, header, { shard: true });
        if (mismatch) {
          throw new LensError(`${path} holds results of another run: ${mismatch}. Use the same arguments to continue it, --restart to start this shard afresh, or another --out folder.`, path);
        }
        if (parsed.torn) {
          ftruncateSync(fd, parsed.completeBytes);
          fsyncSync(fd);
          options.log?.(`${path}: a torn last line (${size - parsed.completeBytes} bytes) cut off`);
        }
        lines = parsed.lines;
        options.log?.(`${path}: continuing after ${lines.length} result line(s)`);
      }
      closeSync(fd);
      // From here on the file is only appended to.
      fd = openSync(path, 'a');
      const writer = new ResultsWriter(path, fd, lines);
      if (fresh) writer.writeLine(header);
      return writer;
    } catch (e) {
      try {
        closeSync(fd);
      } catch {
        // already closed
      }
      throw e;
    }
  }

  /** Appends one line: a single write of the whole line, then fsync. */
  append(line: ResultLine): void {
    this.writeLine(line);
    this.lines.push(line);
  }

  private writeLine(value: unknown): void {
    const bytes = Buffer.from(`${JSON.stringify(value)}\n`, 'utf8');
    const written = writeSync(this.fd, bytes, 0, bytes.length);
    if (written !== bytes.length) throw new LensError(`${this.path}: short write (${written} of ${bytes.length} bytes; is the disk full?)`, this.path);
    fsyncSync(this.fd);
  }

  close(): void {
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
  }
}
