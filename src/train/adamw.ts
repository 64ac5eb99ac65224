// AdamW (Loshchilov & Hutter): Adam with decoupled weight decay, as torch.optim.AdamW computes it,
// in float64 arithmetic on float32 state, plus global-norm gradient clipping.

import type { Weights } from './session.js';

export interface AdamWOptions {
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  /** Which weights decay (by name); norms and biases usually do not. */
  decays: (name: string) => boolean;
}

export class AdamW {
  private readonly m = new Map<string, Float32Array>();
  private readonly v = new Map<string, Float32Array>();
  private t = 0;

  constructor(private readonly options: AdamWOptions) {}

  get steps(): number {
    return this.t;
  }

  step(weights: Weights, gradients: Map<string, Float32Array>, lr: number, gradScale = 1): void {
    this.t++;
    const { beta1, beta2, eps, weightDecay } = this.options;
    const c1 = 1 - beta1 ** this.t;
    const c2 = 1 - beta2 ** this.t;
    for (const [name, w] of weights) {
      const g = gradients.get(name);
      if (!g) throw new Error(`no gradient for '${name}'`);
      let m = this.m.get(name);
      let v = this.v.get(name);
      if (!m || !v) {
        this.m.set(name, (m = new Float32Array(g.length)));
        this.v.set(name, (v = new Float32Array(g.length)));
      }
      const decay = this.options.decays(name) ? 1 - lr * weightDecay : 1;
      const data = w.data;
      for (let i = 0; i < data.length; i++) {
        const gi = g[i]! * gradScale;
        const mi = (m[i] = beta1 * m[i]! + (1 - beta1) * gi);
        const vi = (v[i] = beta2 * v[i]! + (1 - beta2) * gi * gi);
        data[i] = data[i]! * decay - (lr * (mi / c1)) / (Math.sqrt(vi / c2) + eps);
      }
    }
  }
}

/** The factor that scales gradients to a global L2 norm of at most `maxNorm`, and the norm. */
export function clipFactor(gradients: Map<string, Float32Array>, maxNorm: number): { norm: number; scale: number } {
  let sum = 0;
  for (const g of gradients.values()) for (let i = 0; i < g.length; i++) sum += g[i]! * g[i]!;
  const norm = Math.sqrt(sum);
  return { norm, scale: norm > maxNorm ? maxNorm / norm : 1 };
}

/** Linear warm-up to `peak`, then cosine decay to `peak · floor` at `total` steps. */
export function learningRate(step: number, total: number, peak: number, warmup: number, floor: number): number {
  if (step < warmup) return (peak * (step + 1)) / warmup;
  const progress = Math.min(1, (step - warmup) / Math.max(1, total - warmup));
  return peak * (floor + (1 - floor) * 0.5 * (1 + Math.cos(Math.PI * progress)));
}
