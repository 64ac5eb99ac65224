/**
 * The heads' top-K selection from float32 products with error bounds (src/explain/heads-select.ts):
 * on random lists with ties, values perturbed anywhere inside their bounds, the selection made
 * from the bounds plus the exact values it asks for equals a float64 top K (ties by word
 * position) computed directly; the bound itself holds for onnxruntime's float32 products against a
 * float64 sum on adversarial rows (all terms of one sign, hidden sizes up to 8192).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as ort from 'onnxruntime-node';
import { classifyCandidates, finishSelection, float32DotBound, provenSign } from '../../src/explain/heads-select.js';
import { Graph, int } from '../../src/onnx/graph.js';
import { serializeModel } from '../../src/onnx/serialize.js';
import { mulberry32 } from '../support/random.js';

/** Positions of the K largest |x|, ties by position. */
function exactTopK(x: readonly number[], K: number): number[] {
  return x
    .map((v, i) => ({ a: Math.abs(v), i }))
    .sort((p, q) => q.a - p.a || p.i - q.i)
    .slice(0, K)
    .map((p) => p.i);
}

describe('top-K selection from bounded float32 values', () => {
  it('equals the exact top K on random lists with ties, whatever the perturbation inside the bounds', () => {
    const random = mulberry32(7);
    let askedTotal = 0;
    let candidatesTotal = 0;
    for (let trial = 0; trial < 400; trial++) {
      const N = 20 + Math.floor(random() * 200);
      const K = 1 + Math.floor(random() * Math.min(40, N - 1));
      // Values on a coarse grid so that exact ties are common.
      const grid = [0.5, 0.05, 0.005][trial % 3]!;
      const exact = Array.from({ length: N }, () => Math.round((random() * 2 - 1) / grid) * grid);
      const bound = Array.from({ length: N }, () => random() * grid * (trial % 2 ? 3 : 0.3));
      const approx = exact.map((v, i) => v + (random() * 2 - 1) * bound[i]!);
      // The candidates are the top Kc of |approx| (as the graph's TopK), in word order.
      const Kc = Math.min(N, K + Math.floor(random() * 20));
      const cand = exactTopK(approx, Kc).sort((a, b) => a - b);
      const inCand = new Set(cand);
      const smallest = Math.min(...cand.map((w) => Math.abs(approx[w]!)));
      const maxBound = Math.max(...bound);
      const cls = classifyCandidates({ values: cand.map((w) => approx[w]!), bounds: cand.map((w) => bound[w]!), outsideHigh: Kc < N ? smallest + maxBound : null }, K);
      let words: number[];
      let certainIn: number[];
      let uncertain: number[];
      if (cls.decided) {
        words = cand;
        certainIn = cls.certainIn;
        uncertain = cls.uncertain;
      } else {
        words = exact.map((_, i) => i);
        certainIn = [];
        uncertain = words.slice();
      }
      const exactOf = new Map(uncertain.map((p) => [p, exact[words[p]!]!]));
      // A fine grid and tight bounds (a third of the grid): the bounds alone should decide most candidates.
      if (trial % 6 === 2) {
        askedTotal += uncertain.length;
        candidatesTotal += Kc;
      }
      const top = finishSelection(certainIn, uncertain, exactOf, words, K).map((p) => words[p]!);
      const want = exactTopK(exact, K);
      assert.deepEqual([...top].sort((a, b) => a - b), [...want].sort((a, b) => a - b), `trial ${trial}: N ${N} K ${K} Kc ${Kc}`);
      for (const w of top) {
        if (!cls.decided) continue;
        assert.ok(inCand.has(w));
        const sign = provenSign(approx[w]!, bound[w]!);
        if (sign !== 0) assert.equal(sign, Math.sign(exact[w]!), `trial ${trial}: a proven sign is the exact one`);
      }
    }
    // The bounds must decide most candidates on their own, or the method saves nothing.
    assert.ok(askedTotal < candidatesTotal, `exact values asked for ${askedTotal} of ${candidatesTotal} candidates`);
  });

  it('a bound that is too small is caught: the selection then differs from the exact top K', () => {
    // Two words whose float32 values swap order within an error the bound claims is impossible.
    const exact = [1.0, 0.999, 0.5];
    const approx = [0.998, 0.9995, 0.5];
    const cls = classifyCandidates({ values: approx, bounds: [1e-4, 1e-4, 1e-4], outsideHigh: null }, 1);
    const top = finishSelection(cls.certainIn, cls.uncertain, new Map(cls.uncertain.map((p) => [p, exact[p]!])), [0, 1, 2], 1);
    assert.notDeepEqual(top, exactTopK(exact, 1));
  });

  it("onnxruntime's float32 products stay within float32DotBound of float64 on one-signed rows", async () => {
    for (const H of [64, 1024, 8192]) {
      const g = new Graph('dot');
      const a = g.input('a', 'float32', ['m', H]);
      const b = g.input('b', 'float32', ['n', H]);
      g.output(g.node('Gemm', [a, b], { transB: int(1) }), 'c');
      const session = await ort.InferenceSession.create(serializeModel(g));
      const random = mulberry32(H);
      const m = 8;
      const n = 16;
      // Values in [1, 2) with long mantissas: every product and partial sum rounds, all one way.
      const A64 = Float64Array.from({ length: m * H }, () => 1 + random());
      const B64 = Float64Array.from({ length: n * H }, () => 1 + random());
      const c = (await session.run({ a: new ort.Tensor('float32', Float32Array.from(A64), [m, H]), b: new ort.Tensor('float32', Float32Array.from(B64), [n, H]) })).c!.data as Float32Array;
      let worst = 0;
      for (let i = 0; i < m; i++) {
        for (let j = 0; j < n; j++) {
          let exact = 0;
          let na = 0;
          let nb = 0;
          for (let x = 0; x < H; x++) {
            exact += A64[i * H + x]! * B64[j * H + x]!;
            na += A64[i * H + x]! ** 2;
            nb += B64[j * H + x]! ** 2;
          }
          const bound = float32DotBound(H) * Math.sqrt(na) * Math.sqrt(nb);
          worst = Math.max(worst, Math.abs(c[i * n + j]! - exact) / bound);
        }
      }
      assert.ok(worst < 1, `H ${H}: error ${worst.toFixed(3)} of the bound`);
      await session.release();
    }
  });
});
