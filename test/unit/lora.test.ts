/**
 * PEFT LoRA adapters as the tuned model: the graph applies W·x + s·B(A·x) (no merged weight), and its
 * logits, attentions, FFN outputs, greedy tokens and attribution are checked against the adapter merged
 * into the base in float64 (test/reference/lora64.ts); heads and FFN see the merged matrices; every
 * adapter type or field the engine does not implement is refused by name.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { loadCheckpoint } from '../../src/model/checkpoint.js';
import { LensError } from '../../src/model/errors.js';
import { LlamaRunner } from '../../src/llm/runner.js';
import { writeSyntheticAdapter, writeSyntheticCheckpoint, type SyntheticAdapterOptions, type SyntheticCheckpointOptions } from '../../src/model/synthetic.js';
import { buildWordList } from '../../src/explain/wordlist.js';
import { analyzeHeadsGlobal } from '../../src/explain/heads.js';
import { analyzeFfnGlobal } from '../../src/explain/ffn.js';
import { loadReferenceModel, referenceForward, referenceGreedy } from '../reference/llama64.js';
import { loadMergedReferenceModel } from '../reference/lora64.js';
import { referenceFfn, referenceHeads } from '../reference/analysis64.js';
import { finiteDifferences } from '../support/finite-differences.js';
import { assertClose, flatten } from '../support/compare.js';
import { tempDir } from '../support/temp.js';

const root = tempDir();
const TOLERANCE = 1e-4;
const PROMPT_IDS = [5, 300, 17, 42, 260, 99, 3, 1, 77, 128, 200, 64];
let counter = 0;

async function pair(base: SyntheticCheckpointOptions, adapter: Omit<SyntheticAdapterOptions, 'base'> = {}): Promise<{ baseDir: string; adapterDir: string }> {
  const n = counter++;
  const baseDir = join(root, `base${n}`);
  const adapterDir = join(root, `adapter${n}`);
  await writeSyntheticCheckpoint(baseDir, { preset: 'tiny', seed: 40 + n, ...base });
  await writeSyntheticAdapter(adapterDir, { base: { preset: 'tiny', ...base }, baseModelNameOrPath: baseDir, seed: 70 + n, ...adapter });
  return { baseDir, adapterDir };
}

function assertLensError(fn: () => unknown, ...fragments: string[]): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof LensError, `expected a LensError, got ${(e as Error)?.stack ?? e}`);
    for (const f of fragments) assert.ok(e.message.includes(f), `message ${JSON.stringify(e.message)} lacks ${JSON.stringify(f)}`);
    return true;
  });
}

const VARIANTS: Record<string, [SyntheticCheckpointOptions, Omit<SyntheticAdapterOptions, 'base'>]> = {
  'llama base, every projection, r 4, alpha 8': [{}, {}],
  'qwen3 base (BF16), rsLoRA r 8, attention only, BF16 adapter': [{ architecture: 'Qwen3ForCausalLM', dtype: 'BF16' }, { rank: 8, alpha: 16, useRslora: true, targetModules: ['q_proj', 'v_proj', 'o_proj'], dtype: 'BF16' }],
  'olmo2 base, MLP only': [{ architecture: 'Olmo2ForCausalLM' }, { targetModules: ['gate_proj', 'up_proj', 'down_proj'] }],
  'llama base, modules_to_save lm_head + embed_tokens, vocabulary resized 4096 → 4160': [{}, { modulesToSave: ['lm_head', 'embed_tokens'], resizedVocab: 4160 }],
  'tied qwen2 base, modules_to_save embed_tokens (tied head follows)': [{ architecture: 'Qwen2ForCausalLM', tieWordEmbeddings: true }, { modulesToSave: ['embed_tokens'], targetModules: ['k_proj', 'down_proj'] }],
};

describe('LoRA adapter in the graph against the float64 merged weights (cpu fp32)', () => {
  for (const [name, [base, adapter]] of Object.entries(VARIANTS)) {
    it(name, async (t) => {
      const { baseDir, adapterDir } = await pair(base, adapter);
      const checkpoint = loadCheckpoint(adapterDir);
      assert.ok(checkpoint.adapter);
      assert.equal(checkpoint.adapter.baseDir, baseDir);
      const merged = loadMergedReferenceModel(baseDir, adapterDir);
      assert.equal(checkpoint.config.vocabSize, merged.config.vocabSize);
      const runner = new LlamaRunner(checkpoint, { provider: 'cpu' });
      try {
        const ids = PROMPT_IDS.map((id) => (id * 13) % checkpoint.config.vocabSize);
        if (adapter.resizedVocab) ids.push(checkpoint.config.vocabSize - 1); // a new token
        const expected = referenceForward(merged, ids, { attentions: true, ffn: true });
        const actual = await runner.forward(ids, { attentions: true, ffn: true });
        const logits = assertClose(actual.logits, flatten(expected.logits), TOLERANCE, `${name}: logits`);
        for (let l = 0; l < checkpoint.config.numLayers; l++) {
          assertClose(actual.attentions![l]!, flatten(expected.attentions![l]!.flat()), TOLERANCE, `${name}: attentions ${l}`);
          assertClose(actual.ffn![l]!, flatten(expected.ffn![l]!), TOLERANCE, `${name}: ffn ${l}`);
        }
        // The adapter must change the model (else the check above would not test it).
        if (!adapter.resizedVocab) {
          const plain = flatten(referenceForward(loadReferenceModel(baseDir), ids).logits);
          const change = Math.max(...plain.map((v, i) => Math.abs(v - actual.logits[i]!)));
          assert.ok(change > 100 * logits.maxAbsDiff, `${name}: the adapter changes the logits by ${change}`);
        }
        t.diagnostic(`logits max|Δ|/max|ref| ${(logits.maxAbsDiff / logits.maxRef).toExponential(2)}`);
        const generated = await runner.generate(ids, { maxNewTokens: 16 });
        assert.deepEqual(generated, referenceGreedy(merged, ids, 16, checkpoint.tokenizer.eosTokenIds), `${name}: greedy generation`);
      } finally {
        await runner.dispose();
      }
    });
  }

  it('attribution of the adapted model against central differences of the merged float64 model', async (t) => {
    const { baseDir, adapterDir } = await pair({ vocabSize: 512 }, { rank: 2, alpha: 4 });
    const runner = new LlamaRunner(loadCheckpoint(adapterDir), { provider: 'cpu' });
    try {
      const ids = [7, 100, 33, 250, 9, 401, 12, 77, 300, 5];
      const promptLength = 6;
      const got = await runner.attribute(ids, promptLength);
      const expected = finiteDifferences(loadMergedReferenceModel(baseDir, adapterDir), ids, promptLength, false);
      const S = ids.length;
      const actual: number[] = [];
      const want: number[] = [];
      for (let i = 0; i < promptLength; i++) {
        for (let j = 0; j < S - promptLength; j++) {
          actual.push(got.raw[j * S + i]!);
          want.push(expected[i]![j]!);
        }
      }
      const { maxAbsDiff, maxRef } = assertClose(actual, want, TOLERANCE, 'adapter raw attribution');
      t.diagnostic(`max|Δ|/max|ref| ${(maxAbsDiff / maxRef).toExponential(2)}`);
    } finally {
      await runner.dispose();
    }
  });

  it('heads and FFN read the merged W_q, W_k and down_proj', async () => {
    const { baseDir, adapterDir } = await pair({ architecture: 'Qwen3ForCausalLM' }, { rank: 4, alpha: 32 });
    const checkpoint = loadCheckpoint(adapterDir);
    const list = await buildWordList(checkpoint);
    const merged = loadMergedReferenceModel(baseDir, adapterDir);
    const noCache = { cache: { enabled: false }, provider: 'cpu' as const };
    const heads = await analyzeHeadsGlobal(checkpoint, list, { topK: 30, dims: 4, baselineWords: 300, layers: [1] }, noCache);
    const refHeads = referenceHeads(merged, list.tokens, { topK: 30, dims: 4, baseline: 300, layers: [1] });
    const refBase = referenceHeads(loadReferenceModel(baseDir), list.tokens, { topK: 30, dims: 4, baseline: 300, layers: [1] });
    const ranked = (layers: { dim: number; pairs: string[] }[][]) => JSON.stringify(layers);
    const actualHeads = heads.layers[0]!.heads.map((h) => h.dims.map((d) => ({ dim: d.dim, pairs: d.pairs.map((p) => `${p.query}→${p.key}`) })));
    const named = (ref: typeof refHeads) => ref.layers[0]!.map((h) => h.map((d) => ({ dim: d.dim, pairs: d.pairs.map((p) => `${list.words[p.q]}→${list.words[p.k]}`) })));
    assert.deepEqual(actualHeads, named(refHeads));
    assert.ok(actualHeads.flat().some((d) => d.pairs.length > 0));
    assert.notEqual(ranked(named(refBase)), ranked(named(refHeads)), 'the adapter changes the heads');
    const ffn = await analyzeFfnGlobal(checkpoint, list, { components: 6, wordsPerComponent: 10, layers: [0] }, noCache);
    const refFfn = referenceFfn(merged, list.tokens, { components: 6, words: 10, layers: [0] });
    const refFfnBase = referenceFfn(loadReferenceModel(baseDir), list.tokens, { components: 6, words: 10, layers: [0] });
    assert.deepEqual(ffn.layers[0]!.components.map((c) => c.words), refFfn[0]!.words.map((w) => w.indices.map((i) => list.words[i])));
    assert.notDeepEqual(refFfn[0]!.words, refFfnBase[0]!.words, 'the adapter changes the FFN concepts');
  });
});

describe('LoRA adapter folders: base resolution and refusals by name', () => {
  it('the base is base_model_name_or_path (a hub id in the local cache), else the given base; neither is an error naming the field', async () => {
    const { baseDir, adapterDir } = await pair({});
    const hub = join(root, 'hub');
    const snapshot = join(hub, 'models--org--tiny', 'snapshots', 'abc');
    mkdirSync(join(hub, 'models--org--tiny', 'refs'), { recursive: true });
    mkdirSync(join(hub, 'models--org--tiny', 'snapshots'), { recursive: true });
    symlinkSync(baseDir, snapshot);
    writeFileSync(join(hub, 'models--org--tiny', 'refs', 'main'), 'abc');
    const config = JSON.parse(readFileSync(join(adapterDir, 'adapter_config.json'), 'utf8'));
    writeFileSync(join(adapterDir, 'adapter_config.json'), JSON.stringify({ ...config, base_model_name_or_path: 'org/tiny' }));
    const viaHub = loadCheckpoint(adapterDir, { HF_HUB_CACHE: hub });
    assert.equal(viaHub.adapter!.baseSpec, 'org/tiny');
    assert.equal(viaHub.adapter!.modules.size, 2 * 7);
    writeFileSync(join(adapterDir, 'adapter_config.json'), JSON.stringify({ ...config, base_model_name_or_path: null }));
    assertLensError(() => loadCheckpoint(adapterDir), 'adapter_config.json', "'base_model_name_or_path'");
    assert.equal(loadCheckpoint(adapterDir, process.env, { adapterBase: baseDir }).adapter!.baseDir, baseDir);
    writeFileSync(join(adapterDir, 'adapter_config.json'), JSON.stringify({ ...config, base_model_name_or_path: 'org/absent' }));
    assertLensError(() => loadCheckpoint(adapterDir, { HF_HUB_CACHE: hub }), 'adapter_config.json', 'org/absent');
    assert.equal(loadCheckpoint(adapterDir, { HF_HUB_CACHE: hub }, { adapterBase: baseDir }).adapter!.baseSpec, baseDir);
  });

  it('DoRA, other adapter types and variants are refused by name', async () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ use_dora: true }, "'use_dora'"],
      [{ peft_type: 'IA3' }, 'peft_type "IA3"'],
      [{ peft_type: 'LOHA' }, 'peft_type "LOHA"'],
      [{ peft_type: 'ADALORA' }, 'peft_type "ADALORA"'],
      [{ fan_in_fan_out: true }, "'fan_in_fan_out'"],
      [{ rank_pattern: { q_proj: 8 } }, "'rank_pattern'"],
      [{ alpha_pattern: { q_proj: 8 } }, "'alpha_pattern'"],
      [{ bias: 'all' }, "'bias'"],
      [{ lora_bias: true }, "'lora_bias'"],
      [{ r: 0 }, "'r'"],
      [{ r: 8 }, 'rank 4'],
    ];
    const { adapterDir } = await pair({});
    const config = JSON.parse(readFileSync(join(adapterDir, 'adapter_config.json'), 'utf8'));
    for (const [fields, fragment] of cases) {
      writeFileSync(join(adapterDir, 'adapter_config.json'), JSON.stringify({ ...config, ...fields }));
      assertLensError(() => loadCheckpoint(adapterDir), 'adapter_config', fragment);
    }
  });

  it('adapter tensors the engine cannot apply are refused by name', async () => {
    const dora = await pair({}, { extraConfig: {} });
    // A DoRA magnitude vector, LoRA on the embedding, a module the base lacks, a half pair: written by hand.
    const { writeSafetensorsFile } = await import('../../src/model/synthetic/safetensors-writer.js');
    const write = (tensors: [string, number[]][]) =>
      writeSafetensorsFile(join(dora.adapterDir, 'adapter_model.safetensors'), tensors.map(([name, shape]) => ({ name, dtype: 'F32' as const, shape, produce: (out: Float32Array) => out.fill(0.01) })));
    const p = 'base_model.model.model.layers.0.self_attn.q_proj';
    await write([[`${p}.lora_A.weight`, [4, 64]], [`${p}.lora_B.weight`, [64, 4]], [`${p}.lora_magnitude_vector`, [64]]]);
    assertLensError(() => loadCheckpoint(dora.adapterDir), 'adapter_model.safetensors', 'DoRA');
    await write([['base_model.model.model.embed_tokens.lora_embedding_A', [4, 4096]]]);
    assertLensError(() => loadCheckpoint(dora.adapterDir), 'adapter_model.safetensors', 'embedding');
    await write([['base_model.model.model.layers.0.self_attn.rotary.lora_A.weight', [4, 64]]]);
    assertLensError(() => loadCheckpoint(dora.adapterDir), 'adapter_model.safetensors', "'model.layers.0.self_attn.rotary'");
    await write([[`${p}.lora_A.weight`, [4, 64]]]);
    assertLensError(() => loadCheckpoint(dora.adapterDir), 'adapter_model.safetensors', 'no lora_B');
    // Phi-3's fused projections are read as row ranges; a LoRA pair on the fused matrix is refused by name.
    const phi = await pair({ architecture: 'Phi3ForCausalLM' }, { targetModules: [] });
    await writeSafetensorsFile(join(phi.adapterDir, 'adapter_model.safetensors'), [
      { name: 'base_model.model.model.layers.0.self_attn.qkv_proj.lora_A.weight', dtype: 'F32', shape: [4, 64], produce: (out: Float32Array) => out.fill(0.01) },
      { name: 'base_model.model.model.layers.0.self_attn.qkv_proj.lora_B.weight', dtype: 'F32', shape: [128, 4], produce: (out: Float32Array) => out.fill(0.01) },
    ]);
    assertLensError(() => loadCheckpoint(phi.adapterDir), 'adapter_model.safetensors', "'model.layers.0.self_attn.qkv_proj'");
    await write([[`${p}.lora_A.weight`, [4, 64]], [`${p}.lora_B.weight`, [32, 4]]]);
    assertLensError(() => loadCheckpoint(dora.adapterDir), 'adapter_model.safetensors', 'do not fit');
    await write([['base_model.model.lm_head.weight', [4000, 64]]]);
    assertLensError(() => loadCheckpoint(dora.adapterDir), 'adapter_model.safetensors', 'model.embed_tokens.weight');
    rmSync(join(dora.adapterDir, 'adapter_model.safetensors'));
    writeFileSync(join(dora.adapterDir, 'adapter_model.bin'), 'x');
    assertLensError(() => loadCheckpoint(dora.adapterDir), 'adapter_model.bin');
  });
});

describe('LoRA adapter through the CLI (dist/cli.js)', () => {
  const cli = join(__dirname, '..', '..', 'dist', 'cli.js');
  const run = (...args: string[]) => spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', env: { ...process.env, INSTRUCTION_LENS_CACHE: join(root, 'cache') } });

  it('info names the family and the adapter; compare takes --tuned ADAPTER over --base when the adapter names no base here', async () => {
    const { baseDir, adapterDir } = await pair({ architecture: 'Qwen3ForCausalLM' });
    const info = run('info', '--model', adapterDir);
    assert.equal(info.status, 0, info.stderr);
    assert.match(info.stdout, /Qwen3ForCausalLM/);
    assert.match(info.stdout, /q_norm, k_norm/);
    assert.match(info.stdout, /LoRA r=4 alpha=8 on 14 modules/);
    const config = JSON.parse(readFileSync(join(adapterDir, 'adapter_config.json'), 'utf8'));
    writeFileSync(join(adapterDir, 'adapter_config.json'), JSON.stringify({ ...config, base_model_name_or_path: null }));
    const out = join(root, 'compare.json');
    const compare = run('compare', '--base', baseDir, '--tuned', adapterDir, '--prompt', 'Write a poem about the sea.', '--max-new-tokens', '4', '--provider', 'cpu', '--json', out);
    assert.equal(compare.status, 0, compare.stderr);
    const report = JSON.parse(readFileSync(out, 'utf8'));
    // The tuned side is the adapted model: its greedy tokens are the float64 merged model's.
    const merged = loadMergedReferenceModel(baseDir, adapterDir);
    const ids: number[] = report.tuned.inputIds;
    const promptEnd: number = report.tuned.responseSpan[0];
    assert.deepEqual(ids.slice(promptEnd), referenceGreedy(merged, ids.slice(0, promptEnd), ids.length - promptEnd, []));
    // And its probabilities p(y_j) are the merged model's, not the base's.
    const probabilities = (model: ReturnType<typeof loadReferenceModel>) => {
      const { logits } = referenceForward(model, ids);
      return ids.slice(promptEnd).map((y, j) => {
        const row = logits[promptEnd + j - 1]!;
        const max = Math.max(...row);
        return Math.exp(row[y]! - max) / row.reduce((a, v) => a + Math.exp(v - max), 0);
      });
    };
    assertClose(report.tuned.probabilities, probabilities(merged), TOLERANCE, 'tuned p(y_j)');
    const base = probabilities(loadReferenceModel(baseDir));
    assert.ok(base.some((p, j) => Math.abs(p - report.tuned.probabilities[j]) > 1e-3), 'the adapter changes p(y_j)');
    const lonely = run('info', '--model', adapterDir);
    assert.notEqual(lonely.status, 0);
    assert.match(lonely.stderr, /adapter_config\.json: field 'base_model_name_or_path' is missing/);
  });
});
