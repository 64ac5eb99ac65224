import type { Checkpoint } from '../model/checkpoint.js';
import { differentiate, linearize } from '../onnx/autodiff.js';
import { checkpointedRecompute, weightReconversion } from '../onnx/remat.js';
import { int, type Graph } from '../onnx/graph.js';
import { buildLlamaGraphParts, finalLogits, type LmHead } from './llama-graph.js';

export type Objective = 'prob' | 'logprob';

/** The float16 backward's seed scale: 2^S keeps cotangents of O(1e-7) normal and O(1) far below 65504. */
export const FLOAT16_SEED_SCALE = 2 ** 12;

/** Names of the attribution graph's own inputs and outputs (besides input_ids and the RoPE/mask inputs). */
export const gradientNames = {
  /** int64 [R]: the position whose logits predict each response token (t_j − 1). */
  targetPositions: 'target_positions',
  /** int64 [R]: the response token ids y_j. */
  targetIds: 'target_ids',
  /** float32 [R, S]: one-hot of targetPositions, where each objective's seed enters. */
  seedMask: 'seed_mask',
  /** float32 [R, S]: raw[j][i] = Σ_d ∂o_j/∂E[i,d] · E[i,d] (gradient × input) for every position i. */
  raw: 'raw_attribution',
  /** float32 [R, 1]: p(y_j) at its position. */
  probabilities: 'target_probabilities',
  /** Forward mode: float32 [T, S], one-hot of the position whose embedding each tangent scales. */
  tangentMask: 'tangent_mask',
  /** Forward mode: float32 [T, R]: raw[i][j] for the T tangents' positions i and every response token j. */
  rawForward: 'raw_attribution_forward',
};

/**
 * What both modes need from the head, for the objectives at `positions` with ids `ids`: p(y_j)
 * [R, 1] and ∂ log p(y_j)/∂h [R, H] = W[y_j] − Σ_v p_v W[v].
 */
function objectiveParts(g: Graph, checkpoint: Checkpoint, finalHidden: string, head: LmHead, positions: string, ids: string): { targetProb: string; seedVector: string } {
  const hidden = g.node('Gather', [finalHidden, positions], { axis: int(0) }); // [R, H]
  const z = head.logits(hidden); // [R, V]
  // logits = f(z), f = Granite's z·s and/or Gemma's c·tanh(z/c): ∂ log p(y)/∂h = Σ_v (δ_vy − p_v)·f'_v·W[v],
  // with f'_v = s·(1 − (logits_v/c)²), still from [R, V] and [R, H] values only.
  const { finalSoftcap: cap, logitScale } = checkpoint.config;
  const logits = finalLogits(g, checkpoint.config, z);
  const probs = g.node('Softmax', [logits], { axis: int(-1) });
  const column = g.node('Unsqueeze', [ids, g.ints1d([-1])]); // [R, 1]
  const targetProb = g.node('GatherElements', [probs, column], { axis: int(1) }); // [R, 1]
  const capSlope = cap === null ? null : g.node('Sub', [g.scalar(1), g.node('Mul', [g.node('Mul', [logits, logits]), g.scalar(1 / (cap * cap))])]); // [R, V]
  const slope = capSlope === null ? null : logitScale === 1 ? capSlope : g.node('Mul', [capSlope, g.scalar(logitScale)]);
  const targetRows = slope === null ? head.rows(ids) : g.node('Mul', [head.rows(ids), g.node('GatherElements', [slope, column], { axis: int(1) })]); // [R, H]
  const expectedRow = head.weightedRows(slope === null ? probs : g.node('Mul', [probs, slope])); // [R, H]
  const difference = g.node('Sub', [targetRows, expectedRow]);
  // A constant slope (Granite's scale alone) applies once, to the difference.
  const seedVector = slope === null && logitScale !== 1 ? g.node('Mul', [difference, g.scalar(logitScale)]) : difference; // ∂ log p(y_j) / ∂h
  return { targetProb, seedVector };
}

/**
 * The input→output attribution graph: one forward over prompt + response, then R cotangents
 * carried back through it together (a leading batch axis), giving gradient × input for every
 * response-token objective in one run.
 *
 * The seed is sparse and never touches an [R, S, V] tensor: for o_j = p(y_j | h) with
 * logits = W h, ∂ log o_j/∂h = W[y_j] − Σ_v p_v W[v], an [R, H] quantity computed from the R
 * selected rows of logits ([R, V]); it enters at one position per objective ([R, S, H]).
 * For o_j = p(y_j) the log-gradient is multiplied by p(y_j) (∂p = p ∂log p).
 */
export function buildGradientGraph(checkpoint: Checkpoint, objective: Objective, options: { weightGradients?: boolean; compute?: 'float32' | 'float16'; headBlockBytes?: number } = {}): Graph {
  const { graph: g, finalHidden, head, residual, tokenScale } = buildLlamaGraphParts(checkpoint, {
    input: 'ids',
    kvCache: false,
    logits: 'none',
    attentions: false,
    ffn: false,
    compute: options.compute,
    headBlockBytes: options.headBlockBytes,
    tokenScale: true,
  });
  const positions = g.input(gradientNames.targetPositions, 'int64', ['responses']);
  const ids = g.input(gradientNames.targetIds, 'int64', ['responses']);
  const seedMask = g.input(gradientNames.seedMask, 'float32', ['responses', 'sequence']);

  const { targetProb, seedVector } = objectiveParts(g, checkpoint, finalHidden, head, positions, ids);
  // The backward carries ∂ log p(y_j); for o_j = p(y_j) the result is multiplied by p(y_j) in
  // float32 at the end (∂p = p·∂log p). Seeded with p·∂log p instead, the cotangents of a small
  // probability underflow in float16.
  // In float16 the cotangents of a small model's early layers fall below float16's normal range
  // (6e-5) and lose their digits (measured on the demo pair: 39 % error in raw without scaling).
  // The backward is linear in the seed: scale it by a power of two, exact in both types, and
  // divide the result in float32 ("loss scaling").
  const seedScale = options.compute === 'float16' ? FLOAT16_SEED_SCALE : 1;
  const seed = g.node('Mul', [
    g.node('Unsqueeze', [seedScale === 1 ? seedMask : g.node('Mul', [seedMask, g.scalar(seedScale)]), g.ints1d([-1])]), // [R, S, 1]
    g.node('Unsqueeze', [seedVector, g.ints1d([1])]), // [R, 1, H]
  ]); // [R, S, H]

  // Weight gradients are the paper's way (a full backward per response token); we only build them
  // for the benchmark that compares against it. Each is reduced to a scalar so that it is computed
  // but not copied out. The embedding table and LM head are left out: the seed enters below the
  // head, and the table's gradient is a scatter of the embeddings' gradient we compute anyway.
  const weights = options.weightGradients
    ? g.initializers.filter((t) => 'location' in t && !t.name.startsWith('model.embed_tokens.weight') && !t.name.startsWith('lm_head.weight')).map((t) => t.name)
    : [];
  // The derivative in the embeddings' scale s = 1 + α is raw itself, Σ_d ∂o_j/∂E[i,d]·E[i,d]; taken
  // as the gradient of E projected on E, it is made of the norms' cancellations (LlamaGraphParts.tokenScale).
  const gradients = differentiate(g, {
    seeds: [[finalHidden, seed]],
    wrt: [tokenScale!, ...weights],
    batch: 1,
    recompute: checkpointedRecompute(g, residual),
  });
  weights.forEach((w, i) => {
    const grad = gradients.get(w);
    if (grad) g.output(g.node('ReduceSum', [grad], { keepdims: int(0) }), `weight_grad_sum_${i}`);
  });
  let rawLogProb = g.node('Squeeze', [gradients.get(tokenScale!)!, g.ints1d([-1])]); // [R, S]
  if (seedScale !== 1) rawLogProb = g.node('Mul', [rawLogProb, g.scalar(1 / seedScale)]);
  g.output(objective === 'prob' ? g.node('Mul', [rawLogProb, targetProb]) : rawLogProb, gradientNames.raw);
  g.output(targetProb, gradientNames.probabilities);
  return g;
}

/**
 * The same attribution in forward mode: one forward carrying T tangents together (a leading batch
 * axis), tangent t being d/dα of the whole computation when position i_t's embedding is scaled by
 * (1 + α) — E[i_t] at position i_t, zero elsewhere — so that each gives raw[i_t][j] =
 * Σ_d ∂o_j/∂E[i_t,d]·E[i_t,d] for every response token j at once: [T, R] from one run, where
 * reverse mode needs one cotangent per response token. Cost grows with the prompt instead of the
 * response. Float32 only (the runner's attribution graphs are float32 on every provider).
 *
 * The tangents reach the head as ∂h/∂α [T, S, H]; at the objectives' positions their product with
 * ∂ log p(y_j)/∂h (the reverse mode's seed vector, from the same blocked head) is ∂ log p(y_j)/∂α.
 */
export function buildForwardGradientGraph(checkpoint: Checkpoint, objective: Objective, options: { headBlockBytes?: number } = {}): Graph {
  const { graph: g, finalHidden, head, residual, tokenScale } = buildLlamaGraphParts(checkpoint, {
    input: 'ids',
    kvCache: false,
    logits: 'none',
    attentions: false,
    ffn: false,
    compute: 'float32',
    headBlockBytes: options.headBlockBytes,
    tokenScale: true,
  });
  const positions = g.input(gradientNames.targetPositions, 'int64', ['responses']);
  const ids = g.input(gradientNames.targetIds, 'int64', ['responses']);
  const mask = g.input(gradientNames.tangentMask, 'float32', ['tangents', 'sequence']);
  const reconvert = weightReconversion(g);
  // The tangent of the scale s = 1 + α of position i_t's embedding (LlamaGraphParts.tokenScale).
  const tangent = g.node('Unsqueeze', [mask, g.ints1d([-1])]); // [T, S, 1]
  const tangents = linearize(g, { tangents: [[tokenScale!, tangent]], batch: 1, reread: reconvert, sync: residual });
  const hiddenTangent = tangents.get(finalHidden)!; // [T, S, H]
  const { targetProb, seedVector } = objectiveParts(g, checkpoint, finalHidden, head, positions, ids);
  const atTargets = g.node('Gather', [hiddenTangent, positions], { axis: int(1) }); // [T, R, H]
  const rawLogProb = g.node('ReduceSum', [g.node('Mul', [atTargets, seedVector]), g.ints1d([-1])], { keepdims: int(0) }); // [T, R]
  const row = g.node('Reshape', [targetProb, g.ints1d([1, -1])]); // [1, R]
  g.output(objective === 'prob' ? g.node('Mul', [rawLogProb, row]) : rawLogProb, gradientNames.rawForward);
  g.output(targetProb, gradientNames.probabilities);
  g.pruneDead();
  return g;
}
