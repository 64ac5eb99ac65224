// Packing: several training sequences in one row of the training graph. Each segment gets its own
// RoPE positions (0, 1, …) and a causal mask that stops at its own start, so that a packed row
// computes exactly what the segments would compute one by one (the weight-gradient test checks
// it). Padding at the end of a row is a segment of its own with no loss.

import type { ModelConfig } from '../model/config.js';
import { MASKED, ropeTables } from '../llm/rope.js';

export interface TrainingSequence {
  ids: number[];
  /** 1 where the token at that index is a prediction target (its loss counts), else 0; same length as ids. */
  lossMask: number[];
}

export interface PackedRow {
  ids: number[];
  /** Segment start offsets, in order (the last segment may be padding). */
  segments: [number, number][];
  /** The position (0-based within its segment) of each token. */
  positions: number[];
  /** Target token of each position (the next token of its segment), or -1. */
  targets: number[];
  /** Number of positions whose loss counts. */
  predicted: number;
}

/**
 * Greedy first-fit packing in the order given: sequences are appended to the current row while
 * they fit in `rowLength`; a sequence longer than a row is refused.
 */
export function packSequences(sequences: readonly TrainingSequence[], rowLength: number, padId: number): PackedRow[] {
  const rows: PackedRow[] = [];
  let current: TrainingSequence[] = [];
  let used = 0;
  const flush = () => {
    if (current.length) rows.push(packRow(current, rowLength, padId));
    current = [];
    used = 0;
  };
  for (const s of sequences) {
    if (s.ids.length > rowLength) throw new Error(`a training sequence of ${s.ids.length} tokens does not fit a row of ${rowLength}`);
    if (used + s.ids.length > rowLength) flush();
    current.push(s);
    used += s.ids.length;
  }
  flush();
  return rows;
}

/** One row from sequences that fit; padded to `rowLength` when it is given. */
export function packRow(sequences: readonly TrainingSequence[], rowLength?: number, padId = 0): PackedRow {
  const ids: number[] = [];
  const segments: [number, number][] = [];
  const positions: number[] = [];
  const targets: number[] = [];
  let predicted = 0;
  for (const s of sequences) {
    if (s.lossMask.length !== s.ids.length) throw new Error('lossMask must be as long as ids');
    const start = ids.length;
    segments.push([start, start + s.ids.length]);
    s.ids.forEach((id, i) => {
      ids.push(id);
      positions.push(i);
      // Position i predicts token i+1 when that token is a target.
      const next = i + 1 < s.ids.length && s.lossMask[i + 1] ? s.ids[i + 1]! : -1;
      targets.push(next);
      if (next >= 0) predicted++;
    });
  }
  const total = rowLength ?? ids.length;
  if (ids.length < total) {
    segments.push([ids.length, total]);
    for (let i = 0; ids.length < total; i++) {
      ids.push(padId);
      positions.push(i);
      targets.push(-1);
    }
  }
  return { ids, segments, positions, targets, predicted };
}

export interface RowFeeds {
  ids: BigInt64Array;
  cos: Float32Array;
  sin: Float32Array;
  /** [S, S] additive attention bias: 0 where a query may attend, MASKED elsewhere. */
  bias: Float32Array;
  /** [S, V] target distributions: one-hot, or label-smoothed. */
  targets: Float32Array;
  /** [S, 1] loss weights: 1/normalizer at predicted positions. */
  lossWeights: Float32Array;
}

/**
 * The graph inputs of one packed row. `normalizer` defaults to the row's own number of predicted
 * tokens. With `labelSmoothing` ε, each target distribution is (1 − ε)·onehot + ε/V.
 */
export function rowFeeds(row: PackedRow, config: ModelConfig, normalizer = row.predicted, labelSmoothing = 0): RowFeeds {
  const S = row.ids.length;
  const d = config.headDim;
  const V = config.vocabSize;
  const maxPosition = Math.max(...row.positions) + 1;
  const table = ropeTables(config, 0, maxPosition);
  const cos = new Float32Array(S * d);
  const sin = new Float32Array(S * d);
  row.positions.forEach((p, i) => {
    cos.set(table.cos.subarray(p * d, (p + 1) * d), i * d);
    sin.set(table.sin.subarray(p * d, (p + 1) * d), i * d);
  });
  const bias = new Float32Array(S * S).fill(MASKED);
  for (const [start, end] of row.segments) {
    for (let q = start; q < end; q++) bias.fill(0, q * S + start, q * S + q + 1);
  }
  const targets = new Float32Array(S * V);
  const lossWeights = new Float32Array(S);
  const w = normalizer > 0 ? 1 / normalizer : 0;
  const floor = labelSmoothing / V;
  row.targets.forEach((t, i) => {
    if (t >= 0) {
      if (floor > 0) targets.fill(floor, i * V, (i + 1) * V);
      targets[i * V + t] = 1 - labelSmoothing + floor;
      lossWeights[i] = w;
    }
  });
  return { ids: BigInt64Array.from(row.ids, BigInt), cos, sin, bias, targets, lossWeights };
}
