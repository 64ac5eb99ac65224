// What keeps a model process's memory near its weights besides the weights themselves: the native
// tokenizer let go during attribution (and loaded again, from the same bytes, when next used), the
// heap collected after a session opens, and the Node flags the CLI and engine start with.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { writeSyntheticCheckpoint } from '../../src/model/synthetic';
import { loadCheckpoint } from '../../src/model/checkpoint';
import { LensError } from '../../src/model/errors';
import { collectGarbage, MODEL_PROCESS_NODE_FLAGS } from '../../src/runtime/heap';

const root = mkdtempSync(join(tmpdir(), 'process-memory-test-'));
process.on('exit', () => rmSync(root, { recursive: true, force: true }));

test('a released tokenizer loads again on its next use and encodes alike', async () => {
  const dir = join(root, 'a');
  await writeSyntheticCheckpoint(dir, { preset: 'tiny', seed: 3 });
  const { tokenizer: files } = loadCheckpoint(dir);
  const first = files.tokenizer;
  const before = (await first.encode('the red cat', null)).getIds();
  files.releaseNative();
  const second = files.tokenizer;
  assert.notEqual(second, first, 'a fresh native tokenizer after release');
  assert.deepEqual((await second.encode('the red cat', null)).getIds(), before);
  assert.equal(files.tokenizer, second, 'kept until released again');
});

test('a tokenizer.json changed on disk after loading is refused on reload, naming the file', async () => {
  const dir = join(root, 'b');
  await writeSyntheticCheckpoint(dir, { preset: 'tiny', seed: 3 });
  const { tokenizer: files } = loadCheckpoint(dir);
  files.releaseNative();
  appendFileSync(join(dir, 'tokenizer.json'), '\n');
  assert.throws(
    () => files.tokenizer,
    (e: unknown) => e instanceof LensError && e.message.includes(join(dir, 'tokenizer.json')) && /changed on disk/.test(e.message),
  );
});

test('collectGarbage frees unreachable objects without --expose-gc', async () => {
  assert.equal(typeof (globalThis as { gc?: unknown }).gc, 'undefined', 'this test runs without --expose-gc');
  const ref = new WeakRef(Array.from({ length: 2000 }, (_, i) => Array.from({ length: 1000 }, () => i)));
  // A WeakRef's target stays alive until the job that created it ends.
  await new Promise((r) => setImmediate(r));
  collectGarbage();
  assert.equal(ref.deref(), undefined);
});

test('the built CLI starts node with the model-process flags, as the engine does', () => {
  const first = readFileSync(resolve(__dirname, '..', '..', 'dist', 'cli.js'), 'utf8').split('\n', 1)[0];
  assert.equal(first, `#!/usr/bin/env -S node ${MODEL_PROCESS_NODE_FLAGS.join(' ')}`);
});
