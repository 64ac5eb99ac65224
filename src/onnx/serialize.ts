import { onnx } from 'onnx-proto';
import { isExternal, ONNX_TYPE_CODE, type Attribute, type Dim, type Graph, type InlineTensor, type ValueInfo } from './graph.js';

/** ONNX IR version 8 with opset 17: the newest pair onnx-proto's schema describes fully. */
export const IR_VERSION = 8;
export const OPSET = 17;

function valueInfo(v: ValueInfo): onnx.IValueInfoProto {
  const shape = v.shape
    ? { dim: v.shape.map((d: Dim) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) }
    : undefined;
  return { name: v.name, type: { tensorType: { elemType: ONNX_TYPE_CODE[v.type], shape } } };
}

function inlineTensor(t: InlineTensor): onnx.ITensorProto {
  return { name: t.name, dataType: ONNX_TYPE_CODE[t.type], dims: t.dims, rawData: t.data };
}

function attribute(name: string, a: Attribute): onnx.IAttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  switch (a.kind) {
    case 'int':
      return { name, type: T.INT, i: a.value };
    case 'float':
      return { name, type: T.FLOAT, f: a.value };
    case 'ints':
      return { name, type: T.INTS, ints: a.value };
    case 'floats':
      return { name, type: T.FLOATS, floats: a.value };
    case 'string':
      return { name, type: T.STRING, s: new TextEncoder().encode(a.value) };
    case 'tensor':
      return { name, type: T.TENSOR, t: inlineTensor(a.value) };
  }
}

/** Serializes a graph to ONNX model bytes. External tensors become external-data references. */
export function serializeModel(graph: Graph, producer = 'instruction-lens'): Uint8Array {
  graph.pruneDead();
  const initializer = graph.initializers.map((t): onnx.ITensorProto => {
    if (!isExternal(t)) return inlineTensor(t);
    return {
      name: t.name,
      dataType: ONNX_TYPE_CODE[t.type],
      dims: t.dims,
      dataLocation: onnx.TensorProto.DataLocation.EXTERNAL,
      externalData: [
        { key: 'location', value: t.location },
        { key: 'offset', value: String(t.offset) },
        { key: 'length', value: String(t.length) },
      ],
    };
  });
  const model: onnx.IModelProto = {
    irVersion: IR_VERSION,
    producerName: producer,
    opsetImport: [{ domain: '', version: OPSET }],
    graph: {
      name: graph.name,
      node: graph.nodes.map((n) => ({
        opType: n.op,
        domain: n.domain,
        name: n.name,
        input: n.inputs,
        output: n.outputs,
        attribute: Object.entries(n.attributes).map(([k, v]) => attribute(k, v)),
      })),
      initializer,
      input: graph.inputs.map(valueInfo),
      output: graph.outputs.map(valueInfo),
    },
  };
  return onnx.ModelProto.encode(onnx.ModelProto.create(model)).finish();
}
