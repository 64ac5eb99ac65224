import { visibleControls } from '../report/escape.js';

/**
 * Errors a user can act on. Every one names the file (or field, or input) at fault and what is
 * wrong with it; the CLI and the extension show `message` as it is, without a stack trace.
 */
export class LensError extends Error {
  override readonly name = 'LensError';
  /** `message` is made one line and safe to show: it often quotes a stranger's file (a tensor name, a JSON parser's excerpt). */
  constructor(message: string, readonly file?: string) {
    super(visibleControls(message));
  }
}

/** Thrown when a long operation stops because the user cancelled it. */
export class CancelledError extends Error {
  override readonly name = 'CancelledError';
  constructor() {
    super('Cancelled.');
  }
}

export function isLensError(e: unknown): e is LensError {
  return e instanceof LensError;
}
