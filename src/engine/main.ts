// The engine process: the protocol (src/engine/protocol.ts) over stdin/stdout. Started by
// EngineClient with child_process.fork; stdout carries JSON-RPC only, so everything else that
// would print goes to stderr (which the client copies to its log).
//
// Arguments: --provider auto|cuda|webgpu|cpu (default auto).

import { format } from 'node:util';
import { createMessageConnection, StreamMessageReader, StreamMessageWriter } from 'vscode-jsonrpc/node';
import { parseProviderSetting, type ProviderSetting } from '../runtime/session.js';
import { startEngineServer } from './server.js';

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

export function parseEngineArgs(argv: string[]): { provider: ProviderSetting } {
  let provider: ProviderSetting = 'auto';
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--provider' && argv[i + 1] !== undefined) provider = parseProviderSetting(argv[++i]!);
    else if (argv[i]!.startsWith('--provider=')) provider = parseProviderSetting(argv[i]!.slice('--provider='.length));
  }
  return { provider };
}

function main(): void {
  guardStdout();
  const { provider } = parseEngineArgs(process.argv.slice(2));
  const connection = createMessageConnection(new StreamMessageReader(process.stdin), new StreamMessageWriter(process.stdout));

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

  const server = startEngineServer(connection, {
    provider,
    log: stderrLine,
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
