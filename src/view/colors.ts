/**
 * The colour scales every view uses — the panel, the editor highlights, the HTML page and the
 * terminal — so that a token has the same colour everywhere: densities on a colour-blind-safe
 * sequential scale (ColorBrewer YlGnBu, light = unimportant, dark = important), differences on a
 * diverging one (ColorBrewer PuOr: orange = the base model gives the token more importance, purple
 * = the tuned model does), quantized into bins where a view needs classes (the HTML page's CSP
 * forbids inline styles; the editor's decorations are one type per bin), and black or white text,
 * whichever contrasts more. Pure functions, no DOM, no Node.
 */

export type Rgb = [number, number, number];

/** Number of classes of the sequential (density) scale. */
export const SEQ_BINS = 20;
/** Number of classes of the diverging (difference) scale; the middle one is 0. */
export const DIV_BINS = 21;

/** ColorBrewer YlGnBu, 9 classes (colour-blind safe, light to dark). */
const YLGNBU: Rgb[] = ['#ffffd9', '#edf8b1', '#c7e9b4', '#7fcdbb', '#41b6c4', '#1d91c0', '#225ea8', '#253494', '#081d58'].map(hex);
/** ColorBrewer PuOr, 11 classes (colour-blind safe), orange (−) to purple (+). */
const PUOR: Rgb[] = ['#7f3b08', '#b35806', '#e08214', '#fdb863', '#fee0b6', '#f7f7f7', '#d8daeb', '#b2abd2', '#8073ac', '#542788', '#2d004b'].map(hex);

function hex(h: string): Rgb {
  return [parseInt(h.slice(1, 3), 16), parseInt(h.slice(3, 5), 16), parseInt(h.slice(5, 7), 16)];
}

function interpolate(stops: Rgb[], t: number): Rgb {
  const x = clamp01(t) * (stops.length - 1);
  const i = Math.min(stops.length - 2, Math.floor(x));
  const f = x - i;
  const a = stops[i]!;
  const b = stops[i + 1]!;
  return [0, 1, 2].map((k) => Math.round(a[k]! + (b[k]! - a[k]!) * f)) as Rgb;
}

function clamp01(v: number): number {
  return Number.isFinite(v) ? Math.min(1, Math.max(0, v)) : 0;
}

/** The sequential scale at t ∈ [0, 1] (0 = light, 1 = dark). */
export function sequentialColor(t: number): Rgb {
  return interpolate(YLGNBU, t);
}

/** The diverging scale at t ∈ [−1, 1] (−1 orange, 0 near white, +1 purple). */
export function divergingColor(t: number): Rgb {
  const v = Number.isFinite(t) ? Math.min(1, Math.max(-1, t)) : 0;
  return interpolate(PUOR, (v + 1) / 2);
}

function luminance([r, g, b]: Rgb): number {
  const lin = (c: number) => {
    const s = c / 255;
    return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
  };
  return 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b);
}

/** Black or white text on `bg`, whichever has the higher WCAG contrast ratio. */
export function contrastText(bg: Rgb): Rgb {
  const l = luminance(bg);
  const onBlack = (l + 0.05) / 0.05;
  const onWhite = 1.05 / (l + 0.05);
  return onBlack >= onWhite ? [0, 0, 0] : [255, 255, 255];
}

/** The sequential bin of a density in [0, 1]. */
export function seqBin(d: number): number {
  return Math.min(SEQ_BINS - 1, Math.floor(clamp01(d) * SEQ_BINS));
}

/** The diverging bin of a difference in [−1, 1]; `(DIV_BINS − 1) / 2` is 0. */
export function divBin(v: number): number {
  const half = (DIV_BINS - 1) / 2;
  const x = Number.isFinite(v) ? Math.min(1, Math.max(-1, v)) : 0;
  return Math.round(x * half) + half;
}

/** The colour at the centre of sequential bin `k`. */
export function seqBinColor(k: number): Rgb {
  return sequentialColor((k + 0.5) / SEQ_BINS);
}

/** The colour at the centre of diverging bin `k`. */
export function divBinColor(k: number): Rgb {
  const half = (DIV_BINS - 1) / 2;
  return divergingColor((k - half) / half);
}
