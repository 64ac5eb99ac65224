/**
 * The colour scales every view uses — the panel, the editor highlights, the HTML page and the
 * terminal — so that a token has the same colour everywhere: densities on a colour-blind-safe
 * sequential scale (ColorBrewer YlGnBu), differences on a diverging one (ColorBrewer PuOr: orange =
 * the base model gives the token more importance, purple = the tuned model does), the sign of a raw
 * gradient × input on a third (ColorBrewer RdBu: blue positive, red negative — not the difference's
 * colours), quantized into bins where a view needs classes (the HTML page's CSP forbids inline
 * styles; the editor's decorations are one type per bin), and black or white text, whichever
 * contrasts more (at least 4.58:1 on any opaque colour).
 *
 * Each scale comes in two schemes, so that it reads on the theme's background: on a light
 * background (`light`) zero is near white and importance darkens; on a dark one (`dark`, also for
 * high-contrast dark themes) zero is near the background and importance brightens — the same
 * palettes with their lightness turned round, so the most important token is never the one that
 * fades into a dark editor. Pure functions, no DOM, no Node.
 */

export type Rgb = [number, number, number];

/** Which background a scale is drawn on: a light theme's or a dark (or high-contrast dark) one's. */
export type ColorScheme = 'light' | 'dark';
export const COLOR_SCHEMES: readonly ColorScheme[] = ['light', 'dark'];

/** Number of classes of the sequential (density) scale. */
export const SEQ_BINS = 20;
/** Number of classes of the diverging (difference) scale; the middle one is 0. */
export const DIV_BINS = 21;

/** ColorBrewer YlGnBu, 9 classes (colour-blind safe, light to dark). */
const YLGNBU: Rgb[] = ['#ffffd9', '#edf8b1', '#c7e9b4', '#7fcdbb', '#41b6c4', '#1d91c0', '#225ea8', '#253494', '#081d58'].map(hex);
/** ColorBrewer PuOr, 11 classes (colour-blind safe), orange (−) to purple (+). */
const PUOR: Rgb[] = ['#7f3b08', '#b35806', '#e08214', '#fdb863', '#fee0b6', '#f7f7f7', '#d8daeb', '#b2abd2', '#8073ac', '#542788', '#2d004b'].map(hex);
/** ColorBrewer RdBu, 11 classes (colour-blind safe), red (−) to blue (+). */
const RDBU: Rgb[] = ['#67001f', '#b2182b', '#d6604d', '#f4a582', '#fddbc7', '#f7f7f7', '#d1e5f0', '#92c5de', '#4393c3', '#2166ac', '#053061'].map(hex);
/** Zero on a dark background: a grey close to dark themes' editor backgrounds (#1e1e1e, #1f1f1f). */
const DARK_ZERO: Rgb = hex('#202020');

/** A light-centred diverging palette turned round for a dark background: zero dark, both ends bright. */
function darkDiverging(stops: Rgb[]): Rgb[] {
  const half = (stops.length - 1) / 2;
  return [...stops.slice(0, half).reverse(), DARK_ZERO, ...stops.slice(half + 1).reverse()];
}

/** On a dark background YlGnBu runs the other way, from the background's grey through navy to pale yellow. */
const SEQUENTIAL: Record<ColorScheme, Rgb[]> = { light: YLGNBU, dark: [DARK_ZERO, ...[...YLGNBU].reverse()] };
const DIVERGING: Record<ColorScheme, Rgb[]> = { light: PUOR, dark: darkDiverging(PUOR) };
const SIGN: Record<ColorScheme, Rgb[]> = { light: RDBU, dark: darkDiverging(RDBU) };

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

/** The sequential scale at t ∈ [0, 1] (0 = near the background, 1 = the strongest colour). */
export function sequentialColor(t: number, scheme: ColorScheme = 'light'): Rgb {
  return interpolate(SEQUENTIAL[scheme], t);
}

function signed(stops: Rgb[], t: number): Rgb {
  const v = Number.isFinite(t) ? Math.min(1, Math.max(-1, t)) : 0;
  return interpolate(stops, (v + 1) / 2);
}

/** The difference scale at t ∈ [−1, 1] (−1 orange, 0 near the background, +1 purple). */
export function divergingColor(t: number, scheme: ColorScheme = 'light'): Rgb {
  return signed(DIVERGING[scheme], t);
}

/** The gradient-sign scale at t ∈ [−1, 1] (−1 red, 0 near the background, +1 blue). */
export function signColor(t: number, scheme: ColorScheme = 'light'): Rgb {
  return signed(SIGN[scheme], t);
}

/** WCAG 2 relative luminance of an sRGB colour. */
export function luminance([r, g, b]: Rgb): number {
  const lin = (c: number) => {
    const s = c / 255;
    return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
  };
  return 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b);
}

/** WCAG 2 contrast ratio of two opaque colours, 1 (none) to 21 (black on white). */
export function contrastRatio(a: Rgb, b: Rgb): number {
  const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x) as [number, number];
  return (hi + 0.05) / (lo + 0.05);
}

/** `top` with opacity `alpha` ∈ [0, 1] drawn over the opaque `below` (sRGB source-over, as browsers blend). */
export function blend(top: Rgb, alpha: number, below: Rgb): Rgb {
  const a = clamp01(alpha);
  return [0, 1, 2].map((k) => top[k]! * a + below[k]! * (1 - a)) as Rgb;
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
export function seqBinColor(k: number, scheme: ColorScheme = 'light'): Rgb {
  return sequentialColor((k + 0.5) / SEQ_BINS, scheme);
}

/** The colour at the centre of diverging (difference) bin `k`. */
export function divBinColor(k: number, scheme: ColorScheme = 'light'): Rgb {
  const half = (DIV_BINS - 1) / 2;
  return divergingColor((k - half) / half, scheme);
}

/** The colour at the centre of gradient-sign bin `k` (binned like the difference, with `divBin`). */
export function signBinColor(k: number, scheme: ColorScheme = 'light'): Rgb {
  const half = (DIV_BINS - 1) / 2;
  return signColor((k - half) / half, scheme);
}
