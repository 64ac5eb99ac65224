// The editor's legend for the highlights (the status bar item of src/extension/legend.ts): which
// scale the colours show — one model's importance on the sequential scale, or tuned − base on the
// diverging one — with swatches of the very colours the highlights use (src/view/colors.ts), low to
// high. Pure, so the tests check it without VS Code.

import type { HighlightMode } from '../contract/panel.js';
import { DIV_BINS, SEQ_BINS, divBinColor, seqBinColor, type ColorScheme, type Rgb } from './colors.js';

export interface LegendContent {
  /** The status bar text, e.g. "Instruction Lens: tuned importance ░▒▓█ low → high". */
  text: string;
  /** Markdown with HTML colour swatches (VS Code's hover sanitizer keeps `background-color` on a span). */
  tooltip: string;
  /** What a screen reader says. */
  label: string;
}

const SWATCHES = 5;

function hex([r, g, b]: Rgb): string {
  return `#${[r, g, b].map((v) => v.toString(16).padStart(2, '0')).join('')}`;
}

/** The colours of `bins` bins, `SWATCHES` of them evenly spread from the first bin to the last. */
function swatchColors(bins: number, color: (k: number) => Rgb): string[] {
  return Array.from({ length: SWATCHES }, (_, k) => hex(color(Math.round((k * (bins - 1)) / (SWATCHES - 1)))));
}

/**
 * The colours the legend shows for `mode` in the editor theme's `scheme` (the highlights' own, which
 * VS Code picks by the theme), first (low, or base higher) to last (high, or tuned higher).
 */
export function legendColors(mode: HighlightMode, scheme: ColorScheme = 'light'): string[] {
  return mode === 'difference' ? swatchColors(DIV_BINS, (k) => divBinColor(k, scheme)) : swatchColors(SEQ_BINS, (k) => seqBinColor(k, scheme));
}

/** How the scale's ends read on the theme's background: near white and darker on a light one, close to the background and brighter on a dark one. */
const SCALE_WORDS: Record<ColorScheme, { zero: string; low: string; high: string; stronger: string }> = {
  light: { zero: 'near white', low: 'light', high: 'dark', stronger: 'Darker' },
  dark: { zero: 'close to the background', low: 'faint', high: 'bright', stronger: 'Brighter' },
};

function swatchRow(colors: readonly string[]): string {
  return colors.map((c) => `<span style="background-color:${c};">&nbsp;&nbsp;&nbsp;&nbsp;</span>`).join('');
}

/** The legend of the highlights in `mode`, in the theme's `scheme`; `stale`: the prompt was edited since the run. */
export function highlightLegend(mode: HighlightMode, stale = false, scheme: ColorScheme = 'light'): LegendContent {
  const edited = stale ? ' · edited' : '';
  const colors = legendColors(mode, scheme);
  const words = SCALE_WORDS[scheme];
  const lines: string[] = [];
  let text: string;
  let label: string;
  if (mode === 'difference') {
    text = `Instruction Lens: tuned − base  base ▓▒░│░▒▓ tuned${edited}`;
    label = 'Instruction Lens highlights: the difference of importance, tuned minus base; orange where the base model gives a token more importance, purple where the tuned model does';
    lines.push('**Instruction Lens highlights:** importance difference, tuned − base, per prompt token', '', `base higher ${swatchRow(colors)} tuned higher`, '', `Orange: the base model gives the token more importance; purple: the tuned model does; ${words.zero}: about the same.`);
  } else {
    text = `Instruction Lens: ${mode} importance ░▒▓█ low → high${edited}`;
    label = `Instruction Lens highlights: the ${mode} model's importance per prompt token, ${words.low} for low, ${words.high} for high`;
    lines.push(`**Instruction Lens highlights:** the ${mode === 'tuned' ? 'instruction-tuned' : 'base'} model's importance (density) per prompt token`, '', `low ${swatchRow(colors)} high`, '', `${words.stronger}: the model leans on the token more when it writes its response.`);
  }
  lines.push('', 'Underlined: part of an instruction. Hover a token for both models’ numbers and its rank.');
  if (stale) {
    lines.push('', 'The prompt was edited since the last run: the dimmed highlights are of the earlier text. Compare again to update them.');
    label += '; the prompt was edited since the last run';
  }
  lines.push('', 'Click to switch between base, tuned and difference.');
  return { text, tooltip: lines.join('\n'), label };
}
