/**
 * Self-attention heads as word pairs (DESIGN.md §2; Wu et al. §4).
 *
 * Global, per model: every head's query/key projections read in the word list's input vectors
 * (the layer's input_layernorm gain folded in, `W' = Wᵀ ⊙ g`; GQA heads use their key/value
 * group; RoPE ignored), dimensions ranked by energy, top-K query and key words per dimension, and
 * the sign-consistent pairs whose co-occurrence similarity exceeds both words' thresholds, ranked.
 * All products over the word list, the threshold statistics and the top-k selections run as ONNX
 * graphs (see candidatesGraph); a dimension's top K words are decided from the float32 products and
 * their proven error bounds, with exact float64 values only for the words the bounds leave open
 * (heads-select.ts); the pair similarities come from one words × words table per model when it
 * fits a fifth of the weight bytes (exact, float64), else from a float32 product per dimension and
 * a float64 recomputation of the pairs it lets through. JavaScript ranks each
 * head's dimension energies, collects the kept pairs and sorts them. Results are cached on disk
 * (analysis-cache.ts).
 *
 * Local, per prompt: heads-local.ts. The paper's Table 3 (instruction vs general verbs across two
 * models): heads-table3.ts. The ONNX graphs this file runs: heads-graphs.ts.
 *
 * Precision: the products that pick candidates (words per dimension, pairs above the thresholds
 * within a proven float32 error margin) run in float32; everything a ranking or a kept pair is
 * decided on (word vectors, the candidates' exact values, thresholds, pair similarities) in
 * float64, so a float64 reference sees the same ranks and ties. Dimension energies, when every
 * dimension is analysed, are float64 sums of the float32 products' squares (relative error
 * ~1e-7: dimensions that close in energy could be ordered differently from exact arithmetic).
 *
 * Ties: every ranking breaks ties by position in the word list (ONNX TopK keeps the lower index
 * first, which the tests check), pairs by query position and then key position; dimensions of
 * equal energy by dimension index. Similarities are ranked on a 2⁻⁴⁰ grid (SIMILARITY_GRID).
 */
import { createHash } from 'node:crypto';
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import type { Checkpoint } from '../model/checkpoint.js';
import { LensError } from '../model/errors.js';
import { float, Graph, int, ints } from '../onnx/graph.js';
import { cached, checkpointFingerprint, type CacheOptions } from './analysis-cache.js';
import { computeWordVectors, f32, f64, i64, throwIfAborted, withSession, type AnalysisRunOptions, type WordVectors } from './analysis-graph.js';
import { readGloveVectors } from './glove.js';
import { classifyCandidates, finishSelection, float32DotBound, provenSign } from './heads-select.js';
import type { WordList } from './wordlist.js';
import type { WordListSummary, ResolvedHeadsOptions, HeadPair, HeadDimension, VerbShareRow, VerbShareTable, HeadsVerbComparison, LocalWordPair, LocalHead, VerbLink } from '../contract/report.js';
import { candidatesGraph, energyGraph, exactValuesGraph, pairsGraph } from './heads-graphs.js';
import type { HeadsOptions } from '../contract/engine.js';
export type { HeadsOptions };
export type { WordListSummary, ResolvedHeadsOptions, HeadPair, HeadDimension, VerbShareRow, VerbShareTable, HeadsVerbComparison, LocalWordPair, LocalHead, VerbLink };
// The other parts of the analysis, in files of their own: graphs, Table 3, local.
export { GENERAL_VERBS, compareHeadVerbs, matchGeneralVerb } from './heads-table3.js';
export { DEFAULT_LOCAL_PAIRS, analyzeHeadsLocal, type LocalHeadsResult } from './heads-local.js';

const HEADS_VERSION = 1;

export const DEFAULT_TOP_K = 100;
export const DEFAULT_BASELINE_WORDS = 3000;
/** τ_w = mean + THRESHOLD_Z · std of s(w, b) over the baseline words. */
export const THRESHOLD_Z = 1.96;
/**
 * Similarities are reported and ranked rounded to a multiple of 2⁻⁴⁰ (≈ 9·10⁻¹³): far below any
 * meaningful difference, far above float64 rounding, so values equal in exact arithmetic (a word
 * and its duplicate, s = 1) tie — and are ordered by word position — whatever the summation order.
 */
export const SIMILARITY_GRID = 2 ** -40;
export const onSimilarityGrid = (s: number) => Math.round(s / SIMILARITY_GRID) * SIMILARITY_GRID;

export interface HeadProfile {
  /** Pairs that occur in more than one of the head's analysed dimensions, with how many; most first, ties by word position. */
  pairs: { query: string; key: string; dims: number }[];
  /** Per word, how many of those pairs it is in; most first, ties by word position. */
  words: { word: string; count: number }[];
}

export interface GlobalHead {
  head: number;
  /** Analysed dimensions in energy order. */
  dims: HeadDimension[];
  profile: HeadProfile;
}

export interface GlobalHeadsLayer {
  layer: number;
  heads: GlobalHead[];
}

export interface GlobalHeadsResult {
  words: WordListSummary;
  options: ResolvedHeadsOptions;
  numLayers: number;
  numHeads: number;
  layers: GlobalHeadsLayer[];
  fromCache: boolean;
  computeMs: number;
}

export interface HeadsProgress {
  phase: 'cache' | 'word-vectors' | 'thresholds' | 'layers';
  done?: number;
  total?: number;
}

export interface HeadsRunOptions extends AnalysisRunOptions {
  cache?: CacheOptions;
  onProgress?: (p: HeadsProgress) => void;
  /** Memory a graph run may use for its per-item tensors (default 256 MiB); smaller means more, smaller runs. */
  itemBudgetBytes?: number;
  /** Largest [words, words] float64 similarity table to keep (default: a fifth of the weight bytes, at least 256 MiB; 0: none). */
  similarityTableBytes?: number;
}

/** The cached form: word indices instead of strings, pairs as flat (query, key, similarity) triples. */
interface CompactHeads {
  options: ResolvedHeadsOptions;
  layers: { layer: number; heads: { head: number; dims: { dim: number; energy: number; pairs: number[] }[] }[] }[];
}

function positive(value: number | undefined, fallback: number, what: string): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < 1) throw new LensError(`${what} must be a positive integer, got ${value}`);
  return value;
}

export function resolveLayers(layers: number[] | undefined, numLayers: number): number[] {
  if (layers === undefined) return Array.from({ length: numLayers }, (_, l) => l);
  const bad = layers.find((l) => !Number.isSafeInteger(l) || l < 0 || l >= numLayers);
  if (bad !== undefined) throw new LensError(`Layer ${bad} does not exist (the model has layers 0..${numLayers - 1})`);
  return [...new Set(layers)].sort((a, b) => a - b);
}

function summary(list: WordList): WordListSummary {
  return { count: list.words.length, source: list.source, vocabularyCount: list.vocabularyCount, file: list.file, hash: list.hash };
}

/** A cheap content fingerprint of a (possibly multi-GiB) vectors file: size and the first and last MiB. */
function fileFingerprint(file: string): string {
  const h = createHash('sha256');
  let size: number;
  try {
    size = statSync(file).size;
  } catch (e) {
    throw new LensError(`Cannot read the word vectors ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, file);
  }
  h.update(String(size));
  const fd = openSync(file, 'r');
  try {
    const chunk = Buffer.alloc(Math.min(size, 1 << 20));
    for (const at of [0, Math.max(0, size - chunk.length)]) {
      const n = readSync(fd, chunk, 0, chunk.length, at);
      h.update(chunk.subarray(0, n));
    }
  } finally {
    closeSync(fd);
  }
  return h.digest('hex');
}

/**
 * Float64 statistics of the word list, once per model: the thresholds τ and, when only some
 * dimensions are analysed, the Gram matrix EᵀE of the input vectors (every dimension's energy is a
 * quadratic form in it). With m = the mean
 * baseline unit vector and C = the baseline's second-moment matrix (both from the baseline rows
 * b), mean_b s(w,b) = u_w·m and mean_b s(w,b)² = u_wᵀ C u_w, so τ needs N·D² work instead of
 * N·B·D. Words without a similarity vector get τ = +∞ (they never pass a threshold).
 */
async function wordStatistics(
  checkpoint: Checkpoint,
  vectors: WordVectors,
  unit: Float64Array,
  simDims: number,
  valid: boolean[],
  baselineWords: number,
  withGram: boolean,
  run: HeadsRunOptions,
): Promise<{ gram: Float64Array | null; tau: Float64Array }> {
  const N = valid.length;
  const H = vectors.hidden;
  const baseRows: number[] = [];
  for (let i = 0; i < N && baseRows.length < baselineWords; i++) if (valid[i]) baseRows.push(i);
  const B = baseRows.length;
  const g = new Graph('word_statistics');
  if (withGram) {
    const E = g.input('E', 'float64', ['words', H]);
    g.output(g.node('Gemm', [E, E], { transA: int(1) }), 'gram');
  }
  const U = g.input('U', 'float64', ['words', simDims]);
  const baseIdx = g.input('base', 'int64', [B]);
  const Ub = g.node('Gather', [U, baseIdx], { axis: int(0) }); // [B, D]
  const m = g.node('ReduceMean', [Ub], { axes: ints([0]), keepdims: int(1) }); // [1, D]
  const mean = g.node('ReduceSum', [g.node('Mul', [U, m]), g.ints1d([1])], { keepdims: int(0) });
  // Σ_b s(w,b)² / B through the D × D second-moment matrix (N·D² work) or, with fewer baseline
  // words than dimensions (a 7B model: 3,000 < 4,096), directly from the N × B similarities (N·B·D).
  const second =
    B < simDims
      ? g.node('Mul', [g.node('ReduceSumSquare', [g.node('Gemm', [U, Ub], { transB: int(1) })], { axes: ints([1]), keepdims: int(0) }), g.scalar(1 / B, 'float64')])
      : g.node('ReduceSum', [g.node('Mul', [g.node('MatMul', [U, g.node('Gemm', [Ub, Ub], { transA: int(1), alpha: float(1 / B) })]), U]), g.ints1d([1])], { keepdims: int(0) });
  const variance = g.node('Max', [g.node('Sub', [second, g.node('Mul', [mean, mean])]), g.scalar(0, 'float64')]);
  g.output(g.node('Add', [mean, g.node('Mul', [g.node('Sqrt', [variance]), g.scalar(THRESHOLD_Z, 'float64')])]), 'tau');
  run.onProgress?.({ phase: 'thresholds', done: 0, total: N });
  const out = await withSession(g, checkpoint, run, (session) =>
    session.run({ ...(withGram ? { E: f64(vectors.input, [N, H]) } : {}), U: f64(unit, [N, simDims]), base: i64(BigInt64Array.from(baseRows, BigInt), [B]) }),
  );
  const tau = Float64Array.from(out.tau!.data as Float64Array);
  for (let i = 0; i < N; i++) if (!valid[i]) tau[i] = Infinity;
  run.onProgress?.({ phase: 'thresholds', done: N, total: N });
  return { gram: withGram ? (out.gram!.data as Float64Array) : null, tau };
}

/**
 * Every word pair's exact (float64) similarity, [N, N], when it fits the memory allowance: the
 * pair similarities are the same for every layer (they are the words' vectors, not the heads'), so
 * one N × N float64 product per model replaces, per layer and head dimension, a [K, K] float32
 * product and the float64 recomputation of every pair it lets through (at Llama-2-7B shape some
 * 340,000 dot products of 4,096 per layer, reading rows scattered over a 500 MB matrix). Null when
 * it does not fit.
 */
async function similarityTable(checkpoint: Checkpoint, unit: Float64Array, N: number, D: number, run: HeadsRunOptions): Promise<Float64Array | null> {
  const allowance = run.similarityTableBytes ?? Math.max(256 * 2 ** 20, checkpoint.weightBytes / 5);
  if (N * N * 8 > allowance) return null;
  const table = new Float64Array(N * N);
  const g = new Graph('heads_similarity_table');
  const rows = g.input('rows', 'float64', ['block', D]);
  const all = g.input('U', 'float64', ['words', D]);
  g.output(g.node('Gemm', [rows, all], { transB: int(1) }), 'sim');
  const block = Math.max(1, Math.floor((64 * 2 ** 20) / (8 * N)));
  await withSession(g, checkpoint, run, async (session) => {
    for (let start = 0; start < N; start += block) {
      throwIfAborted(run.signal);
      const b = Math.min(block, N - start);
      const out = await session.run({ rows: f64(unit.subarray(start * D, (start + b) * D), [b, D]), U: f64(unit, [N, D]) });
      table.set(out.sim!.data as Float64Array, start * N);
    }
  });
  return table;
}

/**
 * |float32 cosine − float64 cosine| for unit vectors of `dims` entries: rounding the inputs to
 * float32 and a dot product of `dims` terms each err by at most dims·2⁻²⁴ (and the thresholds'
 * own float32 rounding by 2⁻²⁴), whatever the summation order.
 */
export const similarityMargin = (dims: number) => (dims + 4) * 2 ** -24;

/** Dimensions of one head in energy order (ties by index), the first `count`. */
function rankDims(energy: Float64Array, offset: number, d: number, count: number): number[] {
  return Array.from({ length: d }, (_, r) => r)
    .sort((a, b) => energy[offset + b]! - energy[offset + a]! || a - b)
    .slice(0, count);
}

/** Memory a graph run may take for its per-item tensors; items are chunked to stay under it. */
const ITEM_BUDGET_BYTES = 256 * 2 ** 20;

/** How many times more candidates a dimension gets when its first candidates cannot decide its top K. */
const WIDER_CANDIDATES = 4;

async function computeHeads(checkpoint: Checkpoint, list: WordList, options: ResolvedHeadsOptions, run: HeadsRunOptions): Promise<CompactHeads> {
  const { numHeads: nH, numKvHeads: nKV, headDim: d, hiddenSize: H } = checkpoint.config;
  const group = nH / nKV;
  const N = list.words.length;
  run.onProgress?.({ phase: 'word-vectors' });
  const vectors = await computeWordVectors(checkpoint, list, run);
  let unit: Float64Array;
  let simDims: number;
  let valid: boolean[];
  if (options.similarity === 'glove') {
    const glove = await readGloveVectors(options.vectorsFile!, list.words, run.signal);
    simDims = glove.dims;
    unit = glove.vectors;
    for (let i = 0; i < N; i++) {
      let s = 0;
      for (let x = 0; x < simDims; x++) s += unit[i * simDims + x]! ** 2;
      const norm = Math.sqrt(s);
      if (norm > 0) for (let x = 0; x < simDims; x++) unit[i * simDims + x] = unit[i * simDims + x]! / norm;
    }
    valid = glove.found;
    options.vectorsDims = glove.dims;
    options.vectorsCoverage = glove.foundCount;
  } else {
    unit = vectors.inputUnit;
    simDims = vectors.hidden;
    valid = new Array<boolean>(N).fill(true);
  }
  throwIfAborted(run.signal);
  // EᵀE is needed only to rank the dimensions before choosing some of them (see the layer loop).
  const { gram, tau } = await wordStatistics(checkpoint, vectors, unit, simDims, valid, options.baselineWords, options.dims < d, run);
  const K = options.topK;
  const Kc = Math.min(N, K + 16);
  const Kc0 = Kc;
  const D = options.dims;
  const items = nH * D;
  // Stage 1 holds two [m, N] float32 products (and their float64 casts for the energies) per run; stage 2 two [m, Kc, H] float64 and two [m, K, D] float32 gathers and [m, K, K] similarities.
  const chunkOf = (bytesPerItem: number) => Math.max(1, Math.min(items, Math.floor((run.itemBudgetBytes ?? ITEM_BUDGET_BYTES) / bytesPerItem)));
  const chunk1 = chunkOf(2 * 12 * N + 2 * 8 * Kc);
  const chunk2 = chunkOf(2 * 4 * K * simDims + 5 * K * K);
  // Exact values of the (row, word) pairs the float32 bounds leave open: a float64 [H] row of E and of W each.
  const exactChunk = Math.max(1, Math.floor((run.itemBudgetBytes ?? ITEM_BUDGET_BYTES) / (3 * 8 * H)));
  const wordNorms = new Float64Array(N);
  for (let w = 0; w < N; w++) {
    let t = 0;
    for (let x = 0, o = w * H; x < H; x++) t += vectors.input[o + x]! ** 2;
    wordNorms[w] = Math.sqrt(t);
  }
  const maxWordNorm = wordNorms.reduce((a, b) => Math.max(a, b), 0);
  const boundFactor = float32DotBound(H);
  let fallbacks = 0;
  const layers: CompactHeads['layers'] = [];
  const unit32 = Float32Array.from(unit);
  const margin = similarityMargin(simDims);
  const tauSelect = Float32Array.from(tau, (t) => t - margin);
  const simTable = await similarityTable(checkpoint, unit, N, simDims, run);
  let exactCount = 0;
  const exactSimilarity = (q: number, k: number) => {
    // Four partial sums: the float64 rounding this changes is far below SIMILARITY_GRID.
    let s0 = 0;
    let s1 = 0;
    let s2 = 0;
    let s3 = 0;
    const a = q * simDims;
    const b = k * simDims;
    let x = 0;
    for (; x + 3 < simDims; x += 4) {
      s0 += unit[a + x]! * unit[b + x]!;
      s1 += unit[a + x + 1]! * unit[b + x + 1]!;
      s2 += unit[a + x + 2]! * unit[b + x + 2]!;
      s3 += unit[a + x + 3]! * unit[b + x + 3]!;
    }
    for (; x < simDims; x++) s0 += unit[a + x]! * unit[b + x]!;
    exactCount++;
    return s0 + s1 + (s2 + s3);
  };
  run.onProgress?.({ phase: 'layers', done: 0, total: options.layers.length });
  for (const layer of options.layers) {
    const t0 = performance.now();
    const candidates = async (rowsQ: BigInt64Array, rowsK: BigInt64Array, Kc = Kc0) => {
      const n = rowsQ.length;
      const side = () => ({ cand: new BigInt64Array(n * Kc), val: new Float32Array(n * Kc), wnorm: new Float32Array(n), energy: new Float64Array(n) });
      const out = { q: side(), k: side() };
      await withSession(candidatesGraph(checkpoint, layer, Kc), checkpoint, run, async (session) => {
        for (let start = 0; start < n; start += chunk1) {
          throwIfAborted(run.signal);
          const m = Math.min(chunk1, n - start);
          const r = await session.run({ E32: f32(vectors.input32, [N, H]), rows_q: i64(rowsQ.subarray(start, start + m), [m]), rows_k: i64(rowsK.subarray(start, start + m), [m]) });
          for (const which of ['q', 'k'] as const) {
            out[which].cand.set(r[`cand_${which}`]!.data as BigInt64Array, start * Kc);
            out[which].val.set(r[`val_${which}`]!.data as Float32Array, start * Kc);
            out[which].wnorm.set(r[`wnorm_${which}`]!.data as Float32Array, start);
            out[which].energy.set(r[`energy_${which}`]!.data as Float64Array, start);
          }
        }
      });
      return out;
    };
    // Item h·d + r of a head dimension: its query row and its key/value group's key row.
    const itemRows = (select: (h: number, j: number) => number, perHead: number) => {
      const q = new BigInt64Array(nH * perHead);
      const k = new BigInt64Array(nH * perHead);
      for (let h = 0; h < nH; h++) {
        for (let j = 0; j < perHead; j++) {
          const r = select(h, j);
          q[h * perHead + j] = BigInt(h * d + r);
          k[h * perHead + j] = BigInt(Math.floor(h / group) * d + r);
        }
      }
      return { q, k };
    };
    const energy = new Float64Array(nH * d);
    let dims: number[][];
    let rowsQ: BigInt64Array;
    let rowsK: BigInt64Array;
    let cands: Awaited<ReturnType<typeof candidates>>;
    if (gram === null) {
      // Every dimension is analysed: the candidate products of all of them give the energies too
      // (no float64 H × H product per row), and are then put in energy order.
      const natural = itemRows((_, r) => r, d);
      const all = await candidates(natural.q, natural.k);
      for (let i = 0; i < nH * d; i++) energy[i] = all.q.energy[i]! + all.k.energy[i]!;
      dims = Array.from({ length: nH }, (_, h) => rankDims(energy, h * d, d, D));
      ({ q: rowsQ, k: rowsK } = itemRows((h, j) => dims[h]![j]!, D));
      const reorder = (from: typeof all.q) => {
        const to = { cand: new BigInt64Array(items * Kc), val: new Float32Array(items * Kc), wnorm: new Float32Array(items), energy: new Float64Array(0) };
        for (let h = 0; h < nH; h++) {
          for (let j = 0; j < D; j++) {
            const src = h * d + dims[h]![j]!;
            const dst = h * D + j;
            to.cand.set(from.cand.subarray(src * Kc, (src + 1) * Kc), dst * Kc);
            to.val.set(from.val.subarray(src * Kc, (src + 1) * Kc), dst * Kc);
            to.wnorm[dst] = from.wnorm[src]!;
          }
        }
        return to;
      };
      cands = { q: reorder(all.q), k: reorder(all.k) };
    } else {
      // Only the leading dimensions: rank them all by w_rᵀ (EᵀE) w_r first, then take the candidates of those.
      const all = (n: number) => i64(BigInt64Array.from({ length: n }, (_, i) => BigInt(i)), [n]);
      const energies = await withSession(energyGraph(checkpoint, layer), checkpoint, run, (session) =>
        session.run({ gram: f64(gram, [H, H]), rows_q: all(nH * d), rows_k: all(nKV * d) }),
      );
      const eq = energies.energy_q!.data as Float64Array;
      const ek = energies.energy_k!.data as Float64Array;
      for (let h = 0; h < nH; h++) for (let r = 0; r < d; r++) energy[h * d + r] = eq[h * d + r]! + ek[Math.floor(h / group) * d + r]!;
      dims = Array.from({ length: nH }, (_, h) => rankDims(energy, h * d, d, D));
      ({ q: rowsQ, k: rowsK } = itemRows((h, j) => dims[h]![j]!, D));
      cands = await candidates(rowsQ, rowsK);
    }
    const t1 = performance.now();
    // The top K words of each item and side, and the signs of their values (heads-select.ts): the
    // float32 values decide wherever their error bounds allow; the rest is computed exactly.
    const rows = { q: rowsQ, k: rowsK };
    fallbacks = 0;
    const chosen = { q: { idx: new BigInt64Array(items * K), sign: new Float32Array(items * K) }, k: { idx: new BigInt64Array(items * K), sign: new Float32Array(items * K) } };
    type Pending = { item: number; certainIn: number[]; uncertain: number[]; words: number[]; values: ArrayLike<number>; exact: Map<number, number> };
    const pending: Record<'q' | 'k', Pending[]> = { q: [], k: [] };
    const requests: Record<'q' | 'k', { row: bigint; word: number; done: (v: number) => void }[]> = { q: [], k: [] };
    const classify = (which: 'q' | 'k', i: number, words: number[], values: ArrayLike<number>, wn: number, outside: boolean) => {
      const bounds = words.map((w) => boundFactor * wordNorms[w]! * wn);
      let smallest = Infinity;
      for (let j = 0; j < values.length; j++) smallest = Math.min(smallest, Math.abs(values[j]!));
      const cls = classifyCandidates({ values, bounds, outsideHigh: outside ? smallest + boundFactor * maxWordNorm * wn : null }, K);
      if (!cls.decided) return false;
      const p: Pending = { item: i, certainIn: cls.certainIn, uncertain: cls.uncertain, words, values, exact: new Map() };
      pending[which].push(p);
      const ask = (pos: number) => requests[which].push({ row: rows[which][i]!, word: words[pos]!, done: (v) => p.exact.set(pos, v) });
      for (const pos of cls.uncertain) ask(pos);
      for (const pos of cls.certainIn) if (provenSign(values[pos]!, bounds[pos]!) === 0) ask(pos);
      return true;
    };
    const undecided = new Set<number>();
    for (const which of ['q', 'k'] as const) {
      const c = cands[which];
      for (let i = 0; i < items; i++) {
        const words = Array.from(c.cand.subarray(i * Kc, (i + 1) * Kc), Number);
        if (!classify(which, i, words, c.val.subarray(i * Kc, (i + 1) * Kc), c.wnorm[i]!, Kc < N)) undecided.add(i);
      }
    }
    if (undecided.size) {
      // The candidates could not prove the rest of the list out (a flat tail within the float32
      // error): those items again with WIDER_CANDIDATES times as many, and over the whole list if
      // even that does not decide.
      const again = [...undecided];
      const Kw = Math.min(N, WIDER_CANDIDATES * Kc);
      const wide = await candidates(BigInt64Array.from(again, (i) => rowsQ[i]!), BigInt64Array.from(again, (i) => rowsK[i]!), Kw);
      const decidedBefore = { q: new Set(pending.q.map((p) => p.item)), k: new Set(pending.k.map((p) => p.item)) };
      again.forEach((i, n) => {
        for (const which of ['q', 'k'] as const) {
          if (decidedBefore[which].has(i)) continue;
          const c = wide[which];
          const words = Array.from(c.cand.subarray(n * Kw, (n + 1) * Kw), Number);
          if (classify(which, i, words, c.val.subarray(n * Kw, (n + 1) * Kw), c.wnorm[n]!, Kw < N)) continue;
          fallbacks++;
          const all = Array.from({ length: N }, (_, w) => w);
          const p: Pending = { item: i, certainIn: [], uncertain: all, words: all, values: new Float32Array(N), exact: new Map() };
          pending[which].push(p);
          for (let w = 0; w < N; w++) requests[which].push({ row: rows[which][i]!, word: w, done: (v) => p.exact.set(w, v) });
        }
      });
    }
    const totalRequests = requests.q.length + requests.k.length;
    if (totalRequests > 0) {
      await withSession(exactValuesGraph(checkpoint, layer), checkpoint, run, async (session) => {
        const at = { q: 0, k: 0 };
        while (at.q < requests.q.length || at.k < requests.k.length) {
          throwIfAborted(run.signal);
          const feeds: Record<string, ReturnType<typeof i64>> = { E64: f64(vectors.input, [N, H]) as never };
          const taken = { q: 0, k: 0 };
          for (const which of ['q', 'k'] as const) {
            const part = requests[which].slice(at[which], at[which] + exactChunk);
            taken[which] = part.length;
            // An empty side still needs one element; its value is ignored.
            const list = part.length ? part : [{ row: 0n, word: 0 }];
            feeds[`rows_${which}`] = i64(BigInt64Array.from(list, (r) => r.row), [list.length]);
            feeds[`words_${which}`] = i64(BigInt64Array.from(list, (r) => BigInt(r.word)), [list.length]);
          }
          const out = await session.run(feeds);
          for (const which of ['q', 'k'] as const) {
            const values = out[`exact_${which}`]!.data as Float64Array;
            for (let j = 0; j < taken[which]; j++) requests[which][at[which] + j]!.done(values[j]!);
            at[which] += taken[which];
          }
        }
      });
    }
    for (const which of ['q', 'k'] as const) {
      for (const p of pending[which]) {
        const top = finishSelection(p.certainIn, p.uncertain, p.exact, p.words, K);
        for (let j = 0; j < K; j++) {
          const pos = top[j]!;
          const exact = p.exact.get(pos);
          const value = exact ?? p.values[pos]!;
          chosen[which].idx[p.item * K + j] = BigInt(p.words[pos]!);
          chosen[which].sign[p.item * K + j] = value > 0 ? 1 : value < 0 ? -1 : 0;
        }
      }
    }
    const pairs: number[][] = new Array(items);
    exactCount = 0;
    const keepPairs = (item: number, maybe: (a: number, b: number) => boolean, similarity: (q: number, k: number) => number) => {
      const kept: { q: number; k: number; s: number }[] = [];
      for (let a = 0; a < K; a++) {
        const qw = Number(chosen.q.idx[item * K + a]!);
        for (let b = 0; b < K; b++) {
          if (!maybe(a, b)) continue;
          const kw = Number(chosen.k.idx[item * K + b]!);
          const v = similarity(qw, kw);
          if (v > tau[qw]! && v > tau[kw]!) kept.push({ q: qw, k: kw, s: onSimilarityGrid(v) });
        }
      }
      kept.sort((x, y) => y.s - x.s || x.q - y.q || x.k - y.k);
      pairs[item] = kept.flatMap((p) => [p.q, p.k, p.s]);
    };
    if (simTable) {
      // The sign and distinctness tests of pairsGraph; the thresholds on the exact table values.
      const fromTable = (q: number, k: number) => simTable[q * N + k]!;
      for (let i = 0; i < items; i++) {
        keepPairs(
          i,
          (a, b) => chosen.q.idx[i * K + a]! !== chosen.k.idx[i * K + b]! && chosen.q.sign[i * K + a]! * chosen.k.sign[i * K + b]! > 0,
          fromTable,
        );
      }
    } else await withSession(pairsGraph(K, simDims), checkpoint, run, async (session) => {
      for (let start = 0; start < items; start += chunk2) {
        throwIfAborted(run.signal);
        const m = Math.min(chunk2, items - start);
        const slice = <T extends BigInt64Array | Float32Array>(x: T) => x.subarray(start * K, (start + m) * K) as T;
        const out = await session.run({
          U32: f32(unit32, [N, simDims]),
          tau: f32(tauSelect, [N]),
          qidx: i64(slice(chosen.q.idx), [m, K]),
          kidx: i64(slice(chosen.k.idx), [m, K]),
          qsign: f32(slice(chosen.q.sign), [m, K]),
          ksign: f32(slice(chosen.k.sign), [m, K]),
        });
        const maybe = out.maybe!.data as Uint8Array;
        for (let i = 0; i < m; i++) keepPairs(start + i, (a, b) => maybe[(i * K + a) * K + b] === 1, exactSimilarity);
      }
    });
    run.log?.(`heads layer ${layer}: energies and candidates ${((t1 - t0) / 1000).toFixed(1)} s, pairs ${((performance.now() - t1) / 1000).toFixed(1)} s, ${exactCount} float64 similarities recomputed, ${totalRequests} word values computed exactly${fallbacks ? ` (${fallbacks} dimensions over the whole list)` : ''}`);
    const heads: CompactHeads['layers'][number]['heads'] = [];
    for (let h = 0; h < nH; h++) {
      heads.push({ head: h, dims: dims[h]!.map((r, j) => ({ dim: r, energy: energy[h * d + r]!, pairs: pairs[h * D + j]! })) });
    }
    layers.push({ layer, heads });
    run.onProgress?.({ phase: 'layers', done: layers.length, total: options.layers.length });
  }
  return { options, layers };
}

/** Recurring pairs and word counts of one head (see HeadProfile). */
export function headProfile(dims: { pairs: number[] }[], words: readonly string[]): HeadProfile {
  const counts = new Map<string, { q: number; k: number; n: number }>();
  for (const dim of dims) {
    // A pair counts once per dimension.
    const seen = new Set<string>();
    for (let i = 0; i < dim.pairs.length; i += 3) {
      const q = dim.pairs[i]!;
      const k = dim.pairs[i + 1]!;
      const key = `${q},${k}`;
      if (seen.has(key)) continue;
      seen.add(key);
      const entry = counts.get(key);
      if (entry) entry.n++;
      else counts.set(key, { q, k, n: 1 });
    }
  }
  const recurring = [...counts.values()].filter((c) => c.n > 1).sort((a, b) => b.n - a.n || a.q - b.q || a.k - b.k);
  const perWord = new Map<number, number>();
  for (const c of recurring) {
    perWord.set(c.q, (perWord.get(c.q) ?? 0) + 1);
    perWord.set(c.k, (perWord.get(c.k) ?? 0) + 1);
  }
  return {
    pairs: recurring.map((c) => ({ query: words[c.q]!, key: words[c.k]!, dims: c.n })),
    words: [...perWord].sort((a, b) => b[1] - a[1] || a[0] - b[0]).map(([w, count]) => ({ word: words[w]!, count })),
  };
}

function expand(compact: CompactHeads, list: WordList, numLayers: number, numHeads: number, fromCache: boolean, computeMs: number): GlobalHeadsResult {
  const words = list.words;
  return {
    words: summary(list),
    options: compact.options,
    numLayers,
    numHeads,
    fromCache,
    computeMs,
    layers: compact.layers.map((l) => ({
      layer: l.layer,
      heads: l.heads.map((h) => {
        const dims = h.dims.map((d) => {
          const pairs: HeadPair[] = [];
          for (let i = 0; i < d.pairs.length; i += 3) pairs.push({ query: words[d.pairs[i]!]!, key: words[d.pairs[i + 1]!]!, similarity: d.pairs[i + 2]! });
          return { dim: d.dim, energy: d.energy, pairs };
        });
        return { head: h.head, dims, profile: headProfile(h.dims, words) };
      }),
    })),
  };
}

export function resolveHeadsOptions(checkpoint: Checkpoint, list: WordList, options: HeadsOptions = {}): ResolvedHeadsOptions {
  const N = list.words.length;
  const { headDim, numLayers } = checkpoint.config;
  const topK = Math.min(positive(options.topK, DEFAULT_TOP_K, 'top-k'), N);
  const dims = Math.min(positive(options.dims, headDim, 'dims'), headDim);
  const baselineWords = positive(options.baselineWords, DEFAULT_BASELINE_WORDS, 'baseline words');
  const layers = resolveLayers(options.layers, numLayers);
  const folded = headsFoldedGains(checkpoint.config);
  return options.vectors !== undefined
    ? { topK, dims, baselineWords, similarity: 'glove', vectorsFile: options.vectors, layers, folded }
    : { topK, dims, baselineWords, similarity: 'input-embeddings', layers, folded };
}

/** What the global head analysis folds into W_q and W_k for a model's family (DESIGN.md: every per-dimension gain between the embedding and q·k). */
export function headsFoldedGains(config: Checkpoint['config']): string[] {
  const gain = config.normGainOffset ? ' (1 + w)' : '';
  const folded = config.normPlacement !== 'post' ? [`input_layernorm gain${gain} (input side)`] : [];
  if (config.qkNorm === 'head') folded.push(`q_norm/k_norm gains${gain} per head dimension (output side)`);
  if (config.qkNorm === 'projection') folded.push('q_norm/k_norm gains over the projection (output side)');
  return folded;
}

/** The global head analysis of one model on a word list (cached on disk). */
export async function analyzeHeadsGlobal(checkpoint: Checkpoint, list: WordList, options: HeadsOptions = {}, run: HeadsRunOptions = {}): Promise<GlobalHeadsResult> {
  const resolved = resolveHeadsOptions(checkpoint, list, options);
  const key = headsCacheKey(checkpoint, list, resolved);
  const started = performance.now();
  run.onProgress?.({ phase: 'cache' });
  const result = await cached('heads', key, () => computeHeads(checkpoint, list, resolved, run), { ...run.cache, log: run.cache?.log ?? run.log });
  // A cached result keeps the options it was computed with, except where the file was named.
  const compact = result.value;
  if (compact.options.vectorsFile !== undefined) compact.options.vectorsFile = resolved.vectorsFile;
  return expand(compact, list, checkpoint.config.numLayers, checkpoint.config.numHeads, result.fromCache, performance.now() - started);
}

/** What the cached global result depends on: the checkpoint's content, the word list and the options (a GloVe file by its content). */
export function headsCacheKey(checkpoint: Checkpoint, list: WordList, resolved: ResolvedHeadsOptions): Record<string, unknown> {
  return {
    version: HEADS_VERSION,
    checkpoint: checkpointFingerprint(checkpoint),
    words: list.hash,
    topK: resolved.topK,
    dims: resolved.dims,
    baselineWords: resolved.baselineWords,
    similarity: resolved.similarity === 'glove' ? { glove: fileFingerprint(resolved.vectorsFile!) } : 'input-embeddings',
    layers: resolved.layers,
  };
}
