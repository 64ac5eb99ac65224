import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LensError } from '../../src/model/errors.js';
import {
  densityOfSparse,
  importanceDensity,
  importanceDensityDetailed,
  instructionScore,
  isQuantized,
  sparsify,
} from '../../src/explain/importance.js';

function close(actual: readonly number[], expected: readonly number[], tol = 1e-7): void {
  assert.equal(actual.length, expected.length, `length ${actual.length} vs ${expected.length}`);
  actual.forEach((a, i) => assert.ok(Math.abs(a - expected[i]!) <= tol, `[${i}]: ${a} vs ${expected[i]}`));
}

function lensError(fn: () => unknown, re: RegExp): void {
  assert.throws(fn, (e: unknown) => e instanceof LensError && re.test(e.message));
}

// A 3×2 example worked by hand (prompt tokens × response tokens):
//   raw            = [[0.5, -1], [1, 2], [0.2, 4]]
//   max(raw, 0)    = [[0.5, 0], [1, 2], [0.2, 4]]        column maxima 1 and 4
//   ÷ (max + 1e-7) = [[0.49999995, 0], [0.9999999, 0.499999988], [0.19999998, 0.999999975]]
//   ceil(· × 10)   = [[5, 0], [10, 5], [2, 10]]
//   b = 3          → [[5, 0], [10, 5], [0, 10]]            b = 7 → [[0, 0], [10, 0], [0, 10]]
// Density (b = 3, p = 4): row 0: 5/5 = 1; row 1: 15 / (10⁴ + 5⁴)^¼ = 15 / 10625^¼ = 15 / 10.1527159
// = 1.4774372; row 2: 10/10 = 1. Normalised by 1.4774372: [0.6768477, 1, 0.6768477].
const RAW = [
  [0.5, -1],
  [1, 2],
  [0.2, 4],
];

describe('sparsify', () => {
  it('clips, normalises each column, quantizes and thresholds (hand-worked 3×2)', () => {
    assert.deepEqual(sparsify(RAW, { L: 10, b: 3 }), [
      [5, 0],
      [10, 5],
      [0, 10],
    ]);
    assert.deepEqual(sparsify(RAW, { L: 10, b: 7 }), [
      [0, 0],
      [10, 0],
      [0, 10],
    ]);
    assert.deepEqual(sparsify(RAW), sparsify(RAW, { L: 10, b: 7 }), 'defaults L = 10, b = 7');
    assert.deepEqual(RAW[0], [0.5, -1], 'the input is not modified');
  });

  it('divides by (max + 1e-7) before scaling, so exact multiples of max/L stay on their level', () => {
    // 0.3·10 = 3.0000000000000004 and 0.7·10 = 7.000000000000001 in floating point: without the
    // 1e-7 they would round up to 4 and 8.
    assert.deepEqual(sparsify([[0.3], [0.7], [1], [0]], { L: 10, b: -1 }), [[3], [7], [10], [0]]);
  });

  it('gives 0 to a column with no positive entry, and to tiny positives under the threshold', () => {
    assert.deepEqual(sparsify([[-1, 1e-12], [0, 1]], { b: 7 }), [[0, 0], [0, 10]]);
  });

  it('rejects an empty matrix, a ragged one and non-finite entries, naming the position', () => {
    lensError(() => sparsify([]), /empty.*no prompt tokens/);
    lensError(() => sparsify([[], []]), /empty.*no response tokens/);
    lensError(() => sparsify([[1, 2], [3]]), /ragged: row 1 has 1/);
    lensError(() => sparsify([[1, NaN]]), /\[0\]\[1\] is NaN/);
    lensError(() => sparsify([[1], [Infinity]]), /\[1\]\[0\] is Infinity/);
    lensError(() => sparsify([[1, '2' as unknown as number]]), /\[0\]\[1\] is not a number/);
    lensError(() => importanceDensity([[1]], { p: 0.5 }), /p must be at least 1/);
    lensError(() => importanceDensity([[1]], { L: 0 }), /L must be a positive integer/);
  });
});

describe('the already-quantized rule', () => {
  it('recognises integer matrices in 0..L with max L and min 0 only', () => {
    assert.equal(isQuantized([[0, 10]]), true);
    assert.equal(isQuantized([[0, 3], [10, 7]], 10), true);
    assert.equal(isQuantized([[0, 5]], 5), true);
    assert.equal(isQuantized([[0, 9]]), false, 'max below L');
    assert.equal(isQuantized([[1, 10]]), false, 'min above 0');
    assert.equal(isQuantized([[0, 5.5, 10]]), false, 'not an integer');
    assert.equal(isQuantized([[0, 11]]), false, 'above L');
    assert.equal(isQuantized([[-1, 0, 10]]), false, 'negative');
    assert.equal(isQuantized([]), false);
  });

  // Quantized: [[10, 8], [8, 0], [0, 9]] only gets the threshold b = 7 (nothing is ≤ 7 but 0).
  // Row 0: 18 / (10⁴ + 8⁴)^¼ = 18 / 14096^¼ = 18 / 10.8961726 = 1.6519562; rows 1, 2: 1.
  // Normalised: [1, 0.6053429, 0.6053429].
  // The same matrix ÷ 10 is not quantized; the per-column rule gives column 1 = ceil([0.8, 0, 0.9]
  // / 0.9 · 10) = [9, 0, 10]: [[10, 9], [8, 0], [0, 10]]; row 0: 19 / 16561^¼ = 19 / 11.3441416 =
  // 1.6748733 → [1, 0.5970601, 0.5970601].
  it('takes a quantized matrix as it is and re-quantizes a non-quantized one (hand-worked)', () => {
    const q = [
      [10, 8],
      [8, 0],
      [0, 9],
    ];
    const a = importanceDensityDetailed(q, { L: 10, b: 7, p: 4 });
    assert.equal(a.quantized, true);
    assert.deepEqual(a.sparse, q);
    close(a.density, [1, 0.6053429, 0.6053429]);

    const scaled = q.map((r) => r.map((v) => v / 10));
    const b = importanceDensityDetailed(scaled, { L: 10, b: 7, p: 4 });
    assert.equal(b.quantized, false);
    assert.deepEqual(b.sparse, [
      [10, 9],
      [8, 0],
      [0, 10],
    ]);
    close(b.density, [1, 0.5970601, 0.5970601]);
  });

  it('applies only the threshold to a quantized matrix (no per-column rescaling)', () => {
    // Column 1's maximum is 4: the per-column rule would lift it to 10; the quantized rule zeroes it.
    assert.deepEqual(sparsify([[10, 4], [0, 2]], { L: 10, b: 3 }), [[10, 4], [0, 0]]);
    assert.deepEqual(sparsify([[10, 4], [0, 2]], { L: 10, b: 7 }), [[10, 0], [0, 0]]);
  });
});

describe('importance density', () => {
  it('is ‖A_i‖₁ / ‖A_i‖_p normalised by its maximum (hand-worked, p = 4)', () => {
    close(importanceDensity(RAW, { L: 10, b: 3, p: 4 }), [0.6768477, 1, 0.6768477]);
  });

  it('depends on p: p = 1 gives 1 per non-zero row, p = 2 and p = ∞ as computed by hand', () => {
    const sparse = [
      [5, 0],
      [10, 5],
      [0, 0],
    ];
    close(densityOfSparse(sparse, 1), [1, 1, 0]);
    // p = 2: row 0 5/5 = 1, row 1 15/√125 = 1.3416408 → [0.7453560, 1, 0]
    close(densityOfSparse(sparse, 2), [0.745356, 1, 0]);
    // p = ∞: row 1 15/10 = 1.5 → [0.6666667, 1, 0]
    close(densityOfSparse(sparse, Infinity), [0.6666667, 1, 0]);
  });

  it('is 0 for every token when nothing survives the threshold', () => {
    close(importanceDensity([[0.1, 0.2], [0.05, 0.1]], { b: 10 }), [0, 0]);
  });

  it('spreads more for a token that drives many response tokens than for one that drives one', () => {
    const d = importanceDensity([
      [10, 10, 10, 10],
      [10, 0, 0, 0],
      [0, 0, 0, 0],
    ]);
    assert.ok(d[0]! > d[1]! && d[1]! > d[2]!);
    close(d, [1, 1 / Math.pow(4, 0.75), 0]);
  });
});

describe('instruction score', () => {
  const d = [0.6768477, 1, 0.6768477];
  it('is Σ d·m / log2(2 + Σ m) (hand-worked)', () => {
    // mask [1, 0, 1]: 1.3536954 / log2(4) = 0.6768477; mask [0, 1, 0]: 1 / log2(3) = 0.6309298
    close([instructionScore(d, [1, 0, 1])], [0.6768477]);
    close([instructionScore(d, [0, 1, 0])], [0.6309298]);
    close([instructionScore(d, [true, false, true])], [0.6768477]);
    assert.equal(instructionScore(d, [0, 0, 0]), 0);
  });

  it('rejects a mask of the wrong length or with values other than 0/1', () => {
    lensError(() => instructionScore(d, [1, 0]), /2 entries but there are 3 prompt tokens/);
    lensError(() => instructionScore(d, [1, 0, 2]), /entry 2 is 2/);
  });
});
