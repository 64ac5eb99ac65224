/**
 * The leading k eigenpairs of a symmetric positive semi-definite n × n operator C that is only
 * available as a product (C·Q for a block Q), for the FFN analysis at sizes where a full
 * eigendecomposition in JavaScript (O(n³)) is minutes per layer.
 *
 * Method: block Krylov (block Lanczos with full reorthogonalisation) from a seeded random block
 * of b = k + oversampling rows, with Rayleigh–Ritz on the whole Krylov basis after every block.
 * Block Krylov rather than plain subspace iteration because the convergence of component i then
 * depends on roughly the square root of its gap to the unconverged tail instead of the gap itself:
 * on flat (random-matrix-like) spectra subspace iteration needs hundreds of products.
 *
 * Convergence test, on the residuals: with the basis V (orthonormal rows), Z = C·V and
 * T = V·Zᵀ, a Ritz pair (θ, x = yᵀV) has C x − θ x = y_lastᵀ W, W being the last block's product
 * orthogonalised against V; so ‖r‖² = y_lastᵀ (W Wᵀ) y_last costs nothing extra. Every pair of
 * the top k must have ‖r‖ ≤ tolerance · θ₀; then the true residuals are computed from Z and must
 * pass too (they also catch a loss of orthogonality). For a component whose eigenvalue is
 * separated from the rest of the spectrum by a relative gap δ, the angle to its eigenvector is at
 * most ‖r‖ / (δ θ) and the eigenvalue error at most ‖r‖² / (δ θ).
 *
 * Every product of size n (C·Q, V·Zᵀ, projections) goes through `products`, which runs them as
 * onnxruntime graphs; JavaScript keeps only the m × m Rayleigh quotient (m = basis size ≤ a few
 * hundred) and b × b Gram matrices. Orthonormalisation is SVQB (eigendecomposition of the
 * block's Gram matrix; directions of relative norm < 1e-12 are dropped, so an invariant subspace
 * ends the iteration instead of dividing by zero), applied after classical Gram–Schmidt twice.
 *
 * Hand-written: no maintained npm package offers a block Krylov eigensolver over caller-supplied
 * products (ml-matrix and numeric.js decompose dense in-memory matrices, which is the O(n³) this
 * avoids).
 */
import { hashSeed, NormalStream } from '../model/synthetic/random.js';
import { symmetricEigen } from './linalg.js';

export interface BlockProducts {
  /** C·Q for the `rows` rows of Q (row-major [rows, n]); returns [rows, n]. */
  apply(q: Float64Array, rows: number): Promise<Float64Array>;
  /** A·Bᵀ for A [p, n], B [q, n]: [p, q]. */
  abt(a: Float64Array, p: number, b: Float64Array, q: number, n: number): Promise<Float64Array>;
  /** A·B for A [p, q], B [q, n]: [p, n]. */
  ab(a: Float64Array, p: number, b: Float64Array, q: number, n: number): Promise<Float64Array>;
}

export interface TopEigenOptions {
  /** Eigenpairs wanted. */
  k: number;
  /** Extra rows per block (default 16). */
  oversampling?: number;
  /** Angle to its eigenvector allowed for a separated component (default 1e-8; see residualBounds). */
  tolerance?: number;
  /** Largest Krylov basis (default 4 blocks, at least 2, at most n); when it is full the basis restarts from its b leading Ritz vectors. */
  maxBasis?: number;
  /** Products C·Q allowed (default 8); when they are spent the Ritz pairs are returned as they are, `converged` false. */
  maxBlocks?: number;
  seed?: number;
  /** Called between blocks (cancellation). */
  check?: () => void;
}

export interface TopEigenResult {
  /** Descending. */
  values: Float64Array;
  /** Row j (n values) is the unit eigenvector of values[j]; its largest-magnitude entry (first on ties) is positive. */
  vectors: Float64Array;
  /** Blocks multiplied by C. */
  blocks: number;
  basis: number;
  /** Per pair, the true residual ‖C x − θ x‖ / θ₀. */
  residuals: Float64Array;
  /** Whether every pair met its bound (see residualBounds); false when the basis budget ran out first. */
  converged: boolean;
}

/** Rows of W ([rows, n]) made orthonormal (SVQB); directions of relative norm below 1e-12 are dropped. */
async function svqb(products: BlockProducts, w: Float64Array, rows: number, n: number, scale: number): Promise<{ block: Float64Array; rows: number }> {
  const gram = await products.abt(w, rows, w, rows, n);
  for (let i = 0; i < rows; i++) for (let j = 0; j < i; j++) gram[i * rows + j] = gram[j * rows + i] = (gram[i * rows + j]! + gram[j * rows + i]!) / 2;
  const { values, vectors } = symmetricEigen(gram, rows);
  const floor = 1e-24 * Math.max(scale, values[0]!);
  let kept = 0;
  while (kept < rows && values[kept]! > floor) kept++;
  if (kept === 0) return { block: new Float64Array(0), rows: 0 };
  const coefficients = new Float64Array(kept * rows);
  for (let j = 0; j < kept; j++) {
    const s = 1 / Math.sqrt(values[j]!);
    for (let i = 0; i < rows; i++) coefficients[j * rows + i] = vectors[j * rows + i]! * s;
  }
  return { block: await products.ab(coefficients, kept, w, rows, n), rows: kept };
}

/** W − (W·Vᵀ)·V for the first m rows of V. */
async function project(products: BlockProducts, w: Float64Array, rows: number, v: Float64Array, m: number, n: number): Promise<Float64Array> {
  const c = await products.abt(w, rows, v.subarray(0, m * n), m, n);
  const p = await products.ab(c, rows, v.subarray(0, m * n), m, n);
  for (let i = 0; i < w.length; i++) p[i] = w[i]! - p[i]!;
  return p;
}

/**
 * Per wanted Ritz pair, the residual it must reach. A pair whose Ritz value is at least 0.5 %
 * from its neighbours (half the 1 % the accuracy is promised for, as Ritz values still move) must
 * have ‖r‖ ≤ angleTolerance · gap: its angle to the eigenvector is then at most angleTolerance.
 * Inside a cluster the eigenvectors are not individually defined to that accuracy and need not be:
 * such a pair needs ‖r‖ ≤ clusterTolerance · θ (its eigenvalue, hence its variance ratio, within
 * that). Neither is asked below 1e-12 · θ₀, the rounding floor of the float64 products.
 */
function residualBounds(values: Float64Array, k: number, m: number, angleTolerance: number): Float64Array {
  const out = new Float64Array(k);
  for (let c = 0; c < k; c++) {
    const theta = values[c]!;
    const gap = Math.min(c > 0 ? values[c - 1]! - theta : Infinity, c + 1 < m ? theta - values[c + 1]! : Infinity);
    const bound = gap >= 0.005 * Math.abs(theta) ? angleTolerance * gap : CLUSTER_TOLERANCE * Math.abs(theta);
    out[c] = Math.max(bound, 1e-12 * values[0]!);
  }
  return out;
}

const CLUSTER_TOLERANCE = 1e-6;

/** T[r0.., c0..] (symmetric, stride `stride`) from cols = V[0:m]·Z[m0:m]ᵀ; the new diagonal block is averaged with its transpose. */
function fillProjection(T: Float64Array, stride: number, cols: Float64Array, m: number, m0: number): void {
  const rows = m - m0;
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < rows; j++) {
      const a = m0 + j;
      if (i >= m0 && i < a) continue;
      const v = i >= m0 ? (cols[i * rows + j]! + cols[a * rows + (i - m0)]!) / 2 : cols[i * rows + j]!;
      T[i * stride + a] = v;
      T[a * stride + i] = v;
    }
  }
}

/** The top `k` eigenpairs (fewer only when C has a smaller range). */
export async function topEigenpairs(products: BlockProducts, n: number, options: TopEigenOptions): Promise<TopEigenResult> {
  const k = options.k;
  const b = Math.min(n, k + (options.oversampling ?? 16));
  const tolerance = options.tolerance ?? 1e-8;
  const maxBasis = Math.min(n, Math.max(options.maxBasis ?? 4 * b, 2 * b));
  const maxBlocks = options.maxBlocks ?? 8;
  const V = new Float64Array(maxBasis * n);
  const Z = new Float64Array(maxBasis * n);
  // T is kept at maxBasis stride; only its leading m × m block is used.
  const T = new Float64Array(maxBasis * maxBasis);
  const start = new Float32Array(b * n);
  new NormalStream(hashSeed(options.seed ?? 0, 'topEigenpairs')).fill(start, 0, 1);
  let { block, rows } = await svqb(products, Float64Array.from(start), b, n, 0);
  let m = 0;
  let blocks = 0;
  let scale = 0;
  for (;;) {
    options.check?.();
    const z = await products.apply(block, rows);
    blocks++;
    const m0 = m;
    V.set(block, m0 * n);
    Z.set(z, m0 * n);
    m += rows;
    // New columns of T = V·Zᵀ; C is symmetric, so they are also the new rows.
    const cols = await products.abt(V.subarray(0, m * n), m, z, rows, n);
    fillProjection(T, maxBasis, cols, m, m0);
    for (let i = 0; i < rows; i++) {
      let r2 = 0;
      for (let x = 0; x < n; x++) r2 += z[i * n + x]! ** 2;
      scale = Math.max(scale, r2);
    }
    // The part of C·(last block) outside the basis (Gram–Schmidt twice).
    const coeff = new Float64Array(rows * m);
    for (let j = 0; j < rows; j++) for (let i = 0; i < m; i++) coeff[j * m + i] = cols[i * rows + j]!;
    const once = await products.ab(coeff, rows, V.subarray(0, m * n), m, n);
    for (let i = 0; i < once.length; i++) once[i] = z[i]! - once[i]!;
    const w = await project(products, once, rows, V, m, n);
    const next = m < n ? await svqb(products, w, rows, n, scale) : { block: new Float64Array(0), rows: 0 };
    const last = next.rows === 0 || blocks >= maxBlocks;
    const full = m + next.rows > maxBasis;
    // Rayleigh–Ritz costs O(m³) in JavaScript: only when the basis is full, every third block, and at the end.
    if (!last && !full && blocks % 3 !== 0) {
      ({ block, rows } = await reorthogonalise(products, next, V, m, n));
      continue;
    }
    const t = new Float64Array(m * m);
    for (let i = 0; i < m; i++) t.set(T.subarray(i * maxBasis, i * maxBasis + m), i * m);
    const ritz = symmetricEigen(t, m);
    const kk = Math.min(k, m);
    const gram = await products.abt(w, rows, w, rows, n);
    const bounds = residualBounds(ritz.values, kk, m, tolerance);
    let worst = 0;
    for (let c = 0; c < kk; c++) {
      const y = ritz.vectors.subarray(c * m + m0, c * m + m);
      let r2 = 0;
      for (let i = 0; i < rows; i++) for (let j = 0; j < rows; j++) r2 += y[i]! * gram[i * rows + j]! * y[j]!;
      worst = Math.max(worst, Math.sqrt(Math.max(0, r2)) / bounds[c]!);
    }
    const wanted = (kk === k && worst <= 1) || last;
    // Ritz pairs: the wanted ones, or at a restart the b leading ones the basis shrinks to.
    const keep = Math.max(wanted ? kk : 0, full ? Math.min(m, b) : 0);
    if (keep > 0) {
      const Y = ritz.vectors.subarray(0, keep * m);
      const X = await products.ab(Y, keep, V.subarray(0, m * n), m, n);
      const CX = await products.ab(Y, keep, Z.subarray(0, m * n), m, n);
      const R = new Float64Array(keep * n);
      const residuals = new Float64Array(keep);
      let passed = kk === k;
      for (let c = 0; c < keep; c++) {
        let r2 = 0;
        for (let x = 0; x < n; x++) {
          const r = CX[c * n + x]! - ritz.values[c]! * X[c * n + x]!;
          R[c * n + x] = r;
          r2 += r * r;
        }
        residuals[c] = Math.sqrt(r2);
        if (c < kk && residuals[c]! > 10 * bounds[c]!) passed = false;
      }
      if (wanted && (passed || last)) {
        for (let c = 0; c < kk; c++) {
          const row = X.subarray(c * n, c * n + n);
          // Unit length again (orthonormal up to rounding), sign as symmetricEigen's.
          let norm = 0;
          let big = 0;
          for (let x = 0; x < n; x++) {
            norm += row[x]! ** 2;
            if (Math.abs(row[x]!) > Math.abs(row[big]!)) big = x;
          }
          const s = (row[big]! < 0 ? -1 : 1) / Math.sqrt(norm);
          for (let x = 0; x < n; x++) row[x] = row[x]! * s;
        }
        return { values: Float64Array.from(ritz.values.subarray(0, kk)), vectors: X, blocks, basis: m, residuals: residuals.map((r) => r / ritz.values[0]!), converged: passed };
      }
      if (full) {
        // Thick restart: the basis becomes the leading Ritz vectors, and the Krylov space goes on
        // from their residuals (which lie in the span of the block just orthogonalised).
        V.set(X, 0);
        Z.set(CX, 0);
        m = keep;
        fillProjection(T, maxBasis, await products.abt(X, keep, CX, keep, n), m, 0);
        const restart = await svqb(products, await project(products, R, keep, V, m, n), keep, n, scale);
        if (restart.rows === 0) throw new Error('topEigenpairs: the residuals vanished at a restart that was not converged');
        ({ block, rows } = await reorthogonalise(products, restart, V, m, n));
        continue;
      }
    }
    ({ block, rows } = await reorthogonalise(products, next, V, m, n));
  }
}

/** The next block once more against the basis: the SVQB scaling can magnify what the projections left. */
async function reorthogonalise(products: BlockProducts, next: { block: Float64Array; rows: number }, V: Float64Array, m: number, n: number): Promise<{ block: Float64Array; rows: number }> {
  const again = await svqb(products, await project(products, next.block, next.rows, V, m, n), next.rows, n, 1);
  if (again.rows === 0) throw new Error('topEigenpairs: the Krylov block vanished after reorthogonalisation');
  return again;
}
