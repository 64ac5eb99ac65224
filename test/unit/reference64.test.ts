// Tests of the float64 reference forward (test/reference/llama64.ts) itself: it is the oracle
// for the engine's parity tests, so it is checked here against hand-derived values, on tiny
// checkpoints written by the test (test/reference/safetensors-writer.ts), independent of src/.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  applyRope,
  argmax,
  linear,
  loadReferenceModel,
  parseRefConfig,
  referenceForward,
  referenceGreedy,
  rmsNorm,
  ropeInvFreq,
  silu,
  type ReferenceModel,
} from '../reference/llama64';
import { bf16BitsToNumber, f16BitsToNumber, readSafetensors64 } from '../reference/safetensors64';
import { numberToBF16BitsExact, numberToF16BitsExact, writeCheckpoint, writeSafetensors, type WriteTensor } from '../reference/safetensors-writer';

// ---------------------------------------------------------------------------------------------
// helpers

const dirs: string[] = [];
function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'ref64-'));
  dirs.push(d);
  return d;
}
process.on('exit', () => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const f64 = (xs: number[]) => Float64Array.from(xs);

function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: number, what = ''): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < expected.length; i++) {
    const diff = Math.abs(actual[i] - expected[i]);
    assert.ok(diff <= tol, `${what}[${i}]: ${actual[i]} vs ${expected[i]} (diff ${diff} > ${tol})`);
  }
}

interface Cfg {
  architectures: string[];
  hidden_size: number;
  intermediate_size: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  num_key_value_heads?: number;
  head_dim?: number;
  vocab_size: number;
  rms_norm_eps: number;
  rope_theta?: number;
  rope_scaling?: unknown;
  tie_word_embeddings?: boolean;
  attention_bias?: boolean;
  [k: string]: unknown;
}

function baseCfg(over: Partial<Cfg> = {}): Cfg {
  return {
    architectures: ['LlamaForCausalLM'],
    hidden_size: 4,
    intermediate_size: 2,
    num_hidden_layers: 1,
    num_attention_heads: 2,
    num_key_value_heads: 2,
    vocab_size: 3,
    rms_norm_eps: 0,
    rope_theta: 10000,
    tie_word_embeddings: false,
    ...over,
  };
}

/** Tensors are given as a name -> {shape, data} record; everything written as `dtype`. */
type Weights = Record<string, { shape: number[]; data: number[] }>;

function toWrite(w: Weights, dtype: WriteTensor['dtype'] = 'F32'): WriteTensor[] {
  return Object.entries(w).map(([name, t]) => ({ name, dtype, shape: t.shape, data: t.data }));
}

function save(cfg: Cfg, w: Weights, opts: { dtype?: WriteTensor['dtype']; shards?: number } = {}): ReferenceModel {
  const dir = tmp();
  writeCheckpoint(dir, cfg, toWrite(w, opts.dtype), { shards: opts.shards });
  return loadReferenceModel(dir);
}

const zeros = (n: number) => new Array<number>(n).fill(0);
const ones = (n: number) => new Array<number>(n).fill(1);
function eye(n: number): number[] {
  const m = zeros(n * n);
  for (let i = 0; i < n; i++) m[i * n + i] = 1;
  return m;
}

/** Deterministic values k/64, k in [-64, 64]: exact in F32, F16 and BF16. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (((s >>> 8) % 129) - 64) / 64;
  };
}

/** Weights for every tensor of `cfg` (Llama naming), random k/64 values; norms near 1. */
function randomWeights(cfg: Cfg, seed: number, opts: { qkvBias?: boolean; oBias?: boolean } = {}): Weights {
  const r = rng(seed);
  const H = cfg.hidden_size;
  const nH = cfg.num_attention_heads;
  const nKV = cfg.num_key_value_heads ?? nH;
  const d = cfg.head_dim ?? H / nH;
  const I = cfg.intermediate_size;
  const V = cfg.vocab_size;
  const rand = (shape: number[]) => ({ shape, data: Array.from({ length: shape.reduce((a, b) => a * b, 1) }, r) });
  const norm = (n: number) => ({ shape: [n], data: Array.from({ length: n }, () => 1 + Math.round(r() * 16) / 64) });
  const w: Weights = { 'model.embed_tokens.weight': rand([V, H]) };
  for (let l = 0; l < cfg.num_hidden_layers; l++) {
    const p = `model.layers.${l}.`;
    w[p + 'input_layernorm.weight'] = norm(H);
    w[p + 'self_attn.q_proj.weight'] = rand([nH * d, H]);
    w[p + 'self_attn.k_proj.weight'] = rand([nKV * d, H]);
    w[p + 'self_attn.v_proj.weight'] = rand([nKV * d, H]);
    w[p + 'self_attn.o_proj.weight'] = rand([H, nH * d]);
    if (opts.qkvBias) {
      w[p + 'self_attn.q_proj.bias'] = rand([nH * d]);
      w[p + 'self_attn.k_proj.bias'] = rand([nKV * d]);
      w[p + 'self_attn.v_proj.bias'] = rand([nKV * d]);
    }
    if (opts.oBias) w[p + 'self_attn.o_proj.bias'] = rand([H]);
    w[p + 'post_attention_layernorm.weight'] = norm(H);
    w[p + 'mlp.gate_proj.weight'] = rand([I, H]);
    w[p + 'mlp.up_proj.weight'] = rand([I, H]);
    w[p + 'mlp.down_proj.weight'] = rand([H, I]);
  }
  w['model.norm.weight'] = norm(H);
  if (!cfg.tie_word_embeddings) w['lm_head.weight'] = rand([V, H]);
  return w;
}

/** A 1-layer model (H=4, 2 heads of 2, intermediate 2, vocab 3) with every projection zero. */
function zeroModelWeights(): Weights {
  return {
    'model.embed_tokens.weight': { shape: [3, 4], data: [1, -1, 1, -1, /**/ 2, 0, 0, 0, /**/ 3, 3, 3, 3] },
    'model.layers.0.input_layernorm.weight': { shape: [4], data: ones(4) },
    'model.layers.0.self_attn.q_proj.weight': { shape: [4, 4], data: zeros(16) },
    'model.layers.0.self_attn.k_proj.weight': { shape: [4, 4], data: zeros(16) },
    'model.layers.0.self_attn.v_proj.weight': { shape: [4, 4], data: zeros(16) },
    'model.layers.0.self_attn.o_proj.weight': { shape: [4, 4], data: zeros(16) },
    'model.layers.0.post_attention_layernorm.weight': { shape: [4], data: ones(4) },
    'model.layers.0.mlp.gate_proj.weight': { shape: [2, 4], data: zeros(8) },
    'model.layers.0.mlp.up_proj.weight': { shape: [2, 4], data: zeros(8) },
    'model.layers.0.mlp.down_proj.weight': { shape: [4, 2], data: zeros(8) },
    'model.norm.weight': { shape: [4], data: [1, 2, 3, 4] },
    'lm_head.weight': { shape: [3, 4], data: [1, 0, 0, 0, /**/ 0, 1, 1, 0, /**/ 1, 1, 1, 1] },
  };
}

// ---------------------------------------------------------------------------------------------
// safetensors decoding

test('F16 bit patterns decode exactly (normals, subnormals, zeros, inf, nan)', () => {
  const cases: [number, number][] = [
    [0x3c00, 1],
    [0xc000, -2],
    [0x3555, 0.333251953125],
    [0x7bff, 65504],
    [0x0400, 2 ** -14], // smallest normal
    [0x0001, 2 ** -24], // smallest subnormal
    [0x03ff, 1023 * 2 ** -24], // largest subnormal
    [0x8001, -(2 ** -24)],
    [0x7c00, Infinity],
    [0xfc00, -Infinity],
  ];
  for (const [bits, v] of cases) assert.equal(f16BitsToNumber(bits), v, `0x${bits.toString(16)}`);
  assert.ok(Object.is(f16BitsToNumber(0x8000), -0));
  assert.ok(Object.is(f16BitsToNumber(0x0000), 0));
  assert.ok(Number.isNaN(f16BitsToNumber(0x7e00)));
  assert.ok(Number.isNaN(f16BitsToNumber(0xfc01)));

  // the same through a file
  const dir = tmp();
  const path = join(dir, 'f16.safetensors');
  writeSafetensors(path, [{ name: 't', dtype: 'F16', shape: [2, 5], bits: Uint16Array.from(cases.map((c) => c[0])) }]);
  const t = readSafetensors64(path).tensors.get('t')!;
  assert.deepEqual(t.shape, [2, 5]);
  assert.equal(t.dtype, 'F16');
  assert.deepEqual(Array.from(t.data), cases.map((c) => c[1]));
});

test('BF16 bit patterns decode exactly (upper half of float32)', () => {
  const cases: [number, number][] = [
    [0x3f80, 1],
    [0xc040, -3],
    [0x4049, 3.140625],
    [0x3e80, 0.25],
    [0x0080, 2 ** -126], // smallest normal
    [0x0001, 2 ** -133], // smallest subnormal
    [0x7f80, Infinity],
    [0xff80, -Infinity],
  ];
  for (const [bits, v] of cases) assert.equal(bf16BitsToNumber(bits), v, `0x${bits.toString(16)}`);
  assert.ok(Object.is(bf16BitsToNumber(0x8000), -0));
  assert.ok(Number.isNaN(bf16BitsToNumber(0x7fc0)));

  const dir = tmp();
  const path = join(dir, 'bf16.safetensors');
  writeSafetensors(path, [{ name: 't', dtype: 'BF16', shape: [8], bits: Uint16Array.from(cases.map((c) => c[0])) }]);
  assert.deepEqual(Array.from(readSafetensors64(path).tensors.get('t')!.data), cases.map((c) => c[1]));
});

test('test writer encodes F16/BF16 exactly and refuses inexact values', () => {
  assert.equal(numberToF16BitsExact(1), 0x3c00);
  assert.equal(numberToF16BitsExact(-2), 0xc000);
  assert.equal(numberToF16BitsExact(2 ** -24), 0x0001);
  assert.equal(numberToF16BitsExact(65504), 0x7bff);
  assert.equal(numberToBF16BitsExact(3.140625), 0x4049);
  assert.throws(() => numberToF16BitsExact(0.1));
  assert.throws(() => numberToBF16BitsExact(1 + 2 ** -10));
});

test('safetensors reader: F32/F64, unaligned data, __metadata__, several tensors; bad offsets are refused', () => {
  const dir = tmp();
  const path = join(dir, 'x.safetensors');
  writeSafetensors(
    path,
    [
      { name: 'a', dtype: 'F32', shape: [3], data: [1.5, -2.25, 1.125] },
      { name: 'b', dtype: 'F64', shape: [2, 2], data: [0.1, 0.2, 0.3, -1e300] },
      { name: 'c', dtype: 'BF16', shape: [1], data: [-0.5] },
    ],
    { metadata: { format: 'pt' }, pad: false },
  );
  const { tensors, metadata } = readSafetensors64(path);
  assert.deepEqual(metadata, { format: 'pt' });
  assert.deepEqual([...tensors.keys()].sort(), ['a', 'b', 'c']);
  assert.deepEqual(Array.from(tensors.get('a')!.data), [1.5, -2.25, 1.125]);
  assert.deepEqual(Array.from(tensors.get('b')!.data), [0.1, 0.2, 0.3, -1e300]);
  assert.deepEqual(tensors.get('b')!.shape, [2, 2]);
  assert.deepEqual(Array.from(tensors.get('c')!.data), [-0.5]);

  // a header whose offsets run past the data
  const header = Buffer.from(JSON.stringify({ t: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } }));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(header.byteLength));
  const bad = join(dir, 'bad.safetensors');
  writeFileSync(bad, Buffer.concat([len, header, Buffer.alloc(4)]));
  assert.throws(() => readSafetensors64(bad), /outside data/);
});

// ---------------------------------------------------------------------------------------------
// building blocks

test('RMSNorm matches hand-computed values', () => {
  // mean(x^2) = 1, eps = 3 -> divide by 2
  assertClose(rmsNorm(f64([1, -1, 1, -1]), f64([1, 2, 3, 4]), 3), [0.5, -1, 1.5, -2], 0, 'eps');
  // mean(x^2) = (1+4+9+16)/4 = 7.5
  const s = 1 / Math.sqrt(7.5);
  assertClose(rmsNorm(f64([1, 2, 3, 4]), f64([1, 1, 2, 0.5]), 0), [s, 2 * s, 6 * s, 2 * s], 1e-15, 'no eps');
  // [3,4]: mean(x^2) = 12.5, eps 0.5 -> sqrt(13)
  assertClose(rmsNorm(f64([3, 4]), f64([1, 1]), 0.5), [3 / Math.sqrt(13), 4 / Math.sqrt(13)], 1e-15, 'sqrt13');
});

test('linear and silu', () => {
  // W = [[1,2],[3,4],[5,6]] (out 3, in 2), x = [1,-1], b = [10,20,30]
  assertClose(linear(f64([1, 2, 3, 4, 5, 6]), 3, 2, f64([1, -1]), f64([10, 20, 30])), [9, 19, 29], 0, 'linear');
  assert.equal(silu(0), 0);
  assert.ok(Math.abs(silu(1) - 0.7310585786300049) < 1e-15);
  assert.ok(Math.abs(silu(-2) - -0.23840584404423515) < 1e-15);
  assert.ok(Math.abs(silu(-1000)) === 0);
  assert.equal(silu(1000), 1000);
});

test('RoPE: inv_freq, identity at position 0, rotate_half pairing, rotation by pos·inv_freq', () => {
  const inv4 = ropeInvFreq({ headDim: 4, ropeTheta: 10000, ropeScaling: null });
  assertClose(inv4, [1, 0.01], 1e-18, 'inv_freq d=4');
  const inv8 = ropeInvFreq({ headDim: 8, ropeTheta: 10000, ropeScaling: null });
  assertClose(inv8, [1, 0.1, 0.01, 0.001], 1e-17, 'inv_freq d=8');

  const x = f64([0.3, -1.2, 2.5, 0.7]);
  assert.deepEqual(Array.from(applyRope(x, 0, inv4)), Array.from(x));

  // 2-dim head: a plain rotation by pos * inv_freq[0] = pos radians
  const inv2 = ropeInvFreq({ headDim: 2, ropeTheta: 10000, ropeScaling: null });
  assertClose(inv2, [1], 0, 'inv_freq d=2');
  for (const pos of [1, 2, 7]) {
    const r = applyRope(f64([2, 3]), pos, inv2);
    assertClose(r, [2 * Math.cos(pos) - 3 * Math.sin(pos), 3 * Math.cos(pos) + 2 * Math.sin(pos)], 1e-15, `d=2 pos ${pos}`);
  }

  // d=4: dimension 0 pairs with dimension 2 (NOT with 1, as an interleaved RoPE would)
  assertClose(applyRope(f64([1, 0, 0, 0]), 1, inv4), [Math.cos(1), 0, Math.sin(1), 0], 1e-15, 'pair 0-2');
  assertClose(applyRope(f64([0, 0, 1, 0]), 1, inv4), [-Math.sin(1), 0, Math.cos(1), 0], 1e-15, 'pair 2-0');
  assertClose(applyRope(f64([0, 1, 0, 0]), 3, inv4), [0, Math.cos(0.03), 0, Math.sin(0.03)], 1e-15, 'pair 1-3');
});

test('RoPE scaling: linear divides inv_freq; llama3 lands in its three regimes', () => {
  const lin = ropeInvFreq({ headDim: 4, ropeTheta: 10000, ropeScaling: { type: 'linear', factor: 4 } });
  assertClose(lin, [0.25, 0.0025], 1e-18, 'linear');

  // d=8, theta=1e6: inv_freq = [1, 1e6^-0.25, 1e-3, 1e6^-0.75]; wavelen 2π/inv_freq =
  // [6.28, 198.7, 6283.2, 198692]. old_ctx 8192, low 1, high 4: low_freq_wavelen 8192,
  // high_freq_wavelen 2048. So i=0,1 keep (high frequency), i=2 is smoothed, i=3 is divided by 8.
  const cfg = parseRefConfig({
    ...baseCfg({ head_dim: 8, rope_theta: 1e6 }),
    rope_scaling: { rope_type: 'llama3', factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 8192 },
  });
  assert.deepEqual(cfg.ropeScaling, { type: 'llama3', factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 8192 });
  const base = ropeInvFreq({ headDim: 8, ropeTheta: 1e6, ropeScaling: null });
  const l3 = ropeInvFreq(cfg);
  assert.equal(l3[0], base[0]);
  assert.equal(l3[1], base[1]);
  assert.equal(l3[3], base[3] / 8);
  // smooth = (8192 / (2π·1000) − 1) / (4 − 1) = 0.10126585...
  const smooth = (8192 / (2 * Math.PI * 1000) - 1) / 3;
  assert.ok(Math.abs(smooth - 0.1012658) < 1e-6);
  assert.ok(Math.abs(l3[2] - ((1 - smooth) * 1e-3 / 8 + smooth * 1e-3)) < 1e-15);
  assert.ok(l3[2] > base[2] / 8 && l3[2] < base[2]);

  // 'type' spelling and 'default' both parse
  assert.equal(parseRefConfig({ ...baseCfg(), rope_scaling: { type: 'linear', factor: 2 } }).ropeScaling?.factor, 2);
  assert.equal(parseRefConfig({ ...baseCfg(), rope_scaling: { rope_type: 'default' } }).ropeScaling, null);
  assert.throws(() => parseRefConfig({ ...baseCfg(), rope_scaling: { rope_type: 'yarn', factor: 2 } }), /yarn/);
});

test('config defaults follow transformers', () => {
  const c = parseRefConfig({
    architectures: ['LlamaForCausalLM'],
    hidden_size: 64,
    intermediate_size: 128,
    num_hidden_layers: 2,
    num_attention_heads: 8,
    vocab_size: 100,
    rms_norm_eps: 1e-5,
  });
  assert.equal(c.numKvHeads, 8);
  assert.equal(c.headDim, 8);
  assert.equal(c.ropeTheta, 10000);
  assert.equal(c.ropeScaling, null);
  assert.equal(c.tieWordEmbeddings, false);
  assert.equal(c.qkvBias, false);
  assert.equal(c.oBias, false);
  const q = parseRefConfig({ ...baseCfg(), architectures: ['Qwen2ForCausalLM'] });
  assert.equal(q.qkvBias, true);
  assert.equal(q.oBias, false);
  const l = parseRefConfig({ ...baseCfg(), attention_bias: true });
  assert.equal(l.qkvBias, true);
  assert.equal(l.oBias, true);
  assert.throws(() => parseRefConfig({ ...baseCfg(), architectures: ['GPT2LMHeadModel'] }), /unsupported architecture/);
});

// ---------------------------------------------------------------------------------------------
// hand-derivable models

test('all projections zero: logits = rmsnorm(embedding)·lm_headᵀ, uniform causal attention, zero ffn', () => {
  const model = save(baseCfg(), zeroModelWeights());
  const out = referenceForward(model, [0, 1, 2], { attentions: true, ffn: true });
  // rmsnorm(e0=[1,-1,1,-1]) = e0 (rms 1); · norm w [1,2,3,4] = [1,-2,3,-4]
  // rmsnorm(e1=[2,0,0,0]) = e1 (rms 1) -> [2,0,0,0]
  // rmsnorm(e2=[3,3,3,3]) = [1,1,1,1] -> [1,2,3,4]
  assert.deepEqual(out.hidden.map((h) => Array.from(h)), [[1, -2, 3, -4], [2, 0, 0, 0], [1, 2, 3, 4]]);
  // lm_head rows: [1,0,0,0], [0,1,1,0], [1,1,1,1]
  assert.deepEqual(out.logits.map((l) => Array.from(l)), [[1, 1, -2], [2, 0, 2], [1, 5, 10]]);
  // q = k = 0: every allowed score is 0 -> uniform over the causal prefix
  for (let h = 0; h < 2; h++) {
    assert.deepEqual(out.attentions![0][h].map((r) => Array.from(r)), [[1, 0, 0], [0.5, 0.5, 0], [1 / 3, 1 / 3, 1 / 3]]);
  }
  assert.deepEqual(out.ffn![0].map((f) => Array.from(f)), [zeros(4), zeros(4), zeros(4)]);
});

test('identity value path: h_i = x_i + mean_{j<=i} rmsnorm(x_j)', () => {
  const w = zeroModelWeights();
  w['model.layers.0.self_attn.v_proj.weight'].data = eye(4);
  w['model.layers.0.self_attn.o_proj.weight'].data = eye(4);
  w['model.norm.weight'].data = ones(4);
  const model = save(baseCfg(), w);
  const out = referenceForward(model, [0, 1]);
  // h0 = e0 + e0 = [2,-2,2,-2]        -> rms 2         -> [1,-1,1,-1]
  // h1 = e1 + (e0+e1)/2 = [3.5,-0.5,0.5,-0.5] -> rms sqrt(13)/2
  const r = 2 / Math.sqrt(13);
  assertClose(out.hidden[0], [1, -1, 1, -1], 1e-15, 'hidden0');
  assertClose(out.hidden[1], [3.5 * r, -0.5 * r, 0.5 * r, -0.5 * r], 1e-15, 'hidden1');
  // lm_head row 1 = [0,1,1,0] -> hidden1[1] + hidden1[2] = 0
  assertClose(out.logits[1], [3.5 * r, 0, 3 * r], 1e-15, 'logits1');
});

test('MLP path: ffn = down_proj(silu(gate)·up), before the residual', () => {
  const w = zeroModelWeights();
  // gate row 0 picks n[0], up row 0 picks n[1]; down column 0 writes into dimension 2
  w['model.layers.0.mlp.gate_proj.weight'].data = [1, 0, 0, 0, /**/ 0, 0, 0, 0];
  w['model.layers.0.mlp.up_proj.weight'].data = [0, 1, 0, 0, /**/ 0, 0, 0, 0];
  w['model.layers.0.mlp.down_proj.weight'].data = [0, 0, /**/ 0, 0, /**/ 1, 0, /**/ 0, 0];
  w['model.norm.weight'].data = ones(4);
  const model = save(baseCfg(), w);
  const out = referenceForward(model, [0], { ffn: true });
  // n = [1,-1,1,-1]: silu(1)·(-1) = -0.7310585786300049
  const f = -0.7310585786300049;
  assertClose(out.ffn![0][0], [0, 0, f, 0], 1e-15, 'ffn');
  // residual: [1,-1,1+f,-1], then final rmsnorm
  const x = [1, -1, 1 + f, -1];
  const rms = Math.sqrt((1 + 1 + (1 + f) ** 2 + 1) / 4);
  assertClose(out.hidden[0], x.map((v) => v / rms), 1e-15, 'hidden');
});

test('attention scores: q·k/sqrt(d) with RoPE on q and k (hand-derived 2-dim head)', () => {
  // H = 2, one head of d = 2, q = k = I, v = I, o = 0: only the attention probabilities matter.
  const cfg = baseCfg({ hidden_size: 2, num_attention_heads: 1, num_key_value_heads: 1, vocab_size: 2 });
  const w: Weights = {
    'model.embed_tokens.weight': { shape: [2, 2], data: [1, 1, /**/ 1, -1] },
    'model.layers.0.input_layernorm.weight': { shape: [2], data: [1, 1] },
    'model.layers.0.self_attn.q_proj.weight': { shape: [2, 2], data: eye(2) },
    'model.layers.0.self_attn.k_proj.weight': { shape: [2, 2], data: eye(2) },
    'model.layers.0.self_attn.v_proj.weight': { shape: [2, 2], data: eye(2) },
    'model.layers.0.self_attn.o_proj.weight': { shape: [2, 2], data: zeros(4) },
    'model.layers.0.post_attention_layernorm.weight': { shape: [2], data: [1, 1] },
    'model.layers.0.mlp.gate_proj.weight': { shape: [2, 2], data: zeros(4) },
    'model.layers.0.mlp.up_proj.weight': { shape: [2, 2], data: zeros(4) },
    'model.layers.0.mlp.down_proj.weight': { shape: [2, 2], data: zeros(4) },
    'model.norm.weight': { shape: [2], data: [1, 1] },
    'lm_head.weight': { shape: [2, 2], data: eye(2) },
  };
  const model = save(cfg, w);
  const out = referenceForward(model, [0, 1, 0], { attentions: true });
  // n0 = [1,1], n1 = [1,-1] (rms 1). inv_freq = [1].
  // q1 = k1 = R(1)·n1; k0 = n0. q1·k1 = |n1|² = 2; q1·k0 = (cos1+sin1) + (sin1−cos1) = 2 sin1.
  const s10 = (2 * Math.sin(1)) / Math.SQRT2;
  const s11 = 2 / Math.SQRT2;
  const z = Math.exp(s10) + Math.exp(s11);
  assertClose(out.attentions![0][0][1], [Math.exp(s10) / z, Math.exp(s11) / z, 0], 1e-15, 'row1');
  // query 2 (token 0 at pos 2): q2 = R(2)n0; keys k0 = n0, k1 = R(1)n1, k2 = R(2)n0, where R(a)
  // rotates a 2-vector by a radians. q2·k0 = 2 cos 2 (hand-derived), q2·k2 = |n0|² = 2.
  const rot = (v: number[], a: number) => [v[0] * Math.cos(a) - v[1] * Math.sin(a), v[1] * Math.cos(a) + v[0] * Math.sin(a)];
  const dot = (a: number[], b: number[]) => a[0] * b[0] + a[1] * b[1];
  const q2 = rot([1, 1], 2);
  const sc = [dot(q2, [1, 1]), dot(q2, rot([1, -1], 1)), dot(q2, q2)].map((s) => s / Math.SQRT2);
  assert.ok(Math.abs(sc[0] - (2 * Math.cos(2)) / Math.SQRT2) < 1e-15);
  assert.ok(Math.abs(sc[2] - 2 / Math.SQRT2) < 1e-15);
  const e = sc.map(Math.exp);
  const Z = e[0] + e[1] + e[2];
  assertClose(out.attentions![0][0][2], e.map((v) => v / Z), 1e-15, 'row2');
  assert.deepEqual(Array.from(out.attentions![0][0][0]), [1, 0, 0]);
});

// ---------------------------------------------------------------------------------------------
// properties on random models

const randCfg = baseCfg({
  hidden_size: 16,
  intermediate_size: 24,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  vocab_size: 40,
  rms_norm_eps: 1e-6,
  rope_theta: 500,
});
const ids = [3, 17, 0, 39, 8, 8, 21];

test('attention rows are probabilities and causal', () => {
  const model = save(randCfg, randomWeights(randCfg, 1));
  const out = referenceForward(model, ids, { attentions: true, ffn: true });
  assert.equal(out.logits.length, ids.length);
  assert.equal(out.logits[0].length, 40);
  assert.equal(out.attentions!.length, 2);
  assert.equal(out.ffn!.length, 2);
  assert.equal(out.ffn![1].length, ids.length);
  assert.equal(out.ffn![1][0].length, 16);
  for (const layer of out.attentions!) {
    assert.equal(layer.length, 4);
    for (const head of layer) {
      assert.equal(head.length, ids.length);
      head.forEach((row, i) => {
        assert.equal(row.length, ids.length);
        let sum = 0;
        for (let j = 0; j < row.length; j++) {
          if (j > i) assert.equal(row[j], 0);
          else assert.ok(row[j] > 0 && row[j] <= 1);
          sum += row[j];
        }
        assert.ok(Math.abs(sum - 1) < 1e-12, `row sum ${sum}`);
      });
      // not trivially uniform
      assert.ok(Math.abs(head[ids.length - 1][0] - 1 / ids.length) > 1e-6);
    }
  }
  // a prefix's outputs do not depend on later tokens
  const prefix = referenceForward(model, ids.slice(0, 4));
  for (let p = 0; p < 4; p++) assertClose(prefix.logits[p], out.logits[p], 1e-12, `prefix ${p}`);
});

test('sharded checkpoint == single file', () => {
  const w = randomWeights(randCfg, 2);
  const a = referenceForward(save(randCfg, w), ids);
  const b = referenceForward(save(randCfg, w, { shards: 3 }), ids);
  assert.deepEqual(b.logits, a.logits);
});

test('F16 and BF16 checkpoints of exactly representable weights == F32', () => {
  const w = randomWeights(randCfg, 3);
  const a = referenceForward(save(randCfg, w, { dtype: 'F32' }), ids);
  assert.deepEqual(referenceForward(save(randCfg, w, { dtype: 'F16' }), ids).logits, a.logits);
  assert.deepEqual(referenceForward(save(randCfg, w, { dtype: 'BF16' }), ids).logits, a.logits);
});

test('GQA == the same model with kv heads duplicated explicitly (num_key_value_heads = num_attention_heads)', () => {
  const w = randomWeights(randCfg, 4);
  const gqa = save(randCfg, w);
  const cfgMha = { ...randCfg, num_key_value_heads: 4 };
  const d = 4;
  const H = 16;
  const dup = (rows: number[]) => {
    // kv head g (rows g*d..(g+1)*d) serves query heads 2g and 2g+1
    const out: number[] = [];
    for (let h = 0; h < 4; h++) {
      const g = Math.floor(h / 2);
      out.push(...rows.slice(g * d * H, (g + 1) * d * H));
    }
    return out;
  };
  const wMha: Weights = { ...w };
  for (let l = 0; l < 2; l++) {
    for (const n of ['k_proj', 'v_proj']) {
      const key = `model.layers.${l}.self_attn.${n}.weight`;
      wMha[key] = { shape: [16, 16], data: dup(w[key].data) };
    }
  }
  const mha = save(cfgMha, wMha);
  const a = referenceForward(gqa, ids, { attentions: true });
  const b = referenceForward(mha, ids, { attentions: true });
  for (let p = 0; p < ids.length; p++) assertClose(a.logits[p], b.logits[p], 1e-12, `logits ${p}`);
  for (let l = 0; l < 2; l++) for (let h = 0; h < 4; h++) for (let i = 0; i < ids.length; i++) assertClose(a.attentions![l][h][i], b.attentions![l][h][i], 1e-14, 'attn');

  // and the GQA mapping is floor(h / group), not h % nKV: the alternative duplication differs
  const wWrong: Weights = { ...w };
  for (let l = 0; l < 2; l++) {
    for (const n of ['k_proj', 'v_proj']) {
      const key = `model.layers.${l}.self_attn.${n}.weight`;
      const rows = w[key].data;
      wWrong[key] = { shape: [16, 16], data: [0, 1, 0, 1].flatMap((g) => rows.slice(g * d * H, (g + 1) * d * H)) };
    }
  }
  const c = referenceForward(save(cfgMha, wWrong), ids);
  assert.ok(Math.abs(c.logits[6][0] - a.logits[6][0]) > 1e-6);
});

test('inputEmbeds equal to the embedding rows give identical outputs; scaling one row changes them', () => {
  const model = save(randCfg, randomWeights(randCfg, 5));
  const E = model.weights.get('model.embed_tokens.weight')!.data;
  const rows = ids.map((id) => E.slice(id * 16, (id + 1) * 16));
  const a = referenceForward(model, ids, { attentions: true, ffn: true });
  const b = referenceForward(model, ids, { attentions: true, ffn: true, inputEmbeds: rows });
  assert.deepEqual(b, a);
  // the override is really used: scale token 2's row
  const scaled = rows.map((r, i) => (i === 2 ? r.map((v) => v * 1.01) : r));
  const c = referenceForward(model, ids, { inputEmbeds: scaled });
  assert.deepEqual(c.logits[1], a.logits[1]); // causal: earlier positions unchanged
  assert.ok(Math.abs(c.logits[6][0] - a.logits[6][0]) > 1e-9);
  // the caller's arrays are not modified
  assert.deepEqual(rows[2], E.slice(ids[2] * 16, ids[2] * 16 + 16));
  assert.throws(() => referenceForward(model, ids, { inputEmbeds: rows.slice(1) }), /inputEmbeds/);
});

test('tie_word_embeddings: lm_head = embed_tokens (even if an lm_head.weight is present)', () => {
  const w = randomWeights(randCfg, 6);
  const untied = referenceForward(save(randCfg, { ...w, 'lm_head.weight': w['model.embed_tokens.weight'] }), ids);
  const tiedCfg = { ...randCfg, tie_word_embeddings: true };
  const { ['lm_head.weight']: _drop, ...wNoHead } = w;
  assert.deepEqual(referenceForward(save(tiedCfg, wNoHead), ids).logits, untied.logits);
  assert.deepEqual(referenceForward(save(tiedCfg, w), ids).logits, untied.logits);
  // untied without lm_head.weight is refused
  assert.throws(() => save(randCfg, wNoHead), /lm_head.weight/);
});

test('Qwen2 q/k/v bias and Llama attention_bias; Mistral == Llama', () => {
  const wBias = randomWeights(randCfg, 7, { qkvBias: true });
  const wPlain = randomWeights(randCfg, 7);
  const zeroBias: Weights = { ...wPlain };
  for (const [k, t] of Object.entries(wBias)) if (k.endsWith('.bias')) zeroBias[k] = { shape: t.shape, data: zeros(t.data.length) };

  const llama = referenceForward(save(randCfg, wPlain), ids).logits;
  const qwenCfg = { ...randCfg, architectures: ['Qwen2ForCausalLM'] };
  // zero biases: Qwen2 == Llama
  assert.deepEqual(referenceForward(save(qwenCfg, zeroBias), ids).logits, llama);
  // a v bias b adds o_proj·b to every position's attention output (probabilities sum to 1):
  // equivalent to a Llama model with attention_bias whose o_proj bias is o_proj·b_v.
  const vOnly: Weights = { ...zeroBias };
  const oBiasW: Weights = { ...zeroBias };
  for (let l = 0; l < 2; l++) {
    const p = `model.layers.${l}.self_attn.`;
    const bv = wBias[p + 'v_proj.bias'].data; // [nKV*d] = [8]
    vOnly[p + 'v_proj.bias'] = { shape: [8], data: bv };
    // expanded per query head (head h uses kv head floor(h/2)), then o_proj
    const expanded = [0, 1, 2, 3].flatMap((h) => bv.slice(Math.floor(h / 2) * 4, Math.floor(h / 2) * 4 + 4));
    const Wo = wPlain[p + 'o_proj.weight'].data;
    oBiasW[p + 'o_proj.bias'] = { shape: [16], data: Array.from(linear(Float64Array.from(Wo), 16, 16, Float64Array.from(expanded))) };
  }
  const qwenV = referenceForward(save(qwenCfg, vOnly, { dtype: 'F64' }), ids).logits;
  const llamaO = referenceForward(save({ ...randCfg, attention_bias: true }, oBiasW, { dtype: 'F64' }), ids).logits;
  for (let p = 0; p < ids.length; p++) assertClose(qwenV[p], llamaO[p], 1e-12, `v-bias ${p}`);
  assert.ok(Math.abs(qwenV[6][0] - llama[6][0]) > 1e-9);
  // full random biases change the output; a missing bias is refused
  const qwen = referenceForward(save(qwenCfg, wBias), ids).logits;
  assert.ok(Math.abs(qwen[6][0] - llama[6][0]) > 1e-9);
  assert.throws(() => save(qwenCfg, wPlain), /q_proj.bias/);

  const mistral = referenceForward(save({ ...randCfg, architectures: ['MistralForCausalLM'], sliding_window: 4096 }, wPlain), ids).logits;
  assert.deepEqual(mistral, llama);
  // A window of 4: query i attends to keys i-3..i only, each row still a distribution; the first 4 positions are unchanged.
  const small = save({ ...randCfg, architectures: ['MistralForCausalLM'], sliding_window: 4 }, wPlain);
  const windowed = referenceForward(small, ids, { attentions: true });
  assert.ok(ids.length > 4);
  for (const layer of windowed.attentions!) {
    for (const head of layer) {
      head.forEach((row, i) => {
        row.forEach((p, j) => (j <= i - 4 || j > i ? assert.equal(p, 0, `query ${i} key ${j}`) : assert.ok(p > 0)));
        assert.ok(Math.abs(row.reduce((a, b) => a + b, 0) - 1) < 1e-12);
      });
    }
  }
  for (let p = 0; p < 4; p++) assert.deepEqual(windowed.logits[p], llama[p]);
  assert.ok(Math.abs(windowed.logits.at(-1)![0]! - llama.at(-1)![0]!) > 1e-9);
});

test('shape mismatches are refused', () => {
  const w = randomWeights(randCfg, 8);
  w['model.norm.weight'] = { shape: [15], data: ones(15) };
  assert.throws(() => save(randCfg, w), /model.norm.weight has shape \[15\]/);
});

// ---------------------------------------------------------------------------------------------
// greedy decoding

test('greedy: argmax of the last position, EOS stops and is not returned, maxNewTokens bounds', () => {
  const model = save(randCfg, randomWeights(randCfg, 9));
  const prompt = [3, 17, 0];
  // manual loop
  const manual: number[] = [];
  const seq = [...prompt];
  for (let i = 0; i < 6; i++) {
    const lg = referenceForward(model, seq).logits[seq.length - 1];
    let best = 0;
    for (let v = 1; v < lg.length; v++) if (lg[v] > lg[best]) best = v;
    manual.push(best);
    seq.push(best);
  }
  assert.deepEqual(referenceGreedy(model, prompt, 6, []), manual);
  assert.deepEqual(referenceGreedy(model, prompt, 3, []), manual.slice(0, 3));
  assert.deepEqual(referenceGreedy(model, prompt, 0, []), []);
  // EOS = the third generated token: the first two are returned, the EOS is not
  const eos = manual[2];
  const firstEos = manual.indexOf(eos);
  assert.deepEqual(referenceGreedy(model, prompt, 6, [999, eos]), manual.slice(0, firstEos));
});

test('greedy ties go to the lowest index', () => {
  assert.equal(argmax(f64([1, 3, 3, 2])), 1);
  assert.equal(argmax(f64([-1, -1])), 0);
  assert.throws(() => argmax(f64([0, NaN])), /NaN/);
  // lm_head all zero: every logit is 0 -> token 0 every step
  const w = randomWeights(randCfg, 10);
  w['lm_head.weight'] = { shape: [40, 16], data: zeros(640) };
  const model = save(randCfg, w);
  assert.deepEqual(referenceGreedy(model, [5, 6], 4, []), [0, 0, 0, 0]);
  assert.deepEqual(referenceGreedy(model, [5, 6], 4, [0]), []);
});

test('greedy is fast enough: 2 layers, hidden 64, 16 new tokens', () => {
  const cfg = baseCfg({
    hidden_size: 64,
    intermediate_size: 172,
    num_hidden_layers: 2,
    num_attention_heads: 4,
    num_key_value_heads: 2,
    vocab_size: 1000,
    rms_norm_eps: 1e-5,
  });
  const model = save(cfg, randomWeights(cfg, 11));
  const t0 = performance.now();
  const out = referenceGreedy(model, [1, 2, 3, 4, 5, 6, 7, 8], 16, []);
  const ms = performance.now() - t0;
  assert.equal(out.length, 16);
  assert.ok(ms < 2000, `${ms} ms`);
});
