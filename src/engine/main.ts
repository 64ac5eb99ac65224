// The engine process: the protocol (src/engine/protocol.ts) over stdin/stdout. Started by
// EngineClient with child_process.fork; stdout carries JSON-RPC only, so everything else that
// would print goes to stderr (which the client copies to its log).
//
// Arguments: --provider auto|cuda|webgpu|cpu (default auto), --precision auto|fp32|fp16 (default auto).

import { format } from 'node:util';
import { createMessageConnection, StreamMessageWriter } from 'vscode-jsonrpc/node';
import { parseProviderSetting, type ProviderSetting } from '../runtime/session.js';
import type { Precision } from './protocol.js';
import { startEngineServer } from './server.js';
import { GuardedMessageReader } from './transport.js';

/** Grace period between "stop" (shutdown, stdin closed, parent gone) and a forced exit. */
const EXIT_GRACE_MS = 2000;

function stderrLine(line: string): void {
  process.stderr.write(`[engine] ${line}\n`);
}

/** console.* must never reach stdout: it would corrupt the message stream. */
function guardStdout(): void {
  const toStderr = (...args: unknown[]) => process.stderr.write(`${format(...args)}\n`);
  console.log = toStderr;
  console.info = toStderr;
  console.debug = toStderr;
  console.trace = toStderr;
  console.dir = (item: unknown) => toStderr(item);
  console.table = toStderr;
}

function parsePrecision(value: string): Precision {
  if (value === 'auto' || value === 'fp32' || value === 'fp16') return value;
  throw new Error(`--precision must be auto, fp32 or fp16, got '${value}'`);
}

export function parseEngineArgs(argv: string[]): { provider: ProviderSetting; precision: Precision } {
  let provider: ProviderSetting = 'auto';
  let precision: Precision = 'auto';
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--provider' && argv[i + 1] !== undefined) provider = parseProviderSetting(argv[++i]!);
    else if (argv[i]!.startsWith('--provider=')) provider = parseProviderSetting(argv[i]!.slice('--provider='.length));
    else if (argv[i] === '--precision' && argv[i + 1] !== undefined) precision = parsePrecision(argv[++i]!);
    else if (argv[i]!.startsWith('--precision=')) precision = parsePrecision(argv[i]!.slice('--precision='.length));
  }
  return { provider, precision };
}

function main(): void {
  guardStdout();
  const { provider, precision } = parseEngineArgs(process.argv.slice(2));
  // A malformed frame is answered with a parse error, then the engine exits: its stream position is
  // lost, and the client starts a fresh engine for the next request.
  const reader = new GuardedMessageReader(process.stdin, new StreamMessageWriter(process.stdout), (reason) => {
    stderrLine(`framing error: ${reason}; exiting`);
    process.exit(1);
  });
  const connection = createMessageConnection(reader, reader.trackingWriter());

  let stopping = false;
  const stop = (reason: string) => {
    if (stopping) return;
    stopping = true;
    stderrLine(`stopping (${reason})`);
    void server.dispose().finally(() => {
      connection.dispose();
      process.stdin.destroy();
      if (process.connected) process.disconnect();
      // Nothing should keep the process alive now; if something native does, leave anyway.
      setTimeout(() => process.exit(0), EXIT_GRACE_MS).unref();
    });
  };

  // No `log` option: log lines travel as notifications, which the client shows; a copy on stderr
  // would reach it twice. stderr carries what the connection cannot (stopping, uncaught exceptions).
  const server = startEngineServer(connection, {
    provider,
    precision,
    // The models are released. The client closes our stdin once it has the answer (then we stop
    // at once); this timer covers a client that does not.
    onShutdown: () => setTimeout(() => stop('shutdown'), EXIT_GRACE_MS).unref(),
  });

  connection.onClose(() => stop('connection closed'));
  connection.onError(([error]) => stderrLine(`connection error: ${error.message}`));
  process.stdin.once('end', () => stop('stdin closed'));
  // Forked with an IPC channel: it closes when the parent dies, even if stdin somehow does not.
  process.once('disconnect', () => stop('parent disconnected'));
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.on('uncaughtException', (e) => {
    // The state is unknown after this: exit, and the client starts a fresh engine on the next request.
    stderrLine(`uncaught exception: ${e.stack ?? e}`);
    process.exit(70);
  });
  process.on('unhandledRejection', (e) => stderrLine(`unhandled rejection: ${(e as Error)?.stack ?? e}`));
}

main();
