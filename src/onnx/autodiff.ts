import { int, type Dim, type Graph, type NodeDef } from './graph.js';
import { isFloat } from './shapes.js';
import { sequencedAfter } from './remat.js';
import { JVP_RULES, type JvpContext } from './jvp.js';
import { VJP_RULES, type VjpContext } from './vjp.js';

export interface DifferentiateOptions {
  /** Where differentiation starts: forward value → its cotangent (same shape, plus the batch axis when batched). */
  seeds: [string, string][];
  /** The values to differentiate with respect to: graph inputs, initializers (weights) or intermediate values. */
  wrt: string[];
  /** 1 when cotangents carry a leading batch axis (many objectives through one forward). */
  batch: 0 | 1;
  /**
   * Forward values a rule should compute again instead of keeping them alive from the forward
   * until the backward reaches them (onnx/remat.ts). Given the value and the cotangent the rule
   * starts from (the recomputation must not run before it), returns the recomputed value, or null
   * to use the forward's.
   */
  recompute?: (value: string, after: string) => string | null;
}

/**
 * Reverse-mode differentiation of a graph we built: appends to `g` the nodes that compute the
 * cotangents of `wrt` from the seeds, and returns them (wrt value → gradient value). A `wrt` value
 * the seeds do not depend on gets no entry. Only nodes between `wrt` and the seeds are
 * differentiated, so weights get no gradient work unless asked for.
 */
export function differentiate(g: Graph, options: DifferentiateOptions): Map<string, string> {
  const forward = g.nodes.slice();
  const batch = options.batch;

  // Values that depend on some wrt value (forward reachability).
  const dependent = new Set(options.wrt);
  for (const node of forward) {
    if (node.inputs.some((i) => dependent.has(i))) for (const o of node.outputs) dependent.add(o);
  }

  const contributions = new Map<string, string[]>();
  const add = (value: string, cotangent: string) => {
    const list = contributions.get(value);
    if (list) list.push(cotangent);
    else contributions.set(value, [cotangent]);
  };
  const total = (value: string): string | null => {
    const list = contributions.get(value);
    if (!list || list.length === 0) return null;
    const sum = list.reduce((a, b) => g.node('Add', [a, b]));
    contributions.set(value, [sum]);
    return sum;
  };
  for (const [value, cotangent] of options.seeds) add(value, cotangent);

  const ctx: VjpContext = {
    g,
    batch,
    scalar: (value, like) => g.scalar(value, g.info(like).type),
    batchedShape: (value, like) => {
      const shape = g.node('Shape', [value]);
      if (!batch) return shape;
      const lead = g.node('Slice', [g.node('Shape', [like]), g.ints1d([0]), g.ints1d([1]), g.ints1d([0])]);
      return g.node('Concat', [lead, shape], { axis: int(0) });
    },
    unbroadcast: (cotangent, from, target) => unbroadcast(g, ctx, cotangent, from, target, batch),
  };

  /** The node as its rule sees it: inputs that are recomputed replaced (unused ones are pruned later). */
  const forRule = (node: NodeDef, cotangents: (string | null)[]): NodeDef => {
    const after = cotangents.find((c) => c !== null);
    if (!options.recompute || !after) return node;
    const again = (v: string) => (v === '' ? v : (options.recompute!(v, after) ?? v));
    // Rules read forward outputs too (Softmax, Sigmoid and Exp differentiate through their result).
    return { ...node, inputs: node.inputs.map(again), outputs: node.outputs.map(again) };
  };

  for (let n = forward.length - 1; n >= 0; n--) {
    const node = forward[n]!;
    if (!node.outputs.some((o) => contributions.has(o))) continue;
    if (!node.inputs.some((i) => dependent.has(i))) continue;
    const rule = VJP_RULES[node.op];
    if (!rule) throw new Error(`no differentiation rule for ONNX op ${node.op} (node ${node.name})`);
    const needed = node.inputs.map((input) => input !== '' && dependent.has(input) && isFloat(g.info(input).type));
    const cotangents = node.outputs.map(total);
    const grads = rule(ctx, forRule(node, cotangents), cotangents, needed);
    node.inputs.forEach((input, i) => {
      const grad = grads[i];
      if (grad && needed[i]) add(input, grad);
    });
  }

  const result = new Map<string, string>();
  for (const w of options.wrt) {
    const grad = total(w);
    if (grad) result.set(w, grad);
  }
  return result;
}

/**
 * Sums a cotangent shaped like `from` (the forward output) down to the shape of `target`, undoing
 * numpy broadcasting: leading axes the target lacks, and axes where the target has size 1.
 */
function unbroadcast(g: Graph, ctx: VjpContext, cotangent: string, from: Dim[], target: string, batch: 0 | 1): string {
  const to = g.info(target).shape;
  const lead = from.length - to.length;
  const axes: number[] = [];
  for (let i = 0; i < lead; i++) axes.push(batch + i);
  to.forEach((d, i) => {
    if (d === 1 && from[lead + i] !== 1) axes.push(batch + lead + i);
  });
  if (axes.length === 0) return cotangent;
  const summed = g.node('ReduceSum', [cotangent, g.ints1d(axes)], { keepdims: int(1) });
  return lead > 0 ? g.node('Reshape', [summed, ctx.batchedShape(target, cotangent)]) : summed;
}

export interface LinearizeOptions {
  /** Where tangents enter: value → its tangent (same shape, plus the batch axis when batched). */
  tangents: [string, string][];
  /** 1 when tangents carry a leading batch axis (many directions through one forward). */
  batch: 0 | 1;
  /**
   * A forward value a rule should not read from the forward but make again once the tangent it
   * starts from exists (onnx/remat.ts weightReconversion: a converted F16/BF16 weight), or null.
   */
  reread?: (value: string, after: string) => string | null;
  /**
   * Values (a Llama graph's residual stream between layers) whose forward consumers wait for their
   * tangent: onnxruntime would otherwise run the forward ahead through every layer, and each
   * forward value a JVP rule reads would stay alive until the tangents reach it.
   */
  sync?: Iterable<string>;
}

/**
 * Forward-mode differentiation (Jacobian–vector products) of a graph we built: every node that
 * depends on a value with a tangent gets its JVP rule's nodes right after it in `g`, so each
 * forward value a rule reads dies soon after it was made (no second forward, no checkpoints).
 * Returns the tangent of every value reached (value → tangent value). Nodes the tangents' own
 * nodes were built from may come after their consumers in `g.nodes`: the result is put back in
 * topological order, keeping the forward's order otherwise.
 */
export function linearize(g: Graph, options: LinearizeOptions): Map<string, string> {
  const forward = g.nodes.slice();
  g.nodes.length = 0;
  const tangents = new Map<string, string>(options.tangents);
  const ctx: JvpContext = { g, batch: options.batch, scalar: (value, like) => g.scalar(value, g.info(like).type) };
  const sync = new Set(options.sync ?? []);
  const waited = new Map<string, string>();
  // The nodes that make the seeds' tangents must not wait for them.
  const producers = new Map<string, NodeDef>();
  for (const node of forward) for (const o of node.outputs) producers.set(o, node);
  const seedNodes = new Set<NodeDef>();
  const stack = options.tangents.map(([, t]) => t);
  while (stack.length) {
    const node = producers.get(stack.pop()!);
    if (!node || seedNodes.has(node)) continue;
    seedNodes.add(node);
    stack.push(...node.inputs.filter((v) => v !== ''));
  }
  for (const node of forward) {
    if (!seedNodes.has(node)) node.inputs.forEach((input, i) => {
      const tangent = sync.has(input) ? tangents.get(input) : undefined;
      if (!tangent) return;
      if (!waited.has(input)) waited.set(input, sequencedAfter(g, input, tangent));
      node.inputs[i] = waited.get(input)!;
      tangents.set(node.inputs[i]!, tangent);
    });
    g.nodes.push(node);
    const inputTangents = node.inputs.map((i) => (i === '' ? null : (tangents.get(i) ?? null)));
    if (!inputTangents.some((t) => t !== null)) continue;
    if (node.outputs.some((o) => tangents.has(o))) continue; // a seed's own producer
    if (!node.outputs.some((o) => isFloat(g.info(o).type))) continue; // shapes, masks: no tangent
    const rule = JVP_RULES[node.op];
    if (!rule) throw new Error(`no forward-mode rule for ONNX op ${node.op} (node ${node.name})`);
    const after = inputTangents.find((t) => t !== null)!;
    const reread = options.reread;
    const seen = reread ? { ...node, inputs: node.inputs.map((v) => (v === '' || tangents.has(v) ? v : (reread(v, after) ?? v))) } : node;
    rule(ctx, seen, inputTangents).forEach((t, i) => {
      if (t && isFloat(g.info(node.outputs[i]!).type)) tangents.set(node.outputs[i]!, t);
    });
  }
  sortTopologically(g);
  return tangents;
}

/** Kahn's algorithm, taking the earliest ready node in the current order first (a stable sort). */
function sortTopologically(g: Graph): void {
  const nodes = g.nodes.slice();
  const producer = new Map<string, number>();
  nodes.forEach((n, i) => n.outputs.forEach((o) => producer.set(o, i)));
  const waiting = nodes.map((n) => new Set(n.inputs.filter((i) => i !== '' && producer.has(i)).map((i) => producer.get(i)!)).size);
  const consumers = nodes.map(() => [] as number[]);
  nodes.forEach((n, i) => {
    for (const p of new Set(n.inputs.filter((v) => v !== '' && producer.has(v)).map((v) => producer.get(v)!))) consumers[p]!.push(i);
  });
  // A binary heap of ready node indices.
  const heap: number[] = [];
  const push = (v: number) => {
    heap.push(v);
    for (let i = heap.length - 1; i > 0; ) {
      const parent = (i - 1) >> 1;
      if (heap[parent]! <= heap[i]!) break;
      [heap[parent], heap[i]] = [heap[i]!, heap[parent]!];
      i = parent;
    }
  };
  const pop = (): number => {
    const top = heap[0]!;
    const last = heap.pop()!;
    if (heap.length) {
      heap[0] = last;
      for (let i = 0; ; ) {
        const l = 2 * i + 1, r = l + 1;
        let m = i;
        if (l < heap.length && heap[l]! < heap[m]!) m = l;
        if (r < heap.length && heap[r]! < heap[m]!) m = r;
        if (m === i) break;
        [heap[m], heap[i]] = [heap[i]!, heap[m]!];
        i = m;
      }
    }
    return top;
  };
  waiting.forEach((w, i) => w === 0 && push(i));
  const order: NodeDef[] = [];
  while (heap.length) {
    const i = pop();
    order.push(nodes[i]!);
    for (const c of consumers[i]!) if (--waiting[c]! === 0) push(c);
  }
  if (order.length !== nodes.length) throw new Error('the graph has a cycle');
  g.nodes.splice(0, g.nodes.length, ...order);
}
