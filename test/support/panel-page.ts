// The panel's page for browser tests: the HTML shell the extension serves (src/shared/panel-html.ts,
// with its Content-Security-Policy and a fresh nonce per load) around the built dist/webview.js and
// dist/webview.css, a stub of the webview API that stands in for VS Code, and a poll that works
// under the page's CSP.

import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join, resolve } from 'node:path';
import type { Page } from 'playwright-core';
import { createNonce, panelHtml } from '../../src/shared/panel-html.js';

const root = resolve(__dirname, '..', '..');

/** Serves the shell at / (a fresh nonce per load) and dist/ files (built first if missing); returns the origin. */
export async function serve(): Promise<{ server: Server; origin: string }> {
  if (!existsSync(join(root, 'dist', 'webview.js')) || !existsSync(join(root, 'dist', 'webview.css'))) {
    execFileSync(process.execPath, [join(root, 'scripts', 'build.mjs')], { cwd: root, stdio: 'inherit' });
  }
  const server = createServer((request, response) => {
    const url = new URL(request.url ?? '/', 'http://x');
    if (url.pathname === '/') {
      const origin = `http://${request.headers.host}`;
      response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      response.end(panelHtml({ cspSource: origin, nonce: createNonce(), scriptUri: `${origin}/dist/webview.js`, styleUri: `${origin}/dist/webview.css` }));
      return;
    }
    const match = /^\/dist\/(webview\.(?:js|css))$/.exec(url.pathname);
    if (!match) {
      response.writeHead(404).end();
      return;
    }
    response.writeHead(200, { 'content-type': match[1]!.endsWith('.js') ? 'text/javascript' : 'text/css' });
    response.end(readFileSync(join(root, 'dist', match[1]!)));
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('no address');
  return { server, origin: `http://127.0.0.1:${address.port}` };
}

/**
 * Runs in the page before its scripts: the webview API stub, CSP-violation and alert traps. A string,
 * not a function: tsx's compiled functions call a helper (__name) the page does not have.
 */
export const STUB = `
  window.__posted = [];
  window.__csp = [];
  window.__alerts = 0;
  window.alert = () => { window.__alerts++; };
  document.addEventListener('securitypolicyviolation', (e) => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));
  window.acquireVsCodeApi = () => ({
    postMessage: (m) => window.__posted.push(m),
    getState: () => { const s = sessionStorage.getItem('state'); return s ? JSON.parse(s) : undefined; },
    setState: (s) => sessionStorage.setItem('state', JSON.stringify(s)),
  });
`;

/** Polls `probe` in the page until it returns true (waitForFunction needs eval, which the CSP forbids). */
export async function until(page: Page, probe: () => boolean, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await page.evaluate(probe))) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
