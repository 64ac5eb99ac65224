/**
 * Shared pieces of the analysis graphs (heads, FFN): checkpoint weights as external initializers
 * (never copied, as in llm/llama-graph.ts), sessions opened for one job and released after it,
 * and the word-vector graph that both analyses start from.
 */
import * as ort from 'onnxruntime-node';
import type { Checkpoint } from '../model/checkpoint.js';
import { CancelledError } from '../model/errors.js';
import { externalWeight, mergedLoraWeight } from '../llm/weights.js';
import { Graph, int, ints } from '../onnx/graph.js';
import { serializeModel } from '../onnx/serialize.js';
import { openSession, type ProviderSetting } from '../runtime/session.js';
import type { WordList } from './wordlist.js';

export interface AnalysisRunOptions {
  /** Execution provider of the analysis sessions (default 'cpu'). */
  provider?: ProviderSetting;
  signal?: AbortSignal;
  log?: (line: string) => void;
  /** Profile every analysis session into `${prefix}_<time>.json` (onnxruntime's profiler; the benchmark reads them). */
  profilePrefix?: string;
}

export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new CancelledError();
}

/** A checkpoint weight in a graph: an external initializer into its .safetensors file, cast to `type` when stored otherwise. */
export function weightValue(g: Graph, checkpoint: Checkpoint, name: string, type: 'float32' | 'float64' = 'float32'): string {
  const merged = mergedLoraWeight(g, checkpoint, name, type);
  if (merged) return merged;
  const raw = externalWeight(g, checkpoint, name);
  if (checkpoint.tensors.get(name)!.dtype === 'F32' && type === 'float32') return raw;
  return g.node('Cast', [raw], { to: int(type === 'float32' ? 1 : 11) });
}

/**
 * The raw (stored-type) initializer, for gathering rows before casting them; W + s·B·A in float64
 * when a LoRA adapter adapts it (rankings are decided in float64, so the merge is too).
 */
export function rawWeightValue(g: Graph, checkpoint: Checkpoint, name: string): { value: string; f32: boolean } {
  const merged = mergedLoraWeight(g, checkpoint, name, 'float64');
  if (merged) return { value: merged, f32: false };
  return { value: externalWeight(g, checkpoint, name), f32: checkpoint.tensors.get(name)!.dtype === 'F32' };
}

/** Opens a session on `g` (weights relative to the checkpoint), runs `fn`, releases the session. */
export async function withSession<T>(g: Graph, checkpoint: Checkpoint, options: AnalysisRunOptions, fn: (session: ort.InferenceSession) => Promise<T>): Promise<T> {
  throwIfAborted(options.signal);
  const profile = options.profilePrefix !== undefined ? { enableProfiling: true, profileFilePrefix: options.profilePrefix } : undefined;
  const { session } = await openSession(serializeModel(g), checkpoint.weightsRoot, options.provider ?? 'cpu', options.log, profile);
  try {
    return await fn(session);
  } finally {
    if (profile) session.endProfiling();
    await session.release();
  }
}

export const f32 = (data: Float32Array, dims: number[]) => new ort.Tensor('float32', data, dims);
export const f64 = (data: Float64Array, dims: number[]) => new ort.Tensor('float64', data, dims);
export const i64 = (data: BigInt64Array, dims: number[]) => new ort.Tensor('int64', data, dims);

/**
 * Per word: the input vector (mean embedding row) in float64 and float32, and the input and output
 * vectors (mean lm_head row) normalised to unit length in float64. Float64 is what the rankings are
 * decided on (the weights are exact in it, so a float64 reference sees the same ties); float32 is
 * what the big candidate-selecting products use.
 */
export interface WordVectors {
  count: number;
  hidden: number;
  /** [N, H] row-major. */
  input: Float64Array;
  input32: Float32Array;
  /** Rows divided by their norm (a zero row stays zero). */
  inputUnit: Float64Array;
  outputUnit: Float64Array;
}

/** Adds `x / ‖x‖` per row (a zero row stays zero). */
export function unitRows(g: Graph, x: string): string {
  const norm = g.node('Sqrt', [g.node('ReduceSumSquare', [x], { axes: ints([1]), keepdims: int(1) })]);
  return g.node('Div', [x, g.node('Max', [norm, g.scalar(1e-300, g.info(x).type)])]);
}

/** Word vectors for a word list, computed on onnxruntime (gathers and means over the embedding and lm_head tables). */
export async function computeWordVectors(checkpoint: Checkpoint, list: WordList, options: AnalysisRunOptions = {}): Promise<WordVectors> {
  const N = list.words.length;
  const H = checkpoint.config.hiddenSize;
  const M = Math.max(...list.tokens.map((t) => t.length));
  // Slot m holds every word's m-th token (0 with weight 0 where a word has fewer).
  const ids = new BigInt64Array(M * N);
  const weights = new Float64Array(M * N);
  list.tokens.forEach((tokens, w) => {
    tokens.forEach((id, m) => {
      ids[m * N + w] = BigInt(id);
      weights[m * N + w] = 1 / tokens.length;
    });
  });
  const g = new Graph('word_vectors');
  const idsIn = g.input('ids', 'int64', [M, 'words']);
  const weightsIn = g.input('weights', 'float64', [M, 'words']);
  const table = (name: string) => {
    const raw = rawWeightValue(g, checkpoint, name);
    let sum = '';
    for (let m = 0; m < M; m++) {
      const slot = g.node('Gather', [idsIn, g.constant('int64', [], [m], 'slot')], { axis: int(0) });
      // Gather before casting: only the looked-up rows are converted.
      const rows = g.node('Cast', [g.node('Gather', [raw.value, slot], { axis: int(0) })], { to: int(11) });
      const w = g.node('Unsqueeze', [g.node('Gather', [weightsIn, g.constant('int64', [], [m], 'slot')], { axis: int(0) }), g.ints1d([1])]);
      const scaled = g.node('Mul', [rows, w]);
      sum = sum ? g.node('Add', [sum, scaled]) : scaled;
    }
    return sum;
  };
  const tied = checkpoint.config.tieWordEmbeddings;
  const input = table('model.embed_tokens.weight');
  g.output(input, 'input');
  g.output(g.node('Cast', [input], { to: int(1) }), 'input32');
  g.output(unitRows(g, input), 'input_unit');
  // Tied embeddings: the output vectors are the input vectors.
  if (!tied) g.output(unitRows(g, table('lm_head.weight')), 'output_unit');
  return withSession(g, checkpoint, options, async (session) => {
    const out = await session.run({ ids: i64(ids, [M, N]), weights: new ort.Tensor('float64', weights, [M, N]) });
    return {
      count: N,
      hidden: H,
      input: out.input!.data as Float64Array,
      input32: out.input32!.data as Float32Array,
      inputUnit: out.input_unit!.data as Float64Array,
      outputUnit: (tied ? out.input_unit! : out.output_unit!).data as Float64Array,
    };
  });
}
