import assert from 'node:assert/strict';
import { cpSync, readFileSync, rmSync, writeFileSync, mkdirSync, symlinkSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { loadCheckpoint } from '../../src/model/checkpoint.js';
import { LensError } from '../../src/model/errors.js';
import { resolveModelPath } from '../../src/model/hub.js';
import { encodePrompt } from '../../src/model/prompt.js';
import { LlamaRunner } from '../../src/llm/runner.js';
import { generate, inspect } from '../../src/engine/operations.js';
import { ModelPool } from '../../src/engine/model-pool.js';
import { writeSyntheticCheckpoint } from '../../src/model/synthetic.js';
import { editSafetensorsHeader, setHeaderLength } from '../support/safetensors-edit.js';
import { tempDir } from '../support/temp.js';

const root = tempDir();
const pristine = join(root, 'pristine');
let counter = 0;

/** A fresh copy of a valid tiny checkpoint, to break in one way. */
function copy(): string {
  const dir = join(root, `case${counter++}`);
  cpSync(pristine, dir, { recursive: true });
  return dir;
}

/** Asserts a LensError whose message mentions each fragment (file names, the problem). */
function assertLensError(fn: () => unknown, ...fragments: (string | RegExp)[]): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof LensError, `expected a LensError, got ${(e as Error)?.stack ?? e}`);
    for (const f of fragments) {
      if (typeof f === 'string') assert.ok(e.message.includes(f), `message ${JSON.stringify(e.message)} lacks ${JSON.stringify(f)}`);
      else assert.match(e.message, f);
    }
    return true;
  });
}

async function assertRejectsLens(promise: Promise<unknown>, ...fragments: string[]): Promise<void> {
  await assert.rejects(promise, (e: unknown) => {
    assert.ok(e instanceof LensError, `expected a LensError, got ${(e as Error)?.stack ?? e}`);
    for (const f of fragments) assert.ok(e.message.includes(f), `message ${JSON.stringify(e.message)} lacks ${JSON.stringify(f)}`);
    return true;
  });
}

before(async () => {
  await writeSyntheticCheckpoint(pristine, { preset: 'tiny', seed: 3 });
});

describe('checkpoint errors name the file and the problem', () => {
  it('loads the pristine checkpoint', () => {
    const c = loadCheckpoint(pristine);
    assert.equal(c.config.architecture, 'LlamaForCausalLM');
    assert.ok(c.weightBytes > 0);
  });

  it('safetensors header over 100 MB', () => {
    const dir = copy();
    setHeaderLength(join(dir, 'model.safetensors'), 200n * 1024n * 1024n);
    assertLensError(() => loadCheckpoint(dir), 'model.safetensors', 'over the');
  });

  it('safetensors header past the end of the file', () => {
    const dir = copy();
    const file = join(dir, 'model.safetensors');
    setHeaderLength(file, BigInt(readFileSync(file).length));
    assertLensError(() => loadCheckpoint(dir), 'model.safetensors', 'truncated');
  });

  it('safetensors header with invalid JSON', () => {
    const dir = copy();
    const file = join(dir, 'model.safetensors');
    const bytes = readFileSync(file);
    bytes.write('{{{', 8);
    writeFileSync(file, bytes);
    assertLensError(() => loadCheckpoint(dir), 'model.safetensors', 'not valid JSON');
  });

  it('config.json with invalid JSON', () => {
    const dir = copy();
    writeFileSync(join(dir, 'config.json'), '{"hidden_size": 64,');
    assertLensError(() => loadCheckpoint(dir), 'config.json', 'invalid JSON');
  });

  it('tensor offsets outside the data section', () => {
    const dir = copy();
    editSafetensorsHeader(join(dir, 'model.safetensors'), (h) => {
      const t = h['model.norm.weight'] as { data_offsets: [number, number] };
      t.data_offsets = [t.data_offsets[0] + 1e9, t.data_offsets[1] + 1e9];
    });
    assertLensError(() => loadCheckpoint(dir), 'model.safetensors', "'model.norm.weight'", 'outside the data section');
  });

  it('overlapping tensors', () => {
    const dir = copy();
    editSafetensorsHeader(join(dir, 'model.safetensors'), (h) => {
      const a = h['model.norm.weight'] as { data_offsets: [number, number] };
      const b = h['model.layers.0.input_layernorm.weight'] as { data_offsets: [number, number] };
      b.data_offsets = [a.data_offsets[0] + 4, a.data_offsets[1] + 4];
    });
    assertLensError(() => loadCheckpoint(dir), 'model.safetensors', 'overlap');
  });

  it('byte length ≠ dtype × shape', () => {
    const dir = copy();
    editSafetensorsHeader(join(dir, 'model.safetensors'), (h) => {
      (h['model.norm.weight'] as { shape: number[] }).shape = [32];
    });
    assertLensError(() => loadCheckpoint(dir), "'model.norm.weight'", 'needs');
  });

  it('unknown dtype', () => {
    const dir = copy();
    editSafetensorsHeader(join(dir, 'model.safetensors'), (h) => {
      (h['model.norm.weight'] as { dtype: string }).dtype = 'F33';
    });
    assertLensError(() => loadCheckpoint(dir), 'model.safetensors', 'unknown dtype "F33"');
  });

  it('unsupported dtype is named', () => {
    const dir = copy();
    editSafetensorsHeader(join(dir, 'model.safetensors'), (h) => {
      const t = h['model.norm.weight'] as { dtype: string; shape: number[] };
      t.dtype = 'I32';
    });
    assertLensError(() => loadCheckpoint(dir), 'dtype I32 is not supported');
  });

  it('a tensor the config needs is missing', () => {
    const dir = copy();
    editSafetensorsHeader(join(dir, 'model.safetensors'), (h) => {
      delete h['model.layers.1.mlp.up_proj.weight'];
    });
    assertLensError(() => loadCheckpoint(dir), "lacks tensor 'model.layers.1.mlp.up_proj.weight'");
  });

  it('wrong shapes against config.json', () => {
    const dir = copy();
    const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
    config.intermediate_size += 8;
    writeFileSync(join(dir, 'config.json'), JSON.stringify(config));
    assertLensError(() => loadCheckpoint(dir), 'model.safetensors', 'gate_proj', 'config.json implies');
  });

  it('unsupported architecture is refused by name', () => {
    const dir = copy();
    const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
    config.architectures = ['GPT2LMHeadModel'];
    writeFileSync(join(dir, 'config.json'), JSON.stringify(config));
    assertLensError(() => loadCheckpoint(dir), 'config.json', 'GPT2LMHeadModel is not supported');
  });

  it('families not implemented yet are refused by name', () => {
    for (const architecture of ['Gemma3ForConditionalGeneration', 'GraniteMoeForCausalLM', 'PhiMoEForCausalLM']) {
      const dir = copy();
      const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
      config.architectures = [architecture];
      writeFileSync(join(dir, 'config.json'), JSON.stringify(config));
      assertLensError(() => loadCheckpoint(dir), 'config.json', `${architecture} is not supported yet`);
    }
  });

  it('computation-changing fields the engine does not implement are refused by name', () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ clip_qkv: 8 }, "'clip_qkv'"],
      [{ pretraining_tp: 2 }, "'pretraining_tp'"],
      [{ sliding_window: 16 }, "'sliding_window'"], // Llama has none: not silently ignored
      [{ layer_types: ['full_attention'] }, "'layer_types'"],
      [{ mlp_bias: true }, 'mlp_bias'],
      [{ hidden_act: 'gelu' }, 'hidden_act'],
      [{ attn_logit_softcapping: 50 }, "'attn_logit_softcapping' is not part of LlamaForCausalLM"],
      [{ final_logit_softcapping: 30 }, "'final_logit_softcapping'"],
      [{ query_pre_attn_scalar: 256 }, "'query_pre_attn_scalar'"],
      [{ architectures: ['Gemma2ForCausalLM'], hidden_activation: 'relu' }, 'hidden_activation "relu"'],
      [{ architectures: ['Gemma3ForCausalLM'], use_bidirectional_attention: true }, "'use_bidirectional_attention'"],
      [{ residual_multiplier: 0.2 }, "'residual_multiplier' is not part of LlamaForCausalLM"],
      [{ logits_scaling: 8 }, "'logits_scaling'"],
      [{ no_rope_layers: [1, 0] }, "'no_rope_layers' is not part of LlamaForCausalLM"],
      [{ architectures: ['SmolLM3ForCausalLM'], no_rope_layers: [1] }, "'no_rope_layers' must list"],
      [{ partial_rotary_factor: 0.5 }, "'partial_rotary_factor' is not part of LlamaForCausalLM"],
      [{ rope_scaling: { type: 'longrope', short_factor: [1], long_factor: [1] } }, 'longrope" is supported for Phi3ForCausalLM only'],
      [{ architectures: ['Phi3ForCausalLM'], rope_scaling: { type: 'longrope', short_factor: [1], long_factor: [1] } }, "'rope_scaling.short_factor' must list 8"],
      [{ architectures: ['Phi3ForCausalLM'], partial_rotary_factor: 0.1 }, 'partial_rotary_factor 0.1 gives 1 rotary dimensions'],
      [{ architectures: ['Phi3ForCausalLM'] }, "lacks tensor 'model.layers.0.self_attn.qkv_proj.weight'"],
    ];
    for (const [fields, name] of cases) {
      const dir = copy();
      const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
      writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...config, ...fields }));
      assertLensError(() => loadCheckpoint(dir), 'config.json', name);
    }
  });

  it('sliding windows are per layer and do not limit the context', () => {
    const dir = copy();
    const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...config, architectures: ['MistralForCausalLM'], sliding_window: 8 }));
    const mistral = loadCheckpoint(dir);
    assert.deepEqual(mistral.config.layerWindows, [8, 8]);
    assert.equal(mistral.contextLength, config.max_position_embeddings);
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...config, architectures: ['Qwen2ForCausalLM'], attention_bias: undefined, use_sliding_window: true, sliding_window: 8, max_window_layers: 1 }));
    assert.throws(() => loadCheckpoint(dir), /q_proj.bias/); // Qwen2 has q/k/v biases; the window parses first
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...config, architectures: ['MistralForCausalLM'], sliding_window: 8, layer_types: ['sliding_attention', 'full_attention'] }));
    assert.deepEqual(loadCheckpoint(dir).config.layerWindows, [8, null]);
  });

  it('unsupported rope scaling is refused by name', () => {
    const dir = copy();
    const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
    config.rope_scaling = { rope_type: 'yarn', factor: 4 };
    writeFileSync(join(dir, 'config.json'), JSON.stringify(config));
    assertLensError(() => loadCheckpoint(dir), 'config.json', 'yarn');
  });

  it('missing tokenizer.json', () => {
    const dir = copy();
    rmSync(join(dir, 'tokenizer.json'));
    assertLensError(() => loadCheckpoint(dir), 'tokenizer.json', 'missing');
  });

  it('tokenizer.json that is not a tokenizer', () => {
    const dir = copy();
    writeFileSync(join(dir, 'tokenizer.json'), '{"model": 3}');
    assertLensError(() => loadCheckpoint(dir), 'tokenizer.json');
  });

  it('no weights at all', () => {
    const dir = copy();
    rmSync(join(dir, 'model.safetensors'));
    assertLensError(() => loadCheckpoint(dir), 'no model.safetensors');
  });

  it('a missing folder', () => {
    assertLensError(() => loadCheckpoint(join(root, 'nowhere')), 'not found', 'nowhere');
  });

  it('a hub id absent from the cache', () => {
    const cache = join(root, 'empty-cache');
    mkdirSync(cache, { recursive: true });
    assertLensError(() => resolveModelPath('someorg/absent-model', { HF_HUB_CACHE: cache }), "'someorg/absent-model'", 'models--someorg--absent-model');
  });

  it('an empty prompt', async () => {
    const checkpoint = loadCheckpoint(pristine);
    await assertRejectsLens(encodePrompt(checkpoint, '   \n'), 'empty');
  });

  it('a prompt longer than the context', async () => {
    const pool = new ModelPool({ provider: 'cpu' });
    try {
      const context = loadCheckpoint(pristine).contextLength;
      const prompt = Array.from({ length: context + 10 }, (_, i) => `w${i}`).join(' ');
      await assertRejectsLens(generate(pool, { model: pristine, prompt }), 'context', String(context));
      await assertRejectsLens(inspect(pool, { model: pristine, prompt }), 'context');
    } finally {
      await pool.dispose();
    }
  });
});

describe('Hugging Face cache', () => {
  it('resolves a hub id through refs/main and symlinked blobs, and runs it', async () => {
    const cache = join(root, 'hf-cache');
    const repo = join(cache, 'models--acme--tiny-llama');
    const blobs = join(repo, 'blobs');
    const snapshot = join(repo, 'snapshots', 'abc123');
    mkdirSync(blobs, { recursive: true });
    mkdirSync(snapshot, { recursive: true });
    mkdirSync(join(repo, 'refs'), { recursive: true });
    writeFileSync(join(repo, 'refs', 'main'), 'abc123\n');
    for (const name of readdirSync(pristine)) {
      cpSync(join(pristine, name), join(blobs, `sha-${name}`));
      symlinkSync(join('..', '..', 'blobs', `sha-${name}`), join(snapshot, name));
    }
    const env = { HF_HUB_CACHE: cache };
    assert.equal(resolveModelPath('acme/tiny-llama', env), snapshot);
    const checkpoint = loadCheckpoint('acme/tiny-llama', env);
    assert.equal(checkpoint.weightsRoot, blobs);
    const direct = new LlamaRunner(loadCheckpoint(pristine), { provider: 'cpu' });
    const viaCache = new LlamaRunner(checkpoint, { provider: 'cpu' });
    try {
      const a = await direct.forward([1, 2, 3]);
      const b = await viaCache.forward([1, 2, 3]);
      assert.deepEqual(Array.from(b.logits), Array.from(a.logits));
    } finally {
      await direct.dispose();
      await viaCache.dispose();
    }
  });

  it('HF_HOME and the default location', async () => {
    const { huggingFaceCacheDir } = await import('../../src/model/hub.js');
    assert.equal(huggingFaceCacheDir({ HF_HUB_CACHE: '/x/hub' }), '/x/hub');
    assert.equal(huggingFaceCacheDir({ HF_HOME: '/y' }), '/y/hub');
    assert.match(huggingFaceCacheDir({}), /\.cache\/huggingface\/hub$/);
  });
});
