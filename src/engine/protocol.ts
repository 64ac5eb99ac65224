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
import type { describeCheckpoint } from './model-pool.js';
import type { AttributeRequest, CompareRequest, GenerateRequest, GenerateResult } from './operations.js';
import type { ModelReport, Report } from '../explain/report.js';

export type { GenerateRequest, GenerateResult } from './operations.js';

/** Which of the two models a request is about: picks the embedded default when `model` is ''. */
export type ModelRole = 'base' | 'tuned';

export interface ModelParams {
  /** A model folder or a Hugging Face hub id in the local cache; '' = the embedded default. */
  model: string;
  /** Which embedded default '' stands for (default 'base'). */
  role?: ModelRole;
}

/** Ties the engine's progress notifications to the request they are about. */
export interface ProgressParamsBase {
  progressToken?: string;
}

export type InfoParams = ModelParams;

/** What `instructionLens/info` returns: the checkpoint's description, as `instruction-lens info --json` writes it. */
export type ModelInfo = ReturnType<typeof describeCheckpoint>;

export interface GenerateParams extends GenerateRequest, ProgressParamsBase {
  role?: ModelRole;
}

/** `instructionLens/attribute`: one model's attribution report. `model` '' is the embedded default of `role`. */
export interface AttributeParams extends AttributeRequest, ProgressParamsBase {
  role?: ModelRole;
}

/** `instructionLens/compare`: both models on one prompt. `base`/`tuned` '' are the embedded defaults. */
export interface CompareParams extends CompareRequest, ProgressParamsBase {}

/** The precision setting: fp16 applies on a GPU only; the CPU always computes in fp32. */
export type Precision = 'auto' | 'fp32' | 'fp16';

export type EngineErrorKind = 'user' | 'cancelled' | 'internal';

/** The `data` of every ResponseError the engine sends. */
export interface EngineErrorData {
  kind: EngineErrorKind;
  /** The file at fault, when the error names one (LensError.file). */
  file?: string;
}

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

export interface LogParams {
  line: string;
}

/** engine → extension: a line for the output channel. */
export const LogNotification = new NotificationType<LogParams>('instructionLens/log');

export interface ProgressParams {
  /** The progressToken of the request this is about. */
  token: string;
  message: string;
  /** Percentage of the whole work done since the previous report (as vscode.Progress takes it). */
  increment?: number;
}

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
