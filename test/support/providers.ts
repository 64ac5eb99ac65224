/**
 * The execution providers and precisions the parity tests run on. A float16 row is one more entry
 * here once the runner takes a precision (its tolerance justified beside it).
 */
import { providerUnavailable, type Provider } from '../../src/runtime/session.js';

export type Precision = 'fp32' | 'fp16';

export interface ParityTarget {
  provider: Provider;
  precision: Precision;
  /** max|Δ| ≤ tolerance · max|reference| for continuous outputs (logits, attentions, FFN outputs, attribution). */
  tolerance: number;
}

const ALL: ParityTarget[] = [
  { provider: 'cpu', precision: 'fp32', tolerance: 1e-4 },
  { provider: 'webgpu', precision: 'fp32', tolerance: 1e-4 },
  // float16 rounds every product's inputs to 11 significant bits (unit roundoff u = 2⁻¹¹ ≈ 4.9e-4);
  // a dot product of length K errs by about √K·u of its inputs' norms, and the errors of the
  // layers add up in the float32 residual stream. On the synthetic models (K up to 256, 2 layers,
  // random weights of large norm) the worst relative error measured is 1.5e-2 (attention
  // probabilities) and 2.9e-2 (attribution); 6e-2 ≈ 120 u leaves room for other shapes and still
  // fails a wrong rule (a flipped sign or a missing scale errs by O(1)).
  { provider: 'webgpu', precision: 'fp16', tolerance: 6e-2 },
];

function listFromEnv(name: string): string[] | null {
  const v = process.env[name];
  return v ? v.split(',').map((s) => s.trim()).filter(Boolean) : null;
}

/**
 * The targets this run covers: all of them, or those named in LENS_PARITY_PROVIDERS /
 * LENS_PARITY_PRECISIONS (`npm run gpu-check` runs webgpu only).
 */
export function parityTargets(): ParityTarget[] {
  const providers = listFromEnv('LENS_PARITY_PROVIDERS');
  const precisions = listFromEnv('LENS_PARITY_PRECISIONS');
  return ALL.filter((t) => (!providers || providers.includes(t.provider)) && (!precisions || precisions.includes(t.precision)));
}

export function targetName(t: ParityTarget): string {
  return `${t.provider} ${t.precision}`;
}

/** Options for a LlamaRunner or an analysis on this target. */
export function targetOptions(t: ParityTarget): { provider: Provider; precision: Precision } {
  // Always explicit: under the default `auto`, a GPU computes F16/BF16 checkpoints in float16.
  return { provider: t.provider, precision: t.precision };
}

/**
 * Why a target cannot run on this machine (node:test's `skip` message), or false. Only a machine
 * without Vulkan skips webgpu; with LENS_REQUIRE_WEBGPU=1 (CI, after setup-webgpu-cpu.sh) that
 * is an error instead, so a broken setup cannot pass as a skip.
 */
export function skipReason(t: ParityTarget): string | false {
  if (t.provider === 'cpu') return false;
  const why = providerUnavailable(t.provider);
  if (!why) return false;
  if (process.env.LENS_REQUIRE_WEBGPU === '1' && t.provider === 'webgpu') throw new Error(`LENS_REQUIRE_WEBGPU=1 but ${t.provider} cannot run: ${why}`);
  return `${t.provider} unavailable here: ${why} (../shared/tools/setup-webgpu-cpu.sh installs Mesa's llvmpipe Vulkan device)`;
}
