/**
 * The analysis cache (src/explain/analysis-cache.ts) through the real analyses: a second run
 * reuses it (≥ 20× faster), the same content elsewhere reuses it, a changed checkpoint does not, a
 * corrupt or truncated cache file is detected and rebuilt; cancellation stops a run and stores
 * nothing.
 */
import assert from 'node:assert/strict';
import { cpSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { analyzeFfnGlobal } from '../../src/explain/ffn.js';
import { analyzeHeadsGlobal, type HeadsOptions, type HeadsProgress } from '../../src/explain/heads.js';
import { buildWordList } from '../../src/explain/wordlist.js';
import { loadCheckpoint } from '../../src/model/checkpoint.js';
import { CancelledError } from '../../src/model/errors.js';
import { writeSyntheticCheckpoint, type SyntheticCheckpointOptions } from '../../src/model/synthetic.js';
import { tempDir } from '../support/temp.js';

const SHAPE: SyntheticCheckpointOptions = { preset: 'tiny', hiddenSize: 128, intermediateSize: 512, numLayers: 4, vocabSize: 8192 };
/** For the speed-up: more words (the computation grows with them, the cached results do not). */
const LARGER: SyntheticCheckpointOptions = { preset: 'tiny', hiddenSize: 256, intermediateSize: 1024, numLayers: 4, vocabSize: 32768 };

describe('analysis cache', () => {
  const root = tempDir();
  const model = join(root, 'model');
  const larger = join(root, 'larger');
  before(async () => {
    await writeSyntheticCheckpoint(model, { ...SHAPE, seed: 31 });
    await writeSyntheticCheckpoint(larger, { ...LARGER, seed: 33 });
  });

  const heads = async (dir: string, cacheDir: string, log?: (line: string) => void, options: HeadsOptions = { topK: 60 }) => {
    const checkpoint = loadCheckpoint(dir);
    const list = await buildWordList(checkpoint);
    const started = performance.now();
    const result = await analyzeHeadsGlobal(checkpoint, list, options, { provider: 'cpu', cache: { dir: cacheDir, log } });
    return { result, ms: performance.now() - started };
  };
  const ffn = async (dir: string, cacheDir: string, log?: (line: string) => void) => {
    const checkpoint = loadCheckpoint(dir);
    const list = await buildWordList(checkpoint);
    const started = performance.now();
    const result = await analyzeFfnGlobal(checkpoint, list, {}, { provider: 'cpu', cache: { dir: cacheDir, log } });
    return { result, ms: performance.now() - started };
  };

  it('a second run reuses the results, at least 20× faster, and they are identical', async () => {
    const cacheDir = join(root, 'cache-speed');
    const first = await heads(larger, cacheDir, undefined, { topK: 100, dims: 4 });
    const second = await heads(larger, cacheDir, undefined, { topK: 100, dims: 4 });
    assert.equal(first.result.fromCache, false);
    assert.equal(second.result.fromCache, true);
    assert.deepEqual(second.result.layers, first.result.layers);
    const f1 = await ffn(larger, cacheDir);
    const f2 = await ffn(larger, cacheDir);
    assert.equal(f1.result.fromCache, false);
    assert.equal(f2.result.fromCache, true);
    assert.deepEqual(f2.result.layers, f1.result.layers);
    assert.deepEqual(f2.result.bases, f1.result.bases);
    const speedup = { heads: first.ms / second.ms, ffn: f1.ms / f2.ms };
    process.stdout.write(`# cache speed-up: heads ${first.ms.toFixed(0)} → ${second.ms.toFixed(1)} ms (×${speedup.heads.toFixed(0)}), ffn ${f1.ms.toFixed(0)} → ${f2.ms.toFixed(1)} ms (×${speedup.ffn.toFixed(0)})\n`);
    assert.ok(speedup.heads >= 20, `heads: only ×${speedup.heads.toFixed(1)}`);
    assert.ok(speedup.ffn >= 20, `ffn: only ×${speedup.ffn.toFixed(1)}`);
  });

  it('is keyed by content: a copy elsewhere reuses it, a changed checkpoint does not', async () => {
    const cacheDir = join(root, 'cache-key');
    const original = await heads(model, cacheDir);
    const copy = join(root, 'copy');
    cpSync(model, copy, { recursive: true });
    assert.equal((await heads(copy, cacheDir)).result.fromCache, true);
    assert.equal((await ffn(model, cacheDir)).result.fromCache, false);
    assert.equal((await ffn(copy, cacheDir)).result.fromCache, true);
    // Same shapes, same headers and sizes, other weights.
    await writeSyntheticCheckpoint(copy, { ...SHAPE, seed: 32 });
    const changed = await heads(copy, cacheDir);
    assert.equal(changed.result.fromCache, false);
    assert.notDeepEqual(changed.result.layers[0]!.heads[0]!.dims[0]!.energy, original.result.layers[0]!.heads[0]!.dims[0]!.energy);
    assert.equal((await ffn(copy, cacheDir)).result.fromCache, false);
    // And a changed option is another key.
    const checkpoint = loadCheckpoint(model);
    const other = await analyzeHeadsGlobal(checkpoint, await buildWordList(checkpoint), { topK: 61 }, { provider: 'cpu', cache: { dir: cacheDir } });
    assert.equal(other.fromCache, false);
  });

  it('a corrupt, truncated or garbled cache file is detected, never trusted, and rebuilt', async () => {
    const cacheDir = join(root, 'cache-corrupt');
    const good = (await heads(model, cacheDir)).result;
    await ffn(model, cacheDir);
    const files = readdirSync(cacheDir).filter((f) => f.endsWith('.cache'));
    assert.deepEqual(files.map((f) => f.split('-')[0]).sort(), ['ffn', 'ffn', 'heads']);
    const headsFile = join(cacheDir, files.find((f) => f.startsWith('heads-'))!);
    const damage: [string, (b: Buffer) => Buffer, RegExp][] = [
      ['one flipped byte', (b) => { const c = Buffer.from(b); c[c.length - 100] ^= 0x20; return c; }, /checksum/],
      ['truncated', (b) => b.subarray(0, Math.floor(b.length * 0.6)), /truncated/],
      ['truncated inside the header', (b) => b.subarray(0, 20), /header/],
      ['a byte appended', (b) => Buffer.concat([b, Buffer.from('x')]), /truncated or extended/],
      ['empty', () => Buffer.alloc(0), /header/],
    ];
    const intact = readFileSync(headsFile);
    for (const [what, hurt, message] of damage) {
      writeFileSync(headsFile, hurt(intact));
      const lines: string[] = [];
      const again = await heads(model, cacheDir, (l) => lines.push(l));
      assert.equal(again.result.fromCache, false, `${what}: recomputed`);
      assert.ok(lines.some((l) => message.test(l)), `${what}: logged ${JSON.stringify(lines)}`);
      assert.deepEqual(again.result.layers, good.layers, `${what}: same results`);
      assert.deepEqual(readFileSync(headsFile), intact, `${what}: the file is rebuilt`);
      assert.equal((await heads(model, cacheDir)).result.fromCache, true, `${what}: and trusted again`);
    }
    // A corrupt basis (float64 data inside the FFN cache) is caught the same way.
    const basisFile = join(cacheDir, files.find((f) => f.startsWith('ffn-basis-'))!);
    const basis = readFileSync(basisFile);
    basis[basis.length - 50] ^= 1;
    writeFileSync(basisFile, basis);
    const lines: string[] = [];
    assert.equal((await ffn(model, cacheDir, (l) => lines.push(l))).result.fromCache, false);
    assert.ok(lines.some((l) => /checksum/.test(l)));
  });

  it('reports progress, and cancellation stops the run and stores nothing', async () => {
    const cacheDir = join(root, 'cache-cancel');
    const checkpoint = loadCheckpoint(model);
    const list = await buildWordList(checkpoint);
    const phases: HeadsProgress[] = [];
    const controller = new AbortController();
    await assert.rejects(
      analyzeHeadsGlobal(checkpoint, list, {}, {
        provider: 'cpu',
        cache: { dir: cacheDir },
        signal: controller.signal,
        onProgress: (p) => {
          phases.push(p);
          if (p.phase === 'layers' && p.done === 2) controller.abort();
        },
      }),
      CancelledError,
    );
    assert.deepEqual([...new Set(phases.map((p) => p.phase))], ['cache', 'word-vectors', 'thresholds', 'layers']);
    assert.ok(!existsSync(cacheDir) || readdirSync(cacheDir).every((f) => !f.endsWith('.cache')), 'no cache file');
  });
});
