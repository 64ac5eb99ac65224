import type { Attribute, Dim, ElementType } from './graph.js';

/** A value's element type and shape, as far as they are known when the graph is built. */
export interface TensorInfo {
  type: ElementType;
  /** Numbers are fixed; strings are symbolic dimensions (the same string is the same size). */
  shape: Dim[];
  /**
   * For 1-D int64 tensors that hold a shape: the value, as far as it is known (numbers, or
   * symbolic dimensions). Constants have it, and so does Shape(x), so run-time shapes built
   * with Shape/Concat/Slice still give Reshape and Expand a known output shape.
   */
  value?: Dim[];
}

export interface InferenceInput {
  info: TensorInfo;
}

const numericValue = (input: InferenceInput | undefined): number[] | undefined => {
  const v = input?.info.value;
  return v && v.every((d) => typeof d === 'number') ? (v as number[]) : undefined;
};

let unknownCounter = 0;
/** A dimension nothing is known about except that it exists. */
function unknownDim(): string {
  return `?${++unknownCounter}`;
}

function attrInt(attrs: Record<string, Attribute>, name: string, fallback: number): number {
  const a = attrs[name];
  return a && a.kind === 'int' ? a.value : fallback;
}

function attrInts(attrs: Record<string, Attribute>, name: string): number[] | undefined {
  const a = attrs[name];
  return a && a.kind === 'ints' ? a.value : undefined;
}

export function normalizeAxis(axis: number, rank: number): number {
  const a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank) throw new Error(`axis ${axis} out of range for rank ${rank}`);
  return a;
}

/** Numpy-style broadcasting of two shapes; symbolic dims broadcast only against 1 or themselves. */
export function broadcastShapes(a: Dim[], b: Dim[]): Dim[] {
  const rank = Math.max(a.length, b.length);
  const out: Dim[] = [];
  for (let i = 0; i < rank; i++) {
    const x = a[a.length - rank + i] ?? 1;
    const y = b[b.length - rank + i] ?? 1;
    if (x === 1) out.push(y);
    else if (y === 1 || x === y) out.push(x);
    else if (typeof x === 'number' && typeof y === 'number') throw new Error(`cannot broadcast [${a}] with [${b}]`);
    else out.push(typeof x === 'number' ? x : y);
  }
  return out;
}

function product(dims: Dim[]): number | null {
  let p = 1;
  for (const d of dims) {
    if (typeof d !== 'number') return null;
    p *= d;
  }
  return p;
}

function reshape(input: Dim[], target: number[]): Dim[] {
  const out: Dim[] = target.map((d, i) => (d === 0 ? input[i]! : d));
  const minus = out.indexOf(-1);
  if (minus >= 0) {
    const known = product(out.filter((_, i) => i !== minus));
    const total = product(input);
    if (known !== null && total !== null) out[minus] = total / known;
    else {
      // [S, a·b] → [-1, a, b]: the symbolic part carries over when the numeric parts match.
      const symbolic = input.filter((d) => typeof d === 'string');
      const inputNumeric = product(input.filter((d) => typeof d === 'number'))!;
      const outNumeric = product(out.filter((d, i) => i !== minus && typeof d === 'number'))!;
      const outSymbolic = out.filter((d, i) => i !== minus && typeof d === 'string');
      out[minus] = symbolic.length === 1 && outSymbolic.length === 0 && inputNumeric === outNumeric ? symbolic[0]! : unknownDim();
    }
  }
  return out;
}

const FLOATS: ReadonlySet<ElementType> = new Set(['float32', 'float16', 'bfloat16', 'float64']);
export const isFloat = (t: ElementType) => FLOATS.has(t);

const ONNX_CODE_TO_TYPE: Record<number, ElementType> = { 1: 'float32', 6: 'int32', 7: 'int64', 9: 'bool', 10: 'float16', 11: 'float64', 16: 'bfloat16' };

/**
 * Output types and shapes of the ops our graphs use. Knowing shapes at build time lets the
 * differentiation rules undo broadcasting without run-time shape arithmetic.
 */
export function inferOutputs(op: string, inputs: InferenceInput[], attrs: Record<string, Attribute>): TensorInfo[] {
  const x = inputs[0]?.info;
  const same = (): TensorInfo[] => [{ type: x!.type, shape: [...x!.shape] }];
  switch (op) {
    case 'Identity': case 'Neg': case 'Sqrt': case 'Reciprocal': case 'Sigmoid': case 'Exp': case 'Log':
    case 'Tanh': case 'Relu': case 'Softmax': case 'LogSoftmax': case 'Abs':
      return same();
    case 'Add': case 'Sub': case 'Mul': case 'Div': case 'Pow': case 'Max': case 'Min':
      return [{ type: x!.type, shape: broadcastShapes(x!.shape, inputs[1]!.info.shape) }];
    case 'Equal': case 'Less': case 'Greater': case 'And': case 'Or':
      return [{ type: 'bool', shape: broadcastShapes(x!.shape, inputs[1]!.info.shape) }];
    case 'Not':
      return [{ type: 'bool', shape: [...x!.shape] }];
    case 'TopK': {
      // values (the input's type) and int64 indices; the axis shrinks to k.
      const axis = normalizeAxis(attrInt(attrs, 'axis', -1), x!.shape.length);
      const k = numericValue(inputs[1])?.[0] ?? unknownDim();
      const shape = x!.shape.map((d, i) => (i === axis ? k : d));
      return [{ type: x!.type, shape }, { type: 'int64', shape: [...shape] }];
    }
    case 'Where':
      return [{ type: inputs[1]!.info.type, shape: broadcastShapes(broadcastShapes(x!.shape, inputs[1]!.info.shape), inputs[2]!.info.shape) }];
    case 'Cast':
      return [{ type: ONNX_CODE_TO_TYPE[attrInt(attrs, 'to', 1)]!, shape: [...x!.shape] }];
    case 'Shape':
      return [{ type: 'int64', shape: [x!.shape.length], value: [...x!.shape] }];
    case 'ConstantOfShape': {
      const value = attrs.value;
      const type = value && value.kind === 'tensor' ? value.value.type : 'float32';
      const dims = inputs[0]!.info.value;
      return [{ type, shape: dims ? [...dims] : Array.from({ length: Number(inputs[0]!.info.shape[0]) }, unknownDim) }];
    }
    case 'Gather': {
      const axis = normalizeAxis(attrInt(attrs, 'axis', 0), x!.shape.length);
      const idx = inputs[1]!.info.shape;
      return [{ type: x!.type, shape: [...x!.shape.slice(0, axis), ...idx, ...x!.shape.slice(axis + 1)] }];
    }
    case 'Gemm': {
      const a = x!.shape, b = inputs[1]!.info.shape;
      const m = attrInt(attrs, 'transA', 0) ? a[1]! : a[0]!;
      const n = attrInt(attrs, 'transB', 0) ? b[0]! : b[1]!;
      return [{ type: x!.type, shape: [m, n] }];
    }
    case 'MatMul': {
      const a = x!.shape, b = inputs[1]!.info.shape;
      if (a.length < 2 || b.length < 2) throw new Error('MatMul shape inference needs rank ≥ 2 operands');
      const batch = broadcastShapes(a.slice(0, -2), b.slice(0, -2));
      return [{ type: x!.type, shape: [...batch, a[a.length - 2]!, b[b.length - 1]!] }];
    }
    case 'ReduceMean': case 'ReduceSum': case 'ReduceMax': case 'ReduceSumSquare': {
      // opset 17: ReduceSum takes axes as an input, the others as an attribute.
      const axesList = op === 'ReduceSum' ? numericValue(inputs[1]) : attrInts(attrs, 'axes');
      const rank = x!.shape.length;
      const axes = new Set((axesList ?? x!.shape.map((_, i) => i)).map((a) => normalizeAxis(a, rank)));
      const keep = attrInt(attrs, 'keepdims', 1) === 1;
      const shape: Dim[] = [];
      x!.shape.forEach((d, i) => {
        if (!axes.has(i)) shape.push(d);
        else if (keep) shape.push(1);
      });
      return [{ type: x!.type, shape }];
    }
    case 'Transpose': {
      const perm = attrInts(attrs, 'perm') ?? x!.shape.map((_, i) => x!.shape.length - 1 - i);
      return [{ type: x!.type, shape: perm.map((p) => x!.shape[p]!) }];
    }
    case 'Reshape': {
      const target = inputs[1]!.info.value;
      if (!target) throw new Error('Reshape needs a target shape known at build time');
      const numeric = numericValue(inputs[1]);
      return [{ type: x!.type, shape: numeric ? reshape(x!.shape, numeric) : [...target] }];
    }
    case 'Expand': {
      const target = inputs[1]!.info.value;
      if (!target) throw new Error('Expand needs a shape known at build time');
      return [{ type: x!.type, shape: broadcastShapes(x!.shape, target) }];
    }
    case 'Unsqueeze': {
      const axes = numericValue(inputs[1])!;
      const rank = x!.shape.length + axes.length;
      const norm = new Set(axes.map((a) => normalizeAxis(a, rank)));
      const shape: Dim[] = [];
      let j = 0;
      for (let i = 0; i < rank; i++) shape.push(norm.has(i) ? 1 : x!.shape[j++]!);
      return [{ type: x!.type, shape }];
    }
    case 'Squeeze': {
      const axes = new Set((numericValue(inputs[1]) ?? []).map((a) => normalizeAxis(a, x!.shape.length)));
      return [{ type: x!.type, shape: x!.shape.filter((d, i) => !(axes.has(i) || (axes.size === 0 && d === 1))) }];
    }
    case 'Concat': {
      const axis = normalizeAxis(attrInt(attrs, 'axis', 0), x!.shape.length);
      const sizes = inputs.map((i) => i.info.shape[axis]!);
      const total = sizes.every((s) => typeof s === 'number') ? (sizes as number[]).reduce((a, b) => a + b, 0) : unknownDim();
      const values = inputs.map((i) => i.info.value);
      const value = x!.type === 'int64' && x!.shape.length === 1 && values.every(Boolean) ? values.flatMap((v) => v!) : undefined;
      return [{ type: x!.type, shape: x!.shape.map((d, i) => (i === axis ? total : d)), value }];
    }
    case 'Slice': {
      const starts = numericValue(inputs[1])!, ends = numericValue(inputs[2])!;
      const axes = numericValue(inputs[3]) ?? starts.map((_, i) => i);
      const shape = [...x!.shape];
      axes.forEach((axis, k) => {
        const a = normalizeAxis(axis, shape.length);
        const dim = shape[a]!;
        if (typeof dim === 'number') {
          const clamp = (v: number) => Math.min(Math.max(v < 0 ? v + dim : v, 0), dim);
          shape[a] = Math.max(clamp(ends[k]!) - clamp(starts[k]!), 0);
        } else if (starts[k]! < 0 && ends[k]! >= Number.MAX_SAFE_INTEGER) shape[a] = -starts[k]!;
        else shape[a] = unknownDim();
      });
      let value: Dim[] | undefined;
      if (x!.value && axes.length === 1 && typeof shape[0] === 'number') {
        const n = x!.value.length;
        const start = Math.min(Math.max(starts[0]! < 0 ? starts[0]! + n : starts[0]!, 0), n);
        value = x!.value.slice(start, start + (shape[0] as number));
      }
      return [{ type: x!.type, shape, value }];
    }
    case 'ScatterND':
      return same();
    case 'GatherElements':
      return [{ type: x!.type, shape: [...inputs[1]!.info.shape] }];
    case 'OneHot': {
      const depth = numericValue(inputs[1])?.[0] ?? unknownDim();
      return [{ type: inputs[2]!.info.type, shape: [...x!.shape, depth] }];
    }
    default:
      throw new Error(`no shape inference for op ${op}`);
  }
}
