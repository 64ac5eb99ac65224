/**
 * The FFN analysis (src/explain/ffn.ts) against the float64 reference (test/reference/
 * analysis64.ts, Jacobi eigenvectors): variance ratios and components, identical concept-word
 * lists (ties by word position, exercised with triplicated lm_head rows), scores within 1e-5;
 * rotation against principal angles computed independently; local usage against the reference
 * forward's FFN outputs. Also the symmetric eigensolver (linalg.ts) against Jacobi.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { analyzeFfnGlobal, analyzeFfnLocal, compareFfnRotation, type GlobalFfnResult } from '../../src/explain/ffn.js';
import { principalCosines, symmetricEigen } from '../../src/explain/linalg.js';
import { buildWordList } from '../../src/explain/wordlist.js';
import { LlamaRunner } from '../../src/llm/runner.js';
import { loadCheckpoint } from '../../src/model/checkpoint.js';
import { encodePrompt } from '../../src/model/prompt.js';
import { writeSyntheticCheckpoint } from '../../src/model/synthetic.js';
import { loadReferenceModel, referenceForward } from '../reference/llama64.js';
import { jacobiEigen, referenceFfn, referenceVocabularyWords, type RefFfnLayer } from '../reference/analysis64.js';
import { parityTargets, skipReason, targetName, targetOptions, type ParityTarget } from '../support/providers.js';
import { copyTensorRows } from '../support/safetensors-rows.js';
import { tempDir } from '../support/temp.js';

const REL = 1e-5;
const noCache = { cache: { enabled: false }, provider: 'cpu' as const };

/** Largest relative difference seen per scope and target, reported at the end of the file. */
const worst = new Map<string, number>();
let scope = 'global cpu fp32';
after(() => process.stdout.write(`# ffn parity: largest relative difference: ${[...worst].map(([k, v]) => `${k} ${v.toExponential(2)}`).join(', ')}\n`));
const CPU: ParityTarget = { provider: 'cpu', precision: 'fp32', tolerance: 1e-4 };
/** The special cases run on the CPU only; a run restricted to other targets (`npm run gpu-check`) leaves them out. */
const cpuOnly = parityTargets().some((t) => t.provider === 'cpu') ? false : 'LENS_PARITY_PROVIDERS leaves out cpu';

function close(actual: number, expected: number, scale: number, what: string): void {
  const rel = Math.abs(actual - expected) / Math.max(Math.abs(expected), scale, Number.MIN_VALUE);
  worst.set(scope, Math.max(worst.get(scope) ?? 0, rel));
  assert.ok(rel <= REL, `${what}: ${actual} vs ${expected}`);
}

function assertFfnMatch(actual: GlobalFfnResult, ref: RefFfnLayer[], words: string[], what: string): void {
  assert.deepEqual(actual.layers.map((l) => l.layer), ref.map((r) => r.layer));
  const H = actual.hidden;
  actual.layers.forEach((layer, li) => {
    const r = ref[li]!;
    assert.equal(layer.components.length, r.varianceRatio.length);
    layer.components.forEach((c, ci) => {
      const where = `${what}: layer ${layer.layer} component ${ci}`;
      close(c.varianceRatio, r.varianceRatio[ci]!, 0, `${where}: variance ratio`);
      const basis = actual.bases[li]!.subarray(ci * H, ci * H + H);
      basis.forEach((v, x) => assert.ok(Math.abs(v - r.components[ci]![x]!) < 1e-6, `${where}: vector[${x}] ${v} vs ${r.components[ci]![x]}`));
      assert.deepEqual(c.words, r.words[ci]!.indices.map((i) => words[i]), `${where}: concept words`);
      c.scores.forEach((s, k) => close(s, r.words[ci]!.scores[k]!, 0, `${where}: score ${k}`));
    });
  });
}

describe('linalg: symmetric eigendecomposition', () => {
  it('matches Jacobi on random covariance matrices; principal cosines of a subspace with itself are 1', () => {
    let seed = 7;
    const random = () => ((seed = (seed * 16807) % 2147483647) / 2147483647) * 2 - 1;
    for (const n of [1, 2, 7, 40]) {
      const X = Array.from({ length: n }, () => Float64Array.from({ length: 3 * n }, random));
      const A = X.map((r) => Float64Array.from(X, (s) => r.reduce((a, v, i) => a + v * s[i]!, 0)));
      const flat = new Float64Array(n * n);
      A.forEach((r, i) => flat.set(r, i * n));
      const mine = symmetricEigen(flat, n);
      const ref = jacobiEigen(A);
      for (let i = 0; i < n; i++) {
        assert.ok(Math.abs(mine.values[i]! - ref.values[i]!) < 1e-10 * ref.values[0]!, `n=${n} λ${i}`);
        for (let x = 0; x < n; x++) assert.ok(Math.abs(mine.vectors[i * n + x]! - ref.vectors[i]![x]!) < 1e-8, `n=${n} v${i}[${x}]`);
      }
      const k = Math.min(3, n);
      assert.ok(principalCosines(mine.vectors, mine.vectors, k, n).every((c) => Math.abs(c - 1) < 1e-12));
    }
  });
});

// Every target runs the first (largest) global case and the local one; the special cases run on the CPU.
for (const target of parityTargets()) describe(`global FFN on ${targetName(target)}`, { skip: skipReason(target) }, () => {
  it('llama: every component of every layer, 50 concept words each', async () => {
    scope = `global ${targetName(target)}`;
    const dir = join(tempDir(), 'llama');
    await writeSyntheticCheckpoint(dir, { preset: 'tiny', seed: 15 });
    const checkpoint = loadCheckpoint(dir);
    const list = await buildWordList(checkpoint, { extraWords: ['zorblaxian', 'Summarize'] });
    const actual = await analyzeFfnGlobal(checkpoint, list, {}, { ...noCache, ...targetOptions(target) });
    assert.equal(actual.options.components, 64);
    assert.equal(actual.options.wordsPerComponent, 50);
    assertFfnMatch(actual, referenceFfn(loadReferenceModel(dir), list.tokens, { components: 64, words: 50 }), list.words, 'llama');
    const total = actual.layers[0]!.components.reduce((a, c) => a + c.varianceRatio, 0);
    assert.ok(Math.abs(total - 1) < 1e-9, `ratios of all H components sum to ${total}`);
  });
});

describe('global FFN: parity with the float64 reference', { skip: cpuOnly }, () => {
  const root = tempDir();
  before(() => {
    scope = `global ${targetName(CPU)}`;
  });

  it('qwen2, tied BF16 embeddings: a subset of layers, 10 components, 20 words', async () => {
    const dir = join(root, 'qwen');
    await writeSyntheticCheckpoint(dir, { preset: 'tiny', seed: 16, architecture: 'Qwen2ForCausalLM', tieWordEmbeddings: true, dtype: 'BF16', numLayers: 3 });
    const checkpoint = loadCheckpoint(dir);
    const list = await buildWordList(checkpoint);
    const actual = await analyzeFfnGlobal(checkpoint, list, { components: 10, wordsPerComponent: 20, layers: [2, 1] }, noCache);
    assertFfnMatch(actual, referenceFfn(loadReferenceModel(dir), list.tokens, { components: 10, words: 20, layers: [1, 2] }), list.words, 'qwen2');
  });

  it('exact ties (words in triples with identical lm_head rows) are broken by word position', async () => {
    const dir = join(root, 'ties');
    await writeSyntheticCheckpoint(dir, { preset: 'tiny', seed: 17 });
    const ids = referenceVocabularyWords(dir).map((v) => v.id);
    const copies: [number, number][] = [];
    for (let i = 0; i < ids.length; i++) if (i % 3) copies.push([ids[i - (i % 3)]!, ids[i]!]);
    copyTensorRows(join(dir, 'model.safetensors'), 'lm_head.weight', copies);
    const checkpoint = loadCheckpoint(dir);
    const list = await buildWordList(checkpoint);
    const actual = await analyzeFfnGlobal(checkpoint, list, { components: 16 }, noCache);
    const ref = referenceFfn(loadReferenceModel(dir), list.tokens, { components: 16, words: 51 });
    // With 51 reference words: the 50th and 51st share a score in most components (50 = 3·16 + 2).
    const cutTies = ref.flatMap((l) => l.words).filter((w) => w.scores[49] === w.scores[50]).length;
    assert.ok(cutTies > 10, `the top-50 cut falls inside a tie in only ${cutTies} components`);
    for (const l of ref) for (const w of l.words) { w.indices.pop(); w.scores.pop(); }
    assertFfnMatch(actual, ref, list.words, 'ties');
  });
});

describe('FFN rotation', { skip: cpuOnly }, () => {
  const root = tempDir();

  it('principal cosines and best matches agree with an independent computation', async () => {
    await writeSyntheticCheckpoint(join(root, 'a'), { preset: 'tiny', seed: 18 });
    await writeSyntheticCheckpoint(join(root, 'b'), { preset: 'tiny', seed: 19 });
    const a = loadCheckpoint(join(root, 'a'));
    const b = loadCheckpoint(join(root, 'b'));
    const ga = await analyzeFfnGlobal(a, await buildWordList(a), { components: 8 }, noCache);
    const gb = await analyzeFfnGlobal(b, await buildWordList(b), { components: 8 }, noCache);
    const rotation = compareFfnRotation(ga, gb);
    assert.equal(rotation.length, 2);
    const H = ga.hidden;
    const refA = referenceFfn(loadReferenceModel(join(root, 'a')), [[5]], { components: 8, words: 1 });
    const refB = referenceFfn(loadReferenceModel(join(root, 'b')), [[5]], { components: 8, words: 1 });
    rotation.forEach((r, l) => {
      const A = refA[l]!.components;
      const B = refB[l]!.components;
      const M = A.map((u) => B.map((v) => u.reduce((s, x, i) => s + x * v[i]!, 0)));
      const MtM = Array.from({ length: 8 }, (_, i) => Float64Array.from({ length: 8 }, (_, j) => M.reduce((s, row) => s + row[i]! * row[j]!, 0)));
      const sv = jacobiEigen(MtM).values.map((v) => Math.sqrt(Math.max(0, v)));
      r.principalCosines.forEach((c, i) => assert.ok(Math.abs(c - sv[i]!) < 1e-9, `layer ${l} σ${i}: ${c} vs ${sv[i]}`));
      r.bestMatch.forEach((m, i) => {
        const abs = M[i]!.map(Math.abs);
        const j = abs.indexOf(Math.max(...abs));
        assert.equal(m.match, j);
        assert.ok(Math.abs(m.cosine - abs[j]!) < 1e-9);
      });
      assert.ok(r.meanCosine > 0 && r.meanCosine < 1 && r.meanAngleDegrees > 0 && r.meanAngleDegrees < 90);
    });
    const self = compareFfnRotation(ga, ga);
    for (const r of self) {
      assert.ok(r.principalCosines.every((c) => Math.abs(c - 1) < 1e-9));
      assert.ok(r.bestMatch.every((m, i) => m.match === i && Math.abs(m.cosine - 1) < 1e-9));
      assert.ok(r.meanAngleDegrees < 1e-3);
    }
    assert.ok(H > 0);
  });
});

for (const target of parityTargets()) describe(`FFN local usage on ${targetName(target)}`, { skip: skipReason(target) }, () => {
  it('local usage: the share of each prompt token’s FFN output along each component, as the reference computes it', async () => {
    scope = `local ${targetName(target)}`; // FFN outputs come from the float32 forward
    const dir = join(tempDir(), 'a');
    await writeSyntheticCheckpoint(dir, { preset: 'tiny', seed: 18 });
    const checkpoint = loadCheckpoint(dir);
    const runner = new LlamaRunner(checkpoint, targetOptions(target));
    try {
      const global = await analyzeFfnGlobal(checkpoint, await buildWordList(checkpoint), { components: 12 }, { ...noCache, ...targetOptions(target) });
      const prompt = 'Write a short poem about the sea.';
      const encoded = await encodePrompt(checkpoint, prompt, 'raw');
      const forward = await runner.forward(encoded.inputIds, { ffn: true });
      const local = analyzeFfnLocal(encoded, forward, global, 4, 6);
      const ref = referenceForward(loadReferenceModel(dir), encoded.inputIds, { ffn: true });
      const refFfn = referenceFfn(loadReferenceModel(dir), [[5]], { components: 12, words: 1 });
      const [p0, p1] = encoded.promptSpan;
      const all: { layer: number; component: number; score: number }[] = [];
      refFfn.forEach((l) => {
        const scores = l.components.map((v, c) => {
          let sum = 0;
          for (let t = p0; t < p1; t++) {
            const f = ref.ffn![l.layer]![t]!;
            const dot = f.reduce((s, x, i) => s + x * v[i]!, 0);
            sum += (dot * dot) / f.reduce((s, x) => s + x * x, 0);
          }
          return { layer: l.layer, component: c, score: sum / (p1 - p0) };
        });
        all.push(...scores);
        scores.sort((a, b) => b.score - a.score || a.component - b.component);
        const mine = local.layers.find((x) => x.layer === l.layer)!.components;
        assert.deepEqual(mine.map((c) => c.component), scores.slice(0, 4).map((c) => c.component));
        mine.forEach((c, i) => close(c.score, scores[i]!.score, 0, `layer ${l.layer} usage ${i}`));
      });
      all.sort((a, b) => b.score - a.score || a.layer - b.layer || a.component - b.component);
      assert.deepEqual(local.top.map((c) => [c.layer, c.component]), all.slice(0, 6).map((c) => [c.layer, c.component]));
    } finally {
      await runner.dispose();
    }
  });
});
