import { inferOutputs, type TensorInfo } from './shapes.js';

/**
 * A small typed ONNX graph IR. Graphs are built as plain data (nodes, values, initializers) so
 * that later passes — serialization, reverse-mode differentiation — can walk them; `serialize.ts`
 * turns a graph into ONNX protobuf bytes.
 */

export type ElementType = 'float32' | 'float16' | 'bfloat16' | 'float64' | 'int64' | 'int32' | 'bool';

/** ONNX TensorProto.DataType codes. */
export const ONNX_TYPE_CODE: Record<ElementType, number> = {
  float32: 1, int32: 6, int64: 7, bool: 9, float16: 10, float64: 11, bfloat16: 16,
};

export type Dim = number | string;

export interface ValueInfo {
  name: string;
  type: ElementType;
  /** Dimensions: numbers are fixed, strings are symbolic (dynamic). Omitted: unknown rank. */
  shape?: Dim[];
}

export type Attribute =
  | { kind: 'int'; value: number }
  | { kind: 'float'; value: number }
  | { kind: 'ints'; value: number[] }
  | { kind: 'floats'; value: number[] }
  | { kind: 'string'; value: string }
  | { kind: 'tensor'; value: InlineTensor };

export interface NodeDef {
  op: string;
  domain: string;
  name: string;
  inputs: string[];
  outputs: string[];
  attributes: Record<string, Attribute>;
}

/** Tensor bytes stored in the model itself (constants, small tables). */
export interface InlineTensor {
  name: string;
  type: ElementType;
  dims: number[];
  data: Uint8Array;
}

/** A tensor whose bytes stay in a file (a .safetensors weight), referenced by offset. */
export interface ExternalTensor {
  name: string;
  type: ElementType;
  dims: number[];
  /** Path relative to the external-data folder given to the session; never absolute, never '..'. */
  location: string;
  offset: number;
  length: number;
}

export type Initializer = InlineTensor | ExternalTensor;

export function isExternal(t: Initializer): t is ExternalTensor {
  return (t as ExternalTensor).location !== undefined;
}

/** Attribute constructors, so call sites read `{ axis: int(1) }`. */
export const int = (value: number): Attribute => ({ kind: 'int', value });
export const float = (value: number): Attribute => ({ kind: 'float', value });
export const ints = (value: number[]): Attribute => ({ kind: 'ints', value });
export const floats = (value: number[]): Attribute => ({ kind: 'floats', value });
export const str = (value: string): Attribute => ({ kind: 'string', value });

export function tensorBytes(type: ElementType, values: ArrayLike<number | bigint | boolean>): Uint8Array {
  switch (type) {
    case 'float32':
      return new Uint8Array(Float32Array.from(values as ArrayLike<number>).buffer);
    case 'float64':
      return new Uint8Array(Float64Array.from(values as ArrayLike<number>).buffer);
    case 'int32':
      return new Uint8Array(Int32Array.from(values as ArrayLike<number>).buffer);
    case 'int64':
      return new Uint8Array(BigInt64Array.from(Array.from(values as ArrayLike<number | bigint>, (v) => BigInt(v))).buffer);
    case 'bool':
      return Uint8Array.from(Array.from(values as ArrayLike<boolean | number>, (v) => (v ? 1 : 0)));
    case 'float16':
    case 'bfloat16':
      throw new Error(`inline ${type} constants are not needed by any graph we build`);
  }
}

export class Graph {
  readonly inputs: ValueInfo[] = [];
  readonly outputs: ValueInfo[] = [];
  readonly nodes: NodeDef[] = [];
  readonly initializers: Initializer[] = [];
  private readonly used = new Set<string>();
  private readonly infos = new Map<string, TensorInfo>();
  private counter = 0;

  constructor(readonly name = 'graph') {}

  /** A fresh value name, never reused in this graph. */
  fresh(prefix: string): string {
    let name = prefix;
    while (this.used.has(name)) name = `${prefix}_${++this.counter}`;
    this.used.add(name);
    return name;
  }

  input(name: string, type: ElementType, shape: Dim[]): string {
    this.claim(name);
    this.inputs.push({ name, type, shape });
    this.infos.set(name, { type, shape: [...shape] });
    return name;
  }

  /** Type and shape of a value (symbolic dimensions as strings). */
  info(name: string): TensorInfo {
    const info = this.infos.get(name);
    if (!info) throw new Error(`unknown graph value '${name}'`);
    return info;
  }

  /** The value of a 1-D int64 tensor known at build time with numbers only (constants, static shapes). */
  intConstant(name: string): number[] | undefined {
    const value = this.infos.get(name)?.value;
    return value && value.every((d) => typeof d === 'number') ? (value as number[]) : undefined;
  }

  /** Declares `value` a graph output called `name`; its type and shape come from the graph. */
  output(value: string, name: string = value): string {
    // ONNX outputs are named values; an Identity gives the public name without renaming internals.
    const out = name === value ? value : this.node('Identity', [value], {}, { outputName: name });
    const info = this.info(out);
    this.outputs.push({ name: out, type: info.type, shape: info.shape });
    return out;
  }

  initializer(t: Initializer): string {
    this.claim(t.name);
    this.initializers.push(t);
    this.infos.set(t.name, { type: t.type, shape: [...t.dims] });
    return t.name;
  }

  constant(type: ElementType, dims: number[], values: ArrayLike<number | bigint | boolean>, prefix = 'const'): string {
    const name = this.fresh(prefix);
    this.initializers.push({ name, type, dims, data: tensorBytes(type, values) });
    const value = type === 'int64' && dims.length <= 1 ? Array.from(values as ArrayLike<number>, Number) : undefined;
    this.infos.set(name, { type, shape: [...dims], value });
    return name;
  }

  scalar(value: number, type: ElementType = 'float32'): string {
    // A float16 scalar is a float32 one converted in the graph: the rounding is onnxruntime's, and
    // no half-precision encoder is needed here.
    if (type === 'float16') return this.node('Cast', [this.scalar(value)], { to: { kind: 'int', value: ONNX_TYPE_CODE.float16 } });
    return this.constant(type, [], [value], `c_${String(value).replace(/[^\w]/g, '_')}`);
  }

  ints1d(values: number[]): string {
    return this.constant('int64', [values.length], values, 'shape');
  }

  /** Adds a node with one output and returns the output's name. */
  node(op: string, inputs: string[], attributes: Record<string, Attribute> = {}, options: { outputName?: string; domain?: string } = {}): string {
    return this.nodeN(op, inputs, 1, attributes, options)[0]!;
  }

  /** Adds a node with `count` outputs. An empty-string input means "optional input omitted". */
  nodeN(op: string, inputs: string[], count: number, attributes: Record<string, Attribute> = {}, options: { outputName?: string; domain?: string } = {}): string[] {
    const outputs = Array.from({ length: count }, (_, i) =>
      i === 0 && options.outputName ? this.claim(options.outputName) : this.fresh(`${op.toLowerCase()}_out`),
    );
    const inferred = inferOutputs(
      op,
      inputs.map((name) => ({ info: name === '' ? { type: 'float32', shape: [] } : this.info(name) })),
      attributes,
    );
    outputs.forEach((name, i) => {
      if (inferred[i]) this.infos.set(name, inferred[i]!);
    });
    this.nodes.push({ op, domain: options.domain ?? '', name: this.fresh(`n_${op}`), inputs, outputs, attributes });
    return outputs;
  }

  /**
   * Drops nodes (and inline constants) that no output depends on. Differentiation rules may leave
   * such nodes behind; onnxruntime would otherwise allocate and run them.
   */
  pruneDead(): void {
    const live = new Set(this.outputs.map((o) => o.name));
    const kept: NodeDef[] = [];
    for (let i = this.nodes.length - 1; i >= 0; i--) {
      const node = this.nodes[i]!;
      if (!node.outputs.some((o) => live.has(o))) continue;
      kept.push(node);
      for (const input of node.inputs) if (input) live.add(input);
    }
    this.nodes.splice(0, this.nodes.length, ...kept.reverse());
    const initializers = this.initializers.filter((t) => live.has(t.name));
    this.initializers.splice(0, this.initializers.length, ...initializers);
  }

  private claim(name: string): string {
    if (this.used.has(name)) throw new Error(`graph value name '${name}' is already used`);
    this.used.add(name);
    return name;
  }
}
