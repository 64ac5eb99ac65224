/**
 * Errors a user can act on. Every one names the file (or field, or input) at fault and what is
 * wrong with it; the CLI and the extension show `message` as it is, without a stack trace.
 */
export class LensError extends Error {
  override readonly name = 'LensError';
  constructor(message: string, readonly file?: string) {
    super(message);
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
