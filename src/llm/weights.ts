import { relative } from 'node:path';
import type { Checkpoint } from '../model/checkpoint.js';
import type { WeightDtype } from '../model/safetensors.js';
import { int, type ElementType, type Graph } from '../onnx/graph.js';

export const ONNX_WEIGHT_TYPE: Record<WeightDtype, ElementType> = { F32: 'float32', F16: 'float16', BF16: 'bfloat16' };

/**
 * Adds a checkpoint weight to a graph as it is stored: an external initializer that points at its
 * bytes inside the .safetensors file (relative to the checkpoint's weights folder), never a copy.
 */
export function externalWeight(g: Graph, checkpoint: Checkpoint, name: string): string {
  const t = checkpoint.tensors.get(name);
  if (!t) throw new Error(`internal: the checkpoint has no tensor '${name}'`);
  return g.initializer({
    name,
    type: ONNX_WEIGHT_TYPE[t.dtype],
    dims: t.shape,
    location: relative(checkpoint.weightsRoot, t.file),
    offset: t.offset,
    length: t.length,
  });
}

/**
 * Rows [start, end) of a 2-D checkpoint weight as an initializer of their own: the rows are one
 * contiguous byte range of the file, so this is still a pointer into it, not a copy. Lets a graph
 * convert a large matrix (the LM head) to float32 a block at a time instead of all at once.
 */
export function externalWeightRows(g: Graph, checkpoint: Checkpoint, name: string, start: number, end: number): string {
  const t = checkpoint.tensors.get(name);
  if (!t || t.shape.length !== 2) throw new Error(`internal: the checkpoint has no matrix '${name}'`);
  const rowBytes = t.length / t.shape[0]!;
  return g.initializer({
    name: `${name}.rows_${start}_${end}`,
    type: ONNX_WEIGHT_TYPE[t.dtype],
    dims: [end - start, t.shape[1]!],
    location: relative(checkpoint.weightsRoot, t.file),
    offset: t.offset + start * rowBytes,
    length: (end - start) * rowBytes,
  });
}

/**
 * A weight with its LoRA adapter merged, W + s·B·A, as `type` — for the global analyses, which read
 * a few whole matrices (W_q, W_k, down_proj): only those are merged, inside their graph, and only
 * while it runs. null when no adapter adapts `name`.
 */
export function mergedLoraWeight(g: Graph, checkpoint: Checkpoint, name: string, type: 'float32' | 'float64'): string | null {
  const lora = checkpoint.adapter?.modules.get(name.replace(/\.weight$/, ''));
  if (!lora || !name.endsWith('.weight')) return null;
  const to = int(type === 'float32' ? 1 : 11);
  const cast = (n: string) => g.node('Cast', [externalWeight(g, checkpoint, n)], { to });
  const delta = g.node('MatMul', [cast(lora.b), cast(lora.a)]); // [out, in]
  return g.node('Add', [cast(name), g.node('Mul', [delta, g.constant(type, [], [lora.scale], 'lora_scale')])]);
}
