/**
 * raw[i][j] = Σ_d ∂o_j/∂E[i,d]·E[i,d] from the onnxruntime gradient graphs — reverse mode (one
 * cotangent per response token) and forward mode (one tangent per prompt token) — against the
 * float64 reference: the derivative of o_j when token i's embedding is scaled by (1+α), at α = 0,
 * by central finite differences (α = ±ε); and the two modes against each other.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { loadCheckpoint } from '../../src/model/checkpoint.js';
import { LlamaRunner } from '../../src/llm/runner.js';
import { writeSyntheticCheckpoint, type SyntheticCheckpointOptions } from '../../src/model/synthetic.js';
import { loadReferenceModel } from '../reference/llama64.js';
import { finiteDifferences } from '../support/finite-differences.js';
import { assertClose } from '../support/compare.js';
import { parityTargets, skipReason, targetName, targetOptions } from '../support/providers.js';
import { tempDir } from '../support/temp.js';

function sequence(length: number, vocab: number, seed: number): number[] {
  return Array.from({ length }, (_, i) => (i * 7919 + seed * 104729 + 13) % vocab);
}

const VARIANTS: Record<string, SyntheticCheckpointOptions> = {
  'GQA (Llama)': { architecture: 'LlamaForCausalLM' },
  'q/k/v bias (Qwen2)': { architecture: 'Qwen2ForCausalLM', tieWordEmbeddings: false },
  'tied embeddings (Llama)': { architecture: 'LlamaForCausalLM', tieWordEmbeddings: true },
  'BF16, LM head converted in 8 blocks (Llama)': { architecture: 'LlamaForCausalLM', dtype: 'BF16' },
  'q/k norm per head, sliding window 8 (Qwen3)': { architecture: 'Qwen3ForCausalLM', slidingWindow: 8 },
  'post-norms, q/k norm over the projection (OLMo 2)': { architecture: 'Olmo2ForCausalLM' },
  'soft-capping 5/2, sliding 8 (Gemma 2)': { architecture: 'Gemma2ForCausalLM', tieWordEmbeddings: true, attnSoftcap: 5, finalSoftcap: 2, slidingWindow: 8 },
  'fused projections, partial rotary, longrope (Phi-3)': {
    architecture: 'Phi3ForCausalLM', partialRotaryFactor: 0.75, longrope: { shortFactor: [1, 1.2, 1.5, 2, 3, 4], longFactor: [1, 2, 4, 8, 16, 32], originalMaxPositionEmbeddings: 8 },
  },
  'NoPE layers (SmolLM3)': { architecture: 'SmolLM3ForCausalLM', noRopeLayerInterval: 2 },
  'multipliers, logits ÷ 8 (Granite)': { architecture: 'GraniteForCausalLM' },
  'q/k norms, local RoPE, final cap 3 (Gemma 3)': { architecture: 'Gemma3ForCausalLM', tieWordEmbeddings: true, slidingWindow: 8, slidingWindowPattern: 2, finalSoftcap: 3, headDim: 32 },
};
/** Runner options of a variant: the BF16 one converts its 512 × 64 head in 16 KiB blocks. */
const RUNNER_OPTIONS: Record<string, { headBlockBytes?: number }> = {
  'BF16, LM head converted in 8 blocks (Llama)': { headBlockBytes: 16 * 1024 },
};
/** Variants whose 200-token prompt is left out (its float64 differences take minutes). */
const SHORT_ONLY = new Set(['BF16, LM head converted in 8 blocks (Llama)', 'q/k norm per head, sliding window 8 (Qwen3)', 'post-norms, q/k norm over the projection (OLMo 2)', 'soft-capping 5/2, sliding 8 (Gemma 2)', 'q/k norms, local RoPE, final cap 3 (Gemma 3)', 'NoPE layers (SmolLM3)', 'multipliers, logits ÷ 8 (Granite)', 'fused projections, partial rotary, longrope (Phi-3)']);
/** Prompt and response lengths. The 200-token finite differences dominate the time, so the
 * 200 × 1 case runs for the first variant only; 200 × 64 covers both lengths for every variant. */
const SHAPES: [number, number][] = [
  [1, 1],
  [1, 128],
  [200, 1],
  [200, 64],
  // The variants whose 200-token prompt is left out: a 12-token prompt, every position checked.
  [12, 8],
];
/**
 * Tokens before a one-token prompt, which forward mode does not attribute (as a BOS token is
 * not): position 0 alone is degenerate. Its embedding reaches everything through RMSNorm, which is
 * invariant to its scale but for ε, or through the residual stream of position 0 itself, so its
 * gradient × input is near zero (5e-6 against 2e-3 elsewhere) and made of cancelling float32
 * terms: ~1e-5 of it is rounding in either mode, not a difference between them.
 */
const PREFIX = (promptLength: number) => (promptLength === 1 ? 3 : 0);
const FIRST_VARIANT_ONLY = new Set(['200x1']);
/** Off the CPU (llvmpipe is slow), the shapes that cover one and many objectives and the chunked pass;
 * `npm run gpu-check -- --quick` leaves out the 200-token prompt, whose float64 differences take minutes. */
const OFF_CPU = new Set(process.env.LENS_PARITY_QUICK === '1' ? ['1x1', '1x128'] : ['1x1', '200x64']);
/**
 * Forward and reverse mode agree to this share of max|raw| (both float32, different orders of the
 * same products). Both differentiate in the embeddings' scale itself, through norms written for a
 * scaled input (LlamaGraphParts.tokenScale): measured, every case is within 4e-6 on the CPU (3.9e-6:
 * tied embeddings, 1 × 1) and 8.7e-6 on webgpu (Qwen3, 1 × 1, whose max|raw| is 2.4e-5).
 * Differentiated with respect to E through the norms as written — blind to E's scale but for ε —
 * they differed by up to 2.05e-5 (tied embeddings, 1 × 128: reverse mode's rounding), 1.56e-5
 * (Granite, 12 × 8) and 1.1e-5 (Qwen3, 1 × 1: forward mode's, through its first q/k norms).
 */
const MODES_AGREE = 1e-5;

/** raw[i][j] for the prompt positions, i-major, from a run's [R][S] layout. */
function promptBlock(raw: Float32Array, S: number, promptLength: number, responseLength: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < promptLength; i++) for (let j = 0; j < responseLength; j++) out.push(raw[j * S + i]!);
  return out;
}

// Checkpoints and finite differences are computed once and checked against every target: the
// float64 differences of a 200-token prompt take minutes.
const root = tempDir();
const memo = new Map<string, unknown>();
function once<T>(key: string, make: () => T): T {
  if (!memo.has(key)) memo.set(key, make());
  return memo.get(key) as T;
}
function fixture(seed: number, options: SyntheticCheckpointOptions): Promise<string> {
  return once(`checkpoint ${seed}`, async () => {
    const dir = join(root, `m${seed}`);
    await writeSyntheticCheckpoint(dir, { preset: 'tiny', seed, vocabSize: 512, maxPositionEmbeddings: 512, ...options });
    return dir;
  });
}

for (const target of parityTargets()) describe(`attribution gradients against float64 finite differences (${targetName(target)})`, { skip: skipReason(target) }, () => {
  let n = 0;
  for (const [index, [variant, options]] of Object.entries(VARIANTS).entries()) {
    for (const [promptLength, responseLength] of SHAPES) {
      const shape = `${promptLength}x${responseLength}`;
      if (index > 0 && FIRST_VARIANT_ONLY.has(shape)) continue;
      if (SHORT_ONLY.has(variant) ? promptLength === 200 : shape === '12x8') continue;
      const seed = 5 + ++n;
      if (target.provider !== 'cpu' && !OFF_CPU.has(shape)) continue;
      it(`${variant}: prompt ${promptLength}, response ${responseLength}`, async (t) => {
        const dir = await fixture(seed, options);
        const checkpoint = loadCheckpoint(dir);
        const runner = new LlamaRunner(checkpoint, { ...targetOptions(target), ...RUNNER_OPTIONS[variant] });
        try {
          const prefix = PREFIX(promptLength);
          const start = prefix + promptLength;
          const ids = sequence(start + responseLength, checkpoint.config.vocabSize, seed - 5);
          const got = await runner.attribute(ids, start, { mode: 'reverse' });
          const forward = await runner.attribute(ids, start, { mode: 'forward', positions: [prefix, start] });
          assert.equal(got.mode, 'reverse');
          assert.equal(forward.mode, 'forward');
          const expected = once(`differences ${seed}`, () => finiteDifferences(loadReferenceModel(dir), ids, start, false));
          const S = ids.length;
          const block = (raw: Float32Array | number[][], from: number) => {
            const out: number[] = [];
            for (let i = from; i < start; i++) for (let j = 0; j < responseLength; j++) out.push(raw instanceof Float32Array ? raw[j * S + i]! : raw[i]![j]!);
            return out;
          };
          assert.equal(runner.executionProvider, target.provider);
          // Reverse mode gives every position; forward mode the prompt's.
          const { maxAbsDiff, maxRef } = assertClose(block(got.raw, 0), block(expected, 0), target.tolerance, `${variant} raw (reverse)`);
          const f = assertClose(block(forward.raw, prefix), block(expected, prefix), target.tolerance, `${variant} raw (forward)`);
          const fwd = block(forward.raw, prefix), rev = block(got.raw, prefix);
          const modeGap = Math.max(...fwd.map((v, k) => Math.abs(v - rev[k]!))) / Math.max(...rev.map(Math.abs));
          t.diagnostic(`max|Δ|/max|ref|: reverse ${(maxAbsDiff / maxRef).toExponential(2)}, forward ${(f.maxAbsDiff / f.maxRef).toExponential(2)}; forward vs reverse ${modeGap.toExponential(2)}`);
          assertClose(fwd, rev, MODES_AGREE, `${variant} forward vs reverse`);
          // The same forward in two graphs whose kernels see other shapes (webgpu: 1.4e-6 measured).
          assertClose(forward.probabilities, got.probabilities, 1e-5, `${variant} probabilities, forward vs reverse`);
          // Response positions get gradients too (later response tokens depend on earlier ones), and
          // positions after t_j − 1 none: causality, checked on the last objective's row.
          if (responseLength > 1) assert.equal(got.raw[(responseLength - 2) * S + S - 1], 0);
          if (responseLength === 64 && promptLength === 200) {
            const chunked = await runner.attribute(ids, start, { chunkSize: 7, mode: 'reverse' });
            assertClose(chunked.raw, got.raw, 1e-5, `${variant} chunked vs unchunked`);
            assertClose(chunked.probabilities, got.probabilities, 1e-6, `${variant} chunked probabilities`);
            const forwardChunked = await runner.attribute(ids, start, { chunkSize: 7, mode: 'forward' });
            assertClose(forwardChunked.raw, forward.raw, 1e-5, `${variant} forward chunked vs unchunked`);
            // Whichever mode auto picks by its estimate gives the same numbers.
            const auto = await runner.attribute(ids, start, { chunkSize: 7 });
            assertClose(block(auto.raw, 0), block(got.raw, 0), MODES_AGREE, `${variant} auto (${auto.mode}) vs reverse`);
          }
        } finally {
          await runner.dispose();
        }
      });
    }
  }

  it('log-probability objective', async (t) => {
    const dir = await once('checkpoint logprob', async () => {
      const d = join(root, 'logprob');
      await writeSyntheticCheckpoint(d, { preset: 'tiny', seed: 77, vocabSize: 512 });
      return d;
    });
    const checkpoint = loadCheckpoint(dir);
    const runner = new LlamaRunner(checkpoint, targetOptions(target));
    try {
      const ids = sequence(20, 512, 3);
      const got = await runner.attribute(ids, 12, { objective: 'logprob', mode: 'reverse' });
      const forward = await runner.attribute(ids, 12, { objective: 'logprob', mode: 'forward' });
      assertClose(promptBlock(forward.raw, 20, 12, 8), promptBlock(got.raw, 20, 12, 8), MODES_AGREE, 'logprob forward vs reverse');
      const expected = once('differences logprob', () => finiteDifferences(loadReferenceModel(dir), ids, 12, true));
      const actual: number[] = [];
      const want: number[] = [];
      for (let i = 0; i < 12; i++) for (let j = 0; j < 8; j++) {
        actual.push(got.raw[j * 20 + i]!);
        want.push(expected[i]![j]!);
      }
      const { maxAbsDiff, maxRef } = assertClose(actual, want, target.tolerance, 'logprob raw');
      t.diagnostic(`max|Δ|/max|ref| ${(maxAbsDiff / maxRef).toExponential(2)}`);
    } finally {
      await runner.dispose();
    }
  });
});
