import { relative } from 'node:path';
import type { Checkpoint } from '../model/checkpoint.js';
import type { WeightDtype } from '../model/safetensors.js';
import type { ElementType, Graph } from '../onnx/graph.js';

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
