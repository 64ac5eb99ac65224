// What keeps a model process's memory near its weights besides the weights themselves: the native
// tokenizer let go during attribution (and loaded again, from the same bytes, when next used), the
// heap collected (and compacted) after a session opens and during generation, the tokenizer.json text not kept, the
// attribution chunk sized to what the runtime leaves, and the Node flags the CLI and engine start with.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { getHeapSnapshot, getHeapSpaceStatistics } from 'node:v8';
import { writeSyntheticCheckpoint } from '../../src/model/synthetic';
import { loadCheckpoint } from '../../src/model/checkpoint';
import { LensError } from '../../src/model/errors';
import { collectGarbage, MODEL_PROCESS_NODE_FLAGS } from '../../src/runtime/heap';
import { attributionChunkBudget, decodeGarbageBudget } from '../../src/llm/runner';

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

test('a loaded tokenizer does not keep the text of its tokenizer.json alive', async () => {
  const dir = join(root, 'text');
  await writeSyntheticCheckpoint(dir, { preset: 'tiny', seed: 5 });
  const text = readFileSync(join(dir, 'tokenizer.json'), 'utf8');
  const head = text.slice(0, 120);
  const { tokenizer: files } = loadCheckpoint(dir);
  assert.ok(files.tokenizer, 'loaded');
  collectGarbage();
  // The snapshot names each string node by its contents: how many nodes hold the file's text?
  const snapshot = JSON.parse(await new Promise<string>((done, fail) => {
    const parts: string[] = [];
    const stream = getHeapSnapshot();
    stream.on('data', (part: Buffer) => parts.push(part.toString('utf8')));
    stream.on('end', () => done(parts.join('')));
    stream.on('error', fail);
  })) as { snapshot: { meta: { node_fields: string[] } }; nodes: number[]; strings: string[] };
  const fields = snapshot.snapshot.meta.node_fields;
  const nameAt = fields.indexOf('name');
  let copies = 0;
  for (let i = 0; i < snapshot.nodes.length; i += fields.length) if (snapshot.strings[snapshot.nodes[i + nameAt]!]!.startsWith(head)) copies++;
  // One copy is this test's own `text`.
  assert.equal(copies, 1, `the tokenizer.json text is held ${copies - 1} more time(s) by the loaded model`);
  assert.ok(files.eosTokenIds && text.length > 0);
});

test('a small model’s attribution chunks get what the fixed runtime leaves of the 1.3× headroom', () => {
  const smollm135mF32 = 538_088_448;
  const llama1bBf16 = 2_471_645_184;
  assert.equal(attributionChunkBudget(smollm135mF32), 8 * 2 ** 20, 'the minimum: the runtime takes most of 0.3× here');
  assert.ok(attributionChunkBudget(smollm135mF32) < smollm135mF32 * 0.03);
  assert.equal(attributionChunkBudget(llama1bBf16), Math.floor(llama1bBf16 * 0.03), 'larger models keep their share');
  assert.equal(attributionChunkBudget(1e12), 256 * 2 ** 20, 'capped');
  assert.equal(decodeGarbageBudget(smollm135mF32), Math.floor(smollm135mF32 * 0.01));
  assert.equal(decodeGarbageBudget(1e6), 4 * 2 ** 20);
});

test('collectGarbage compacts the heap: survivors spread over many pages end up on few', () => {
  const oldSpace = () => getHeapSpaceStatistics().find((s) => s.space_name === 'old_space')!;
  collectGarbage();
  // Objects old enough to be promoted, of which one in twenty survives: a plain full collection
  // frees the rest but keeps every page that holds a survivor.
  let all: { id: number; pad: number[] }[] = [];
  for (let i = 0; i < 400_000; i++) all.push({ id: i, pad: [i, i + 1, i + 2] });
  collectGarbage();
  const survivors = all.filter((_, i) => i % 20 === 0);
  all = [];
  collectGarbage();
  const { space_size: size, space_used_size: used } = oldSpace();
  assert.ok(survivors.length === 20_000);
  assert.ok(size < used * 1.5 + 2 ** 20, `old space ${(size / 2 ** 20).toFixed(1)} MiB holding ${(used / 2 ** 20).toFixed(1)} MiB after the collection`);
});
