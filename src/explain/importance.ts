/**
 * The paper's post-processing of an input→output attribution matrix (DESIGN.md §1):
 * sparsification, importance density per prompt token, and the instruction score.
 *
 * All matrices are indexed [prompt token i][response token j].
 */
import { LensError } from '../model/errors.js';
import { DEFAULT_IMPORTANCE_OPTIONS } from '../contract/report.js';

export interface SparsifyOptions {
  /** Quantization levels (default 10). */
  L?: number;
  /** Threshold: quantized entries `≤ b` are set to 0 (default 7). */
  b?: number;
}

export interface ImportanceOptions extends SparsifyOptions {
  /** The p of the p-norm in the density's denominator (default 4; `Infinity` allowed). */
  p?: number;
}

export { DEFAULT_IMPORTANCE_OPTIONS };

/** Added to a column's maximum before dividing by it. */
const COLUMN_EPS = 1e-7;
/** Added to the p-norm and to the maximum density before dividing by them. */
const DENSITY_EPS = 1e-9;

/** Result of the density computation, with what was decided on the way. */
export interface ImportanceDensity {
  /** Per prompt token, in [0, 1). */
  density: number[];
  /** The thresholded, quantized matrix the density was computed from. */
  sparse: number[][];
  /** Whether the input was taken as already quantized (only the threshold applied). */
  quantized: boolean;
}

function resolveOptions(options: ImportanceOptions): Required<ImportanceOptions> {
  const L = options.L ?? DEFAULT_IMPORTANCE_OPTIONS.L;
  const b = options.b ?? DEFAULT_IMPORTANCE_OPTIONS.b;
  const p = options.p ?? DEFAULT_IMPORTANCE_OPTIONS.p;
  if (!Number.isInteger(L) || L < 1) throw new LensError(`Quantization levels L must be a positive integer, got ${L}.`);
  if (!Number.isFinite(b)) throw new LensError(`Threshold b must be a finite number, got ${b}.`);
  if (!(p >= 1)) throw new LensError(`The density's norm p must be at least 1 (or Infinity), got ${p}.`);
  return { L, b, p };
}

/**
 * Checks that `raw` is a non-empty rectangular matrix of finite numbers; throws a LensError that
 * names the position otherwise. Returns [rows, columns].
 */
export function validateMatrix(raw: readonly (readonly number[])[]): [number, number] {
  if (!Array.isArray(raw)) throw new LensError('Attribution matrix must be an array of rows (one per prompt token).');
  if (raw.length === 0) throw new LensError('Attribution matrix is empty: it has no prompt tokens (0 rows).');
  const first = raw[0];
  if (!Array.isArray(first)) throw new LensError('Attribution matrix row 0 is not an array.');
  const cols = first.length;
  if (cols === 0) throw new LensError(`Attribution matrix is empty: it has ${raw.length} prompt tokens but no response tokens (0 columns).`);
  for (let i = 0; i < raw.length; i++) {
    const row = raw[i];
    if (!Array.isArray(row)) throw new LensError(`Attribution matrix row ${i} is not an array.`);
    if (row.length !== cols) {
      throw new LensError(`Attribution matrix is ragged: row ${i} has ${row.length} entries, row 0 has ${cols}.`);
    }
    for (let j = 0; j < cols; j++) {
      const v = row[j];
      if (typeof v !== 'number') throw new LensError(`Attribution matrix entry [${i}][${j}] is not a number (${JSON.stringify(v) ?? String(v)}).`);
      if (!Number.isFinite(v)) throw new LensError(`Attribution matrix entry [${i}][${j}] is ${v}: every entry must be finite.`);
    }
  }
  return [raw.length, cols];
}

/**
 * Whether the matrix is already quantized to 0..L: every entry an integer in 0..L, its maximum
 * exactly L and its minimum exactly 0. Such a matrix is taken as it is (only the threshold applies).
 * An empty matrix is not quantized.
 */
export function isQuantized(raw: readonly (readonly number[])[], L: number = DEFAULT_IMPORTANCE_OPTIONS.L): boolean {
  let max = -Infinity;
  let min = Infinity;
  let any = false;
  for (const row of raw) {
    for (const v of row) {
      if (!Number.isInteger(v) || v < 0 || v > L) return false;
      any = true;
      if (v > max) max = v;
      if (v < min) min = v;
    }
  }
  return any && max === L && min === 0;
}

/**
 * Sparsifies a raw attribution matrix: `A = max(raw, 0)`, each column divided by
 * `(its maximum + 1e-7)`, `A = ceil(A·L)`, entries `≤ b` set to 0. An already-quantized matrix
 * (see `isQuantized`) only gets the threshold. Throws a LensError for an empty matrix or a
 * non-finite entry. Returns a new matrix; `raw` is not modified.
 */
export function sparsify(raw: readonly (readonly number[])[], options: SparsifyOptions = {}): number[][] {
  return sparsifyDetailed(raw, options).sparse;
}

function sparsifyDetailed(raw: readonly (readonly number[])[], options: SparsifyOptions): { sparse: number[][]; quantized: boolean } {
  const { L, b } = resolveOptions(options);
  const [rows, cols] = validateMatrix(raw);
  if (isQuantized(raw, L)) {
    return { sparse: raw.map((row) => row.map((v) => (v <= b ? 0 : v))), quantized: true };
  }
  const colMax = new Array<number>(cols).fill(0);
  for (let i = 0; i < rows; i++) {
    const row = raw[i]!;
    for (let j = 0; j < cols; j++) {
      const v = row[j]!;
      if (v > colMax[j]!) colMax[j] = v;
    }
  }
  const sparse: number[][] = [];
  for (let i = 0; i < rows; i++) {
    const row = raw[i]!;
    const out = new Array<number>(cols);
    for (let j = 0; j < cols; j++) {
      const a = Math.max(row[j]!, 0);
      // Divide first, then scale by L, as DESIGN.md writes it: the 1e-7 keeps a value that is an
      // exact multiple of max/L (0.3 of a column whose max is 1) at that level instead of one above.
      const q = Math.ceil((a / (colMax[j]! + COLUMN_EPS)) * L);
      out[j] = q <= b ? 0 : q;
    }
    sparse.push(out);
  }
  return { sparse, quantized: false };
}

function pNorm(row: readonly number[], p: number): number {
  if (p === Infinity) {
    let m = 0;
    for (const v of row) m = Math.max(m, Math.abs(v));
    return m;
  }
  let s = 0;
  for (const v of row) s += Math.abs(v) ** p;
  return s ** (1 / p);
}

/**
 * Importance density of each prompt token (DESIGN.md §1): sparsify, then per row
 * `d_i = ‖A_i‖₁ / (‖A_i‖_p + 1e-9)`, then `d_i / (max_i d_i + 1e-9)`. A row with no entry above
 * the threshold has density 0.
 */
export function importanceDensity(raw: readonly (readonly number[])[], options: ImportanceOptions = {}): number[] {
  return importanceDensityDetailed(raw, options).density;
}

/** `importanceDensity` plus the sparse matrix and whether the quantized rule applied. */
export function importanceDensityDetailed(raw: readonly (readonly number[])[], options: ImportanceOptions = {}): ImportanceDensity {
  const { L, b, p } = resolveOptions(options);
  const { sparse, quantized } = sparsifyDetailed(raw, { L, b });
  return { density: densityOfSparse(sparse, p), sparse, quantized };
}

/** The density step alone, on an already-sparsified matrix. */
export function densityOfSparse(sparse: readonly (readonly number[])[], p: number = DEFAULT_IMPORTANCE_OPTIONS.p): number[] {
  const d = sparse.map((row) => {
    let l1 = 0;
    for (const v of row) l1 += Math.abs(v);
    return l1 / (pNorm(row, p) + DENSITY_EPS);
  });
  let max = 0;
  for (const v of d) if (v > max) max = v;
  return d.map((v) => v / (max + DENSITY_EPS));
}

/**
 * Instruction score of a prompt: `Σ_i d_i·m_i / log2(2 + Σ_i m_i)`, m = 1 on instruction tokens.
 * `mask` holds 0 or 1 per prompt token (booleans accepted) and must be as long as `density`.
 * With no instruction token the score is 0.
 */
export function instructionScore(density: readonly number[], mask: readonly (number | boolean)[]): number {
  if (density.length !== mask.length) {
    throw new LensError(`Instruction mask has ${mask.length} entries but there are ${density.length} prompt tokens.`);
  }
  let num = 0;
  let count = 0;
  for (let i = 0; i < mask.length; i++) {
    const m = mask[i];
    const mv = m === true ? 1 : m === false ? 0 : m;
    if (mv !== 0 && mv !== 1) throw new LensError(`Instruction mask entry ${i} is ${JSON.stringify(m)}: it must be 0 or 1.`);
    const d = density[i]!;
    if (!Number.isFinite(d)) throw new LensError(`Density entry ${i} is ${d}: it must be finite.`);
    if (mv === 1) {
      num += d;
      count += 1;
    }
  }
  return num / Math.log2(2 + count);
}
