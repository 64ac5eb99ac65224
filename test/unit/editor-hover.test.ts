// The editor's hover on highlighted prompt tokens and the highlights' legend (src/shared/verb-hover.ts,
// src/view/legend.ts): both models' numbers for the token under the mouse, its rank, whether it is
// part of an instruction, the verb's extra lines on a verb, a stale analysis that says so instead of
// old numbers, escaped model text; the legend names the scale and shows the highlights' own colours.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DIV_BINS, SEQ_BINS, divBinColor, seqBinColor, type Rgb } from '../../src/view/colors.js';
import { formatNumber } from '../../src/view/format.js';
import { highlightLegend, legendColors } from '../../src/view/legend.js';
import { HOVER_COMMANDS, tokenHoverMarkdown, type TokenHoverInput } from '../../src/shared/verb-hover.js';
import { fixtureReport, hostileReport } from '../support/report-fixture.js';

const same = (start: number, end: number) => ({ start, end });
const hex = ([r, g, b]: Rgb) => `#${[r, g, b].map((v) => v.toString(16).padStart(2, '0')).join('')}`;

function hover(input: Partial<TokenHoverInput> & Pick<TokenHoverInput, 'offset'>) {
  return tokenHoverMarkdown({ report: fixtureReport(), mode: 'difference', verbs: ['summarize'], place: same, stale: false, ...input });
}

describe('the hover on a highlighted token', () => {
  const report = fixtureReport();

  it('shows both models’ density, rank among the prompt’s tokens and instruction membership on a non-verb token', () => {
    const at = report.prompt.indexOf('council') + 2;
    const i = report.tuned.tokens.findIndex((t) => t.start <= at && at < t.end);
    const token = report.tuned.tokens[i]!;
    const content = hover({ offset: at })!;
    assert.deepEqual([content.start, content.end], [token.start, token.end], 'the range is the highlighted token');
    assert.equal(content.verb, undefined);
    const row = `| Importance (token density) | ${formatNumber(report.base.density[i]!)} | ${formatNumber(report.tuned.density[i]!)} |`;
    assert.ok(content.markdown.includes(row), content.markdown);
    const nonBlank = report.tuned.tokens.map((t, k) => k).filter((k) => /\S/.test(report.tuned.tokens[k]!.text));
    const rank = (d: number[]) => nonBlank.filter((k) => d[k]! > d[i]!).length + 1;
    assert.ok(content.markdown.includes(`| Rank among the prompt’s tokens | ${rank(report.base.density)} of ${nonBlank.length} | ${rank(report.tuned.density)} of ${nonBlank.length} |`), content.markdown);
    assert.equal(report.tuned.instructionMask[i], 0, 'the article is not an instruction');
    assert.match(content.markdown, /\| Part of an instruction \| no \| no \|/);
    assert.match(content.markdown, /Not part of a detected instruction/);
    assert.match(content.markdown, /Tuned − base: [+-]?[0-9.]+/);
    assert.doesNotMatch(content.markdown, /Instruction verb/);
    assert.match(content.markdown, /command:instructionLens\.showPanel/);
  });

  it('on an instruction verb adds the verb’s lines; an instruction token says so', () => {
    const content = hover({ offset: 7 })!; // "Summar|ize": the token "ize"
    assert.equal(content.verb, 'summarize');
    assert.deepEqual([content.start, content.end], [6, 9]);
    assert.match(content.markdown, /\| Part of an instruction \| yes \| yes \|/);
    assert.match(content.markdown, /\*\*Instruction verb\*\* `summarize`/);
    assert.match(content.markdown, /Importance \(word density\) \| [0-9.]+ \(rank \d+ of \d+\)/);
  });

  it('follows the highlights: shifted by edits before the prompt, nothing on whitespace or outside', () => {
    const at = report.prompt.indexOf('council');
    const shifted = hover({ offset: 100 + at, place: (s, e) => ({ start: s + 100, end: e + 100 }) })!;
    assert.equal(shifted.start, 100 + report.tuned.tokens.find((t) => t.start <= at && at < t.end)!.start);
    assert.deepEqual(shifted.markdown, hover({ offset: at })!.markdown);
    assert.equal(hover({ offset: report.prompt.length + 5 }), null, 'after the prompt');
    assert.equal(hover({ offset: at, place: () => null }), null, 'a token an edit touched has no highlight');
  });

  it('a stale analysis: says the prompt was edited and offers Compare again, no numbers', () => {
    const content = hover({ offset: report.prompt.indexOf('council') + 2, stale: true })!;
    assert.ok(content);
    assert.match(content.markdown, /edited since the last run/);
    assert.doesNotMatch(content.markdown, /density|rank|\d\.\d{3}/i);
    assert.match(content.markdown, /\[Compare again\]\(command:instructionLens\.compareSelection\?%5B%22again%22%5D/);
    for (const command of content.markdown.matchAll(/command:([\w.]+)/g)) assert.ok((HOVER_COMMANDS as readonly string[]).includes(command[1]!), `${command[1]} is trusted`);
  });

  it('with one model: one column; escapes hostile token text', () => {
    const one = hover({ report: { ...report, base: undefined }, mode: 'tuned', offset: 15 })!;
    assert.match(one.markdown, /^\| \| Tuned \|$/m);
    const hostile = hostileReport();
    let hovered = 0;
    for (const token of hostile.tuned.tokens) {
      if (!/\S/.test(token.text)) continue;
      const content = tokenHoverMarkdown({ report: hostile, mode: 'tuned', verbs: [], offset: token.start, place: same, stale: false });
      if (!content) continue;
      hovered++;
      assert.doesNotMatch(content.markdown, /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/, JSON.stringify(token.text));
      const shown = content.markdown.split('\n')[0]!.replace('**Instruction Lens** · token ', '');
      assert.doesNotMatch(shown, /(?<!\\)[<>`*_[\]()]/, `${JSON.stringify(token.text)} as ${shown}`);
    }
    assert.ok(hovered > 10, `${hovered} hostile tokens hovered`);
  });
});

describe('the highlights’ legend', () => {
  it('names the model’s importance scale low → high and shows its colours', () => {
    const tuned = highlightLegend('tuned');
    assert.match(tuned.text, /^Instruction Lens: tuned importance ░▒▓█ low → high$/);
    assert.match(highlightLegend('base').text, /base importance/);
    assert.equal(legendColors('tuned')[0], hex(seqBinColor(0)));
    assert.equal(legendColors('tuned').at(-1), hex(seqBinColor(SEQ_BINS - 1)));
    assert.ok(tuned.tooltip.includes(`<span style="background-color:${hex(seqBinColor(0))};">`), tuned.tooltip);
    assert.match(tuned.tooltip, /low <span.*<\/span> high/);
    assert.doesNotMatch(tuned.text + tuned.tooltip, /edited/);
  });

  it('for the difference: the diverging colours, base higher to tuned higher; edited when stale', () => {
    const diff = highlightLegend('difference', true);
    assert.match(diff.text, /tuned − base .*· edited$/);
    assert.deepEqual([legendColors('difference')[0], legendColors('difference').at(-1)], [hex(divBinColor(0)), hex(divBinColor(DIV_BINS - 1))]);
    assert.match(diff.tooltip, /base higher <span.*<\/span> tuned higher/);
    assert.match(diff.tooltip, /Orange: the base model/);
    assert.match(diff.tooltip, /edited since the last run/);
    assert.match(diff.label, /edited/);
  });

  it('in a dark theme: the dark scheme’s colours, which the highlights use there, and words that fit them', () => {
    for (const mode of ['tuned', 'difference'] as const) {
      const [bins, color] = mode === 'difference' ? [DIV_BINS, divBinColor] : [SEQ_BINS, seqBinColor];
      const colors = legendColors(mode, 'dark');
      assert.deepEqual([colors[0], colors.at(-1)], [hex(color(0, 'dark')), hex(color(bins - 1, 'dark'))], mode);
      assert.notEqual(colors[0], legendColors(mode, 'light')[0], `${mode}: the schemes differ at the low end`);
      const legend = highlightLegend(mode, false, 'dark');
      assert.ok(legend.tooltip.includes(`<span style="background-color:${colors[0]};">`), legend.tooltip);
      assert.doesNotMatch(legend.tooltip + legend.label, /near white|Darker|dark for high/, `${mode}: no light-theme words`);
    }
    assert.match(highlightLegend('tuned', false, 'dark').tooltip, /Brighter: the model leans on the token more/);
    assert.match(highlightLegend('difference', false, 'dark').tooltip, /close to the background: about the same/);
  });
});
