// The engine's side of the protocol: request handlers over a ModelPool. Transport-agnostic (the
// engine process wires it to stdio, the tests to in-memory streams).

import { ResponseError, type CancellationToken, type MessageConnection } from 'vscode-jsonrpc/node';
import { defaultModel, type DefaultModel } from '../model/default-model.js';
import { loadCheckpoint } from '../model/checkpoint.js';
import { CancelledError, LensError } from '../model/errors.js';
import { executionDevice, type ProviderSetting } from '../runtime/session.js';
import { ModelPool, describeCheckpoint } from './model-pool.js';
import { attribute, compare, generate } from './operations.js';
import { paramsProblem } from './schemas.js';
import { MAX_WORDS_FILE_BYTES, checkInputFile } from '../model/read-file.js';
import { ProgressPlan, attributionStep, sectionStep } from './progress.js';
import {
  AttributeRequestType,
  CompareRequestType,
  EngineErrorCodes,
  GenerateRequestType,
  InfoRequest,
  LogNotification,
  ProgressNotification,
  ShutdownRequest,
  type AttributeParams,
  type CompareParams,
  type EngineErrorData,
  type GenerateParams,
  type Precision,
  type ModelInfo,
  type ModelParams,
  type ModelRole,
} from './protocol.js';

/** How long dispose() waits for cancelled requests to stop before releasing the models anyway. */
const SHUTDOWN_WAIT_MS = 5000;

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

export interface EngineServerOptions {
  /** Execution provider for every model of this engine (default 'auto'). */
  provider?: ProviderSetting;
  /** The precision setting (default 'auto'): float16 on a GPU for F16/BF16 checkpoints; the CPU computes in float32. */
  precision?: Precision;
  /** Resolves '' to the embedded default model (default: defaultModel, the embedded demo pair). */
  defaultModel?: (role: ModelRole) => Promise<DefaultModel>;
  /** Also called for every log line (besides the log notification to the client). */
  log?: (line: string) => void;
  /** Called once the shutdown request has been answered and everything is released. */
  onShutdown?: () => void;
}

export interface EngineServer {
  readonly pool: ModelPool;
  /** Cancels what runs and releases the models (idempotent). */
  dispose(): Promise<void>;
}

/** A CancellationToken as an AbortSignal; dispose() detaches it. */
export function abortSignalOf(token: CancellationToken): { signal: AbortSignal; dispose(): void } {
  const controller = new AbortController();
  if (token.isCancellationRequested) controller.abort();
  const listener = token.onCancellationRequested(() => controller.abort());
  return { signal: controller.signal, dispose: () => listener.dispose() };
}

/**
 * The ResponseError a failure becomes: LensError → UserError with its message as it is;
 * CancelledError, or any failure after the request was cancelled → Cancelled; anything else →
 * Internal, with the message only (the stack goes to the log).
 */
export function toResponseError(e: unknown, cancelled = false): ResponseError<EngineErrorData> {
  if (e instanceof ResponseError) return e as ResponseError<EngineErrorData>;
  if (e instanceof CancelledError || (cancelled && !(e instanceof LensError))) {
    return new ResponseError(EngineErrorCodes.Cancelled, 'Cancelled.', { kind: 'cancelled' });
  }
  if (e instanceof LensError) {
    const data: EngineErrorData = { kind: 'user', ...(e.file === undefined ? {} : { file: e.file }), ...(e.reason ? { reason: e.reason } : {}) };
    return new ResponseError(EngineErrorCodes.UserError, e.message, data);
  }
  const message = e instanceof Error ? e.message : String(e);
  return new ResponseError(EngineErrorCodes.Internal, `Internal error in the Instruction Lens engine: ${message}`, { kind: 'internal' });
}

function invalidParams(message: string): ResponseError<EngineErrorData> {
  return new ResponseError(EngineErrorCodes.InvalidParams, message, { kind: 'internal' });
}

function checkParams(method: string, params: unknown): void {
  const problem = paramsProblem(method, params);
  if (problem !== null) throw invalidParams(problem);
}

function checkModelParams(params: unknown, method: string): asserts params is ModelParams {
  checkParams(method, params);
}

export function checkGenerateParams(params: unknown): asserts params is GenerateParams {
  checkParams(GenerateRequestType.method, params);
}

export function checkAttributeParams(params: unknown): asserts params is AttributeParams {
  checkParams(AttributeRequestType.method, params);
}

export function checkCompareParams(params: unknown): asserts params is CompareParams {
  checkParams(CompareRequestType.method, params);
}

/** Registers the protocol's handlers on `connection` and starts listening. */
export function startEngineServer(connection: MessageConnection, options: EngineServerOptions = {}): EngineServer {
  const pool = new ModelPool({ provider: options.provider ?? 'auto', precision: options.precision ?? 'auto', log: (line) => log(line) });
  const running = new Map<AbortController, Promise<unknown>>();
  const defaults = new Map<ModelRole, Promise<DefaultModel>>();
  let disposed: Promise<void> | null = null;

  function log(line: string): void {
    options.log?.(line);
    if (!disposed) connection.sendNotification(LogNotification, { line }).catch(() => undefined);
  }

  function progress(token: string | undefined, message: string, increment?: number): void {
    if (token === undefined || disposed) return;
    connection.sendNotification(ProgressNotification, increment === undefined ? { token, message } : { token, message, increment }).catch(() => undefined);
  }

  async function resolveModel(params: ModelParams): Promise<string> {
    if (params.model !== '') return params.model;
    const role = params.role ?? 'base';
    let pending = defaults.get(role);
    if (!pending) {
      pending = (options.defaultModel ?? defaultModel)(role);
      defaults.set(role, pending);
      pending.then((d) => log(d.note), () => defaults.delete(role));
    }
    return (await pending).path;
  }

  /** Runs a handler with an AbortSignal tied to the request's token (and to shutdown); maps failures to ResponseErrors. */
  async function handle<R>(token: CancellationToken, method: string, run: (signal: AbortSignal) => Promise<R>): Promise<R | ResponseError<EngineErrorData>> {
    if (disposed) return new ResponseError(EngineErrorCodes.Cancelled, 'The engine is shutting down.', { kind: 'cancelled' });
    const controller = new AbortController();
    const linked = abortSignalOf(token);
    const onAbort = () => controller.abort();
    linked.signal.addEventListener('abort', onAbort);
    if (linked.signal.aborted) controller.abort();
    const started = performance.now();
    const work = run(controller.signal);
    running.set(controller, work);
    try {
      return await work;
    } catch (e) {
      const error = toResponseError(e, controller.signal.aborted);
      if (error.code === EngineErrorCodes.Internal) log(`${method} failed: ${(e as Error)?.stack ?? e}`);
      // The work has really stopped here (the operation checked its signal and threw).
      if (error.code === EngineErrorCodes.Cancelled) log(`${method} cancelled: stopped after ${((performance.now() - started) / 1000).toFixed(1)} s`);
      return error;
    } finally {
      running.delete(controller);
      linked.signal.removeEventListener('abort', onAbort);
      linked.dispose();
    }
  }

  connection.onRequest(InfoRequest, (params, token) =>
    handle(token, InfoRequest.method, async (): Promise<ModelInfo> => {
      checkModelParams(params, InfoRequest.method);
      return describeCheckpoint(loadCheckpoint(await resolveModel(params)));
    }),
  );

  connection.onRequest(GenerateRequestType, (params, token) =>
    handle(token, GenerateRequestType.method, async (signal) => {
      checkGenerateParams(params);
      const { progressToken, role: _role, ...rest } = params;
      progress(progressToken, 'Loading the model…');
      const model = await resolveModel(params);
      if (signal.aborted) throw new CancelledError();
      const runner = await pool.get(model);
      if (signal.aborted) throw new CancelledError();
      progress(progressToken, runner.executionProvider ? `Generating on ${executionDevice(runner.executionProvider)}…` : 'Generating…', 10);
      const result = await generate(pool, { ...rest, model }, signal);
      progress(progressToken, `Generated ${result.outputIds.length} tokens`, 90);
      return result;
    }),
  );

  connection.onRequest(AttributeRequestType, (params, token) =>
    handle(token, AttributeRequestType.method, async (signal) => {
      checkAttributeParams(params);
      const { progressToken, role, ...rest } = params;
      const plan = new ProgressPlan([role ?? 'base'], (message, increment) => progress(progressToken, message, increment));
      plan.report(role ?? 'base', 0, 'Loading the model…');
      const model = await resolveModel(params);
      if (signal.aborted) throw new CancelledError();
      return attribute(pool, { ...rest, model }, {
        signal,
        onProgress: (p) => {
          const step = attributionStep(role ?? 'base', p);
          plan.report(role ?? 'base', step.fraction, step.message);
        },
      });
    }),
  );

  connection.onRequest(CompareRequestType, (params, token) =>
    handle(token, CompareRequestType.method, async (signal) => {
      checkCompareParams(params);
      if (params.wordsFile !== undefined) checkInputFile(params.wordsFile, 'the word list', MAX_WORDS_FILE_BYTES);
      if (params.headsOptions?.vectors !== undefined) checkInputFile(params.headsOptions.vectors, 'the word vectors');
      const { progressToken, ...rest } = params;
      const stages = ['base', 'tuned'];
      if (rest.heads !== false) stages.push('heads:base', 'heads:tuned');
      if (rest.ffn !== false) stages.push('ffn:base', 'ffn:tuned');
      const plan = new ProgressPlan(stages, (message, increment) => progress(progressToken, message, increment));
      plan.report('base', 0, 'Loading the models…');
      const base = await resolveModel({ model: rest.base, role: 'base' });
      const tuned = await resolveModel({ model: rest.tuned, role: 'tuned' });
      if (signal.aborted) throw new CancelledError();
      return compare(pool, { ...rest, base, tuned }, {
        signal,
        log,
        onProgress: (role, p) => {
          const step = attributionStep(role, p);
          plan.report(role, step.fraction, step.message);
        },
        onAnalysisProgress: (role, p) => {
          const step = sectionStep(role, p);
          plan.report(`${p.section}:${role}`, step.fraction, step.message);
        },
      });
    }),
  );

  const server: EngineServer = {
    pool,
    dispose() {
      if (!disposed) {
        const pending = [...running.values()];
        for (const c of running.keys()) c.abort();
        // Let the cancelled requests stop (they check their signal between decoding steps) before
        // their sessions are released; a session is never released while it runs.
        disposed = Promise.race([Promise.allSettled(pending), delay(SHUTDOWN_WAIT_MS)]).then(() => pool.dispose());
      }
      return disposed;
    },
  };

  connection.onRequest(ShutdownRequest, async () => {
    await server.dispose();
    if (options.onShutdown) setImmediate(options.onShutdown);
  });

  connection.listen();
  return server;
}
