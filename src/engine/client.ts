// The extension's side of the protocol: starts the engine process and talks to it. No `vscode`
// import: the extension wires this to its UI, the tests drive it directly.
//
// The engine is forked lazily (on the first request), and again after it exited: a crash costs
// the request in flight, never the next one.

import { fork, type ChildProcess } from 'node:child_process';
import { MODEL_PROCESS_NODE_FLAGS } from '../runtime/heap.js';
import {
  CancellationTokenSource,
  createMessageConnection,
  Emitter,
  ResponseError,
  StreamMessageReader,
  StreamMessageWriter,
  type Event,
  type MessageConnection,
  type RequestParam,
  type RequestType,
} from 'vscode-jsonrpc/node';
import {
  AttributeRequestType,
  CompareRequestType,
  EngineErrorCodes,
  GenerateRequestType,
  InfoRequest,
  LogNotification,
  ProgressNotification,
  ShutdownRequest,
  engineErrorKind,
  type AttributeParams,
  type CompareParams,
  type EngineErrorData,
  type GenerateParams,
  type GenerateResult,
  type InfoParams,
  type ModelInfo,
  type ProgressParams,
} from './protocol.js';
import type { ModelReport, Report } from '../explain/report.js';
import { checkedModelReport, checkedReport } from './report-validation.js';

export type EngineFailureKind = 'user' | 'cancelled' | 'internal' | 'stopped';

/** A failed engine request. `message` is meant for the user as it is (no stack). */
export class EngineError extends Error {
  override readonly name = 'EngineError';
  constructor(
    readonly kind: EngineFailureKind,
    message: string,
    readonly file?: string,
    /** The engine's reason, where the extension acts on it (EngineErrorData.reason). */
    readonly reason?: EngineErrorData['reason'],
  ) {
    super(message);
  }
}

export interface EngineExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** True when the client stopped the engine (dispose, restart); false for a crash. */
  expected: boolean;
}

export interface EngineClientOptions {
  /** The bundled engine (dist/engine.js). */
  enginePath: string;
  /** Execution provider setting passed to the engine (default 'auto'). */
  provider?: string;
  /** Precision setting passed to the engine (default 'auto'). */
  precision?: string;
  /** Environment of the engine process (default: this process's). */
  env?: NodeJS.ProcessEnv;
  /** How long dispose() waits for the shutdown answer, then for the exit, before killing (ms, default 3000 each). */
  shutdownTimeoutMs?: number;
}

export interface RequestOptions {
  signal?: AbortSignal;
  onProgress?: (progress: Omit<ProgressParams, 'token'>) => void;
}

/** "exit code 1", "signal SIGKILL". */
export function describeExit(exit: { code: number | null; signal: NodeJS.Signals | null }): string {
  return exit.signal ? `signal ${exit.signal}` : `exit code ${exit.code}`;
}

export function toEngineError(e: unknown): EngineError {
  if (e instanceof EngineError) return e;
  if (e instanceof ResponseError) {
    const data = e.data as EngineErrorData | undefined;
    if (e.code === EngineErrorCodes.Cancelled) return new EngineError('cancelled', e.message);
    return new EngineError(engineErrorKind(e.code), e.message, data?.file, data?.reason);
  }
  return new EngineError('internal', e instanceof Error ? e.message : String(e));
}

function cancelledError(): EngineError {
  return new EngineError('cancelled', 'Cancelled.');
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => resolve(undefined), ms);
    promise.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (e) => {
        clearTimeout(timer);
        reject(e);
      },
    );
  });
}

/** One running engine process and its connection. */
interface EngineProcess {
  child: ChildProcess;
  connection: MessageConnection;
  exited: Promise<EngineExit>;
  expected: boolean;
  /** Called with the exit for each request still waiting for an answer. */
  waiting: Set<(exit: EngineExit) => void>;
}

export class EngineClient {
  private readonly logEmitter = new Emitter<string>();
  private readonly exitEmitter = new Emitter<EngineExit>();
  private readonly progressHandlers = new Map<string, NonNullable<RequestOptions['onProgress']>>();
  private current: EngineProcess | undefined;
  private nextProgressToken = 1;
  private disposed = false;

  /** Lines from the engine: its log notifications and its stderr. */
  readonly onLog: Event<string> = this.logEmitter.event;
  /** Every exit of an engine process; `expected` is false for a crash. */
  readonly onExit: Event<EngineExit> = this.exitEmitter.event;

  constructor(private readonly options: EngineClientOptions) {}

  /** The engine's process id, when one runs. */
  get pid(): number | undefined {
    return this.current?.child.pid;
  }

  get running(): boolean {
    return this.current !== undefined;
  }

  /** Starts the engine process if none runs (requests do this by themselves). */
  start(): void {
    this.ensureStarted();
  }

  info(params: InfoParams, options: RequestOptions = {}): Promise<ModelInfo> {
    return this.request(InfoRequest, params, options);
  }

  generate(params: Omit<GenerateParams, 'progressToken'>, options: RequestOptions = {}): Promise<GenerateResult> {
    return this.request(GenerateRequestType, params, options);
  }

  /** One model's attribution report. */
  attribute(params: Omit<AttributeParams, 'progressToken'>, options: RequestOptions = {}): Promise<ModelReport> {
    return this.request(AttributeRequestType, params, options).then(checkedModelReport);
  }

  /** Both models on one prompt: the report (with the heads/FFN sections asked for). */
  compare(params: Omit<CompareParams, 'progressToken'>, options: RequestOptions = {}): Promise<Report> {
    return this.request(CompareRequestType, params, options).then(checkedReport);
  }

  /** Stops the running engine (gracefully) and starts a fresh one. */
  async restart(): Promise<void> {
    await this.stop();
    if (!this.disposed) this.ensureStarted();
  }

  /** Stops the engine: shutdown request, stdin closed, SIGKILL if it has not exited in time. */
  async dispose(): Promise<void> {
    this.disposed = true;
    await this.stop();
    this.logEmitter.dispose();
    this.exitEmitter.dispose();
  }

  private ensureStarted(): EngineProcess {
    if (this.disposed) throw new EngineError('stopped', 'The Instruction Lens engine has been disposed.');
    if (this.current) return this.current;
    const args = [...(this.options.provider ? ['--provider', this.options.provider] : []), ...(this.options.precision ? ['--precision', this.options.precision] : [])];
    const child = fork(this.options.enginePath, args, {
      stdio: ['pipe', 'pipe', 'pipe', 'ipc'],
      execArgv: MODEL_PROCESS_NODE_FLAGS,
      // VS Code's extension host sets this already (fork then runs Electron as Node); be explicit.
      env: { ...(this.options.env ?? process.env), ELECTRON_RUN_AS_NODE: '1' },
    });
    const connection = createMessageConnection(new StreamMessageReader(child.stdout!), new StreamMessageWriter(child.stdin!));
    // Writes to a dead engine fail with EPIPE; the exit handler reports what happened.
    child.stdin!.on('error', () => undefined);
    child.on('error', (e) => this.logEmitter.fire(`engine process error: ${e.message}`));
    let stderrRest = '';
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (chunk: string) => {
      const lines = (stderrRest + chunk).split('\n');
      stderrRest = lines.pop()!;
      for (const line of lines) if (line) this.logEmitter.fire(line);
    });
    const proc: EngineProcess = {
      child,
      connection,
      expected: false,
      waiting: new Set(),
      exited: new Promise<EngineExit>((resolve) => {
        child.once('exit', (code, signal) => {
          if (stderrRest) this.logEmitter.fire(stderrRest);
          stderrRest = '';
          const exit: EngineExit = { code, signal, expected: proc.expected };
          if (this.current === proc) this.current = undefined;
          connection.dispose();
          for (const fail of [...proc.waiting]) fail(exit);
          resolve(exit);
          this.exitEmitter.fire(exit);
        });
      }),
    };
    connection.onNotification(LogNotification, ({ line }) => this.logEmitter.fire(line));
    connection.onNotification(ProgressNotification, ({ token, ...progress }) => this.progressHandlers.get(token)?.(progress));
    connection.onError(([error]) => this.logEmitter.fire(`engine connection error: ${error.message}`));
    connection.listen();
    this.current = proc;
    return proc;
  }

  private async stop(): Promise<void> {
    const proc = this.current;
    if (!proc) return;
    this.current = undefined;
    proc.expected = true;
    const timeout = this.options.shutdownTimeoutMs ?? 3000;
    try {
      await withTimeout(
        Promise.race([proc.connection.sendRequest(ShutdownRequest), proc.exited]),
        timeout,
      );
    } catch {
      // Already gone, or not answering: it is killed below.
    }
    proc.child.stdin?.end();
    if ((await withTimeout(proc.exited, timeout)) === undefined) {
      proc.child.kill('SIGKILL');
      await proc.exited;
    }
  }

  /**
   * Sends a request with cancellation: aborting `signal` sends $/cancelRequest (the engine stops
   * the operation) and rejects at once with a 'cancelled' EngineError. An engine that exits while
   * the request runs rejects it with a 'stopped' EngineError.
   */
  private request<P extends object, R>(type: RequestType<P, R, EngineErrorData>, params: P, options: RequestOptions): Promise<R> {
    const { signal, onProgress } = options;
    if (signal?.aborted) return Promise.reject(cancelledError());
    let proc: EngineProcess;
    try {
      proc = this.ensureStarted();
    } catch (e) {
      return Promise.reject(e);
    }
    const source = new CancellationTokenSource();
    let progressToken: string | undefined;
    if (onProgress) {
      progressToken = String(this.nextProgressToken++);
      this.progressHandlers.set(progressToken, onProgress);
    }
    const message = progressToken === undefined ? params : { ...params, progressToken };
    return new Promise<R>((resolve, reject) => {
      let settled = false;
      const settle = (action: () => void) => {
        if (settled) return;
        settled = true;
        proc.waiting.delete(onExit);
        signal?.removeEventListener('abort', onAbort);
        if (progressToken !== undefined) this.progressHandlers.delete(progressToken);
        source.dispose();
        action();
      };
      const onAbort = () => {
        source.cancel();
        settle(() => reject(cancelledError()));
      };
      const onExit = (exit: EngineExit) =>
        settle(() =>
          reject(
            exit.expected
              ? new EngineError('stopped', 'The Instruction Lens engine was stopped before it answered.')
              : new EngineError('stopped', `Instruction Lens engine stopped unexpectedly (${describeExit(exit)})`),
          ),
        );
      proc.waiting.add(onExit);
      signal?.addEventListener('abort', onAbort);
      proc.connection.sendRequest<P, R, EngineErrorData>(type, message as RequestParam<P>, source.token).then(
        (result) => settle(() => resolve(result)),
        (e) => settle(() => reject(toEngineError(e))),
      );
    });
  }
}
