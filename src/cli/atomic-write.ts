import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, basename, join } from 'node:path';
import { LensError } from '../model/errors.js';

/**
 * Writes a file so that it either appears complete or not at all: a temporary file beside it,
 * then a rename. A failure leaves the previous file (if any) untouched.
 */
export function writeFileAtomic(path: string, data: string | Uint8Array): void {
  const dir = dirname(path);
  const temp = join(dir, `.${basename(path)}.${process.pid}.${Date.now()}.tmp`);
  try {
    mkdirSync(dir, { recursive: true });
    writeFileSync(temp, data);
    renameSync(temp, path);
  } catch (e) {
    rmSync(temp, { force: true });
    throw new LensError(`Cannot write ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, path);
  }
}
