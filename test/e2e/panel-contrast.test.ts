// Contrast in Chromium, in the themes VS Code has: the panel (dist/webview.js under its CSP) renders
// a saved real report whose densities are set to cover every bin of the sequential and the
// difference scales; for each theme kind — the body class VS Code sets and its --vscode-* colours —
// every token's text must have a WCAG contrast of at least 4.5:1 with the shade it is drawn on
// (computed styles, backgrounds alpha-blended over the panel's), and the scales must read on the
// theme's background: zero close to it, the strongest shade far from it.
// The HTML export is checked the same way in the light and the dark colour scheme.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import type { Report } from '../../src/contract/report.js';
import type { ToWebview } from '../../src/contract/panel.js';
import { renderHtml } from '../../src/report/html.js';
import { DIV_BINS, SEQ_BINS, contrastRatio, divBin, seqBin, type Rgb } from '../../src/view/colors.js';
import { differenceCells } from '../../src/view/heatmap.js';
import { chromiumAvailable, collectPageErrors, launchChromium, screenshot } from '../support/browser.js';
import { measurePage, swatches, worst, type Measured } from '../support/contrast.js';
import { STUB, serve, until } from '../support/panel-page.js';
import { savedReport } from '../support/saved-reports.js';

/** The theme kinds, with the body classes VS Code sets and its default themes' colours. */
const THEMES = [
  { name: 'light', classes: ['vscode-light'], vars: { 'editor-background': '#ffffff', foreground: '#3b3b3b', 'sideBar-background': '#f8f8f8', descriptionForeground: '#3b3b3b', 'panel-border': '#e5e5e5', 'editor-foreground': '#3b3b3b' } },
  { name: 'dark', classes: ['vscode-dark'], vars: { 'editor-background': '#1f1f1f', foreground: '#cccccc', 'sideBar-background': '#181818', descriptionForeground: '#9d9d9d', 'panel-border': '#2b2b2b', 'editor-foreground': '#cccccc' } },
  { name: 'high-contrast', classes: ['vscode-high-contrast'], vars: { 'editor-background': '#000000', foreground: '#ffffff', 'sideBar-background': '#000000', descriptionForeground: '#ffffff', 'panel-border': '#6fc3df', 'editor-foreground': '#ffffff' } },
  { name: 'high-contrast-light', classes: ['vscode-high-contrast', 'vscode-high-contrast-light'], vars: { 'editor-background': '#ffffff', foreground: '#292929', 'sideBar-background': '#ffffff', descriptionForeground: '#292929', 'panel-border': '#0f4a85', 'editor-foreground': '#292929' } },
] as const;

type Theme = (typeof THEMES)[number];

/** The theme as VS Code applies it: a class on <body>, the colours as variables on <html>. */
async function applyTheme(page: Page, theme: Theme): Promise<void> {
  await page.evaluate(({ classes, vars }) => {
    document.body.classList.remove('vscode-light', 'vscode-dark', 'vscode-high-contrast', 'vscode-high-contrast-light');
    document.body.classList.add(...classes);
    for (const [name, value] of Object.entries(vars)) document.documentElement.style.setProperty(`--vscode-${name}`, value);
  }, { classes: [...theme.classes], vars: theme.vars as Record<string, string> });
}

/**
 * The saved synthetic report (both models, one tokenization, heads and FFN), its densities set so
 * that the prompt tokens cover every sequential bin in each model and every difference bin.
 */
function allShadesReport(): Report {
  const report = savedReport('synthetic');
  const n = report.tuned.tokens.length;
  const half = (DIV_BINS - 1) / 2;
  const centre = (k: number) => (k + 0.5) / SEQ_BINS;
  // Tokens 0…20: tuned − base at the centre of each difference bin (densities 0, 0.1, …, 1: the even sequential bins).
  const tuned: number[] = new Array(n).fill(0);
  const base: number[] = new Array(n).fill(0);
  for (let k = 0; k < DIV_BINS; k++) {
    const d = (k - half) / half;
    tuned[k] = Math.max(0, d);
    base[k] = Math.max(0, -d);
  }
  // The odd sequential bins, spread over the next tokens of either model.
  const odd = Array.from({ length: SEQ_BINS / 2 - 1 }, (_, j) => 2 * j + 1);
  assert.ok(n >= DIV_BINS + Math.ceil(odd.length / 2), `the fixture has ${n} prompt tokens`);
  odd.forEach((k, j) => {
    const i = DIV_BINS + (j >> 1);
    if (j % 2 === 0) base[i] = centre(k);
    else tuned[i] = centre(k);
  });
  report.tuned.density = tuned;
  report.base.density = base;
  return report;
}

/** The legends' swatches, bar by bar: zero close to the background around them, the strongest shades far from it. */
function checkScales(where: string, bars: { own: Rgb; around: Rgb }[][]): void {
  assert.ok(bars.some((b) => b.length === SEQ_BINS) && bars.some((b) => b.length === DIV_BINS), `${where}: both legends found (${bars.map((b) => b.length).join(', ')})`);
  for (const bar of bars) {
    const vs = bar.map((s) => contrastRatio(s.own, s.around));
    const sequential = bar.length === SEQ_BINS;
    const zero = sequential ? vs[0]! : vs[(bar.length - 1) / 2]!;
    const strongest = sequential ? [vs.at(-1)!] : [vs[0]!, vs.at(-1)!];
    const scale = sequential ? 'sequential' : 'difference';
    assert.ok(zero <= 1.6, `${where}, ${scale} scale: zero must be close to the background (${zero.toFixed(2)}:1)`);
    for (const s of strongest) assert.ok(s >= 3, `${where}, ${scale} scale: the strongest shade must stand out from the background (${s.toFixed(2)}:1, at least 3:1)`);
  }
}

/** Swatches grouped by their legend bar. */
async function legendBars(page: Page, bar: string, swatch: string): Promise<{ own: Rgb; around: Rgb }[][]> {
  const counts = (await page.evaluate(`Array.from(document.querySelectorAll(${JSON.stringify(bar)})).map((b) => b.querySelectorAll(${JSON.stringify(swatch)}).length)`)) as number[];
  const all = await swatches(page, `${bar} ${swatch}`);
  let at = 0;
  return counts.map((c) => all.slice(at, (at += c)));
}

const MIN = 4.5;

describe('contrast of token text on every shade, in light, dark and high-contrast themes (Chromium)', { skip: chromiumAvailable() ? false : 'Chromium not installed (/usr/bin/chromium)' }, () => {
  let browser: Browser;
  let server: Server;
  let origin: string;

  before(async () => {
    ({ server, origin } = await serve());
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
    server?.close();
  });

  it('the fixture covers every bin of both scales', () => {
    const report = allShadesReport();
    const seq = new Set([...report.base.density, ...report.tuned.density].map(seqBin));
    assert.equal(seq.size, SEQ_BINS);
    const { perWord, cells } = differenceCells(report.base, report.tuned);
    assert.equal(perWord, false);
    assert.equal(new Set(cells.map((c) => divBin(c.value))).size, DIV_BINS);
  });

  it('the panel: every token ≥ 4.5:1 on its shade in each theme; the scales read on the theme’s background', async () => {
    const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
    const errors = collectPageErrors(page);
    await page.addInitScript({ content: STUB });
    await page.goto(`${origin}/`);
    await until(page, () => ((window as unknown as { __posted: { type: string }[] }).__posted ?? []).some((m) => m.type === 'ready'), 'the ready message');
    const report = allShadesReport();
    const message: ToWebview = { type: 'document', document: { id: 1, report, source: 'prompt.md', sections: { heads: { state: 'computed' }, ffn: { state: 'computed' } } } };
    await page.evaluate((m) => window.postMessage(m, '*'), message as unknown as Record<string, unknown>);
    await page.waitForSelector('.heatmap-difference .tok');
    const n = report.tuned.tokens.length;
    const summary: string[] = [];
    for (const theme of THEMES) {
      // The theme changes after the panel is drawn, as when the user switches themes: the colours follow.
      await applyTheme(page, theme);
      const tokens = await measurePage(page, '.tok, button.rt, table.grid td.cell, .shade');
      const heatmapTokens = tokens.filter((t) => /\btok\b/.test(t.className));
      assert.ok(heatmapTokens.length >= 3 * n, `${theme.name}: ${heatmapTokens.length} heatmap tokens measured (base, tuned and difference: ${3 * n})`);
      assert.ok(tokens.some((t) => /\bcell\b/.test(t.className)), `${theme.name}: head grid cells measured`);
      const failing = tokens.filter((t) => !(t.ratio >= MIN));
      assert.deepEqual(failing.length, 0, `${theme.name}: ${failing.length} of ${tokens.length} shaded texts under ${MIN}:1 — ${worst(failing)}`);
      summary.push(`${theme.name}: ${tokens.length} texts, lowest ${Math.min(...tokens.map((t) => t.ratio)).toFixed(2)}:1`);

      // The scales on the theme's background (the legends hold every shade, in order).
      checkScales(theme.name, await legendBars(page, 'vscode-tab-panel[data-tab="attribution"] .legend-bar', '.swatch'));
      await screenshot(page, `panel-contrast-${theme.name}`);
    }
    console.log(summary.join('\n'));

    // A chosen response token shades its model's heatmap by the token's column: still legible, in each theme.
    await page.click('button.rt[data-role="tuned"][data-index="0"]');
    assert.equal(await page.getAttribute('button.rt[data-role="tuned"][data-index="0"]', 'aria-pressed'), 'true');
    for (const theme of THEMES) {
      await applyTheme(page, theme);
      const column = await measurePage(page, '.heatmap-tuned .tok, button.rt');
      assert.ok(column.length >= n);
      const failing = column.filter((t) => !(t.ratio >= MIN));
      assert.equal(failing.length, 0, `${theme.name}, a response token chosen: ${worst(failing)}`);
    }

    // The measurement catches a bad colour: text nearly the colour of its shade.
    await page.evaluate(`(() => { const t = document.querySelector('.heatmap-difference .tok'); t.style.setProperty('--shade-fg-light', 'rgb(128, 128, 128)'); t.style.setProperty('--shade-bg-light', 'rgb(119, 119, 119)'); })()`);
    const bad = (await measurePage(page, '.heatmap-difference .tok'))[0]!;
    assert.ok(bad.ratio < 1.5, `a grey on grey token measures ${bad.ratio.toFixed(2)}:1`);
    assert.deepEqual(errors, [], errors.join('\n'));
    await page.close();
  });

  it('the HTML export: every shaded text ≥ 4.5:1 in the light and the dark colour scheme, no CSP violation', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lens-contrast-'));
    try {
      const file = join(dir, 'report.html');
      writeFileSync(file, renderHtml(allShadesReport() as Parameters<typeof renderHtml>[0]));
      for (const scheme of ['light', 'dark'] as const) {
        const page = await browser.newPage({ viewport: { width: 1100, height: 900 }, colorScheme: scheme });
        const errors = collectPageErrors(page);
        await page.addInitScript({ content: `window.__csp = []; document.addEventListener('securitypolicyviolation', (e) => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));` });
        await page.goto(pathToFileURL(file).href);
        const tabs = (await page.evaluate(`Array.from(document.querySelectorAll('section.tab > p.lead')).map((p) => p.dataset.lead)`)) as string[];
        assert.deepEqual(tabs, ['summary', 'attribution', 'heads', 'ffn'], 'the four tabs, each with its sentence');
        const texts: Measured[] = await measurePage(page, '.t, button.rt, table.raw td, table.grid td, td[class*="num q"]');
        assert.ok(texts.length > 3 * allShadesReport().tuned.tokens.length);
        const failing = texts.filter((t) => !(t.ratio >= MIN));
        assert.equal(failing.length, 0, `${scheme}: ${failing.length} of ${texts.length} under ${MIN}:1 — ${worst(failing)}`);
        console.log(`export, ${scheme}: ${texts.length} texts, lowest ${Math.min(...texts.map((t) => t.ratio)).toFixed(2)}:1`);
        checkScales(`export, ${scheme}`, await legendBars(page, '.legend', '.sw'));
        assert.deepEqual(await page.evaluate('window.__csp'), []);
        assert.deepEqual(errors, [], errors.join('\n'));
        await page.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
