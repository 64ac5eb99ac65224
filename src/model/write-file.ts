import { lstatSync, readlinkSync, realpathSync, renameSync, rmSync, statSync, writeFileSync, type Stats } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { dirname, basename, join, resolve } from 'node:path';
import { LensError } from './errors.js';
import { describeFsError, kindOf } from './read-file.js';

/** What to do with an output path. */
export type OutputPlan =
  /** A regular file (or a new one): a temporary file beside `target` (symlinks resolved), renamed over it. */
  | { kind: 'atomic'; target: string }
  /** A device, FIFO, socket or a file under /dev or /proc (/dev/stdout, /dev/fd/N): opened and written as it is. */
  | { kind: 'through' };

function statOrNull(path: string, follow: boolean): Stats | null {
  try {
    return follow ? statSync(path) : lstatSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new LensError(`Cannot write ${path}: ${describeFsError(e)}`, path);
  }
}

/** Follows a chain of symlinks that ends at a path that does not exist yet (a dangling link). */
function danglingTarget(path: string): string {
  let current = resolve(path);
  for (let hops = 0; hops < 40; hops++) {
    const link = statOrNull(current, false);
    if (!link?.isSymbolicLink()) return current;
    current = resolve(dirname(current), readlinkSync(current));
  }
  throw new LensError(`Cannot write ${path}: too many levels of symbolic links`, path);
}

const isSpecialTree = (path: string) => /^\/(dev|proc)(\/|$)/.test(path);

/** How `path` is to be written (see writeFileAtomic); a missing parent folder or a folder as the target is an error naming it. */
export function planOutput(path: string): OutputPlan {
  const stats = statOrNull(path, true);
  if (stats) {
    if (stats.isDirectory()) throw new LensError(`Cannot write ${path}: it is a folder`, path);
    // /dev/stdout, /proc/self/fd/1 may lead to a regular file (a shell redirection): a rename
    // would replace the link, not write into what the shell opened.
    if (!stats.isFile() || isSpecialTree(resolve(path))) return { kind: 'through' };
    const target = realpathSync(path);
    return isSpecialTree(target) ? { kind: 'through' } : { kind: 'atomic', target };
  }
  const target = danglingTarget(path);
  const parent = dirname(target);
  const folder = statOrNull(parent, true);
  if (!folder) throw new LensError(`Cannot write ${path}: the folder ${parent} does not exist`, path);
  if (!folder.isDirectory()) throw new LensError(`Cannot write ${path}: ${parent} is ${kindOf(folder)}, not a folder`, path);
  return { kind: 'atomic', target };
}

/**
 * Writes a file so that it either appears complete or not at all: a temporary file beside it,
 * then a rename. A failure leaves the previous file (if any) untouched. A symlink is followed (its
 * target is replaced, the link stays); the parent folder must exist. A target that is not a
 * regular file (/dev/null, a FIFO, /dev/stdout) is written through instead, never replaced.
 */
export function writeFileAtomic(path: string, data: string | Uint8Array): void {
  const plan = planOutput(path);
  if (plan.kind === 'through') {
    try {
      writeFileSync(path, data);
    } catch (e) {
      throw new LensError(`Cannot write ${path}: ${describeFsError(e)}`, path);
    }
    return;
  }
  const temp = join(dirname(plan.target), `.${basename(plan.target)}.${process.pid}.${Date.now()}.tmp`);
  try {
    writeFileSync(temp, data, { flag: 'wx' });
    renameSync(temp, plan.target);
  } catch (e) {
    rmSync(temp, { force: true });
    throw new LensError(`Cannot write ${path}: ${describeFsError(e)}`, path);
  }
}

/** Whether an output path means standard output (`-`, /dev/stdout, /dev/fd/1, /proc/self/fd/1). */
export function writesToStdout(path: string | undefined): boolean {
  return path !== undefined && standardStream(path) === process.stdout;
}

/** `-`, /dev/stdout, /dev/fd/1, /proc/self/fd/1 → standard output; the same for standard error. */
function standardStream(path: string): NodeJS.WriteStream | null {
  if (path === '-') return process.stdout;
  const m = /^\/(?:dev\/(stdout|stderr|fd\/(\d+))|proc\/self\/fd\/(\d+))$/.exec(path);
  const fd = m ? (m[1] === 'stdout' ? 1 : m[1] === 'stderr' ? 2 : Number(m[2] ?? m[3])) : -1;
  return fd === 1 ? process.stdout : fd === 2 ? process.stderr : null;
}

/**
 * The CLI's output files (--json, --html): `-` is standard output; anything else as
 * writeFileAtomic. A device or FIFO is written asynchronously, so a FIFO without a reader does
 * not block the process (Ctrl-C still works).
 */
export async function writeOutput(path: string, data: string | Uint8Array): Promise<void> {
  const stream = standardStream(path);
  if (stream) {
    // Written on the process's own stream: /dev/stdout cannot be opened again when it is a socket
    // (ENXIO) or belongs to another user (EACCES), and the stream keeps the order of what it prints.
    await new Promise<void>((done, fail) => stream.write(data, (e) => (e ? fail(new LensError(`Cannot write ${path}: ${describeFsError(e)}`, path)) : done())));
    return;
  }
  if (planOutput(path).kind === 'through') {
    try {
      await writeFile(path, data);
    } catch (e) {
      throw new LensError(`Cannot write ${path}: ${describeFsError(e)}`, path);
    }
    return;
  }
  writeFileAtomic(path, data);
}
