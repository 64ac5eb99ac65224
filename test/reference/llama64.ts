// Plain float64 reference forward pass for Llama-family checkpoints (test code).
//
// This is the ORACLE for parity tests of the engine's onnxruntime graphs. It is deliberately
// independent of src/ (no imports from it), written for obviousness rather than speed, and
// follows Hugging Face transformers' LlamaForCausalLM / MistralForCausalLM / Qwen2ForCausalLM /
// Qwen3ForCausalLM / Olmo2ForCausalLM (eager attention, batch of one, no KV cache, positions
// 0..S-1), everything in float64.
//
//   Qwen3: q_norm / k_norm (RMSNorm, gain [head_dim]) on each head of q and k before RoPE.
//   OLMo 2: q_norm / k_norm over the whole q / k projection (gains [heads·head_dim]) before RoPE;
//           no norm before attention or MLP: h = x + post_attention_layernorm(attn(x)),
//           out = h + post_feedforward_layernorm(mlp(h)).
//   Sliding windows (Mistral sliding_window; Qwen2/3 use_sliding_window from max_window_layers
//   on; or layer_types): query i attends to keys j with i - window < j <= i.
//   Gemma 2/3 (transformers' Gemma2/Gemma3 modelling): every RMSNorm scales by (1 + w); x_0 =
//     embedding · sqrt(hidden); h = x + post_attention_layernorm(attn(input_layernorm(x)));
//     out = h + post_feedforward_layernorm(mlp(pre_feedforward_layernorm(h))), mlp with
//     gelu_pytorch_tanh(gate) = 0.5 g (1 + tanh(sqrt(2/pi) (g + 0.044715 g^3))); scores scaled by
//     query_pre_attn_scalar^-1/2, then cap·tanh(s/cap) (attn_logit_softcapping) before the mask;
//     logits cap·tanh(l/cap) (final_logit_softcapping). Gemma 2: even layers slide. Gemma 3:
//     q_norm/k_norm per head; layer i slides unless (i+1) % sliding_window_pattern == 0; sliding
//     layers' RoPE base is rope_local_base_freq without rope_scaling.
//   SmolLM3: no RoPE on layer i when no_rope_layers[i] == 0 (default: every no_rope_layer_interval-th,
//     4); sliding windows as Qwen2. Granite: x_0 = embedding · embedding_multiplier; scores
//     q·k · attention_multiplier; h = x + residual_multiplier · attn, out = h + residual_multiplier ·
//     mlp; logits / logits_scaling.
//   Phi-3: q/k/v are consecutive row blocks of qkv_proj, gate/up the two halves of gate_up_proj
//     (gate first); RoPE on the first partial_rotary_factor·head_dim dimensions of each head only;
//     longrope: inv_freq[i] = 1 / (ext[i] · theta^(2i/rotary_dim)), ext = long_factor when the
//     sequence is longer than original_max_position_embeddings else short_factor, and the rotated
//     part times attention_factor (default sqrt(1 + ln(max/original) / ln(original))); sliding_window
//     on every layer.
//
//   x_0 = embed_tokens[ids]                   (or opts.inputEmbeds)
//   per layer:
//     h   = x + o_proj(attention(rope(q_proj(n)), rope(k_proj(n)), v_proj(n))),  n = rmsnorm(x, input_layernorm)
//     out = h + down_proj(silu(gate_proj(m)) * up_proj(m)),                      m = rmsnorm(h, post_attention_layernorm)
//   logits = lm_head · rmsnorm(x_L, model.norm)
//
// Small models only (hidden <= 256, vocab <= 50k, seq <= 256): weights are decoded to Float64
// and held in memory.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readCheckpointTensors64, type Tensor64 } from './safetensors64';

export type RefArchitecture =
  | 'LlamaForCausalLM' | 'MistralForCausalLM' | 'Qwen2ForCausalLM' | 'Qwen3ForCausalLM' | 'Olmo2ForCausalLM' | 'Gemma2ForCausalLM' | 'Gemma3ForCausalLM' | 'SmolLM3ForCausalLM' | 'GraniteForCausalLM'
  | 'Phi3ForCausalLM';
const REF_ARCHITECTURES: readonly string[] = [
  'LlamaForCausalLM', 'MistralForCausalLM', 'Qwen2ForCausalLM', 'Qwen3ForCausalLM', 'Olmo2ForCausalLM', 'Gemma2ForCausalLM', 'Gemma3ForCausalLM', 'SmolLM3ForCausalLM', 'GraniteForCausalLM',
  'Phi3ForCausalLM',
];

export interface RefRopeScaling {
  type: 'linear' | 'llama3';
  factor: number;
  /** llama3 only */
  lowFreqFactor?: number;
  /** llama3 only */
  highFreqFactor?: number;
  /** llama3 only */
  originalMaxPositionEmbeddings?: number;
}

export interface RefConfig {
  architecture: RefArchitecture;
  hiddenSize: number;
  intermediateSize: number;
  numLayers: number;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  vocabSize: number;
  rmsNormEps: number;
  ropeTheta: number;
  /** null for no scaling (absent, null, or rope_type 'default'). */
  ropeScaling: RefRopeScaling | null;
  tieWordEmbeddings: boolean;
  /** q_proj/k_proj/v_proj have a bias: Qwen2 always; Llama when attention_bias. */
  qkvBias: boolean;
  /** o_proj has a bias: Llama when attention_bias (transformers' LlamaAttention); never Qwen2/Mistral. */
  oBias: boolean;
  /** gate/up/down_proj have a bias: Llama when mlp_bias. */
  mlpBias: boolean;
  /** Per layer: the attention window (query i sees keys i-window < j <= i), or null for full causal attention. */
  windows: (number | null)[];
  /** q_norm/k_norm: 'head' (Qwen3, per head), 'projection' (OLMo 2, whole projection), or 'none'. */
  qkNorm: 'none' | 'head' | 'projection';
  /** OLMo 2: norms after attention and MLP instead of before. */
  postNorms: boolean;
  /** Gemma 2/3 (see the file comment); null otherwise. */
  gemma: {
    attnScale: number;
    attnSoftcap: number | null;
    finalSoftcap: number | null;
    /** Gemma 3: RoPE theta of the sliding layers. */
    localTheta: number | null;
  } | null;
  /** SmolLM3: per layer, whether RoPE applies. */
  rope: boolean[];
  /** Granite's multipliers (all 1 elsewhere). */
  granite: { embedding: number; attention: number; residual: number; logitsScaling: number } | null;
  /** Phi-3: fused projections, partial rotary, longrope. */
  phi3: { rotaryDim: number; longrope: { short: number[]; long: number[]; original: number; attention: number } | null } | null;
}

export interface ReferenceModel {
  config: RefConfig;
  /** Every tensor of the checkpoint, decoded to Float64, by its Hugging Face name. */
  weights: Map<string, Tensor64>;
}

export interface ReferenceOutputs {
  /** [position] -> Float64Array(vocab) */
  logits: Float64Array[];
  /** [layer][head][query] -> Float64Array(seq): softmax probabilities; exact zeros above the diagonal. */
  attentions?: Float64Array[][][];
  /** [layer][position] -> Float64Array(hidden): mlp down_proj output, before the residual add. */
  ffn?: Float64Array[][];
  /** [position] -> Float64Array(hidden): final hidden states after model.norm (input of lm_head). */
  hidden: Float64Array[];
}

export interface ReferenceForwardOptions {
  attentions?: boolean;
  ffn?: boolean;
  /** Replaces the embedding rows: [position] -> Float64Array(hidden); length must equal inputIds.length. */
  inputEmbeds?: Float64Array[];
}

// ---------------------------------------------------------------------------------------------
// config.json

function num(json: Record<string, unknown>, key: string, fallback?: number): number {
  const v = json[key];
  if (v === undefined || v === null) {
    if (fallback === undefined) throw new Error(`config.json: missing ${key}`);
    return fallback;
  }
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`config.json: ${key} is not a number`);
  return v;
}

function phi3Rope(json: Record<string, unknown>, headDim: number): NonNullable<RefConfig['phi3']> {
  const rotaryDim = Math.floor(headDim * num(json, 'partial_rotary_factor', 1));
  const rs = json.rope_scaling as Record<string, unknown> | null | undefined;
  if (!rs || (rs.rope_type ?? rs.type) !== 'longrope') return { rotaryDim, longrope: null };
  const max = num(json, 'max_position_embeddings');
  const original = num(json, 'original_max_position_embeddings', max);
  const factor = max / original;
  const attention = typeof rs.attention_factor === 'number' ? rs.attention_factor : factor <= 1 ? 1 : Math.sqrt(1 + Math.log(factor) / Math.log(original));
  return { rotaryDim, longrope: { short: rs.short_factor as number[], long: rs.long_factor as number[], original, attention } };
}

/** Parse a transformers config.json (object) into RefConfig, with transformers' defaults. */
export function parseRefConfig(json: Record<string, unknown>): RefConfig {
  const archs = json.architectures as string[] | undefined;
  const arch = archs?.[0];
  if (arch === undefined || !REF_ARCHITECTURES.includes(arch)) {
    throw new Error(`config.json: unsupported architecture ${String(arch)}`);
  }
  const hiddenSize = num(json, 'hidden_size');
  const numHeads = num(json, 'num_attention_heads');
  const numKvHeads = num(json, 'num_key_value_heads', numHeads);
  // Qwen3Config's head_dim default is 128.
  const isGemma = arch === 'Gemma2ForCausalLM' || arch === 'Gemma3ForCausalLM';
  const headDim = num(json, 'head_dim', arch === 'Qwen3ForCausalLM' ? 128 : isGemma ? 256 : Math.floor(hiddenSize / numHeads));
  if (numHeads % numKvHeads !== 0) throw new Error(`config.json: num_attention_heads ${numHeads} not a multiple of num_key_value_heads ${numKvHeads}`);
  if (headDim % 2 !== 0) throw new Error(`config.json: head_dim ${headDim} is odd`);

  let ropeScaling: RefRopeScaling | null = null;
  const rs = json.rope_scaling as Record<string, unknown> | null | undefined;
  if (rs) {
    const type = (rs.rope_type ?? rs.type) as string | undefined;
    if (type === undefined || type === 'default') ropeScaling = null;
    else if (type === 'longrope') ropeScaling = null; // Phi-3's: in RefConfig.phi3
    else if (type === 'linear') ropeScaling = { type: 'linear', factor: num(rs, 'factor') };
    else if (type === 'llama3') {
      ropeScaling = {
        type: 'llama3',
        factor: num(rs, 'factor'),
        lowFreqFactor: num(rs, 'low_freq_factor'),
        highFreqFactor: num(rs, 'high_freq_factor'),
        originalMaxPositionEmbeddings: num(rs, 'original_max_position_embeddings'),
      };
    } else throw new Error(`config.json: unsupported rope_scaling type ${type}`);
  }

  const attentionBias = json.attention_bias === true;
  const mlpBias = json.mlp_bias === true;
  const numLayers = num(json, 'num_hidden_layers');
  const sw = typeof json.sliding_window === 'number' ? json.sliding_window : null;
  let windows: (number | null)[] = Array.from({ length: numLayers }, () => null);
  if (arch === 'MistralForCausalLM' && sw !== null) windows = windows.map(() => sw);
  if (arch === 'Phi3ForCausalLM' && sw !== null) windows = windows.map(() => sw);
  if ((arch === 'Qwen2ForCausalLM' || arch === 'Qwen3ForCausalLM' || arch === 'SmolLM3ForCausalLM') && json.use_sliding_window === true && sw !== null) {
    const from = num(json, 'max_window_layers', numLayers);
    windows = windows.map((_, l) => (l >= from ? sw : null));
  }
  if (arch === 'Gemma2ForCausalLM' && sw !== null) windows = windows.map((_, l) => (l % 2 === 0 ? sw : null));
  if (arch === 'Gemma3ForCausalLM' && sw !== null) {
    const pattern = num(json, 'sliding_window_pattern', 6);
    windows = windows.map((_, l) => ((l + 1) % pattern !== 0 ? sw : null));
  }
  if (Array.isArray(json.layer_types)) windows = (json.layer_types as string[]).map((t) => (t === 'sliding_attention' ? sw : null));
  const allBias = arch !== 'Qwen2ForCausalLM' && arch !== 'MistralForCausalLM';

  return {
    architecture: arch as RefArchitecture,
    hiddenSize,
    intermediateSize: num(json, 'intermediate_size'),
    numLayers,
    numHeads,
    numKvHeads,
    headDim,
    vocabSize: num(json, 'vocab_size'),
    rmsNormEps: num(json, 'rms_norm_eps', 1e-6),
    ropeTheta: num(json, 'rope_theta', arch === 'Gemma3ForCausalLM' ? 1e6 : 10000),
    ropeScaling,
    tieWordEmbeddings: json.tie_word_embeddings === true || (isGemma && json.tie_word_embeddings !== false),
    qkvBias: arch === 'Qwen2ForCausalLM' || (allBias && attentionBias),
    oBias: allBias && attentionBias,
    mlpBias: arch === 'LlamaForCausalLM' && mlpBias,
    windows,
    qkNorm: arch === 'Qwen3ForCausalLM' || arch === 'Gemma3ForCausalLM' ? 'head' : arch === 'Olmo2ForCausalLM' ? 'projection' : 'none',
    postNorms: arch === 'Olmo2ForCausalLM',
    phi3: arch === 'Phi3ForCausalLM' ? phi3Rope(json, headDim) : null,
    rope: Array.isArray(json.no_rope_layers)
      ? (json.no_rope_layers as number[]).map((v) => v === 1)
      : Array.from({ length: numLayers }, (_, l) => arch !== 'SmolLM3ForCausalLM' || (l + 1) % num(json, 'no_rope_layer_interval', 4) !== 0),
    granite:
      arch === 'GraniteForCausalLM'
        ? { embedding: num(json, 'embedding_multiplier', 1), attention: num(json, 'attention_multiplier', 1), residual: num(json, 'residual_multiplier', 1), logitsScaling: num(json, 'logits_scaling', 1) }
        : null,
    gemma: isGemma
      ? {
          attnScale: 1 / Math.sqrt(num(json, 'query_pre_attn_scalar', headDim)),
          attnSoftcap: typeof json.attn_logit_softcapping === 'number' ? json.attn_logit_softcapping : null,
          finalSoftcap: typeof json.final_logit_softcapping === 'number' ? json.final_logit_softcapping : null,
          localTheta: arch === 'Gemma3ForCausalLM' ? num(json, 'rope_local_base_freq', 10000) : null,
        }
      : null,
  };
}

// ---------------------------------------------------------------------------------------------
// loading

/** The tensors the forward pass reads, with their expected shapes. */
export function expectedTensorShapes(c: RefConfig): Map<string, number[]> {
  const m = new Map<string, number[]>();
  const H = c.hiddenSize;
  const qDim = c.numHeads * c.headDim;
  const kvDim = c.numKvHeads * c.headDim;
  m.set('model.embed_tokens.weight', [c.vocabSize, H]);
  for (let l = 0; l < c.numLayers; l++) {
    const p = `model.layers.${l}.`;
    if (!c.postNorms) m.set(p + 'input_layernorm.weight', [H]);
    m.set(p + 'post_attention_layernorm.weight', [H]);
    if (c.postNorms || c.gemma) m.set(p + 'post_feedforward_layernorm.weight', [H]);
    if (c.gemma) m.set(p + 'pre_feedforward_layernorm.weight', [H]);
    if (c.qkNorm === 'head') {
      m.set(p + 'self_attn.q_norm.weight', [c.headDim]);
      m.set(p + 'self_attn.k_norm.weight', [c.headDim]);
    } else if (c.qkNorm === 'projection') {
      m.set(p + 'self_attn.q_norm.weight', [qDim]);
      m.set(p + 'self_attn.k_norm.weight', [kvDim]);
    }
    if (c.phi3) m.set(p + 'self_attn.qkv_proj.weight', [qDim + 2 * kvDim, H]);
    else {
      m.set(p + 'self_attn.q_proj.weight', [qDim, H]);
      m.set(p + 'self_attn.k_proj.weight', [kvDim, H]);
      m.set(p + 'self_attn.v_proj.weight', [kvDim, H]);
    }
    m.set(p + 'self_attn.o_proj.weight', [H, qDim]);
    if (c.qkvBias) {
      m.set(p + 'self_attn.q_proj.bias', [qDim]);
      m.set(p + 'self_attn.k_proj.bias', [kvDim]);
      m.set(p + 'self_attn.v_proj.bias', [kvDim]);
    }
    if (c.oBias) m.set(p + 'self_attn.o_proj.bias', [H]);
    if (c.phi3) m.set(p + 'mlp.gate_up_proj.weight', [2 * c.intermediateSize, H]);
    else {
      m.set(p + 'mlp.gate_proj.weight', [c.intermediateSize, H]);
      m.set(p + 'mlp.up_proj.weight', [c.intermediateSize, H]);
    }
    m.set(p + 'mlp.down_proj.weight', [H, c.intermediateSize]);
    if (c.mlpBias) {
      m.set(p + 'mlp.gate_proj.bias', [c.intermediateSize]);
      m.set(p + 'mlp.up_proj.bias', [c.intermediateSize]);
      m.set(p + 'mlp.down_proj.bias', [H]);
    }
  }
  m.set('model.norm.weight', [H]);
  if (!c.tieWordEmbeddings) m.set('lm_head.weight', [c.vocabSize, H]);
  return m;
}

/** Build a model from a parsed config.json and decoded tensors; checks every needed tensor's shape. */
export function referenceModelFromTensors(configJson: Record<string, unknown>, weights: Map<string, Tensor64>): ReferenceModel {
  const config = parseRefConfig(configJson);
  for (const [name, shape] of expectedTensorShapes(config)) {
    const t = weights.get(name);
    if (!t) throw new Error(`reference model: missing tensor ${name}`);
    if (t.shape.length !== shape.length || t.shape.some((s, i) => s !== shape[i])) {
      throw new Error(`reference model: ${name} has shape [${t.shape}], expected [${shape}]`);
    }
  }
  return { config, weights };
}

/** Read config.json and model.safetensors (or the index's shards) from a checkpoint folder. */
export function loadReferenceModel(dir: string): ReferenceModel {
  const configJson = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;
  return referenceModelFromTensors(configJson, readCheckpointTensors64(dir));
}

// ---------------------------------------------------------------------------------------------
// building blocks (exported for tests)

/** RMSNorm: x / sqrt(mean(x^2) + eps) * w. */
export function rmsNorm(x: Float64Array, w: Float64Array, eps: number): Float64Array {
  let sumSq = 0;
  for (let i = 0; i < x.length; i++) sumSq += x[i] * x[i];
  const scale = 1 / Math.sqrt(sumSq / x.length + eps);
  const out = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = x[i] * scale * w[i];
  return out;
}

/** y = W x (+ b), W stored row-major [out, in]. */
export function linear(W: Float64Array, outDim: number, inDim: number, x: Float64Array, b?: Float64Array): Float64Array {
  const y = new Float64Array(outDim);
  for (let o = 0; o < outDim; o++) {
    let s = 0;
    const row = o * inDim;
    for (let i = 0; i < inDim; i++) s += W[row + i] * x[i];
    y[o] = b ? s + b[o] : s;
  }
  return y;
}

/** gelu_pytorch_tanh(z) = 0.5 z (1 + tanh(sqrt(2/pi) (z + 0.044715 z^3))). */
export function geluTanh(z: number): number {
  return 0.5 * z * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (z + 0.044715 * z * z * z)));
}

/** silu(z) = z * sigmoid(z) = z / (1 + e^-z). */
export function silu(z: number): number {
  return z / (1 + Math.exp(-z));
}

/**
 * RoPE inverse frequencies, length headDim/2: inv_freq[i] = 1 / theta^(2i/d), then the
 * rope_scaling rule (transformers' modeling_rope_utils):
 *   linear: inv_freq / factor
 *   llama3: wavelen = 2π / inv_freq; wavelen > old_ctx/low_freq_factor -> inv_freq / factor;
 *           wavelen < old_ctx/high_freq_factor -> inv_freq; otherwise
 *           smooth = (old_ctx/wavelen - low_freq_factor) / (high_freq_factor - low_freq_factor),
 *           (1 - smooth) * inv_freq / factor + smooth * inv_freq.
 */
export function ropeInvFreq(c: Pick<RefConfig, 'headDim' | 'ropeTheta' | 'ropeScaling'>): Float64Array {
  const d = c.headDim;
  const inv = new Float64Array(d / 2);
  for (let i = 0; i < d / 2; i++) inv[i] = 1 / Math.pow(c.ropeTheta, (2 * i) / d);
  const rs = c.ropeScaling;
  if (!rs) return inv;
  if (rs.type === 'linear') {
    for (let i = 0; i < inv.length; i++) inv[i] = inv[i] / rs.factor;
    return inv;
  }
  // llama3
  const factor = rs.factor;
  const low = rs.lowFreqFactor!;
  const high = rs.highFreqFactor!;
  const oldCtx = rs.originalMaxPositionEmbeddings!;
  const lowFreqWavelen = oldCtx / low;
  const highFreqWavelen = oldCtx / high;
  for (let i = 0; i < inv.length; i++) {
    const wavelen = (2 * Math.PI) / inv[i];
    if (wavelen > lowFreqWavelen) {
      inv[i] = inv[i] / factor;
    } else if (wavelen < highFreqWavelen) {
      // unchanged
    } else {
      const smooth = (oldCtx / wavelen - low) / (high - low);
      inv[i] = (1 - smooth) * (inv[i] / factor) + smooth * inv[i];
    }
  }
  return inv;
}

/**
 * Rotate one head vector (length d = 2 * invFreq.length) at `pos`, HF "rotate_half" convention
 * (dimension i pairs with i + d/2, NOT interleaved):
 *   out[i]       = x[i] cos(pos·f_i) − x[i+d/2] sin(pos·f_i)
 *   out[i + d/2] = x[i+d/2] cos(pos·f_i) + x[i] sin(pos·f_i)
 */
export function applyRope(x: Float64Array, pos: number, invFreq: Float64Array): Float64Array {
  const half = invFreq.length;
  if (x.length !== 2 * half) throw new Error(`applyRope: head of length ${x.length} for ${half} frequencies`);
  const out = new Float64Array(x.length);
  for (let i = 0; i < half; i++) {
    const angle = pos * invFreq[i];
    const cos = Math.cos(angle);
    const sin = Math.sin(angle);
    out[i] = x[i] * cos - x[i + half] * sin;
    out[i + half] = x[i + half] * cos + x[i] * sin;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// forward

function weight(model: ReferenceModel, name: string): Float64Array {
  const t = model.weights.get(name);
  if (!t) throw new Error(`reference model: missing tensor ${name}`);
  return t.data;
}

function optionalBias(model: ReferenceModel, name: string, present: boolean): Float64Array | undefined {
  return present ? weight(model, name) : undefined;
}

/** lm_head matrix [vocab, hidden]: model.embed_tokens.weight when tie_word_embeddings (as transformers ties it). */
function lmHead(model: ReferenceModel): Float64Array {
  return weight(model, model.config.tieWordEmbeddings ? 'model.embed_tokens.weight' : 'lm_head.weight');
}

interface Trunk {
  hidden: Float64Array[];
  attentions?: Float64Array[][][];
  ffn?: Float64Array[][];
}

/** Everything up to and including model.norm. */
function runTrunk(model: ReferenceModel, inputIds: number[], opts: ReferenceForwardOptions): Trunk {
  const c = model.config;
  const H = c.hiddenSize;
  const d = c.headDim;
  const nH = c.numHeads;
  const nKV = c.numKvHeads;
  const group = nH / nKV;
  const qDim = nH * d;
  const kvDim = nKV * d;
  const I = c.intermediateSize;
  const S = inputIds.length;
  if (S === 0) throw new Error('referenceForward: empty input');

  // embeddings
  const embed = weight(model, 'model.embed_tokens.weight');
  let x: Float64Array[];
  if (opts.inputEmbeds) {
    if (opts.inputEmbeds.length !== S) throw new Error(`referenceForward: ${opts.inputEmbeds.length} inputEmbeds rows for ${S} ids`);
    x = opts.inputEmbeds.map((row, p) => {
      if (row.length !== H) throw new Error(`referenceForward: inputEmbeds[${p}] has length ${row.length}, expected ${H}`);
      return Float64Array.from(row);
    });
  } else {
    x = inputIds.map((id, p) => {
      if (!Number.isInteger(id) || id < 0 || id >= c.vocabSize) throw new Error(`referenceForward: token id ${id} at ${p} out of range`);
      return embed.slice(id * H, (id + 1) * H);
    });
  }

  let invFreq = ropeInvFreq(c);
  // Gemma 3's sliding layers: their own base, no scaling.
  // Phi-3: RoPE on the first rd dimensions of each head; longrope's factors by the sequence's length.
  const rd = c.phi3 ? c.phi3.rotaryDim : d;
  const longrope = c.phi3?.longrope ?? null;
  if (c.phi3) {
    const ext = longrope ? (S > longrope.original ? longrope.long : longrope.short) : null;
    invFreq = ropeInvFreq({ headDim: rd, ropeTheta: c.ropeTheta, ropeScaling: null }).map((f, i) => (ext ? f / ext[i]! : f));
  }
  const rotate = (x: Float64Array, pos: number, freq: Float64Array) => {
    const out = applyRope(x, pos, freq);
    return longrope ? out.map((v) => v * longrope.attention) : out;
  };
  const localInvFreq = c.gemma?.localTheta != null ? ropeInvFreq({ headDim: d, ropeTheta: c.gemma.localTheta, ropeScaling: null }) : invFreq;
  const scale = c.gemma ? c.gemma.attnScale : c.granite ? c.granite.attention : 1 / Math.sqrt(d);
  const residual = c.granite ? c.granite.residual : 1;
  if (c.granite) {
    const m = c.granite.embedding;
    x = x.map((row) => row.map((v) => v * m));
  }
  // Gemma's RMSNorm multiplies by (1 + w).
  const norm = (row: Float64Array, w: Float64Array) => (c.gemma ? rmsNorm(row, w.map((v) => 1 + v), c.rmsNormEps) : rmsNorm(row, w, c.rmsNormEps));
  if (c.gemma) {
    const normalizer = Math.sqrt(H);
    x = x.map((row) => row.map((v) => v * normalizer));
  }
  const attentions: Float64Array[][][] | undefined = opts.attentions ? [] : undefined;
  const ffn: Float64Array[][] | undefined = opts.ffn ? [] : undefined;

  for (let l = 0; l < c.numLayers; l++) {
    const p = `model.layers.${l}.`;
    const wIn = c.postNorms ? null : weight(model, p + 'input_layernorm.weight');
    const wPost = weight(model, p + 'post_attention_layernorm.weight');
    const wPostFfn = c.postNorms || c.gemma ? weight(model, p + 'post_feedforward_layernorm.weight') : null;
    const wPreFfn = c.gemma ? weight(model, p + 'pre_feedforward_layernorm.weight') : null;
    const wQn = c.qkNorm !== 'none' ? weight(model, p + 'self_attn.q_norm.weight') : null;
    const wKn = c.qkNorm !== 'none' ? weight(model, p + 'self_attn.k_norm.weight') : null;
    const window = c.windows[l] ?? null;
    // Phi-3's fused matrices: row blocks, row-major, so plain subarrays.
    const qkv = c.phi3 ? weight(model, p + 'self_attn.qkv_proj.weight') : null;
    const Wq = qkv ? qkv.subarray(0, qDim * H) : weight(model, p + 'self_attn.q_proj.weight');
    const Wk = qkv ? qkv.subarray(qDim * H, (qDim + kvDim) * H) : weight(model, p + 'self_attn.k_proj.weight');
    const Wv = qkv ? qkv.subarray((qDim + kvDim) * H) : weight(model, p + 'self_attn.v_proj.weight');
    const Wo = weight(model, p + 'self_attn.o_proj.weight');
    const bq = optionalBias(model, p + 'self_attn.q_proj.bias', c.qkvBias);
    const bk = optionalBias(model, p + 'self_attn.k_proj.bias', c.qkvBias);
    const bv = optionalBias(model, p + 'self_attn.v_proj.bias', c.qkvBias);
    const bo = optionalBias(model, p + 'self_attn.o_proj.bias', c.oBias);
    const gateUp = c.phi3 ? weight(model, p + 'mlp.gate_up_proj.weight') : null;
    const Wg = gateUp ? gateUp.subarray(0, I * H) : weight(model, p + 'mlp.gate_proj.weight');
    const Wu = gateUp ? gateUp.subarray(I * H) : weight(model, p + 'mlp.up_proj.weight');
    const Wd = weight(model, p + 'mlp.down_proj.weight');
    const bg = optionalBias(model, p + 'mlp.gate_proj.bias', c.mlpBias);
    const bu = optionalBias(model, p + 'mlp.up_proj.bias', c.mlpBias);
    const bd = optionalBias(model, p + 'mlp.down_proj.bias', c.mlpBias);

    // --- self-attention ---
    const n = wIn ? x.map((row) => norm(row, wIn)) : x;
    let q = n.map((row) => linear(Wq, qDim, H, row, bq));
    let k = n.map((row) => linear(Wk, kvDim, H, row, bk));
    const v = n.map((row) => linear(Wv, kvDim, H, row, bv));
    if (c.qkNorm === 'projection') {
      q = q.map((row) => norm(row, wQn!));
      k = k.map((row) => norm(row, wKn!));
    } else if (c.qkNorm === 'head') {
      for (let pos = 0; pos < S; pos++) {
        for (let h = 0; h < nH; h++) q[pos].set(norm(q[pos].subarray(h * d, (h + 1) * d), wQn!), h * d);
        for (let h = 0; h < nKV; h++) k[pos].set(norm(k[pos].subarray(h * d, (h + 1) * d), wKn!), h * d);
      }
    }
    // RoPE per head on q and k, at positions 0..S-1
    const freq = window !== null ? localInvFreq : invFreq;
    for (let pos = 0; pos < S && c.rope[l]; pos++) {
      for (let h = 0; h < nH; h++) q[pos].set(rotate(q[pos].subarray(h * d, h * d + rd), pos, freq), h * d);
      for (let h = 0; h < nKV; h++) k[pos].set(rotate(k[pos].subarray(h * d, h * d + rd), pos, freq), h * d);
    }

    const attnConcat = Array.from({ length: S }, () => new Float64Array(qDim));
    const layerAttn: Float64Array[][] = [];
    for (let h = 0; h < nH; h++) {
      const kvh = Math.floor(h / group); // GQA: query head h reads kv head floor(h / (nH/nKV))
      const headAttn: Float64Array[] = [];
      for (let i = 0; i < S; i++) {
        // scores over keys j <= i (causal), and j > i - window in a sliding layer; other keys get probability exactly 0
        const probs = new Float64Array(S);
        const first = window === null ? 0 : Math.max(0, i - window + 1);
        let max = -Infinity;
        for (let j = first; j <= i; j++) {
          let s = 0;
          for (let t = 0; t < d; t++) s += q[i][h * d + t] * k[j][kvh * d + t];
          probs[j] = s * scale;
          const cap = c.gemma?.attnSoftcap;
          if (cap != null) probs[j] = cap * Math.tanh(probs[j] / cap);
          if (probs[j] > max) max = probs[j];
        }
        let sum = 0;
        for (let j = first; j <= i; j++) {
          probs[j] = Math.exp(probs[j] - max);
          sum += probs[j];
        }
        for (let j = first; j <= i; j++) probs[j] /= sum;
        // weighted sum of values
        const out = attnConcat[i];
        for (let j = first; j <= i; j++) {
          const pj = probs[j];
          for (let t = 0; t < d; t++) out[h * d + t] += pj * v[j][kvh * d + t];
        }
        headAttn.push(probs);
      }
      layerAttn.push(headAttn);
    }
    if (attentions) attentions.push(layerAttn);
    const afterAttn = x.map((row, pos) => {
      let o = linear(Wo, H, qDim, attnConcat[pos], bo);
      if (c.postNorms || c.gemma) o = norm(o, wPost);
      const h = new Float64Array(H);
      for (let t = 0; t < H; t++) h[t] = row[t] + residual * o[t];
      return h;
    });

    // --- MLP ---
    const layerFfn: Float64Array[] = [];
    x = afterAttn.map((h) => {
      const m = c.postNorms ? h : norm(h, c.gemma ? wPreFfn! : wPost);
      const g = linear(Wg, I, H, m, bg);
      const u = linear(Wu, I, H, m, bu);
      const a = new Float64Array(I);
      for (let t = 0; t < I; t++) a[t] = (c.gemma ? geluTanh(g[t]) : silu(g[t])) * u[t];
      const f = linear(Wd, H, I, a, bd);
      layerFfn.push(f); // before OLMo 2's post_feedforward_layernorm
      const added = wPostFfn ? norm(f, wPostFfn) : f;
      const out = new Float64Array(H);
      for (let t = 0; t < H; t++) out[t] = h[t] + residual * added[t];
      return out;
    });
    if (ffn) ffn.push(layerFfn);
  }

  const wNorm = weight(model, 'model.norm.weight');
  const hidden = x.map((row) => norm(row, wNorm));
  return { hidden, attentions, ffn };
}

function logitsOf(model: ReferenceModel, hiddenRow: Float64Array): Float64Array {
  const logits = linear(lmHead(model), model.config.vocabSize, model.config.hiddenSize, hiddenRow);
  const cap = model.config.gemma?.finalSoftcap;
  const scaling = model.config.granite?.logitsScaling ?? 1;
  return logits.map((v) => (cap == null ? v / scaling : cap * Math.tanh(v / cap)));
}

/**
 * Full forward pass over `inputIds` at positions 0..S-1 (no cache, batch of one).
 * Returns logits for every position, the final normed hidden states, and on request the
 * attention probabilities and the MLP outputs (down_proj, before the residual add).
 * `opts.inputEmbeds` replaces the embedding lookup (the ids are then only used for their count).
 */
export function referenceForward(model: ReferenceModel, inputIds: number[], opts: ReferenceForwardOptions = {}): ReferenceOutputs {
  const trunk = runTrunk(model, inputIds, opts);
  const out: ReferenceOutputs = { logits: trunk.hidden.map((h) => logitsOf(model, h)), hidden: trunk.hidden };
  if (trunk.attentions) out.attentions = trunk.attentions;
  if (trunk.ffn) out.ffn = trunk.ffn;
  return out;
}

/** Index of the largest value; the lowest index wins ties. Throws on NaN. */
export function argmax(values: Float64Array): number {
  let best = 0;
  for (let i = 0; i < values.length; i++) {
    if (Number.isNaN(values[i])) throw new Error(`argmax: NaN at ${i}`);
    if (values[i] > values[best]) best = i;
  }
  return best;
}

/**
 * Greedy decoding: repeatedly take argmax (lowest index on ties) of the last position's logits,
 * recomputing the full forward over prompt + generated tokens each step.
 * Returns the GENERATED ids only (not the prompt). Stops after at most `maxNewTokens` tokens, or
 * as soon as a token in `eosIds` is produced; that EOS token is NOT included in the result.
 */
export function referenceGreedy(model: ReferenceModel, inputIds: number[], maxNewTokens: number, eosIds: number[]): number[] {
  const eos = new Set(eosIds);
  const seq = [...inputIds];
  const generated: number[] = [];
  for (let step = 0; step < maxNewTokens; step++) {
    const { hidden } = runTrunk(model, seq, {});
    const next = argmax(logitsOf(model, hidden[hidden.length - 1]));
    if (eos.has(next)) break;
    generated.push(next);
    seq.push(next);
  }
  return generated;
}
