// The training graph: the Llama forward with every weight a graph input, a masked cross-entropy
// loss on all positions' logits, and the loss's gradient with respect to every weight, derived by
// our own reverse-mode differentiation (src/onnx/autodiff.ts).
//
// The loss seed is built in the graph, not differentiated: for L = −Σ_t w_t · log softmax(z_t)[y_t]
// (w_t = loss mask / count), ∂L/∂z_t = w_t · (softmax(z_t) − onehot(y_t)). The one-hot targets and
// the weights are fed as float tensors, so no GatherElements/OneHot rule is needed.
//
// Several training sequences can share one row: the caller feeds per-segment RoPE positions and a
// block-diagonal causal attention bias (see packing.ts), which makes each segment see only itself.

import type { Checkpoint } from '../model/checkpoint.js';
import { differentiate } from '../onnx/autodiff.js';
import { int, type Graph } from '../onnx/graph.js';
import { buildLlamaGraphParts, names } from '../llm/llama-graph.js';

export const trainNames = {
  /** float32 [S, V]: one-hot of the next token at every position (a zero row where there is none). */
  targets: 'target_onehot',
  /** float32 [S, 1]: each position's weight in the loss (mask / number of predicted tokens). */
  lossWeights: 'loss_weights',
  /** float32 scalar: the weighted cross-entropy. */
  loss: 'loss',
  /** float32 [S]: each position's own cross-entropy (unweighted), for per-token diagnostics. */
  tokenLoss: 'token_loss',
  /** int64 [S, 1]: each position's most likely next token (greedy prediction under teacher forcing). */
  predictions: 'predictions',
  gradient: (weight: string) => `grad:${weight}`,
};

/** The inputs of the Llama graph that are not weights. */
const NOT_WEIGHTS = new Set<string>([names.inputIds, names.ropeCos, names.ropeSin, names.attentionBias, trainNames.targets, trainNames.lossWeights]);

export interface TrainingGraph {
  graph: Graph;
  /** The weights, as graph inputs named as in the checkpoint, in graph-input order. */
  weights: string[];
}

/**
 * Forward + loss + weight gradients. `withGradients: false` gives the loss alone (evaluation, and
 * the finite-difference tests).
 */
export function buildTrainingGraph(checkpoint: Checkpoint, options: { withGradients?: boolean } = {}): TrainingGraph {
  const { graph: g, finalHidden, head } = buildLlamaGraphParts(checkpoint, {
    input: 'ids',
    kvCache: false,
    logits: 'none',
    attentions: false,
    ffn: false,
    weights: 'inputs',
  });
  const V = checkpoint.config.vocabSize;
  const weights = g.inputs.map((v) => v.name).filter((n) => !NOT_WEIGHTS.has(n));
  const targets = g.input(trainNames.targets, 'float32', ['sequence', V]);
  const lossWeights = g.input(trainNames.lossWeights, 'float32', ['sequence', 1]);

  const logits = head.logits(finalHidden); // [S, V]
  const logProbs = g.node('LogSoftmax', [logits], { axis: int(-1) });
  const tokenLoss = g.node('Neg', [g.node('ReduceSum', [g.node('Mul', [logProbs, targets]), g.ints1d([-1])], { keepdims: int(0) })]); // [S]
  const weighted = g.node('Mul', [g.node('Unsqueeze', [tokenLoss, g.ints1d([-1])]), lossWeights]); // [S, 1]
  g.output(g.node('ReduceSum', [weighted], { keepdims: int(0) }), trainNames.loss);
  g.output(tokenLoss, trainNames.tokenLoss);
  // TopK with k = 1 is the argmax (ties to the lower index, as ONNX specifies); its indices are [S, 1].
  const [, best] = g.nodeN('TopK', [logits, g.ints1d([1])], 2, { axis: int(-1) });
  g.output(best!, trainNames.predictions);

  if (options.withGradients !== false) {
    const seed = g.node('Mul', [g.node('Sub', [g.node('Exp', [logProbs]), targets]), lossWeights]); // ∂L/∂logits
    const gradients = differentiate(g, { seeds: [[logits, seed]], wrt: weights, batch: 0 });
    for (const w of weights) {
      const grad = gradients.get(w);
      if (!grad) throw new Error(`internal: the loss does not depend on weight '${w}'`);
      g.output(grad, trainNames.gradient(w));
    }
  }
  return { graph: g, weights };
}
