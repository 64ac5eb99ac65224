// Tests for the synthetic-checkpoint factory (src/model/synthetic.ts): the files must be what a
// Hugging Face model folder holds, to the byte where a spec says so, and the model they describe
// must behave like a language model rather than a constant function.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Tokenizer } from 'tokenizers';
import { Template } from '@huggingface/jinja';
import {
  SYNTHETIC_PRESETS,
  syntheticConfig,
  writeSyntheticCheckpoint,
  writeSyntheticTokenizer,
  type SyntheticCheckpointOptions,
} from '../../src/model/synthetic';
import { float32ToBf16Bits, float32ToF16Bits } from '../../src/model/synthetic/safetensors-writer';
import { orderedWords } from '../../src/model/synthetic/words';
import { naturalVocabSize } from '../../src/model/synthetic/tokenizer-builder';
import { readCheckpointTensors64 } from '../reference/safetensors64';
import { argmax, loadReferenceModel, referenceForward, referenceGreedy } from '../reference/llama64';

const root = mkdtempSync(join(tmpdir(), 'synthetic-test-'));
process.on('exit', () => rmSync(root, { recursive: true, force: true }));
let dirCount = 0;
const freshDir = () => join(root, `ck${dirCount++}`);

async function write(options: SyntheticCheckpointOptions = {}) {
  const dir = freshDir();
  return writeSyntheticCheckpoint(dir, options);
}

const readJson = (path: string) => JSON.parse(readFileSync(path, 'utf8')) as Record<string, any>;

interface HeaderEntry {
  dtype: string;
  shape: number[];
  data_offsets: [number, number];
}

/** Parses a safetensors file by the spec, independently of the writer. */
function parseSafetensors(path: string) {
  const buf = readFileSync(path);
  const n = Number(buf.readBigUInt64LE(0));
  const json = buf.subarray(8, 8 + n).toString('utf8');
  const header = JSON.parse(json) as Record<string, unknown>;
  const { __metadata__: metadata, ...rest } = header;
  return { n, json, metadata: metadata as Record<string, string>, entries: rest as Record<string, HeaderEntry>, dataBytes: buf.length - 8 - n, buf };
}

const DTYPE_SIZE: Record<string, number> = { F32: 4, F16: 2, BF16: 2 };

/** What the tensor shapes must be for a config.json, written out from the HF modelling code. */
function expectedShapes(config: Record<string, any>): Map<string, number[]> {
  const H = config.hidden_size, I = config.intermediate_size, V = config.vocab_size;
  const d = config.head_dim ?? H / config.num_attention_heads;
  const q = config.num_attention_heads * d, kv = config.num_key_value_heads * d;
  const qkvBias = config.model_type === 'qwen2' || config.attention_bias === true;
  const oBias = config.model_type === 'llama' && config.attention_bias === true;
  const m = new Map<string, number[]>([['model.embed_tokens.weight', [V, H]], ['model.norm.weight', [H]]]);
  if (!config.tie_word_embeddings) m.set('lm_head.weight', [V, H]);
  for (let i = 0; i < config.num_hidden_layers; i++) {
    const p = `model.layers.${i}.`;
    m.set(p + 'input_layernorm.weight', [H]);
    m.set(p + 'post_attention_layernorm.weight', [H]);
    m.set(p + 'self_attn.q_proj.weight', [q, H]);
    m.set(p + 'self_attn.k_proj.weight', [kv, H]);
    m.set(p + 'self_attn.v_proj.weight', [kv, H]);
    m.set(p + 'self_attn.o_proj.weight', [H, q]);
    if (qkvBias) {
      m.set(p + 'self_attn.q_proj.bias', [q]);
      m.set(p + 'self_attn.k_proj.bias', [kv]);
      m.set(p + 'self_attn.v_proj.bias', [kv]);
    }
    if (oBias) m.set(p + 'self_attn.o_proj.bias', [H]);
    m.set(p + 'mlp.gate_proj.weight', [I, H]);
    m.set(p + 'mlp.up_proj.weight', [I, H]);
    m.set(p + 'mlp.down_proj.weight', [H, I]);
  }
  return m;
}

/** Checks one file against the spec; returns its tensors in data order. */
function checkSafetensorsFile(path: string, dtype: string): [string, HeaderEntry][] {
  const { n, json, metadata, entries, dataBytes } = parseSafetensors(path);
  assert.equal((8 + n) % 8, 0, 'data section starts 8-byte aligned');
  assert.match(json, /^\{.*\} *$/s, 'header is JSON padded with spaces only');
  assert.deepEqual(metadata, { format: 'pt' });
  const ordered = Object.entries(entries).sort((a, b) => a[1].data_offsets[0] - b[1].data_offsets[0]);
  let offset = 0;
  for (const [name, e] of ordered) {
    assert.equal(e.dtype, dtype, name);
    assert.equal(e.data_offsets[0], offset, `${name} starts where the previous tensor ended`);
    assert.equal(e.data_offsets[1] - e.data_offsets[0], e.shape.reduce((a, b) => a * b, 1) * DTYPE_SIZE[dtype]!, `${name} byte size`);
    offset = e.data_offsets[1];
  }
  assert.equal(offset, dataBytes, 'tensors fill the data section exactly');
  return ordered;
}

function sha256(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

function folderHashes(dir: string): Record<string, string> {
  return Object.fromEntries(readdirSync(dir).sort().map((f) => [f, sha256(join(dir, f))]));
}

// ---------------------------------------------------------------------------------------------

test('tiny checkpoint: the files of a Hugging Face model folder, config with HF names', async () => {
  const ck = await write();
  assert.deepEqual(readdirSync(ck.dir).sort(), ['config.json', 'generation_config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json']);
  const config = readJson(join(ck.dir, 'config.json'));
  assert.deepEqual(config, ck.config);
  assert.deepEqual(config.architectures, ['LlamaForCausalLM']);
  const p = SYNTHETIC_PRESETS.tiny;
  assert.equal(config.model_type, 'llama');
  assert.equal(config.hidden_size, p.hiddenSize);
  assert.equal(config.intermediate_size, p.intermediateSize);
  assert.equal(config.num_hidden_layers, p.numLayers);
  assert.equal(config.num_attention_heads, p.numHeads);
  assert.equal(config.num_key_value_heads, p.numKvHeads);
  assert.equal(config.vocab_size, p.vocabSize);
  assert.equal(config.max_position_embeddings, 256);
  assert.equal(config.rope_theta, 10000);
  assert.equal(config.rms_norm_eps, 1e-5);
  assert.equal(config.rope_scaling, null);
  assert.equal(config.tie_word_embeddings, false);
  assert.equal(config.torch_dtype, 'float32');
  assert.equal(config.hidden_act, 'silu');
  assert.equal(config.attention_bias, false);
  assert.equal('head_dim' in config, false, 'head_dim only when given');
  const generation = readJson(join(ck.dir, 'generation_config.json'));
  assert.deepEqual(generation, { bos_token_id: config.bos_token_id, eos_token_id: config.eos_token_id });
  const tokConfig = readJson(join(ck.dir, 'tokenizer_config.json'));
  assert.equal(tokConfig.add_bos_token, false);
  assert.equal(tokConfig.model_max_length, 256);
  assert.equal(tokConfig.bos_token, '<|im_start|>');
  assert.equal(tokConfig.eos_token, '<|im_end|>');
  const tok = Tokenizer.fromFile(join(ck.dir, 'tokenizer.json'));
  assert.equal(tok.tokenToId(tokConfig.bos_token), config.bos_token_id);
  assert.equal(tok.tokenToId(tokConfig.eos_token), config.eos_token_id);
});

test('safetensors header follows the spec: aligned, contiguous offsets, dtype sizes, shapes per config', async () => {
  for (const dtype of ['F32', 'F16', 'BF16'] as const) {
    const ck = await write({ dtype });
    const ordered = checkSafetensorsFile(join(ck.dir, 'model.safetensors'), dtype);
    assert.deepEqual(ordered.map(([name]) => name), ck.tensorNames, 'data in the reported order');
    const expected = expectedShapes(ck.config);
    assert.deepEqual(new Map(ordered.map(([name, e]) => [name, e.shape])), expected);
    assert.equal(ck.weightBytes, ordered.at(-1)![1].data_offsets[1]);
    assert.equal(ck.config.torch_dtype, { F32: 'float32', F16: 'float16', BF16: 'bfloat16' }[dtype]);
  }
});

test('half-precision conversion of known values, against hand-computed bit patterns', () => {
  const f16: [number, number][] = [
    [1.0, 0x3c00], [-2.5, 0xc100], [65504, 0x7bff], [65519, 0x7bff], [65520, 0x7c00], [1e6, 0x7c00],
    [0.1, 0x2e66], [0, 0x0000], [-0, 0x8000], [1e-8, 0x0000], [-1e-8, 0x8000],
    [6e-8, 0x0001], [1e-5, 0x00a8], [6.103515625e-5, 0x0400], // subnormals and the smallest normal
    [1 + 2 ** -11, 0x3c00], [1 + 3 * 2 ** -11, 0x3c02], // ties go to even
    [Infinity, 0x7c00], [-Infinity, 0xfc00], [NaN, 0x7e00],
  ];
  for (const [x, bits] of f16) assert.equal(float32ToF16Bits(x), bits, `f16(${x})`);
  const bf16: [number, number][] = [
    [1.0, 0x3f80], [-2.5, 0xc020], [65504, 0x4780], [0.1, 0x3dcd], [1e-8, 0x322c], [0, 0x0000], [-0, 0x8000],
    [1.00390625, 0x3f80], [1.01171875, 0x3f82], // 0x3f808000 and 0x3f818000: ties go to even
    [3.4028234663852886e38, 0x7f80], // float32 max rounds up to infinity
    [Infinity, 0x7f80], [-Infinity, 0xff80], [NaN, 0x7fc0],
  ];
  for (const [x, bits] of bf16) assert.equal(float32ToBf16Bits(x), bits, `bf16(${x})`);
});

test('F16 and BF16 checkpoints hold the F32 values, rounded', async () => {
  const f32 = readCheckpointTensors64((await write()).dir);
  for (const [dtype, tolerance] of [['F16', 2 ** -11], ['BF16', 2 ** -8]] as const) {
    const half = readCheckpointTensors64((await write({ dtype })).dir);
    for (const [name, t] of f32) {
      const h = half.get(name)!;
      for (let i = 0; i < t.data.length; i++) {
        const x = t.data[i]!;
        if (Math.abs(x - h.data[i]!) > tolerance * Math.abs(x) + 1e-7) assert.fail(`${dtype} ${name}[${i}]: ${h.data[i]} for ${x}`);
      }
    }
  }
});

test('sharded: index consistent with the shards, same tensors as unsharded', async () => {
  const single = await write();
  const ck = await write({ shards: 3 });
  const files = readdirSync(ck.dir).sort();
  const shardFiles = ['model-00001-of-00003.safetensors', 'model-00002-of-00003.safetensors', 'model-00003-of-00003.safetensors'];
  for (const f of shardFiles) assert.ok(files.includes(f), f);
  assert.ok(!files.includes('model.safetensors'));
  const index = readJson(join(ck.dir, 'model.safetensors.index.json'));
  let total = 0;
  const inFiles = new Map<string, string>();
  const order: string[] = [];
  for (const f of shardFiles) {
    const ordered = checkSafetensorsFile(join(ck.dir, f), 'F32');
    assert.ok(ordered.length > 0, `${f} is not empty`);
    total += parseSafetensors(join(ck.dir, f)).dataBytes;
    for (const [name] of ordered) {
      inFiles.set(name, f);
      order.push(name);
    }
  }
  assert.deepEqual(order, single.tensorNames, 'tensors distributed over the shards in order');
  assert.deepEqual(ck.tensorNames, single.tensorNames);
  assert.equal(index.metadata.total_size, total);
  assert.equal(ck.weightBytes, total);
  assert.equal(single.weightBytes, total);
  assert.deepEqual(new Map(Object.entries(index.weight_map)), inFiles);
  // Per-tensor seeding: sharding changes where the bytes are, not what they are.
  const a = parseSafetensors(join(single.dir, 'model.safetensors'));
  for (const f of shardFiles) {
    const s = parseSafetensors(join(ck.dir, f));
    for (const [name, e] of Object.entries(s.entries)) {
      const ae = a.entries[name]!;
      const bytes = (p: ReturnType<typeof parseSafetensors>, o: [number, number]) => p.buf.subarray(8 + p.n + o[0], 8 + p.n + o[1]);
      assert.ok(bytes(s, e.data_offsets).equals(bytes(a, ae.data_offsets)), name);
    }
  }
  // Rewriting the folder unsharded removes the shard layout instead of leaving two.
  await writeSyntheticCheckpoint(ck.dir, {});
  assert.deepEqual(readdirSync(ck.dir).sort(), ['config.json', 'generation_config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json']);
});

test('same seed gives identical bytes, another seed other weights', async () => {
  const a = await write({ seed: 7, dtype: 'BF16' });
  const b = await write({ seed: 7, dtype: 'BF16' });
  const c = await write({ seed: 8, dtype: 'BF16' });
  assert.deepEqual(folderHashes(a.dir), folderHashes(b.dir));
  const ha = folderHashes(a.dir), hc = folderHashes(c.dir);
  assert.notEqual(ha['model.safetensors'], hc['model.safetensors']);
  assert.equal(ha['tokenizer.json'], hc['tokenizer.json'], 'the tokenizer does not depend on the seed');
  assert.equal(ha['config.json'], hc['config.json']);
});

test('tied embeddings: no lm_head tensor', async () => {
  const ck = await write({ tieWordEmbeddings: true });
  assert.equal(ck.config.tie_word_embeddings, true);
  assert.ok(!ck.tensorNames.includes('lm_head.weight'));
  assert.ok(!('lm_head.weight' in parseSafetensors(join(ck.dir, 'model.safetensors')).entries));
});

test('architecture variants: Qwen2 biases, Llama with bias, Mistral, head_dim, rope scaling', async () => {
  const qwen = await write({ architecture: 'Qwen2ForCausalLM' });
  assert.equal(qwen.config.model_type, 'qwen2');
  assert.deepEqual(qwen.config.architectures, ['Qwen2ForCausalLM']);
  assert.ok(qwen.tensorNames.includes('model.layers.0.self_attn.k_proj.bias'));
  assert.ok(!qwen.tensorNames.includes('model.layers.0.self_attn.o_proj.bias'));
  await assert.rejects(write({ architecture: 'Qwen2ForCausalLM', attentionBias: false }), /Qwen2ForCausalLM without attention biases/);

  const llamaBias = await write({ attentionBias: true });
  assert.equal(llamaBias.config.attention_bias, true);
  assert.ok(llamaBias.tensorNames.includes('model.layers.1.self_attn.q_proj.bias'));
  assert.ok(llamaBias.tensorNames.includes('model.layers.1.self_attn.o_proj.bias'), 'transformers puts attention_bias on o_proj too');

  const mistral = await write({ architecture: 'MistralForCausalLM' });
  assert.equal(mistral.config.model_type, 'mistral');
  assert.equal(mistral.config.sliding_window, null);
  assert.ok(!mistral.tensorNames.some((n) => n.endsWith('.bias')));

  const wide = await write({ headDim: 32, ropeScaling: { rope_type: 'linear', factor: 2 } });
  assert.equal(wide.config.head_dim, 32);
  assert.deepEqual(wide.config.rope_scaling, { rope_type: 'linear', factor: 2 });
  const header = parseSafetensors(join(wide.dir, 'model.safetensors')).entries;
  assert.deepEqual(header['model.layers.0.self_attn.q_proj.weight']!.shape, [4 * 32, 64]);
  assert.deepEqual(header['model.layers.0.self_attn.k_proj.weight']!.shape, [2 * 32, 64]);
  assert.deepEqual(header['model.layers.0.self_attn.o_proj.weight']!.shape, [64, 4 * 32]);

  await assert.rejects(write({ numHeads: 3 }), /not a multiple of numKvHeads/);
  await assert.rejects(write({ vocabSize: 100 }), /vocabSize must be ≥ 259/);
});

test('presets match the real configs', () => {
  const pick = (c: Record<string, unknown>, keys: string[]) => Object.fromEntries(keys.map((k) => [k, c[k]]));
  const keys = ['architectures', 'model_type', 'hidden_size', 'intermediate_size', 'num_hidden_layers', 'num_attention_heads', 'num_key_value_heads', 'vocab_size', 'max_position_embeddings', 'rope_theta', 'rms_norm_eps', 'tie_word_embeddings', 'rope_scaling'];
  assert.deepEqual(pick(syntheticConfig({ preset: 'smollm2-135m' }), keys), {
    architectures: ['LlamaForCausalLM'], model_type: 'llama', hidden_size: 576, intermediate_size: 1536, num_hidden_layers: 30,
    num_attention_heads: 9, num_key_value_heads: 3, vocab_size: 49152, max_position_embeddings: 8192, rope_theta: 100000,
    rms_norm_eps: 1e-5, tie_word_embeddings: true, rope_scaling: null,
  });
  const qwen = syntheticConfig({ preset: 'qwen2.5-0.5b' });
  assert.deepEqual(pick(qwen, keys), {
    architectures: ['Qwen2ForCausalLM'], model_type: 'qwen2', hidden_size: 896, intermediate_size: 4864, num_hidden_layers: 24,
    num_attention_heads: 14, num_key_value_heads: 2, vocab_size: 151936, max_position_embeddings: 32768, rope_theta: 1000000,
    rms_norm_eps: 1e-6, tie_word_embeddings: true, rope_scaling: null,
  });
  const llama = syntheticConfig({ preset: 'llama-3.2-1b' });
  assert.deepEqual(pick(llama, keys), {
    architectures: ['LlamaForCausalLM'], model_type: 'llama', hidden_size: 2048, intermediate_size: 8192, num_hidden_layers: 16,
    num_attention_heads: 32, num_key_value_heads: 8, vocab_size: 128256, max_position_embeddings: 131072, rope_theta: 500000,
    rms_norm_eps: 1e-5, tie_word_embeddings: true,
    rope_scaling: { rope_type: 'llama3', factor: 32, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 8192 },
  });
  assert.equal(llama.head_dim, 64);
  assert.equal(syntheticConfig({ preset: 'smollm2-135m', dtype: 'BF16' }).torch_dtype, 'bfloat16');
});

test('tokenizer: loads in tokenizers, exact vocab size, whole words, round trips, offsets', async () => {
  const ck = await write();
  const tok = Tokenizer.fromFile(join(ck.dir, 'tokenizer.json'));
  const V = ck.config.vocab_size as number;
  assert.equal(tok.getVocabSize(true), V);
  assert.equal(tok.idToToken(V - 1) !== null, true);
  assert.equal(tok.idToToken(V), null);
  assert.equal(tok.tokenToId('<|endoftext|>'), 0);
  assert.equal(tok.tokenToId('<|im_start|>'), 1);
  assert.equal(tok.tokenToId('<|im_end|>'), 2);

  // Every built-in word is one token, with or without its leading space.
  for (const word of orderedWords()) {
    const enc = await tok.encode(word);
    assert.equal(enc.getIds().length, 1, `'${word}' → ${JSON.stringify(enc.getTokens())}`);
  }
  assert.deepEqual((await tok.encode('Write a poem')).getTokens(), ['Write', 'Ġa', 'Ġpoem']);

  const texts = [
    'Write a short poem about the sea.',
    'Translate the following sentence into French: "I like tea."',
    'Summarize   this:\n\n\tline two',
    'héllo wörld — naïve café, 日本語のテキスト',
    'emoji 🎉👩‍💻 and <script>alert("x")</script> & stuff',
    'zorbak17 xyzzy qwfp ',
    '<|im_start|>user\nhi<|im_end|>',
  ];
  for (const text of texts) {
    const enc = await tok.encode(text);
    assert.equal(await tok.decode(enc.getIds(), false), text, 'decode(encode(text)) === text');
    // Offsets are in Unicode code points. They tile the text: consecutive, no gaps (tokens of one
    // multi-byte character share its span); where a token is whole characters, the span is its text.
    const chars = Array.from(text);
    const offsets = enc.getOffsets();
    let end = 0;
    for (let i = 0; i < offsets.length; i++) {
      const [s, e] = offsets[i]!;
      assert.ok(s === end || (s === offsets[i - 1]![0] && e === offsets[i - 1]![1]), `token ${i} offsets [${s},${e}] follow ${end}`);
      end = e;
      const piece = await tok.decode([enc.getIds()[i]!], false);
      if (!piece.includes('\ufffd')) assert.equal(chars.slice(s, e).join(''), piece, `token ${i} of ${JSON.stringify(text)}`);
    }
    assert.equal(end, chars.length, 'offsets reach the end of the text');
  }
  assert.deepEqual((await tok.encode('<|im_start|>user')).getIds().slice(0, 1), [1], 'specials are matched as added tokens');

  const template = readJson(join(ck.dir, 'tokenizer_config.json')).chat_template as string;
  const rendered = new Template(template).render({ messages: [{ role: 'user', content: 'Write a poem.' }], add_generation_prompt: true });
  assert.equal(rendered, '<|im_start|>user\nWrite a poem.<|im_end|>\n<|im_start|>assistant\n');
  const noTemplate = await write({ chatTemplate: false });
  const plainConfig = readJson(join(noTemplate.dir, 'tokenizer_config.json'));
  assert.equal('chat_template' in plainConfig, false);
  assert.equal(plainConfig.eos_token, '<|endoftext|>');
  assert.equal(noTemplate.config.eos_token_id, 0);
});

test('tokenizer vocab size is exact when filled (49152) and when truncated (300)', async () => {
  for (const size of [49152, 300]) {
    const dir = freshDir();
    await writeSyntheticTokenizer(dir, size);
    const tok = Tokenizer.fromFile(join(dir, 'tokenizer.json'));
    assert.equal(tok.getVocabSize(true), size);
    const text = 'Describe the reverse of a sorted list, please. Ça va? 🙂';
    assert.equal(await tok.decode((await tok.encode(text)).getIds(), false), text);
    if (size > 1000) {
      // Fillers are ordinary text tokens too.
      const filler = tok.idToToken(size - 1)!;
      assert.match(filler, /^Ġ?[a-z]+$/);
      assert.deepEqual((await tok.encode(filler.replace('Ġ', ' '))).getIds(), [size - 1]);
    }
  }
});

test('vocabulary order: tiny holds every built-in word, a truncated vocabulary keeps the first ones', async () => {
  assert.ok(SYNTHETIC_PRESETS.tiny.vocabSize >= naturalVocabSize(), 'tiny keeps every built-in word whole');
  const dir = freshDir();
  await writeSyntheticTokenizer(dir, 300);
  const tok = Tokenizer.fromFile(join(dir, 'tokenizer.json'));
  assert.deepEqual((await tok.encode('Write the')).getTokens(), ['Write', 'Ġthe']);
  assert.deepEqual((await tok.encode(' write')).getTokens(), ['Ġwrite']);
});

test('weights make a non-degenerate model (float64 reference forward)', async () => {
  for (const options of [{}, { tieWordEmbeddings: true }, { architecture: 'Qwen2ForCausalLM' as const, dtype: 'BF16' as const }]) {
    const ck = await write(options);
    const model = loadReferenceModel(ck.dir);
    const tok = Tokenizer.fromFile(join(ck.dir, 'tokenizer.json'));
    const ids = (await tok.encode('Write a short story about a dog who wants to find the sea')).getIds();
    const out = referenceForward(model, ids, { attentions: true });
    const label = JSON.stringify(options);

    // Logits vary: spread within a position, and a different top token at most positions.
    const last = out.logits.at(-1)!;
    const mean = last.reduce((a, b) => a + b, 0) / last.length;
    const std = Math.sqrt(last.reduce((a, b) => a + (b - mean) ** 2, 0) / last.length);
    assert.ok(std > 0.3, `${label}: logit std ${std}`);
    const tops = new Set(out.logits.map((l) => argmax(l)));
    assert.ok(tops.size >= ids.length / 2, `${label}: ${tops.size} distinct top tokens over ${ids.length} positions`);

    // Attention is far from uniform: mean entropy of the last query well below log(seq).
    let entropy = 0, heads = 0;
    for (const layer of out.attentions!) {
      for (const head of layer) {
        const p = head[ids.length - 1]!;
        entropy -= p.reduce((a, x) => (x > 0 ? a + x * Math.log(x) : a), 0) / Math.log(ids.length);
        heads++;
      }
    }
    assert.ok(entropy / heads < 0.75, `${label}: mean normalized attention entropy ${entropy / heads}`);

    // Greedy decoding moves on instead of repeating one token.
    const generated = referenceGreedy(model, ids, 8, []);
    assert.ok(new Set(generated).size >= 4, `${label}: greedy ${generated}`);
  }
});

test('timing: smollm2-135m F32 (≈540 MB) streamed to disk', async (t) => {
  const dir = freshDir();
  try {
    const start = performance.now();
    const ck = await writeSyntheticCheckpoint(dir, { preset: 'smollm2-135m' });
    const seconds = (performance.now() - start) / 1000;
    assert.equal(statSync(join(dir, 'model.safetensors')).size > ck.weightBytes, true);
    const message = `smollm2-135m F32: ${(ck.weightBytes / 1e6).toFixed(0)} MB in ${seconds.toFixed(1)} s, peak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB`;
    t.diagnostic(message);
    console.log(message);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
