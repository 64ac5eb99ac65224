/**
 * On-disk cache of the global analyses (DESIGN.md: "Global results are cached on disk, keyed by
 * the checkpoint's content").
 *
 * Folder: `$INSTRUCTION_LENS_CACHE/analysis/`, else `~/.cache/instruction-lens/analysis/`.
 * Key: sha256 over the analysis kind and version, the checkpoint's fingerprint and the options
 * (which include the word list's hash). The fingerprint is the checkpoint's content as far as it
 * can be read cheaply: config.json's bytes, and per weight file its size, its whole safetensors
 * header and three 4 KiB samples (start, middle, end) of every tensor's data — so a checkpoint
 * with the same shapes but other weights (another seed, a fine-tune) gets another key, and copying
 * a folder elsewhere keeps it.
 *
 * File: one JSON header line `{format, kind, key, bytes, sha256}` and then the payload (JSON) of
 * exactly `bytes` bytes whose sha256 is `sha256`. A file that fails any check — unparsable header,
 * other format or key, wrong length (truncated), wrong checksum (corrupt), unparsable payload — is
 * deleted and recomputed, never trusted. Files are written to a temporary name and renamed, so a
 * reader never sees half a file. At most MAX_FILES files are kept (least recently used go first).
 */
import { createHash } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { basename, join, relative } from 'node:path';
import type { Checkpoint } from '../model/checkpoint.js';
import { MAX_CONFIG_JSON_BYTES, openRegularFile, readExactly, readFileBounded } from '../model/read-file.js';
import { cachePayloadProblem } from './cache-schemas.js';

export const CACHE_FORMAT = 'instruction-lens/analysis-cache@1';
const MAX_FILES = 200;
/** A cache file larger than this is not read (real ones are at most tens of MiB). */
const MAX_CACHE_FILE_BYTES = 1024 * 1024 * 1024;
const SAMPLE = 4096;

export function analysisCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.INSTRUCTION_LENS_CACHE || join(homedir(), '.cache', 'instruction-lens'), 'analysis');
}

const readAt = (fd: number, position: number, length: number): Buffer => readExactly(fd, length, position);

/** A hash of the checkpoint's content (see the file comment), read afresh each time (a few MiB at most). */
export function checkpointFingerprint(checkpoint: Checkpoint): string {
  const h = createHash('sha256');
  const adapter = checkpoint.adapter;
  h.update(readFileBounded(join(adapter?.baseDir ?? checkpoint.dir, 'config.json'), 'the model config', MAX_CONFIG_JSON_BYTES));
  // An adapter's constants (r, alpha, rsLoRA) change the model as much as its tensors do.
  if (adapter) h.update(readFileBounded(adapter.configFile, 'the adapter config', MAX_CONFIG_JSON_BYTES));
  const byFile = new Map<string, { offset: number; length: number; name: string }[]>();
  for (const t of checkpoint.tensors.values()) {
    const list = byFile.get(t.file) ?? [];
    list.push({ offset: t.offset, length: t.length, name: t.name });
    byFile.set(t.file, list);
  }
  for (const file of [...byFile.keys()].sort()) {
    const { fd, size } = openRegularFile(file, 'the weight file');
    try {
      const headerLength = Number(readAt(fd, 0, 8).readBigUInt64LE(0));
      h.update(`\u0000${relative(checkpoint.weightsRoot, file)}\u0000${size}\u0000`);
      h.update(readAt(fd, 0, 8 + headerLength));
      const tensors = byFile.get(file)!.sort((a, b) => a.offset - b.offset);
      for (const t of tensors) {
        const starts = [t.offset, t.offset + Math.max(0, Math.floor(t.length / 2) - SAMPLE / 2), t.offset + Math.max(0, t.length - SAMPLE)];
        for (const s of starts) h.update(readAt(fd, s, Math.min(SAMPLE, t.length)));
      }
    } finally {
      closeSync(fd);
    }
  }
  return h.digest('hex');
}

export interface CacheOptions {
  /** The cache folder (default analysisCacheDir()). */
  dir?: string;
  /** false: neither read nor write the cache. */
  enabled?: boolean;
  log?: (line: string) => void;
}

export interface CachedValue<T> {
  value: T;
  fromCache: boolean;
  file: string;
}

function keyHash(kind: string, key: unknown): string {
  return createHash('sha256').update(JSON.stringify({ kind, key })).digest('hex');
}

/** Why a cache file cannot be used, or its payload text. */
function readCacheFile(file: string, kind: string, key: string): { payload: string } | { problem: string } {
  let bytes: Buffer;
  try {
    // A cache entry that is a FIFO or a device is refused without blocking (openRegularFile).
    bytes = readFileBounded(file, 'the cache entry', MAX_CACHE_FILE_BYTES);
  } catch (e) {
    const missing = existsSync(file) ? (e as Error).message : null;
    return { problem: missing === null ? 'unreadable' : `unusable (${missing})` };
  }
  const newline = bytes.indexOf(10);
  if (newline < 0) return { problem: 'no header line (truncated)' };
  let header: { format?: unknown; kind?: unknown; key?: unknown; bytes?: unknown; sha256?: unknown };
  try {
    header = JSON.parse(bytes.subarray(0, newline).toString('utf8'));
  } catch {
    return { problem: 'unparsable header' };
  }
  if (header.format !== CACHE_FORMAT) return { problem: `format ${JSON.stringify(header.format)}` };
  if (header.kind !== kind || header.key !== key) return { problem: 'another key' };
  const payload = bytes.subarray(newline + 1);
  if (payload.length !== header.bytes) return { problem: `${payload.length} payload bytes, the header says ${header.bytes} (truncated or extended)` };
  if (createHash('sha256').update(payload).digest('hex') !== header.sha256) return { problem: 'checksum mismatch (corrupt)' };
  return { payload: payload.toString('utf8') };
}

/** Removes a cache file; one that cannot be removed (a folder in its place, no permission) is left alone. */
function discard(file: string): void {
  try {
    rmSync(file, { force: true });
  } catch {
    // The next run finds it unusable again and recomputes; that costs time, not correctness.
  }
}

function evict(dir: string, keep: string): void {
  let entries: { file: string; time: number }[];
  try {
    entries = readdirSync(dir)
      .filter((f) => f.endsWith('.cache'))
      .map((f) => ({ file: join(dir, f), time: statSync(join(dir, f)).mtimeMs }));
  } catch {
    return;
  }
  if (entries.length <= MAX_FILES) return;
  entries.sort((a, b) => a.time - b.time);
  for (const e of entries.slice(0, entries.length - MAX_FILES)) if (e.file !== keep) discard(e.file);
}

/**
 * The cached value for (kind, key), or `compute()`'s, which is then stored. `encode`/`decode`
 * turn the value into JSON-able data and back (default: the value itself).
 */
export async function cached<T>(
  kind: string,
  key: unknown,
  compute: () => Promise<T>,
  options: CacheOptions & { encode?: (value: T) => unknown; decode?: (data: unknown) => T } = {},
): Promise<CachedValue<T>> {
  const dir = options.dir ?? analysisCacheDir();
  const hash = keyHash(kind, key);
  const file = join(dir, `${kind}-${hash.slice(0, 40)}.cache`);
  if (options.enabled !== false) {
    const read = readCacheFile(file, kind, hash);
    if ('payload' in read) {
      try {
        const data = JSON.parse(read.payload) as unknown;
        const problem = cachePayloadProblem(kind, data);
        if (problem !== null) throw new Error(problem);
        const value = options.decode ? options.decode(data) : (data as T);
        const now = new Date();
        try {
          utimesSync(file, now, now);
        } catch {
          // Recency only guides eviction.
        }
        return { value, fromCache: true, file };
      } catch (e) {
        options.log?.(`analysis cache ${basename(file)}: unusable payload (${(e as Error).message}); recomputing`);
        discard(file);
      }
    } else if (read.problem !== 'unreadable') {
      options.log?.(`analysis cache ${basename(file)}: ${read.problem}; recomputing`);
      discard(file);
    }
  }
  const value = await compute();
  if (options.enabled !== false) {
    const data = options.encode ? options.encode(value) : value;
    // What is stored must pass the check it meets when read (this also compiles the check now, not on the next run's read).
    const problem = cachePayloadProblem(kind, data);
    if (problem !== null) {
      options.log?.(`analysis cache: not storing ${kind}: ${problem} (a bug: the payload's schema and its producer disagree)`);
      return { value, fromCache: false, file };
    }
    const payload = Buffer.from(JSON.stringify(data), 'utf8');
    const header = JSON.stringify({ format: CACHE_FORMAT, kind, key: hash, bytes: payload.length, sha256: createHash('sha256').update(payload).digest('hex') });
    const temp = `${file}.${process.pid}.${Date.now()}.tmp`;
    try {
      mkdirSync(dir, { recursive: true });
      writeFileSync(temp, Buffer.concat([Buffer.from(header + '\n', 'utf8'), payload]));
      renameSync(temp, file);
      evict(dir, file);
    } catch (e) {
      discard(temp);
      // A cache that cannot be written costs time, not correctness.
      options.log?.(`analysis cache: cannot write ${file} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    }
  }
  return { value, fromCache: false, file };
}

/** Float64Array ⇄ base64 (little-endian), for vectors inside cached JSON. */
export function float64ToBase64(a: Float64Array): string {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('base64');
}

export function base64ToFloat64(s: string): Float64Array {
  const bytes = Buffer.from(s, 'base64');
  if (bytes.length % 8 !== 0) throw new Error('vector data is not a whole number of float64 values');
  const out = new Float64Array(bytes.length / 8);
  new Uint8Array(out.buffer).set(bytes);
  return out;
}
