/**
 * The test oracle of attribution: raw[i][j] = d o_j / d alpha where token i's embedding is scaled
 * by (1 + alpha), at alpha = 0, by central finite differences of the float64 reference forward.
 */
import { referenceForward, type ReferenceModel } from '../reference/llama64.js';

const EPS = 1e-5;

function softmaxAt(logits: Float64Array, id: number): number {
  let max = -Infinity;
  for (const v of logits) max = Math.max(max, v);
  let sum = 0;
  for (const v of logits) sum += Math.exp(v - max);
  return Math.exp(logits[id]! - max) / sum;
}

/** Objectives o_j for every response token, with token `scaled`'s embedding multiplied by `factor`. */
function objectives(model: ReferenceModel, ids: number[], responseStart: number, scaled: number, factor: number, logprob: boolean): number[] {
  const table = model.weights.get('model.embed_tokens.weight')!;
  const H = table.shape[1]!;
  const embeds = ids.map((id, i) => {
    const row = table.data.slice(id * H, (id + 1) * H);
    if (i === scaled) for (let d = 0; d < H; d++) row[d]! *= factor;
    return row;
  });
  const { logits } = referenceForward(model, ids, { inputEmbeds: embeds });
  const out: number[] = [];
  for (let t = responseStart; t < ids.length; t++) {
    const p = softmaxAt(logits[t - 1]!, ids[t]!);
    out.push(logprob ? Math.log(p) : p);
  }
  return out;
}

/** Reference raw attribution [prompt position i][response j] for positions 0..responseStart-1. */
export function finiteDifferences(model: ReferenceModel, ids: number[], responseStart: number, logprob: boolean): number[][] {
  const raw: number[][] = [];
  for (let i = 0; i < responseStart; i++) {
    const plus = objectives(model, ids, responseStart, i, 1 + EPS, logprob);
    const minus = objectives(model, ids, responseStart, i, 1 - EPS, logprob);
    raw.push(plus.map((p, j) => (p - minus[j]!) / (2 * EPS)));
  }
  return raw;
}

