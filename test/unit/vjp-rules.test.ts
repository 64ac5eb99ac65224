/**
 * Each differentiation rule against central finite differences, in float64 on onnxruntime:
 * the numeric Jacobian of the forward graph, contracted with a random cotangent, must equal what
 * the VJP rule's nodes compute, and the directional derivative along a random tangent what the
 * JVP rule's nodes compute — unbatched, and with a leading batch axis of cotangents / tangents.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as ort from 'onnxruntime-node';
import { differentiate, linearize } from '../../src/onnx/autodiff.js';
import { buildGradientGraph, buildForwardGradientGraph } from '../../src/llm/gradient-graph.js';
import { buildLlamaGraph } from '../../src/llm/llama-graph.js';
import { loadCheckpoint } from '../../src/model/checkpoint.js';
import { writeSyntheticCheckpoint } from '../../src/model/synthetic.js';
import { JVP_RULES, NOT_DIFFERENTIATED } from '../../src/onnx/jvp.js';
import { VJP_RULES } from '../../src/onnx/vjp.js';
import { tempDir } from '../support/temp.js';
import { join } from 'node:path';
import { Graph, int, ints, type Attribute } from '../../src/onnx/graph.js';
import { serializeModel } from '../../src/onnx/serialize.js';

interface InputSpec {
  shape: number[];
  /** Positive values (Sqrt, Log); differentiable unless `constant`. */
  positive?: boolean;
  constant?: boolean;
  /** An int64 input (indices) with these values. */
  ints?: number[];
}

interface Case {
  name: string;
  inputs: InputSpec[];
  build: (g: Graph, inputs: string[]) => string;
  batched?: boolean;
}

function rng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

async function session(g: Graph) {
  return ort.InferenceSession.create(serializeModel(g), { executionProviders: ['cpu'], graphOptimizationLevel: 'disabled' });
}

function feedsFor(specs: InputSpec[], values: Float64Array[]): Record<string, ort.Tensor> {
  const feeds: Record<string, ort.Tensor> = {};
  specs.forEach((spec, i) => {
    feeds[`x${i}`] = spec.ints
      ? new ort.Tensor('int64', BigInt64Array.from(spec.ints, BigInt), spec.shape)
      : new ort.Tensor('float64', values[i]!, spec.shape);
  });
  return feeds;
}

async function checkCase(c: Case, batch: 0 | 1): Promise<void> {
  const random = rng(c.name.length * 7919 + batch);
  const values = c.inputs.map((spec) => {
    const n = spec.shape.reduce((a, b) => a * b, 1);
    return Float64Array.from({ length: n }, () => (spec.positive ? 0.5 + random() : random() * 2 - 1));
  });

  // Forward graph alone, for finite differences.
  const fg = new Graph('forward');
  const fin = c.inputs.map((spec, i) => fg.input(`x${i}`, spec.ints ? 'int64' : 'float64', spec.shape));
  const fy = c.build(fg, fin);
  const yShape = fg.info(fy).shape as number[];
  fg.output(fy, 'y');
  const forward = await session(fg);
  const run = async (vals: Float64Array[]) => (await forward.run(feedsFor(c.inputs, vals))).y!.data as Float64Array;

  // Forward + reverse graph.
  const bg = new Graph('backward');
  const bin = c.inputs.map((spec, i) => bg.input(`x${i}`, spec.ints ? 'int64' : 'float64', spec.shape));
  const by = c.build(bg, bin);
  const B = batch ? 2 : 1;
  const dyShape = batch ? [B, ...yShape] : yShape;
  const dy = bg.input('dy', 'float64', dyShape);
  const wrt = bin.filter((_, i) => !c.inputs[i]!.constant && !c.inputs[i]!.ints);
  const grads = differentiate(bg, { seeds: [[by, dy]], wrt, batch });
  wrt.forEach((w) => {
    assert.ok(grads.has(w), `${c.name}: no gradient for ${w}`);
    bg.output(grads.get(w)!, `grad_${w}`);
  });
  const backward = await session(bg);
  const ny = yShape.reduce((a, b) => a * b, 1);
  const cot = Float64Array.from({ length: B * ny }, () => random() * 2 - 1);
  const out = await backward.run({ ...feedsFor(c.inputs, values), dy: new ort.Tensor('float64', cot, dyShape) });

  const eps = 1e-6;
  for (const [i, spec] of c.inputs.entries()) {
    if (spec.constant || spec.ints) continue;
    const got = out[`grad_x${i}`]!;
    const n = values[i]!.length;
    assert.deepEqual(Array.from(got.dims, Number), batch ? [B, ...spec.shape] : spec.shape, `${c.name}: gradient shape of x${i}`);
    const data = got.data as Float64Array;
    for (let k = 0; k < n; k++) {
      const plus = values.map((v) => v.slice());
      const minus = values.map((v) => v.slice());
      plus[i]![k]! += eps;
      minus[i]![k]! -= eps;
      const [yp, ym] = [await run(plus), await run(minus)];
      for (let b = 0; b < B; b++) {
        let expected = 0;
        for (let y = 0; y < ny; y++) expected += cot[b * ny + y]! * ((yp[y]! - ym[y]!) / (2 * eps));
        const actual = data[b * n + k]!;
        assert.ok(Math.abs(actual - expected) <= 1e-6 * Math.max(1, Math.abs(expected)), `${c.name} (batch ${batch}): ∂/∂x${i}[${k}] = ${actual}, finite differences give ${expected}`);
      }
    }
  }
  await forward.release();
  await backward.release();
}

/**
 * The JVP rule against central differences along the tangent: for each batch entry b, a random
 * direction v_b over the inputs in `varied` (the others get no tangent, as weights in a linearized
 * model), J·v_b = (f(x + ε v_b) − f(x − ε v_b)) / 2ε.
 */
async function checkJvp(c: Case, batch: 0 | 1, varied: number[]): Promise<void> {
  const random = rng(c.name.length * 104729 + batch * 31 + varied.length);
  const values = c.inputs.map((spec) => {
    const n = spec.shape.reduce((a, b) => a * b, 1);
    return Float64Array.from({ length: n }, () => (spec.positive ? 0.5 + random() : random() * 2 - 1));
  });
  const fg = new Graph('forward');
  const fin = c.inputs.map((spec, i) => fg.input(`x${i}`, spec.ints ? 'int64' : 'float64', spec.shape));
  fg.output(c.build(fg, fin), 'y');
  const forward = await session(fg);
  const run = async (vals: Float64Array[]) => (await forward.run(feedsFor(c.inputs, vals))).y!.data as Float64Array;

  const B = batch ? 3 : 1;
  const tg = new Graph('jvp');
  const tin = c.inputs.map((spec, i) => tg.input(`x${i}`, spec.ints ? 'int64' : 'float64', spec.shape));
  const y = c.build(tg, tin);
  const tangentInputs = varied.map((i) => tg.input(`t${i}`, 'float64', batch ? [B, ...c.inputs[i]!.shape] : c.inputs[i]!.shape));
  const tangents = linearize(tg, { tangents: varied.map((i, k) => [tin[i]!, tangentInputs[k]!]), batch });
  assert.ok(tangents.has(y), `${c.name}: no tangent for the output`);
  tg.output(tangents.get(y)!, 'dy');
  const jvp = await session(tg);
  const directions = varied.map((i) => Float64Array.from({ length: B * values[i]!.length }, () => random() * 2 - 1));
  const feeds = feedsFor(c.inputs, values);
  varied.forEach((i, k) => (feeds[`t${i}`] = new ort.Tensor('float64', directions[k]!, batch ? [B, ...c.inputs[i]!.shape] : c.inputs[i]!.shape)));
  const got = (await jvp.run(feeds)).dy!;
  const fy = await run(values);
  assert.deepEqual(Array.from(got.dims, Number), batch ? [B, ...(fg.info('y').shape as number[])] : (fg.info('y').shape as number[]), `${c.name}: tangent shape`);
  const eps = 1e-6;
  for (let b = 0; b < B; b++) {
    const moved = (sign: number) =>
      values.map((v, i) => {
        const k = varied.indexOf(i);
        if (k < 0) return v;
        const n = v.length;
        return Float64Array.from(v, (x, e) => x + sign * eps * directions[k]![b * n + e]!);
      });
    const [yp, ym] = [await run(moved(1)), await run(moved(-1))];
    for (let e = 0; e < fy.length; e++) {
      const expected = (yp[e]! - ym[e]!) / (2 * eps);
      const actual = (got.data as Float64Array)[b * fy.length + e]!;
      assert.ok(Math.abs(actual - expected) <= 1e-6 * Math.max(1, Math.abs(expected)), `${c.name} (JVP, batch ${batch}, inputs ${varied}): dy[${b}][${e}] = ${actual}, finite differences give ${expected}`);
    }
  }
  await forward.release();
  await jvp.release();
}

/** Every non-empty subset of the differentiable inputs would be many runs: all of them together, and each alone. */
function tangentSets(c: Case): number[][] {
  const differentiable = c.inputs.flatMap((spec, i) => (spec.constant || spec.ints ? [] : [i]));
  return differentiable.length > 1 ? [differentiable, ...differentiable.map((i) => [i])] : [differentiable];
}

const op = (name: string, attrs: Record<string, Attribute> = {}) => (g: Graph, x: string[]) => g.node(name, x, attrs);

const CASES: Case[] = [
  { name: 'Identity', inputs: [{ shape: [2, 3] }], build: op('Identity') },
  { name: 'Neg', inputs: [{ shape: [2, 3] }], build: op('Neg') },
  { name: 'Add (same shape)', inputs: [{ shape: [2, 3] }, { shape: [2, 3] }], build: op('Add') },
  { name: 'Add (broadcast [3] and [2,1])', inputs: [{ shape: [3] }, { shape: [2, 1] }], build: op('Add') },
  { name: 'Sub (broadcast)', inputs: [{ shape: [2, 3] }, { shape: [1, 3] }], build: op('Sub') },
  { name: 'Mul (broadcast [2,3,4]·[3,1])', inputs: [{ shape: [2, 3, 4] }, { shape: [3, 1] }], build: op('Mul') },
  { name: 'Div', inputs: [{ shape: [2, 3] }, { shape: [2, 3], positive: true }], build: op('Div') },
  { name: 'Div (broadcast divisor)', inputs: [{ shape: [2, 3] }, { shape: [2, 1], positive: true }], build: op('Div') },
  { name: 'Sqrt', inputs: [{ shape: [2, 3], positive: true }], build: op('Sqrt') },
  { name: 'Reciprocal', inputs: [{ shape: [2, 3], positive: true }], build: op('Reciprocal') },
  { name: 'Exp', inputs: [{ shape: [2, 3] }], build: op('Exp') },
  { name: 'Log', inputs: [{ shape: [2, 3], positive: true }], build: op('Log') },
  { name: 'Sigmoid', inputs: [{ shape: [2, 3] }], build: op('Sigmoid') },
  { name: 'Tanh', inputs: [{ shape: [2, 3] }], build: op('Tanh') },
  { name: 'Softmax (last axis)', inputs: [{ shape: [2, 3, 4] }], build: op('Softmax', { axis: int(-1) }) },
  { name: 'Softmax (axis 1)', inputs: [{ shape: [2, 3, 4] }], build: op('Softmax', { axis: int(1) }) },
  { name: 'LogSoftmax', inputs: [{ shape: [3, 5] }], build: op('LogSoftmax', { axis: int(-1) }) },
  { name: 'ReduceMean (keepdims)', inputs: [{ shape: [2, 3, 4] }], build: op('ReduceMean', { axes: ints([-1]), keepdims: int(1) }) },
  { name: 'ReduceMean (no keepdims, two axes)', inputs: [{ shape: [2, 3, 4] }], build: op('ReduceMean', { axes: ints([0, 2]), keepdims: int(0) }) },
  { name: 'ReduceSum', inputs: [{ shape: [2, 3, 4] }], build: (g, [x]) => g.node('ReduceSum', [x!, g.ints1d([1])], { keepdims: int(0) }) },
  { name: 'MatMul 2-D', inputs: [{ shape: [2, 3] }, { shape: [3, 4] }], build: op('MatMul') },
  { name: 'MatMul 3-D × 2-D', inputs: [{ shape: [2, 2, 3] }, { shape: [3, 4] }], build: op('MatMul') },
  { name: 'MatMul 3-D × 3-D', inputs: [{ shape: [2, 2, 3] }, { shape: [2, 3, 2] }], build: op('MatMul') },
  { name: 'MatMul broadcast 2-D × 3-D', inputs: [{ shape: [2, 3] }, { shape: [2, 3, 2] }], build: op('MatMul') },
  { name: 'Gemm transB with bias', inputs: [{ shape: [2, 3] }, { shape: [4, 3] }, { shape: [4] }], build: op('Gemm', { transB: int(1) }) },
  { name: 'Gemm without bias', inputs: [{ shape: [2, 3] }, { shape: [3, 4] }], build: op('Gemm') },
  { name: 'Transpose', inputs: [{ shape: [2, 3, 4] }], build: op('Transpose', { perm: ints([1, 2, 0]) }) },
  { name: 'Reshape', inputs: [{ shape: [2, 6] }], build: (g, [x]) => g.node('Reshape', [x!, g.ints1d([3, -1])]) },
  { name: 'Expand', inputs: [{ shape: [2, 1, 3] }], build: (g, [x]) => g.node('Expand', [x!, g.ints1d([2, 4, 1])]) },
  { name: 'Cast (float64 → float64)', inputs: [{ shape: [2, 2] }], build: op('Cast', { to: int(11) }) },
  { name: 'Gather (repeated indices scatter-add)', inputs: [{ shape: [5, 3] }, { shape: [4], ints: [1, 3, 1, 0] }], build: op('Gather', { axis: int(0) }), batched: false },
  {
    name: 'RMSNorm chain',
    inputs: [{ shape: [3, 4] }, { shape: [4] }],
    build: (g, [x, w]) => {
      const ms = g.node('ReduceMean', [g.node('Mul', [x!, x!])], { axes: ints([-1]), keepdims: int(1) });
      const inv = g.node('Reciprocal', [g.node('Sqrt', [g.node('Add', [ms, g.scalar(1e-5, 'float64')])])]);
      return g.node('Mul', [g.node('Mul', [x!, inv]), w!]);
    },
  },
  {
    name: 'attention chain (heads, causal bias, softmax, values)',
    inputs: [{ shape: [3, 4] }, { shape: [4, 4] }, { shape: [3, 3], constant: true }],
    build: (g, [x, w, bias]) => {
      const heads = (t: string) => g.node('Transpose', [g.node('Reshape', [t, g.ints1d([-1, 2, 2])])], { perm: ints([1, 0, 2]) });
      const q = heads(g.node('MatMul', [x!, w!]));
      const k = heads(x!);
      const scores = g.node('Add', [g.node('MatMul', [q, g.node('Transpose', [k], { perm: ints([0, 2, 1]) })]), bias!]);
      const p = g.node('Softmax', [scores], { axis: int(-1) });
      const ctx = g.node('MatMul', [p, heads(x!)]);
      return g.node('Reshape', [g.node('Transpose', [ctx], { perm: ints([1, 0, 2]) }), g.ints1d([-1, 4])]);
    },
  },
];

describe('VJP rules against central finite differences (float64)', () => {
  for (const c of CASES) {
    it(c.name, async () => {
      await checkCase(c, 0);
      if (c.batched !== false) await checkCase(c, 1);
    });
  }

  it('a rule that is wrong is caught (VJP)', async () => {
    // Guard for the oracle itself: a deliberately broken graph (Sigmoid differentiated as identity) must fail.
    const broken: Case = { name: 'broken', inputs: [{ shape: [2] }], build: (g, [x]) => g.node('Identity', [x!]) };
    const sigmoid: Case = { ...broken, build: op('Sigmoid') };
    await checkCase(sigmoid, 0);
    const { VJP_RULES } = await import('../../src/onnx/vjp.js');
    const saved = VJP_RULES.Sigmoid!;
    VJP_RULES.Sigmoid = VJP_RULES.Identity!;
    try {
      await assert.rejects(checkCase(sigmoid, 0), /finite differences give/);
    } finally {
      VJP_RULES.Sigmoid = saved;
    }
  });
});

describe('JVP rules against central finite differences (float64)', () => {
  for (const c of CASES) {
    it(c.name, async () => {
      for (const varied of tangentSets(c)) {
        await checkJvp(c, 0, varied);
        await checkJvp(c, 1, varied);
      }
    });
  }

  it('a rule that is wrong is caught (JVP)', async () => {
    const sigmoid: Case = { name: 'Sigmoid', inputs: [{ shape: [2, 3] }], build: op('Sigmoid') };
    await checkJvp(sigmoid, 1, [0]);
    const saved = JVP_RULES.Sigmoid!;
    // Plausible but wrong: dy = dx · y instead of dx · y(1 − y).
    JVP_RULES.Sigmoid = JVP_RULES.Exp!;
    try {
      await assert.rejects(checkJvp(sigmoid, 1, [0]), /finite differences give/);
    } finally {
      JVP_RULES.Sigmoid = saved;
    }
  });
});

describe('rule coverage', () => {
  it('every op with a VJP rule has a JVP rule and the other way round, and none is also declared not differentiated', () => {
    assert.deepEqual(Object.keys(JVP_RULES).sort(), Object.keys(VJP_RULES).sort());
    for (const op of Object.keys(NOT_DIFFERENTIATED)) assert.ok(!(op in VJP_RULES), `${op} has rules and is declared not differentiated`);
  });

  it('every op of the graphs we build has a shape rule, and both differentiation rules or a reason why not', async () => {
    const dir = join(tempDir(), 'coverage');
    await writeSyntheticCheckpoint(dir, { preset: 'tiny', seed: 3, architecture: 'Qwen2ForCausalLM', dtype: 'BF16' });
    const checkpoint = loadCheckpoint(dir);
    // Building runs every node's shape rule (Graph.node infers its outputs), so a missing one throws here.
    const graphs = [
      buildLlamaGraph(checkpoint, { input: 'ids', kvCache: true, logits: 'last', attentions: true, ffn: true }),
      buildLlamaGraph(checkpoint, { input: 'embeds', kvCache: false, logits: 'all', attentions: true, ffn: true, compute: 'float16' }),
      buildGradientGraph(checkpoint, 'prob', { weightGradients: true, headBlockBytes: 4096 }),
      buildForwardGradientGraph(checkpoint, 'logprob', { headBlockBytes: 4096 }),
    ];
    const ops = new Set(graphs.flatMap((g) => g.nodes.map((n) => n.op)));
    assert.ok(ops.size > 20, 'the graphs use the IR broadly');
    for (const op of ops) assert.ok((op in VJP_RULES && op in JVP_RULES) || op in NOT_DIFFERENTIATED, `${op} has no differentiation rules and is not declared not differentiated`);
  });
});
