// The evaluate report page (report.html from `instruction-lens evaluate-report`) in Debian's
// Chromium through playwright-core: loaded from a file, with its own Content-Security-Policy. No
// console error, no CSP violation, and every plot drawn (a canvas with pixels on it) — score
// distributions per group, density on instruction vs other tokens, Table 3, FFN rotation. A copy
// of the page with a script that lacks the nonce shows that a violation would be seen.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { demoPromptSetLines } from '../../src/evaluate/demo-prompt-set.js';
import type { EvaluateReport } from '../../src/evaluate/report.js';
import { chromiumAvailable, collectPageErrors, launchChromium, screenshot } from '../support/browser.js';
import { tempDir } from '../support/temp.js';

const root = resolve(__dirname, '..', '..');
const cli = join(root, 'dist', 'cli.js');
const demo = join(root, 'models', 'demo');

/** Records CSP violations before any of the page's scripts run. */
const WATCH_CSP = `window.__csp = []; document.addEventListener('securitypolicyviolation', (e) => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));`;

describe('evaluate report page in Chromium', { skip: chromiumAvailable() ? false : 'Chromium not installed (/usr/bin/chromium): apt-get install chromium' }, () => {
  let browser: Browser;
  const dir = tempDir('lens-evaluate-browser-');
  const out = join(dir, 'out');
  let report: EvaluateReport;

  before(async () => {
    if (!existsSync(cli) || !existsSync(join(root, 'dist', 'evaluate-charts.js'))) spawnSync(process.execPath, [join(root, 'scripts', 'build.mjs')], { cwd: root, stdio: 'inherit' });
    const prompts = join(dir, 'prompts.jsonl');
    // Two groups, and an id and a group that would be markup if they were not escaped.
    const lines = demoPromptSetLines().slice(0, 4).map((l, k) => (k === 3 ? l.replace('"id":"heldout-3"', '"id":"<img src=x>"') : l));
    writeFileSync(prompts, lines.join('\n') + '\n');
    const env = { ...process.env, INSTRUCTION_LENS_CACHE: join(dir, 'cache') };
    const args = ['evaluate', '--base', join(demo, 'base'), '--tuned', join(demo, 'tuned'), '--provider', 'cpu', '--max-new-tokens', '12', '--prompts', prompts, '--out', out, '--heads', '--ffn'];
    const evaluated = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', env });
    assert.equal(evaluated.status, 0, evaluated.stderr);
    const merged = spawnSync(process.execPath, [cli, 'evaluate-report', out], { encoding: 'utf8', env });
    assert.equal(merged.status, 0, merged.stderr);
    report = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8'));
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
  });

  async function open(file: string): Promise<{ page: Page; errors: string[] }> {
    const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    const errors = collectPageErrors(page);
    await page.addInitScript({ content: WATCH_CSP });
    await page.goto(pathToFileURL(file).href);
    return { page, errors };
  }

  it('draws every plot with no console error and no CSP violation', async () => {
    assert.ok(report.heads && report.ffn, 'the report has Table 3 and the rotation');
    const { page, errors } = await open(join(out, 'report.html'));
    await page.waitForSelector('body[data-charts-drawn]', { timeout: 30_000 });
    const canvases = report.groups.length + 1 + 3;
    assert.equal(await page.evaluate(() => document.body.dataset.chartsDrawn), String(canvases));
    const painted = await page.evaluate(() =>
      Array.from(document.querySelectorAll('canvas')).map((c) => {
        const { data } = c.getContext('2d')!.getImageData(0, 0, c.width, c.height);
        let n = 0;
        for (let i = 3; i < data.length; i += 4) if (data[i]! > 0) n++;
        return { id: c.id, width: c.width, height: c.height, painted: n };
      }),
    );
    assert.equal(painted.length, canvases);
    for (const c of painted) assert.ok(c.width > 100 && c.height > 100 && c.painted > 1000, `${c.id} is drawn: ${JSON.stringify(c)}`);
    assert.deepEqual(
      painted.map((c) => c.id),
      [...report.groups.map((_, k) => `chart-scores-${k}`), `chart-scores-${report.groups.length}`, 'chart-density', 'chart-table3', 'chart-rotation'],
    );
    assert.equal(await page.locator('img').count(), 0, 'the id is text, not an element');
    assert.ok((await page.textContent('#prompts'))!.includes('<img src=x>'));
    await screenshot(page, 'evaluate-report');
    assert.deepEqual(await page.evaluate(() => (window as unknown as { __csp: string[] }).__csp), []);
    assert.deepEqual(errors, []);
    await page.close();
  });

  it('would see a violation: a script without the nonce is refused and reported', async () => {
    const html = readFileSync(join(out, 'report.html'), 'utf8').replace('</main>', '</main><script>document.title = "ran"</script>');
    const file = join(dir, 'tampered.html');
    writeFileSync(file, html);
    const { page } = await open(file);
    await page.waitForSelector('body[data-charts-drawn]', { timeout: 30_000 });
    assert.notEqual(await page.title(), 'ran');
    const violations = await page.evaluate(() => (window as unknown as { __csp: string[] }).__csp);
    assert.ok(violations.some((v) => v.startsWith('script-src')), JSON.stringify(violations));
    await page.close();
  });
});
