import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { loadCheckpoint } from '../../src/model/checkpoint.js';
import { LlamaRunner } from '../../src/llm/runner.js';
import { writeSyntheticCheckpoint, type SyntheticCheckpointOptions } from '../../src/model/synthetic.js';
import { loadReferenceModel, referenceForward, referenceGreedy } from '../reference/llama64.js';
import { assertClose, flatten } from '../support/compare.js';
import { parityTargets, skipReason, targetName, targetOptions } from '../support/providers.js';
import { tempDir } from '../support/temp.js';

/** Every architecture variant the engine claims, each checked against the float64 reference. */
const VARIANTS: Record<string, SyntheticCheckpointOptions> = {
  'llama, GQA 4/2, untied': { architecture: 'LlamaForCausalLM' },
  'llama, MHA (no GQA)': { architecture: 'LlamaForCausalLM', numKvHeads: 4 },
  'llama, tied embeddings': { architecture: 'LlamaForCausalLM', tieWordEmbeddings: true },
  'llama, attention_bias': { architecture: 'LlamaForCausalLM', attentionBias: true },
  'llama, head_dim ≠ hidden/heads': { architecture: 'LlamaForCausalLM', headDim: 24 },
  'llama, rope linear': { architecture: 'LlamaForCausalLM', ropeScaling: { rope_type: 'linear', factor: 4 } },
  'llama, rope llama3': {
    architecture: 'LlamaForCausalLM',
    ropeTheta: 500000,
    ropeScaling: { rope_type: 'llama3', factor: 32, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 64 },
  },
  'qwen2, q/k/v bias, tied': { architecture: 'Qwen2ForCausalLM', tieWordEmbeddings: true },
  'mistral': { architecture: 'MistralForCausalLM' },
  'mistral, sliding_window 5 < prompt': { architecture: 'MistralForCausalLM', slidingWindow: 5 },
  'qwen2, use_sliding_window 4 from layer 1': { architecture: 'Qwen2ForCausalLM', slidingWindow: 4, maxWindowLayers: 1 },
  'qwen3, q/k norm per head': { architecture: 'Qwen3ForCausalLM', headDim: 24 },
  'qwen3, attention_bias, tied, BF16': { architecture: 'Qwen3ForCausalLM', attentionBias: true, tieWordEmbeddings: true, dtype: 'BF16' },
  'qwen3, sliding window 6 on every layer': { architecture: 'Qwen3ForCausalLM', slidingWindow: 6 },
  'olmo2, post-norms, q/k norm over the projection': { architecture: 'Olmo2ForCausalLM' },
  'olmo2, MHA, BF16': { architecture: 'Olmo2ForCausalLM', numKvHeads: 4, dtype: 'BF16' },
  'gemma2, tied, attention soft-capping 5 and final 2 (biting), query_pre_attn_scalar 24, sliding 5 on even layers': {
    architecture: 'Gemma2ForCausalLM', tieWordEmbeddings: true, attnSoftcap: 5, finalSoftcap: 2, queryPreAttnScalar: 24, slidingWindow: 5, numLayers: 3,
  },
  'gemma2, realistic caps 50/30, BF16': { architecture: 'Gemma2ForCausalLM', tieWordEmbeddings: true, attnSoftcap: 50, finalSoftcap: 30, slidingWindow: 4, dtype: 'BF16' },
  'smollm3, NoPE on every 2nd layer': { architecture: 'SmolLM3ForCausalLM', noRopeLayerInterval: 2, numLayers: 4 },
  'smollm3, NoPE every 4th (default), sliding window 5 from layer 2': { architecture: 'SmolLM3ForCausalLM', numLayers: 4, slidingWindow: 5, maxWindowLayers: 2 },
  'granite, multipliers (embedding 12, attention 1/d, residual 0.22, logits ÷ 8)': { architecture: 'GraniteForCausalLM' },
  'granite, BF16, tied, attention_bias': { architecture: 'GraniteForCausalLM', dtype: 'BF16', tieWordEmbeddings: true, attentionBias: true, graniteMultipliers: { embedding: 3, attention: 0.05, residual: 0.5, logitsScaling: 2 } },
  'phi3, fused qkv_proj/gate_up_proj, partial rotary 0.5, sliding 6': { architecture: 'Phi3ForCausalLM', partialRotaryFactor: 0.5, slidingWindow: 6 },
  'phi3, longrope beyond the original context (long factors), partial rotary 0.75, BF16': {
    architecture: 'Phi3ForCausalLM', partialRotaryFactor: 0.75, dtype: 'BF16',
    longrope: { shortFactor: [1, 1.2, 1.5, 2, 3, 4], longFactor: [1, 2, 4, 8, 16, 32], originalMaxPositionEmbeddings: 8 },
  },
  'phi3, longrope within the original context (short factors)': {
    architecture: 'Phi3ForCausalLM', longrope: { shortFactor: [1, 1.1, 1.3, 1.6, 2, 2.5, 3, 4], longFactor: [2, 4, 6, 8, 10, 12, 14, 16], originalMaxPositionEmbeddings: 64 },
  },
  'gemma3, q/k norms, local RoPE base 10000 vs global 1e6 linear ×8, sliding 4 with pattern 2': {
    architecture: 'Gemma3ForCausalLM', tieWordEmbeddings: true, slidingWindow: 4, slidingWindowPattern: 2, numLayers: 4, ropeTheta: 1e6, ropeScaling: { rope_type: 'linear', factor: 8 }, headDim: 32,
  },
  'llama, BF16 weights': { architecture: 'LlamaForCausalLM', dtype: 'BF16' },
  'llama, F16 weights': { architecture: 'LlamaForCausalLM', dtype: 'F16' },
  'qwen2, BF16, 3 shards': { architecture: 'Qwen2ForCausalLM', dtype: 'BF16', shards: 3 },
  'llama, BF16, tied, LM head converted in 16 blocks': { architecture: 'LlamaForCausalLM', dtype: 'BF16', tieWordEmbeddings: true },
};
/** Runner options of a variant: 4096 × 64 head rows converted 64 KiB (256 rows) at a time. */
const RUNNER_OPTIONS: Record<string, { headBlockBytes?: number }> = {
  'llama, BF16, tied, LM head converted in 16 blocks': { headBlockBytes: 64 * 1024 },
};

const PROMPT_IDS = [5, 300, 17, 42, 260, 99, 3, 1, 77, 128, 200, 64];

for (const target of parityTargets()) describe(`forward parity with the float64 reference (${targetName(target)})`, { skip: skipReason(target) }, () => {
  const root = tempDir();
  const TOLERANCE = target.tolerance;
  let index = 0;
  for (const [name, options] of Object.entries(VARIANTS)) {
    const seed = 11 + ++index;
    it(name, async (t) => {
      const dir = join(root, `v${seed}`);
      await writeSyntheticCheckpoint(dir, { preset: 'tiny', seed, ...options });
      const checkpoint = loadCheckpoint(dir);
      const reference = loadReferenceModel(dir);
      const runner = new LlamaRunner(checkpoint, { ...targetOptions(target), ...RUNNER_OPTIONS[name] });
      try {
        const ids = PROMPT_IDS.map((id) => id % checkpoint.config.vocabSize);
        const expected = referenceForward(reference, ids, { attentions: true, ffn: true });
        const actual = await runner.forward(ids, { attentions: true, ffn: true });
        const S = ids.length;
        assert.equal(runner.executionProvider, target.provider);
        const logits = assertClose(actual.logits, flatten(expected.logits), TOLERANCE, `${name}: logits`);
        let worst = { attentions: 0, ffn: 0 };
        for (let l = 0; l < checkpoint.config.numLayers; l++) {
          const a = assertClose(actual.attentions![l]!, flatten(expected.attentions![l]!.flat()), TOLERANCE, `${name}: attentions layer ${l}`);
          const f = assertClose(actual.ffn![l]!, flatten(expected.ffn![l]!), TOLERANCE, `${name}: ffn layer ${l}`);
          worst = { attentions: Math.max(worst.attentions, a.maxAbsDiff / a.maxRef), ffn: Math.max(worst.ffn, f.maxAbsDiff / f.maxRef) };
        }
        t.diagnostic(
          `max|Δ|/max|ref|: logits ${(logits.maxAbsDiff / logits.maxRef).toExponential(2)}, attentions ${worst.attentions.toExponential(2)}, ffn ${worst.ffn.toExponential(2)}`,
        );
        assert.equal(actual.attentions![0]!.length, checkpoint.config.numHeads * S * S);
        // Generation: the KV-cache decode graph must pick the same 16 tokens as the reference.
        const generated = await runner.generate(ids, { maxNewTokens: 16 });
        assert.ok(generated.length > 0);
        if (target.precision === 'fp32') {
          const expectedGenerated = referenceGreedy(reference, ids, 16, checkpoint.tokenizer.eosTokenIds);
          assert.deepEqual(generated, expectedGenerated, `${name}: greedy generation`);
        } else {
          // In float16 a random model's near-tied logits may flip (the demo pair's generation is
          // checked for equality in fp16-demo.test.ts). Each token must still be the float64
          // reference's best or within the tolerance of it, given the same prefix.
          for (let step = 0; step < generated.length; step++) {
            const prefix = [...ids, ...generated.slice(0, step)];
            const last = referenceForward(reference, prefix).logits.at(-1)!;
            const best = Math.max(...last);
            const scale = Math.max(...last.map(Math.abs));
            assert.ok(best - last[generated[step]!]! <= target.tolerance * scale, `${name}: token ${step} (${generated[step]}) is ${(best - last[generated[step]!]!).toExponential(2)} below the reference's best`);
          }
        }
      } finally {
        await runner.dispose();
      }
    });
  }
});
