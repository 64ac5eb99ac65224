/**
 * Number formatting for every view (panel, Summary, hover, HTML page, terminal), in one place.
 * Two rules remain, kept apart by name because merging them would change what users already see:
 * `formatNumber` for table cells and tooltips (0 as `0`, one-digit exponents outside
 * [10^-digits, 1e5)), `formatMeasure` for the Summary's sentences (fixed digits, so a score of 0
 * reads `0.000`; two-digit exponents outside [1e-3, 1e4)).
 */
import type { ModelReport } from '../contract/report.js';

/** A parameter count as `6.74 B`, `124 M`. */
export function formatParameters(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  const units: [number, string][] = [[1e12, 'T'], [1e9, 'B'], [1e6, 'M'], [1e3, 'K']];
  for (const [div, unit] of units) if (Math.abs(n) >= div) return `${(n / div).toPrecision(3)} ${unit}`;
  return String(n);
}

/** A number for a table cell: three decimals, or scientific notation when tiny or huge. */
export function formatNumber(v: number, digits = 3): string {
  if (!Number.isFinite(v)) return String(v);
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a < 10 ** -digits || a >= 1e5) return v.toExponential(1);
  return v.toFixed(digits);
}

/** A measured value in a sentence of the Summary (see the file comment). */
export function formatMeasure(v: number, digits = 3): string {
  return Number.isFinite(v) ? (Math.abs(v) >= 1e4 || (v !== 0 && Math.abs(v) < 1e-3) ? v.toExponential(2) : v.toFixed(digits)) : String(v);
}

function mean(values: readonly number[]): number | null {
  const finite = values.filter((v) => Number.isFinite(v));
  return finite.length ? finite.reduce((s, v) => s + v, 0) / finite.length : null;
}

/** The average probability of a model's response tokens, or null for an empty response. */
export function meanProbability(m: ModelReport): number | null {
  return mean(m.probabilities ?? []);
}

/**
 * A model's short name: a folder's name for a path ("/models/vicuna-7b" → "vicuna-7b"), a hub id as
 * it is ("lmsys/vicuna-7b-v1.5"); '' (the embedded default) → "default model". The full id goes in a tooltip.
 */
export function modelName(model: string): string {
  if (!model) return 'default model';
  const path = /^(?:[/.~]|[A-Za-z]:[\\/])/.test(model) || model.includes('\\');
  if (!path) return model;
  const parts = model.split(/[\\/]+/).filter((p) => p.length > 0);
  return parts[parts.length - 1] ?? model;
}
