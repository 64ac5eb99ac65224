// The engine as the extension runs it: dist/engine.js forked by EngineClient, JSON-RPC over the
// child's stdin/stdout, so the test runs what ships.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { EngineClient, EngineError, type EngineExit } from '../../src/engine/client.js';
import { writeSyntheticCheckpoint } from '../../src/model/synthetic.js';

const root = resolve(__dirname, '..', '..');
const enginePath = join(root, 'dist', 'engine.js');

describe('engine process (dist/engine.js via EngineClient)', () => {
  let dir: string;
  let model: string;
  let client: EngineClient;
  const exits: EngineExit[] = [];
  const logs: string[] = [];

  before(async () => {
    // `npm test` builds dist/ before any test runs; build here only when this file runs alone.
    if (!existsSync(enginePath)) execFileSync(process.execPath, [join(root, 'scripts', 'build.mjs')], { cwd: root, stdio: 'inherit' });
    dir = mkdtempSync(join(tmpdir(), 'lens-engine-process-'));
    model = join(dir, 'tiny');
    await writeSyntheticCheckpoint(model, { preset: 'tiny', seed: 5 });
    client = new EngineClient({
      enginePath,
      provider: 'cpu',
      // The default model (model '') is generated into this cache, not the user's.
      env: { ...process.env, INSTRUCTION_LENS_CACHE: join(dir, 'cache') },
      shutdownTimeoutMs: 5000,
    });
    client.onExit((exit) => exits.push(exit));
    client.onLog((line) => logs.push(line));
  });

  after(async () => {
    await client?.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  it('starts lazily and answers info', async () => {
    assert.equal(client.running, false);
    const info = await client.info({ model });
    assert.equal(client.running, true);
    assert.equal(info.path, model);
    assert.equal(info.architecture, 'LlamaForCausalLM');
    assert.equal(info.vocabSize, 4096);
  });

  it('generates, with progress', async () => {
    const messages: string[] = [];
    const result = await client.generate({ model, prompt: 'Explain the following idea', maxNewTokens: 4 }, { onProgress: (p) => messages.push(p.message) });
    assert.equal(result.executionProvider, 'cpu');
    assert.ok(result.outputIds.length <= 4);
    assert.ok(messages.length >= 2, JSON.stringify(messages));
  });

  it("resolves model '' to the default model in the engine", async () => {
    const info = await client.info({ model: '' });
    assert.ok(info.path.startsWith(join(dir, 'cache')) || info.path.includes(join('models', 'demo')), info.path);
    assert.ok(logs.some((l) => l.includes(info.path)), logs.join('\n'));
  });

  it('reports user errors with their message', async () => {
    const missing = join(dir, 'missing-model');
    await assert.rejects(client.info({ model: missing }), (e: unknown) => {
      assert.ok(e instanceof EngineError, String(e));
      assert.equal(e.kind, 'user');
      assert.ok(e.message.includes(missing), e.message);
      return true;
    });
  });

  it('cancels through an AbortSignal', async () => {
    const controller = new AbortController();
    const pending = client.generate({ model, prompt: 'Tell a long story', maxNewTokens: 200 }, { signal: controller.signal, onProgress: () => controller.abort() });
    await assert.rejects(pending, (e: unknown) => e instanceof EngineError && e.kind === 'cancelled');
    const after = await client.info({ model });
    assert.equal(after.path, model);
  });

  it('sees a crash (SIGKILL) and starts afresh on the next request', async () => {
    const pid = client.pid;
    assert.ok(pid);
    const exitSeen = new Promise<EngineExit>((resolveExit) => client.onExit(resolveExit));
    process.kill(pid, 'SIGKILL');
    const exit = await exitSeen;
    assert.equal(exit.signal, 'SIGKILL');
    assert.equal(exit.expected, false);
    assert.equal(client.running, false);
    // The next request forks a new engine.
    const info = await client.info({ model });
    assert.equal(info.path, model);
    assert.ok(client.pid && client.pid !== pid);
  });

  it('fails a request in flight when the engine dies', async () => {
    const pending = client.generate({ model, prompt: 'Keep generating', maxNewTokens: 200 }, { onProgress: () => process.kill(client.pid!, 'SIGKILL') });
    await assert.rejects(pending, (e: unknown) => {
      assert.ok(e instanceof EngineError, String(e));
      // Killed at its first progress report, long before 200 tokens.
      assert.equal(e.kind, 'stopped');
      assert.match(e.message, /stopped unexpectedly \(signal SIGKILL\)/);
      return true;
    });
  });

  it('restart() stops the engine gracefully and starts a new one', async () => {
    await client.info({ model });
    const before = client.pid;
    const count = exits.length;
    await client.restart();
    assert.equal(exits.length, count + 1);
    const graceful = exits.at(-1)!;
    assert.equal(graceful.expected, true);
    assert.equal(graceful.code, 0, JSON.stringify(graceful));
    assert.ok(client.running);
    assert.notEqual(client.pid, before);
    const info = await client.info({ model });
    assert.equal(info.path, model);
  });

  it('dispose() shuts the engine down cleanly', async () => {
    const count = exits.length;
    await client.dispose();
    assert.equal(client.running, false);
    assert.equal(exits.length, count + 1);
    assert.equal(exits.at(-1)!.code, 0);
    await assert.rejects(client.info({ model }), (e: unknown) => e instanceof EngineError && e.kind === 'stopped');
  });
});
