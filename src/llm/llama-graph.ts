import type { Checkpoint } from '../model/checkpoint.js';
import { Graph, int, ints } from '../onnx/graph.js';
import { externalWeight } from './weights.js';

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
}

/** Graph input/output names, shared by the builder and the code that feeds and reads the sessions. */
export const names = {
  inputIds: 'input_ids',
  inputsEmbeds: 'inputs_embeds',
  ropeCos: 'rope_cos',
  ropeSin: 'rope_sin',
  attentionBias: 'attention_bias',
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

/** The graph and the values inside it that other graphs (gradients, probes) build on. */
export interface LlamaGraphParts {
  graph: Graph;
  /** The input embeddings [S, H] (float32), looked up or given. */
  embeds: string;
  /** The final normed hidden states [S, H], the input of the LM head. */
  finalHidden: string;
  /** The LM head weight [V, H] as float32 (lm_head, or the embedding table when tied). */
  headWeight: string;
}

export function buildLlamaGraphParts(checkpoint: Checkpoint, options: LlamaGraphOptions): LlamaGraphParts {
  const { config } = checkpoint;
  const { hiddenSize: H, numHeads: nH, numKvHeads: nKV, headDim: d, vocabSize: V } = config;
  const group = nH / nKV;
  const g = new Graph('llama');
  const rawWeights = new Map<string, string>();
  const castWeights = new Map<string, string>();

  /** The weight as stored: an external initializer pointing into its .safetensors file (or a graph input). */
  const rawWeight = (name: string): string => {
    let value = rawWeights.get(name);
    if (!value) {
      value = options.weights === 'inputs' ? g.input(name, 'float32', checkpoint.tensors.get(name)!.shape) : externalWeight(g, checkpoint, name);
      rawWeights.set(name, value);
    }
    return value;
  };
  /** The weight as float32 (a Cast for F16/BF16, which onnxruntime folds once at session creation). */
  const weight = (name: string): string => {
    if (checkpoint.tensors.get(name)!.dtype === 'F32' || options.weights === 'inputs') return rawWeight(name);
    let value = castWeights.get(name);
    if (!value) castWeights.set(name, (value = g.node('Cast', [rawWeight(name)], { to: int(1) })));
    return value;
  };
  const linear = (x: string, prefix: string, bias: boolean) =>
    g.node('Gemm', bias ? [x, weight(`${prefix}.weight`), weight(`${prefix}.bias`)] : [x, weight(`${prefix}.weight`)], { transB: int(1) });
  const eps = g.scalar(config.rmsNormEps);
  const rmsNorm = (x: string, weightName: string) => {
    const meanSquare = g.node('ReduceMean', [g.node('Mul', [x, x])], { axes: ints([-1]), keepdims: int(1) });
    const inverse = g.node('Reciprocal', [g.node('Sqrt', [g.node('Add', [meanSquare, eps])])]);
    return g.node('Mul', [g.node('Mul', [x, inverse]), weight(weightName)]);
  };

  // --- inputs
  let x: string;
  if (options.input === 'ids') {
    const ids = g.input(names.inputIds, 'int64', ['sequence']);
    // Gather before casting: only the looked-up rows are converted, not the whole table.
    const rows = g.node('Gather', [rawWeight('model.embed_tokens.weight'), ids], { axis: int(0) });
    x = checkpoint.tensors.get('model.embed_tokens.weight')!.dtype === 'F32' || options.weights === 'inputs' ? rows : g.node('Cast', [rows], { to: int(1) });
  } else {
    x = g.input(names.inputsEmbeds, 'float32', ['sequence', H]);
  }
  const embeds = x;
  const cos = g.input(names.ropeCos, 'float32', ['sequence', d]);
  const sin = g.input(names.ropeSin, 'float32', ['sequence', d]);
  const bias = g.input(names.attentionBias, 'float32', ['sequence', 'total']);

  // rotate_half(x) = concat(-x[d/2:], x[:d/2]) as a product with a fixed signed permutation:
  // one MatMul, which keeps the op set small for differentiation.
  const rotation = new Float32Array(d * d);
  for (let i = 0; i < d / 2; i++) {
    rotation[(i + d / 2) * d + i] = -1; // out[i] = -x[i + d/2]
    rotation[i * d + i + d / 2] = 1; // out[i + d/2] = x[i]
  }
  const rotate = g.constant('float32', [d, d], rotation, 'rotate_half');
  const applyRope = (t: string) => g.node('Add', [g.node('Mul', [t, cos]), g.node('Mul', [g.node('MatMul', [t, rotate]), sin])]);
  const toHeads = (t: string, heads: number) => g.node('Transpose', [g.node('Reshape', [t, g.ints1d([-1, heads, d])])], { perm: ints([1, 0, 2]) });
  const expandGroups = (t: string) =>
    group === 1
      ? t
      : g.node('Reshape', [g.node('Expand', [g.node('Reshape', [t, g.ints1d([nKV, 1, -1, d])]), g.ints1d([nKV, group, 1, 1])]), g.ints1d([nH, -1, d])]);
  const scale = g.scalar(1 / Math.sqrt(d));

  for (let l = 0; l < config.numLayers; l++) {
    const p = `model.layers.${l}.`;
    const normed = rmsNorm(x, `${p}input_layernorm.weight`);
    const q = applyRope(toHeads(linear(normed, `${p}self_attn.q_proj`, config.attentionBias), nH));
    let k = applyRope(toHeads(linear(normed, `${p}self_attn.k_proj`, config.attentionBias), nKV));
    let v = toHeads(linear(normed, `${p}self_attn.v_proj`, config.attentionBias), nKV);
    if (options.kvCache) {
      k = g.node('Concat', [g.input(names.pastKey(l), 'float32', [nKV, 'past', d]), k], { axis: int(1) });
      v = g.node('Concat', [g.input(names.pastValue(l), 'float32', [nKV, 'past', d]), v], { axis: int(1) });
      g.output(k, names.presentKey(l));
      g.output(v, names.presentValue(l));
    }
    const keysT = g.node('Transpose', [expandGroups(k)], { perm: ints([0, 2, 1]) });
    const scores = g.node('Add', [g.node('Mul', [g.node('MatMul', [q, keysT]), scale]), bias]);
    const probs = g.node('Softmax', [scores], { axis: int(-1) });
    if (options.attentions) g.output(probs, names.attnProbs(l));
    const context = g.node('Reshape', [g.node('Transpose', [g.node('MatMul', [probs, expandGroups(v)])], { perm: ints([1, 0, 2]) }), g.ints1d([-1, nH * d])]);
    const attended = g.node('Add', [x, linear(context, `${p}self_attn.o_proj`, config.outputBias)]);
    const normed2 = rmsNorm(attended, `${p}post_attention_layernorm.weight`);
    const gate = linear(normed2, `${p}mlp.gate_proj`, false);
    const up = linear(normed2, `${p}mlp.up_proj`, false);
    const activated = g.node('Mul', [g.node('Mul', [gate, g.node('Sigmoid', [gate])]), up]);
    const down = linear(activated, `${p}mlp.down_proj`, false);
    if (options.ffn) g.output(down, names.ffnOut(l));
    x = g.node('Add', [attended, down]);
  }

  const finalHidden = rmsNorm(x, 'model.norm.weight');
  const head = config.tieWordEmbeddings ? 'model.embed_tokens.weight' : 'lm_head.weight';
  const headWeight = weight(head);
  if (options.logits === 'none') return { graph: g, embeds, finalHidden, headWeight };
  let final = finalHidden;
  if (options.logits === 'last') {
    final = g.node('Slice', [final, g.ints1d([-1]), g.ints1d([Number.MAX_SAFE_INTEGER]), g.ints1d([0])]);
  }
  g.output(g.node('Gemm', [final, headWeight], { transB: int(1) }), names.logits);
  return { graph: g, embeds, finalHidden, headWeight };
}
