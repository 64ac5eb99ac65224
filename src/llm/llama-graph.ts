import type { Checkpoint } from '../model/checkpoint.js';
import { hasSlidingWindow } from '../model/config.js';
import { Graph, int, ints } from '../onnx/graph.js';
import { sequencedAfter } from '../onnx/remat.js';
import { externalWeight, externalWeightRows } from './weights.js';

/** Which graph to build from a checkpoint. The same builder makes the probe, decode and (later) differentiable graphs. */
export interface LlamaGraphOptions {
  /** `ids`: input_ids int64 [S]. `embeds`: inputs_embeds float32 [S, H] (for gradients w.r.t. the embeddings). */
  input: 'ids' | 'embeds';
  /** past_key_l / past_value_l inputs [kv_heads, P, head_dim] and present_key_l / present_value_l outputs. */
  kvCache: boolean;
  /** `all`: logits [S, V]; `last`: logits [1, V] for the last position only (generation); `none`: no head (the caller reads `finalHidden`). */
  logits: 'all' | 'last' | 'none';
  /** attn_probs_l [heads, S, P+S]: attention probabilities per layer. */
  attentions: boolean;
  /** ffn_out_l [S, H]: each layer's down-projection output, before the residual add. */
  ffn: boolean;
  /**
   * `external` (default): weights are initializers pointing into the .safetensors files.
   * `inputs`: every weight is a float32 graph input named as in the checkpoint, so that a caller
   * can feed changing values (training) and differentiate with respect to them.
   */
  weights?: 'external' | 'inputs';
  /**
   * The element type of the products (default float32). `float16` (for GPUs, F16/BF16 checkpoints)
   * keeps the residual stream, the norms, the softmax and the graph's inputs and outputs in
   * float32 and runs the projections, attention products and MLP in float16: float32 accumulates
   * what float16 would round away (the residual) or overflow (RMS of large activations).
   */
  compute?: 'float32' | 'float16';
  /** Bytes one block of a converted LM head may take (default HEAD_BLOCK_BYTES; tests make it small to get several blocks). */
  headBlockBytes?: number;
  /**
   * Scale each position's embedding by a value `tokenScale` [S, 1] of ones, the (1 + α) of
   * attribution, so that the derivative with respect to α is taken directly (LlamaGraphParts).
   */
  tokenScale?: boolean;
}

const TYPE_CODE = { float32: 1, float16: 10 } as const;

/** Graph input/output names, shared by the builder and the code that feeds and reads the sessions. */
export const names = {
  inputIds: 'input_ids',
  inputsEmbeds: 'inputs_embeds',
  ropeCos: 'rope_cos',
  ropeSin: 'rope_sin',
  /** Gemma 3's sliding layers' RoPE tables (only in graphs of models that have them). */
  ropeCosLocal: 'rope_cos_local',
  ropeSinLocal: 'rope_sin_local',
  attentionBias: 'attention_bias',
  /** The mask of sliding-window layers (only in graphs of models that have them). */
  attentionBiasLocal: 'attention_bias_local',
  logits: 'logits',
  pastKey: (l: number) => `past_key_${l}`,
  pastValue: (l: number) => `past_value_${l}`,
  presentKey: (l: number) => `present_key_${l}`,
  presentValue: (l: number) => `present_value_${l}`,
  attnProbs: (l: number) => `attn_probs_${l}`,
  ffnOut: (l: number) => `ffn_out_${l}`,
};

/**
 * Writes the Llama-family forward graph for a checkpoint. Weights are external initializers that
 * point into the .safetensors files (never copied); F16/BF16 weights are cast to float32 inside the
 * graph, so the arithmetic is float32 throughout.
 *
 * Layout: activations are [S, H] (one sequence); per-head tensors are [heads, S, head_dim].
 * Linear layers are Gemm with transB=1 because Hugging Face stores weights [out, in]: a MatMul
 * would need a transposed copy of every weight.
 */
export function buildLlamaGraph(checkpoint: Checkpoint, options: LlamaGraphOptions): Graph {
  return buildLlamaGraphParts(checkpoint, options).graph;
}

/**
 * The LM head (lm_head, or the embedding table when tied), as products rather than a float32
 * matrix: a float32 copy of a large vocabulary's head would by itself cost more than the 30 %
 * of the weight bytes a model may use beyond them (Llama-3.2-1B: 1 GiB next to 2.3 GiB of BF16
 * weights). A float16/bfloat16 head is converted one block of rows at a time, each block dying
 * after its product.
 */
export interface LmHead {
  /** x [N, H] → logits [N, V]. */
  logits(x: string): string;
  /** p [N, V] → Σ_v p[n, v]·W[v] [N, H]. */
  weightedRows(p: string): string;
  /** ids [N] → W[ids] [N, H]. */
  rows(ids: string): string;
  /** The head as one float32 value [V, H]: only for graphs whose weights are inputs (training). */
  matrix?: string;
}

/** The graph and the values inside it that other graphs (gradients, probes) build on. */
export interface LlamaGraphParts {
  graph: Graph;
  /** The input embeddings [S, H] (float32), looked up or given. */
  embeds: string;
  /** The final normed hidden states [S, H], the input of the LM head. */
  finalHidden: string;
  head: LmHead;
  /**
   * The residual stream between layers: the embeddings and each layer's output (with a token scale,
   * the scale, 1/s and ε/s², and what the layers added instead of their output). A backward pass
   * keeps these and recomputes the rest (onnx/remat.ts); the recomputed layers convert their
   * weights again, so no float32 weight is kept from the forward to the backward either.
   */
  residual: string[];
  /**
   * With the `tokenScale` option: ones s [S, 1] multiplying the embeddings e. The residual stream
   * is then s·e + b, b what the layers added, and each norm of it is taken as RMSNorm(s·z) =
   * w ⊙ z·(mean(z²) + ε/s²)^(-1/2) with z = e + b/s: the same values at s = 1, and the derivative
   * in s comes out of products and of b, with no difference of nearly equal terms. Taken through
   * RMSNorm(x) of the stream instead, the cotangent of x along x (the direction the norm is blind
   * to but for ε, and the direction s moves x in when e dominates the stream) is such a difference,
   * and its float32 rounding, projected on e, was most of the reverse-mode error (Granite's ×12
   * embeddings: 2.3e-5 of max|raw| against float64, 1.5e-7 now; forward vs reverse on tied
   * embeddings: 2.05e-5, 1.5e-6 now). The first layer's q/k norms, blind to the scale as well, are
   * taken the same way (buildLlamaGraphParts).
   */
  tokenScale?: string;
}

/** Bytes of float32 one block of the LM head may take while it is converted and used. */
export const HEAD_BLOCK_BYTES = 64 * 2 ** 20;

export function buildLlamaGraphParts(checkpoint: Checkpoint, options: LlamaGraphOptions): LlamaGraphParts {
  const { config } = checkpoint;
  const { hiddenSize: H, numHeads: nH, numKvHeads: nKV, headDim: d, vocabSize: V } = config;
  const group = nH / nKV;
  const g = new Graph('llama');
  const rawWeights = new Map<string, string>();

  /** The weight as stored: an external initializer pointing into its .safetensors file (or a graph input). */
  const rawWeight = (name: string): string => {
    let value = rawWeights.get(name);
    if (!value) {
      value = options.weights === 'inputs' ? g.input(name, 'float32', checkpoint.tensors.get(name)!.shape) : externalWeight(g, checkpoint, name);
      rawWeights.set(name, value);
    }
    return value;
  };
  const compute = options.compute ?? 'float32';
  const half = compute === 'float16';
  const storedAs = { F32: 'float32', F16: 'float16', BF16: 'bfloat16' } as const;
  /** Whether a weight is used as stored (no conversion): already of the compute type, or a graph input. */
  const stored = (name: string) => options.weights === 'inputs' || storedAs[checkpoint.tensors.get(name)!.dtype] === compute;
  const convert = (raw: string, after: string) => g.node('Cast', [sequencedAfter(g, raw, after)], { to: int(TYPE_CODE[compute]) });
  /** float32 → compute type and back, around the parts that run in the compute type. */
  const toCompute = (v: string) => (half ? g.node('Cast', [v], { to: int(TYPE_CODE.float16) }) : v);
  const toFloat32 = (v: string) => (half ? g.node('Cast', [v], { to: int(TYPE_CODE.float32) }) : v);
  /**
   * The weight as float32, for a product with `after`. An F16/BF16 weight gets a Cast of its own at
   * each use, made when `after` exists, so that its float32 form lives only while that one product
   * runs (the session must not fold these Casts into constants: see runtime/session.ts).
   */
  const weight = (name: string, after: string): string => (stored(name) ? rawWeight(name) : convert(rawWeight(name), after));
  const adapter = checkpoint.adapter;
  /**
   * x·Wᵀ (+ b); the weight is converted once `after` exists (default x). A LoRA adapter's module
   * adds s·(x·Aᵀ)·Bᵀ: the low-rank product is applied in the graph, no merged W + s·B·A exists.
   */
  const linear = (x: string, prefix: string, bias: boolean, after = x) => {
    const y = g.node('Gemm', bias ? [x, weight(`${prefix}.weight`, after), weight(`${prefix}.bias`, after)] : [x, weight(`${prefix}.weight`, after)], { transB: int(1) });
    const lora = adapter?.modules.get(prefix);
    if (!lora) return y;
    const down = g.node('Gemm', [x, weight(lora.a, y)], { transB: int(1) });
    const scaled = g.node('Mul', [down, toCompute(g.scalar(lora.scale))]);
    return g.node('Add', [y, g.node('Gemm', [scaled, weight(lora.b, scaled)], { transB: int(1) })]);
  };
  const eps = g.scalar(config.rmsNormEps);
  /**
   * x (float32) → RMSNorm(x) in the compute type; the statistic stays float32. Also its
   * mean(x²) + offset and its gain (w, or Gemma's 1 + w).
   */
  const rmsNormParts = (x: string, weightName: string, offset = eps) => {
    const meanSquare = g.node('ReduceMean', [g.node('Mul', [x, x])], { axes: ints([-1]), keepdims: int(1) });
    const variance = g.node('Add', [meanSquare, offset]);
    const inverse = g.node('Reciprocal', [g.node('Sqrt', [variance])]);
    const normalized = toCompute(g.node('Mul', [x, inverse]));
    const weightValue = weight(weightName, normalized);
    const gain = config.normGainOffset ? g.node('Add', [weightValue, toCompute(g.scalar(1))]) : weightValue;
    return { normed: g.node('Mul', [normalized, gain]), variance, gain };
  };
  const rmsNorm = (x: string, weightName: string, offset = eps): string => rmsNormParts(x, weightName, offset).normed;

  // --- inputs
  let x: string;
  if (options.input === 'ids') {
    const ids = g.input(names.inputIds, 'int64', ['sequence']);
    // Gather before casting: only the looked-up rows are converted, not the whole table.
    const rows = g.node('Gather', [rawWeight('model.embed_tokens.weight'), ids], { axis: int(0) });
    // The residual stream is float32 whatever the compute type.
    x = options.weights === 'inputs' || checkpoint.tensors.get('model.embed_tokens.weight')!.dtype === 'F32' ? rows : g.node('Cast', [rows], { to: int(1) });
  } else {
    x = g.input(names.inputsEmbeds, 'float32', ['sequence', H]);
  }
  const embeds = x;
  // Gemma multiplies the embeddings (given ones too) by √hidden_size; gradient × input is the same
  // whether taken before or after this constant factor.
  if (config.embeddingScale !== null) x = g.node('Mul', [x, g.scalar(config.embeddingScale)]);
  const residual = [x];
  const tokenScale = options.tokenScale
    ? g.node('Expand', [g.scalar(1), g.node('Concat', [g.node('Slice', [g.node('Shape', [x]), g.ints1d([0]), g.ints1d([1]), g.ints1d([0])]), g.ints1d([1])], { axis: int(0) })]) // [S, 1]
    : undefined;
  // 1/s and ε/s², made once for every norm; kept with the stream, as they are [S, 1].
  const inverseScale = tokenScale ? g.node('Reciprocal', [tokenScale]) : undefined;
  const scaledEps = inverseScale ? g.node('Mul', [eps, g.node('Mul', [inverseScale, inverseScale])]) : eps;
  if (tokenScale) residual.push(tokenScale, inverseScale!, scaledEps);
  // With a token scale the stream is kept as s·e + b (LlamaGraphParts.tokenScale): e the
  // embeddings, b what the layers added so far (null before the first layer).
  const embedded = x;
  let added: string | null = null;
  let scaledEmbeddings: string | null = null;
  /** The residual stream's value. */
  const stream = (): string => {
    if (!tokenScale) return x;
    scaledEmbeddings ??= g.node('Mul', [embedded, tokenScale]);
    return added === null ? scaledEmbeddings : g.node('Add', [scaledEmbeddings, added]);
  };
  /** RMSNorm of the residual stream; with a token scale, as RMSNorm(s·z) with z = e + b/s. */
  const streamNorm = (weightName: string): string =>
    !tokenScale ? rmsNorm(x, weightName) : rmsNorm(added === null ? embedded : g.node('Add', [embedded, g.node('Mul', [added, inverseScale!])]), weightName, scaledEps);
  /** Adds a block's output to the residual stream. */
  const addToStream = (v: string): void => {
    if (!tokenScale) x = g.node('Add', [x, v]);
    else added = added === null ? v : g.node('Add', [added, v]);
  };
  const cos = toCompute(g.input(names.ropeCos, 'float32', ['sequence', d]));
  const sin = toCompute(g.input(names.ropeSin, 'float32', ['sequence', d]));
  const local = config.localRope
    ? { cos: toCompute(g.input(names.ropeCosLocal, 'float32', ['sequence', d])), sin: toCompute(g.input(names.ropeSinLocal, 'float32', ['sequence', d])) }
    : null;
  const bias = g.input(names.attentionBias, 'float32', ['sequence', 'total']);
  const localBias = hasSlidingWindow(config) ? g.input(names.attentionBiasLocal, 'float32', ['sequence', 'total']) : null;

  // rotate_half(x) = concat(-x[d/2:], x[:d/2]) as a product with a fixed signed permutation:
  // one MatMul, which keeps the op set small for differentiation.
  // Over the rotary dimensions only (Phi-3's partial rotary: the others pass, cos 1 and sin 0).
  const rotation = new Float32Array(d * d);
  const rh = config.rotaryDim / 2;
  for (let i = 0; i < rh; i++) {
    rotation[(i + rh) * d + i] = -1; // out[i] = -x[i + r/2]
    rotation[i * d + i + rh] = 1; // out[i + r/2] = x[i]
  }
  const rotate = toCompute(g.constant('float32', [d, d], rotation, 'rotate_half'));
  const applyRope = (t: string, tables = { cos, sin }) => g.node('Add', [g.node('Mul', [t, tables.cos]), g.node('Mul', [g.node('MatMul', [t, rotate]), tables.sin])]);
  const toHeads = (t: string, heads: number) => g.node('Transpose', [g.node('Reshape', [t, g.ints1d([-1, heads, d])])], { perm: ints([1, 0, 2]) });
  const expandGroups = (t: string) =>
    group === 1
      ? t
      : g.node('Reshape', [g.node('Expand', [g.node('Reshape', [t, g.ints1d([nKV, 1, -1, d])]), g.ints1d([nKV, group, 1, 1])]), g.ints1d([nH, -1, d])]);
  const scale = toCompute(g.scalar(config.attentionScale));
  const softcap = (v: string, cap: number) => softcapped(g, v, cap);
  /** GELU, tanh approximation: 0.5·x·(1 + tanh(√(2/π)(x + 0.044715x³))) = x·σ(2√(2/π)(x + 0.044715x³)). */
  const geluTanh = (v: string) => {
    const cube = g.node('Mul', [g.node('Mul', [v, v]), v]);
    const inner = g.node('Add', [v, g.node('Mul', [cube, toCompute(g.scalar(0.044715))])]);
    return g.node('Mul', [v, g.node('Sigmoid', [g.node('Mul', [inner, toCompute(g.scalar(2 * Math.sqrt(2 / Math.PI)))])])]);
  };

  const post = config.normPlacement === 'post';
  /** q/k norms (Qwen3 per head on [heads, S, d], OLMo 2 over the projection [S, heads·d]); the statistic in float32. */
  const qkNorm = (t: string, weightName: string, offset = eps) => rmsNorm(toFloat32(t), weightName, offset);
  // With a token scale, the first layer's q/k norms see t·p: p the projection of u, for its input
  // t·u (s·e without an input norm; w ⊙ e·(mean(e²) + ε/s²)^(-1/2) with one, t the last factor).
  // A norm of t·p is blind to t but for ε, as the stream's are to s, and is taken the same way,
  // as w ⊙ p·(mean(p²) + ε/t²)^(-1/2). Only linear projections (no bias) keep the factor whole.
  const factorQk = tokenScale !== undefined && config.qkNorm !== 'none' && !config.attentionBias;

  for (let l = 0; l < config.numLayers; l++) {
    const p = `model.layers.${l}.`;
    // OLMo 2 has no norm before attention and MLP: its norms follow them (below).
    let normed: string;
    /** The first layer's q/k projections' input u and ε/t² (above). */
    let factored: { unit: string; offset: string } | null = null;
    if (l === 0 && factorQk && post) {
      normed = toCompute(stream());
      factored = { unit: toCompute(embedded), offset: scaledEps };
    } else if (l === 0 && factorQk) {
      const parts = rmsNormParts(embedded, `${p}input_layernorm.weight`, scaledEps);
      normed = parts.normed;
      factored = { unit: g.node('Mul', [toCompute(embedded), parts.gain]), offset: g.node('Mul', [eps, parts.variance]) };
    } else normed = post ? toCompute(stream()) : streamNorm(`${p}input_layernorm.weight`);
    const qkInput = factored?.unit ?? normed;
    const tables = local && config.layerWindows[l] !== null ? local : { cos, sin };
    // Each projection's weight is converted after the previous product: one converted weight at a time.
    let qProjected = linear(qkInput, `${p}self_attn.q_proj`, config.attentionBias);
    let kProjected = linear(qkInput, `${p}self_attn.k_proj`, config.attentionBias, qProjected);
    const vProjected = linear(normed, `${p}self_attn.v_proj`, config.attentionBias, kProjected);
    if (config.qkNorm === 'projection') {
      qProjected = qkNorm(qProjected, `${p}self_attn.q_norm.weight`, factored?.offset);
      kProjected = qkNorm(kProjected, `${p}self_attn.k_norm.weight`, factored?.offset);
    }
    let qHeads = toHeads(qProjected, nH);
    let kHeads = toHeads(kProjected, nKV);
    if (config.qkNorm === 'head') {
      qHeads = qkNorm(qHeads, `${p}self_attn.q_norm.weight`, factored?.offset);
      kHeads = qkNorm(kHeads, `${p}self_attn.k_norm.weight`, factored?.offset);
    }
    // SmolLM3's NoPE layers use neither position tables.
    const rope = config.ropeLayers[l] ? (t: string) => applyRope(t, tables) : (t: string) => t;
    const q = rope(qHeads);
    let k = rope(kHeads);
    let v = toHeads(vProjected, nKV);
    if (options.kvCache) {
      // The cache is kept in the compute type: half the memory in float16.
      k = g.node('Concat', [g.input(names.pastKey(l), compute, [nKV, 'past', d]), k], { axis: int(1) });
      v = g.node('Concat', [g.input(names.pastValue(l), compute, [nKV, 'past', d]), v], { axis: int(1) });
      g.output(k, names.presentKey(l));
      g.output(v, names.presentValue(l));
    }
    const keysT = g.node('Transpose', [expandGroups(k)], { perm: ints([0, 2, 1]) });
    // The mask and the softmax are float32: -1e30 has no float16 form, and float32 normalizes better.
    const mask = config.layerWindows[l] !== null ? localBias! : bias;
    let rawScores = toFloat32(g.node('Mul', [g.node('MatMul', [q, keysT]), scale]));
    if (config.attentionSoftcap !== null) rawScores = softcap(rawScores, config.attentionSoftcap);
    const scores = g.node('Add', [rawScores, mask]);
    const probs = g.node('Softmax', [scores], { axis: int(-1) });
    if (options.attentions) g.output(probs, names.attnProbs(l));
    const context = g.node('Reshape', [g.node('Transpose', [g.node('MatMul', [toCompute(probs), expandGroups(v)])], { perm: ints([1, 0, 2]) }), g.ints1d([-1, nH * d])]);
    const attnOut = toFloat32(linear(context, `${p}self_attn.o_proj`, config.outputBias));
    const sandwich = config.normPlacement === 'sandwich';
    // Granite multiplies what each block adds to the residual stream.
    const residualScale = (v: string) => (config.residualMultiplier === 1 ? v : g.node('Mul', [v, g.scalar(config.residualMultiplier)]));
    addToStream(residualScale(post || sandwich ? toFloat32(rmsNorm(attnOut, `${p}post_attention_layernorm.weight`)) : attnOut));
    const normed2 = post ? toCompute(stream()) : streamNorm(sandwich ? `${p}pre_feedforward_layernorm.weight` : `${p}post_attention_layernorm.weight`);
    const gate = linear(normed2, `${p}mlp.gate_proj`, false);
    const up = linear(normed2, `${p}mlp.up_proj`, false, gate);
    const activated = g.node('Mul', [config.activation === 'gelu_tanh' ? geluTanh(gate) : g.node('Mul', [gate, g.node('Sigmoid', [gate])]), up]);
    // The FFN output is the down-projection's, before any norm that follows it (OLMo 2).
    const down = toFloat32(linear(activated, `${p}mlp.down_proj`, false));
    if (options.ffn) g.output(down, names.ffnOut(l));
    addToStream(residualScale(post || sandwich ? toFloat32(rmsNorm(down, `${p}post_feedforward_layernorm.weight`)) : down));
    residual.push(tokenScale ? added! : x);
  }

  const finalHidden = toFloat32(streamNorm('model.norm.weight'));
  const headName = config.tieWordEmbeddings ? 'model.embed_tokens.weight' : 'lm_head.weight';
  const head = stored(headName) ? wholeHead(g, rawWeight(headName), toCompute, toFloat32) : blockedHead(g, checkpoint, headName, rawWeight, compute, toCompute, toFloat32, options.headBlockBytes ?? HEAD_BLOCK_BYTES);
  if (options.logits === 'none') return { graph: g, embeds, finalHidden, head, residual, tokenScale };
  let final = finalHidden;
  if (options.logits === 'last') {
    final = g.node('Slice', [final, g.ints1d([-1]), g.ints1d([Number.MAX_SAFE_INTEGER]), g.ints1d([0])]);
  }
  g.output(finalLogits(g, config, head.logits(final)), names.logits);
  return { graph: g, embeds, finalHidden, head, residual, tokenScale };
}

/** The LM head's products z → the logits: Granite's z / logits_scaling, Gemma's cap·tanh(z/cap). */
export function finalLogits(g: Graph, config: Checkpoint['config'], z: string): string {
  const scaled = config.logitScale === 1 ? z : g.node('Mul', [z, g.scalar(config.logitScale)]);
  return config.finalSoftcap === null ? scaled : softcapped(g, scaled, config.finalSoftcap);
}

/** cap·tanh(v/cap) of a float32 value, as cap·(2σ(2v/cap) − 1): tanh has no differentiation rule of its own here. */
export function softcapped(g: Graph, v: string, cap: number): string {
  return g.node('Mul', [g.node('Sub', [g.node('Mul', [g.node('Sigmoid', [g.node('Mul', [v, g.scalar(2 / cap)])]), g.scalar(2)]), g.scalar(1)]), g.scalar(cap)]);
}

type Conversion = (value: string) => string;

/** A head stored in the compute type, used as it is (float32 values in and out). */
function wholeHead(g: Graph, matrix: string, toCompute: Conversion, toFloat32: Conversion): LmHead {
  return {
    matrix,
    logits: (x) => toFloat32(g.node('Gemm', [toCompute(x), matrix], { transB: int(1) })),
    weightedRows: (p) => toFloat32(g.node('MatMul', [toCompute(p), matrix])),
    rows: (ids) => toFloat32(g.node('Gather', [matrix, ids], { axis: int(0) })),
  };
}

/** A head converted to the compute type in blocks of rows, each only for its own product (float32 values in and out). */
function blockedHead(g: Graph, checkpoint: Checkpoint, name: string, rawWeight: (name: string) => string, compute: 'float32' | 'float16', toCompute: Conversion, toFloat32: Conversion, blockBytes: number): LmHead {
  const [V, H] = checkpoint.tensors.get(name)!.shape as [number, number];
  const rowsPerBlock = Math.max(1, Math.floor(blockBytes / (H * 4)));
  const blocks: { start: number; end: number; weight: string }[] = [];
  for (let start = 0; start < V; start += rowsPerBlock) {
    const end = Math.min(V, start + rowsPerBlock);
    blocks.push({ start, end, weight: externalWeightRows(g, checkpoint, name, start, end) });
  }
  // Each block is converted only after the previous block's product exists, so one block at a
  // time is float32.
  const convertAfter = (w: string, after: string) => g.node('Cast', [sequencedAfter(g, w, after)], { to: int(TYPE_CODE[compute]) });
  return {
    logits: (x) => {
      const input = toCompute(x);
      const parts: string[] = [];
      for (const b of blocks) parts.push(toFloat32(g.node('Gemm', [input, convertAfter(b.weight, parts.at(-1) ?? input)], { transB: int(1) })));
      return parts.length === 1 ? parts[0]! : g.node('Concat', parts, { axis: int(-1) });
    },
    weightedRows: (p) => {
      let sum: string | null = null;
      for (const b of blocks) {
        const slice = toCompute(g.node('Slice', [p, g.ints1d([b.start]), g.ints1d([b.end]), g.ints1d([-1])]));
        const part = toFloat32(g.node('MatMul', [slice, convertAfter(b.weight, sum ?? slice)]));
        sum = sum === null ? part : g.node('Add', [sum, part]);
      }
      return sum!;
    },
    // Gather before converting: only the looked-up rows are converted.
    rows: (ids) => g.node('Cast', [g.node('Gather', [rawWeight(name), ids], { axis: int(0) })], { to: int(1) }),
  };
}
