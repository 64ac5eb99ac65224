import { Graph, int } from '../onnx/graph.js';
import { serializeModel } from '../onnx/serialize.js';
import { externalWeight } from '../llm/weights.js';
import type { LlamaRunner } from '../llm/runner.js';
import { openSession } from '../runtime/session.js';
import type { ModelDescription } from './report.js';

export function describeForReport(runner: LlamaRunner, spec: string): ModelDescription {
  const { checkpoint } = runner;
  return {
    id: spec,
    path: checkpoint.dir,
    architecture: checkpoint.config.architecture,
    parameters: checkpoint.parameterCount,
    dtype: checkpoint.dtype,
    layers: checkpoint.config.numLayers,
    heads: checkpoint.config.numHeads,
  };
}

/**
 * Names the weights that hold NaN or ±Infinity, scanning them on onnxruntime (a graph that
 * reduces IsNaN/IsInf per tensor) rather than reading them into JavaScript. Run only after a
 * non-finite result, to turn "NaN" into a message that names the tensor.
 */
export async function findNonFiniteWeights(runner: LlamaRunner): Promise<string[]> {
  const { checkpoint } = runner;
  const g = new Graph('nonfinite');
  const names = [...checkpoint.tensors.keys()].sort();
  const flags: string[] = [];
  for (const name of names) {
    const t = checkpoint.tensors.get(name)!;
    const raw = externalWeight(g, checkpoint, name);
    const value = t.dtype === 'F32' ? raw : g.node('Cast', [raw], { to: int(1) });
    // x − x is 0 for finite x and NaN for NaN and ±Infinity: one reduction catches both.
    const probe = g.node('ReduceSum', [g.node('Sub', [value, value]), g.ints1d(t.shape.map((_, i) => i))], { keepdims: int(0) });
    flags.push(g.output(probe, `flag_${flags.length}`));
  }
  const { session } = await openSession(serializeModel(g), checkpoint.weightsRoot, 'cpu');
  try {
    const out = await session.run({});
    return names.filter((_, i) => !Number.isFinite((out[`flag_${i}`]!.data as Float32Array)[0]!));
  } finally {
    await session.release();
  }
}
