import { visibleControls } from '../report/escape.js';

/**
 * Errors a user can act on. Every one names the file (or field, or input) at fault and what is
 * wrong with it; the CLI and the extension show `message` as it is, without a stack trace.
 */
export class LensError extends Error {
  override readonly name = 'LensError';
  /** What went wrong, where a caller acts on it ('empty-response': the model ended its response at once). */
  reason?: LensErrorReason;
  /** `message` is made one line and safe to show: it often quotes a stranger's file (a tensor name, a JSON parser's excerpt). */
  constructor(message: string, readonly file?: string) {
    super(visibleControls(message));
  }
}

export type LensErrorReason = 'empty-response';

/** A model generated nothing (its first token was end-of-sequence): nothing to attribute. */
export function emptyResponseError(spec: string): LensError {
  const error = new LensError(`${spec} produced an empty response (its first token was end-of-sequence), so there is nothing to attribute: try a prompt the model knows how to continue, or give the response to attribute`);
  error.reason = 'empty-response';
  return error;
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
