import * as ort from 'onnxruntime-node';
import type { Checkpoint } from '../model/checkpoint.js';
import { CancelledError, LensError } from '../model/errors.js';
import { serializeModel } from '../onnx/serialize.js';
import { collectGarbage } from '../runtime/heap.js';
import { assertFits, formatBytes } from '../runtime/memory.js';
import { autoProvider, openSession, type Provider, type ProviderAttempt, type ProviderSetting } from '../runtime/session.js';
import { buildForwardGradientGraph, buildGradientGraph, gradientNames, type Objective } from './gradient-graph.js';
import { buildLlamaGraph, HEAD_BLOCK_BYTES, names, type LlamaGraphOptions } from './llama-graph.js';
import { causalMask, ropeTables } from './rope.js';
import { countStep } from '../model/debug-counts.js';
import { PRECISION_SETTINGS, type Precision } from '../contract/engine.js';

export interface ForwardResult {
  /** [S, V] row-major. */
  logits: Float32Array;
  /** Per layer: [heads, S, S] row-major. */
  attentions?: Float32Array[];
  /** Per layer: [S, H] row-major. */
  ffn?: Float32Array[];
}

export interface GenerateOptions {
  maxNewTokens: number;
  /** Stop after this many tokens in total (prompt + generated): the model's context. */
  signal?: AbortSignal;
  onToken?: (id: number, index: number) => void;
  /**
   * Also output the attention probabilities and/or FFN outputs, and hand those of the first pass
   * (the whole prompt, no past) to onPrompt: the forward the local analyses need, without a second
   * forward over the prompt. Its `logits` are the last position's only.
   */
  probes?: { attentions?: boolean; ffn?: boolean };
  onPrompt?: (forward: ForwardResult) => void;
}

/** How attribution is differentiated: reverse mode (one cotangent per response token), forward mode (one tangent per attributed position), or whichever costs less. */
export type AttributionMode = 'auto' | 'forward' | 'reverse';
export const ATTRIBUTION_MODES: readonly AttributionMode[] = ['auto', 'forward', 'reverse'];

export interface AttributionOptions {
  objective?: Objective;
  /** Default `auto`: the mode of lower estimated cost (attributionCost). */
  mode?: AttributionMode;
  /**
   * The positions whose attribution is wanted, [start, end) (default: every position before the
   * response). Forward mode computes these only (one tangent each); reverse mode computes every
   * position anyway.
   */
  positions?: [number, number];
  /** Bytes a chunk's tangents or cotangents may take (default: attributionChunkBudget of the weights). */
  memoryBudget?: number;
  /** Also compute every weight's gradient (the paper's cost model; benchmark only). */
  weightGradients?: boolean;
  /** Response tokens (reverse) or positions (forward) per session run (bounds memory); default from memoryBudget. */
  chunkSize?: number;
  signal?: AbortSignal;
  /** Called after each chunk with the number of response tokens done. */
  onProgress?: (done: number, total: number) => void;
}

export interface RawAttribution {
  /** [R][S] row-major: gradient × input of response token j's objective for every position i. */
  raw: Float32Array;
  /** p(y_j) per response token. */
  probabilities: Float32Array;
  sequenceLength: number;
  responseCount: number;
  /** The mode that ran. */
  mode: 'forward' | 'reverse';
  /** The positions raw holds (forward mode: the requested ones; elsewhere 0); reverse mode: all. */
  positions: [number, number];
}

/**
 * Estimated cost of attribution in each mode, in token-forwards (one layer stack over one token's
 * products), for the chunking each mode would use. Reverse mode: per chunk of response tokens a
 * forward and a recomputed forward over the sequence up to the chunk's last objective, plus one
 * backward per cotangent (about REVERSE_PER_COTANGENT forwards: the attention's backward has more
 * products than its forward). Forward mode: per chunk of positions a forward, plus one tangent per
 * position (about FORWARD_PER_TANGENT forwards), over the sequence up to the last objective.
 * The constants were measured on the SmolLM2-135M shape (onnxruntime's profile of both graphs at
 * S = 47: 0.47 s per cotangent, 0.35 s per tangent, about 0.37 s per forward on 2 cores).
 */
export const REVERSE_PER_COTANGENT = 1.3;
export const FORWARD_PER_TANGENT = 1.0;

export function attributionCost(mode: 'forward' | 'reverse', plan: { positions: number; responseStart: number; responses: number; chunkSize: number }): number {
  const { positions, responseStart, responses, chunkSize } = plan;
  let cost = 0;
  if (mode === 'reverse') {
    for (let start = 0; start < responses; start += chunkSize) {
      const count = Math.min(chunkSize, responses - start);
      const length = responseStart + start + count - 1;
      cost += length * (2 + REVERSE_PER_COTANGENT * count);
    }
  } else {
    const length = responseStart + responses - 1;
    for (let start = 0; start < positions; start += chunkSize) cost += length * (1 + FORWARD_PER_TANGENT * Math.min(chunkSize, positions - start));
  }
  return cost;
}

/**
 * The memory a chunk of response tokens' cotangents may take, as a share of the weight bytes
 * (within bounds): the backward holds about COTANGENTS_ALIVE tensors of [R, S, max(I, heads·S, H)]
 * float32 at its peak (measured: 2.4 MB per response token at S = 72 on a 135M model), and the
 * whole attribution must stay within 1.3× the weights. Fewer tokens per chunk cost one forward and
 * one recomputed forward per extra chunk.
 *
 * A small model gets less: the process's fixed part (node's and onnxruntime's code, the JavaScript
 * heap, the gradient graph's nodes in onnxruntime: RUNTIME_FIXED, measured ~150 MB on a 135M
 * model) already takes most of the 0.3× headroom there, so the chunk gets what is left, down to
 * the minimum. (SmolLM2-135M F32: 8 instead of 16 MB, 4 response tokens per run instead of 8;
 * models above ~0.6 GB of weights are unaffected.)
 */
const CHUNK_BUDGET_SHARE = 0.03;
const CHUNK_BUDGET_MIN = 8 * 2 ** 20;
const CHUNK_BUDGET_MAX = 256 * 2 ** 20;
const COTANGENTS_ALIVE = 6;
const RUNTIME_FIXED = 150 * 2 ** 20;
const RESIDENT_LIMIT = 1.3;

export function attributionChunkBudget(weightBytes: number): number {
  const headroom = weightBytes * (RESIDENT_LIMIT - 1) - RUNTIME_FIXED;
  return Math.min(CHUNK_BUDGET_MAX, Math.max(CHUNK_BUDGET_MIN, Math.floor(Math.min(weightBytes * CHUNK_BUDGET_SHARE, headroom))));
}

/**
 * Bytes of dropped key/value caches a generation leaves to the garbage collector before it asks
 * for a collection. Each decode step's outputs are new buffers; V8 frees the old ones only when it
 * collects, which external memory alone triggers late (tens of MB on a small model, several steps'
 * caches on a 7B one). A full collection of this process's small heap takes a few milliseconds.
 */
export function decodeGarbageBudget(weightBytes: number): number {
  return Math.max(4 * 2 ** 20, Math.floor(weightBytes * 0.01));
}

/** Node, onnxruntime and the tokenizer, before any model: what the memory check adds for them. */
const RUNTIME_ALLOWANCE = 256 * 2 ** 20;

export type PrecisionSetting = Precision;
export { PRECISION_SETTINGS };
export type ComputeType = 'float32' | 'float16';

/**
 * The compute type on a provider: float32 on the CPU always (its float16 kernels are few and slow);
 * on a GPU float16 when asked for, or under `auto` when the checkpoint is stored in F16/BF16.
 */
export function computeTypeFor(provider: Provider, precision: PrecisionSetting, dtype: string): ComputeType {
  if (provider === 'cpu' || precision === 'fp32') return 'float32';
  return precision === 'fp16' || dtype !== 'F32' ? 'float16' : 'float32';
}

export function parsePrecisionSetting(value: string): PrecisionSetting {
  if ((PRECISION_SETTINGS as readonly string[]).includes(value)) return value as PrecisionSetting;
  throw new LensError(`Unknown precision '${value}' (expected one of ${PRECISION_SETTINGS.join(', ')})`);
}

export interface RunnerOptions {
  provider?: ProviderSetting;
  precision?: PrecisionSetting;
  /** Bytes one block of a converted LM head may take (tests: several blocks on a small model). */
  headBlockBytes?: number;
  log?: (line: string) => void;
}

function graphKey(o: LlamaGraphOptions): string {
  return `${o.input}|${o.kvCache}|${o.logits}|${o.attentions}|${o.ffn}`;
}

/**
 * Runs one checkpoint on onnxruntime. A graph is written when it is first needed and its session
 * kept until another graph is needed, releaseSessions() or dispose(): one session at a time,
 * because each session maps the weight files on its own and the pages of every mapping count
 * toward the process's resident memory (a decode session next to a gradient session was 2× the
 * weight bytes). Sessions open in well under a second now that nothing is folded at creation, so
 * switching costs little. All sessions of a runner use the same execution provider.
 */
export class LlamaRunner {
  private current: { key: string; session: Promise<ort.InferenceSession> } | null = null;
  /** Operations run one at a time: a session is never released under a run that uses it. */
  private queue: Promise<unknown> = Promise.resolve();
  private provider: Provider | null = null;
  private compute: ComputeType = 'float32';
  private failed: ProviderAttempt[] = [];

  constructor(readonly checkpoint: Checkpoint, private readonly options: RunnerOptions = {}) {}

  /** The provider the sessions run on (known after the first session opened). */
  get executionProvider(): Provider | null {
    return this.provider;
  }

  get providerFailures(): readonly ProviderAttempt[] {
    return this.failed;
  }

  /** Runs `fn` after every operation queued before it (whatever their outcome). */
  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** The session of a forward graph (callers outside the runner: tests and the benchmark). */
  session(options: LlamaGraphOptions): Promise<ort.InferenceSession> {
    return this.exclusive(() => this.sessionFor(graphKey(options), (compute) => serializeModel(buildLlamaGraph(this.checkpoint, { ...options, compute, headBlockBytes: this.options.headBlockBytes }))));
  }

  /** The compute type of the sessions (known after the first session opened). */
  get computeType(): ComputeType {
    return this.compute;
  }

  private computeFor(provider: Provider): ComputeType {
    return computeTypeFor(provider, this.options.precision ?? 'auto', this.checkpoint.dtype);
  }

  /** Call only inside exclusive(): releases the open session when it is of another graph. */
  private async sessionFor(key: string, build: (compute: ComputeType) => Uint8Array): Promise<ort.InferenceSession> {
    if (this.current?.key === key) return this.current.session;
    await this.releaseCurrent();
    // The last session's outputs (a generation's key/value caches) are garbage now: free them
    // before the next graph is built, so its session's memory does not land beside them.
    collectGarbage();
    const pending = (async () => {
      const setting = this.provider ?? this.options.provider ?? 'auto';
      // Under `auto` the provider is known only once a session opened: build for the one `auto`
      // expects, and build again if another one took the graph.
      const guess: Provider = setting === 'auto' ? await autoProvider() : setting;
      if (this.provider === null && guess === 'cpu') this.assertFitsInMemory();
      let compute = this.computeFor(guess);
      let opened = await openSession(build(compute), this.checkpoint.weightsRoot, setting, this.options.log, { convertWeightsAtUse: true });
      if (this.computeFor(opened.provider) !== compute) {
        await opened.session.release();
        compute = this.computeFor(opened.provider);
        opened = await openSession(build(compute), this.checkpoint.weightsRoot, opened.provider, this.options.log, { convertWeightsAtUse: true });
      }
      if (this.provider === null && this.options.precision === 'fp16' && opened.provider === 'cpu') {
        this.options.log?.(`precision fp16 applies on a GPU only: ${this.checkpoint.spec} computes in float32 on the CPU`);
      }
      // The graph just built and serialized is garbage now: free it before the session runs.
      collectGarbage();
      this.compute = compute;
      this.provider = opened.provider;
      this.failed = opened.failed;
      return opened.session;
    })();
    this.current = { key, session: pending };
    pending.catch(() => {
      if (this.current?.session === pending) this.current = null;
    });
    return pending;
  }

  /**
   * What the model holds while it runs on the CPU: its weights (memory-mapped, once), float32 forms
   * of one layer's F16/BF16 weights and one block of the LM head (converted where used), and the
   * activations and runtime (a fixed allowance; attribution chunks are sized within it).
   */
  residentBytesEstimate(): { total: number; detail: string } {
    const { checkpoint } = this;
    const { config } = checkpoint;
    const layerParameters = [...checkpoint.tensors].filter(([name]) => name.startsWith('model.layers.0.')).reduce((n, [, t]) => n + t.shape.reduce((a, b) => a * b, 1), 0);
    const converted = checkpoint.dtype === 'F32' ? 0 : layerParameters * 4 + Math.min(HEAD_BLOCK_BYTES, config.vocabSize * config.hiddenSize * 4);
    const working = RUNTIME_ALLOWANCE + attributionChunkBudget(checkpoint.weightBytes);
    return {
      total: checkpoint.weightBytes + converted + working,
      detail: `weights ${formatBytes(checkpoint.weightBytes)}${converted ? ` + float32 conversions ${formatBytes(converted)}` : ''} + working memory ${formatBytes(working)}`,
    };
  }

  private assertFitsInMemory(): void {
    const { total, detail } = this.residentBytesEstimate();
    assertFits(`the model ${this.checkpoint.spec} (${this.checkpoint.dir})`, total, detail);
  }

  private async releaseCurrent(): Promise<void> {
    const open = this.current;
    this.current = null;
    if (!open) return;
    try {
      await (await open.session).release();
    } catch {
      // A session that failed to open has nothing to release.
    }
  }

  /**
   * Releases the open session (after the operation in progress, if any), so that another model's
   * sessions can be resident instead; the next operation opens it again.
   */
  releaseSessions(): Promise<void> {
    return this.exclusive(() => this.releaseCurrent());
  }

  private checkIds(ids: number[]): void {
    if (ids.length === 0) throw new LensError('Nothing to run: the token sequence is empty.');
    if (ids.length > this.checkpoint.contextLength) {
      throw new LensError(`The sequence has ${ids.length} tokens, more than the model's context of ${this.checkpoint.contextLength} (${this.checkpoint.dir}/config.json)`);
    }
    const { vocabSize } = this.checkpoint.config;
    const bad = ids.find((id) => !Number.isInteger(id) || id < 0 || id >= vocabSize);
    if (bad !== undefined) throw new LensError(`Token id ${bad} is outside the vocabulary (0..${vocabSize - 1})`);
  }

  /**
   * RoPE tables and masks for positions past..past+count-1. `sequenceLength` is the length whose
   * frequencies apply (longrope switches factors by it): the whole sequence for an attribution
   * run that stops early, so that every chunk sees the model the whole sequence sees.
   */
  private positionFeeds(past: number, count: number, sequenceLength = past + count): Record<string, ort.Tensor> {
    const d = this.checkpoint.config.headDim;
    const { cos, sin } = ropeTables(this.checkpoint.config, past, count, 'global', sequenceLength);
    // One window for every sliding layer (the families here have one `sliding_window`).
    const window = this.checkpoint.config.layerWindows.find((w) => w !== null) ?? null;
    const local = this.checkpoint.config.localRope ? ropeTables(this.checkpoint.config, past, count, 'local', sequenceLength) : null;
    return {
      ...(local ? { [names.ropeCosLocal]: new ort.Tensor('float32', local.cos, [count, d]), [names.ropeSinLocal]: new ort.Tensor('float32', local.sin, [count, d]) } : {}),
      [names.ropeCos]: new ort.Tensor('float32', cos, [count, d]),
      [names.ropeSin]: new ort.Tensor('float32', sin, [count, d]),
      [names.attentionBias]: new ort.Tensor('float32', causalMask(past, count), [count, past + count]),
      ...(window === null ? {} : { [names.attentionBiasLocal]: new ort.Tensor('float32', causalMask(past, count, window), [count, past + count]) }),
    };
  }

  /** One full forward over `ids`, with the probes asked for. */
  forward(ids: number[], probes: { attentions?: boolean; ffn?: boolean } = {}): Promise<ForwardResult> {
    return this.exclusive(() => this.forwardNow(ids, probes));
  }

  private async forwardNow(ids: number[], probes: { attentions?: boolean; ffn?: boolean }): Promise<ForwardResult> {
    this.checkIds(ids);
    const options: LlamaGraphOptions = { input: 'ids', kvCache: false, logits: 'all', attentions: !!probes.attentions, ffn: !!probes.ffn };
    const session = await this.sessionFor(graphKey(options), (compute) => serializeModel(buildLlamaGraph(this.checkpoint, { ...options, compute, headBlockBytes: this.options.headBlockBytes })));
    const feeds = {
      [names.inputIds]: new ort.Tensor('int64', BigInt64Array.from(ids, BigInt), [ids.length]),
      ...this.positionFeeds(0, ids.length),
    };
    countStep(this.checkpoint.spec, 'forward');
    const out = await session.run(feeds);
    const layers = Array.from({ length: this.checkpoint.config.numLayers }, (_, l) => l);
    return {
      logits: out[names.logits]!.data as Float32Array,
      attentions: options.attentions ? layers.map((l) => out[names.attnProbs(l)]!.data as Float32Array) : undefined,
      ffn: options.ffn ? layers.map((l) => out[names.ffnOut(l)]!.data as Float32Array) : undefined,
    };
  }

  /**
   * Input→output attribution: for every response token j (positions responseStart..end of `ids`),
   * gradient × input of its objective w.r.t. every position's embedding. One session run per
   * chunk of response tokens: a forward plus the chunk's cotangents carried back together.
   */
  attribute(ids: number[], responseStart: number, options: AttributionOptions = {}): Promise<RawAttribution> {
    return this.exclusive(() => this.attributeNow(ids, responseStart, options));
  }

  /** Response tokens (reverse) or positions (forward) one session run may carry within the memory budget. */
  private chunkFor(options: AttributionOptions, sequenceLength: number, count: number): number {
    const { intermediateSize, numHeads, hiddenSize } = this.checkpoint.config;
    const perDirection = COTANGENTS_ALIVE * sequenceLength * Math.max(intermediateSize, numHeads * sequenceLength, hiddenSize) * 4;
    const budget = options.memoryBudget ?? attributionChunkBudget(this.checkpoint.weightBytes);
    return Math.max(1, Math.min(count, options.chunkSize ?? Math.floor(budget / perDirection)));
  }

  private async attributeNow(ids: number[], responseStart: number, options: AttributionOptions): Promise<RawAttribution> {
    this.checkIds(ids);
    const S = ids.length;
    const R = S - responseStart;
    if (responseStart < 1 || R < 1) throw new LensError('Attribution needs at least one token before the response and one response token.');
    const [p0, p1] = options.positions ?? [0, responseStart];
    if (!(Number.isInteger(p0) && Number.isInteger(p1) && 0 <= p0 && p0 < p1 && p1 <= responseStart)) throw new LensError(`Attribution positions [${p0}, ${p1}) must lie before the response (${responseStart})`);
    const objective = options.objective ?? 'prob';
    const weightGradients = !!options.weightGradients;
    // The last token is no objective's input: every run stops at the last objective's position.
    const reverseChunk = this.chunkFor(options, S - 1, R);
    const forwardChunk = this.chunkFor(options, S - 1, p1 - p0);
    let mode = options.mode ?? 'auto';
    if (weightGradients) mode = 'reverse';
    if (mode === 'auto') {
      const plan = { positions: p1 - p0, responseStart, responses: R };
      mode = attributionCost('forward', { ...plan, chunkSize: forwardChunk }) < attributionCost('reverse', { ...plan, chunkSize: reverseChunk }) ? 'forward' : 'reverse';
    }
    const raw = new Float32Array(R * S);
    const probabilities = new Float32Array(R);
    const base = (length: number) => ({
      [names.inputIds]: new ort.Tensor('int64', BigInt64Array.from(ids.slice(0, length), BigInt), [length]),
      ...this.positionFeeds(0, length, S),
    });
    const targets = (count: number, first: number) => {
      const positions = new BigInt64Array(count);
      const tokens = new BigInt64Array(count);
      for (let j = 0; j < count; j++) {
        positions[j] = BigInt(responseStart + first + j - 1);
        tokens[j] = BigInt(ids[responseStart + first + j]!);
      }
      return { [gradientNames.targetPositions]: new ort.Tensor('int64', positions, [count]), [gradientNames.targetIds]: new ort.Tensor('int64', tokens, [count]) };
    };
    // The attribution graphs compute in float32 whatever the precision: WebGPU's float16 products
    // accumulate in float16, and through a backward that cost 5–8 % of max|raw| on the demo pair
    // (0.4 % with float32 accumulation) — enough to reorder the importance of prompt tokens.
    if (mode === 'forward') {
      const session = await this.sessionFor(`gradient-forward|${objective}`, () => serializeModel(buildForwardGradientGraph(this.checkpoint, objective, { headBlockBytes: this.options.headBlockBytes })));
      const length = S - 1;
      const feeds = { ...base(length), ...targets(R, 0) };
      for (let start = p0; start < p1; start += forwardChunk) {
        if (options.signal?.aborted) throw new CancelledError();
        const count = Math.min(forwardChunk, p1 - start);
        const mask = new Float32Array(count * length);
        for (let t = 0; t < count; t++) mask[t * length + start + t] = 1;
        countStep(this.checkpoint.spec, 'attribute-run');
        const out = await session.run({ ...feeds, [gradientNames.tangentMask]: new ort.Tensor('float32', mask, [count, length]) });
        const block = out[gradientNames.rawForward]!.data as Float32Array; // [count, R]
        for (let t = 0; t < count; t++) for (let j = 0; j < R; j++) raw[j * S + start + t] = block[t * R + j]!;
        probabilities.set(out[gradientNames.probabilities]!.data as Float32Array);
        options.onProgress?.(start + count - p0, p1 - p0);
      }
      return { raw, probabilities, sequenceLength: S, responseCount: R, mode, positions: [p0, p1] };
    }
    const session = await this.sessionFor(`gradient|${objective}|${weightGradients}`, () =>
      serializeModel(buildGradientGraph(this.checkpoint, objective, { weightGradients, compute: 'float32', headBlockBytes: this.options.headBlockBytes })),
    );
    for (let start = 0; start < R; start += reverseChunk) {
      if (options.signal?.aborted) throw new CancelledError();
      const count = Math.min(reverseChunk, R - start);
      // A chunk's objectives read positions up to the last one's t_j − 1: the rest of the sequence
      // cannot change them, so it is not run.
      const length = responseStart + start + count - 1;
      const mask = new Float32Array(count * length);
      for (let j = 0; j < count; j++) mask[j * length + responseStart + start + j - 1] = 1;
      countStep(this.checkpoint.spec, 'attribute-run');
      const out = await session.run({
        ...base(length),
        ...targets(count, start),
        [gradientNames.seedMask]: new ort.Tensor('float32', mask, [count, length]),
      });
      const block = out[gradientNames.raw]!.data as Float32Array; // [count, length]
      for (let j = 0; j < count; j++) raw.set(block.subarray(j * length, (j + 1) * length), (start + j) * S);
      probabilities.set(out[gradientNames.probabilities]!.data as Float32Array, start);
      options.onProgress?.(start + count, R);
    }
    return { raw, probabilities, sequenceLength: S, responseCount: R, mode, positions: [0, S] };
  }

  /**
   * Greedy decoding with a KV cache: one pass over the prompt, then one token per pass. Stops at
   * an EOS id (not included in the result), at maxNewTokens, or at the model's context.
   */
  generate(ids: number[], options: GenerateOptions): Promise<number[]> {
    return this.exclusive(() => this.generateNow(ids, options));
  }

  private async generateNow(ids: number[], options: GenerateOptions): Promise<number[]> {
    this.checkIds(ids);
    const { numLayers, numKvHeads, headDim, vocabSize } = this.checkpoint.config;
    const eos = new Set(this.checkpoint.tokenizer.eosTokenIds);
    const decode: LlamaGraphOptions = { input: 'ids', kvCache: true, logits: 'last', attentions: !!options.probes?.attentions, ffn: !!options.probes?.ffn };
    const session = await this.sessionFor(graphKey(decode), (compute) => serializeModel(buildLlamaGraph(this.checkpoint, { ...decode, compute, headBlockBytes: this.options.headBlockBytes })));
    let past: Record<string, ort.Tensor> = {};
    const empty = () => (this.compute === 'float16' ? new ort.Tensor('float16', new Uint16Array(0), [numKvHeads, 0, headDim]) : new ort.Tensor('float32', new Float32Array(0), [numKvHeads, 0, headDim]));
    for (let l = 0; l < numLayers; l++) {
      past[names.pastKey(l)] = empty();
      past[names.pastValue(l)] = empty();
    }
    const generated: number[] = [];
    let step = ids;
    let position = 0;
    const limit = Math.min(options.maxNewTokens, this.checkpoint.contextLength - ids.length);
    const garbageBudget = decodeGarbageBudget(this.checkpoint.weightBytes);
    let garbage = 0;
    while (generated.length < limit) {
      if (options.signal?.aborted) throw new CancelledError();
      countStep(this.checkpoint.spec, position === 0 ? 'forward' : 'decode-step');
      const out = await session.run({
        [names.inputIds]: new ort.Tensor('int64', BigInt64Array.from(step, BigInt), [step.length]),
        ...this.positionFeeds(position, step.length),
        ...past,
      });
      const logits = out[names.logits]!.data as Float32Array;
      if (position === 0 && options.onPrompt) {
        const layers = Array.from({ length: numLayers }, (_, l) => l);
        options.onPrompt({
          logits,
          attentions: decode.attentions ? layers.map((l) => out[names.attnProbs(l)]!.data as Float32Array) : undefined,
          ffn: decode.ffn ? layers.map((l) => out[names.ffnOut(l)]!.data as Float32Array) : undefined,
        });
      }
      const next = argmax(logits, vocabSize);
      position += step.length;
      if (eos.has(next)) break;
      generated.push(next);
      options.onToken?.(next, generated.length - 1);
      const nextPast: Record<string, ort.Tensor> = {};
      for (let l = 0; l < numLayers; l++) {
        nextPast[names.pastKey(l)] = out[names.presentKey(l)]!;
        nextPast[names.pastValue(l)] = out[names.presentValue(l)]!;
      }
      for (const dropped of Object.values(past)) garbage += tensorBytes(dropped);
      past = nextPast;
      step = [next];
      if (garbage > garbageBudget) {
        collectGarbage();
        garbage = 0;
      }
    }
    return generated;
  }

  dispose(): Promise<void> {
    return this.releaseSessions();
  }
}

function tensorBytes(tensor: ort.Tensor): number {
  return (tensor.data as ArrayBufferView).byteLength;
}

/** Index of the largest value; the lowest index wins ties (as torch.argmax does on CPU). */
export function argmax(values: Float32Array, length = values.length): number {
  let best = 0;
  for (let i = 1; i < length; i++) if (values[i]! > values[best]!) best = i;
  return best;
}
