import { int, isExternal, type Graph, type NodeDef } from './graph.js';
import { isFloat } from './shapes.js';

/**
 * `value` itself, as a value onnxruntime cannot compute before `after` exists: a Reshape to its own
 * shape (0 = keep that dimension) whose target is sliced from a shape that includes `after`'s.
 *
 * onnxruntime runs a node as soon as its inputs exist and keeps its output until the last
 * consumer has run. A node whose inputs all exist early — a Cast of a weight, a recomputed layer's
 * first node — would run at the very start of the graph and hold its output all the while. ONNX
 * has no control dependencies; this is one, and Reshape shares its input's buffer, so it costs no
 * copy.
 */
export function sequencedAfter(g: Graph, value: string, after: string): string {
  const rank = g.info(value).shape.length;
  const anyShape = g.node('Concat', [g.ints1d(new Array(rank).fill(0)), g.node('Shape', [after])], { axis: int(0) });
  const keep = g.node('Slice', [anyShape, g.ints1d([0]), g.ints1d([rank]), g.ints1d([0])]);
  return g.node('Reshape', [value, keep]);
}

/**
 * Recomputation in the backward pass ("gradient checkpointing") for `differentiate`'s `recompute`
 * option. Only the checkpoint values (a Llama graph's residual stream between layers) are kept
 * from the forward; any other forward value a differentiation rule needs is computed again from
 * the checkpoints when the backward first reaches it, sequenced after the cotangent it starts from.
 * So one layer's activations are alive at a time instead of every layer's (for a 7B model at 512
 * tokens, about 3 GB), at the price of one more forward's worth of arithmetic per backward.
 *
 * Graph inputs, initializers and values no forward node produces are used as they are.
 */
export function checkpointedRecompute(g: Graph, checkpoints: Iterable<string>): (value: string, after: string) => string | null {
  const kept = new Set(checkpoints);
  for (const v of g.inputs) kept.add(v.name);
  for (const t of g.initializers) kept.add(t.name);
  const producers = new Map<string, NodeDef>();
  for (const node of g.nodes) for (const o of node.outputs) producers.set(o, node);
  const copies = new Map<string, string>();
  const external = new Set(g.initializers.filter(isExternal).map((t) => t.name));
  const reconvert = weightReconversion(g);

  const copy = (value: string, after: string): string => {
    const done = copies.get(value);
    if (done) return done;
    const node = producers.get(value)!;
    const inputs = node.inputs.map((input) => (input === '' || kept.has(input) || !producers.has(input) ? input : copy(input, after)));
    if (inputs.every((input, i) => input === node.inputs[i])) {
      // Nothing recomputed feeds this node: without a dependency it would run at the start.
      // Sequence its first data input (a float activation, else any input that is not a weight).
      const k = [inputs.findIndex((v) => v !== '' && !external.has(v) && isFloat(g.info(v).type)), inputs.findIndex((v) => v !== '' && !external.has(v))].find((i) => i >= 0);
      if (k !== undefined) inputs[k] = sequencedAfter(g, inputs[k]!, after);
    }
    const outputs = g.nodeN(node.op, inputs, node.outputs.length, node.attributes, { domain: node.domain });
    node.outputs.forEach((o, i) => copies.set(o, outputs[i]!));
    return copies.get(value)!;
  };

  return (value, after) => {
    if (kept.has(value) || !producers.has(value)) return null;
    // A rule's converted weight is converted again for that rule alone, after its cotangent: shared
    // with the recomputed forward, every converted weight of a layer would be alive until the
    // layer's backward ends (a 7B layer: 0.8 GB of float32).
    return reconvert(value, after) ?? copy(value, after);
  };
}

/**
 * For a weight converted where it is used (Cast(Reshape(weight, …)), see sequencedAfter): the same
 * conversion made again, sequenced after `after`; null for any other value. A differentiation rule
 * that reads a converted weight uses its own conversion, made when its cotangent or tangent exists,
 * instead of keeping the forward's alive until then (a 7B layer: 0.8 GB of float32).
 */
export function weightReconversion(g: Graph): (value: string, after: string) => string | null {
  const external = new Set(g.initializers.filter(isExternal).map((t) => t.name));
  const producers = new Map<string, NodeDef>();
  for (const node of g.nodes) for (const o of node.outputs) producers.set(o, node);
  return (value, after) => {
    const cast = producers.get(value);
    const reshape = cast?.op === 'Cast' ? producers.get(cast.inputs[0]!) : undefined;
    if (reshape?.op !== 'Reshape' || !external.has(reshape.inputs[0]!)) return null;
    return g.node('Cast', [sequencedAfter(g, reshape.inputs[0]!, after)], cast!.attributes);
  };
}
