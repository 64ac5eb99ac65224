import { int, ints, type Dim, type Graph, type NodeDef } from './graph.js';
import { normalizeAxis, type TensorInfo } from './shapes.js';
import { assertPlainGemm, attrInt, attrInts, POINTWISE } from './vjp.js';

/**
 * Jacobian–vector product rules (forward mode), one per op, beside the VJP rules of vjp.ts: the
 * same ops in the same order, so that an op's two rules are read (and changed) together. Given the
 * forward node and the tangents of its inputs (null where an input has none: a weight, a mask, an
 * index), a rule adds nodes computing the tangents of its outputs.
 *
 * Tangents may carry one extra leading batch axis (`ctx.batch` = 1): many directions carried
 * through one forward at once, as VJP rules carry many cotangents. A tangent always has its
 * value's full shape (with the batch axis in front), never a broadcastable one.
 *
 * Adding an op: give it a shape rule (shapes.ts), a VJP rule (vjp.ts) and a JVP rule here, or
 * list it in NOT_DIFFERENTIATED with the reason; test/unit/vjp-rules.test.ts checks all four.
 */
export interface JvpContext {
  g: Graph;
  /** 0, or 1 when tangents carry a leading batch axis. */
  batch: 0 | 1;
  /** A scalar constant of the tangents' element type. */
  scalar(value: number, like: string): string;
}

export type JvpRule = (ctx: JvpContext, node: NodeDef, inputTangents: (string | null)[]) => (string | null)[];

const info = (ctx: JvpContext, v: string): TensorInfo => ctx.g.info(v);

/**
 * A batched tangent of a value of rank `from` made to broadcast like that value against values of
 * rank `to`: its missing leading axes inserted after the batch axis (numpy aligns from the right,
 * so [B, 3] against [2, 3] would pair B with 2).
 */
function lift(ctx: JvpContext, t: string, from: number, to: number): string {
  if (!ctx.batch || from >= to) return t;
  return ctx.g.node('Unsqueeze', [t, ctx.g.ints1d(Array.from({ length: to - from }, (_, i) => 1 + i))]);
}

/** The value's shape as a run-time tensor, with the batch axis of `like` in front when batched. */
function batchedShape(ctx: JvpContext, value: string, like: string): string {
  const shape = ctx.g.node('Shape', [value]);
  if (!ctx.batch) return shape;
  const lead = ctx.g.node('Slice', [ctx.g.node('Shape', [like]), ctx.g.ints1d([0]), ctx.g.ints1d([1]), ctx.g.ints1d([0])]);
  return ctx.g.node('Concat', [lead, shape], { axis: int(0) });
}

const sameDims = (a: Dim[], b: Dim[]) => a.length === b.length && a.every((d, i) => d === b[i]);

/** A tangent of `input` as a tangent of the broadcast result `output`: lifted, then expanded where the input had size 1. */
function broadcastTangent(ctx: JvpContext, t: string, input: string, output: string): string {
  const x = info(ctx, input).shape, y = info(ctx, output).shape;
  if (sameDims(x, y)) return t;
  return ctx.g.node('Expand', [lift(ctx, t, x.length, y.length), batchedShape(ctx, output, t)]);
}

/** Sum of the tangent terms an op's inputs contribute (null when none does). */
function sum(ctx: JvpContext, terms: (string | null)[]): string | null {
  const present = terms.filter((t): t is string => t !== null);
  return present.length === 0 ? null : present.reduce((a, b) => ctx.g.node('Add', [a, b]));
}

/**
 * A product bilinear in its two inputs (Mul, MatMul): d(a∘b) = da∘b + a∘db. Batched tangents are
 * lifted to the output's rank first so that their batch axis does not pair with one of the other
 * operand's.
 */
function bilinear(op: string): JvpRule {
  return (ctx, node, [da, db]) => {
    const [a, b] = node.inputs as [string, string];
    const rank = info(ctx, node.outputs[0]!).shape.length;
    return [
      sum(ctx, [
        da ? ctx.g.node(op, [lift(ctx, da, info(ctx, a).shape.length, rank), b]) : null,
        db ? ctx.g.node(op, [a, lift(ctx, db, info(ctx, b).shape.length, rank)]) : null,
      ]),
    ];
  };
}

function elementwise(derivative: (ctx: JvpContext, node: NodeDef, dx: string) => string): JvpRule {
  return (ctx, node, [dx]) => [dx ? derivative(ctx, node, dx) : null];
}

/** Softmax's axis as a negative axis, which a leading batch axis leaves unchanged. */
function negativeAxis(ctx: JvpContext, node: NodeDef): number {
  const rank = info(ctx, node.outputs[0]!).shape.length;
  return normalizeAxis(attrInt(node, 'axis', -1), rank) - rank;
}

export const JVP_RULES: Record<string, JvpRule> = {
  Identity: (_ctx, _node, [dx]) => [dx ?? null],

  Cast: (ctx, node, [dx]) => {
    const to = info(ctx, node.outputs[0]!).type;
    if (!dx || !['float32', 'float16', 'bfloat16', 'float64'].includes(to)) return [null];
    return [ctx.g.node('Cast', [dx], node.attributes)];
  },

  // Neg, Sqrt, Reciprocal, Exp, Log, Sigmoid, Tanh: one derivative for both modes (POINTWISE).
  ...Object.fromEntries(Object.entries(POINTWISE).map(([op, derivative]) => [op, elementwise(derivative)])),

  Add: (ctx, node, [da, db]) => {
    const [a, b] = node.inputs as [string, string];
    const y = node.outputs[0]!;
    return [sum(ctx, [da ? broadcastTangent(ctx, da, a, y) : null, db ? broadcastTangent(ctx, db, b, y) : null])];
  },

  Sub: (ctx, node, [da, db]) => {
    const [a, b] = node.inputs as [string, string];
    const y = node.outputs[0]!;
    return [sum(ctx, [da ? broadcastTangent(ctx, da, a, y) : null, db ? broadcastTangent(ctx, ctx.g.node('Neg', [db]), b, y) : null])];
  },

  // d(a·b) = da·b + a·db; a tangent has its input's full shape, so each product has the output's.
  Mul: bilinear('Mul'),

  Div: (ctx, node, [da, db]) => {
    // d(a/b) = (da − y·db)/b
    const [a, b] = node.inputs as [string, string];
    const y = node.outputs[0]!;
    const rank = info(ctx, y).shape.length;
    const numerator = sum(ctx, [
      da ? lift(ctx, da, info(ctx, a).shape.length, rank) : null,
      db ? ctx.g.node('Neg', [ctx.g.node('Mul', [lift(ctx, db, info(ctx, b).shape.length, rank), y])]) : null,
    ]);
    return [numerator ? ctx.g.node('Div', [numerator, b]) : null];
  },

  Softmax: elementwise((ctx, node, dx) => {
    // dy = y ⊙ (dx − Σ_axis y ⊙ dx)
    const y = node.outputs[0]!;
    const yd = ctx.g.node('Mul', [y, dx]);
    const dot = ctx.g.node('ReduceSum', [yd, ctx.g.ints1d([negativeAxis(ctx, node)])], { keepdims: int(1) });
    return ctx.g.node('Sub', [yd, ctx.g.node('Mul', [y, dot])]);
  }),

  LogSoftmax: elementwise((ctx, node, dx) => {
    // dy = dx − Σ_axis softmax ⊙ dx
    const p = ctx.g.node('Exp', [node.outputs[0]!]);
    const dot = ctx.g.node('ReduceSum', [ctx.g.node('Mul', [p, dx]), ctx.g.ints1d([negativeAxis(ctx, node)])], { keepdims: int(1) });
    return ctx.g.node('Sub', [dx, dot]);
  }),

  ReduceMean: reduceRule,
  ReduceSum: reduceRule,

  // d(A·B) = dA·B + A·dB
  MatMul: bilinear('MatMul'),

  Gemm: (ctx, node, [da, db, dc]) => {
    assertPlainGemm(node, 'JVP');
    const [a, b] = node.inputs as [string, string, string | undefined];
    const y = node.outputs[0]!;
    const transB = attrInt(node, 'transB', 0) === 1;
    const K = info(ctx, a).shape[1]!;
    if (typeof K !== 'number') throw new Error('Gemm JVP: the contracted dimension must be static');
    // dA·op(B): a batched [T, M, K] tangent is one [T·M, K] Gemm (no transposed copy of B).
    let left: string | null = null;
    if (da) {
      if (!ctx.batch) left = ctx.g.node('Gemm', [da, b], { transB: int(transB ? 1 : 0) });
      else {
        const flat = ctx.g.node('Reshape', [da, ctx.g.ints1d([-1, K])]);
        left = ctx.g.node('Reshape', [ctx.g.node('Gemm', [flat, b], { transB: int(transB ? 1 : 0) }), batchedShape(ctx, y, da)]);
      }
    }
    // A·op(dB)
    let right: string | null = null;
    if (db) {
      if (!ctx.batch) right = ctx.g.node('Gemm', [a, db], { transB: int(transB ? 1 : 0) });
      else right = ctx.g.node('MatMul', [a, transB ? ctx.g.node('Transpose', [db], { perm: ints([0, 2, 1]) }) : db]);
    }
    return [sum(ctx, [left, right, dc ? broadcastTangent(ctx, dc, node.inputs[2]!, y) : null])];
  },

  Transpose: elementwise((ctx, node, dx) => {
    const rank = info(ctx, node.inputs[0]!).shape.length;
    const perm = attrInts(node, 'perm') ?? Array.from({ length: rank }, (_, i) => rank - 1 - i);
    return ctx.g.node('Transpose', [dx], { perm: ints(ctx.batch ? [0, ...perm.map((p) => p + 1)] : perm) });
  }),

  Reshape: (ctx, node, [dx]) => [dx ? ctx.g.node('Reshape', [dx, batchedShape(ctx, node.outputs[0]!, dx)]) : null],

  Expand: (ctx, node, [dx]) => [dx ? broadcastTangent(ctx, dx, node.inputs[0]!, node.outputs[0]!) : null],

  Gather: (ctx, node, [dtable]) => {
    // Rows of the table's tangent at the same indices; indices have none.
    if (!dtable) return [null];
    const axis = normalizeAxis(attrInt(node, 'axis', 0), info(ctx, node.inputs[0]!).shape.length);
    return [ctx.g.node('Gather', [dtable, node.inputs[1]!], { axis: int(axis + ctx.batch) })];
  },
};

function reduceRule(ctx: JvpContext, node: NodeDef, [dx]: (string | null)[]): (string | null)[] {
  // The same reduction of the tangent, its axes moved past the batch axis.
  if (!dx) return [null];
  const rank = info(ctx, node.inputs[0]!).shape.length;
  const listed = node.op === 'ReduceSum' ? ctx.g.intConstant(node.inputs[1] ?? '') : attrInts(node, 'axes');
  const axes = (listed ?? Array.from({ length: rank }, (_, i) => i)).map((a) => normalizeAxis(a, rank) + ctx.batch);
  const keepdims = int(attrInt(node, 'keepdims', 1));
  if (node.op === 'ReduceSum') return [ctx.g.node('ReduceSum', [dx, ctx.g.ints1d(axes)], { keepdims })];
  return [ctx.g.node(node.op, [dx], { ...node.attributes, axes: ints(axes), keepdims })];
}

/**
 * Ops of the IR (they have shape rules) that have neither rule, and why: differentiation never
 * reaches them in the graphs we build. `differentiate` and `linearize` refuse a node whose op is
 * neither here nor in both rule tables.
 */
export const NOT_DIFFERENTIATED: Record<string, string> = {
  Shape: 'integer output (a shape)',
  ConstantOfShape: 'no differentiable input',
  Equal: 'boolean output',
  Less: 'boolean output',
  Greater: 'boolean output',
  And: 'boolean',
  Or: 'boolean',
  Not: 'boolean',
  OneHot: 'integer indices in, constant values',
  TopK: 'used on logits for ranking only (indices)',
  Where: 'used on masks only',
  Unsqueeze: 'used on indices, masks and the seed only, outside the differentiated path',
  Squeeze: 'used outside the differentiated path (analysis graphs)',
  Concat: 'used on shapes, the KV cache and the LM head blocks, outside the differentiated path',
  Slice: 'used on shapes and the LM head blocks, outside the differentiated path',
  ScatterND: 'produced by the Gather VJP only',
  GatherElements: 'picks the objective probability after the head, outside the differentiated path',
  Relu: 'used by the analysis graphs only',
  Abs: 'used by the analysis graphs only',
  Pow: 'used by the analysis graphs only',
  Max: 'used by the analysis graphs only',
  Min: 'used by the analysis graphs only',
  ReduceMax: 'used by the analysis graphs only',
  ReduceSumSquare: 'used by the analysis graphs only',
};
