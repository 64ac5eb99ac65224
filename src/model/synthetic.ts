// Synthetic Hugging Face checkpoints for tests and benchmarks.
//
// writeSyntheticCheckpoint() produces a folder that looks exactly like a downloaded Llama /
// Mistral / Qwen2 model (config.json, safetensors weights, tokenizer.json, tokenizer_config.json,
// generation_config.json), with seeded random weights, at any size up to the real presets. Tests
// get realistic files without network access or licences; benchmarks get full-size shapes.
// Weights are streamed to disk, never held whole in memory.

import { mkdir, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { NormalStream, hashSeed } from './synthetic/random.js';
import { tensorBytes, writeSafetensorsFile, type StreamedTensor, type TensorLayout } from './synthetic/safetensors-writer.js';
import {
  MIN_VOCAB_SIZE,
  buildTokenizerConfig,
  buildTokenizerJson,
  specialTokenChoice,
  specialTokenId,
} from './synthetic/tokenizer-builder.js';

export type SyntheticArchitecture =
  | 'LlamaForCausalLM' | 'MistralForCausalLM' | 'Qwen2ForCausalLM' | 'Qwen3ForCausalLM' | 'Olmo2ForCausalLM' | 'Gemma2ForCausalLM' | 'Gemma3ForCausalLM' | 'SmolLM3ForCausalLM' | 'GraniteForCausalLM'
  | 'Phi3ForCausalLM';
export type SyntheticDtype = 'F32' | 'F16' | 'BF16';
export type SyntheticPresetName = 'tiny' | 'smollm2-135m' | 'qwen2.5-0.5b' | 'llama-3.2-1b' | 'llama-2-7b';
export type RopeScalingSpec =
  | { rope_type: 'default' }
  | { rope_type: 'linear'; factor: number }
  | { rope_type: 'llama3'; factor: number; low_freq_factor: number; high_freq_factor: number; original_max_position_embeddings: number };

export interface SyntheticCheckpointOptions {
  /** Default: the preset's architecture ('LlamaForCausalLM' for 'tiny'). */
  architecture?: SyntheticArchitecture;
  /** Default 'tiny'. */
  preset?: SyntheticPresetName;
  hiddenSize?: number;
  intermediateSize?: number;
  numLayers?: number;
  numHeads?: number;
  numKvHeads?: number;
  /** Written as config "head_dim" when set (by this option or the preset); else hidden/heads. */
  headDim?: number;
  vocabSize?: number;
  maxPositionEmbeddings?: number;
  ropeTheta?: number;
  rmsNormEps?: number;
  /** Written as config "rope_scaling" unless default (then null). */
  ropeScaling?: RopeScalingSpec;
  /** q/k/v biases (and o_proj's for Llama, as transformers reads attention_bias). Default: true for Qwen2 only. */
  attentionBias?: boolean;
  /** When true, no lm_head.weight is written. */
  tieWordEmbeddings?: boolean;
  /** Default 'F32'; also config torch_dtype. */
  dtype?: SyntheticDtype;
  /** Default 1 (model.safetensors); more writes model-0000i-of-0000n.safetensors and an index. */
  shards?: number;
  /** Default 1; the same seed and options give byte-identical files. */
  seed?: number;
  /** Multiplier on the projections' default std (default 1). */
  initScale?: number;
  /** Default true: tokenizer_config.json gets a ChatML chat_template, and eos is <|im_end|>. */
  chatTemplate?: boolean;
  /** Mistral: sliding_window on every layer; Qwen2/Qwen3: use_sliding_window with this window. */
  slidingWindow?: number;
  /** Qwen2/Qwen3: the first layer with the sliding window (config max_window_layers; default 0). */
  maxWindowLayers?: number;
  /** Gemma: attn_logit_softcapping / final_logit_softcapping (default none). */
  attnSoftcap?: number;
  finalSoftcap?: number;
  /** Gemma: query_pre_attn_scalar (default head_dim). */
  queryPreAttnScalar?: number;
  /** Gemma 3: sliding_window_pattern (default 6) and rope_local_base_freq (default 10000). */
  slidingWindowPattern?: number;
  ropeLocalBaseFreq?: number;
  /** SmolLM3: no_rope_layer_interval (default 4: every 4th layer without RoPE). */
  noRopeLayerInterval?: number;
  /** Granite: embedding_multiplier, attention_multiplier, residual_multiplier, logits_scaling (defaults 12, 1/head_dim, 0.22, 8, as Granite 3's). */
  graniteMultipliers?: { embedding: number; attention: number; residual: number; logitsScaling: number };
  /** Phi-3: partial_rotary_factor (default 1). */
  partialRotaryFactor?: number;
  /** Phi-3: rope_scaling longrope with these factors (one per rotary frequency) and original_max_position_embeddings. */
  longrope?: { shortFactor: number[]; longFactor: number[]; originalMaxPositionEmbeddings: number };
}

export interface SyntheticCheckpoint {
  dir: string;
  /** The config.json written. */
  config: Record<string, unknown>;
  /** Bytes of tensor data over all weight files (the index's total_size). */
  weightBytes: number;
  /** In file order (shard by shard). */
  tensorNames: string[];
}

/** The shape-defining part of a checkpoint, as a preset gives it. */
export interface SyntheticPresetSpec {
  architecture: SyntheticArchitecture;
  hiddenSize: number;
  intermediateSize: number;
  numLayers: number;
  numHeads: number;
  numKvHeads: number;
  headDim?: number;
  vocabSize: number;
  maxPositionEmbeddings: number;
  ropeTheta: number;
  rmsNormEps: number;
  ropeScaling: RopeScalingSpec;
  tieWordEmbeddings: boolean;
}

/**
 * The real models' shapes (from their config.json on the Hugging Face hub), plus 'tiny' for
 * fast tests. tiny's vocabulary holds every built-in word as one token, so instruction verbs are
 * single tokens even in the smallest model.
 */
export const SYNTHETIC_PRESETS: Readonly<Record<SyntheticPresetName, Readonly<SyntheticPresetSpec>>> = {
  tiny: {
    architecture: 'LlamaForCausalLM',
    hiddenSize: 64,
    intermediateSize: 128,
    numLayers: 2,
    numHeads: 4,
    numKvHeads: 2,
    vocabSize: 4096,
    maxPositionEmbeddings: 256,
    ropeTheta: 10000,
    rmsNormEps: 1e-5,
    ropeScaling: { rope_type: 'default' },
    tieWordEmbeddings: false,
  },
  'smollm2-135m': {
    architecture: 'LlamaForCausalLM',
    hiddenSize: 576,
    intermediateSize: 1536,
    numLayers: 30,
    numHeads: 9,
    numKvHeads: 3,
    vocabSize: 49152,
    maxPositionEmbeddings: 8192,
    ropeTheta: 100000,
    rmsNormEps: 1e-5,
    ropeScaling: { rope_type: 'default' },
    tieWordEmbeddings: true,
  },
  'qwen2.5-0.5b': {
    architecture: 'Qwen2ForCausalLM',
    hiddenSize: 896,
    intermediateSize: 4864,
    numLayers: 24,
    numHeads: 14,
    numKvHeads: 2,
    vocabSize: 151936,
    maxPositionEmbeddings: 32768,
    ropeTheta: 1000000,
    rmsNormEps: 1e-6,
    ropeScaling: { rope_type: 'default' },
    tieWordEmbeddings: true,
  },
  'llama-3.2-1b': {
    architecture: 'LlamaForCausalLM',
    hiddenSize: 2048,
    intermediateSize: 8192,
    numLayers: 16,
    numHeads: 32,
    numKvHeads: 8,
    headDim: 64, // the real config states it
    vocabSize: 128256,
    maxPositionEmbeddings: 131072,
    ropeTheta: 500000,
    rmsNormEps: 1e-5,
    ropeScaling: { rope_type: 'llama3', factor: 32, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 8192 },
    tieWordEmbeddings: true,
  },
  'llama-2-7b': {
    architecture: 'LlamaForCausalLM',
    hiddenSize: 4096,
    intermediateSize: 11008,
    numLayers: 32,
    numHeads: 32,
    numKvHeads: 32,
    vocabSize: 32000,
    maxPositionEmbeddings: 4096,
    ropeTheta: 10000,
    rmsNormEps: 1e-5,
    ropeScaling: { rope_type: 'default' },
    tieWordEmbeddings: false,
  },
};

/** Everything a checkpoint is made from, validated. */
interface ResolvedSpec extends SyntheticPresetSpec {
  /** Whether head_dim goes into config.json. */
  explicitHeadDim: boolean;
  headDim: number;
  attentionBias: boolean;
  dtype: SyntheticDtype;
  shards: number;
  seed: number;
  initScale: number;
  chatTemplate: boolean;
  slidingWindow: number | null;
  maxWindowLayers: number;
  gemma: { attnSoftcap: number | null; finalSoftcap: number | null; queryPreAttnScalar: number; slidingWindowPattern: number; ropeLocalBaseFreq: number } | null;
  noRopeLayerInterval: number;
  granite: { embedding: number; attention: number; residual: number; logitsScaling: number } | null;
  phi3: { partialRotaryFactor: number; longrope: SyntheticCheckpointOptions['longrope'] | null } | null;
}

const MODEL_TYPE: Record<SyntheticArchitecture, string> = {
  LlamaForCausalLM: 'llama',
  MistralForCausalLM: 'mistral',
  Qwen2ForCausalLM: 'qwen2',
  Qwen3ForCausalLM: 'qwen3',
  Olmo2ForCausalLM: 'olmo2',
  Gemma2ForCausalLM: 'gemma2',
  Gemma3ForCausalLM: 'gemma3_text',
  SmolLM3ForCausalLM: 'smollm3',
  GraniteForCausalLM: 'granite',
  Phi3ForCausalLM: 'phi3',
};

const TORCH_DTYPE: Record<SyntheticDtype, string> = { F32: 'float32', F16: 'float16', BF16: 'bfloat16' };

function positiveInt(name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value < 1) throw new RangeError(`synthetic checkpoint: ${name} must be a positive integer, got ${value}`);
  return value;
}

function positiveNumber(name: string, value: number): number {
  if (!Number.isFinite(value) || value <= 0) throw new RangeError(`synthetic checkpoint: ${name} must be a finite number > 0, got ${value}`);
  return value;
}

function resolveSpec(options: SyntheticCheckpointOptions): ResolvedSpec {
  const presetName = options.preset ?? 'tiny';
  const preset = SYNTHETIC_PRESETS[presetName];
  if (!preset) throw new RangeError(`synthetic checkpoint: unknown preset '${presetName}' (known: ${Object.keys(SYNTHETIC_PRESETS).join(', ')})`);
  const architecture = options.architecture ?? preset.architecture;
  if (!(architecture in MODEL_TYPE)) throw new RangeError(`synthetic checkpoint: unsupported architecture '${architecture}'`);

  const hiddenSize = positiveInt('hiddenSize', options.hiddenSize ?? preset.hiddenSize);
  const numHeads = positiveInt('numHeads', options.numHeads ?? preset.numHeads);
  const numKvHeads = positiveInt('numKvHeads', options.numKvHeads ?? preset.numKvHeads);
  if (numHeads % numKvHeads !== 0) throw new RangeError(`synthetic checkpoint: numHeads ${numHeads} is not a multiple of numKvHeads ${numKvHeads}`);
  const givenHeadDim = options.headDim ?? preset.headDim;
  if (givenHeadDim === undefined && hiddenSize % numHeads !== 0) {
    throw new RangeError(`synthetic checkpoint: hiddenSize ${hiddenSize} is not a multiple of numHeads ${numHeads}; give headDim`);
  }
  const headDim = positiveInt('headDim', givenHeadDim ?? hiddenSize / numHeads);
  if (headDim % 2 !== 0) throw new RangeError(`synthetic checkpoint: headDim ${headDim} must be even (RoPE rotates pairs)`);

  const vocabSize = positiveInt('vocabSize', options.vocabSize ?? preset.vocabSize);
  if (vocabSize < MIN_VOCAB_SIZE) throw new RangeError(`synthetic checkpoint: vocabSize must be ≥ ${MIN_VOCAB_SIZE} (3 special tokens + 256 bytes), got ${vocabSize}`);

  // transformers hard-codes these: Qwen2's q/k/v always carry a bias, Mistral's never do.
  const attentionBias = options.attentionBias ?? architecture === 'Qwen2ForCausalLM';
  if (architecture === 'Qwen2ForCausalLM' && !attentionBias) throw new RangeError('synthetic checkpoint: Qwen2ForCausalLM without attention biases is not supported (transformers always has them)');
  if (architecture === 'Phi3ForCausalLM' && attentionBias) throw new RangeError('synthetic checkpoint: Phi3ForCausalLM has no attention biases');
  if (architecture === 'MistralForCausalLM' && attentionBias) throw new RangeError('synthetic checkpoint: MistralForCausalLM with attention biases is not supported (transformers never has them)');

  const maxPositionEmbeddings = positiveInt('maxPositionEmbeddings', options.maxPositionEmbeddings ?? preset.maxPositionEmbeddings);
  const ropeScaling = options.ropeScaling ?? preset.ropeScaling;
  if (ropeScaling.rope_type === 'linear') positiveNumber('ropeScaling.factor', ropeScaling.factor);
  else if (ropeScaling.rope_type === 'llama3') {
    positiveNumber('ropeScaling.factor', ropeScaling.factor);
    positiveNumber('ropeScaling.low_freq_factor', ropeScaling.low_freq_factor);
    positiveNumber('ropeScaling.high_freq_factor', ropeScaling.high_freq_factor);
    positiveInt('ropeScaling.original_max_position_embeddings', ropeScaling.original_max_position_embeddings);
    if (!(ropeScaling.low_freq_factor < ropeScaling.high_freq_factor)) throw new RangeError('synthetic checkpoint: llama3 rope scaling needs low_freq_factor < high_freq_factor');
  } else if (ropeScaling.rope_type !== 'default') {
    throw new RangeError(`synthetic checkpoint: unsupported rope_type '${(ropeScaling as { rope_type: string }).rope_type}'`);
  }

  const slidingWindow = options.slidingWindow === undefined ? null : positiveInt('slidingWindow', options.slidingWindow);
  const isGemma = architecture === 'Gemma2ForCausalLM' || architecture === 'Gemma3ForCausalLM';
  if (slidingWindow !== null && !['MistralForCausalLM', 'Qwen2ForCausalLM', 'Qwen3ForCausalLM', 'Gemma2ForCausalLM', 'Gemma3ForCausalLM', 'SmolLM3ForCausalLM', 'Phi3ForCausalLM'].includes(architecture)) {
    throw new RangeError(`synthetic checkpoint: ${architecture} has no sliding window`);
  }
  const dtype = options.dtype ?? 'F32';
  if (!(dtype in TORCH_DTYPE)) throw new RangeError(`synthetic checkpoint: unsupported dtype '${dtype}'`);
  const seed = options.seed ?? 1;
  if (!Number.isSafeInteger(seed) || seed < 0 || seed > 0xffffffff) throw new RangeError(`synthetic checkpoint: seed must be an integer in 0..2^32-1, got ${seed}`);
  const initScale = options.initScale ?? 1;
  if (!Number.isFinite(initScale) || initScale < 0) throw new RangeError(`synthetic checkpoint: initScale must be a finite number ≥ 0, got ${initScale}`);

  return {
    architecture,
    hiddenSize,
    intermediateSize: positiveInt('intermediateSize', options.intermediateSize ?? preset.intermediateSize),
    numLayers: positiveInt('numLayers', options.numLayers ?? preset.numLayers),
    numHeads,
    numKvHeads,
    headDim,
    // Qwen3's head_dim defaults to 128 in transformers, so its config always says it.
    explicitHeadDim: givenHeadDim !== undefined || architecture === 'Qwen3ForCausalLM' || isGemma,
    vocabSize,
    maxPositionEmbeddings,
    ropeTheta: positiveNumber('ropeTheta', options.ropeTheta ?? preset.ropeTheta),
    rmsNormEps: positiveNumber('rmsNormEps', options.rmsNormEps ?? preset.rmsNormEps),
    ropeScaling,
    tieWordEmbeddings: options.tieWordEmbeddings ?? preset.tieWordEmbeddings,
    attentionBias,
    dtype,
    shards: positiveInt('shards', options.shards ?? 1),
    seed,
    initScale,
    chatTemplate: options.chatTemplate ?? true,
    slidingWindow,
    maxWindowLayers: options.maxWindowLayers ?? 0,
    gemma: isGemma
      ? {
          attnSoftcap: options.attnSoftcap ?? null,
          finalSoftcap: options.finalSoftcap ?? null,
          queryPreAttnScalar: options.queryPreAttnScalar ?? headDim,
          slidingWindowPattern: options.slidingWindowPattern ?? 6,
          ropeLocalBaseFreq: options.ropeLocalBaseFreq ?? 10000,
        }
      : null,
    noRopeLayerInterval: options.noRopeLayerInterval ?? 4,
    phi3: architecture === 'Phi3ForCausalLM' ? { partialRotaryFactor: options.partialRotaryFactor ?? 1, longrope: options.longrope ?? null } : null,
    granite: architecture === 'GraniteForCausalLM' ? (options.graniteMultipliers ?? { embedding: 12, attention: 1 / headDim, residual: 0.22, logitsScaling: 8 }) : null,
  };
}

function buildConfig(s: ResolvedSpec): Record<string, unknown> {
  const { bos, eos } = specialTokenChoice(s.chatTemplate);
  const config: Record<string, unknown> = {
    architectures: [s.architecture],
    attention_dropout: 0.0,
    bos_token_id: specialTokenId(bos),
    eos_token_id: specialTokenId(eos),
    hidden_act: 'silu',
    hidden_size: s.hiddenSize,
    initializer_range: 0.02,
    intermediate_size: s.intermediateSize,
    max_position_embeddings: s.maxPositionEmbeddings,
    model_type: MODEL_TYPE[s.architecture],
    num_attention_heads: s.numHeads,
    num_hidden_layers: s.numLayers,
    num_key_value_heads: s.numKvHeads,
    rms_norm_eps: s.rmsNormEps,
    rope_scaling: s.ropeScaling.rope_type === 'default' ? null : { ...s.ropeScaling },
    rope_theta: s.ropeTheta,
    tie_word_embeddings: s.tieWordEmbeddings,
    torch_dtype: TORCH_DTYPE[s.dtype],
    use_cache: true,
    vocab_size: s.vocabSize,
  };
  if (s.explicitHeadDim) config.head_dim = s.headDim;
  if (s.architecture === 'LlamaForCausalLM') Object.assign(config, { attention_bias: s.attentionBias, mlp_bias: false, pretraining_tp: 1 });
  if (s.architecture === 'MistralForCausalLM' || s.phi3) config.sliding_window = s.slidingWindow;
  if (s.phi3) {
    config.partial_rotary_factor = s.phi3.partialRotaryFactor;
    const lr = s.phi3.longrope;
    if (lr) {
      config.original_max_position_embeddings = lr.originalMaxPositionEmbeddings;
      config.rope_scaling = { type: 'longrope', short_factor: lr.shortFactor, long_factor: lr.longFactor };
    }
  }
  if (s.architecture === 'Qwen2ForCausalLM' || s.architecture === 'Qwen3ForCausalLM' || s.architecture === 'SmolLM3ForCausalLM') {
    Object.assign(config, { use_sliding_window: s.slidingWindow !== null, sliding_window: s.slidingWindow, max_window_layers: s.maxWindowLayers });
  }
  if (s.architecture === 'Qwen3ForCausalLM' || s.architecture === 'Olmo2ForCausalLM' || s.gemma || s.granite || s.architecture === 'SmolLM3ForCausalLM') {
    Object.assign(config, { attention_bias: s.attentionBias, mlp_bias: false });
  }
  if (s.architecture === 'SmolLM3ForCausalLM') config.no_rope_layer_interval = s.noRopeLayerInterval;
  if (s.granite) {
    const m = s.granite;
    Object.assign(config, { embedding_multiplier: m.embedding, attention_multiplier: m.attention, residual_multiplier: m.residual, logits_scaling: m.logitsScaling });
  }
  if (s.gemma) {
    // Gemma's MLP reads hidden_activation; its configs carry both.
    Object.assign(config, {
      hidden_act: 'gelu_pytorch_tanh',
      hidden_activation: 'gelu_pytorch_tanh',
      attn_logit_softcapping: s.gemma.attnSoftcap,
      final_logit_softcapping: s.gemma.finalSoftcap,
      query_pre_attn_scalar: s.gemma.queryPreAttnScalar,
      sliding_window: s.slidingWindow,
    });
    if (s.architecture === 'Gemma3ForCausalLM') Object.assign(config, { sliding_window_pattern: s.gemma.slidingWindowPattern, rope_local_base_freq: s.gemma.ropeLocalBaseFreq });
  }
  // transformers writes config.json with sorted keys; so do we, for familiar diffs.
  return Object.fromEntries(Object.entries(config).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** A tensor to write and the distribution its values are drawn from. */
interface PlannedTensor extends TensorLayout {
  mean: number;
  std: number;
  /** Per-row multiplier on std (row = index along the first dimension). */
  rowGain?: (row: number) => number;
}

/**
 * Every tensor, in the order transformers' state_dict lists them.
 *
 * Scales: projections get std initScale/√fan_in, which keeps activations O(1) through the
 * layers (q_proj additionally gets per-head gains, below); RMSNorm weights 1 ± 0.1; biases std
 * 0.1. Embeddings get std 1, except when tied: lm_head is then the embedding, so the input
 * embedding left in the residual stream raises its own token's logit, and once greedy decoding
 * emits a token it keeps emitting it. With std ½√(L/H) the embedding's share of the residual
 * stays below one layer's output, and the logits still get a realistic spread.
 */
function planTensors(s: ResolvedSpec): PlannedTensor[] {
  const H = s.hiddenSize;
  const I = s.intermediateSize;
  const qDim = s.numHeads * s.headDim;
  const kvDim = s.numKvHeads * s.headDim;
  const dtype = s.dtype;
  const proj = (fanIn: number) => s.initScale / Math.sqrt(fanIn);
  const weight = (name: string, shape: number[], std: number, mean = 0): PlannedTensor => ({ name, shape, dtype, mean, std });
  // Gemma's norms scale by (1 + w): its gains are stored around 0.
  const norm = (name: string) => weight(name, [H], 0.1, s.gemma ? 0 : 1);

  // Query gain per head, geometric from 2 to 8. With plain 1/√H scales every head's scores have
  // std ≈ 1, all heads attend almost uniformly, positions blur into one another layer after
  // layer, and greedy decoding soon repeats one token; the spread gives diffuse and sharp heads
  // side by side instead (mean attention entropy ≈ 0.4 of uniform's, against 0.9).
  const headGain = (head: number) => 2 * (s.numHeads === 1 ? 2 : Math.pow(4, head / (s.numHeads - 1)));
  const embedStd = s.tieWordEmbeddings ? Math.min(1, 0.5 * Math.sqrt(s.numLayers / H)) : 1;
  const out: PlannedTensor[] = [weight('model.embed_tokens.weight', [s.vocabSize, H], embedStd)];
  for (let i = 0; i < s.numLayers; i++) {
    const p = `model.layers.${i}.`;
    const olmo = s.architecture === 'Olmo2ForCausalLM';
    if (!olmo) out.push(norm(p + 'input_layernorm.weight'));
    if (s.gemma) out.push(norm(p + 'pre_feedforward_layernorm.weight'));
    if (s.phi3) {
      // Phi-3: q, k and v as consecutive row blocks of one matrix (the query rows with their head gains).
      out.push({ ...weight(p + 'self_attn.qkv_proj.weight', [qDim + 2 * kvDim, H], proj(H)), rowGain: (row) => (row < qDim ? headGain(Math.floor(row / s.headDim)) : 1) });
    } else {
      out.push({ ...weight(p + 'self_attn.q_proj.weight', [qDim, H], proj(H)), rowGain: (row) => headGain(Math.floor(row / s.headDim)) });
      if (s.attentionBias) out.push(weight(p + 'self_attn.q_proj.bias', [qDim], 0.1));
      out.push(weight(p + 'self_attn.k_proj.weight', [kvDim, H], proj(H)));
      if (s.attentionBias) out.push(weight(p + 'self_attn.k_proj.bias', [kvDim], 0.1));
      out.push(weight(p + 'self_attn.v_proj.weight', [kvDim, H], proj(H)));
      if (s.attentionBias) out.push(weight(p + 'self_attn.v_proj.bias', [kvDim], 0.1));
    }
    out.push(weight(p + 'self_attn.o_proj.weight', [H, qDim], proj(qDim)));
    // transformers' LlamaAttention puts attention_bias on o_proj too (Qwen2's o_proj has none).
    if (s.attentionBias && s.architecture !== 'Qwen2ForCausalLM') out.push(weight(p + 'self_attn.o_proj.bias', [H], 0.1));
    // q/k norms take the scale of the scores (they undo q_proj's head gains): gains around 2 on
    // both keep some heads sharp. Qwen3's are per head [head_dim], OLMo 2's over the projection.
    if (s.architecture === 'Qwen3ForCausalLM' || s.architecture === 'Gemma3ForCausalLM') {
      // Gemma scales by (1 + w): the same gains, one lower.
      const offset = s.gemma ? 1 : 0;
      out.push(weight(p + 'self_attn.q_norm.weight', [s.headDim], 0.5, 2.5 - offset));
      out.push(weight(p + 'self_attn.k_norm.weight', [s.headDim], 0.5, 2 - offset));
    } else if (olmo) {
      out.push(weight(p + 'self_attn.q_norm.weight', [qDim], 0.5, 2.5));
      out.push(weight(p + 'self_attn.k_norm.weight', [kvDim], 0.5, 2));
    }
    out.push(norm(p + 'post_attention_layernorm.weight'));
    if (s.phi3) out.push(weight(p + 'mlp.gate_up_proj.weight', [2 * I, H], proj(H)));
    else {
      out.push(weight(p + 'mlp.gate_proj.weight', [I, H], proj(H)));
      out.push(weight(p + 'mlp.up_proj.weight', [I, H], proj(H)));
    }
    out.push(weight(p + 'mlp.down_proj.weight', [H, I], proj(I)));
    if (olmo || s.gemma) out.push(norm(p + 'post_feedforward_layernorm.weight'));
  }
  out.push(norm('model.norm.weight'));
  if (!s.tieWordEmbeddings) out.push(weight('lm_head.weight', [s.vocabSize, H], proj(H)));
  return out;
}

function rowScaledProducer(t: PlannedTensor, stream: NormalStream): (out: Float32Array) => void {
  const gain = t.rowGain;
  if (!gain) return (out) => stream.fill(out, t.mean, t.std);
  const rowLength = t.shape.slice(1).reduce((a, b) => a * b, 1);
  let position = 0; // elements produced so far: chunks need not start at a row boundary
  return (out) => {
    stream.fill(out, 0, 1);
    for (let i = 0; i < out.length; ) {
      const row = Math.floor((position + i) / rowLength);
      const end = Math.min(out.length, (row + 1) * rowLength - position);
      const std = t.std * gain(row);
      for (; i < end; i++) out[i] = t.mean + std * out[i]!;
    }
    position += out.length;
  };
}

/**
 * Splits tensors, in order, into `count` consecutive groups of about equal byte size. Every
 * group gets at least one tensor, so a shard file is never empty.
 */
function splitIntoShards<T extends TensorLayout>(tensors: readonly T[], count: number): T[][] {
  if (count > tensors.length) throw new RangeError(`synthetic checkpoint: ${count} shards for only ${tensors.length} tensors`);
  const total = tensors.reduce((sum, t) => sum + tensorBytes(t), 0);
  const shards: T[][] = [[]];
  let cumulative = 0;
  tensors.forEach((t, i) => {
    const current = shards[shards.length - 1]!;
    const tensorsLeft = tensors.length - i;
    const shardsLeft = count - shards.length;
    // Start the next shard once this one has its share, or when each remaining shard needs one
    // of the remaining tensors.
    const full = cumulative >= (total * shards.length) / count;
    if (current.length > 0 && shardsLeft > 0 && (full || tensorsLeft === shardsLeft)) shards.push([t]);
    else current.push(t);
    cumulative += tensorBytes(t);
  });
  return shards;
}

function shardFileName(index: number, count: number): string {
  const pad = (n: number) => String(n).padStart(5, '0');
  return `model-${pad(index + 1)}-of-${pad(count)}.safetensors`;
}

async function writeJsonAtomic(path: string, value: unknown): Promise<void> {
  await writeFile(path + '.tmp', JSON.stringify(value, null, 2) + '\n');
  await rename(path + '.tmp', path);
}

/** The config.json that writeSyntheticCheckpoint would write, without writing anything. */
export function syntheticConfig(options: SyntheticCheckpointOptions = {}): Record<string, unknown> {
  return buildConfig(resolveSpec(options));
}

/** The tensors (name, dtype, shape) that writeSyntheticCheckpoint would write, in order. */
export function syntheticTensorLayout(options: SyntheticCheckpointOptions = {}): TensorLayout[] {
  return planTensors(resolveSpec(options)).map(({ name, dtype, shape }) => ({ name, dtype, shape }));
}

/**
 * Writes tokenizer.json and tokenizer_config.json for a vocabulary of exactly `vocabSize`
 * tokens (added tokens included), without any weights.
 */
export async function writeSyntheticTokenizer(
  dir: string,
  vocabSize: number,
  options: { chatTemplate?: boolean; modelMaxLength?: number } = {},
): Promise<void> {
  await mkdir(dir, { recursive: true });
  await writeJsonAtomic(join(dir, 'tokenizer.json'), buildTokenizerJson(vocabSize));
  await writeJsonAtomic(
    join(dir, 'tokenizer_config.json'),
    buildTokenizerConfig({ chatTemplate: options.chatTemplate ?? true, modelMaxLength: options.modelMaxLength ?? 2048 }),
  );
}

/**
 * Writes a complete synthetic checkpoint into `dir` (created if missing). config.json is
 * written last, so a folder that has one is complete.
 */
export async function writeSyntheticCheckpoint(dir: string, options: SyntheticCheckpointOptions = {}): Promise<SyntheticCheckpoint> {
  const spec = resolveSpec(options);
  const config = buildConfig(spec);
  const planned = planTensors(spec);
  const shards = splitIntoShards(planned, spec.shards);
  await mkdir(dir, { recursive: true });

  // A leftover from an earlier run with another shard count would make the folder ambiguous
  // (loaders prefer one layout over the other), so the other layout's files go.
  const stale = (await readdir(dir)).filter((f) =>
    spec.shards === 1 ? f === 'model.safetensors.index.json' || /^model-\d+-of-\d+\.safetensors$/.test(f) : f === 'model.safetensors' || /^model-\d+-of-\d+\.safetensors$/.test(f),
  );
  await Promise.all(stale.map((f) => rm(join(dir, f), { force: true })));

  await writeSyntheticTokenizer(dir, spec.vocabSize, { chatTemplate: spec.chatTemplate, modelMaxLength: spec.maxPositionEmbeddings });
  await writeJsonAtomic(join(dir, 'generation_config.json'), {
    bos_token_id: config.bos_token_id,
    eos_token_id: config.eos_token_id,
  });

  let weightBytes = 0;
  const weightMap: Record<string, string> = {};
  for (let i = 0; i < shards.length; i++) {
    const file = spec.shards === 1 ? 'model.safetensors' : shardFileName(i, shards.length);
    // One stream per tensor, keyed by its name: values do not depend on order or sharding.
    const streamed: StreamedTensor[] = shards[i]!.map((t) => {
      const stream = new NormalStream(hashSeed(spec.seed, t.name));
      const produce = rowScaledProducer(t, stream);
      return { name: t.name, dtype: t.dtype, shape: t.shape, produce };
    });
    weightBytes += await writeSafetensorsFile(join(dir, file), streamed);
    for (const t of shards[i]!) weightMap[t.name] = file;
  }
  if (spec.shards > 1) {
    const sortedMap = Object.fromEntries(Object.keys(weightMap).sort().map((name) => [name, weightMap[name]!]));
    await writeJsonAtomic(join(dir, 'model.safetensors.index.json'), { metadata: { total_size: weightBytes }, weight_map: sortedMap });
  }
  await writeJsonAtomic(join(dir, 'config.json'), config);
  return { dir, config, weightBytes, tensorNames: shards.flat().map((t) => t.name) };
}

export interface SyntheticAdapterOptions {
  /** The base model's options (as given to writeSyntheticCheckpoint): the adapter's shapes follow them. */
  base: SyntheticCheckpointOptions;
  /** Written as base_model_name_or_path (default: none). */
  baseModelNameOrPath?: string;
  /** Default 4. */
  rank?: number;
  /** Default 8. */
  alpha?: number;
  useRslora?: boolean;
  /** Module names adapted in every layer (default q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj). */
  targetModules?: string[];
  /** Saved whole: 'lm_head' and/or 'embed_tokens' (written as modules_to_save). */
  modulesToSave?: ('lm_head' | 'embed_tokens')[];
  /** The vocabulary of the saved embedding / LM head (a resized embedding; default the base's). */
  resizedVocab?: number;
  /** Default 'F32'. */
  dtype?: SyntheticDtype;
  seed?: number;
  /** Extra adapter_config.json fields (to test refusals). */
  extraConfig?: Record<string, unknown>;
}

const LORA_MODULES: Record<string, 'self_attn' | 'mlp'> = {
  q_proj: 'self_attn', k_proj: 'self_attn', v_proj: 'self_attn', o_proj: 'self_attn',
  gate_proj: 'mlp', up_proj: 'mlp', down_proj: 'mlp',
};

/**
 * Writes a PEFT LoRA adapter folder (adapter_config.json, adapter_model.safetensors) for a
 * synthetic base, as PEFT saves one: tensors `base_model.model.<module>.lora_A.weight` [r, in] and
 * `lora_B.weight` [out, r] (B non-zero, unlike a fresh adapter, so that it changes the model), and
 * modules_to_save as `base_model.model.<name>.weight`. A resized vocabulary also gets its tokenizer.
 */
export async function writeSyntheticAdapter(dir: string, options: SyntheticAdapterOptions): Promise<{ dir: string; weightBytes: number; config: Record<string, unknown> }> {
  const s = resolveSpec(options.base);
  const rank = positiveInt('rank', options.rank ?? 4);
  const alpha = positiveNumber('alpha', options.alpha ?? 8);
  const targets = options.targetModules ?? Object.keys(LORA_MODULES);
  const dtype = options.dtype ?? 'F32';
  const H = s.hiddenSize;
  const dims: Record<string, [number, number]> = {
    q_proj: [s.numHeads * s.headDim, H], k_proj: [s.numKvHeads * s.headDim, H], v_proj: [s.numKvHeads * s.headDim, H], o_proj: [H, s.numHeads * s.headDim],
    gate_proj: [s.intermediateSize, H], up_proj: [s.intermediateSize, H], down_proj: [H, s.intermediateSize],
  };
  const planned: PlannedTensor[] = [];
  for (let l = 0; l < s.numLayers; l++) {
    for (const m of targets) {
      const kind = LORA_MODULES[m];
      if (!kind) throw new RangeError(`synthetic adapter: unknown target module '${m}'`);
      const [out, inDim] = dims[m]!;
      const p = `base_model.model.model.layers.${l}.${kind}.${m}`;
      planned.push({ name: `${p}.lora_A.weight`, shape: [rank, inDim], dtype, mean: 0, std: 1 / Math.sqrt(inDim) });
      // B·A adds about a tenth of W's scale: large enough to change the greedy tokens.
      planned.push({ name: `${p}.lora_B.weight`, shape: [out, rank], dtype, mean: 0, std: (0.3 * s.initScale) / Math.sqrt(inDim) / (alpha / rank) });
    }
  }
  const vocab = options.resizedVocab ?? s.vocabSize;
  for (const m of options.modulesToSave ?? []) {
    const name = m === 'lm_head' ? 'lm_head' : 'model.embed_tokens';
    planned.push({ name: `base_model.model.${name}.weight`, shape: [vocab, H], dtype, mean: 0, std: m === 'lm_head' ? 1 / Math.sqrt(H) : 1 });
  }
  await mkdir(dir, { recursive: true });
  const seed = options.seed ?? 1;
  const weightBytes = await writeSafetensorsFile(
    join(dir, 'adapter_model.safetensors'),
    planned.map((t) => ({ name: t.name, dtype: t.dtype, shape: t.shape, produce: rowScaledProducer(t, new NormalStream(hashSeed(seed, t.name))) })),
  );
  if (vocab !== s.vocabSize) await writeSyntheticTokenizer(dir, vocab, { chatTemplate: s.chatTemplate, modelMaxLength: s.maxPositionEmbeddings });
  const config: Record<string, unknown> = {
    alpha_pattern: {},
    auto_mapping: null,
    base_model_name_or_path: options.baseModelNameOrPath ?? null,
    bias: 'none',
    fan_in_fan_out: false,
    inference_mode: true,
    init_lora_weights: true,
    layers_pattern: null,
    layers_to_transform: null,
    lora_alpha: alpha,
    lora_dropout: 0.05,
    modules_to_save: options.modulesToSave?.length ? options.modulesToSave : null,
    peft_type: 'LORA',
    r: rank,
    rank_pattern: {},
    revision: null,
    target_modules: targets,
    task_type: 'CAUSAL_LM',
    use_dora: false,
    use_rslora: options.useRslora ?? false,
    ...options.extraConfig,
  };
  await writeJsonAtomic(join(dir, 'adapter_config.json'), config);
  return { dir, weightBytes, config };
}
