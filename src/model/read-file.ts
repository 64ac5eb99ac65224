/**
 * Reading files that come from strangers: a checkpoint folder, a prompt file, a word list, a cache
 * entry. Every read here
 *  - opens without blocking (O_NONBLOCK: a FIFO opens at once, with or without a writer) and
 *    checks, on the open descriptor, that it is a regular file — a device (/dev/zero), a FIFO, a
 *    socket or a folder is refused by name, so no synchronous read can wait forever;
 *  - refuses a file larger than a stated limit before reading a byte of it;
 *  - turns every failure into a LensError of one line naming the file and the problem.
 */
import { closeSync, constants, fstatSync, openSync, readSync, type Stats } from 'node:fs';
import { LensError } from './errors.js';

/** Limit for JSON files of a checkpoint (config.json, tokenizer_config.json, the safetensors index, generation_config.json). */
export const MAX_CONFIG_JSON_BYTES = 16 * 1024 * 1024;
/** Limit for tokenizer.json (real ones are a few MiB; the largest vocabularies ~20 MiB). */
export const MAX_TOKENIZER_JSON_BYTES = 256 * 1024 * 1024;
/** Limit for a word list file (--words): far above any real list. */
export const MAX_WORDS_FILE_BYTES = 64 * 1024 * 1024;
/** Limit for one line of a word list. */
export const MAX_WORD_LINE_CHARS = 1024;

const ERRNO_TEXT: Record<string, string> = {
  ENOENT: 'not found',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EISDIR: 'is a folder, not a file',
  ENOTDIR: 'a component of the path is not a folder',
  ELOOP: 'too many levels of symbolic links',
  ENAMETOOLONG: 'name too long',
  EMFILE: 'too many open files',
  ENFILE: 'too many open files',
  ENOSPC: 'no space left on the device',
  EDQUOT: 'disk quota exceeded',
  EROFS: 'read-only file system',
  EEXIST: 'already exists',
  EIO: 'input/output error',
  EBUSY: 'busy',
  ENXIO: 'no such device or address',
  EINVAL: 'invalid argument',
  EFBIG: 'file too large',
};

/** `ENOENT` → `not found (ENOENT)`; other errors → their message. */
export function describeFsError(e: unknown): string {
  const code = (e as NodeJS.ErrnoException)?.code;
  if (typeof code === 'string') return ERRNO_TEXT[code] ? `${ERRNO_TEXT[code]} (${code})` : code;
  return e instanceof Error ? e.message : String(e);
}

/** The LensError for a failed file operation: `<what> <path>: <problem>`. */
export function fileError(what: string, path: string, e: unknown): LensError {
  if (e instanceof LensError) return e;
  return new LensError(`${what} ${path}: ${describeFsError(e)}`, path);
}

/** What kind of thing a non-regular file is, for messages. */
export function kindOf(stats: Stats): string {
  if (stats.isDirectory()) return 'a folder';
  if (stats.isFIFO()) return 'a FIFO (named pipe)';
  if (stats.isCharacterDevice()) return 'a character device';
  if (stats.isBlockDevice()) return 'a block device';
  if (stats.isSocket()) return 'a socket';
  return 'not a regular file';
}

export interface OpenedFile {
  fd: number;
  size: number;
}

/**
 * Opens `path` for reading without blocking and checks that it is a regular file of at most
 * `maxBytes` bytes. The caller closes `fd`.
 */
export function openRegularFile(path: string, what: string, maxBytes = Infinity): OpenedFile {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0) | (constants.O_NOCTTY ?? 0));
  } catch (e) {
    throw fileError(`Cannot read ${what}`, path, e);
  }
  try {
    const stats = fstatSync(fd);
    if (!stats.isFile()) throw new LensError(`Cannot read ${what} ${path}: it is ${kindOf(stats)}, not a regular file`, path);
    if (stats.size > maxBytes) {
      throw new LensError(`Cannot read ${what} ${path}: ${stats.size} bytes, over the limit of ${maxBytes} bytes`, path);
    }
    return { fd, size: stats.size };
  } catch (e) {
    closeSync(fd);
    throw fileError(`Cannot read ${what}`, path, e);
  }
}

/** Reads `length` bytes at `position` (fewer only at the end of the file). */
export function readExactly(fd: number, length: number, position: number): Buffer {
  const buffer = Buffer.alloc(length);
  let done = 0;
  while (done < length) {
    const n = readSync(fd, buffer, done, length - done, position + done);
    if (n === 0) break;
    done += n;
  }
  return buffer.subarray(0, done);
}

/** The whole of a regular file of at most `maxBytes` bytes (see openRegularFile). */
export function readFileBounded(path: string, what: string, maxBytes: number): Buffer {
  const { fd, size } = openRegularFile(path, what, maxBytes);
  try {
    // One byte more than fstat said: a file that grew past the limit meanwhile is still refused.
    const bytes = readExactly(fd, Math.min(size, maxBytes) + 1, 0);
    if (bytes.length > maxBytes) throw new LensError(`Cannot read ${what} ${path}: over the limit of ${maxBytes} bytes`, path);
    return bytes;
  } catch (e) {
    throw fileError(`Cannot read ${what}`, path, e);
  } finally {
    closeSync(fd);
  }
}

/** A UTF-8 text file of at most `maxBytes` bytes. */
export function readTextFileBounded(path: string, what: string, maxBytes: number): string {
  return readFileBounded(path, what, maxBytes).toString('utf8');
}

/** Checks that `path` is a regular file that can be opened for reading (an option naming an input, before any work starts). */
export function checkInputFile(path: string, what: string, maxBytes = Infinity): void {
  closeSync(openRegularFile(path, what, maxBytes).fd);
}
