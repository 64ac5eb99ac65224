// DOM helpers for the panel. Every string reaches the page as a text node or an attribute value
// (setAttribute), never through innerHTML, so nothing the model produced is parsed as markup.
// Colours come from the colour-blind-safe scales of src/view/colors.ts and are set through the
// CSSOM (element.style), which the panel's Content-Security-Policy allows.

import { COLOR_SCHEMES, contrastText, divergingColor, sequentialColor, type ColorScheme, type Rgb } from '../src/view/colors.js';
import { formatNumber, modelName } from '../src/view/format.js';
import { visibleControls, visibleToken } from '../src/report/escape.js';

export type Child = Node | string | null | undefined | false;

export interface Props {
  class?: string;
  /** Attributes, set with setAttribute (values are text, never markup). */
  attrs?: Record<string, string | number | boolean | undefined>;
  /** Event listeners. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- listeners of any event type
  on?: Record<string, ((event: any) => void) | undefined>;
  /** Element properties (e.g. `checked` on a custom element). */
  props?: Record<string, unknown>;
}

export function el<K extends keyof HTMLElementTagNameMap>(tag: K, props?: Props | null, ...children: Child[]): HTMLElementTagNameMap[K];
export function el(tag: string, props?: Props | null, ...children: Child[]): HTMLElement;
export function el(tag: string, props: Props | null = null, ...children: Child[]): HTMLElement {
  const node = document.createElement(tag);
  if (props?.class) node.className = props.class;
  for (const [name, value] of Object.entries(props?.attrs ?? {})) {
    if (value === undefined || value === false) continue;
    node.setAttribute(name, value === true ? '' : String(value));
  }
  for (const [name, value] of Object.entries(props?.props ?? {})) (node as unknown as Record<string, unknown>)[name] = value;
  for (const [name, listener] of Object.entries(props?.on ?? {})) if (listener) node.addEventListener(name, listener as EventListener);
  append(node, ...children);
  return node;
}

export function append(parent: Node, ...children: Child[]): void {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    parent.appendChild(typeof c === 'string' ? document.createTextNode(c) : c);
  }
}

const SVG = 'http://www.w3.org/2000/svg';

export function svg(tag: string, attrs: Record<string, string | number> = {}, ...children: Child[]): SVGElement {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, String(value));
  append(node, ...children);
  return node;
}

/** Model text for a label or tooltip: controls made visible. */
export function shown(text: string): string {
  return visibleControls(text);
}

/** A token as a heatmap cell reads it (spaces of an all-space token as dots, controls visible). */
export function tokenText(text: string): string {
  return visibleToken(text);
}

/** A token in quotes for a tooltip or a screen-reader label, its spaces shown as dots. */
export function quoted(text: string): string {
  return `\u201c${visibleToken(text, 'dot')}\u201d`;
}

const rgb = ([r, g, b]: Rgb) => `rgb(${r}, ${g}, ${b})`;

/**
 * Shades an element for both colour schemes at once: its background and its contrasting text colour
 * in a light and in a dark theme, as custom properties that panel.css picks from by the theme's body
 * class (`vscode-light`, `vscode-dark`, `vscode-high-contrast`, `vscode-high-contrast-light`), so a
 * theme switch recolours the panel without drawing it again. An SVG element is filled instead.
 */
function shade(node: Element, color: (scheme: ColorScheme) => Rgb): void {
  node.classList.add('shade');
  const style = (node as HTMLElement | SVGElement).style;
  for (const scheme of COLOR_SCHEMES) {
    const bg = color(scheme);
    style.setProperty(`--shade-bg-${scheme}`, rgb(bg));
    style.setProperty(`--shade-fg-${scheme}`, rgb(contrastText(bg)));
  }
}

/** Shades an element on the sequential scale (value in [0, 1]) with contrasting text. */
export function shadeSequential(node: Element, value: number): void {
  shade(node, (scheme) => sequentialColor(value, scheme));
}

/** Shades an element on the diverging scale (value in [−1, 1]) with contrasting text. */
export function shadeDiverging(node: Element, value: number): void {
  shade(node, (scheme) => divergingColor(value, scheme));
}

export const num = (v: number, digits = 3) => formatNumber(v, digits);

/** A visually hidden text for screen readers. */
export function srOnly(text: string): HTMLElement {
  return el('span', { class: 'sr-only' }, text);
}

/** Roving focus inside a list of items: arrow keys, Home and End move it; returns the handler. */
export function rovingKeys(items: () => HTMLElement[], orientation: 'horizontal' | 'both' = 'both'): (event: KeyboardEvent) => void {
  return (event) => {
    const list = items();
    const current = list.indexOf(document.activeElement as HTMLElement);
    if (current < 0) return;
    let next = current;
    const forward = event.key === 'ArrowRight' || (orientation === 'both' && event.key === 'ArrowDown');
    const back = event.key === 'ArrowLeft' || (orientation === 'both' && event.key === 'ArrowUp');
    if (forward) next = Math.min(list.length - 1, current + 1);
    else if (back) next = Math.max(0, current - 1);
    else if (event.key === 'Home') next = 0;
    else if (event.key === 'End') next = list.length - 1;
    else return;
    event.preventDefault();
    focusItem(list, next);
  };
}

/** Moves the roving tab stop to item `index` and focuses it. */
export function focusItem(list: HTMLElement[], index: number): void {
  list.forEach((item, k) => item.setAttribute('tabindex', k === index ? '0' : '-1'));
  list[index]?.focus();
}

/** A legend of the sequential scale: swatches from 0 to 1. */
export function sequentialLegend(label: string, low = '0', high = '1'): HTMLElement {
  const bar = el('span', { class: 'legend-bar', attrs: { 'aria-hidden': 'true' } });
  for (let k = 0; k < 20; k++) {
    const sw = el('span', { class: 'swatch' });
    shadeSequential(sw, (k + 0.5) / 20);
    bar.append(sw);
  }
  return el('div', { class: 'legend', attrs: { role: 'img', 'aria-label': label } }, el('span', null, low), bar, el('span', null, high));
}

/** A legend of the diverging scale. */
export function divergingLegend(label: string, low: string, high: string): HTMLElement {
  const bar = el('span', { class: 'legend-bar', attrs: { 'aria-hidden': 'true' } });
  for (let k = 0; k < 21; k++) {
    const sw = el('span', { class: 'swatch' });
    shadeDiverging(sw, (k - 10) / 10);
    bar.append(sw);
  }
  return el('div', { class: 'legend', attrs: { role: 'img', 'aria-label': label } }, el('span', null, low), bar, el('span', null, high));
}

/** A model named by its short name (folder or hub id), the full id or path in its tooltip. */
export function modelTag(id: string, className = 'muted small'): HTMLElement {
  return el('span', { class: `${className} model-name`, attrs: { title: shown(id) } }, shown(modelName(id)));
}
