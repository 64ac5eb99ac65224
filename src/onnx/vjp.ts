import { int, ints, type Dim, type Graph, type NodeDef } from './graph.js';
import { normalizeAxis, type TensorInfo } from './shapes.js';

/**
 * Vector–Jacobian product rules, one per op, in the manner of JAX's primitive rules: given the
 * forward node and the cotangents of its outputs, each rule adds nodes that compute the
 * cotangents of its inputs (null where an input gets none).
 *
 * Cotangents may carry one extra leading batch axis (`ctx.batch` = 1): many objectives are
 * differentiated through one forward at once, each batch entry its own cotangent. Forward values
 * have no batch axis and broadcast against it, so most rules need no special care; those that
 * name axes shift them by `ctx.batch`.
 */
export interface VjpContext {
  g: Graph;
  /** 0, or 1 when cotangents carry a leading batch axis. */
  batch: 0 | 1;
  /** Cotangent of `target` from a cotangent shaped like `from` (forward shape): sums over broadcast axes. */
  unbroadcast(cotangent: string, from: Dim[], target: string): string;
  /** A forward value's shape as a run-time int64 tensor, with the batch axis of `like` prepended when batched. */
  batchedShape(value: string, like: string): string;
  /** A scalar constant of the cotangents' element type. */
  scalar(value: number, like: string): string;
}

/**
 * `needed[i]` says whether input i wants a cotangent: a rule builds nothing for the others, so
 * that, say, a weight's gradient costs nothing when only the activations' are asked for.
 */
export type VjpRule = (ctx: VjpContext, node: NodeDef, outputCotangents: (string | null)[], needed: boolean[]) => (string | null)[];

const info = (ctx: VjpContext, v: string): TensorInfo => ctx.g.info(v);

/** Swaps the last two axes of a tensor of the given rank. */
function swapLast(rank: number): number[] {
  const perm = Array.from({ length: rank }, (_, i) => i);
  [perm[rank - 2], perm[rank - 1]] = [perm[rank - 1]!, perm[rank - 2]!];
  return perm;
}

function transposeLast(ctx: VjpContext, v: string, rank: number): string {
  return ctx.g.node('Transpose', [v], { perm: ints(swapLast(rank)) });
}

/**
 * Pointwise ops y = f(x): their Jacobian is diagonal, f'(x), so a cotangent (reverse mode) and a
 * tangent (forward mode, jvp.ts) are both multiplied by it. One derivative per op serves both.
 */
export type PointwiseDerivative = (ctx: { g: Graph; scalar(value: number, like: string): string }, node: NodeDef, d: string) => string;

export const POINTWISE: Record<string, PointwiseDerivative> = {
  Neg: (ctx, _node, d) => ctx.g.node('Neg', [d]),
  Sqrt: (ctx, node, d) => ctx.g.node('Div', [ctx.g.node('Mul', [d, ctx.scalar(0.5, d)]), node.outputs[0]!]),
  Reciprocal: (ctx, node, d) => {
    const y = node.outputs[0]!;
    return ctx.g.node('Neg', [ctx.g.node('Mul', [d, ctx.g.node('Mul', [y, y])])]);
  },
  Exp: (ctx, node, d) => ctx.g.node('Mul', [d, node.outputs[0]!]),
  Log: (ctx, node, d) => ctx.g.node('Div', [d, node.inputs[0]!]),
  Sigmoid: (ctx, node, d) => {
    const y = node.outputs[0]!;
    return ctx.g.node('Mul', [d, ctx.g.node('Mul', [y, ctx.g.node('Sub', [ctx.scalar(1, d), y])])]);
  },
  Tanh: (ctx, node, d) => {
    const y = node.outputs[0]!;
    return ctx.g.node('Mul', [d, ctx.g.node('Sub', [ctx.scalar(1, d), ctx.g.node('Mul', [y, y])])]);
  },
};

function elementwise(derivative: (ctx: VjpContext, node: NodeDef, dy: string) => string): VjpRule {
  return (ctx, node, [dy]) => [dy ? derivative(ctx, node, dy) : null];
}

export function attrInt(node: NodeDef, name: string, fallback: number): number {
  const a = node.attributes[name];
  return a && a.kind === 'int' ? a.value : fallback;
}

export function attrInts(node: NodeDef, name: string): number[] | undefined {
  const a = node.attributes[name];
  return a && a.kind === 'ints' ? a.value : undefined;
}

export const VJP_RULES: Record<string, VjpRule> = {
  Identity: (_ctx, _node, [dy]) => [dy],

  Cast: (ctx, node, [dy]) => {
    const type = info(ctx, node.inputs[0]!).type;
    if (!dy || !['float32', 'float16', 'bfloat16', 'float64'].includes(type)) return [null];
    const code = { float32: 1, float16: 10, float64: 11, bfloat16: 16 }[type as 'float32']!;
    return [ctx.g.node('Cast', [dy], { to: int(code) })];
  },

  // Neg, Sqrt, Reciprocal, Exp, Log, Sigmoid, Tanh: one derivative for both modes (POINTWISE).
  ...Object.fromEntries(Object.entries(POINTWISE).map(([op, derivative]) => [op, elementwise(derivative)])),

  Add: (ctx, node, [dy], needed) => {
    if (!dy) return [null, null];
    const y = info(ctx, node.outputs[0]!).shape;
    return [needed[0] ? ctx.unbroadcast(dy, y, node.inputs[0]!) : null, needed[1] ? ctx.unbroadcast(dy, y, node.inputs[1]!) : null];
  },

  Sub: (ctx, node, [dy], needed) => {
    if (!dy) return [null, null];
    const y = info(ctx, node.outputs[0]!).shape;
    return [
      needed[0] ? ctx.unbroadcast(dy, y, node.inputs[0]!) : null,
      needed[1] ? ctx.unbroadcast(ctx.g.node('Neg', [dy]), y, node.inputs[1]!) : null,
    ];
  },

  Mul: (ctx, node, [dy], needed) => {
    if (!dy) return [null, null];
    const [a, b] = node.inputs as [string, string];
    const y = info(ctx, node.outputs[0]!).shape;
    return [
      needed[0] ? ctx.unbroadcast(ctx.g.node('Mul', [dy, b]), y, a) : null,
      needed[1] ? ctx.unbroadcast(ctx.g.node('Mul', [dy, a]), y, b) : null,
    ];
  },

  Div: (ctx, node, [dy], needed) => {
    if (!dy) return [null, null];
    const [a, b] = node.inputs as [string, string];
    const y = info(ctx, node.outputs[0]!).shape;
    const da = needed[0] ? ctx.unbroadcast(ctx.g.node('Div', [dy, b]), y, a) : null;
    // d(a/b)/db = −a/b² = −y/b
    const db = needed[1] ? ctx.unbroadcast(ctx.g.node('Neg', [ctx.g.node('Div', [ctx.g.node('Mul', [dy, node.outputs[0]!]), b])]), y, b) : null;
    return [da, db];
  },

  Softmax: elementwise((ctx, node, dy) => {
    // dx = y ⊙ (dy − Σ_axis dy ⊙ y); negative axes are unaffected by a leading batch axis.
    const y = node.outputs[0]!;
    const rank = info(ctx, y).shape.length;
    const axis = normalizeAxis(attrInt(node, 'axis', -1), rank) - rank;
    const dot = ctx.g.node('ReduceSum', [ctx.g.node('Mul', [dy, y]), ctx.g.ints1d([axis])], { keepdims: int(1) });
    return ctx.g.node('Mul', [y, ctx.g.node('Sub', [dy, dot])]);
  }),

  LogSoftmax: elementwise((ctx, node, dy) => {
    // dx = dy − softmax ⊙ Σ_axis dy
    const y = node.outputs[0]!;
    const rank = info(ctx, y).shape.length;
    const axis = normalizeAxis(attrInt(node, 'axis', -1), rank) - rank;
    const total = ctx.g.node('ReduceSum', [dy, ctx.g.ints1d([axis])], { keepdims: int(1) });
    return ctx.g.node('Sub', [dy, ctx.g.node('Mul', [ctx.g.node('Exp', [y]), total])]);
  }),

  ReduceMean: reduceRule(true),
  ReduceSum: reduceRule(false),

  MatMul: (ctx, node, [dy], needed) => {
    if (!dy) return [null, null];
    const [a, b] = node.inputs as [string, string];
    const as = info(ctx, a).shape, bs = info(ctx, b).shape, ys = info(ctx, node.outputs[0]!).shape;
    const lead = ys.slice(0, -2);
    // dA = dY · Bᵀ, shaped [...batch(Y), M, K]; dB = Aᵀ · dY, shaped [...batch(Y), K, N].
    const da = needed[0]
      ? ctx.unbroadcast(ctx.g.node('MatMul', [dy, transposeLast(ctx, b, bs.length)]), [...lead, as[as.length - 2]!, as[as.length - 1]!], a)
      : null;
    const db = needed[1]
      ? ctx.unbroadcast(ctx.g.node('MatMul', [transposeLast(ctx, a, as.length), dy]), [...lead, bs[bs.length - 2]!, bs[bs.length - 1]!], b)
      : null;
    return [da, db];
  },

  Gemm: (ctx, node, [dy], needed) => {
    if (!dy) return [null, null, null];
    assertPlainGemm(node, 'VJP');
    const [a, b, c] = node.inputs as [string, string, string | undefined];
    const transB = attrInt(node, 'transB', 0) === 1;
    const rank = 2 + ctx.batch;
    // Y = A·op(B) + C with A [M, K]. MatMul (not Gemm) because a batched cotangent is 3-D.
    const da = needed[0] ? ctx.g.node('MatMul', [dy, transB ? b : ctx.g.node('Transpose', [b], { perm: ints([1, 0]) })]) : null;
    const db = !needed[1]
      ? null
      : transB
        ? ctx.g.node('MatMul', [transposeLast(ctx, dy, rank), a]) // [N, M]·[M, K]
        : ctx.g.node('MatMul', [ctx.g.node('Transpose', [a], { perm: ints([1, 0]) }), dy]);
    const dc = c && needed[2] ? ctx.unbroadcast(dy, info(ctx, node.outputs[0]!).shape, c) : null;
    return [da, db, dc];
  },

  Transpose: elementwise((ctx, node, dy) => {
    const rank = info(ctx, node.inputs[0]!).shape.length;
    const perm = attrInts(node, 'perm') ?? Array.from({ length: rank }, (_, i) => rank - 1 - i);
    const inverse = new Array<number>(rank);
    perm.forEach((p, i) => (inverse[p] = i));
    const shifted = ctx.batch ? [0, ...inverse.map((p) => p + 1)] : inverse;
    return ctx.g.node('Transpose', [dy], { perm: ints(shifted) });
  }),

  Reshape: (ctx, node, [dy]) => [dy ? ctx.g.node('Reshape', [dy, ctx.batchedShape(node.inputs[0]!, dy)]) : null, null],

  Expand: (ctx, node, [dy]) => [dy ? ctx.unbroadcast(dy, info(ctx, node.outputs[0]!).shape, node.inputs[0]!) : null, null],

  Gather: (ctx, node, [dy]) => {
    // Gradient for the table (embeddings): scatter-add the rows back. Indices get none.
    if (!dy) return [null, null];
    if (ctx.batch) throw new Error('Gather VJP: batched cotangents are not supported');
    if (attrInt(node, 'axis', 0) !== 0) throw new Error('Gather VJP: only axis 0 is supported');
    const [table, indices] = node.inputs as [string, string];
    const zeros = ctx.g.node('Mul', [table, ctx.scalar(0, dy)]);
    const idx = ctx.g.node('Unsqueeze', [indices, ctx.g.ints1d([-1])]);
    return [ctx.g.node('ScatterND', [zeros, idx, dy], { reduction: { kind: 'string', value: 'add' } }), null];
  },
};

/** The Gemm both rule sets support: Y = A·op(B) + C, A not transposed, alpha = beta = 1. */
export function assertPlainGemm(node: NodeDef, rule: 'VJP' | 'JVP'): void {
  if (attrInt(node, 'transA', 0) !== 0) throw new Error(`Gemm ${rule}: transA is not supported`);
  const alpha = node.attributes.alpha, beta = node.attributes.beta;
  if ((alpha && alpha.kind === 'float' && alpha.value !== 1) || (beta && beta.kind === 'float' && beta.value !== 1)) {
    throw new Error(`Gemm ${rule}: alpha/beta ≠ 1 are not supported`);
  }
}

function reduceRule(mean: boolean): VjpRule {
  return (ctx, node, [dy]) => {
    if (!dy) return [null, null];
    const x = node.inputs[0]!;
    const xs = info(ctx, x).shape;
    const rank = xs.length;
    const axesList = node.op === 'ReduceSum' ? ctx.g.intConstant(node.inputs[1] ?? '') : attrInts(node, 'axes');
    const axes = (axesList ?? xs.map((_, i) => i)).map((a) => normalizeAxis(a, rank));
    let grad = dy;
    if (attrInt(node, 'keepdims', 1) === 0) grad = ctx.g.node('Unsqueeze', [grad, ctx.g.ints1d(axes.map((a) => a + ctx.batch))]);
    if (mean) {
      let count = 1;
      for (const a of axes) {
        const d = xs[a]!;
        if (typeof d !== 'number') throw new Error('ReduceMean VJP: reduced axes must have static sizes');
        count *= d;
      }
      grad = ctx.g.node('Mul', [grad, ctx.scalar(1 / count, dy)]);
    }
    return [ctx.g.node('Expand', [grad, ctx.batchedShape(x, dy)]), null];
  };
}
