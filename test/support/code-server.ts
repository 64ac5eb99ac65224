// code-server — a real VS Code whose workbench runs in a browser — for the end-to-end test:
// installed by ../shared/tools/setup-code-server.sh (npm registry and Debian only), started on a
// free port with throwaway user data and extensions folders, stopped with its whole process group.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';

const SETUP = resolve(__dirname, '..', '..', '..', 'shared', 'tools', 'setup-code-server.sh');

/** The code-server executable, installing it when missing; null (with the reason) when it cannot be had. */
export function codeServerBinary(): { bin: string } | { reason: string } {
  if (process.env.CODE_SERVER_BIN) return existsSync(process.env.CODE_SERVER_BIN) ? { bin: process.env.CODE_SERVER_BIN } : { reason: `CODE_SERVER_BIN=${process.env.CODE_SERVER_BIN} does not exist` };
  if (!existsSync(SETUP)) return { reason: `${SETUP} not found (the shared/ folder beside the repository)` };
  const run = spawnSync('bash', [SETUP], { encoding: 'utf8', timeout: 30 * 60_000 });
  const bin = run.stdout.trim().split('\n').pop() ?? '';
  if (run.status !== 0 || !existsSync(bin)) return { reason: `setup-code-server.sh failed: ${(run.stderr || run.stdout).trim().split('\n').slice(-3).join(' ')}` };
  return { bin };
}

export async function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const server = createServer();
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => done(port));
    });
  });
}

export interface CodeServer {
  url: string;
  process: ChildProcess;
  output: string[];
  stop(): Promise<void>;
}

/** Starts code-server on `workspace`; resolves once it listens. */
export async function startCodeServer(options: { bin: string; workspace: string; userDataDir: string; extensionsDir: string; env?: NodeJS.ProcessEnv }): Promise<CodeServer> {
  const port = await freePort();
  const config = join(options.userDataDir, 'code-server.yaml');
  writeFileSync(config, `bind-addr: 127.0.0.1:${port}\nauth: none\ncert: false\n`);
  const child = spawn(
    options.bin,
    [
      '--config', config,
      '--auth', 'none',
      '--bind-addr', `127.0.0.1:${port}`,
      '--disable-telemetry',
      '--disable-update-check',
      '--disable-workspace-trust',
      '--disable-getting-started-override',
      '--extensions-dir', options.extensionsDir,
      '--user-data-dir', options.userDataDir,
      options.workspace,
    ],
    { env: { ...process.env, ...options.env }, detached: true, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const output: string[] = [];
  const listening = new Promise<void>((done, fail) => {
    const timer = setTimeout(() => fail(new Error(`code-server did not start: ${output.join('')}`)), 60_000);
    const watch = (chunk: Buffer) => {
      output.push(chunk.toString());
      if (output.join('').includes('HTTP server listening')) {
        clearTimeout(timer);
        done();
      }
    };
    child.stdout!.on('data', watch);
    child.stderr!.on('data', watch);
    child.once('exit', (code) => {
      clearTimeout(timer);
      fail(new Error(`code-server exited (${code}): ${output.join('')}`));
    });
  });
  await listening;
  return {
    url: `http://127.0.0.1:${port}/`,
    process: child,
    output,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((done) => child.once('exit', done));
      // The whole group: the server, its extension host, the engine it forked, file watchers.
      try {
        process.kill(-child.pid!, 'SIGTERM');
      } catch {
        return;
      }
      const timer = setTimeout(() => {
        try {
          process.kill(-child.pid!, 'SIGKILL');
        } catch {
          // gone
        }
      }, 5000);
      await exited;
      clearTimeout(timer);
      // Children that outlive the server (an engine finishing its shutdown) go with the group too.
      await new Promise((r) => setTimeout(r, 500));
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // all gone
      }
    },
  };
}
