/**
 * Weight gradients of the training graph (src/train/graph.ts: the Llama forward with weights as
 * inputs, masked cross-entropy, our reverse-mode differentiation) against central finite
 * differences of the same loss computed by the float64 reference forward. The row packs two
 * sequences and padding, so the block-diagonal mask and per-segment positions are checked too:
 * the reference runs each sequence on its own.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { loadCheckpoint } from '../../src/model/checkpoint.js';
import { writeSyntheticCheckpoint } from '../../src/model/synthetic.js';
import { readWeights } from '../../src/train/model-io.js';
import { packRow, type TrainingSequence } from '../../src/train/packing.js';
import { TrainingSession, type Weights } from '../../src/train/session.js';
import { referenceForward, referenceModelFromTensors } from '../reference/llama64.js';
import type { Tensor64 } from '../reference/safetensors64.js';
import { tempDir } from '../support/temp.js';

/** Step of the five-point central difference (error O(h⁴), rounding ~1e-16·loss/h). */
const EPS = 1e-4;
const TOLERANCE = 1e-4;
/**
 * Entries are checked relative to themselves, so only entries of at least this share of the
 * tensor's largest gradient are picked: float32 accumulation errors scale with the terms summed,
 * not with a sum that cancels to nearly 0.
 */
const MIN_SHARE = 0.05;

/** Mean cross-entropy over the masked targets of all sequences, each run alone by the float64 reference. */
function referenceLoss(configJson: Record<string, unknown>, weights: Map<string, Tensor64>, sequences: TrainingSequence[], smoothing = 0): number {
  const model = referenceModelFromTensors(configJson, weights);
  let total = 0;
  let count = 0;
  for (const s of sequences) {
    const { logits } = referenceForward(model, s.ids);
    for (let t = 1; t < s.ids.length; t++) {
      if (!s.lossMask[t]) continue;
      const row = logits[t - 1]!;
      let max = -Infinity;
      for (const v of row) max = Math.max(max, v);
      let sum = 0;
      for (const v of row) sum += Math.exp(v - max);
      const logZ = max + Math.log(sum);
      // Cross-entropy against (1 − ε)·onehot + ε/V.
      let loss = -(1 - smoothing) * (row[s.ids[t]!]! - logZ);
      if (smoothing) for (const v of row) loss -= (smoothing / row.length) * (v - logZ);
      total += loss;
      count++;
    }
  }
  return total / count;
}

function toReference(weights: Weights): Map<string, Tensor64> {
  return new Map([...weights].map(([n, w]) => [n, { shape: [...w.shape], data: Float64Array.from(w.data), dtype: 'F32' }]));
}

/** ∂loss/∂tensor[index] by the five-point central difference. */
function finiteDifference(tensor: Tensor64, index: number, loss: () => number): number {
  const original = tensor.data[index]!;
  const at = (h: number) => {
    tensor.data[index] = original + h;
    const value = loss();
    tensor.data[index] = original;
    return value;
  };
  return (8 * (at(EPS) - at(-EPS)) - (at(2 * EPS) - at(-2 * EPS))) / (12 * EPS);
}

/** Indices of the `k` largest |values|, then `extra` more spread over the tensor (deterministic), each at least MIN_SHARE of the largest. */
function pickEntries(values: Float32Array, k: number, extra: number): number[] {
  const byMagnitude = Array.from(values.keys()).sort((a, b) => Math.abs(values[b]!) - Math.abs(values[a]!));
  const out = byMagnitude.slice(0, k);
  const largest = Math.abs(values[byMagnitude[0]!]!);
  for (let i = 0; out.length < k + extra; i++) {
    const index = (i * 7919 + 13) % values.length;
    if (!out.includes(index) && Math.abs(values[index]!) >= MIN_SHARE * largest) out.push(index);
  }
  return out;
}

describe('training-graph weight gradients against float64 finite differences', () => {
  it('embedding, q_proj, norms, down_proj and lm_head of a packed row (GQA 4/2, untied)', async (t) => {
    const dir = join(tempDir(), 'tiny');
    const written = await writeSyntheticCheckpoint(dir, {
      hiddenSize: 32,
      intermediateSize: 48,
      numLayers: 2,
      numHeads: 4,
      numKvHeads: 2,
      vocabSize: 300,
      tieWordEmbeddings: false,
      chatTemplate: false,
      seed: 5,
    });
    const checkpoint = loadCheckpoint(dir);
    const weights = readWeights(checkpoint);
    const sequences: TrainingSequence[] = [
      { ids: [5, 17, 260, 42, 99, 3, 17, 200], lossMask: [0, 1, 1, 1, 1, 1, 1, 1] },
      { ids: [77, 128, 64, 5, 290, 11], lossMask: [0, 0, 0, 1, 1, 1] },
    ];
    const row = packRow(sequences, 18, 0);
    assert.equal(row.predicted, 10);
    const session = await TrainingSession.open(checkpoint, { threads: 1 });
    try {
      const result = await session.run(weights, row);
      const config = written.config;
      const reference = toReference(weights);
      const loss64 = referenceLoss(config, reference, sequences);
      assert.ok(Math.abs(result.loss - loss64) <= 1e-5 * Math.abs(loss64), `loss ${result.loss} vs reference ${loss64}`);

      const checked: Record<string, number[]> = {
        'model.embed_tokens.weight': [],
        'model.layers.0.self_attn.q_proj.weight': [],
        'model.layers.1.self_attn.q_proj.weight': [],
        'model.layers.0.input_layernorm.weight': [],
        'model.layers.1.post_attention_layernorm.weight': [],
        'model.layers.0.mlp.down_proj.weight': [],
        'model.norm.weight': [],
        'lm_head.weight': [],
      };
      let worst = 0;
      for (const name of Object.keys(checked)) {
        const grad = result.gradients!.get(name)!;
        assert.ok(grad, `no gradient for ${name}`);
        const scale = grad.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
        assert.ok(scale > 0, `${name}: the gradient is all zeros`);
        for (const index of pickEntries(grad, 4, 2)) {
          const fd = finiteDifference(reference.get(name)!, index, () => referenceLoss(config, reference, sequences));
          const error = Math.abs(grad[index]! - fd) / Math.abs(fd);
          worst = Math.max(worst, error);
          assert.ok(error <= TOLERANCE, `${name}[${index}]: graph ${grad[index]} vs finite differences ${fd} (relative error ${error.toExponential(2)})`);
        }
      }
      // Embedding rows of tokens that are not in the row get exactly no gradient.
      const embedGrad = result.gradients!.get('model.embed_tokens.weight')!;
      const H = 32;
      const unused = 150;
      assert.ok(!row.ids.includes(unused));
      assert.ok(embedGrad.subarray(unused * H, (unused + 1) * H).every((v) => v === 0));
      // Padding contributes nothing: the same sequences without padding give the same loss and gradients.
      const unpadded = await session.run(weights, packRow(sequences));
      assert.ok(Math.abs(unpadded.loss - result.loss) <= 1e-6 * Math.abs(result.loss));
      const a = unpadded.gradients!.get('lm_head.weight')!, b = result.gradients!.get('lm_head.weight')!;
      let diff = 0;
      for (let i = 0; i < a.length; i++) diff = Math.max(diff, Math.abs(a[i]! - b[i]!));
      assert.ok(diff <= 1e-6 * b.reduce((m, v) => Math.max(m, Math.abs(v)), 0), `padding changed lm_head's gradient by ${diff}`);
      t.diagnostic(`worst relative error ${worst.toExponential(2)} over ${Object.keys(checked).length * 6} entries`);

      // Label-smoothed targets (the tuning phase's loss): the loss and lm_head's and a q_proj's gradients.
      const smoothed = await session.run(weights, row, { labelSmoothing: 0.1 });
      const smoothedLoss = referenceLoss(config, reference, sequences, 0.1);
      assert.ok(Math.abs(smoothed.loss - smoothedLoss) <= 1e-5 * smoothedLoss, `smoothed loss ${smoothed.loss} vs reference ${smoothedLoss}`);
      for (const name of ['lm_head.weight', 'model.layers.1.self_attn.q_proj.weight']) {
        const grad = smoothed.gradients!.get(name)!;
        const scale = grad.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
        for (const index of pickEntries(grad, 3, 1)) {
          const fd = finiteDifference(reference.get(name)!, index, () => referenceLoss(config, reference, sequences, 0.1));
          const error = Math.abs(grad[index]! - fd) / Math.abs(fd);
          assert.ok(error <= TOLERANCE, `smoothed ${name}[${index}]: graph ${grad[index]} vs finite differences ${fd} (relative error ${error.toExponential(2)})`);
        }
      }
    } finally {
      await session.release();
    }
  });
});
