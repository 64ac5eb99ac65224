// The panel's HTML shell: the page the webview loads, with a strict Content-Security-Policy.
// The extension fills it with webview URIs; the browser test with http:// URLs of dist/. The page
// holds no report data: the script receives the report in a message (or restores it from its
// state) and builds the DOM with textContent, never innerHTML.
//
// Policy: nothing loads by default; scripts only with this load's nonce; styles from the
// extension's files (`cspSource`) or with the nonce; fonts from the extension's files. Lit (under
// @vscode-elements/elements) styles its components with constructed style sheets, which the
// policy allows; the panel never writes a `style` attribute in markup.

import { escapeHtml } from '../report/escape.js';

export interface PanelHtmlOptions {
  /** `webview.cspSource` (or the test server's origin). */
  cspSource: string;
  /** A fresh random nonce per load (base64, ≥ 16 characters). */
  nonce: string;
  /** The bundled script (dist/webview.js) as the webview may load it. */
  scriptUri: string;
  /** The panel's style sheet (dist/webview.css). */
  styleUri: string;
  /** The codicon font's style sheet (for @vscode-elements icons), when shipped. */
  codiconUri?: string;
  title?: string;
}

/** A nonce: 18 random bytes in base64 (Web Crypto, in Node 20 and in a browser). */
export function createNonce(): string {
  const bytes = globalThis.crypto.getRandomValues(new Uint8Array(18));
  return btoa(String.fromCharCode(...bytes));
}

export function contentSecurityPolicy(cspSource: string, nonce: string): string {
  return [
    "default-src 'none'",
    `script-src 'nonce-${nonce}'`,
    `style-src ${cspSource} 'nonce-${nonce}'`,
    `font-src ${cspSource}`,
    "base-uri 'none'",
    "form-action 'none'",
  ].join('; ');
}

export function panelHtml(options: PanelHtmlOptions): string {
  const { cspSource, nonce } = options;
  if (!/^[A-Za-z0-9+/_-]{16,}={0,2}$/.test(nonce)) throw new Error('The CSP nonce must be at least 16 base64 characters.');
  const a = (s: string) => escapeHtml(s);
  return [
    '<!DOCTYPE html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    `<meta http-equiv="Content-Security-Policy" content="${a(contentSecurityPolicy(cspSource, nonce))}">`,
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>${a(options.title ?? 'Instruction Lens')}</title>`,
    options.codiconUri ? `<link rel="stylesheet" id="vscode-codicon-stylesheet" href="${a(options.codiconUri)}" nonce="${a(nonce)}">` : '',
    `<link rel="stylesheet" href="${a(options.styleUri)}" nonce="${a(nonce)}">`,
    '</head>',
    '<body>',
    '<div id="app"><p class="empty">Loading Instruction Lens…</p></div>',
    `<script nonce="${a(nonce)}" src="${a(options.scriptUri)}"></script>`,
    '</body>',
    '</html>',
    '',
  ]
    .filter((line) => line !== '')
    .join('\n');
}
