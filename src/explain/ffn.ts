/**
 * FFN concepts (DESIGN.md §3; Wu et al. §5).
 *
 * Global, per model and layer: the value vectors (rows of down_projᵀ, I × H) centred by their
 * mean row, in float64 (the weights are exact in it, so the eigenvectors do not inherit float32
 * rounding amplified by small eigengaps). Two ways to their covariance's leading components:
 * `exact` forms the H × H covariance on onnxruntime and decomposes it whole in JavaScript
 * (linalg.ts, O(H³): minutes per layer at H = 4096); `subspace` (subspace.ts) finds only the
 * leading k by block Krylov, every product (C·Q = Wc·(Wcᵀ·Q) / I, never forming C) an onnxruntime
 * graph, stopping on a residual test. `auto` takes `subspace` from H = 1024 up. Explained variance
 * ratio λ_c / Σλ, where Σλ is the trace ‖Wc‖²_F / I: no decomposition needed for it. Each component has the sign that makes its
 * largest-magnitude entry positive. Concept words: the `wordsPerComponent` (50) words with the
 * largest |v_c · ô_w| (ô = output vector normalised), ties by word position — a float64 product
 * over the word list and a TopK on onnxruntime (float64, so ranks and ties are the exact ones).
 *
 * Two caches: the basis (per checkpoint and component count; it does not depend on the word list)
 * and the concepts (basis + word list).
 *
 * Rotation between two models per layer: the cosines of the principal angles between their top-k
 * component subspaces (singular values of U_b·U_tᵀ; k = ⌊H/8⌋ by default, capped by the
 * components computed) and, per base component, its best-matching tuned component among the top k
 * (largest |cosine|).
 *
 * Local: each layer's FFN output on the prompt's tokens projected on the components; a component's
 * usage is the mean over prompt tokens of (f_t·v_c)² / ‖f_t‖² — the share of the output's energy
 * along it, comparable across layers.
 */
import type { Checkpoint } from '../model/checkpoint.js';
import { LensError } from '../model/errors.js';
import type { EncodedPrompt } from '../model/prompt.js';
import type { ForwardResult } from '../llm/runner.js';
import { float, Graph, int, ints } from '../onnx/graph.js';
import { base64ToFloat64, cached, checkpointFingerprint, float64ToBase64, type CacheOptions } from './analysis-cache.js';
import { computeWordVectors, f64, throwIfAborted, weightValue, withSession, type AnalysisRunOptions } from './analysis-graph.js';
import { resolveLayers, type WordListSummary } from './heads.js';
import { principalCosines, symmetricEigen } from './linalg.js';
import { topEigenpairs, type BlockProducts } from './subspace.js';
import type { WordList } from './wordlist.js';
import type { ResolvedFfnOptions, FfnRotationLayer, ComponentUsage } from '../contract/report.js';
import type { FfnMethod, FfnOptions } from '../contract/engine.js';
export type { FfnMethod, FfnOptions };
export type { ResolvedFfnOptions, FfnRotationLayer, ComponentUsage };

const FFN_VERSION = 2;
export const DEFAULT_COMPONENTS = 64;
export const DEFAULT_WORDS_PER_COMPONENT = 50;
/** `auto` uses the subspace method from this hidden size up (below it the whole decomposition takes under a second or two). */
export const SUBSPACE_MIN_HIDDEN = 1024;

export interface FfnComponent {
  /** 0 = the component of largest variance. */
  index: number;
  /** σ_c² / Σσ². */
  varianceRatio: number;
  /** Concept words, by |v_c · ô_w| descending (ties by word position). */
  words: string[];
  /** Their |v_c · ô_w|. */
  scores: number[];
}

export interface FfnLayer {
  layer: number;
  /** Σσ²: the total variance of the centred value vectors. */
  totalVariance: number;
  components: FfnComponent[];
  /** `subspace` method only: per component ‖C v − λ v‖ / λ₀ (C the covariance). */
  residuals?: number[];
  /** `subspace` method only: whether every component passed the residual test (false: the basis budget ran out first). */
  converged?: boolean;
}

export interface GlobalFfnResult {
  words: WordListSummary;
  options: ResolvedFfnOptions;
  numLayers: number;
  hidden: number;
  layers: FfnLayer[];
  /** Per entry of `layers`: the components as rows, [components, hidden] float64. */
  bases: Float64Array[];
  fromCache: boolean;
  computeMs: number;
}

export interface FfnProgress {
  phase: 'cache' | 'covariance' | 'word-vectors' | 'concepts';
  done?: number;
  total?: number;
}

export interface FfnRunOptions extends AnalysisRunOptions {
  cache?: CacheOptions;
  onProgress?: (p: FfnProgress) => void;
}

interface BasisLayer {
  layer: number;
  totalVariance: number;
  variances: number[];
  basis: Float64Array;
  /** Subspace method: per component ‖C v − λ v‖ / λ₀, and whether all met the convergence test. */
  residuals?: number[];
  converged?: boolean;
}

interface ConceptLayer {
  layer: number;
  /** Per component: word indices and scores. */
  components: { indices: number[]; scores: number[] }[];
}

export function resolveFfnOptions(checkpoint: Checkpoint, options: FfnOptions = {}): ResolvedFfnOptions {
  const check = (v: number | undefined, fallback: number, what: string) => {
    if (v === undefined) return fallback;
    if (!Number.isSafeInteger(v) || v < 1) throw new LensError(`${what} must be a positive integer, got ${v}`);
    return v;
  };
  const H = checkpoint.config.hiddenSize;
  const components = Math.min(check(options.components, DEFAULT_COMPONENTS, 'components'), H);
  const method = options.method ?? 'auto';
  if (!['auto', 'exact', 'subspace'].includes(method)) throw new LensError(`method must be auto, exact or subspace, got ${method}`);
  return {
    components,
    wordsPerComponent: check(options.wordsPerComponent, DEFAULT_WORDS_PER_COMPONENT, 'words per component'),
    layers: resolveLayers(options.layers, checkpoint.config.numLayers),
    // A basis of a quarter of H or more is no cheaper than the whole decomposition.
    method: method === 'auto' ? (H >= SUBSPACE_MIN_HIDDEN && 4 * (components + 16) <= H ? 'subspace' : 'exact') : method === 'subspace' && components + 16 >= H ? 'exact' : method,
  };
}

/** The H × H covariance of a layer's centred value vectors, float64, on onnxruntime. */
function covarianceGraph(checkpoint: Checkpoint, layer: number): Graph {
  const I = checkpoint.config.intermediateSize;
  const g = new Graph(`ffn_cov_${layer}`);
  const W = weightValue(g, checkpoint, `model.layers.${layer}.mlp.down_proj.weight`, 'float64'); // [H, I]: column j is value vector j
  // × `one` (fed as 1): the product then depends on an input, so onnxruntime runs it in the
  // session's run (where it can be profiled) instead of folding it at session creation.
  const one = g.input('one', 'float64', []);
  const centred = g.node('Mul', [g.node('Sub', [W, g.node('ReduceMean', [W], { axes: ints([1]), keepdims: int(1) })]), one]);
  g.output(g.node('Gemm', [centred, centred], { transB: int(1), alpha: float(1 / I) }), 'cov');
  return g;
}

/**
 * C·Q for a layer's covariance without forming it: (Q·Wc)·Wcᵀ / I, float64. The centred float64
 * Wc depends only on the weights, so onnxruntime folds it once at session creation; `trace`
 * (‖Wc‖²_F / I, the total variance) needs the input `one` to be computed in a run.
 */
function covarianceProductGraph(checkpoint: Checkpoint, layer: number): Graph {
  const { hiddenSize: H, intermediateSize: I } = checkpoint.config;
  const g = new Graph(`ffn_cov_product_${layer}`);
  const W = weightValue(g, checkpoint, `model.layers.${layer}.mlp.down_proj.weight`, 'float64'); // [H, I]
  const centred = g.node('Sub', [W, g.node('ReduceMean', [W], { axes: ints([1]), keepdims: int(1) })]);
  const q = g.input('q', 'float64', ['rows', H]);
  // 1 / I as a float64 factor, not Gemm's alpha: that attribute is a float32, and its rounding (2⁻²⁵ relative) would show in the variance ratios.
  const inverseI = g.scalar(1 / I, 'float64');
  g.output(g.node('Mul', [g.node('Gemm', [g.node('MatMul', [q, centred]), centred], { transB: int(1) }), inverseI]), 'z');
  const one = g.input('one', 'float64', []);
  const sum = g.node('ReduceSumSquare', [g.node('Mul', [centred, one])], { keepdims: int(0) });
  g.output(g.node('Mul', [sum, inverseI]), 'trace');
  return g;
}

/** Float64 A·Bᵀ and A·B of any shapes, as two sessions kept open for a whole analysis. */
async function withProducts<T>(checkpoint: Checkpoint, run: FfnRunOptions, fn: (p: Pick<BlockProducts, 'ab' | 'abt'>) => Promise<T>): Promise<T> {
  const abt = new Graph('abt');
  abt.output(abt.node('Gemm', [abt.input('a', 'float64', ['p', 'n']), abt.input('b', 'float64', ['q', 'n'])], { transB: int(1) }), 'c');
  const ab = new Graph('ab');
  ab.output(ab.node('MatMul', [ab.input('a', 'float64', ['p', 'q']), ab.input('b', 'float64', ['q', 'n'])]), 'c');
  return withSession(abt, checkpoint, run, (sAbt) =>
    withSession(ab, checkpoint, run, (sAb) =>
      fn({
        abt: async (a, p, b, q, n) => (await sAbt.run({ a: f64(a, [p, n]), b: f64(b, [q, n]) })).c!.data as Float64Array,
        ab: async (a, p, b, q, n) => (await sAb.run({ a: f64(a, [p, q]), b: f64(b, [q, n]) })).c!.data as Float64Array,
      }),
    ),
  );
}

async function exactLayer(checkpoint: Checkpoint, layer: number, C: number, run: FfnRunOptions): Promise<BasisLayer> {
  const H = checkpoint.config.hiddenSize;
  const cov = await withSession(covarianceGraph(checkpoint, layer), checkpoint, run, async (s) => (await s.run({ one: f64(Float64Array.of(1), []) })).cov!.data as Float64Array);
  throwIfAborted(run.signal);
  let trace = 0;
  for (let i = 0; i < H; i++) trace += cov[i * H + i]!;
  const { values, vectors } = symmetricEigen(Float64Array.from(cov), H);
  return { layer, totalVariance: trace, variances: Array.from(values.subarray(0, C)), basis: Float64Array.from(vectors.subarray(0, C * H)) };
}

async function computeBasis(checkpoint: Checkpoint, options: ResolvedFfnOptions, run: FfnRunOptions): Promise<BasisLayer[]> {
  const H = checkpoint.config.hiddenSize;
  const C = options.components;
  const out: BasisLayer[] = [];
  const perLayer = async (products: Pick<BlockProducts, 'ab' | 'abt'> | null) => {
    for (const layer of options.layers) {
      run.onProgress?.({ phase: 'covariance', done: out.length, total: options.layers.length });
      if (!products) {
        out.push(await exactLayer(checkpoint, layer, C, run));
        continue;
      }
      const found = await withSession(covarianceProductGraph(checkpoint, layer), checkpoint, run, async (s) => {
        const trace = ((await s.run({ q: f64(new Float64Array(H), [1, H]), one: f64(Float64Array.of(1), []) })).trace!.data as Float64Array)[0]!;
        const one = f64(Float64Array.of(1), []);
        const result = await topEigenpairs({ ...products, apply: async (q, rows) => (await s.run({ q: f64(q, [rows, H]), one }, ['z'])).z!.data as Float64Array }, H, {
          k: C,
          check: () => throwIfAborted(run.signal),
        });
        return { trace, result };
      });
      const { trace, result } = found;
      const worst = result.residuals.reduce((a, b) => Math.max(a, b), 0);
      run.log?.(`ffn layer ${layer}: ${C} components from ${result.blocks} blocks (basis ${result.basis}), largest residual ${worst.toExponential(1)} of λ₀${result.converged ? '' : ': not converged within the basis budget (the leading spectrum is flat); the Ritz pairs are used as they are'}`);
      out.push({ layer, totalVariance: trace, variances: Array.from(result.values), basis: result.vectors, residuals: Array.from(result.residuals), converged: result.converged });
    }
  };
  if (options.method === 'subspace') await withProducts(checkpoint, run, perLayer);
  else await perLayer(null);
  run.onProgress?.({ phase: 'covariance', done: out.length, total: options.layers.length });
  return out;
}

async function computeConcepts(checkpoint: Checkpoint, list: WordList, basis: BasisLayer[], options: ResolvedFfnOptions, run: FfnRunOptions): Promise<ConceptLayer[]> {
  const H = checkpoint.config.hiddenSize;
  const C = options.components;
  const N = list.words.length;
  const K = Math.min(options.wordsPerComponent, N);
  run.onProgress?.({ phase: 'word-vectors' });
  const vectors = await computeWordVectors(checkpoint, list, run);
  const g = new Graph('ffn_concepts');
  const O = g.input('O', 'float64', ['words', H]);
  const V = g.input('V', 'float64', [C, H]);
  const scores = g.node('Transpose', [g.node('Abs', [g.node('Gemm', [O, V], { transB: int(1) })])], { perm: ints([1, 0]) }); // [C, N]
  const [values, indices] = g.nodeN('TopK', [scores, g.ints1d([K])], 2, { axis: int(-1), largest: int(1), sorted: int(1) });
  g.output(values!, 'scores');
  g.output(indices!, 'indices');
  const out: ConceptLayer[] = [];
  await withSession(g, checkpoint, run, async (session) => {
    for (const b of basis) {
      throwIfAborted(run.signal);
      run.onProgress?.({ phase: 'concepts', done: out.length, total: basis.length });
      const r = await session.run({ O: f64(vectors.outputUnit, [N, H]), V: f64(b.basis, [C, H]) });
      const s = r.scores!.data as Float64Array;
      const idx = r.indices!.data as BigInt64Array;
      out.push({
        layer: b.layer,
        components: Array.from({ length: C }, (_, c) => ({
          indices: Array.from(idx.subarray(c * K, c * K + K), Number),
          scores: Array.from(s.subarray(c * K, c * K + K)),
        })),
      });
    }
  });
  run.onProgress?.({ phase: 'concepts', done: out.length, total: basis.length });
  return out;
}

/**
 * What the two cached parts depend on: the components on the checkpoint's content and the options;
 * their concept words also on the word list.
 */
export function ffnCacheKeys(checkpoint: Checkpoint, list: WordList, resolved: ResolvedFfnOptions): { basis: Record<string, unknown>; concepts: Record<string, unknown> } {
  const basis = { version: FFN_VERSION, checkpoint: checkpointFingerprint(checkpoint), components: resolved.components, layers: resolved.layers, method: resolved.method };
  return { basis, concepts: { ...basis, words: list.hash, wordsPerComponent: resolved.wordsPerComponent } };
}

/** The global FFN analysis of one model on a word list (basis and concepts cached on disk). */
export async function analyzeFfnGlobal(checkpoint: Checkpoint, list: WordList, options: FfnOptions = {}, run: FfnRunOptions = {}): Promise<GlobalFfnResult> {
  const resolved = resolveFfnOptions(checkpoint, options);
  const started = performance.now();
  const cacheOptions = { ...run.cache, log: run.cache?.log ?? run.log };
  run.onProgress?.({ phase: 'cache' });
  const { basis: basisKey, concepts: conceptKey } = ffnCacheKeys(checkpoint, list, resolved);
  const basis = await cached('ffn-basis', basisKey, () => computeBasis(checkpoint, resolved, run), {
    ...cacheOptions,
    encode: (layers) => layers.map((l) => ({ ...l, basis: float64ToBase64(l.basis) })),
    decode: (data) =>
      (data as (Omit<BasisLayer, 'basis'> & { basis: string })[]).map((l) => {
        const basis = base64ToFloat64(l.basis);
        if (basis.length !== resolved.components * checkpoint.config.hiddenSize) throw new Error('basis of the wrong size');
        return { ...l, basis };
      }),
  });
  const concepts = await cached('ffn-concepts', conceptKey, () => computeConcepts(checkpoint, list, basis.value, resolved, run), cacheOptions);
  const words = list.words;
  const layers: FfnLayer[] = basis.value.map((b, i) => ({
    layer: b.layer,
    totalVariance: b.totalVariance,
    ...(b.residuals ? { residuals: b.residuals, converged: b.converged } : {}),
    components: concepts.value[i]!.components.map((c, index) => ({
      index,
      // Eigenvalues of a covariance are ≥ 0; rounding can leave a rank-deficient one at −1e−17.
      varianceRatio: Math.max(0, b.variances[index]!) / b.totalVariance,
      words: c.indices.map((w) => words[w]!),
      scores: c.scores,
    })),
  }));
  return {
    words: { count: list.words.length, source: list.source, vocabularyCount: list.vocabularyCount, file: list.file, hash: list.hash },
    options: resolved,
    numLayers: checkpoint.config.numLayers,
    hidden: checkpoint.config.hiddenSize,
    layers,
    bases: basis.value.map((b) => b.basis),
    fromCache: basis.fromCache && concepts.fromCache,
    computeMs: performance.now() - started,
  };
}

// ---------------------------------------------------------------------------------------------
// Rotation between two models

/**
 * Components compared by default: the top ⌊H/8⌋ (at most the components computed). Subspaces as
 * large as the space itself would always coincide (every principal cosine 1).
 */
export function defaultRotationK(hidden: number, components: number): number {
  return Math.max(1, Math.min(components, Math.floor(hidden / 8)));
}

export function compareFfnRotation(base: GlobalFfnResult, tuned: GlobalFfnResult, k?: number): FfnRotationLayer[] {
  if (base.hidden !== tuned.hidden) throw new LensError(`The models' hidden sizes differ (${base.hidden} vs ${tuned.hidden}); their FFN components cannot be compared`);
  const H = base.hidden;
  const available = Math.min(base.options.components, tuned.options.components);
  const kk = Math.min(k ?? defaultRotationK(H, available), available);
  const tunedAt = new Map(tuned.layers.map((l, i) => [l.layer, i]));
  const out: FfnRotationLayer[] = [];
  base.layers.forEach((bl, bi) => {
    const ti = tunedAt.get(bl.layer);
    if (ti === undefined) return;
    const A = base.bases[bi]!.subarray(0, kk * H);
    const B = tuned.bases[ti]!.subarray(0, kk * H);
    const cosines = Array.from(principalCosines(A, B, kk, H));
    const bestMatch = Array.from({ length: kk }, (_, i) => {
      let best = -1;
      let match = 0;
      for (let j = 0; j < kk; j++) {
        let s = 0;
        for (let t = 0; t < H; t++) s += A[i * H + t]! * B[j * H + t]!;
        if (Math.abs(s) > best) {
          best = Math.abs(s);
          match = j;
        }
      }
      return { index: i, match, cosine: Math.min(1, best) };
    });
    out.push({
      layer: bl.layer,
      k: kk,
      principalCosines: cosines,
      meanCosine: cosines.reduce((a, b) => a + b, 0) / kk,
      meanAngleDegrees: cosines.reduce((a, c) => a + (Math.acos(c) * 180) / Math.PI, 0) / kk,
      bestMatch,
      meanBestMatch: bestMatch.reduce((a, b) => a + b.cosine, 0) / kk,
    });
  });
  return out;
}

// ---------------------------------------------------------------------------------------------
// Local: the components this prompt's FFN outputs use

export interface LocalFfnResult {
  /** Per analysed layer, its most used components, most used first. */
  layers: { layer: number; components: ComponentUsage[] }[];
  /** The most used components over all layers. */
  top: ComponentUsage[];
}

export function analyzeFfnLocal(encoded: EncodedPrompt, forward: ForwardResult, global: GlobalFfnResult, perLayer = 5, overall = 10): LocalFfnResult {
  if (!forward.ffn) throw new Error('internal: analyzeFfnLocal needs the FFN outputs');
  const H = global.hidden;
  const C = global.options.components;
  const [p0, p1] = encoded.promptSpan;
  const layers: LocalFfnResult['layers'] = [];
  const all: ComponentUsage[] = [];
  global.layers.forEach((gl, i) => {
    const f = forward.ffn![gl.layer]!;
    const basis = global.bases[i]!;
    const usage = new Float64Array(C);
    let tokens = 0;
    for (let t = p0; t < p1; t++) {
      let norm = 0;
      for (let x = 0; x < H; x++) norm += f[t * H + x]! ** 2;
      if (!(norm > 0)) continue;
      tokens++;
      for (let c = 0; c < C; c++) {
        let dot = 0;
        for (let x = 0; x < H; x++) dot += f[t * H + x]! * basis[c * H + x]!;
        usage[c] = usage[c]! + (dot * dot) / norm;
      }
    }
    const list: ComponentUsage[] = Array.from(usage, (u, component) => ({ layer: gl.layer, component, score: tokens ? u / tokens : 0 }));
    list.sort((a, b) => b.score - a.score || a.component - b.component);
    layers.push({ layer: gl.layer, components: list.slice(0, perLayer) });
    all.push(...list);
  });
  all.sort((a, b) => b.score - a.score || a.layer - b.layer || a.component - b.component);
  return { layers, top: all.slice(0, overall) };
}
