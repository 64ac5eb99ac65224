import type { ModelConfig } from '../model/config.js';

/**
 * Rotary-embedding frequencies, as transformers computes them for rope_type default, linear and
 * llama3. Computed in float64 in JavaScript and fed to the graph as cos/sin tables: the tables are
 * tiny ([positions, head_dim]) and this keeps every RoPE variant out of the graph.
 */
export function inverseFrequencies(config: ModelConfig, which: 'global' | 'local' = 'global', length = 0): Float64Array {
  // RoPE rotates the first rotaryDim dimensions of a head (Phi-3's partial_rotary_factor).
  const d = config.rotaryDim;
  const half = d / 2;
  const inv = new Float64Array(half);
  // Gemma 3's sliding layers have a RoPE of their own (rope_local_base_freq, no scaling).
  const local = which === 'local' ? config.localRope : null;
  const theta = local ? local.theta : config.ropeTheta;
  for (let i = 0; i < half; i++) inv[i] = 1 / Math.pow(theta, (2 * i) / d);
  const scaling = local ? local.scaling : config.ropeScaling;
  if (scaling.type === 'linear') {
    for (let i = 0; i < half; i++) inv[i]! /= scaling.factor;
  } else if (scaling.type === 'longrope') {
    // transformers' dynamic longrope: the long factors once the sequence exceeds the original context.
    const factors = length > scaling.originalMaxPositionEmbeddings ? scaling.longFactor : scaling.shortFactor;
    for (let i = 0; i < half; i++) inv[i]! /= factors[i]!;
  } else if (scaling.type === 'llama3') {
    const { factor, lowFreqFactor, highFreqFactor, originalMaxPositionEmbeddings: oldContext } = scaling;
    const lowFreqWavelen = oldContext / lowFreqFactor;
    const highFreqWavelen = oldContext / highFreqFactor;
    for (let i = 0; i < half; i++) {
      const wavelen = (2 * Math.PI) / inv[i]!;
      if (wavelen > lowFreqWavelen) inv[i]! /= factor;
      else if (wavelen >= highFreqWavelen) {
        const smooth = (oldContext / wavelen - lowFreqFactor) / (highFreqFactor - lowFreqFactor);
        inv[i] = ((1 - smooth) * inv[i]!) / factor + smooth * inv[i]!;
      }
    }
  }
  return inv;
}

/**
 * cos and sin tables [count, head_dim] for positions start..start+count-1 (halves of the rotary
 * dimensions duplicated, as transformers does; the dimensions RoPE leaves alone get cos 1, sin 0).
 * A longrope model's frequencies depend on the sequence's length (default: so far, start + count).
 */
export function ropeTables(config: ModelConfig, start: number, count: number, which: 'global' | 'local' = 'global', sequenceLength = start + count): { cos: Float32Array; sin: Float32Array } {
  const inv = inverseFrequencies(config, which, sequenceLength);
  const d = config.headDim;
  const half = config.rotaryDim / 2;
  const attention = config.ropeScaling.type === 'longrope' && which === 'global' ? config.ropeScaling.attentionFactor : 1;
  const cos = new Float32Array(count * d).fill(1);
  const sin = new Float32Array(count * d);
  for (let p = 0; p < count; p++) {
    for (let i = 0; i < half; i++) {
      const angle = (start + p) * inv[i]!;
      const c = Math.cos(angle) * attention, s = Math.sin(angle) * attention;
      cos[p * d + i] = c; cos[p * d + i + half] = c;
      sin[p * d + i] = s; sin[p * d + i + half] = s;
    }
  }
  return { cos, sin };
}

/**
 * The additive causal mask [queries, past + queries]: 0 where a query may attend, a large negative
 * elsewhere. With a sliding `window`, the query at position i also cannot see keys j ≤ i − window
 * (it sees `window` keys, itself included: transformers' sliding_window_overlay, kv > q − window).
 */
export function causalMask(past: number, queries: number, window: number | null = null): Float32Array {
  const total = past + queries;
  const mask = new Float32Array(queries * total);
  for (let q = 0; q < queries; q++) {
    for (let k = past + q + 1; k < total; k++) mask[q * total + k] = MASKED;
    if (window !== null) for (let k = 0; k <= past + q - window; k++) mask[q * total + k] = MASKED;
  }
  return mask;
}

/** exp(MASKED - max) is exactly 0 in float32, and MASKED + a score never overflows. */
export const MASKED = -1e30;
