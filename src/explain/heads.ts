/**
 * Self-attention heads as word pairs (DESIGN.md §2; Wu et al. §4).
 *
 * Global, per model: every head's query/key projections read in the word list's input vectors
 * (the layer's input_layernorm gain folded in, `W' = Wᵀ ⊙ g`; GQA heads use their key/value
 * group; RoPE ignored), dimensions ranked by energy, top-K query and key words per dimension, and
 * the sign-consistent pairs whose co-occurrence similarity exceeds both words' thresholds, ranked.
 * All products over the word list, the threshold statistics and the top-k selections run as ONNX
 * graphs (three per layer, see candidatesGraph); JavaScript only ranks each head's 64-odd dimension
 * energies, collects the kept pairs and sorts them. Results are
 * cached on disk (analysis-cache.ts).
 *
 * Local, per prompt: each head's real attention on the prompt, aggregated to words — a query
 * word's row is the mean over its tokens, a key word's column the sum over its tokens (rows stay
 * distributions) — its strongest word pairs, and the heads whose strongest pairs involve an
 * instruction verb.
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
import type { EncodedPrompt } from '../model/prompt.js';
import type { ForwardResult } from '../llm/runner.js';
import { float, Graph, int, ints } from '../onnx/graph.js';
import { cached, checkpointFingerprint, type CacheOptions } from './analysis-cache.js';
import { computeWordVectors, f32, f64, i64, rawWeightValue, throwIfAborted, withSession, type AnalysisRunOptions, type WordVectors } from './analysis-graph.js';
import { readGloveVectors } from './glove.js';
import { type InstructionVerb } from './instructions.js';
import { DEFAULT_INSTRUCTION_VERBS, matchInstructionVerb } from './instruction-lexicon.js';
import type { WordList } from './wordlist.js';
import { assignTokensToWords, findWords } from './words.js';

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

export interface HeadsOptions {
  /** Words per dimension on each side (default 100). */
  topK?: number;
  /** Dimensions per head, in energy order (default: all, head_dim). */
  dims?: number;
  /** Baseline words for the thresholds: the first this many of the list (default 3,000). */
  baselineWords?: number;
  /** GloVe-format word vectors for the similarity (default: the model's own input vectors). */
  vectors?: string;
  /** Only these layers (default: all). */
  layers?: number[];
}

export interface ResolvedHeadsOptions {
  topK: number;
  dims: number;
  baselineWords: number;
  similarity: 'input-embeddings' | 'glove';
  vectorsFile?: string;
  vectorsDims?: number;
  /** Words of the list that have a GloVe vector (with `glove`). */
  vectorsCoverage?: number;
  layers: number[];
  /** The per-dimension gains folded into W_q and W_k for this family (headsFoldedGains). */
  folded?: string[];
}

export interface WordListSummary {
  count: number;
  source: 'vocabulary' | 'file';
  vocabularyCount: number;
  file?: string;
  hash: string;
}

export interface HeadPair {
  query: string;
  key: string;
  similarity: number;
}

export interface HeadDimension {
  /** The dimension's index inside the head (0..head_dim-1). */
  dim: number;
  /** Σ_w Hq[w,dim]² + Σ_w Hk[w,dim]². */
  energy: number;
  /** Kept pairs, by similarity descending. */
  pairs: HeadPair[];
}

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
 * One layer's head-dimension items are rows `rowsQ` of q_proj and `rowsK` of k_proj (one item per
 * head and analysed dimension). Stage 1, `candidatesGraph`: a float32 product over the word list
 * and a TopK keep the top Kc = K + 16 words per item, returned in word order. Stage 2,
 * `pairsGraph`: the candidates' values are recomputed in float64 and cut to the top K (so ranks and
 * ties are decided in float64), and the pair similarities are a float64 product. Stage 1 runs on
 * many items at once (its memory is per word), stage 2 on fewer (its memory is per candidate row).
 */
function layerWeights(g: Graph, checkpoint: Checkpoint, layer: number) {
  const p = `model.layers.${layer}.`;
  const { config } = checkpoint;
  // Every per-dimension gain between the embedding and q·k (headsFoldedGains): the input norm's
  // on W's input side, the q/k norms' on its output side (their RMS scalars are ignored, like RoPE).
  const gainRaw = config.normPlacement !== 'post' ? rawWeightValue(g, checkpoint, `${p}input_layernorm.weight`) : null;
  /** A norm's gain as it scales: w, or Gemma's 1 + w. */
  const gainOf = (v: string, type: 'float32' | 'float64') => (config.normGainOffset ? g.node('Add', [v, g.constant(type, [], [1], 'one')]) : v);
  const raw = { q: rawWeightValue(g, checkpoint, `${p}self_attn.q_proj.weight`), k: rawWeightValue(g, checkpoint, `${p}self_attn.k_proj.weight`) };
  const outGain = config.qkNorm === 'none' ? null : { q: rawWeightValue(g, checkpoint, `${p}self_attn.q_norm.weight`), k: rawWeightValue(g, checkpoint, `${p}self_attn.k_norm.weight`) };
  const rows = (which: 'q' | 'k', rowsIn: string, type: 'float32' | 'float64') => {
    const w = g.node('Gather', [raw[which].value, rowsIn], { axis: int(0) }); // [m, H], stored type
    const to = type === 'float32' ? 1 : 11;
    const cast = (x: string, f32: boolean) => (f32 && type === 'float32' ? x : g.node('Cast', [x], { to: int(to) }));
    let folded = cast(w, raw[which].f32);
    if (gainRaw) folded = g.node('Mul', [folded, gainOf(cast(gainRaw.value, gainRaw.f32), type)]); // (g ⊙ W[r]) per row
    if (outGain) {
      // Qwen3's gain [head_dim] applies to each head's dimension r mod head_dim; OLMo 2's to row r.
      const rowCount = (which === 'q' ? config.numHeads : config.numKvHeads) * config.headDim;
      const dimOfRow = () => g.constant('int64', [rowCount], Array.from({ length: rowCount }, (_, r) => r % config.headDim), 'dim_of_row');
      const index = config.qkNorm === 'head' ? g.node('Gather', [dimOfRow(), rowsIn], { axis: int(0) }) : rowsIn;
      const n = g.node('Unsqueeze', [g.node('Gather', [outGain[which].value, index], { axis: int(0) }), g.ints1d([1])]); // [m, 1]
      folded = g.node('Mul', [folded, gainOf(cast(n, outGain[which].f32), type)]);
    }
    return folded;
  };
  return rows;
}

/**
 * A layer's dimension energies in float64: Σ_w (E_w·w_r)² = w_rᵀ (EᵀE) w_r with w_r = g ⊙ W[r], for
 * every query row and key row. The rows are gathered by an input (all of them), so the float64
 * copies of the weights exist only while the graph runs.
 */
function energyGraph(checkpoint: Checkpoint, layer: number): Graph {
  const H = checkpoint.config.hiddenSize;
  const g = new Graph(`heads_energy_${layer}`);
  const G = g.input('gram', 'float64', [H, H]);
  const rows = layerWeights(g, checkpoint, layer);
  for (const which of ['q', 'k'] as const) {
    const Wg = rows(which, g.input(`rows_${which}`, 'int64', [`rows_${which}`]), 'float64'); // [rows, H]
    g.output(g.node('ReduceSum', [g.node('Mul', [g.node('MatMul', [Wg, G]), Wg]), g.ints1d([1])], { keepdims: int(0) }), `energy_${which}`);
  }
  return g;
}

function candidatesGraph(checkpoint: Checkpoint, layer: number, Kc: number): Graph {
  const H = checkpoint.config.hiddenSize;
  const g = new Graph(`heads_candidates_${layer}`);
  const E32 = g.input('E32', 'float32', ['words', H]);
  const rows = layerWeights(g, checkpoint, layer);
  for (const which of ['q', 'k'] as const) {
    const w32 = rows(which, g.input(`rows_${which}`, 'int64', ['items']), 'float32');
    const approx = g.node('Gemm', [w32, E32], { transB: int(1) }); // [m, N]
    // Σ_w (E_w·w_r)², the row's share of its dimension's energy, summed in float64 over the float32 products.
    g.output(g.node('ReduceSumSquare', [g.node('Cast', [approx], { to: int(11) })], { axes: ints([1]), keepdims: int(0) }), `energy_${which}`);
    const [, cand] = g.nodeN('TopK', [g.node('Abs', [approx]), g.ints1d([Kc])], 2, { axis: int(-1), largest: int(1), sorted: int(1) });
    // In word order, so that a later TopK over them breaks ties by word position.
    const [, order] = g.nodeN('TopK', [g.node('Neg', [g.node('Cast', [cand!], { to: int(11) })]), g.ints1d([Kc])], 2, { axis: int(-1), largest: int(1), sorted: int(1) });
    g.output(g.node('GatherElements', [cand!, order!], { axis: int(1) }), `cand_${which}`);
  }
  return g;
}

/**
 * Stage 2. The pair similarities are the analysis's largest product at scale (K² · D per item), so
 * it runs in float32 and only selects: a pair survives when its float32 similarity exceeds both
 * thresholds less SIMILARITY_MARGIN (a bound on the float32 error of a cosine of D-dimensional
 * unit vectors); the survivors' exact float64 similarities then decide (in computeHeads).
 */
function pairsGraph(checkpoint: Checkpoint, layer: number, K: number, Kc: number, simDims: number): Graph {
  const H = checkpoint.config.hiddenSize;
  const g = new Graph(`heads_pairs_${layer}`);
  const E64 = g.input('E64', 'float64', ['words', H]);
  const U32 = g.input('U32', 'float32', ['words', simDims]);
  const tau = g.input('tau', 'float32', ['words']);
  const rows = layerWeights(g, checkpoint, layer);
  const side = (which: 'q' | 'k') => {
    const w64 = rows(which, g.input(`rows_${which}`, 'int64', ['items']), 'float64');
    const cand = g.input(`cand_${which}`, 'int64', ['items', Kc]);
    // Exact values: [m, Kc, H] × [m, H, 1].
    const exact = g.node('Squeeze', [g.node('MatMul', [g.node('Gather', [E64, cand], { axis: int(0) }), g.node('Unsqueeze', [w64, g.ints1d([2])])]), g.ints1d([2])]);
    const [, pos] = g.nodeN('TopK', [g.node('Abs', [exact]), g.ints1d([K])], 2, { axis: int(-1), largest: int(1), sorted: int(1) });
    const idx = g.node('GatherElements', [cand, pos!], { axis: int(1) }); // [m, K]
    g.output(idx, `${which}idx`);
    return { idx, signed: g.node('GatherElements', [exact, pos!], { axis: int(1) }) };
  };
  const q = side('q');
  const k = side('k');
  const Sq = g.node('Gather', [U32, q.idx], { axis: int(0) }); // [m, K, D]
  const Sk = g.node('Gather', [U32, k.idx], { axis: int(0) });
  const sim = g.node('MatMul', [Sq, g.node('Transpose', [Sk], { perm: ints([0, 2, 1]) })]); // [m, K, K]
  const col = (x: string) => g.node('Unsqueeze', [x, g.ints1d([2])]); // [m, K, 1]
  const row = (x: string) => g.node('Unsqueeze', [x, g.ints1d([1])]); // [m, 1, K]
  const signOk = g.node('Greater', [g.node('Mul', [col(q.signed), row(k.signed)]), g.scalar(0, 'float64')]);
  // `tau` is fed less the margin.
  const tauQ = g.node('Gather', [tau, q.idx], { axis: int(0) });
  const tauK = g.node('Gather', [tau, k.idx], { axis: int(0) });
  const aboveBoth = g.node('And', [g.node('Greater', [sim, col(tauQ)]), g.node('Greater', [sim, row(tauK)])]);
  const distinct = g.node('Not', [g.node('Equal', [col(q.idx), row(k.idx)])]);
  g.output(g.node('And', [g.node('And', [signOk, aboveBoth]), distinct]), 'maybe');
  return g;
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
  const D = options.dims;
  const items = nH * D;
  // Stage 1 holds two [m, N] float32 products (and their float64 casts for the energies) per run; stage 2 two [m, Kc, H] float64 and two [m, K, D] float32 gathers and [m, K, K] similarities.
  const chunkOf = (bytesPerItem: number) => Math.max(1, Math.min(items, Math.floor((run.itemBudgetBytes ?? ITEM_BUDGET_BYTES) / bytesPerItem)));
  const chunk1 = chunkOf(2 * 12 * N + 2 * 8 * Kc);
  const chunk2 = chunkOf(2 * 8 * Kc * H + 2 * 4 * K * simDims + 4 * K * K);
  const layers: CompactHeads['layers'] = [];
  const unit32 = Float32Array.from(unit);
  const margin = similarityMargin(simDims);
  const tauSelect = Float32Array.from(tau, (t) => t - margin);
  let exactCount = 0;
  const exactSimilarity = (q: number, k: number) => {
    let s = 0;
    for (let x = 0, a = q * simDims, b = k * simDims; x < simDims; x++) s += unit[a + x]! * unit[b + x]!;
    exactCount++;
    return s;
  };
  run.onProgress?.({ phase: 'layers', done: 0, total: options.layers.length });
  for (const layer of options.layers) {
    const t0 = performance.now();
    const candidates = async (rowsQ: BigInt64Array, rowsK: BigInt64Array) => {
      const n = rowsQ.length;
      const out = { q: new BigInt64Array(n * Kc), k: new BigInt64Array(n * Kc), energyQ: new Float64Array(n), energyK: new Float64Array(n) };
      await withSession(candidatesGraph(checkpoint, layer, Kc), checkpoint, run, async (session) => {
        for (let start = 0; start < n; start += chunk1) {
          throwIfAborted(run.signal);
          const m = Math.min(chunk1, n - start);
          const r = await session.run({ E32: f32(vectors.input32, [N, H]), rows_q: i64(rowsQ.subarray(start, start + m), [m]), rows_k: i64(rowsK.subarray(start, start + m), [m]) });
          out.q.set(r.cand_q!.data as BigInt64Array, start * Kc);
          out.k.set(r.cand_k!.data as BigInt64Array, start * Kc);
          out.energyQ.set(r.energy_q!.data as Float64Array, start);
          out.energyK.set(r.energy_k!.data as Float64Array, start);
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
    let candQ: BigInt64Array;
    let candK: BigInt64Array;
    if (gram === null) {
      // Every dimension is analysed: the candidate products of all of them give the energies too
      // (no float64 H × H product per row), and are then put in energy order.
      const natural = itemRows((_, r) => r, d);
      const all = await candidates(natural.q, natural.k);
      for (let i = 0; i < nH * d; i++) energy[i] = all.energyQ[i]! + all.energyK[i]!;
      dims = Array.from({ length: nH }, (_, h) => rankDims(energy, h * d, d, D));
      ({ q: rowsQ, k: rowsK } = itemRows((h, j) => dims[h]![j]!, D));
      candQ = new BigInt64Array(items * Kc);
      candK = new BigInt64Array(items * Kc);
      for (let h = 0; h < nH; h++) {
        for (let j = 0; j < D; j++) {
          const from = (h * d + dims[h]![j]!) * Kc;
          candQ.set(all.q.subarray(from, from + Kc), (h * D + j) * Kc);
          candK.set(all.k.subarray(from, from + Kc), (h * D + j) * Kc);
        }
      }
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
      ({ q: candQ, k: candK } = await candidates(rowsQ, rowsK));
    }
    const t1 = performance.now();
    const pairs: number[][] = new Array(items);
    exactCount = 0;
    await withSession(pairsGraph(checkpoint, layer, K, Kc, simDims), checkpoint, run, async (session) => {
      for (let start = 0; start < items; start += chunk2) {
        throwIfAborted(run.signal);
        const m = Math.min(chunk2, items - start);
        const out = await session.run({
          E64: f64(vectors.input, [N, H]),
          U32: f32(unit32, [N, simDims]),
          tau: f32(tauSelect, [N]),
          rows_q: i64(rowsQ.subarray(start, start + m), [m]),
          rows_k: i64(rowsK.subarray(start, start + m), [m]),
          cand_q: i64(candQ.subarray(start * Kc, (start + m) * Kc), [m, Kc]),
          cand_k: i64(candK.subarray(start * Kc, (start + m) * Kc), [m, Kc]),
        });
        const qidx = out.qidx!.data as BigInt64Array;
        const kidx = out.kidx!.data as BigInt64Array;
        const maybe = out.maybe!.data as Uint8Array;
        for (let i = 0; i < m; i++) {
          const kept: { q: number; k: number; s: number }[] = [];
          for (let a = 0; a < K; a++) {
            const base = (i * K + a) * K;
            const qw = Number(qidx[i * K + a]!);
            for (let b = 0; b < K; b++) {
              if (!maybe[base + b]) continue;
              const kw = Number(kidx[i * K + b]!);
              const v = exactSimilarity(qw, kw);
              if (v > tau[qw]! && v > tau[kw]!) kept.push({ q: qw, k: kw, s: onSimilarityGrid(v) });
            }
          }
          kept.sort((x, y) => y.s - x.s || x.q - y.q || x.k - y.k);
          pairs[start + i] = kept.flatMap((p) => [p.q, p.k, p.s]);
        }
      }
    });
    run.log?.(`heads layer ${layer}: energies and candidates ${((t1 - t0) / 1000).toFixed(1)} s, pairs ${((performance.now() - t1) / 1000).toFixed(1)} s, ${exactCount} float64 similarities recomputed`);
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
  const key = {
    version: HEADS_VERSION,
    checkpoint: checkpointFingerprint(checkpoint),
    words: list.hash,
    topK: resolved.topK,
    dims: resolved.dims,
    baselineWords: resolved.baselineWords,
    similarity: resolved.similarity === 'glove' ? { glove: fileFingerprint(resolved.vectorsFile!) } : 'input-embeddings',
    layers: resolved.layers,
  };
  const started = performance.now();
  run.onProgress?.({ phase: 'cache' });
  const result = await cached('heads', key, () => computeHeads(checkpoint, list, resolved, run), { ...run.cache, log: run.cache?.log ?? run.log });
  // A cached result keeps the options it was computed with, except where the file was named.
  const compact = result.value;
  if (compact.options.vectorsFile !== undefined) compact.options.vectorsFile = resolved.vectorsFile;
  return expand(compact, list, checkpoint.config.numLayers, checkpoint.config.numHeads, result.fromCache, performance.now() - started);
}

// ---------------------------------------------------------------------------------------------
// Instruction verbs vs general verbs (the paper's Table 3)

/** Frequent general verbs with their forms (base first), the comparison group of Table 3. */
export const GENERAL_VERBS: Readonly<Record<string, readonly string[]>> = Object.freeze({
  be: ['be', 'is', 'are', 'was', 'were', 'been', 'being', 'am'],
  have: ['have', 'has', 'had', 'having'],
  do: ['do', 'does', 'did', 'done', 'doing'],
  go: ['go', 'goes', 'went', 'gone', 'going'],
  get: ['get', 'gets', 'got', 'gotten', 'getting'],
  see: ['see', 'sees', 'saw', 'seen', 'seeing'],
  come: ['come', 'comes', 'came', 'coming'],
  take: ['take', 'takes', 'took', 'taken', 'taking'],
  know: ['know', 'knows', 'knew', 'known', 'knowing'],
  think: ['think', 'thinks', 'thought', 'thinking'],
  say: ['say', 'says', 'said', 'saying'],
  look: ['look', 'looks', 'looked', 'looking'],
  want: ['want', 'wants', 'wanted', 'wanting'],
  seem: ['seem', 'seems', 'seemed', 'seeming'],
  feel: ['feel', 'feels', 'felt', 'feeling'],
  become: ['become', 'becomes', 'became', 'becoming'],
  leave: ['leave', 'leaves', 'left', 'leaving'],
  call: ['call', 'calls', 'called', 'calling'],
  need: ['need', 'needs', 'needed', 'needing'],
  mean: ['mean', 'means', 'meant', 'meaning'],
  let: ['let', 'lets', 'letting'],
  hold: ['hold', 'holds', 'held', 'holding'],
  bring: ['bring', 'brings', 'brought', 'bringing'],
  stand: ['stand', 'stands', 'stood', 'standing'],
  hear: ['hear', 'hears', 'heard', 'hearing'],
  live: ['live', 'lives', 'lived', 'living'],
  believe: ['believe', 'believes', 'believed', 'believing'],
  happen: ['happen', 'happens', 'happened', 'happening'],
  like: ['like', 'likes', 'liked', 'liking'],
  work: ['work', 'works', 'worked', 'working'],
});

const GENERAL_FORMS = new Map<string, string>(Object.entries(GENERAL_VERBS).flatMap(([base, forms]) => forms.map((f) => [f, base] as [string, string])));

/** The general verb `word` is a form of (case-insensitive), or null. */
export function matchGeneralVerb(word: string): string | null {
  return GENERAL_FORMS.get(word.toLowerCase()) ?? null;
}

export interface VerbShareRow {
  verb: string;
  /** Per layer group: heads where the tuned count exceeds the base count ÷ heads where they differ; null when none differ. */
  share: (number | null)[];
  tunedMore: number[];
  decided: number[];
}

export interface VerbShareTable {
  /** Verbs (base forms) that occur in either model's head profiles, alphabetical. */
  verbs: VerbShareRow[];
  /** Per group: the mean of the verbs' shares (null shares left out). */
  mean: (number | null)[];
  /** Per group: Σ tunedMore ÷ Σ decided over the verbs. */
  pooled: (number | null)[];
}

export interface HeadsVerbComparison {
  /** Layer groups: quarters of depth (fewer when the model has fewer than 4 layers), [start, end) layers. */
  groups: { group: number; layers: [number, number] }[];
  instruction: VerbShareTable;
  general: VerbShareTable;
  /** General verbs that are also in the instruction-verb list: they count as instruction verbs only. */
  overlap: string[];
}

function verbCounts(head: GlobalHead, match: (w: string) => string | null): Map<string, number> {
  const out = new Map<string, number>();
  for (const { word, count } of head.profile.words) {
    const verb = match(word);
    if (verb) out.set(verb, (out.get(verb) ?? 0) + count);
  }
  return out;
}

/** Table 3: per layer group and verb, the share of heads where the tuned model's count exceeds the base model's (ties ignored). */
export function compareHeadVerbs(base: GlobalHeadsResult, tuned: GlobalHeadsResult, verbs: readonly string[] = DEFAULT_INSTRUCTION_VERBS): HeadsVerbComparison {
  if (base.numLayers !== tuned.numLayers || base.numHeads !== tuned.numHeads) {
    throw new LensError(`The models differ in shape (${base.numLayers} × ${base.numHeads} vs ${tuned.numLayers} × ${tuned.numHeads} layers × heads); heads cannot be compared one to one`);
  }
  const L = base.numLayers;
  const G = Math.min(4, L);
  const groupOf = (l: number) => Math.floor((l * G) / L);
  const groups = Array.from({ length: G }, (_, g) => {
    const layers = Array.from({ length: L }, (_, l) => l).filter((l) => groupOf(l) === g);
    return { group: g, layers: [layers[0]!, layers[layers.length - 1]! + 1] as [number, number] };
  });
  const tunedLayers = new Map(tuned.layers.map((l) => [l.layer, l]));
  const overlap = Object.keys(GENERAL_VERBS).filter((v) => matchInstructionVerb(v, verbs) === v);
  const table = (match: (w: string) => string | null): VerbShareTable => {
    const rows = new Map<string, VerbShareRow>();
    const row = (verb: string) => {
      let r = rows.get(verb);
      if (!r) rows.set(verb, (r = { verb, share: [], tunedMore: new Array<number>(G).fill(0), decided: new Array<number>(G).fill(0) }));
      return r;
    };
    for (const bl of base.layers) {
      const tl = tunedLayers.get(bl.layer);
      if (!tl) continue;
      const g = groupOf(bl.layer);
      bl.heads.forEach((bh, h) => {
        const b = verbCounts(bh, match);
        const t = verbCounts(tl.heads[h]!, match);
        for (const verb of new Set([...b.keys(), ...t.keys()])) {
          const r = row(verb);
          const nb = b.get(verb) ?? 0;
          const nt = t.get(verb) ?? 0;
          if (nt !== nb) r.decided[g]!++;
          if (nt > nb) r.tunedMore[g]!++;
        }
      });
    }
    const verbs = [...rows.values()].sort((a, b) => (a.verb < b.verb ? -1 : a.verb > b.verb ? 1 : 0));
    for (const r of verbs) r.share = r.decided.map((n, g) => (n > 0 ? r.tunedMore[g]! / n : null));
    const mean = groups.map((_, g) => {
      const shares = verbs.map((r) => r.share[g]).filter((s): s is number => s !== null);
      return shares.length ? shares.reduce((a, b) => a + b, 0) / shares.length : null;
    });
    const pooled = groups.map((_, g) => {
      const decided = verbs.reduce((a, r) => a + r.decided[g]!, 0);
      return decided ? verbs.reduce((a, r) => a + r.tunedMore[g]!, 0) / decided : null;
    });
    return { verbs, mean, pooled };
  };
  return {
    groups,
    instruction: table((w) => matchInstructionVerb(w, verbs)),
    // A verb of the instruction lexicon is never a general verb as well ("take" is both in the built-in lists).
    general: table((w) => {
      const general = matchGeneralVerb(w);
      return general !== null && !overlap.includes(general) ? general : null;
    }),
    overlap,
  };
}

// ---------------------------------------------------------------------------------------------
// Local: the heads' attention on one prompt

export interface LocalWordPair {
  /** Index into `words`. */
  query: number;
  key: number;
  /** Mean over the query word's tokens of the attention summed over the key word's tokens. */
  weight: number;
}

export interface LocalHead {
  layer: number;
  head: number;
  /** The strongest pairs of distinct words, by weight descending (ties: query, then key position). */
  pairs: LocalWordPair[];
}

export interface VerbLink {
  layer: number;
  head: number;
  /** The instruction verb (base form). */
  verb: string;
  /** The other word of the pair, as written in the prompt. */
  word: string;
  /** Index of the verb's word in `words`. */
  verbWord: number;
  /** Index of the other word in `words`. */
  wordIndex: number;
  /** Whether the verb is the pair's query (it attends to `word`) or its key (`word` attends to it). */
  role: 'query' | 'key';
  weight: number;
}

export interface LocalHeadsResult {
  words: { text: string; start: number; end: number }[];
  instructionVerbs: { verb: string; word: number }[];
  heads: LocalHead[];
  /** Pairs among the heads' strongest that involve an instruction verb, strongest first. */
  verbLinks: VerbLink[];
}

export const DEFAULT_LOCAL_PAIRS = 5;

/**
 * The heads' attention on the prompt aggregated to words. `forward` must hold the attentions of
 * `encoded.inputIds`; `verbs` are the instruction verbs' occurrences in the prompt.
 */
export function analyzeHeadsLocal(prompt: string, encoded: EncodedPrompt, forward: ForwardResult, numHeads: number, verbs: readonly InstructionVerb[], pairsPerHead = DEFAULT_LOCAL_PAIRS): LocalHeadsResult {
  if (!forward.attentions) throw new Error('internal: analyzeHeadsLocal needs the attentions');
  const S = encoded.inputIds.length;
  const [p0] = encoded.promptSpan;
  const words = findWords(prompt);
  const owner = assignTokensToWords(words, encoded.tokens);
  const tokensOf: number[][] = words.map(() => []);
  owner.forEach((w, t) => {
    if (w >= 0) tokensOf[w]!.push(p0 + t);
  });
  const present = words.map((_, i) => i).filter((i) => tokensOf[i]!.length > 0);
  const W = words.length;
  const instructionVerbs: { verb: string; word: number }[] = [];
  for (const v of verbs) {
    const i = words.findIndex((w) => w.start <= v.start && v.start < w.end);
    if (i >= 0 && tokensOf[i]!.length > 0 && !instructionVerbs.some((x) => x.word === i)) instructionVerbs.push({ verb: v.verb, word: i });
  }
  const verbAt = new Map(instructionVerbs.map((v) => [v.word, v.verb]));
  const heads: LocalHead[] = [];
  const verbLinks: VerbLink[] = [];
  const M = new Float64Array(W * W);
  forward.attentions.forEach((probs, layer) => {
    for (let h = 0; h < numHeads; h++) {
      M.fill(0);
      const base = h * S * S;
      for (const i of present) {
        const rows = tokensOf[i]!;
        for (const j of present) {
          let sum = 0;
          for (const a of rows) for (const b of tokensOf[j]!) sum += probs[base + a * S + b]!;
          M[i * W + j] = sum / rows.length;
        }
      }
      const pairs: LocalWordPair[] = [];
      for (const i of present) for (const j of present) if (i !== j && M[i * W + j]! > 0) pairs.push({ query: i, key: j, weight: M[i * W + j]! });
      pairs.sort((a, b) => b.weight - a.weight || a.query - b.query || a.key - b.key);
      const strongest = pairs.slice(0, pairsPerHead);
      heads.push({ layer, head: h, pairs: strongest });
      for (const p of strongest) {
        for (const role of ['query', 'key'] as const) {
          const verbWord = role === 'query' ? p.query : p.key;
          const verb = verbAt.get(verbWord);
          const other = role === 'query' ? p.key : p.query;
          if (verb !== undefined) verbLinks.push({ layer, head: h, verb, word: words[other]!.text, verbWord, wordIndex: other, role, weight: p.weight });
        }
      }
    }
  });
  verbLinks.sort((a, b) => b.weight - a.weight || a.layer - b.layer || a.head - b.head || a.verbWord - b.verbWord || a.wordIndex - b.wordIndex);
  return { words: words.map((w) => ({ text: w.text, start: w.start, end: w.end })), instructionVerbs, heads, verbLinks };
}
