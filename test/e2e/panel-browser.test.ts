// The panel in a real browser: the built dist/webview.js and dist/webview.css inside the HTML shell
// the extension serves (src/shared/panel-html.ts, with its Content-Security-Policy and nonce),
// loaded in Debian's Chromium through playwright-core. A stub of the webview API stands in for VS
// Code: it records the posted messages and keeps setState's state across a reload, like a hidden
// and re-shown panel. Reports: a real one (`compare` on two tiny synthetic checkpoints), the
// realistic fixture with hand-made heads/FFN sections, and the hostile fixture.
// Screenshots of every tab go to test-artifacts/.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import type { Server } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { compare } from '../../src/engine/operations.js';
import { ModelPool } from '../../src/engine/model-pool.js';
import type { Report } from '../../src/explain/report.js';
import { writeSyntheticCheckpoint } from '../../src/model/synthetic.js';
import { STUB, serve, until } from '../support/panel-page.js';
import { PANEL_TABS, type PanelDocument, type PanelTab, type ToWebview } from '../../src/contract/panel.js';
import { chromiumAvailable, collectPageErrors, launchChromium, screenshot } from '../support/browser.js';
import { fixtureReport, hostileReport } from '../support/report-fixture.js';
import { savedReport } from '../support/saved-reports.js';
import { describeMoves, runMoves, summarizeRun } from '../../src/view/history.js';
import { formatNumber } from '../../src/view/format.js';
import { tabLead } from '../../src/view/tab-leads.js';

function documentOf(report: Report, id: number, sections: PanelDocument['sections']): PanelDocument {
  return { id, report, source: 'prompt.md, lines 1–7', sections };
}

const NOT_COMPUTED = {
  heads: { state: 'not-computed', reason: 'Head word pairs are not computed: this engine has no head analysis yet.', canCompute: false },
  ffn: { state: 'not-computed', reason: 'FFN concepts are not computed: this engine has no FFN analysis yet.', canCompute: false },
} as const satisfies PanelDocument['sections'];

describe('panel in Chromium (dist/webview.js under its CSP)', { skip: chromiumAvailable() ? false : 'Chromium not installed (/usr/bin/chromium): run .ci/run as root, or apt-get install chromium' }, () => {
  let browser: Browser;
  let server: Server;
  let origin: string;
  let realReport: Report;

  before(async () => {
    ({ server, origin } = await serve());
    browser = await launchChromium();
    // A real report: both models' full pipeline on two tiny synthetic checkpoints.
    const dir = mkdtempSync(join(tmpdir(), 'lens-panel-browser-'));
    await writeSyntheticCheckpoint(join(dir, 'base'), { preset: 'tiny', seed: 1 });
    await writeSyntheticCheckpoint(join(dir, 'tuned'), { preset: 'tiny', seed: 2 });
    const pool = new ModelPool({ provider: 'cpu' });
    try {
      realReport = await compare(
        pool,
        { base: join(dir, 'base'), tuned: join(dir, 'tuned'), prompt: 'Summarize the text below in one sentence.\nThe council voted to expand the bike lanes.', maxNewTokens: 8 },
        { cache: { dir: join(dir, 'cache') } },
      );
    } finally {
      await pool.dispose();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  after(async () => {
    await browser?.close();
    server?.close();
  });

  async function open(): Promise<{ page: Page; errors: string[] }> {
    const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
    const errors = collectPageErrors(page);
    await page.addInitScript({ content: STUB });
    await page.goto(`${origin}/`);
    await until(page, () => ((window as unknown as { __posted: { type: string }[] }).__posted ?? []).some((m) => m.type === 'ready'), 'the ready message');
    return { page, errors };
  }

  async function send(page: Page, message: ToWebview): Promise<void> {
    await page.evaluate((m) => window.postMessage(m, '*'), message as unknown as Record<string, unknown>);
  }

  async function showTab(page: Page, tab: PanelTab): Promise<void> {
    await page.click(`vscode-tab-header[data-tab="${tab}"]`);
    await page.waitForSelector(`vscode-tab-panel[data-tab="${tab}"]:not([hidden])`);
  }

  async function posted(page: Page): Promise<{ type: string; [k: string]: unknown }[]> {
    return page.evaluate(() => (window as unknown as { __posted: { type: string }[] }).__posted);
  }

  async function assertClean(page: Page, errors: string[]): Promise<void> {
    const csp = await page.evaluate(() => (window as unknown as { __csp: string[] }).__csp);
    assert.deepEqual(csp, [], `CSP violations: ${csp.join('; ')}`);
    assert.deepEqual(errors, [], errors.join('\n'));
    const alerts = await page.evaluate(() => (window as unknown as { __alerts: number }).__alerts);
    assert.equal(alerts, 0, 'nothing may run alert()');
    const problems = (await posted(page)).filter((m) => m.type === 'error');
    assert.deepEqual(problems, [], 'the panel reported script errors');
  }

  it('shows why heads and FFN are absent when a report lacks them', async () => {
    const { page, errors } = await open();
    await send(page, { type: 'document', document: documentOf(fixtureReport(), 6, NOT_COMPUTED) });
    await page.waitForSelector('.heatmap-base .tok');
    await showTab(page, 'heads');
    assert.match(await page.locator('vscode-tab-panel[data-tab="heads"] .empty-state').innerText(), /not computed/);
    await showTab(page, 'summary');
    assert.match(await page.locator('vscode-tab-panel[data-tab="summary"]').innerText(), /Not measured/);
    await screenshot(page, 'panel-fixture-summary-not-computed');
    await assertClean(page, errors);
    await page.close();
  });

  it('shows a prompt’s runs and how the score and the strongest words moved; an edited prompt is marked', async () => {
    const { page, errors } = await open();
    const first = fixtureReport();
    const second = fixtureReport();
    second.tuned = { ...second.tuned, instructionScore: second.tuned.instructionScore + 0.5, words: second.tuned.words.map((w, k) => (k === 0 ? { ...w, density: 0.987 } : w)) };
    const history = [summarizeRun(1, first), summarizeRun(2, second)];
    await send(page, { type: 'document', document: { ...documentOf(second, 2, NOT_COMPUTED), history } });
    await page.waitForSelector('.history ul.moves li');
    const moves = await page.locator('.history ul.moves').innerText();
    const expected = describeMoves(runMoves(history[0]!, history[1]!));
    assert.equal(expected.length, 2);
    for (const line of expected) assert.ok(moves.includes(line), `${moves} lacks ${line}`);
    assert.match(moves, new RegExp(`tuned ${formatNumber(first.tuned.instructionScore, 2).replace('.', '\\.')} → ${formatNumber(second.tuned.instructionScore, 2).replace('.', '\\.')}`));
    assert.match(moves, /→ 0\.99/, 'the word that moved');
    assert.equal(await page.locator('.history ol.runs li').count(), 2);
    assert.equal(await page.locator('[data-state="edited"]').count(), 0);
    // The editor says the analysed text was edited: a banner with Compare again.
    await send(page, { type: 'edited', documentId: 2, edited: true });
    await page.waitForSelector('[data-state="edited"]');
    await page.click('[data-state="edited"] vscode-button[data-command="compare-edited"]');
    assert.ok((await posted(page)).some((m) => m.type === 'run' && m.command === 'compare'));
    await send(page, { type: 'edited', documentId: 7, edited: false });
    assert.equal(await page.locator('[data-state="edited"]').count(), 1, 'another document’s message is ignored');
    await screenshot(page, 'panel-history');
    await assertClean(page, errors);
    await page.close();
  });

  it('a snapshot (its prompt not found after a reload) says so and offers Re-run; a new run clears it', async () => {
    const { page, errors } = await open();
    await send(page, { type: 'document', document: { ...documentOf(fixtureReport(), 4, NOT_COMPUTED), snapshot: true } });
    const banner = page.locator('[data-state="snapshot"]');
    await banner.waitFor();
    assert.match(await banner.innerText(), /snapshot from before the window reloaded.*prompt\.md, lines 1–7.*not found again/s);
    assert.equal(await page.locator('[data-state="edited"]').count(), 0);
    await page.click('[data-state="snapshot"] vscode-button[data-command="compare-snapshot"]');
    assert.ok((await posted(page)).some((m) => m.type === 'run' && m.command === 'compare'), 'Re-run asks the extension to compare again');
    await screenshot(page, 'panel-snapshot');
    await send(page, { type: 'document', document: documentOf(fixtureReport(), 5, NOT_COMPUTED) });
    await until(page, () => document.querySelector('[data-state="snapshot"]') === null, 'the banner gone with the new run');
    await assertClean(page, errors);
    await page.close();
  });

  it('shows a failed run where the results would be, with its actions; a model that produced nothing beside the other; short model names', async () => {
    const { page, errors } = await open();
    // No report yet: the failure takes the empty state's place.
    await send(page, { type: 'failure', failure: { title: 'Neither model produced a response', message: 'base and tuned both ended their response at once.', actions: ['selectModels', 'openSettings', 'showLog'] } });
    await page.waitForSelector('[data-state="failed"]');
    assert.equal(await page.locator('[data-state="no-report"]').count(), 0);
    assert.match(await page.locator('[data-state="failed"]').innerText(), /Neither model produced a response/);
    for (const command of ['selectModels', 'openSettings', 'showLog'] as const) {
      await page.click(`[data-state="failed"] vscode-button[data-action="${command}"]`);
      assert.ok((await posted(page)).some((m) => m.type === 'run' && m.command === command), command);
    }
    // A one-model report of a comparison: the other model's absence said, with Choose Models….
    const report = fixtureReport();
    const tunedOnly = { ...report, base: undefined, tuned: { ...report.tuned, model: { ...report.tuned.model, id: '/home/me/models/vicuna-7b' } } };
    await send(page, { type: 'document', document: { id: 3, report: tunedOnly, source: 'prompt.md, line 1', sections: NOT_COMPUTED, missing: { base: 'llama-7b produced nothing for this prompt.' } } });
    await page.waitForSelector('[data-missing="base"]');
    assert.equal(await page.locator('[data-state="failed"]').count(), 0, 'a new report clears the failure');
    assert.match(await page.locator('[data-missing="base"]').innerText(), /Base model: llama-7b produced nothing/);
    assert.equal(await page.locator('[data-state="missing"] vscode-button[data-action="selectModels"]').count(), 1);
    assert.ok((await page.locator('.heatmap-tuned .tok').count()) > 0, 'the other model is shown');
    // Models by short name, the path in the tooltip.
    const header = page.locator('header .models .model-name').first();
    assert.equal((await header.innerText()).trim(), 'vicuna-7b');
    assert.equal(await header.getAttribute('title'), '/home/me/models/vicuna-7b');
    assert.doesNotMatch(await page.locator('body').innerText(), /\/home\/me/, 'no path in the text');
    // A failure after a report: shown above the previous results, and it survives a reload.
    await send(page, { type: 'failure', failure: { title: 'The comparison failed', message: 'config.json of corrupt is not JSON', actions: ['selectModels', 'openSettings', 'showLog'] } });
    await page.waitForSelector('[data-state="failed"]');
    assert.match(await page.locator('[data-state="failed"]').innerText(), /previous run/);
    await page.reload();
    await page.waitForSelector('[data-state="failed"]');
    await screenshot(page, 'panel-failure');
    await assertClean(page, errors);
    await page.close();
  });

  it('shows an empty state before any report, with a working Compare button', async () => {
    const { page, errors } = await open();
    await page.waitForSelector('[data-state="no-report"]');
    await page.click('vscode-button[data-command="compare"]');
    assert.ok((await posted(page)).some((m) => m.type === 'run' && m.command === 'compare'));
    await screenshot(page, 'panel-empty');
    await assertClean(page, errors);
    await page.close();
  });

  it('renders a real compare report: both heatmaps, responses, heads, FFN, findings', async () => {
    const { page, errors } = await open();
    assert.ok(realReport.heads && realReport.ffn, 'compare computes the heads and FFN sections');
    await send(page, { type: 'document', document: documentOf(realReport, 1, { heads: { state: 'computed' }, ffn: { state: 'computed' } }) });
    await page.waitForSelector('.heatmap-base .tok');
    assert.equal(await page.locator('.heatmap-base .tok').count(), realReport.base.tokens.length);
    assert.equal(await page.locator('.heatmap-tuned .tok').count(), realReport.tuned.tokens.length);
    assert.ok((await page.locator('.heatmap-difference .tok').count()) > 0);
    assert.equal(await page.locator('button.rt[data-role="base"]').count(), realReport.base.response.tokens.length);
    // Instruction tokens are marked by more than colour: an underline class and the spans listed in words.
    assert.ok((await page.locator('.heatmap-base .tok.instr').count()) > 0, 'the instruction span is marked');
    const rendered = (await posted(page)).find((m) => m.type === 'rendered');
    assert.ok(rendered && rendered.heatmaps === 3, JSON.stringify(rendered));
    for (const tab of PANEL_TABS) {
      await showTab(page, tab);
      // One plain sentence atop each tab, with this prompt's numbers.
      const lead = (await page.locator(`vscode-tab-panel[data-tab="${tab}"] [data-lead="${tab}"]`).innerText()).trim();
      assert.equal(lead, tabLead(tab, realReport, { heads: { state: 'computed' }, ffn: { state: 'computed' } }));
      assert.ok(lead.length > 40 && /\d/.test(lead) && !/not computed/.test(lead), `${tab}: ${lead}`);
      await screenshot(page, `panel-real-${tab}`);
    }
    // The engine's own heads and FFN sections: a layer × head grid per model, the rotation chart.
    await showTab(page, 'heads');
    assert.equal(await page.locator('table.grid').count(), 2);
    assert.equal(await page.locator('table.grid >> nth=0 >> td.cell').count(), realReport.heads.base.layers * realReport.heads.base.heads);
    await showTab(page, 'ffn');
    assert.equal(await page.locator('svg.rotation rect').count(), realReport.ffn.rotation.length);
    await showTab(page, 'summary');
    const summary = await page.locator('vscode-tab-panel[data-tab="summary"]').innerText();
    assert.match(summary, /Attention to the instruction/);
    assert.ok(summary.includes(realReport.tuned.instructionScore.toFixed(3)), summary);
    const statuses = await page.locator('.finding').evaluateAll((nodes) => nodes.map((n) => (n as HTMLElement).dataset.status));
    assert.ok(statuses.every((st) => st === 'holds' || st === 'does-not-hold'), `every finding measured: ${statuses.join(', ')}`);
    assert.doesNotMatch(await page.locator('vscode-tab-panel[data-tab="summary"]').innerText(), /\b[1-9]\d*\.000\b/, 'counts print as counts');
    await assertClean(page, errors);
    await page.close();
  });

  it('at the default panel width: the score table scrolls instead of cutting columns; a response token brings its heatmap into view and its summary', async () => {
    const { page, errors } = await open();
    await page.setViewportSize({ width: 520, height: 700 });
    const report = fixtureReport();
    await send(page, { type: 'document', document: documentOf(report, 2, NOT_COMPUTED) });
    await page.waitForSelector('button.rt[data-role="tuned"]');
    const fit = await page.locator('section[aria-labelledby="h-scores"]').evaluate((card) => {
      const table = card.querySelector('table')!;
      const box = table.parentElement!;
      return { cardOverflows: card.scrollWidth > card.clientWidth + 1, scrollable: getComputedStyle(box).overflowX, tableWidth: table.scrollWidth, boxScroll: box.scrollWidth };
    });
    assert.equal(fit.cardOverflows, false, 'the table does not overflow its card');
    assert.ok(fit.scrollable === 'auto' || fit.scrollable === 'scroll', `its box scrolls (${fit.scrollable})`);
    assert.ok(fit.boxScroll >= fit.tableWidth, 'every column is reachable by scrolling');
    // A response token, far below the heatmap it changes.
    const summary = page.locator('#summary-tuned');
    assert.match(await summary.innerText(), /^Most important tokens/);
    await page.click('button.rt[data-role="tuned"][data-index="2"]');
    await until(page, () => {
      const map = document.querySelector('.heatmap-tuned')!.getBoundingClientRect();
      return map.bottom > 0 && map.top < window.innerHeight;
    }, 'the changed heatmap in view', 5_000);
    assert.match(await summary.textContent() ?? '', /response token #3/, 'the screen-reader summary follows the column');
    await page.click('vscode-button[data-reset="tuned"]');
    assert.match(await summary.textContent() ?? '', /^Most important tokens/);
    await screenshot(page, 'panel-narrow');
    await assertClean(page, errors);
    await page.close();
  });

  it('selects a response token by click and by keyboard, and goes back with Escape', async () => {
    const { page, errors } = await open();
    const report = fixtureReport();
    await send(page, { type: 'document', document: documentOf(report, 2, NOT_COMPUTED) });
    await page.waitForSelector('button.rt[data-role="tuned"]');
    const caption = page.locator('#caption-tuned');
    assert.match(await caption.innerText(), /importance density/);
    await page.click('button.rt[data-role="tuned"][data-index="2"]');
    assert.equal(await page.getAttribute('button.rt[data-role="tuned"][data-index="2"]', 'aria-pressed'), 'true');
    assert.match(await caption.innerText(), /response token #3/);
    const shaded = await page.locator('.heatmap-tuned .tok').first().evaluate((n) => getComputedStyle(n).backgroundColor);
    // Keyboard: arrow to the next token, Space selects it, Escape returns to the density.
    await page.focus('button.rt[data-role="tuned"][data-index="2"]');
    await page.keyboard.press('ArrowRight');
    assert.equal(await page.evaluate(() => (document.activeElement as HTMLElement).dataset.index), '3');
    await page.keyboard.press('Space');
    assert.match(await caption.innerText(), /response token #4/);
    await page.keyboard.press('Enter');
    assert.match(await caption.innerText(), /importance density/, 'Enter on the selected token deselects it');
    await page.keyboard.press('End');
    await page.keyboard.press('Enter');
    assert.match(await caption.innerText(), new RegExp(`response token #${report.tuned.response.tokens.length}\\b`));
    await page.keyboard.press('Escape');
    assert.match(await caption.innerText(), /importance density/);
    assert.ok(shaded && shaded !== 'rgba(0, 0, 0, 0)', `cells are shaded (${shaded})`);
    await screenshot(page, 'panel-fixture-attribution');
    // The highlight chooser tells the extension.
    await page.click('vscode-radio[value="tuned"]');
    assert.ok((await posted(page)).some((m) => m.type === 'highlight' && m.mode === 'tuned'));
    // A prompt token click asks the editor to reveal its characters.
    await page.click('.heatmap-base .tok >> nth=0');
    const reveal = (await posted(page)).find((m) => m.type === 'reveal');
    assert.deepEqual(reveal, { type: 'reveal', start: report.base.tokens[0]!.start, end: report.base.tokens[0]!.end });
    await assertClean(page, errors);
    await page.close();
  });

  it('plugs in heads and FFN sections of a saved real report: grids, word pairs, concepts, rotation chart, findings', async () => {
    const { page, errors } = await open();
    const report = savedReport('demo');
    const heads = report.heads!;
    await send(page, { type: 'document', document: documentOf(report, 3, { heads: { state: 'computed' }, ffn: { state: 'computed' } }), tab: 'heads' });
    await page.waitForSelector('table.grid td.cell');
    assert.equal(await page.locator('table.grid').count(), 2);
    assert.ok(heads.base.layers >= 2 && heads.base.heads >= 2);
    assert.equal(await page.locator('table.grid >> nth=0 >> td.cell').count(), heads.base.layers * heads.base.heads);
    // Keyboard in the grid: focus the first cell, move down and right, choose with Enter.
    await page.focus('table.grid >> nth=1 >> td.cell >> nth=0');
    await page.keyboard.press('ArrowDown');
    await page.keyboard.press('ArrowRight');
    await page.keyboard.press('Enter');
    assert.match(await page.locator('#head-details').innerText(), /Instruction-tuned · layer 1 · head 1/);
    // The counts say what they count: all recurring pairs, of them those with a verb; the list is what it says.
    const chosen = heads.tuned.perHead.find((h) => h.layer === 1 && h.head === 1)!;
    const counts = await page.locator('[data-head-counts]').innerText();
    assert.match(counts, new RegExp(`${chosen.recurringPairs} recurring word pairs?`));
    assert.match(counts, new RegExp(`${chosen.verbPairs} of them with an instruction verb`));
    assert.doesNotMatch(counts, new RegExp(`^${chosen.pairs.length} word pairs`));
    const rows = await page.locator('#head-details tbody tr').evaluateAll((trs) => trs.map((tr) => Array.from(tr.querySelectorAll('td')).map((td) => td.textContent ?? '')));
    assert.ok(rows.length > 0);
    for (let k = 1; k < rows.length; k++) {
      const [prevDims, prevSim] = [Number(rows[k - 1]![3]), Number(rows[k - 1]![4])];
      const [dims, sim] = [Number(rows[k]![3]), Number(rows[k]![4])];
      assert.ok(prevDims > dims || (prevDims === dims && prevSim >= sim), `row ${k + 1} is out of the stated order: ${rows[k - 1]} / ${rows[k]}`);
    }
    // Layer groups numbered like the grids (from 0).
    const gridLayers = await page.locator('table.grid >> nth=0 >> tbody th').allInnerTexts();
    assert.equal(gridLayers[0]!.trim(), '0');
    const groupHeads = await page.locator('section[aria-labelledby="h-groups"] thead th').allInnerTexts();
    if (heads.groups.length) {
      assert.ok(groupHeads.some((h) => /^layers? 0\b/.test(h.trim())), `groups from layer 0: ${groupHeads.join(' | ')}`);
      assert.ok(!groupHeads.some((h) => new RegExp(`\\b${heads.base.layers}$`).test(h.trim())), `no group ends past the last layer: ${groupHeads.join(' | ')}`);
    }
    await screenshot(page, 'panel-sections-heads');
    await showTab(page, 'ffn');
    await page.waitForSelector('svg.rotation rect');
    assert.equal(await page.locator('svg.rotation rect').count(), report.ffn!.rotation.length);
    await page.selectOption('#ffn-layer', String(report.ffn!.tuned.layers.at(-1)!.layer));
    assert.match(await page.locator('vscode-tab-panel[data-tab="ffn"]').innerText(), /used by this prompt/);
    await screenshot(page, 'panel-sections-ffn');
    await showTab(page, 'summary');
    const statuses = await page.locator('.finding').evaluateAll((nodes) => nodes.map((n) => (n as HTMLElement).dataset.status));
    assert.equal(statuses.length, 3);
    assert.ok(statuses.every((st) => st === 'holds' || st === 'does-not-hold'), `every finding measured: ${statuses.join(', ')}`);
    await screenshot(page, 'panel-sections-summary');
    await assertClean(page, errors);
    await page.close();
  });

  it('keeps its state across a reload (hidden and shown again), tab and selection included', async () => {
    const { page, errors } = await open();
    await send(page, { type: 'document', document: documentOf(fixtureReport(), 4, NOT_COMPUTED) });
    await page.waitForSelector('button.rt[data-role="base"]');
    await page.click('button.rt[data-role="base"][data-index="1"]');
    await showTab(page, 'summary');
    await page.reload();
    await page.waitForSelector('vscode-tab-panel[data-tab="summary"]:not([hidden]) .finding');
    const ready = (await posted(page)).find((m) => m.type === 'ready');
    assert.deepEqual(ready, { type: 'ready', documentId: 4 }, 'the restored panel tells the extension what it holds');
    await showTab(page, 'attribution');
    assert.equal(await page.getAttribute('button.rt[data-role="base"][data-index="1"]', 'aria-pressed'), 'true');
    await assertClean(page, errors);
    await page.close();
  });

  it('renders the hostile report as text: no markup, no script, no CSP violation', async () => {
    const { page, errors } = await open();
    // A real report's sections with hostile words in them (model-produced strings reach the page as text).
    const real = savedReport('synthetic');
    const evil = '<img src=x onerror=alert(1)>\u202e\u0007';
    real.heads!.base.perHead[0]!.pairs[0]!.query = evil;
    real.heads!.tuned.verbLinks[0]!.word = evil;
    real.heads!.groups[0]!.word = evil;
    real.ffn!.base.layers[0]!.components[0]!.words[0] = evil;
    real.ffn!.tuned.local.layers[0]!.components[0]!.words[0] = evil;
    const report: Report = { ...hostileReport({ differentTokenizers: true }), heads: real.heads, ffn: real.ffn };
    await send(page, { type: 'document', document: documentOf(report, 5, { heads: { state: 'computed' }, ffn: { state: 'computed' } }) });
    await page.waitForSelector('.heatmap-base .tok');
    for (const tab of PANEL_TABS) {
      await showTab(page, tab);
      await screenshot(page, `panel-hostile-${tab}`);
    }
    const injected = await page.evaluate(() => ({
      scripts: document.querySelectorAll('script').length,
      bold: document.querySelectorAll('#app b').length,
      images: document.querySelectorAll('img').length,
      text: document.getElementById('app')!.textContent!,
    }));
    assert.equal(injected.scripts, 1, 'only the panel’s own script element');
    assert.equal(injected.bold, 0);
    assert.equal(injected.images, 0);
    assert.ok(injected.text.includes('<script>alert(1)</script>'), 'markup shows as text');
    assert.ok(!/[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/.test(injected.text), 'no raw control or bidi character reaches the page');
    // The difference falls back to words when the tokenizations differ.
    assert.match(await page.locator('#h-diff + p').innerText(), /per word/);
    await assertClean(page, errors);
    await page.close();
  });
});
