/**
 * The heads analysis's ONNX graphs (DESIGN.md §2; heads.ts runs them): one layer's query/key rows
 * with the input_layernorm gain folded in, their energies, the candidate words per head dimension
 * (float32 products, TopK), exact float64 values for the words their error bounds leave open, and
 * the pairs above both thresholds (float64 similarities decide ranks).
 */
import type { Checkpoint } from '../model/checkpoint.js';
import { Graph, int, ints } from '../onnx/graph.js';
import { rawWeightValue } from './analysis-graph.js';

/**
 * One layer's head-dimension items are rows `rowsQ` of q_proj and `rowsK` of k_proj (one item per
 * head and analysed dimension). Stage 1, `candidatesGraph`: a float32 product over the word list
 * and a TopK keep the top Kc = K + 16 words per item, returned in word order with their float32
 * values; heads-select.ts decides the top K from them and their error bounds, `exactValuesGraph`
 * gives the float64 values it asks for. Stage 2, `pairsGraph`: the pairs' float32 similarities
 * against both thresholds (less a proven margin), weight-free, for every layer.
 */
function layerWeights(g: Graph, checkpoint: Checkpoint, layer: number) {
  const p = `model.layers.${layer}.`;
  const { config } = checkpoint;
  // Every per-dimension gain between the embedding and q·k (headsFoldedGains): the input norm's
  // on W's input side, the q/k norms' on its output side (their RMS scalars are ignored, like RoPE).
  const gainRaw = config.normPlacement !== 'post' ? rawWeightValue(g, checkpoint, `${p}input_layernorm.weight`) : null;
  /** A norm's gain as it scales: w, or Gemma's 1 + w. */
  const gainOf = (v: string, type: 'float32' | 'float64') => (config.normGainOffset ? g.node('Add', [v, g.constant(type, [], [1], 'one')]) : v);
  const raw = { q: rawWeightValue(g, checkpoint, `${p}self_attn.q_proj.weight`), k: rawWeightValue(g, checkpoint, `${p}self_attn.k_proj.weight`) };
  const outGain = config.qkNorm === 'none' ? null : { q: rawWeightValue(g, checkpoint, `${p}self_attn.q_norm.weight`), k: rawWeightValue(g, checkpoint, `${p}self_attn.k_norm.weight`) };
  const rows = (which: 'q' | 'k', rowsIn: string, type: 'float32' | 'float64') => {
    const w = g.node('Gather', [raw[which].value, rowsIn], { axis: int(0) }); // [m, H], stored type
    const to = type === 'float32' ? 1 : 11;
    const cast = (x: string, f32: boolean) => (f32 && type === 'float32' ? x : g.node('Cast', [x], { to: int(to) }));
    let folded = cast(w, raw[which].f32);
    if (gainRaw) folded = g.node('Mul', [folded, gainOf(cast(gainRaw.value, gainRaw.f32), type)]); // (g ⊙ W[r]) per row
    if (outGain) {
      // Qwen3's gain [head_dim] applies to each head's dimension r mod head_dim; OLMo 2's to row r.
      const rowCount = (which === 'q' ? config.numHeads : config.numKvHeads) * config.headDim;
      const dimOfRow = () => g.constant('int64', [rowCount], Array.from({ length: rowCount }, (_, r) => r % config.headDim), 'dim_of_row');
      const index = config.qkNorm === 'head' ? g.node('Gather', [dimOfRow(), rowsIn], { axis: int(0) }) : rowsIn;
      const n = g.node('Unsqueeze', [g.node('Gather', [outGain[which].value, index], { axis: int(0) }), g.ints1d([1])]); // [m, 1]
      folded = g.node('Mul', [folded, gainOf(cast(n, outGain[which].f32), type)]);
    }
    return folded;
  };
  return rows;
}

/**
 * A layer's dimension energies in float64: Σ_w (E_w·w_r)² = w_rᵀ (EᵀE) w_r with w_r = g ⊙ W[r], for
 * every query row and key row. The rows are gathered by an input (all of them), so the float64
 * copies of the weights exist only while the graph runs.
 */
export function energyGraph(checkpoint: Checkpoint, layer: number): Graph {
  const H = checkpoint.config.hiddenSize;
  const g = new Graph(`heads_energy_${layer}`);
  const G = g.input('gram', 'float64', [H, H]);
  const rows = layerWeights(g, checkpoint, layer);
  for (const which of ['q', 'k'] as const) {
    const Wg = rows(which, g.input(`rows_${which}`, 'int64', [`rows_${which}`]), 'float64'); // [rows, H]
    g.output(g.node('ReduceSum', [g.node('Mul', [g.node('MatMul', [Wg, G]), Wg]), g.ints1d([1])], { keepdims: int(0) }), `energy_${which}`);
  }
  return g;
}

export function candidatesGraph(checkpoint: Checkpoint, layer: number, Kc: number): Graph {
  const H = checkpoint.config.hiddenSize;
  const g = new Graph(`heads_candidates_${layer}`);
  const E32 = g.input('E32', 'float32', ['words', H]);
  const rows = layerWeights(g, checkpoint, layer);
  for (const which of ['q', 'k'] as const) {
    const w32 = rows(which, g.input(`rows_${which}`, 'int64', ['items']), 'float32');
    const approx = g.node('Gemm', [w32, E32], { transB: int(1) }); // [m, N]
    // Σ_w (E_w·w_r)², the row's share of its dimension's energy, summed in float64 over the float32 products.
    g.output(g.node('ReduceSumSquare', [g.node('Cast', [approx], { to: int(11) })], { axes: ints([1]), keepdims: int(0) }), `energy_${which}`);
    const [, cand] = g.nodeN('TopK', [g.node('Abs', [approx]), g.ints1d([Kc])], 2, { axis: int(-1), largest: int(1), sorted: int(1) });
    // In word order, so that a later TopK over them breaks ties by word position.
    const [, order] = g.nodeN('TopK', [g.node('Neg', [g.node('Cast', [cand!], { to: int(11) })]), g.ints1d([Kc])], 2, { axis: int(-1), largest: int(1), sorted: int(1) });
    g.output(g.node('GatherElements', [cand!, order!], { axis: int(1) }), `cand_${which}`);
    // The candidates' float32 values in the same order, and ‖w_r‖, for the error bounds (heads-select.ts).
    g.output(g.node('GatherElements', [approx, g.node('GatherElements', [cand!, order!], { axis: int(1) })], { axis: int(1) }), `val_${which}`);
    g.output(g.node('Sqrt', [g.node('ReduceSumSquare', [w32], { axes: ints([1]), keepdims: int(0) })]), `wnorm_${which}`);
  }
  return g;
}

/** Exact float64 values E_w · (g ⊙ W[r]) for a list of (row, word) pairs per side. */
export function exactValuesGraph(checkpoint: Checkpoint, layer: number): Graph {
  const H = checkpoint.config.hiddenSize;
  const g = new Graph(`heads_exact_${layer}`);
  const E64 = g.input('E64', 'float64', ['words', H]);
  const rows = layerWeights(g, checkpoint, layer);
  for (const which of ['q', 'k'] as const) {
    const w64 = rows(which, g.input(`rows_${which}`, 'int64', [`n_${which}`]), 'float64'); // [n, H]
    const e = g.node('Gather', [E64, g.input(`words_${which}`, 'int64', [`n_${which}`])], { axis: int(0) }); // [n, H]
    g.output(g.node('ReduceSum', [g.node('Mul', [e, w64]), g.ints1d([1])], { keepdims: int(0) }), `exact_${which}`);
  }
  return g;
}

/**
 * Stage 2. The pair similarities are the analysis's largest product at scale (K² · D per item), so
 * it runs in float32 and only selects: a pair survives when its float32 similarity exceeds both
 * thresholds less SIMILARITY_MARGIN (a bound on the float32 error of a cosine of D-dimensional
 * unit vectors); the survivors' exact float64 similarities then decide (in computeHeads). The
 * words and the signs of their values come from the selection (heads-select.ts), so the graph
 * reads no weights and serves every layer.
 */
export function pairsGraph(K: number, simDims: number): Graph {
  const g = new Graph('heads_pairs');
  const U32 = g.input('U32', 'float32', ['words', simDims]);
  const tau = g.input('tau', 'float32', ['words']);
  const side = (which: 'q' | 'k') => ({ idx: g.input(`${which}idx`, 'int64', ['items', K]), sign: g.input(`${which}sign`, 'float32', ['items', K]) });
  const q = side('q');
  const k = side('k');
  const Sq = g.node('Gather', [U32, q.idx], { axis: int(0) }); // [m, K, D]
  const Sk = g.node('Gather', [U32, k.idx], { axis: int(0) });
  const sim = g.node('MatMul', [Sq, g.node('Transpose', [Sk], { perm: ints([0, 2, 1]) })]); // [m, K, K]
  const col = (x: string) => g.node('Unsqueeze', [x, g.ints1d([2])]); // [m, K, 1]
  const row = (x: string) => g.node('Unsqueeze', [x, g.ints1d([1])]); // [m, 1, K]
  const signOk = g.node('Greater', [g.node('Mul', [col(q.sign), row(k.sign)]), g.scalar(0, 'float32')]);
  // `tau` is fed less the margin.
  const tauQ = g.node('Gather', [tau, q.idx], { axis: int(0) });
  const tauK = g.node('Gather', [tau, k.idx], { axis: int(0) });
  const aboveBoth = g.node('And', [g.node('Greater', [sim, col(tauQ)]), g.node('Greater', [sim, row(tauK)])]);
  const distinct = g.node('Not', [g.node('Equal', [col(q.idx), row(k.idx)])]);
  g.output(g.node('And', [g.node('And', [signOk, aboveBoth]), distinct]), 'maybe');
  return g;
}
