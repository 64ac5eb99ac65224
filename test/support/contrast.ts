// WCAG contrast of what a page really draws: the page reports, through getComputedStyle, each
// element's text colour and the background colour and opacity of every box it is drawn on (through
// slots and shadow roots, as it is rendered); here the backgrounds are composited from the page's
// canvas down (alpha blended, src/view/colors.ts), opacity applied, and the ratio computed.

import type { Page } from 'playwright-core';
import { blend, contrastRatio, type Rgb } from '../../src/view/colors.js';

interface Layer {
  bg: string;
  opacity: string;
}

export interface Drawn {
  text: string;
  className: string;
  color: string;
  /** The element first, the document's root last. */
  layers: Layer[];
}

export interface Measured {
  text: string;
  className: string;
  /** The text's and the background's colours as drawn (opaque). */
  fg: Rgb;
  bg: Rgb;
  ratio: number;
}

/**
 * An expression the page evaluates (a string: compiled functions may call helpers the page does not
 * have): every element matching the selector that holds text, with its colours. `parents: true`
 * reports the element's parent's layers instead (for a swatch: what surrounds it).
 */
export function drawnExpression(selector: string, options: { parents?: boolean; withoutText?: boolean } = {}): string {
  return `(() => {
    const up = (n) => n.assignedSlot || n.parentElement || (n.getRootNode() instanceof ShadowRoot ? n.getRootNode().host : null);
    const layers = (n) => {
      const out = [];
      for (let at = n; at; at = up(at)) {
        const cs = getComputedStyle(at);
        out.push({ bg: cs.backgroundColor, opacity: cs.opacity });
      }
      return out;
    };
    const found = [];
    for (const el of document.querySelectorAll(${JSON.stringify(selector)})) {
      const text = (el.textContent || '').trim();
      if (!text && !${options.withoutText ? 'true' : 'false'}) continue;
      const own = layers(el);
      found.push({ text, className: String(el.className.baseVal ?? el.className), color: getComputedStyle(el).color, layers: ${options.parents ? 'own.slice(1)' : 'own'} });
    }
    return found;
  })()`;
}

/** A computed CSS colour: rgb(), rgba() or color(srgb …), as Chromium serializes them. */
export function parseColor(css: string): { rgb: Rgb; alpha: number } {
  let m = /^rgba?\(\s*([\d.]+)[,\s]+([\d.]+)[,\s]+([\d.]+)(?:\s*[,/]\s*([\d.]+))?\s*\)$/.exec(css);
  if (m) return { rgb: [Number(m[1]), Number(m[2]), Number(m[3])], alpha: m[4] === undefined ? 1 : Number(m[4]) };
  m = /^color\(srgb\s+([\d.e-]+)\s+([\d.e-]+)\s+([\d.e-]+)(?:\s*\/\s*([\d.]+))?\s*\)$/.exec(css);
  if (m) return { rgb: [Number(m[1]) * 255, Number(m[2]) * 255, Number(m[3]) * 255], alpha: m[4] === undefined ? 1 : Number(m[4]) };
  throw new Error(`cannot read the colour ${JSON.stringify(css)}`);
}

/** The background a box is drawn on (its own included), composited from the canvas (white) down. */
export function backgroundOf(layers: readonly Layer[]): Rgb {
  let below: Rgb = [255, 255, 255];
  for (let k = layers.length - 1; k >= 0; k--) {
    const { rgb, alpha } = parseColor(layers[k]!.bg);
    below = blend(rgb, alpha, below);
  }
  return below;
}

/** Text colour and background as drawn, with opacity applied (exact for one translucent group, as panels have). */
export function measure(d: Drawn): Measured {
  const bgOwn = backgroundOf(d.layers);
  const { rgb, alpha } = parseColor(d.color);
  let fg = blend(rgb, alpha, bgOwn);
  let bg = bgOwn;
  const opacity = d.layers.reduce((o, l) => o * Number(l.opacity), 1);
  if (opacity < 1) {
    // What shows through: the background below the outermost translucent box.
    const outer = d.layers.map((l) => Number(l.opacity) < 1).lastIndexOf(true);
    const backdrop = backgroundOf(d.layers.slice(outer + 1));
    fg = blend(fg, opacity, backdrop);
    bg = blend(bg, opacity, backdrop);
  }
  return { text: d.text, className: d.className, fg, bg, ratio: contrastRatio(fg, bg) };
}

export async function measurePage(page: Page, selector: string): Promise<Measured[]> {
  const drawn = (await page.evaluate(drawnExpression(selector))) as Drawn[];
  return drawn.map(measure);
}

/** The background colours of elements without text (swatches) and of what surrounds them. */
export async function swatches(page: Page, selector: string): Promise<{ own: Rgb; around: Rgb }[]> {
  const own = (await page.evaluate(drawnExpression(selector, { withoutText: true }))) as Drawn[];
  const around = (await page.evaluate(drawnExpression(selector, { withoutText: true, parents: true }))) as Drawn[];
  return own.map((d, k) => ({ own: parseColor(d.layers[0]!.bg).rgb, around: backgroundOf(around[k]!.layers) }));
}

/** The lowest ratios, for a failure message. */
export function worst(list: readonly Measured[], n = 5): string {
  const css = ([r, g, b]: Rgb) => `rgb(${r.toFixed(0)} ${g.toFixed(0)} ${b.toFixed(0)})`;
  return [...list]
    .sort((a, b) => a.ratio - b.ratio)
    .slice(0, n)
    .map((m) => `${JSON.stringify(m.text)} (${m.className}): ${css(m.fg)} on ${css(m.bg)} = ${m.ratio.toFixed(2)}:1`)
    .join('; ');
}
