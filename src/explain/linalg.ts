/**
 * Small dense linear algebra in float64 that the graphs leave to JavaScript: the eigendecomposition
 * of a symmetric H × H matrix (the FFN covariance) and of small k × k matrices (principal angles).
 *
 * The algorithm is the classic Householder tridiagonalisation followed by the implicit QL method
 * (EISPACK tred2/tql2, as in JAMA), written over flat Float64Arrays with the eigenvector rotations
 * applied to contiguous rows: about 10× faster than a Matrix-object library at H = 576.
 */

export interface SymmetricEigen {
  /** Eigenvalues, descending. */
  values: Float64Array;
  /** Row j (n values) is the unit eigenvector of values[j]; its largest-magnitude entry (first on ties) is positive. */
  vectors: Float64Array;
}

/** Eigendecomposition of the symmetric n × n row-major matrix `a` (only its values are read; `a` is not changed). */
export function symmetricEigen(a: Float64Array, n: number): SymmetricEigen {
  if (a.length !== n * n) throw new Error(`symmetricEigen: ${a.length} values for ${n} × ${n}`);
  // tred2 and tql2 work on the transpose of JAMA's V, so that every inner loop runs along a row.
  const Vt = Float64Array.from(a);
  const d = new Float64Array(n);
  const e = new Float64Array(n);
  tred2(Vt, d, e, n);
  tql2(Vt, d, e, n);
  const order = Array.from({ length: n }, (_, i) => i).sort((x, y) => d[y]! - d[x]! || x - y);
  const values = new Float64Array(n);
  const vectors = new Float64Array(n * n);
  order.forEach((src, dst) => {
    values[dst] = d[src]!;
    const row = vectors.subarray(dst * n, dst * n + n);
    row.set(Vt.subarray(src * n, src * n + n));
    let big = 0;
    for (let i = 1; i < n; i++) if (Math.abs(row[i]!) > Math.abs(row[big]!)) big = i;
    if (row[big]! < 0) for (let i = 0; i < n; i++) row[i] = -row[i]!;
  });
  return { values, vectors };
}

/** Householder reduction to tridiagonal form (W = Vᵀ: n × n row-major, in place; on return its rows are the transformation's columns). */
function tred2(W: Float64Array, d: Float64Array, e: Float64Array, n: number): void {
  for (let j = 0; j < n; j++) d[j] = W[j * n + (n - 1)]!;
  for (let i = n - 1; i > 0; i--) {
    let scale = 0;
    let h = 0;
    for (let k = 0; k < i; k++) scale += Math.abs(d[k]!);
    if (scale === 0) {
      e[i] = d[i - 1]!;
      for (let j = 0; j < i; j++) {
        d[j] = W[j * n + (i - 1)]!;
        W[j * n + i] = 0;
        W[i * n + j] = 0;
      }
    } else {
      for (let k = 0; k < i; k++) {
        d[k] = d[k]! / scale;
        h += d[k]! * d[k]!;
      }
      let f = d[i - 1]!;
      let g = Math.sqrt(h);
      if (f > 0) g = -g;
      e[i] = scale * g;
      h -= f * g;
      d[i - 1] = f - g;
      for (let j = 0; j < i; j++) e[j] = 0;
      for (let j = 0; j < i; j++) {
        f = d[j]!;
        W[i * n + j] = f;
        g = e[j]! + W[j * n + j]! * f;
        for (let k = j + 1; k <= i - 1; k++) {
          const vkj = W[j * n + k]!;
          g += vkj * d[k]!;
          e[k] = e[k]! + vkj * f;
        }
        e[j] = g;
      }
      f = 0;
      for (let j = 0; j < i; j++) {
        e[j] = e[j]! / h;
        f += e[j]! * d[j]!;
      }
      const hh = f / (h + h);
      for (let j = 0; j < i; j++) e[j] = e[j]! - hh * d[j]!;
      for (let j = 0; j < i; j++) {
        f = d[j]!;
        g = e[j]!;
        for (let k = j; k <= i - 1; k++) W[j * n + k] = W[j * n + k]! - (f * e[k]! + g * d[k]!);
        d[j] = W[j * n + (i - 1)]!;
        W[j * n + i] = 0;
      }
    }
    d[i] = h;
  }
  for (let i = 0; i < n - 1; i++) {
    W[i * n + (n - 1)] = W[i * n + i]!;
    W[i * n + i] = 1;
    const h = d[i + 1]!;
    if (h !== 0) {
      for (let k = 0; k <= i; k++) d[k] = W[(i + 1) * n + k]! / h;
      for (let j = 0; j <= i; j++) {
        let g = 0;
        for (let k = 0; k <= i; k++) g += W[(i + 1) * n + k]! * W[j * n + k]!;
        for (let k = 0; k <= i; k++) W[j * n + k] = W[j * n + k]! - g * d[k]!;
      }
    }
    for (let k = 0; k <= i; k++) W[(i + 1) * n + k] = 0;
  }
  for (let j = 0; j < n; j++) {
    d[j] = W[j * n + (n - 1)]!;
    W[j * n + (n - 1)] = 0;
  }
  W[(n - 1) * n + (n - 1)] = 1;
  e[0] = 0;
}

/** Implicit QL on the tridiagonal (d, e); Vt holds the eigenvectors as rows (rotated in place). */
function tql2(Vt: Float64Array, d: Float64Array, e: Float64Array, n: number): void {
  for (let i = 1; i < n; i++) e[i - 1] = e[i]!;
  e[n - 1] = 0;
  let f = 0;
  let tst1 = 0;
  const eps = 2 ** -52;
  for (let l = 0; l < n; l++) {
    tst1 = Math.max(tst1, Math.abs(d[l]!) + Math.abs(e[l]!));
    let m = l;
    while (m < n) {
      if (Math.abs(e[m]!) <= eps * tst1) break;
      m++;
    }
    if (m > l) {
      let iterations = 0;
      do {
        if (++iterations > 100) throw new Error('symmetricEigen: the QL iteration did not converge');
        let g = d[l]!;
        let p = (d[l + 1]! - g) / (2 * e[l]!);
        let r = Math.hypot(p, 1);
        if (p < 0) r = -r;
        d[l] = e[l]! / (p + r);
        d[l + 1] = e[l]! * (p + r);
        const dl1 = d[l + 1]!;
        let h = g - d[l]!;
        for (let i = l + 2; i < n; i++) d[i] = d[i]! - h;
        f += h;
        p = d[m]!;
        let c = 1;
        let c2 = c;
        let c3 = c;
        const el1 = e[l + 1]!;
        let s = 0;
        let s2 = 0;
        for (let i = m - 1; i >= l; i--) {
          c3 = c2;
          c2 = c;
          s2 = s;
          g = c * e[i]!;
          h = c * p;
          r = Math.hypot(p, e[i]!);
          e[i + 1] = s * r;
          s = e[i]! / r;
          c = p / r;
          p = c * d[i]! - s * g;
          d[i + 1] = h + s * (c * g + s * d[i]!);
          const a = i * n;
          const b = (i + 1) * n;
          for (let k = 0; k < n; k++) {
            const hk = Vt[b + k]!;
            const vk = Vt[a + k]!;
            Vt[b + k] = s * vk + c * hk;
            Vt[a + k] = c * vk - s * hk;
          }
        }
        p = (-s * s2 * c3 * el1 * e[l]!) / dl1;
        e[l] = s * p;
        d[l] = c * p;
      } while (Math.abs(e[l]!) > eps * tst1);
    }
    d[l] = d[l]! + f;
    e[l] = 0;
  }
}

/**
 * Cosines of the principal angles between the row spaces of A (k × n) and B (k × n), both with
 * orthonormal rows: the singular values of A·Bᵀ, descending, clipped to [0, 1].
 */
export function principalCosines(A: ArrayLike<number>, B: ArrayLike<number>, k: number, n: number): Float64Array {
  const M = new Float64Array(k * k);
  for (let i = 0; i < k; i++) {
    for (let j = 0; j < k; j++) {
      let s = 0;
      for (let t = 0; t < n; t++) s += A[i * n + t]! * B[j * n + t]!;
      M[i * k + j] = s;
    }
  }
  const MtM = new Float64Array(k * k);
  for (let i = 0; i < k; i++) {
    for (let j = i; j < k; j++) {
      let s = 0;
      for (let t = 0; t < k; t++) s += M[t * k + i]! * M[t * k + j]!;
      MtM[i * k + j] = s;
      MtM[j * k + i] = s;
    }
  }
  const { values } = symmetricEigen(MtM, k);
  return values.map((v) => Math.min(1, Math.sqrt(Math.max(0, v))));
}
