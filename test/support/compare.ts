import assert from 'node:assert/strict';

/** max|a − b| ≤ tolerance · max|reference| — the parity criterion of the issues. */
export function assertClose(actual: ArrayLike<number>, reference: ArrayLike<number>, relTolerance: number, what: string): { maxAbsDiff: number; maxRef: number } {
  assert.equal(actual.length, reference.length, `${what}: length ${actual.length} ≠ ${reference.length}`);
  let maxAbsDiff = 0;
  let maxRef = 0;
  for (let i = 0; i < reference.length; i++) {
    const diff = Math.abs(actual[i]! - reference[i]!);
    if (!(diff <= maxAbsDiff)) maxAbsDiff = Number.isNaN(diff) ? Infinity : diff;
    maxRef = Math.max(maxRef, Math.abs(reference[i]!));
  }
  assert.ok(maxRef > 0, `${what}: the reference is all zeros, the comparison would prove nothing`);
  assert.ok(maxAbsDiff <= relTolerance * maxRef, `${what}: max|Δ| = ${maxAbsDiff.toExponential(3)} > ${relTolerance} · ${maxRef.toExponential(3)}`);
  return { maxAbsDiff, maxRef };
}

export function flatten(rows: ArrayLike<number>[]): Float64Array {
  const total = rows.reduce((n, r) => n + r.length, 0);
  const out = new Float64Array(total);
  let at = 0;
  for (const r of rows) {
    out.set(Array.from(r), at);
    at += r.length;
  }
  return out;
}
