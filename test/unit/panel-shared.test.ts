// The pure modules the extension and the panel share (src/shared/): the message protocol's
// checks, the heatmap values, the sections' views (on saved real compare reports,
// test/fixtures/reports, written by scripts/make-report-fixtures.ts), the Summary's findings, the hover's Markdown, the analysed range's edit tracking, and the engine's
// progress plan.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ProgressPlan, attributionStep, sectionStep } from '../../src/engine/progress.js';
import type { Report } from '../../src/explain/report.js';
import { escapeHtml } from '../../src/report/escape.js';
import { findings } from '../../src/view/findings.js';
import { columnValues, densityCells, differenceCells, highlightCells, wordAt, wordRank } from '../../src/view/heatmap.js';
import { contentSecurityPolicy, createNonce, panelHtml } from '../../src/shared/panel-html.js';
import { INITIAL_STATE, parseFromWebview, parseState, parseToWebview, type PanelReport } from '../../src/contract/panel.js';
import { ffnView, headsLinkingVerb, headsView, layerGroupLabel } from '../../src/view/section-views.js';
import { shiftRange } from '../../src/shared/text-range.js';
import { markdownText, verbHoverMarkdown } from '../../src/shared/verb-hover.js';
import { fixtureReport, hostileReport } from '../support/report-fixture.js';
import { savedReport } from '../support/saved-reports.js';

describe('panel protocol', () => {
  it('accepts the webview’s messages and rejects anything else', () => {
    assert.deepEqual(parseFromWebview({ type: 'ready', documentId: null }), { type: 'ready', documentId: null });
    assert.deepEqual(parseFromWebview({ type: 'highlight', mode: 'tuned', extra: 1 }), { type: 'highlight', mode: 'tuned' });
    assert.deepEqual(parseFromWebview({ type: 'reveal', start: 3, end: 9 }), { type: 'reveal', start: 3, end: 9 });
    assert.equal(parseFromWebview({ type: 'reveal', start: 9, end: 3 }), null);
    assert.equal(parseFromWebview({ type: 'reveal', start: -1, end: 3 }), null);
    assert.equal(parseFromWebview({ type: 'run', command: 'workbench.action.terminal.new' }), null, 'only our commands');
    assert.equal(parseFromWebview({ type: 'highlight', mode: 'everything' }), null);
    assert.equal(parseFromWebview({ type: 'tab', tab: '__proto__' }), null);
    assert.equal(parseFromWebview('ready'), null);
    assert.equal(parseFromWebview(null), null);
    assert.equal((parseFromWebview({ type: 'error', message: 'x'.repeat(5000) }) as { message: string }).message.length, 2000);
  });

  it('accepts the extension’s messages and restores a state field by field', () => {
    assert.equal(parseToWebview({ type: 'document', document: { id: 'x' } }), null);
    assert.deepEqual(parseToWebview({ type: 'showTab', tab: 'ffn' }), { type: 'showTab', tab: 'ffn' });
    assert.deepEqual(parseState(undefined), INITIAL_STATE);
    const state = parseState({ tab: 'heads', mode: 'nonsense', column: { role: 'tuned', index: 2 }, head: { role: 'x', layer: 1, head: 1 }, layer: 3 });
    assert.deepEqual(state, { ...INITIAL_STATE, tab: 'heads', column: { role: 'tuned', index: 2 }, layer: 3 });
  });

  it('builds the HTML shell with a strict policy and a fresh nonce', () => {
    const nonce = createNonce();
    assert.notEqual(nonce, createNonce());
    const html = panelHtml({ cspSource: 'https://x.vscode-cdn.net', nonce, scriptUri: 'https://x/dist/webview.js', styleUri: 'https://x/dist/webview.css' });
    assert.ok(html.includes(`content="${escapeHtml(contentSecurityPolicy('https://x.vscode-cdn.net', nonce))}"`));
    assert.match(contentSecurityPolicy('S', nonce), new RegExp(`^default-src 'none'; script-src 'nonce-${nonce.replace(/[+/]/g, '\\$&')}'; style-src S 'nonce-`));
    assert.ok(!/unsafe-inline|unsafe-eval/.test(html));
    assert.equal((html.match(/<script/g) ?? []).length, 1);
    assert.throws(() => panelHtml({ cspSource: 'x', nonce: "abc' 'unsafe-inline", scriptUri: 'a', styleUri: 'b' }));
  });
});

describe('heatmap values', () => {
  const report = fixtureReport();

  it('densities and columns are in [0, 1]; a column peaks at 1', () => {
    const cells = densityCells(report.base);
    assert.equal(cells.length, report.base.tokens.length);
    assert.ok(cells.every((c) => c.value >= 0 && c.value <= 1));
    assert.deepEqual(cells.map((c) => c.instruction), report.base.instructionMask.map((m) => m === 1));
    const column = columnValues(report.tuned, 0);
    assert.equal(Math.max(...column), 1);
    assert.ok(column.every((v) => v >= 0));
  });

  it('the difference is per token with one tokenization, per word with two', () => {
    const same = differenceCells(report.base, report.tuned);
    assert.equal(same.perWord, false);
    same.cells.forEach((c, i) => assert.equal(c.value, (report.tuned.density[i] ?? 0) - (report.base.density[i] ?? 0)));
    const other = fixtureReport({ differentTokenizers: true });
    const words = differenceCells(other.base, other.tuned);
    assert.equal(words.perWord, true);
    assert.equal(words.cells.length, other.tuned.words.length);
    assert.ok(words.cells.every((c) => c.value >= -other.base.words.reduce((m, w) => Math.max(m, w.density), 0) - 1e-9));
  });

  it('highlight cells need the models a mode compares', () => {
    const single: PanelReport = { ...report, tuned: undefined };
    assert.equal(highlightCells(single, 'difference'), null);
    assert.equal(highlightCells(single, 'tuned'), null);
    assert.equal(highlightCells(single, 'base')!.length, report.base.tokens.length);
  });

  it('finds a word by offsets and ranks it', () => {
    const start = report.prompt.indexOf('Summarize');
    const word = wordAt(report.tuned, start, start + 9)!;
    assert.equal(word.text, 'Summarize');
    const { rank, of } = wordRank(report.tuned, word);
    assert.ok(rank >= 1 && rank <= of);
  });
});

describe('sections: the views of real compare reports', () => {
  for (const name of ['demo', 'synthetic'] as const) {
    it(`${name}: every head, verb link, Table 3 row, FFN layer and rotation as the report has it`, () => {
      const report = savedReport(name);
      const heads = headsView(report.heads!);
      for (const role of ['base', 'tuned'] as const) {
        const section = report.heads![role];
        const view = heads.models[role]!;
        assert.equal(view.perHead.length, section.perHead.length);
        assert.equal(view.perHead.length, section.layers * section.heads, 'every head of every layer');
        view.perHead.forEach((h, i) => {
          const s = section.perHead[i]!;
          assert.deepEqual([h.layer, h.head, h.verbPairs], [s.layer, s.head, s.verbPairs]);
          // The same pairs, in the order the panel states: most dimensions first, then the most similar.
          const key = (p: { query: string; key: string }) => `${p.query}\u0000${p.key}`;
          assert.deepEqual(h.pairs.map(key).sort(), s.pairs.map(key).sort());
          for (let k = 1; k < h.pairs.length; k++) assert.ok(h.pairs[k - 1]!.dims > h.pairs[k]!.dims || (h.pairs[k - 1]!.dims === h.pairs[k]!.dims && h.pairs[k - 1]!.score >= h.pairs[k]!.score));
          assert.equal(h.recurringPairs, Math.max(s.recurringPairs, s.pairs.length));
        });
        assert.deepEqual(view.verbLinks.map((l) => l.word), section.verbLinks.map((l) => section.local.words[l.wordIndex]!.text), 'a verb link names the prompt word it links');
        const ffn = ffnView(report.ffn!).models[role]!;
        assert.deepEqual(ffn.layers.map((l) => l.components.map((c) => c.explained)), report.ffn![role].layers.map((l) => l.components.map((c) => c.varianceRatio)));
        assert.equal(ffn.active.length, report.ffn![role].local.layers.reduce((n, l) => n + l.components.length, 0));
        assert.ok(ffn.active.every((a) => a.score >= 0 && a.score <= 1));
      }
      assert.ok(heads.models.tuned!.verbLinks.length > 0, 'the prompt has an instruction verb the heads link');
      const verb = report.tuned.instructions.verbs[0]!.verb;
      const linking = headsLinkingVerb(heads.models.tuned!, verb);
      assert.equal(linking[0]!.weight, Math.max(...heads.models.tuned!.verbLinks.filter((l) => l.verb === verb).map((l) => l.weight)));
      // Groups labelled like the grids' layers (from 0).
      assert.deepEqual(heads.groups.map((g) => [g.group, g.word, g.kind, g.share]), report.heads!.groups.map((g) => [layerGroupLabel(g.layers), g.word, g.kind, g.share]));
      assert.deepEqual(ffnView(report.ffn!).rotation.map((r) => r.cosine), report.ffn!.rotation.map((r) => r.meanBestMatch), 'the best-match cosine');
    });
  }
});

describe('the Summary’s findings', () => {
  it('states the numbers, and when a finding does not hold or was not measured', () => {
    const report = fixtureReport();
    const [score, heads, ffn] = findings(report, { heads: { state: 'not-computed', reason: 'Not computed here.', canCompute: true } });
    assert.equal(score!.status, report.tuned.instructionScore > report.base.instructionScore ? 'holds' : 'does-not-hold');
    assert.ok(score!.measured.includes(report.tuned.instructionScore.toFixed(3)));
    assert.equal(heads!.status, 'not-measured');
    assert.equal(heads!.measured, 'Not computed here.');
    assert.equal(ffn!.status, 'not-measured');
    const swapped: Report = { ...report, base: report.tuned, tuned: report.base };
    assert.equal(findings(swapped)[0]!.status, 'does-not-hold');
    assert.match(findings(swapped)[0]!.measured, /Does not hold/);
  });

  it('measures heads and FFN from their sections', () => {
    for (const name of ['demo', 'synthetic'] as const) {
      const report = savedReport(name);
      const [, heads, ffn] = findings(report);
      assert.notEqual(heads!.status, 'not-measured', heads!.measured);
      assert.ok(heads!.numbers.length >= 2);
      const withVerbPairs = (role: 'base' | 'tuned') => report.heads![role].perHead.filter((h) => h.verbPairs > 0).length;
      assert.deepEqual([heads!.numbers[0]!.base, heads!.numbers[0]!.tuned], [withVerbPairs('base'), withVerbPairs('tuned')]);
      assert.notEqual(ffn!.status, 'not-measured', ffn!.measured);
      const mean = report.ffn!.rotation.reduce((s, r) => s + r.meanBestMatch, 0) / report.ffn!.rotation.length;
      assert.match(ffn!.measured, /mean best-match cosine/);
      assert.ok(ffn!.measured.includes(mean.toFixed(3)), `${ffn!.measured} has ${mean.toFixed(3)}`);
    }
  });

  it('cannot measure attention to the instruction without an instruction or with one model', () => {
    const report = fixtureReport();
    assert.equal(findings({ ...report, tuned: undefined })[0]!.status, 'not-measured');
    const none = { ...report, base: { ...report.base, instructionMask: report.base.instructionMask.map(() => 0) }, tuned: { ...report.tuned, instructionMask: report.tuned.instructionMask.map(() => 0) } };
    assert.match(findings(none)[0]!.measured, /No instruction span/);
  });
});

describe('the hover’s Markdown', () => {
  const report = fixtureReport();
  const at = report.prompt.indexOf('Summarize');

  it('matches any inflection and shows both models’ importance', () => {
    const hover = verbHoverMarkdown('Summarizing', ['summarize'], { report, start: at, end: at + 9 })!;
    assert.equal(hover.verb, 'summarize');
    assert.match(hover.markdown, /Importance \(word density\) \| [0-9.]+ \(rank \d+ of \d+\) \| [0-9.]+ \(rank/);
    assert.match(hover.markdown, /command:instructionLens\.showPanel/);
    assert.match(hover.markdown, /Head statistics: not computed/);
    assert.equal(verbHoverMarkdown('article', ['summarize'], { report, start: 0, end: 7 }), null);
    assert.equal(verbHoverMarkdown('wrote', ['write'], { report, start: 0, end: 5 })!.verb, 'write');
  });

  it('adds head statistics from a heads section and escapes document text', () => {
    const real = savedReport('synthetic');
    const hover = verbHoverMarkdown('Summarize', ['summarize'], { report: real, start: 0, end: 9 })!;
    const linking = (role: 'base' | 'tuned') => new Set(real.heads![role].verbLinks.filter((l) => l.verb === 'summarize').map((l) => `${l.layer}:${l.head}`)).size;
    assert.ok(linking('tuned') > 0);
    assert.ok(hover.markdown.includes(`| Heads linking it on this prompt | ${linking('base')} | ${linking('tuned')} |`), hover.markdown);
    assert.equal(markdownText('[x](command:evil) <b>*'), '\\[x\\]\\(command:evil\\) \\<b\\>\\*');
    const hostile = hostileReport();
    assert.ok(verbHoverMarkdown('Summarize', ['summarize'], { report: hostile, start: 0, end: 9 })!.markdown.length > 0);
  });
});

describe('edits and the analysed range', () => {
  it('shifts on edits before it, ignores edits after it, and goes stale on edits inside it', () => {
    assert.deepEqual(shiftRange(10, 5, { rangeOffset: 0, rangeLength: 2, text: 'abcd' }), { offset: 12 });
    assert.deepEqual(shiftRange(10, 5, { rangeOffset: 10, rangeLength: 0, text: 'ab' }), { offset: 12 }, 'an insertion at its start');
    assert.equal(shiftRange(10, 5, { rangeOffset: 15, rangeLength: 0, text: 'x' }), 'unaffected');
    assert.equal(shiftRange(10, 5, { rangeOffset: 12, rangeLength: 1, text: '' }), 'touched');
    assert.equal(shiftRange(10, 5, { rangeOffset: 8, rangeLength: 4, text: '' }), 'touched');
  });
});

describe('engine progress', () => {
  it('adds up to 100 over the stages, never backwards', () => {
    const sent: { message: string; increment?: number }[] = [];
    const plan = new ProgressPlan(['base', 'tuned', 'heads:base'], (message, increment) => sent.push({ message, increment }));
    plan.report('base', 0, 'start');
    plan.report('base', attributionStep('base', { phase: 'generate' }).fraction, 'gen');
    plan.report('base', attributionStep('base', { phase: 'attribute', done: 8, total: 8 }).fraction, 'done');
    plan.report('base', 0.2, 'late event');
    plan.report('tuned', 1, 'tuned');
    const step = sectionStep('base', { section: 'heads', progress: { phase: 'layers', done: 2, total: 2 } });
    plan.report('heads:base', step.fraction, step.message);
    const total = sent.reduce((s, p) => s + (p.increment ?? 0), 0);
    assert.ok(Math.abs(total - 100) < 1e-9, String(total));
    assert.ok(sent.every((p) => p.increment === undefined || p.increment > 0));
    assert.match(step.message, /Head word pairs \(base model\): layers \(2 of 2\)/);
    assert.match(attributionStep('tuned', { phase: 'attribute', done: 3, total: 9 }).message, /Tuned model: attributing the response \(3 of 9 tokens\)/);
  });
});
