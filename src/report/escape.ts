/**
 * Making model-produced text safe to show: in a terminal (no control character may reach it) and
 * in HTML (every string escaped, also in attributes). Shared by `terminal.ts` and `html.ts`.
 *
 * Anything a tokenizer can produce is fair game: C0/C1 controls (ESC starts terminal escape
 * sequences, BEL ends OSC links, U+009B is a one-byte CSI), DEL, bidi overrides and isolates
 * (which reorder what follows them on screen), line/paragraph separators, lone surrogates (a
 * byte-level BPE token that holds half an emoji), zero-width characters. They are replaced by
 * visible stand-ins:
 *  - C0 controls and DEL by their Control Pictures (`␀` … `␟`, `␛` for ESC, `␡`), except that
 *    `\n` becomes `⏎` and `\t` becomes `⇥` (or are kept, where the caller lays out lines itself);
 *  - C1 controls, bidi controls (U+061C, U+200E, U+200F, U+202A–U+202E, U+2066–U+2069) and
 *    U+2028/U+2029 by a `\u{…}` escape, e.g. `\u{9b}`, `\u{202e}`;
 *  - lone surrogates by U+FFFD.
 * Zero-width joiners and variation selectors stay: they belong to emoji sequences.
 */

/** Lone surrogates become U+FFFD; surrogate pairs stay whole. */
export function toWellFormed(text: string): string {
  return text.replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\ufffd');
}

/** Characters that must never reach a terminal or a page as they are. */
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]/g;

export interface VisibleOptions {
  /** `visible` (default): `\n` → `⏎`; `keep`: left as a line break for the caller to lay out. */
  newline?: 'visible' | 'keep';
  /** `visible` (default): `\t` → `⇥`; `keep`: left as it is. */
  tab?: 'visible' | 'keep';
}

/** The visible stand-in of one unsafe character. */
function standIn(ch: string, options: VisibleOptions): string {
  const code = ch.charCodeAt(0);
  if (ch === '\n') return options.newline === 'keep' ? '\n' : '\u23ce';
  if (ch === '\t') return options.tab === 'keep' ? '\t' : '\u21e5';
  if (code < 0x20) return String.fromCharCode(0x2400 + code);
  if (code === 0x7f) return '\u2421';
  return `\\u{${code.toString(16)}}`;
}

/**
 * `text` with every control character replaced by a visible stand-in and lone surrogates by
 * U+FFFD. The result holds no C0/C1 control (save `\n`/`\t` when asked to keep them), no DEL, no
 * bidi control and no lone surrogate.
 */
export function visibleControls(text: string, options: VisibleOptions = {}): string {
  return toWellFormed(text).replace(UNSAFE, (ch) => standIn(ch, options));
}

/** `& < > " '` as character references: safe in element content and in quoted attributes. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (ch) => {
    switch (ch) {
      case '&': return '&amp;';
      case '<': return '&lt;';
      case '>': return '&gt;';
      case '"': return '&quot;';
      default: return '&#39;';
    }
  });
}

/** Model text for HTML: controls made visible (newlines and tabs too, unless kept), then escaped. */
export function htmlText(text: string, options: VisibleOptions = {}): string {
  return escapeHtml(visibleControls(text, options));
}

const segmenter = new Intl.Segmenter('en', { granularity: 'grapheme' });

/** The grapheme clusters of `text` (a surrogate pair, an emoji ZWJ sequence, a letter + marks). */
export function graphemes(text: string): string[] {
  const out: string[] = [];
  for (const s of segmenter.segment(text)) out.push(s.segment);
  return out;
}

const ZERO_WIDTH = /^[\p{Mn}\p{Me}\p{Cf}\u200b-\u200d\ufe00-\ufe0f\u{e0100}-\u{e01ef}]$/u;
const EMOJI_PRESENTATION = /\p{Emoji_Presentation}|\ufe0f/u;

function isWide(cp: number): boolean {
  return (
    (cp >= 0x1100 && cp <= 0x115f) ||
    (cp >= 0x2e80 && cp <= 0x303e) ||
    (cp >= 0x3041 && cp <= 0x33ff) ||
    (cp >= 0x3400 && cp <= 0x4dbf) ||
    (cp >= 0x4e00 && cp <= 0x9fff) ||
    (cp >= 0xa000 && cp <= 0xa4cf) ||
    (cp >= 0xa960 && cp <= 0xa97f) ||
    (cp >= 0xac00 && cp <= 0xd7a3) ||
    (cp >= 0xf900 && cp <= 0xfaff) ||
    (cp >= 0xfe10 && cp <= 0xfe19) ||
    (cp >= 0xfe30 && cp <= 0xfe6f) ||
    (cp >= 0xff00 && cp <= 0xff60) ||
    (cp >= 0xffe0 && cp <= 0xffe6) ||
    (cp >= 0x1f300 && cp <= 0x1f64f) ||
    (cp >= 0x1f900 && cp <= 0x1f9ff) ||
    (cp >= 0x20000 && cp <= 0x3fffd)
  );
}

/** Terminal columns one grapheme cluster takes: 0, 1 or 2 (East Asian wide and emoji take 2). */
export function graphemeWidth(g: string): number {
  const cp = g.codePointAt(0) ?? 0;
  if (g.length === 0) return 0;
  if (cp < 0x20 || (cp >= 0x7f && cp < 0xa0)) return 0;
  if (ZERO_WIDTH.test(String.fromCodePoint(cp)) && [...g].every((c) => ZERO_WIDTH.test(c))) return 0;
  if (isWide(cp)) return 2;
  if (EMOJI_PRESENTATION.test(g)) return 2;
  return 1;
}

/** Terminal columns `text` takes (an approximation of wcwidth over grapheme clusters). */
export function displayWidth(text: string): number {
  let w = 0;
  // Fast path: printable ASCII is one column per character.
  if (/^[\x20-\x7e]*$/.test(text)) return text.length;
  for (const g of graphemes(text)) w += graphemeWidth(g);
  return w;
}

/**
 * `text` cut to at most `width` columns at a grapheme boundary (never inside a surrogate pair or
 * an emoji sequence), ending in `ellipsis` when something was cut.
 */
export function truncateToWidth(text: string, width: number, ellipsis = '\u2026'): string {
  if (displayWidth(text) <= width) return text;
  const room = width - displayWidth(ellipsis);
  if (room < 0) return '';
  let out = '';
  let w = 0;
  for (const g of graphemes(text)) {
    const gw = graphemeWidth(g);
    if (w + gw > room) break;
    out += g;
    w += gw;
  }
  return out + ellipsis;
}

/** `text` padded with spaces on the right to `width` columns. */
export function padToWidth(text: string, width: number): string {
  const w = displayWidth(text);
  return w >= width ? text : text + ' '.repeat(width - w);
}

/** `text` padded with spaces on the left to `width` columns. */
export function padStartToWidth(text: string, width: number): string {
  const w = displayWidth(text);
  return w >= width ? text : ' '.repeat(width - w) + text;
}

/**
 * How a token reads in a heatmap cell: controls made visible, `\n` as `⏎`, `\t` as `⇥`, and spaces
 * as `·` when the token is nothing but whitespace (so it does not vanish); a token that would show
 * nothing at all (empty, or only zero-width characters) is spelt out as `∅` or its code points.
 * With `spaces: 'dot'` every space becomes `·` (for the terminal, where cells sit next to each other).
 */
export function visibleToken(text: string, spaces: 'dot' | 'keep-inside' = 'keep-inside'): string {
  if (text.length === 0) return '\u2205';
  let shown = visibleControls(text);
  if (spaces === 'dot' || /^[\s\u23ce\u21e5]*$/u.test(shown)) shown = shown.replace(/ /g, '\u00b7');
  if (displayWidth(shown) === 0) {
    shown = [...toWellFormed(text)].map((c) => `\\u{${c.codePointAt(0)!.toString(16)}}`).join('');
  }
  return shown;
}
