/**
 * A head dimension's top-K words from float32 products, decided as float64 would decide them.
 *
 * The heads analysis ranks every word w of the list by |Hq[w,r]| = |E_w · w_r| per head dimension r
 * and keeps the top K (ties by word position). Computing those products in float64 for every
 * candidate costs a float64 gather of [Kc, H] per dimension — at Llama-2-7B shape the largest
 * memory traffic of the whole analysis. The float32 products that picked the candidates are
 * within a proven bound of the float64 ones instead:
 *
 *   |fl32(E_w · w_r) − E_w · w_r| ≤ γ_{H+2} Σ_x |E_wx w_rx| ≤ γ_{H+2} ‖E_w‖ ‖w_r‖,   γ_n = n·2⁻²⁴ / (1 − n·2⁻²⁴),
 *
 * whatever the summation order (E rounded to float32 once, w_r = g ⊙ W[r] rounded once, H products
 * and additions). So a word is certainly in the top K when fewer than K others can reach its lower
 * bound, certainly out when K others are certainly above it; only the words in between (and words
 * whose sign the bound leaves open) get their exact float64 value, from a small gather of just
 * those (item, word) pairs. When the candidates do not even prove that every non-candidate is out,
 * the caller computes the item exactly over the whole list.
 */

/** The factor of ‖E_w‖·‖w_r‖ that bounds a float32 product's error for hidden size H (γ_{H+2}, with headroom for the norms' own rounding). */
export function float32DotBound(H: number): number {
  const nu = (H + 8) * 2 ** -24;
  return (1.01 * nu) / (1 - nu);
}

export interface DimensionCandidates {
  /** The candidates' float32 products, [Kc]. */
  values: ArrayLike<number>;
  /** Each candidate's error bound, [Kc]. */
  bounds: ArrayLike<number>;
  /**
   * An upper bound on |exact| of every word that is not a candidate (the smallest candidate |value|
   * plus the largest bound a word can have), or null when every word is a candidate.
   */
  outsideHigh: number | null;
}

export interface Classification {
  /** Positions (0..Kc-1) in the top K whatever the exact values. */
  certainIn: number[];
  /** Positions that may or may not be in it: they need exact values. */
  uncertain: number[];
  /** Whether every non-candidate is certainly out; when false the candidates cannot decide. */
  decided: boolean;
}

/** Upper bound of the number of entries of `sorted` (ascending) that are ≥ x. */
function countAtLeast(sorted: Float64Array, x: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid]! >= x) hi = mid;
    else lo = mid + 1;
  }
  return sorted.length - lo;
}

/** Number of entries of `sorted` (ascending) that are > x. */
function countAbove(sorted: Float64Array, x: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid]! > x) hi = mid;
    else lo = mid + 1;
  }
  return sorted.length - lo;
}

export function classifyCandidates(c: DimensionCandidates, K: number): Classification {
  const n = c.values.length;
  const lo = new Float64Array(n);
  const hi = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const a = Math.abs(c.values[i]!);
    lo[i] = Math.max(0, a - c.bounds[i]!);
    hi[i] = a + c.bounds[i]!;
  }
  if (n <= K && c.outsideHigh === null) return { certainIn: Array.from({ length: n }, (_, i) => i), uncertain: [], decided: true };
  const loSorted = Float64Array.from(lo).sort();
  const hiSorted = Float64Array.from(hi).sort();
  const certainIn: number[] = [];
  const uncertain: number[] = [];
  for (let i = 0; i < n; i++) {
    // Others that might reach i's lower bound (i's own upper bound is counted by the search: subtract it).
    const rivals = countAtLeast(hiSorted, lo[i]!) - 1;
    const outsideRival = c.outsideHigh !== null && c.outsideHigh >= lo[i]!;
    if (rivals < K && !outsideRival) certainIn.push(i);
    else if (countAbove(loSorted, hi[i]!) < K) uncertain.push(i);
  }
  const decided = c.outsideHigh === null || countAbove(loSorted, c.outsideHigh) >= K;
  return { certainIn, uncertain, decided };
}

/**
 * The top K positions given the exact values of the uncertain ones: every certain one, then the
 * uncertain by |exact| descending, ties by word index (as a float64 TopK over the list would).
 */
export function finishSelection(certainIn: readonly number[], uncertain: readonly number[], exact: ReadonlyMap<number, number>, words: ArrayLike<number>, K: number): number[] {
  const rest = uncertain
    .map((p) => ({ p, a: Math.abs(exact.get(p)!) }))
    .sort((x, y) => y.a - x.a || words[x.p]! - words[y.p]!)
    .slice(0, Math.max(0, K - certainIn.length))
    .map((x) => x.p);
  return [...certainIn, ...rest];
}

/** The sign of a candidate's exact value when its float32 value proves it, else 0 (the exact value is needed). */
export function provenSign(value: number, bound: number): -1 | 0 | 1 {
  if (Math.abs(value) <= bound) return 0;
  return value > 0 ? 1 : -1;
}
