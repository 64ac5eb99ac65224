import { LensError } from './errors.js';
import type { WeightDtype } from './safetensors.js';

export const SUPPORTED_ARCHITECTURES = [
  'LlamaForCausalLM', 'MistralForCausalLM', 'Qwen2ForCausalLM', 'Qwen3ForCausalLM', 'Olmo2ForCausalLM', 'Gemma2ForCausalLM', 'Gemma3ForCausalLM', 'SmolLM3ForCausalLM', 'GraniteForCausalLM',
  'Phi3ForCausalLM',
] as const;
/** Families people ask for that are recognised but not computed yet: refused by name. */
export const PLANNED_ARCHITECTURES = ['Gemma3ForConditionalGeneration', 'GraniteMoeForCausalLM', 'PhiMoEForCausalLM'] as const;
export type Architecture = (typeof SUPPORTED_ARCHITECTURES)[number];

export type RopeScaling =
  | { type: 'default' }
  | { type: 'linear'; factor: number }
  | { type: 'llama3'; factor: number; lowFreqFactor: number; highFreqFactor: number; originalMaxPositionEmbeddings: number }
  /**
   * Phi-3's: inv_freq divided per frequency by short_factor, or long_factor once a sequence is longer
   * than original_max_position_embeddings; cos and sin multiplied by attentionFactor.
   */
  | { type: 'longrope'; shortFactor: number[]; longFactor: number[]; originalMaxPositionEmbeddings: number; attentionFactor: number };

/** A validated description of a Llama-family model, from its config.json. */
export interface ModelConfig {
  architecture: Architecture;
  hiddenSize: number;
  intermediateSize: number;
  numLayers: number;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  vocabSize: number;
  maxPositionEmbeddings: number;
  rmsNormEps: number;
  ropeTheta: number;
  ropeScaling: RopeScaling;
  tieWordEmbeddings: boolean;
  /** q/k/v projections carry biases (Qwen2; Llama with attention_bias). */
  attentionBias: boolean;
  /** o_proj carries a bias (Llama with attention_bias, as transformers' LlamaAttention). */
  outputBias: boolean;
  /**
   * The attention window of each layer (null: full causal attention). A query at position i sees
   * keys j with i − window < j ≤ i (transformers' sliding_window_overlay): Mistral's
   * `sliding_window` on every layer, Qwen2/Qwen3's from `max_window_layers` on (or `layer_types`).
   */
  layerWindows: (number | null)[];
  /**
   * Norms on queries and keys before RoPE: `head` (Qwen3: RMSNorm over each head's head_dim, one
   * gain [head_dim] shared by the heads), `projection` (OLMo 2: RMSNorm over the whole q/k
   * projection, gains [heads·head_dim]), or none.
   */
  qkNorm: 'none' | 'head' | 'projection';
  /**
   * `pre` (Llama): x + f(norm(x)) with input_layernorm / post_attention_layernorm before attention
   * and MLP. `post` (OLMo 2): x + norm(f(x)) with post_attention_layernorm / post_feedforward_layernorm
   * after them, and no norm before.
   */
  normPlacement: 'pre' | 'post' | 'sandwich';
  /**
   * Gemma's RMSNorm scales by (1 + w) instead of w (every norm of the model, q/k norms included).
   * `sandwich` placement (Gemma 2/3): input_layernorm and post_attention_layernorm around attention,
   * pre_feedforward_layernorm and post_feedforward_layernorm around the MLP.
   */
  normGainOffset: 0 | 1;
  /** Gemma: the embeddings are multiplied by √hidden_size (inputs_embeds too). */
  embeddingScale: number | null;
  /** The MLP's activation: SiLU, or GELU with the tanh approximation (Gemma's gelu_pytorch_tanh). */
  activation: 'silu' | 'gelu_tanh';
  /** The factor on q·k: 1/√head_dim, or Gemma's query_pre_attn_scalar^-1/2. */
  attentionScale: number;
  /** Gemma: scores ← cap·tanh(scores/cap) before the mask (attn_logit_softcapping). */
  attentionSoftcap: number | null;
  /** Gemma: logits ← cap·tanh(logits/cap) (final_logit_softcapping). */
  finalSoftcap: number | null;
  /** Gemma 3: the sliding-window layers' RoPE (rope_local_base_freq, unscaled); the others use ropeTheta and ropeScaling. */
  localRope: { theta: number; scaling: RopeScaling } | null;
  /** Per layer: whether RoPE applies (SmolLM3's no_rope_layers: 0 = a NoPE layer). */
  ropeLayers: boolean[];
  /** Granite: the attention and MLP outputs are multiplied by residual_multiplier before the residual add (1 elsewhere). */
  residualMultiplier: number;
  /** Granite: logits are divided by logits_scaling; this is 1/logits_scaling (1 elsewhere). */
  logitScale: number;
  /** The dimensions of each head that RoPE rotates (Phi-3's partial_rotary_factor · head_dim; else head_dim). */
  rotaryDim: number;
  /** Phi-3: q/k/v in one qkv_proj and gate/up in one gate_up_proj (read as row ranges of them). */
  fusedProjections: boolean;
  torchDtype: WeightDtype | null;
  bosTokenId: number | null;
  eosTokenIds: number[];
}

function field(config: Record<string, unknown>, file: string, name: string) {
  const value = config[name];
  return {
    int(options: { min?: number; max?: number; default?: number } = {}): number {
      if (value === undefined || value === null) {
        if (options.default !== undefined) return options.default;
        throw new LensError(`${file}: field '${name}' is missing`, file);
      }
      if (typeof value !== 'number' || !Number.isSafeInteger(value)) {
        throw new LensError(`${file}: field '${name}' must be an integer, got ${JSON.stringify(value)}`, file);
      }
      const min = options.min ?? 1;
      if (value < min) throw new LensError(`${file}: field '${name}' must be ≥ ${min}, got ${value}`, file);
      if (options.max !== undefined && value > options.max) throw new LensError(`${file}: field '${name}' is ${value}, beyond any real model (at most ${options.max})`, file);
      return value;
    },
    number(options: { default?: number; positive?: boolean; range?: [number, number] } = {}): number {
      if (value === undefined || value === null) {
        if (options.default !== undefined) return options.default;
        throw new LensError(`${file}: field '${name}' is missing`, file);
      }
      if (typeof value !== 'number' || !Number.isFinite(value)) {
        throw new LensError(`${file}: field '${name}' must be a finite number, got ${JSON.stringify(value)}`, file);
      }
      if (options.positive && !(value > 0)) throw new LensError(`${file}: field '${name}' must be > 0, got ${value}`, file);
      if (options.range && !(value >= options.range[0] && value <= options.range[1])) {
        throw new LensError(`${file}: field '${name}' is ${value}, outside the range a model can use (${options.range[0]} to ${options.range[1]})`, file);
      }
      return value;
    },
    bool(defaultValue: boolean): boolean {
      if (value === undefined || value === null) return defaultValue;
      if (typeof value !== 'boolean') throw new LensError(`${file}: field '${name}' must be true or false, got ${JSON.stringify(value)}`, file);
      return value;
    },
  };
}

function tokenIds(value: unknown, file: string, name: string): number[] {
  if (value === undefined || value === null) return [];
  const list = Array.isArray(value) ? value : [value];
  if (!list.every((v) => Number.isSafeInteger(v) && v >= 0)) {
    throw new LensError(`${file}: field '${name}' must be a token id or a list of token ids, got ${JSON.stringify(value)}`, file);
  }
  return list as number[];
}

/** What longrope needs from the rest of the config (Phi-3 only). */
interface LongropeContext {
  raw: Record<string, unknown>;
  /** Rotary frequencies: rotary dimensions / 2. */
  frequencies: number;
  maxPositionEmbeddings: number;
}

function parseRopeScaling(value: unknown, file: string, longrope: LongropeContext | null = null): RopeScaling {
  if (value === undefined || value === null) return { type: 'default' };
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw new LensError(`${file}: field 'rope_scaling' must be an object or null`, file);
  }
  const r = value as Record<string, unknown>;
  const kind = r.rope_type ?? r.type;
  const num = (name: string, def?: number) => {
    const v = r[name];
    if (v === undefined && def !== undefined) return def;
    if (typeof v !== 'number' || !(v > 0) || !(v <= LIMITS.ropeFactor * (name === 'original_max_position_embeddings' ? LIMITS.positions : 1))) {
      throw new LensError(`${file}: field 'rope_scaling.${name}' must be a positive number within physical range, got ${JSON.stringify(v)}`, file);
    }
    return v;
  };
  switch (kind) {
    case 'default':
      return { type: 'default' };
    case 'linear':
      return { type: 'linear', factor: num('factor') };
    case 'llama3': {
      const scaling = {
        type: 'llama3' as const,
        factor: num('factor'),
        lowFreqFactor: num('low_freq_factor'),
        highFreqFactor: num('high_freq_factor'),
        originalMaxPositionEmbeddings: num('original_max_position_embeddings'),
      };
      if (scaling.highFreqFactor <= scaling.lowFreqFactor) {
        throw new LensError(`${file}: rope_scaling.high_freq_factor must exceed low_freq_factor`, file);
      }
      return scaling;
    }
    case 'longrope': {
      if (!longrope) throw new LensError(`${file}: rope_scaling type "longrope" is supported for Phi3ForCausalLM only`, file);
      const factors = (name: string) => {
        const v = r[name];
        if (!Array.isArray(v) || v.length !== longrope.frequencies || !v.every((f) => typeof f === 'number' && f > 0 && f <= LIMITS.ropeFactor)) {
          throw new LensError(`${file}: field 'rope_scaling.${name}' must list ${longrope.frequencies} positive factors (one per rotary frequency)`, file);
        }
        return v as number[];
      };
      // transformers: original_max_position_embeddings from the config's top level, the factor max/original.
      const original = field(longrope.raw, file, 'original_max_position_embeddings').int({ default: longrope.maxPositionEmbeddings, max: LIMITS.positions });
      const factor = longrope.maxPositionEmbeddings / original;
      const given = r.attention_factor;
      if (given != null && !(typeof given === 'number' && given > 0 && given < 1e3)) throw new LensError(`${file}: field 'rope_scaling.attention_factor' must be a positive number`, file);
      const attentionFactor = typeof given === 'number' ? given : factor <= 1 ? 1 : Math.sqrt(1 + Math.log(factor) / Math.log(original));
      return { type: 'longrope', shortFactor: factors('short_factor'), longFactor: factors('long_factor'), originalMaxPositionEmbeddings: original, attentionFactor };
    }
    default:
      throw new LensError(`${file}: rope_scaling type ${JSON.stringify(kind)} is not supported (supported: default, linear, llama3; longrope for Phi-3)`, file);
  }
}

/**
 * Bounds on sizes and numbers, far beyond any real model: a config outside them is refused by field
 * before anything is allocated for it (a `num_hidden_layers` of 1e9 would otherwise build a map of
 * 1e10 expected tensors).
 */
const LIMITS = {
  layers: 10_000,
  heads: 16_384,
  size: 1 << 20,
  intermediate: 1 << 22,
  vocab: 1 << 24,
  positions: 1 << 30,
  ropeTheta: [1, 1e12] as [number, number],
  rmsNormEps: [1e-30, 1] as [number, number],
  ropeFactor: 1e6,
};

const TORCH_DTYPES: Record<string, WeightDtype> = { float32: 'F32', float16: 'F16', bfloat16: 'BF16' };

/** Validates a parsed config.json. Unsupported architectures and features are refused by name. */
export function parseModelConfig(raw: Record<string, unknown>, file: string): ModelConfig {
  const architectures = raw.architectures;
  const architecture = Array.isArray(architectures) ? architectures[0] : undefined;
  if (typeof architecture !== 'string') {
    throw new LensError(`${file}: field 'architectures' is missing; expected one of ${SUPPORTED_ARCHITECTURES.join(', ')}`, file);
  }
  if ((PLANNED_ARCHITECTURES as readonly string[]).includes(architecture)) {
    throw new LensError(`${file}: architecture ${architecture} is not supported yet (its modelling rules are not implemented; supported: ${SUPPORTED_ARCHITECTURES.join(', ')})`, file);
  }
  if (!(SUPPORTED_ARCHITECTURES as readonly string[]).includes(architecture)) {
    throw new LensError(`${file}: architecture ${architecture} is not supported (supported: ${SUPPORTED_ARCHITECTURES.join(', ')})`, file);
  }
  const gemma = architecture === 'Gemma2ForCausalLM' || architecture === 'Gemma3ForCausalLM';
  // Gemma's MLP reads hidden_activation (hidden_act is a legacy field its config also carries).
  const activationField = gemma && raw.hidden_activation != null ? 'hidden_activation' : 'hidden_act';
  const hiddenAct = raw[activationField] ?? (gemma ? 'gelu_pytorch_tanh' : 'silu');
  const activation = hiddenAct === 'silu' ? 'silu' : gemma && (hiddenAct === 'gelu_pytorch_tanh' || hiddenAct === 'gelu') ? 'gelu_tanh' : null;
  if (activation === null) throw new LensError(`${file}: ${activationField} ${JSON.stringify(hiddenAct)} is not supported (${gemma ? 'gelu_pytorch_tanh or silu' : 'only silu'})`, file);
  if (gemma && raw.use_bidirectional_attention === true) throw new LensError(`${file}: field 'use_bidirectional_attention' is not supported (causal language models only)`, file);
  const get = (name: string) => field(raw, file, name);
  const hiddenSize = get('hidden_size').int({ max: LIMITS.size });
  const numHeads = get('num_attention_heads').int({ max: LIMITS.heads });
  const numKvHeads = get('num_key_value_heads').int({ default: numHeads, max: LIMITS.heads });
  if (numHeads % numKvHeads !== 0) {
    throw new LensError(`${file}: num_attention_heads (${numHeads}) is not a multiple of num_key_value_heads (${numKvHeads})`, file);
  }
  const explicitHeadDim = raw.head_dim;
  if ((explicitHeadDim === undefined || explicitHeadDim === null) && architecture !== 'Qwen3ForCausalLM' && !gemma && hiddenSize % numHeads !== 0) {
    throw new LensError(`${file}: hidden_size (${hiddenSize}) is not a multiple of num_attention_heads (${numHeads}) and no head_dim is given`, file);
  }
  // Qwen3Config's head_dim defaults to 128, Gemma's to 256, not hidden/heads.
  const headDim = get('head_dim').int({ default: architecture === 'Qwen3ForCausalLM' ? 128 : gemma ? 256 : hiddenSize / numHeads, max: LIMITS.size });
  if (headDim % 2 !== 0) throw new LensError(`${file}: head_dim must be even for rotary embeddings, got ${headDim}`, file);
  if (raw.mlp_bias === true) throw new LensError(`${file}: mlp_bias is not supported`, file);
  if (raw.clip_qkv !== undefined && raw.clip_qkv !== null) throw new LensError(`${file}: field 'clip_qkv' is not supported (clipping of q/k/v)`, file);
  const pretrainingTp = raw.pretraining_tp;
  if (pretrainingTp !== undefined && pretrainingTp !== null && pretrainingTp !== 1) {
    // transformers computes the same product in slices then; only rounding differs, but say so.
    throw new LensError(`${file}: field 'pretraining_tp' is ${JSON.stringify(pretrainingTp)}; only 1 is supported`, file);
  }
  const numLayers = get('num_hidden_layers').int({ max: LIMITS.layers });
  const layerWindows = parseLayerWindows(raw, architecture, numLayers, file);
  const maxPositionEmbeddings = get('max_position_embeddings').int({ default: 2048, max: LIMITS.positions });
  // Llama, Qwen3 and OLMo 2 put attention_bias on q/k/v and o_proj alike; Qwen2 has q/k/v biases always.
  const allBias = architecture === 'Qwen2ForCausalLM' || architecture === 'MistralForCausalLM' ? false : get('attention_bias').bool(false);
  const softcap = (name: string) => (gemma && raw[name] != null ? get(name).number({ positive: true, range: [1e-3, 1e6] }) : null);
  if (!gemma) for (const name of ['attn_logit_softcapping', 'final_logit_softcapping', 'query_pre_attn_scalar', 'rope_local_base_freq']) {
    if (raw[name] != null) throw new LensError(`${file}: field '${name}' is not part of ${architecture} and is not supported`, file);
  }
  const queryPreAttnScalar = gemma ? get('query_pre_attn_scalar').number({ default: headDim, positive: true, range: [1e-6, 1e9] }) : headDim;
  const granite = architecture === 'GraniteForCausalLM';
  const multiplier = (name: string) => (granite ? get(name).number({ default: 1, positive: true, range: [1e-9, 1e9] }) : 1);
  if (!granite) for (const name of ['embedding_multiplier', 'attention_multiplier', 'residual_multiplier', 'logits_scaling']) {
    if (raw[name] != null) throw new LensError(`${file}: field '${name}' is not part of ${architecture} and is not supported`, file);
  }
  const ropeLayers = parseRopeLayers(raw, architecture, numLayers, file);
  const phi3 = architecture === 'Phi3ForCausalLM';
  if (!phi3 && raw.partial_rotary_factor != null) throw new LensError(`${file}: field 'partial_rotary_factor' is not part of ${architecture} and is not supported`, file);
  const partial = phi3 ? get('partial_rotary_factor').number({ default: 1, positive: true, range: [1e-6, 1] }) : 1;
  const rotaryDim = Math.floor(headDim * partial);
  if (rotaryDim % 2 !== 0 || rotaryDim === 0) throw new LensError(`${file}: partial_rotary_factor ${partial} gives ${rotaryDim} rotary dimensions of head_dim ${headDim}; RoPE needs an even, non-zero count`, file);
  const ropeTheta = get('rope_theta').number({ default: architecture === 'Gemma3ForCausalLM' ? 1_000_000 : 10000, positive: true, range: LIMITS.ropeTheta });
  const localRope = architecture === 'Gemma3ForCausalLM' ? { theta: get('rope_local_base_freq').number({ default: 10000, positive: true, range: LIMITS.ropeTheta }), scaling: { type: 'default' as const } } : null;
  const torchDtype = typeof raw.torch_dtype === 'string' ? (TORCH_DTYPES[raw.torch_dtype] ?? null) : null;
  return {
    architecture: architecture as Architecture,
    hiddenSize,
    intermediateSize: get('intermediate_size').int({ max: LIMITS.intermediate }),
    numLayers,
    numHeads,
    numKvHeads,
    headDim,
    vocabSize: get('vocab_size').int({ max: LIMITS.vocab }),
    maxPositionEmbeddings,
    rmsNormEps: get('rms_norm_eps').number({ default: 1e-6, positive: true, range: LIMITS.rmsNormEps }),
    ropeTheta,
    ropeScaling: parseRopeScaling(raw.rope_scaling, file, phi3 ? { raw, frequencies: rotaryDim / 2, maxPositionEmbeddings } : null),
    tieWordEmbeddings: get('tie_word_embeddings').bool(gemma),
    attentionBias: architecture === 'Qwen2ForCausalLM' ? true : allBias,
    outputBias: allBias,
    layerWindows,
    qkNorm: architecture === 'Qwen3ForCausalLM' || architecture === 'Gemma3ForCausalLM' ? 'head' : architecture === 'Olmo2ForCausalLM' ? 'projection' : 'none',
    normPlacement: architecture === 'Olmo2ForCausalLM' ? 'post' : gemma ? 'sandwich' : 'pre',
    normGainOffset: gemma ? 1 : 0,
    embeddingScale: gemma ? Math.sqrt(hiddenSize) : granite ? multiplier('embedding_multiplier') : null,
    activation,
    attentionScale: granite ? multiplier('attention_multiplier') : 1 / Math.sqrt(queryPreAttnScalar),
    attentionSoftcap: softcap('attn_logit_softcapping'),
    finalSoftcap: softcap('final_logit_softcapping'),
    localRope,
    ropeLayers,
    residualMultiplier: multiplier('residual_multiplier'),
    logitScale: 1 / multiplier('logits_scaling'),
    rotaryDim,
    fusedProjections: phi3,
    torchDtype,
    bosTokenId: tokenIds(raw.bos_token_id, file, 'bos_token_id')[0] ?? null,
    eosTokenIds: tokenIds(raw.eos_token_id, file, 'eos_token_id'),
  };
}

/**
 * Each layer's attention window, from the fields transformers reads: Mistral's `sliding_window`
 * (every layer); Qwen2/Qwen3's `sliding_window` when `use_sliding_window`, on the layers from
 * `max_window_layers` on; an explicit `layer_types` list decides per layer when given.
 */
function parseLayerWindows(raw: Record<string, unknown>, architecture: string, numLayers: number, file: string): (number | null)[] {
  const window = () => field(raw, file, 'sliding_window').int({ max: LIMITS.positions });
  const none = Array.from({ length: numLayers }, () => null);
  let windows: (number | null)[];
  if (architecture === 'MistralForCausalLM' || architecture === 'Phi3ForCausalLM') {
    windows = raw.sliding_window == null ? none : Array.from({ length: numLayers }, window);
  } else if (architecture === 'Qwen2ForCausalLM' || architecture === 'Qwen3ForCausalLM' || architecture === 'SmolLM3ForCausalLM') {
    if (raw.use_sliding_window !== true || raw.sliding_window == null) windows = none;
    else {
      const from = field(raw, file, 'max_window_layers').int({ min: 0, default: numLayers, max: LIMITS.layers });
      const w = window();
      windows = Array.from({ length: numLayers }, (_, l) => (l >= from ? w : null));
    }
  } else if (architecture === 'Gemma2ForCausalLM') {
    // Gemma 2 alternates: even layers sliding, odd layers global.
    windows = raw.sliding_window == null ? none : Array.from({ length: numLayers }, (_, l) => (l % 2 === 0 ? window() : null));
  } else if (architecture === 'Gemma3ForCausalLM') {
    // Gemma 3: every sliding_window_pattern-th layer global, the others sliding.
    const pattern = field(raw, file, 'sliding_window_pattern').int({ default: 6, max: LIMITS.layers });
    windows = raw.sliding_window == null ? none : Array.from({ length: numLayers }, (_, l) => ((l + 1) % pattern !== 0 ? window() : null));
  } else {
    if (raw.sliding_window != null) throw new LensError(`${file}: field 'sliding_window' is not part of ${architecture}'s attention and is not supported`, file);
    windows = none;
  }
  const types = raw.layer_types;
  if (types !== undefined && types !== null) {
    if (!Array.isArray(types) || types.length !== numLayers || !types.every((t) => t === 'full_attention' || t === 'sliding_attention')) {
      throw new LensError(`${file}: field 'layer_types' must list 'full_attention' or 'sliding_attention' for each of the ${numLayers} layers`, file);
    }
    windows = types.map((t) => (t === 'sliding_attention' ? window() : null));
  }
  return windows;
}

/** SmolLM3's `no_rope_layers` (1: RoPE, 0: none), else every `no_rope_layer_interval`-th layer (default 4) without. */
function parseRopeLayers(raw: Record<string, unknown>, architecture: string, numLayers: number, file: string): boolean[] {
  if (architecture !== 'SmolLM3ForCausalLM') {
    for (const name of ['no_rope_layers', 'no_rope_layer_interval']) {
      if (raw[name] != null) throw new LensError(`${file}: field '${name}' is not part of ${architecture} and is not supported`, file);
    }
    return Array.from({ length: numLayers }, () => true);
  }
  const list = raw.no_rope_layers;
  if (list != null) {
    if (!Array.isArray(list) || list.length !== numLayers || !list.every((v) => v === 0 || v === 1)) {
      throw new LensError(`${file}: field 'no_rope_layers' must list 0 or 1 for each of the ${numLayers} layers`, file);
    }
    return list.map((v) => v === 1);
  }
  const interval = field(raw, file, 'no_rope_layer_interval').int({ default: 4, max: LIMITS.layers });
  return Array.from({ length: numLayers }, (_, l) => (l + 1) % interval !== 0);
}

/**
 * The longest sequence the model can be run on. Sliding windows are masked exactly, so they do
 * not limit it.
 */
export function contextLength(config: ModelConfig): number {
  return config.maxPositionEmbeddings;
}

/** Whether any layer attends through a sliding window (the graph then takes a second mask). */
export function hasSlidingWindow(config: Pick<ModelConfig, 'layerWindows'>): boolean {
  return config.layerWindows.some((w) => w !== null);
}

/** One line per computation-changing trait of the family, for `info`. */
export function familyTraits(config: ModelConfig): string[] {
  const traits: string[] = [];
  if (config.qkNorm === 'head') traits.push('RMSNorm on each query/key head before RoPE (q_norm, k_norm)');
  if (config.qkNorm === 'projection') traits.push('RMSNorm on the whole query/key projections (q_norm, k_norm)');
  if (config.normPlacement === 'post') traits.push('norms after attention and MLP (post_attention_layernorm, post_feedforward_layernorm), none before');
  if (config.normPlacement === 'sandwich') traits.push('norms before and after attention and MLP (input, post_attention, pre_feedforward, post_feedforward)');
  if (config.normGainOffset === 1) traits.push('RMSNorm scales by (1 + weight)');
  if (config.embeddingScale !== null) traits.push(`embeddings × √hidden_size (${config.embeddingScale.toPrecision(6)})`);
  if (config.activation === 'gelu_tanh') traits.push('GELU (tanh approximation) gated MLP');
  if (Math.abs(config.attentionScale * Math.sqrt(config.headDim) - 1) > 1e-12) traits.push(`attention scale ${config.attentionScale.toPrecision(6)} (query_pre_attn_scalar)`);
  if (config.attentionSoftcap !== null) traits.push(`attention logits soft-capped at ${config.attentionSoftcap}`);
  if (config.finalSoftcap !== null) traits.push(`final logits soft-capped at ${config.finalSoftcap}`);
  const nope = config.ropeLayers.filter((r) => !r).length;
  if (nope > 0) traits.push(`no RoPE on ${nope} of ${config.numLayers} layers (no_rope_layers)`);
  if (config.architecture === 'GraniteForCausalLM') {
    traits.push(`multipliers: embedding ${config.embeddingScale}, attention ${config.attentionScale}, residual ${config.residualMultiplier}, logits ÷ ${1 / config.logitScale}`);
  }
  if (config.fusedProjections) traits.push('fused qkv_proj and gate_up_proj (read as row ranges, not copied)');
  if (config.rotaryDim !== config.headDim) traits.push(`RoPE on ${config.rotaryDim} of ${config.headDim} head dimensions (partial_rotary_factor)`);
  if (config.ropeScaling.type === 'longrope') traits.push(`longrope: short factors up to ${config.ropeScaling.originalMaxPositionEmbeddings} tokens, long factors beyond; attention factor ${config.ropeScaling.attentionFactor.toPrecision(6)}`);
  if (config.localRope) traits.push(`RoPE base ${config.localRope.theta} on sliding layers, ${config.ropeTheta} (${config.ropeScaling.type}) on global layers`);
  const windows = config.layerWindows.filter((w) => w !== null);
  if (windows.length > 0) traits.push(`sliding-window attention (${windows[0]} tokens) on ${windows.length} of ${config.numLayers} layers, masked exactly`);
  if (config.attentionBias) traits.push(config.outputBias ? 'q/k/v/o biases' : 'q/k/v biases');
  return traits;
}

/** The weights a checkpoint must hold for this config, with their shapes. */
export function expectedTensors(config: ModelConfig): Map<string, number[]> {
  const { hiddenSize: h, intermediateSize: i, numHeads, numKvHeads, headDim: d, vocabSize: v } = config;
  const shapes = new Map<string, number[]>();
  shapes.set('model.embed_tokens.weight', [v, h]);
  for (let l = 0; l < config.numLayers; l++) {
    const p = `model.layers.${l}.`;
    if (config.normPlacement !== 'post') shapes.set(`${p}input_layernorm.weight`, [h]);
    if (config.normPlacement === 'sandwich') shapes.set(`${p}pre_feedforward_layernorm.weight`, [h]);
    shapes.set(`${p}self_attn.q_proj.weight`, [numHeads * d, h]);
    shapes.set(`${p}self_attn.k_proj.weight`, [numKvHeads * d, h]);
    shapes.set(`${p}self_attn.v_proj.weight`, [numKvHeads * d, h]);
    if (config.attentionBias) {
      shapes.set(`${p}self_attn.q_proj.bias`, [numHeads * d]);
      shapes.set(`${p}self_attn.k_proj.bias`, [numKvHeads * d]);
      shapes.set(`${p}self_attn.v_proj.bias`, [numKvHeads * d]);
    }
    shapes.set(`${p}self_attn.o_proj.weight`, [h, numHeads * d]);
    if (config.outputBias) shapes.set(`${p}self_attn.o_proj.bias`, [h]);
    shapes.set(`${p}post_attention_layernorm.weight`, [h]);
    if (config.normPlacement !== 'pre') shapes.set(`${p}post_feedforward_layernorm.weight`, [h]);
    if (config.qkNorm === 'head') {
      shapes.set(`${p}self_attn.q_norm.weight`, [d]);
      shapes.set(`${p}self_attn.k_norm.weight`, [d]);
    } else if (config.qkNorm === 'projection') {
      shapes.set(`${p}self_attn.q_norm.weight`, [numHeads * d]);
      shapes.set(`${p}self_attn.k_norm.weight`, [numKvHeads * d]);
    }
    shapes.set(`${p}mlp.gate_proj.weight`, [i, h]);
    shapes.set(`${p}mlp.up_proj.weight`, [i, h]);
    shapes.set(`${p}mlp.down_proj.weight`, [h, i]);
  }
  shapes.set('model.norm.weight', [h]);
  if (!config.tieWordEmbeddings) shapes.set('lm_head.weight', [v, h]);
  return shapes;
}
