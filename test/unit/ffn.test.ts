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
import { analyzeFfnGlobal, analyzeFfnLocal, compareFfnRotation, resolveFfnOptions, type GlobalFfnResult } from '../../src/explain/ffn.js';
import { principalCosines, symmetricEigen } from '../../src/explain/linalg.js';
import { topEigenpairs } from '../../src/explain/subspace.js';
import { buildWordList } from '../../src/explain/wordlist.js';
import { LlamaRunner } from '../../src/llm/runner.js';
import { loadCheckpoint } from '../../src/model/checkpoint.js';
import { encodePrompt } from '../../src/model/prompt.js';
import { writeSyntheticCheckpoint } from '../../src/model/synthetic.js';
import { loadReferenceModel, referenceForward } from '../reference/llama64.js';
import { jacobiEigen, referenceFfn, referenceVocabularyWords, type RefFfnLayer } from '../reference/analysis64.js';
import { parityTargets, skipReason, targetName, targetOptions, type ParityTarget } from '../support/providers.js';
import { mulberry32 } from '../support/random.js';
import { copyTensorRows, writeTensorData } from '../support/safetensors-rows.js';
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

function close(actual: number, expected: number, scale: number, what: string, tolerance = REL): void {
  const rel = Math.abs(actual - expected) / Math.max(Math.abs(expected), scale, Number.MIN_VALUE);
  worst.set(scope, Math.max(worst.get(scope) ?? 0, rel));
  assert.ok(rel <= tolerance, `${what}: ${actual} vs ${expected}`);
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

  for (const architecture of ['Qwen3ForCausalLM', 'Olmo2ForCausalLM', 'Gemma2ForCausalLM', 'Gemma3ForCausalLM'] as const) {
    it(`${architecture}: the down-projection's value vectors and the LM head's words, as for every family`, async () => {
      const dir = join(root, architecture);
      await writeSyntheticCheckpoint(dir, { preset: 'tiny', seed: 18, architecture, tieWordEmbeddings: architecture.startsWith('Gemma'), headDim: 32 });
      const checkpoint = loadCheckpoint(dir);
      const list = await buildWordList(checkpoint);
      const actual = await analyzeFfnGlobal(checkpoint, list, { components: 6, wordsPerComponent: 15 }, noCache);
      assertFfnMatch(actual, referenceFfn(loadReferenceModel(dir), list.tokens, { components: 6, words: 15 }), list.words, architecture);
    });
  }

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

/** Rows orthonormalised in place (Gram–Schmidt twice), after removing `against` (unit) from each. */
function orthonormalRows(rows: Float64Array[], against?: Float64Array): void {
  rows.forEach((r, i) => {
    for (let pass = 0; pass < 2; pass++) {
      for (const o of against ? [against, ...rows.slice(0, i)] : rows.slice(0, i)) {
        const d = r.reduce((s, x, t) => s + x * o[t]!, 0);
        for (let t = 0; t < r.length; t++) r[t] = r[t]! - d * o[t]!;
      }
      const norm = Math.sqrt(r.reduce((s, x) => s + x * x, 0));
      for (let t = 0; t < r.length; t++) r[t] = r[t]! / norm;
    }
  });
}

/**
 * A down_proj [H, I] whose centred value vectors have exactly the covariance eigenvalues λ:
 * W = A·diag(√(I·λ))·B with A orthogonal and B's rows orthonormal and orthogonal to the all-ones
 * vector (so centring leaves W as it is).
 */
function designedDownProj(H: number, I: number, lambda: number[], seed: number): Float32Array {
  const random = mulberry32(seed);
  const gauss = () => random() + random() + random() - 1.5;
  const A = Array.from({ length: H }, () => Float64Array.from({ length: H }, gauss));
  orthonormalRows(A);
  const B = Array.from({ length: H }, () => Float64Array.from({ length: I }, gauss));
  orthonormalRows(B, new Float64Array(I).fill(1 / Math.sqrt(I)));
  const W = new Float32Array(H * I);
  // A's rows are the eigenvectors: W = Aᵀ·diag(s)·B.
  for (let i = 0; i < H; i++) {
    const s = Math.sqrt(I * lambda[i]!);
    for (let h = 0; h < H; h++) {
      const a = A[i]![h]! * s;
      for (let j = 0; j < I; j++) W[h * I + j] = W[h * I + j]! + a * B[i]![j]!;
    }
  }
  return W;
}

describe('block Krylov: restarts', () => {
  it('a basis of two blocks that restarts many times still finds the leading eigenpairs of a decaying spectrum', async () => {
    const n = 120;
    const lambda = Array.from({ length: n }, (_, i) => 0.9 ** i);
    const random = mulberry32(3);
    const Q = Array.from({ length: n }, () => Float64Array.from({ length: n }, () => random() - 0.5));
    orthonormalRows(Q);
    const C = new Float64Array(n * n);
    for (let i = 0; i < n; i++) for (let x = 0; x < n; x++) for (let y = 0; y < n; y++) C[x * n + y] = C[x * n + y]! + lambda[i]! * Q[i]![x]! * Q[i]![y]!;
    const mul = (a: Float64Array, p: number, b: Float64Array, q: number, r: number, bt: boolean) => {
      const out = new Float64Array(p * r);
      for (let i = 0; i < p; i++) for (let j = 0; j < r; j++) for (let t = 0; t < q; t++) out[i * r + j] = out[i * r + j]! + a[i * q + t]! * (bt ? b[j * q + t]! : b[t * r + j]!);
      return out;
    };
    let applied = 0;
    const result = await topEigenpairs(
      {
        apply: async (q, rows) => (applied++, mul(q, rows, C, n, n, false)),
        abt: async (a, p, b, q, r) => mul(a, p, b, r, q, true),
        ab: async (a, p, b, q, r) => mul(a, p, b, q, r, false),
      },
      n,
      { k: 6, oversampling: 4, maxBasis: 20, maxBlocks: 60 },
    );
    assert.equal(result.converged, true);
    assert.ok(result.basis <= 20 && applied > 4, `${applied} products, basis ${result.basis}: the restarts were exercised`);
    for (let c = 0; c < 6; c++) {
      assert.ok(Math.abs(result.values[c]! / lambda[c]! - 1) < 1e-12, `λ${c}: ${result.values[c]} vs ${lambda[c]}`);
      const cos = Math.abs(Q[c]!.reduce((s, x, i) => s + x * result.vectors[c * n + i]!, 0));
      assert.ok(1 - cos < 1e-14, `v${c}: |cos| ${cos}`);
    }
  });
});

describe('global FFN: the subspace method against the exact float64 reference', () => {
  const root = tempDir();

  it('a spectrum with close pairs and a triple: separated components within 1e-3 rad and 1e-4 in variance ratio, concept words identical where scores differ', async () => {
    const H = 192;
    const I = 384;
    const k = 32;
    // Steps of 8 %, except: a pair 0.02 % apart (3, 4), a triple 0.1 % apart (10–12), a pair 0.4 %
    // apart (19, 20), a pair 1.2 % apart (29, 30); from 40 on a flat tail.
    const lambda: number[] = [];
    const step: Record<number, number> = { 4: 1.0002, 11: 1.001, 12: 1.001, 20: 1.004, 30: 1.012 };
    for (let i = 0; i < H; i++) lambda.push(i === 0 ? 1 : i < 40 ? lambda[i - 1]! / (step[i] ?? 1.08) : lambda[39]! * 0.6 * (1 - (0.5 * i) / H));
    const dir = join(root, 'designed');
    await writeSyntheticCheckpoint(dir, { preset: 'tiny', seed: 21, hiddenSize: H, intermediateSize: I, numLayers: 1, numHeads: 4, numKvHeads: 2 });
    writeTensorData(join(dir, 'model.safetensors'), 'model.layers.0.mlp.down_proj.weight', designedDownProj(H, I, lambda, 5));
    const checkpoint = loadCheckpoint(dir);
    const list = await buildWordList(checkpoint);
    const actual = await analyzeFfnGlobal(checkpoint, list, { components: k, method: 'subspace' }, noCache);
    assert.equal(actual.options.method, 'subspace');
    const layer = actual.layers[0]!;
    assert.equal(layer.converged, true, 'the residual test passed');
    // One more component and word than compared: the neighbour of the last, and the cut after the 50th word.
    const ref = referenceFfn(loadReferenceModel(dir), list.tokens, { components: k + 1, words: 51 })[0]!;
    const ratios = ref.varianceRatio;
    let separated = 0;
    let worstAngle = 0;
    let worstRatio = 0;
    let wordsCompared = 0;
    for (let c = 0; c < k; c++) {
      const gap = Math.min(c > 0 ? ratios[c - 1]! / ratios[c]! - 1 : Infinity, ratios[c]! / ratios[c + 1]! - 1);
      if (gap <= 0.01) continue;
      separated++;
      const v = actual.bases[0]!.subarray(c * H, c * H + H);
      // The chord between the unit vectors (signs aligned): the angle to within its cube, and no acos rounding.
      const sign = Math.sign(v.reduce((s, x, i) => s + x * ref.components[c]![i]!, 0));
      const angle = Math.sqrt(v.reduce((s, x, i) => s + (x - sign * ref.components[c]![i]!) ** 2, 0));
      const ratioError = Math.abs(layer.components[c]!.varianceRatio / ratios[c]! - 1);
      worstAngle = Math.max(worstAngle, angle);
      worstRatio = Math.max(worstRatio, ratioError);
      assert.ok(angle <= 1e-3, `component ${c}: angle ${angle}`);
      assert.ok(ratioError <= 1e-4, `component ${c}: variance ratio ${layer.components[c]!.varianceRatio} vs ${ratios[c]}`);
      const scores = ref.words[c]!.scores;
      layer.components[c]!.words.forEach((w, j) => {
        const apart = (j === 0 || scores[j - 1]! - scores[j]! > 1e-6) && scores[j]! - scores[j + 1]! > 1e-6;
        if (!apart) return;
        wordsCompared++;
        assert.equal(w, list.words[ref.words[c]!.indices[j]!], `component ${c}: word ${j}`);
      });
    }
    assert.equal(separated, 25, 'components separated by more than 1 % (32 less the pair, triple, pair and one of the last pair’s neighbours)');
    assert.ok(wordsCompared > 1000, `only ${wordsCompared} concept words compared`);
    // Within a close pair the variance ratios are still the eigenvalues.
    for (const c of [3, 4, 10, 11, 12]) assert.ok(Math.abs(layer.components[c]!.varianceRatio / ratios[c]! - 1) < 1e-6, `component ${c} ratio`);
    process.stdout.write(`# ffn subspace: ${separated} separated components, largest angle ${worstAngle.toExponential(2)} rad, largest variance-ratio error ${worstRatio.toExponential(2)} (relative)\n`);
  });

  it('auto: the exact decomposition below H = 1024 or when the basis would be a quarter of H, the subspace method above', () => {
    const shape = (hiddenSize: number) => ({ config: { hiddenSize, numLayers: 4 } }) as unknown as Parameters<typeof resolveFfnOptions>[0];
    assert.equal(resolveFfnOptions(shape(576)).method, 'exact');
    assert.equal(resolveFfnOptions(shape(1024)).method, 'subspace');
    assert.equal(resolveFfnOptions(shape(4096), { components: 1024 }).method, 'exact');
    assert.equal(resolveFfnOptions(shape(64), { method: 'subspace', components: 64 }).method, 'exact', 'no basis beyond H');
    assert.throws(() => resolveFfnOptions(shape(64), { method: 'fast' as never }), /method must be auto, exact or subspace/);
  });

  it('a random (flat, Marchenko–Pastur) spectrum: the Krylov basis fills the space and the result is the exact one', async () => {
    const dir = join(root, 'random');
    await writeSyntheticCheckpoint(dir, { preset: 'tiny', seed: 22, hiddenSize: 96, intermediateSize: 256, numLayers: 1, numHeads: 4, numKvHeads: 2 });
    const checkpoint = loadCheckpoint(dir);
    const list = await buildWordList(checkpoint);
    const actual = await analyzeFfnGlobal(checkpoint, list, { components: 8, method: 'subspace' }, noCache);
    assert.equal(actual.layers[0]!.converged, true);
    assertFfnMatch(actual, referenceFfn(loadReferenceModel(dir), list.tokens, { components: 8, words: 50 }), list.words, 'random');
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
        mine.forEach((c, i) => close(c.score, scores[i]!.score, 0, `layer ${l.layer} usage ${i}`, target.precision === 'fp32' ? REL : target.tolerance));
      });
      all.sort((a, b) => b.score - a.score || a.layer - b.layer || a.component - b.component);
      assert.deepEqual(local.top.map((c) => [c.layer, c.component]), all.slice(0, 6).map((c) => [c.layer, c.component]));
    } finally {
      await runner.dispose();
    }
  });
});
