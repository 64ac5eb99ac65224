// The JSON-RPC protocol between the extension host (EngineClient) and the engine process
// (startEngineServer). Plain types and vscode-jsonrpc message types only: this file is imported
// on both sides, so it must not pull in the engine's runtime (onnxruntime, tokenizers) nor
// `vscode`. Transport: vscode-jsonrpc's Content-Length framing over the engine's stdin/stdout.
//
// Cancellation: every request is sent with a CancellationToken; cancelling it sends
// `$/cancelRequest`, the engine aborts the operation and answers with a ResponseError whose code
// is EngineErrorCodes.Cancelled.
//
// Errors: every failed request is answered with a ResponseError<EngineErrorData>: the message is
// what the user should read (a LensError's message as it is, never a stack), the code says which
// kind of failure it was.

import { ErrorCodes, NotificationType, RequestType, RequestType0, ResponseError } from 'vscode-jsonrpc/node';
import type { ModelReport, Report } from '../contract/report.js';
import type {
  AttributeParams,
  CompareParams,
  EngineErrorData,
  EngineErrorKind,
  GenerateParams,
  GenerateResult,
  InfoParams,
  LogParams,
  ModelInfo,
  ProgressParams,
} from '../contract/engine.js';

// The params and results are the contract's (src/contract/engine.ts).
export type {
  AttributeParams,
  CompareParams,
  EngineErrorData,
  EngineErrorKind,
  GenerateParams,
  GenerateRequest,
  GenerateResult,
  InfoParams,
  LogParams,
  ModelInfo,
  ModelParams,
  ModelRole,
  Precision,
  ProgressParams,
  ProgressParamsBase,
} from '../contract/engine.js';

export const EngineErrorCodes = {
  /** Something the user can fix: a missing folder, an unsupported architecture, a prompt too long. */
  UserError: 1,
  /** The request was cancelled ($/cancelRequest). The same code LSP uses for RequestCancelled. */
  Cancelled: -32800,
  /** A bug or an unexpected failure in the engine. */
  Internal: ErrorCodes.InternalError,
  /** The request's parameters are malformed (a bug in the client). */
  InvalidParams: ErrorCodes.InvalidParams,
} as const;

/** `instructionLens/info` {model, role?} → the checkpoint's description. Reads headers only. */
export const InfoRequest = new RequestType<InfoParams, ModelInfo, EngineErrorData>('instructionLens/info');

/** `instructionLens/generate` GenerateParams → GenerateResult: greedy generation. `model` in the result is the resolved model (the default's folder when '' was asked). */
export const GenerateRequestType = new RequestType<GenerateParams, GenerateResult, EngineErrorData>('instructionLens/generate');

/** `instructionLens/attribute` AttributeParams → ModelReport (`model.id` is what was asked; '' becomes the default's folder). */
export const AttributeRequestType = new RequestType<AttributeParams, ModelReport, EngineErrorData>('instructionLens/attribute');

/**
 * `instructionLens/compare` CompareParams → Report. Progress: per model and phase, per attribution
 * chunk, per analysed layer of the heads/FFN sections (`heads`/`ffn` in the params: which to compute).
 */
export const CompareRequestType = new RequestType<CompareParams, Report, EngineErrorData>('instructionLens/compare');

/** `instructionLens/shutdown`: cancel what runs, release the models; the engine exits when its stdin closes (or shortly after). */
export const ShutdownRequest = new RequestType0<void, EngineErrorData>('instructionLens/shutdown');

/** engine → extension: a line for the output channel. */
export const LogNotification = new NotificationType<LogParams>('instructionLens/log');

/** engine → extension: progress of the request that carried `progressToken`. */
export const ProgressNotification = new NotificationType<ProgressParams>('instructionLens/progress');

export function engineErrorKind(code: number): EngineErrorKind {
  if (code === EngineErrorCodes.UserError) return 'user';
  if (code === EngineErrorCodes.Cancelled) return 'cancelled';
  return 'internal';
}

export function isResponseError(e: unknown): e is ResponseError<unknown> {
  return e instanceof ResponseError;
}
