import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import vm from 'node:vm';
import { DIV_BINS } from '../../src/view/colors.js';
import { displayWidth, escapeHtml, truncateToWidth, visibleControls, visibleToken } from '../../src/report/escape.js';
import { renderHtml } from '../../src/report/html.js';
import { reportSections } from '../../src/report/html-tabs.js';
import { PANEL_TABS } from '../../src/contract/panel.js';
import { htmlText } from '../../src/report/escape.js';
import { tabLead } from '../../src/view/tab-leads.js';
import { findings } from '../../src/view/findings.js';
import { savedReport } from '../support/saved-reports.js';
import { colorPalette, renderTerminal, supportsColor, terminalSafe, xterm256 } from '../../src/report/terminal.js';
import { fixtureReport, hostileReport } from '../support/report-fixture.js';

/** Control characters that must never appear (C0 but \t \n, DEL, C1, bidi overrides and isolates). */
const CONTROLS = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
/** An ESC that does not start a well-formed SGR sequence. */
const BAD_ESC = /\u001b(?!\[[0-9;]*m)/;
const SGR = /\u001b\[[0-9;]*m/g;

function describeChar(text: string, re: RegExp): string {
  const m = re.exec(text);
  if (!m) return '';
  const at = m.index;
  return `U+${m[0].codePointAt(0)!.toString(16).padStart(4, '0')} at ${at}: ${JSON.stringify(text.slice(Math.max(0, at - 40), at + 40))}`;
}

/** Elements without an end tag. */
const VOID = new Set(['meta', 'br', 'link', 'img', 'hr', 'input', 'col', 'wbr', 'source']);
/** Every element the page may contain: a '<' that starts anything else came from model text. */
const ALLOWED = new Set([
  'html', 'head', 'meta', 'title', 'style', 'body', 'main', 'h1', 'h2', 'h3', 'p', 'span', 'code', 'section', 'table',
  'thead', 'tbody', 'tr', 'th', 'td', 'caption', 'div', 'pre', 'mark', 'meter', 'strong', 'em', 'button', 'br', 'script',
  'nav', 'a', 'ol', 'li', 'h4', 'h5',
]);

/**
 * A tiny HTML sanity check: the text outside tags (and outside <style>/<script>) holds no '<' or
 * '>', every tag is from ALLOWED, attribute values are double-quoted without a raw '"', '<' or '>',
 * and elements nest properly. Returns the tags seen, in order.
 */
function checkHtml(html: string): { name: string; attrs: string }[] {
  assert.ok(html.startsWith('<!DOCTYPE html>\n'), 'starts with the doctype');
  const body = html.slice('<!DOCTYPE html>'.length);
  const tags: { name: string; attrs: string }[] = [];
  const stack: string[] = [];
  const tag = /<(\/?)([a-z][a-z0-9]*)((?:\s+[a-z-]+(?:="[^"<>]*")?)*)\s*>/gy;
  let at = 0;
  while (at < body.length) {
    const lt = body.indexOf('<', at);
    const text = body.slice(at, lt < 0 ? body.length : lt);
    assert.ok(!text.includes('>'), `raw '>' in text: ${JSON.stringify(text.slice(0, 120))}`);
    if (lt < 0) break;
    tag.lastIndex = lt;
    const m = tag.exec(body);
    assert.ok(m, `a '<' that starts no well-formed tag: ${JSON.stringify(body.slice(lt, lt + 120))}`);
    const [whole, close, name, attrs] = m;
    assert.ok(ALLOWED.has(name!), `unexpected element <${name}>: ${JSON.stringify(whole.slice(0, 120))}`);
    if (close) {
      assert.equal(stack.pop(), name, `</${name}> closes something else`);
    } else {
      tags.push({ name: name!, attrs: attrs ?? '' });
      if (!VOID.has(name!)) stack.push(name!);
    }
    at = lt + whole.length;
    if (!close && (name === 'style' || name === 'script')) {
      const end = body.indexOf(`</${name}>`, at);
      assert.ok(end >= 0, `<${name}> is closed`);
      const content = body.slice(at, end);
      assert.ok(!/<\/?(style|script)/i.test(content), `nothing inside <${name}> looks like a tag`);
      at = end;
    }
  }
  assert.deepEqual(stack, [], 'every element is closed');
  return tags;
}

function count(text: string, needle: string): number {
  return text.split(needle).length - 1;
}

describe('escaping', () => {
  it('escapes the five HTML characters', () => {
    assert.equal(escapeHtml(`<a href="x" title='y'>&amp;</a>`), '&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;amp;&lt;/a&gt;');
  });

  it('makes every control character visible and replaces lone surrogates', () => {
    assert.equal(terminalSafe('\u001b[31mred\u001b[0m'), '\u241b[31mred\u241b[0m');
    assert.equal(terminalSafe('\u001b]8;;http://x\u0007link'), '\u241b]8;;http://x\u2407link');
    assert.equal(terminalSafe('a\u0000b\u007fc\u009bd'), 'a\u2400b\u2421c\\u{9b}d');
    assert.equal(terminalSafe('\u202eevil\u202c \u2066x\u2069 \u200f'), '\\u{202e}evil\\u{202c} \\u{2066}x\\u{2069} \\u{200f}');
    assert.equal(terminalSafe('a\nb\tc\r'), 'a\u23ceb\u21e5c\u240d');
    assert.equal(terminalSafe('a\nb', { keepNewlines: true }), 'a\nb');
    assert.equal(terminalSafe('x\ud800y\udc00z'), 'x\ufffdy\ufffdz');
    // Pairs, ZWJ sequences, CJK and tokenizer markers pass through.
    assert.equal(terminalSafe('👩\u200d💻 🎉 日本語 ▁Ġ'), '👩\u200d💻 🎉 日本語 ▁Ġ');
    assert.equal(visibleControls('\u2028'), '\\u{2028}');
  });

  it('shows whitespace-only and invisible tokens', () => {
    assert.equal(visibleToken(' '), '\u00b7');
    assert.equal(visibleToken('\n'), '\u23ce');
    assert.equal(visibleToken(' the'), ' the');
    assert.equal(visibleToken(' the', 'dot'), '\u00b7the');
    assert.equal(visibleToken(''), '\u2205');
    assert.equal(visibleToken('\u200d'), '\\u{200d}');
  });

  it('cuts at grapheme boundaries and measures wide characters', () => {
    assert.equal(truncateToWidth('🎉🎉🎉', 3), '🎉\u2026');
    assert.equal(truncateToWidth('👩\u200d💻👩\u200d💻', 3), '👩\u200d💻\u2026');
    assert.equal(truncateToWidth('abcdef', 4), 'abc\u2026');
    assert.equal(truncateToWidth('abc', 3), 'abc');
    assert.equal(displayWidth('日本'), 4);
    assert.equal(displayWidth('e\u0301'), 1);
    assert.equal(displayWidth('👩\u200d💻'), 2);
  });
});

describe('supportsColor', () => {
  const tty = { isTTY: true };
  const pipe = { isTTY: false };
  it('follows the stream and TERM by default', () => {
    assert.equal(supportsColor(tty, { TERM: 'xterm-256color' }), true);
    assert.equal(supportsColor(tty, {}), true);
    assert.equal(supportsColor(pipe, { TERM: 'xterm-256color' }), false);
    assert.equal(supportsColor(undefined, {}), false);
    assert.equal(supportsColor(tty, { TERM: 'dumb' }), false);
  });
  it('honours NO_COLOR', () => {
    assert.equal(supportsColor(tty, { NO_COLOR: '1', TERM: 'xterm' }), false);
    assert.equal(supportsColor(tty, { NO_COLOR: '1', FORCE_COLOR: '1' }), false);
    assert.equal(supportsColor(tty, { NO_COLOR: '' }), true, 'an empty NO_COLOR is not set (no-color.org)');
  });
  it('honours FORCE_COLOR', () => {
    assert.equal(supportsColor(pipe, { FORCE_COLOR: '1' }), true);
    assert.equal(supportsColor(pipe, { FORCE_COLOR: '' }), true);
    assert.equal(supportsColor(pipe, { FORCE_COLOR: '3', TERM: 'dumb' }), true);
    assert.equal(supportsColor(tty, { FORCE_COLOR: '0' }), false);
    assert.equal(supportsColor(tty, { FORCE_COLOR: 'false' }), false);
  });
  it('picks truecolor from COLORTERM', () => {
    assert.equal(colorPalette({ COLORTERM: 'truecolor' }), 'truecolor');
    assert.equal(colorPalette({ COLORTERM: '24bit' }), 'truecolor');
    assert.equal(colorPalette({}), '256');
    assert.equal(xterm256([0, 0, 0]), 16);
    assert.equal(xterm256([255, 255, 255]), 231);
    assert.equal(xterm256([128, 128, 128]), 244);
  });
});

describe('renderTerminal', () => {
  const report = fixtureReport();

  it('shows the models, the heatmap, the spans, the scores, the top words and the responses', () => {
    const out = renderTerminal(report, { color: false });
    for (const needle of ['meta-llama/Llama-2-7b-hf', 'lmsys/vicuna-7b-v1.5', 'LlamaForCausalLM', '6.74 B', 'cuda',
      'Summar', '\u00b7artic', 'Instruction spans (detected): 1', '\u201cSummarize the article below in two sentences.\u201d',
      'verbs: summarize', 'Top words by density', 'mean p ', 'The city council approved']) {
      assert.ok(out.includes(needle), `has ${JSON.stringify(needle)}`);
    }
    const lines = out.split('\n');
    assert.ok(lines.some((l) => l.startsWith('text   Summar ')), 'a text row');
    assert.ok(lines.some((l) => /^base   [ .:\-=+*#%@]+$/.test(l)), 'a heat row for the base model');
    assert.ok(lines.some((l) => /^tuned  [ .:\-=+*#%@]+$/.test(l)), 'a heat row for the tuned model');
    assert.ok(lines.some((l) => /^instr  \^+$/.test(l)), 'the instruction span marked');
    // The tuned model scores higher on this fixture, and the verdict says so.
    assert.ok(report.tuned.instructionScore > report.base.instructionScore);
    assert.match(out, /tuned +\d\.\d{3} +#+\.* +< higher/);
    assert.match(out, /the instruction-tuned model's score is higher by \d\.\d{3}/);
    // The mean probability is the arithmetic mean of the response tokens' probabilities.
    const mean = report.tuned.probabilities.reduce((s, p) => s + p, 0) / report.tuned.probabilities.length;
    assert.ok(out.includes(`mean p ${mean.toFixed(3)}`));
  });

  it('aligns each heat row with its text row', () => {
    const lines = renderTerminal(report, { color: false, width: 100 }).split('\n');
    for (let k = 0; k < lines.length; k++) {
      if (!lines[k]!.startsWith('text   ')) continue;
      const text = lines[k]!;
      const heat = lines[k + 1]!;
      assert.ok(heat.startsWith('base   '));
      // Every heat character that is not a space sits under a token character.
      [...heat].forEach((c, i) => {
        if (i >= 7 && c !== ' ') assert.notEqual([...text][i] ?? ' ', ' ', `heat under a gap in ${JSON.stringify(text)}`);
      });
    }
  });

  for (const width of [40, 60, 80, 100, 132]) {
    it(`keeps every line within ${width} columns (ASCII content), with and without colour`, () => {
      for (const color of [false, true]) {
        const out = renderTerminal(report, { color, width });
        const lines = out.replace(SGR, '').split('\n');
        for (const line of lines) assert.ok([...line].length <= width, `${[...line].length} > ${width}: ${JSON.stringify(line)}`);
        assert.ok(lines.some((l) => [...l].length >= width - 12), 'the width is used');
      }
    });
  }

  it('writes no escape sequence without colour, only SGR with colour (256 and truecolor)', () => {
    assert.ok(!renderTerminal(report, { color: false }).includes('\u001b'));
    for (const palette of ['256', 'truecolor'] as const) {
      const out = renderTerminal(report, { color: true, palette });
      assert.ok(out.includes('\u001b['), 'colour is used');
      assert.ok(!BAD_ESC.test(out), describeChar(out, BAD_ESC));
      assert.ok(out.includes(palette === '256' ? '48;5;' : '48;2;'));
      assert.ok(out.includes('\u001b[4;'), 'instruction tokens are underlined');
    }
  });

  it('lays out two tokenizations one block each', () => {
    const out = renderTerminal(fixtureReport({ differentTokenizers: true }), { color: false, width: 80 });
    assert.ok(out.includes('tokenize the prompt differently'));
    assert.ok(out.includes('base: meta-llama/Llama-2-7b-hf') && out.includes('tuned: lmsys/vicuna-7b-v1.5'));
    for (const line of out.split('\n')) assert.ok([...line].length <= 80);
  });

  it('lets no control character, foreign escape or lone surrogate through from hostile text', () => {
    for (const differentTokenizers of [false, true]) {
      const hostile = hostileReport({ differentTokenizers });
      for (const width of [40, 80, 100]) {
        const plain = renderTerminal(hostile, { color: false, width });
        assert.ok(!plain.includes('\u001b'), describeChar(plain, /\u001b/));
        assert.ok(!CONTROLS.test(plain), describeChar(plain, CONTROLS));
        assert.ok(!/[\u0009\u2028\u2029]/.test(plain), describeChar(plain, /[\u0009\u2028\u2029]/));
        assert.ok(!LONE_SURROGATE.test(plain), describeChar(plain, LONE_SURROGATE));
        for (const line of plain.split('\n')) assert.ok(displayWidth(line) <= width, `${displayWidth(line)} > ${width}: ${JSON.stringify(line)}`);
        for (const palette of ['256', 'truecolor'] as const) {
          const colored = renderTerminal(hostile, { color: true, width, palette });
          assert.ok(!BAD_ESC.test(colored), describeChar(colored, BAD_ESC));
          const rest = colored.replace(SGR, '');
          assert.ok(!CONTROLS.test(rest), describeChar(rest, CONTROLS));
          assert.ok(!LONE_SURROGATE.test(rest), describeChar(rest, LONE_SURROGATE));
          for (const line of rest.split('\n')) assert.ok(displayWidth(line) <= width, `${displayWidth(line)} > ${width}: ${JSON.stringify(line)}`);
        }
        // The hostile text is shown, made visible, not dropped.
        assert.ok(plain.includes('\u241b[31mred'));
        assert.ok(plain.includes('\\u{202e}'));
        assert.ok(plain.includes('\ufffd'));
      }
    }
  });
});

describe('edge cases', () => {
  it('renders an empty response and a model without prompt tokens', () => {
    const report = fixtureReport();
    report.tuned = { ...report.tuned, response: { text: '', source: 'given', tokens: [] }, probabilities: [], raw: report.tuned.raw.map(() => []) };
    report.base = { ...report.base, tokens: [], raw: [], density: [], words: [], instructionMask: [], instructionScore: 0 };
    const text = renderTerminal(report, { color: false, width: 80 });
    assert.ok(text.includes('mean p n/a'));
    assert.ok(text.includes('(empty)'));
    for (const line of text.split('\n')) assert.ok([...line].length <= 80);
    const html = renderHtml(report);
    checkHtml(html);
    assert.ok(html.includes('(empty response)'));
  });
});

describe('renderTerminal: heads and FFN', () => {
  const stripped = (text: string) => text.replace(SGR, '');

  it('shows the heads linking the instruction verbs and the FFN rotation per layer of the saved demo report', () => {
    const report = savedReport('demo');
    const out = renderTerminal(report, { color: false, width: 100 });
    const lines = out.split('\n');
    assert.ok(out.includes('Heads linking the instruction verbs'), 'the heads section');
    // Each model's strongest link, as layer.head, verb → word and weight, on one row.
    for (const role of ['base', 'tuned'] as const) {
      const best = [...report.heads![role].verbLinks].sort((a, b) => b.weight - a.weight)[0]!;
      const row = new RegExp(`L${best.layer}\\.H${best.head}\\s+${best.verb} \u2192 ${best.word}\\s+${best.weight.toFixed(2)}`);
      assert.ok(lines.some((l) => row.test(l)), `${role}: ${row}`);
      // Per layer, the number of distinct heads linking a verb.
      const counts = Array.from({ length: report.heads![role].layers }, (_, layer) => new Set(report.heads![role].verbLinks.filter((l) => l.layer === layer).map((l) => l.head)).size);
      assert.ok(lines.some((l) => l.startsWith(`  ${role.padEnd(6)} ${counts.join(' ')}  (of ${report.heads![role].heads} heads a layer)`)), `${role} per layer: ${counts.join(' ')}`);
    }
    assert.ok(out.includes('FFN rotation per layer'), 'the FFN section');
    for (const r of report.ffn!.rotation) {
      const cell = new RegExp(`L${r.layer}\\s+${r.meanBestMatch.toFixed(3)} #{${Math.round(r.meanBestMatch * 10)}}\\.{${10 - Math.round(r.meanBestMatch * 10)}}`);
      assert.ok(cell.test(out), `layer ${r.layer}: ${cell}`);
    }
    // The Summary's verdicts, under their sections (wrapped: compare without the line breaks).
    const flat = out.replace(/\n {4}/g, ' ');
    for (const f of findings(report).filter((f) => f.id !== 'instruction-score')) assert.ok(flat.includes(`\u2192 ${f.measured}`), f.id);
    // Heads, then FFN, then the responses.
    assert.ok(out.indexOf('Heads linking') < out.indexOf('FFN rotation') && out.indexOf('FFN rotation') < out.indexOf('Responses'), 'heads, FFN, responses in that order');
  });

  it('leaves out what the report does not hold', () => {
    const report = savedReport('demo');
    delete report.heads;
    const noHeads = renderTerminal(report, { color: false });
    assert.ok(!noHeads.includes('Heads linking') && noHeads.includes('FFN rotation per layer'), 'FFN without heads');
    delete report.ffn;
    const neither = renderTerminal(report, { color: true });
    assert.ok(!neither.includes('Heads linking') && !neither.includes('FFN rotation'), 'neither section');
    assert.ok(!/head word pairs|FFN/i.test(stripped(neither)), 'no trace of either');
  });

  it('escapes hostile verb and word text and keeps every line within the width', () => {
    const report = savedReport('demo');
    const evil = ['\u001b]8;;https://evil.example\u0007link\u001b]8;;\u0007', 'cap\u202eitalize\u0000', '\ud800half', '\u001b[2J\u001b[31mred\u009b1m'];
    report.heads!.tuned.verbLinks = report.heads!.tuned.verbLinks.map((l, k) => ({ ...l, verb: evil[k % evil.length]!, word: evil[(k + 1) % evil.length]! }));
    report.heads!.base.verbLinks = report.heads!.base.verbLinks.map((l, k) => ({ ...l, word: `${evil[k % evil.length]!} wide 日本語 words`, weight: 1 - k / 10 }));
    for (const width of [40, 80, 100]) {
      for (const color of [false, true]) {
        const out = renderTerminal(report, { color, width });
        if (color) assert.ok(!BAD_ESC.test(out), describeChar(out, BAD_ESC));
        else assert.ok(!out.includes('\u001b'), describeChar(out, /\u001b/));
        const rest = stripped(out);
        assert.ok(!CONTROLS.test(rest), describeChar(rest, CONTROLS));
        assert.ok(!LONE_SURROGATE.test(rest), describeChar(rest, LONE_SURROGATE));
        for (const line of rest.split('\n')) assert.ok(displayWidth(line) <= width, `${displayWidth(line)} > ${width}: ${JSON.stringify(line)}`);
      }
      const plain = renderTerminal(report, { color: false, width });
      assert.ok(plain.includes('\u241b'), 'ESC shown as ␛');
    }
    const wide = renderTerminal(report, { color: false, width: 160 });
    assert.ok(wide.includes('\u241b[2J\u241b[31mred\\u{9b}1m'), 'the text is shown, made visible');
    assert.ok(wide.includes('cap\\u{202e}italize\u2400'));
  });
});

describe('renderHtml', () => {
  const report = fixtureReport();

  it('renders one self-contained, well-formed, accessible page', () => {
    const html = renderHtml(report);
    const tags = checkHtml(html);
    assert.ok(html.includes('<html lang="en">'));
    assert.ok(html.includes('<meta charset="utf-8">'));
    assert.equal(count(html, '<table'), count(html, '</table>'));
    const attribution = html.slice(html.indexOf('<section class="tab" id="attribution"'), html.indexOf('<section class="tab" id="heads"'));
    assert.equal(count(attribution, '<table'), 5, 'the Attribution tab: scores, two word tables, two raw matrices');
    // No external resource and no inline style attribute (the CSP would block it); links go to the page's own sections.
    assert.ok(!/\s(src|style)=/.test(html), 'no src/style attributes');
    for (const [, target] of html.matchAll(/\shref="([^"]*)"/g)) assert.match(target!, /^#[a-z]+$/, 'a link within the page');
    assert.ok(!/url\(|@import/.test(html), 'no url() or @import');
    // CSP with one nonce, used by the one <style> and the one <script>.
    const csp = /<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'nonce-([^']+)'; script-src 'nonce-([^']+)';[^"]*">/.exec(html);
    assert.ok(csp, 'a strict CSP meta tag');
    assert.equal(csp[1], csp[2]);
    const nonce = csp[1]!;
    assert.ok(nonce.length >= 16);
    const scripts = tags.filter((t) => t.name === 'script');
    const styles = tags.filter((t) => t.name === 'style');
    assert.equal(scripts.length, 1);
    assert.equal(styles.length, 1);
    assert.equal(scripts[0]!.attrs.trim(), `nonce="${nonce}"`);
    assert.equal(styles[0]!.attrs.trim(), `nonce="${nonce}"`);
    // The inline script parses (it only adds the click-a-response-token view).
    const script = /<script nonce="[^"]+">([\s\S]*?)<\/script>/.exec(html)![1]!;
    assert.doesNotThrow(() => new vm.Script(script));
    // A fresh nonce per render.
    assert.notEqual(/nonce-([^']+)'/.exec(renderHtml(report))![1], nonce);
    // Table headers with scope, aria-labels on the heatmaps.
    assert.ok(tags.filter((t) => t.name === 'th').every((t) => /scope="(col|row)"/.test(t.attrs)), 'every <th> has a scope');
    const maps = tags.filter((t) => t.name === 'div' && /class="heatmap"/.test(t.attrs));
    assert.equal(maps.length, 3, 'base, tuned and difference heatmaps');
    for (const m of maps) assert.match(m.attrs, /aria-label="[^"]+"/);
  });

  it('shows every prompt token, the raw matrices, the probabilities and the scores', () => {
    const html = renderHtml(report);
    for (const key of ['base', 'tuned'] as const) {
      const m = report[key];
      const map = new RegExp(`<div class="heatmap" id="map-${key}"[^>]*>(.*?)</div>`).exec(html);
      assert.ok(map);
      assert.equal(count(map[1]!, '<span class="t q'), m.tokens.length);
      assert.equal(count(map[1]!, ' i"') + count(map[1]!, ' i ws"'), m.instructionMask.filter((v) => v === 1).length, 'instruction tokens marked');
      assert.equal(count(html, `data-map="map-${key}"`), m.response.tokens.length, 'one button per response token');
      assert.ok(html.includes(`p = ${m.probabilities[0]!.toFixed(3)}`), 'probabilities in tooltips');
      assert.ok(html.includes(m.instructionScore.toFixed(3)));
      assert.ok(html.includes(`${m.tokens.length} prompt tokens × ${m.response.tokens.length} response tokens`));
    }
    const rawRows = count(html, '<tr><th scope="row"');
    assert.ok(rawRows >= report.base.tokens.length + report.tuned.tokens.length, 'a row per prompt token in each matrix');
    assert.ok(html.includes('instruction-tuned model’s score is higher'));
    assert.ok(html.includes('<mark>Summarize the article below in two sentences.'));
    assert.ok(html.includes('&lt;article&gt;'), 'the prompt’s markup is text');
  });

  it('compares per word when the tokenizations differ', () => {
    const html = renderHtml(fixtureReport({ differentTokenizers: true }));
    checkHtml(html);
    assert.ok(html.includes('tokenize the prompt differently'));
  });

  it('caps huge raw tables', () => {
    const html = renderHtml(report, { maxMatrixCells: 100 });
    checkHtml(html);
    assert.ok(html.includes('Showing the first'));
  });

  it('escapes everything hostile text holds', () => {
    for (const differentTokenizers of [false, true]) {
      const hostile = hostileReport({ differentTokenizers });
      const html = renderHtml(hostile);
      const tags = checkHtml(html);
      // The only script is ours, with the nonce.
      assert.equal(count(html.toLowerCase(), '<script'), 1);
      const nonce = /script-src 'nonce-([^']+)'/.exec(html)![1];
      assert.deepEqual(tags.filter((t) => t.name === 'script').map((t) => t.attrs.trim()), [`nonce="${nonce}"`]);
      assert.equal(count(html.toLowerCase(), '</style'), 1);
      assert.ok(!html.includes('<article') && !html.includes('<b>') && !html.includes('</td></tr></table><script'));
      assert.ok(html.includes('&lt;script&gt;alert(1)&lt;/script&gt;&lt;/style&gt;&quot;&#39;&amp;'));
      // No control character at all, no bidi override, no lone surrogate.
      assert.ok(!CONTROLS.test(html), describeChar(html, CONTROLS));
      assert.ok(!LONE_SURROGATE.test(html), describeChar(html, LONE_SURROGATE));
      assert.ok(!/[\u2028\u2029\r]/.test(html));
      // …and what they were is visible.
      assert.ok(html.includes('\u241b[31mred'));
      assert.ok(html.includes('\\u{202e}'));
      assert.ok(html.includes('\\u{9b}'));
      assert.ok(html.includes('\u2400'));
      assert.ok(html.includes('👩\u200d💻') && html.includes('日本語') && html.includes('▁Summarize') && html.includes('Ġthe'));
      assert.ok(html.includes('&lt;0x1B&gt;'));
    }
  });
  /** The HTML of a tab's section. */
  const tabOf = (html: string, tab: string) => {
    const start = html.indexOf(`<section class="tab" id="${tab}"`);
    assert.ok(start >= 0, `a section for the ${tab} tab`);
    const next = html.indexOf('<section class="tab" id="', start + 1);
    return html.slice(start, next < 0 ? html.indexOf('</main>') : next);
  };

  it('holds the panel’s four tabs, each opening with the panel’s sentence for it', () => {
    for (const name of ['demo', 'synthetic'] as const) {
      const report = savedReport(name);
      assert.ok(report.heads && report.ffn, 'the saved compare reports hold heads and FFN');
      const html = renderHtml(report);
      checkHtml(html);
      for (const tab of PANEL_TABS) {
        const section = tabOf(html, tab);
        const lead = tabLead(tab, report, { heads: { state: 'computed' }, ffn: { state: 'computed' } });
        assert.match(section, new RegExp(`^<section class="tab" id="${tab}" aria-labelledby="h-tab-${tab}">\n<h2 id="h-tab-${tab}">[^<]+</h2>\n<p class="lead" data-lead="${tab}">`));
        assert.ok(section.includes(`<p class="lead" data-lead="${tab}">${htmlText(lead)}</p>`), `${name}, ${tab}: the lead sentence`);
        assert.ok(html.includes(`<a href="#${tab}">`), `${tab} is linked`);
      }
      // Summary: the three findings with their verdicts.
      const summary = tabOf(html, 'summary');
      const list = findings(report, reportSections(report));
      assert.equal(count(summary, '<li class="finding"'), list.length);
      for (const f of list) assert.ok(summary.includes(`data-finding="${f.id}" data-status="${f.status}"`) && summary.includes(htmlText(f.measured)));
      // Heads: a layer × head grid per model, the verb links, Table 3.
      const heads = tabOf(html, 'heads');
      assert.equal(count(heads, '<table class="grid">'), 2);
      assert.equal(count(heads, '<td class="num q'), report.heads!.base.layers * report.heads!.base.heads + report.heads!.tuned.layers * report.heads!.tuned.heads);
      const link = report.heads!.tuned.verbLinks[0]!;
      assert.ok(heads.includes(`<td>${htmlText(link.verb)}</td><td>${htmlText(link.word)}</td>`), 'the strongest links listed');
      if (report.heads!.groups.length) assert.ok(heads.includes('id="h-groups"'));
      // FFN: the rotation per layer, each layer's concepts, the ones this prompt uses marked.
      const ffn = tabOf(html, 'ffn');
      for (const r of report.ffn!.rotation) assert.ok(ffn.includes(`<tr><th scope="row">${r.layer}</th>`), `rotation of layer ${r.layer}`);
      assert.ok(ffn.includes(htmlText(report.ffn!.tuned.layers[0]!.components[0]!.words.slice(0, 15).join(', '))));
      assert.ok(count(ffn, '<li class="active">') > 0, 'used concepts marked');
    }
  });

  it('says so where the report holds no heads or FFN', () => {
    const html = renderHtml(fixtureReport());
    assert.match(tabOf(html, 'heads'), /This report holds no head analysis/);
    assert.match(tabOf(html, 'ffn'), /This report holds no FFN analysis/);
    assert.match(tabOf(html, 'summary'), /data-status="not-measured"/);
  });

  it('escapes model text in the Summary, Heads and FFN tabs', () => {
    const report = savedReport('synthetic');
    const evil = '<script>alert("x")</script>\'"&';
    report.heads!.tuned.perHead.forEach((h) => { if (h.pairs[0]) h.pairs[0].query = evil; });
    report.heads!.tuned.verbLinks[0]!.word = evil;
    report.heads!.tuned.verbLinks[0]!.verb = evil;
    report.heads!.groups[0]!.word = evil;
    report.ffn!.tuned.layers[0]!.components[0]!.words[0] = evil;
    report.tuned.words.forEach((w) => { w.text = evil; });
    report.heads!.tuned.local.instructionVerbs[0]!.verb = evil;
    const html = renderHtml(report);
    checkHtml(html);
    assert.equal(count(html.toLowerCase(), '<script'), 1, 'only the page’s own script');
    const escaped = '&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&#39;&quot;&amp;';
    for (const tab of ['heads', 'ffn', 'summary', 'attribution']) {
      const section = tabOf(html, tab);
      assert.ok(!section.includes('<script') && !section.includes('alert("x")'), `${tab}: nothing raw`);
    }
    assert.ok(tabOf(html, 'heads').includes(escaped), 'heads: shown as text');
    assert.ok(tabOf(html, 'ffn').includes(escaped), 'FFN: shown as text');
    assert.match(tabOf(html, 'attribution'), /<p class="lead" data-lead="attribution">[^<]*&lt;script&gt;/, 'the lead sentence’s word: shown as text');
    assert.match(tabOf(html, 'heads'), /<p class="lead" data-lead="heads">[^<]*&lt;script&gt;/, 'the lead sentence’s verb: shown as text');
  });

  it('shades the raw matrices by gradient sign with classes and colours of their own, not the difference’s', () => {
    const html = renderHtml(savedReport('demo'));
    const raw = html.slice(html.indexOf('id="h-raw"'), html.indexOf('<section class="tab" id="heads"'));
    const cells = [...raw.matchAll(/<td class="num ([a-z]+)\d+">/g)].map((m) => m[1]);
    assert.ok(cells.length > 0);
    assert.deepEqual([...new Set(cells)], ['g'], 'every raw cell on the sign scale');
    const diff = html.slice(html.indexOf('id="h-diff"'), html.indexOf('id="h-words"'));
    assert.ok(/class="t v\d+/.test(diff) && !/class="t g\d+/.test(diff), 'the difference on its own scale');
    // The two scales' rules differ in every bin but zero, in both colour schemes.
    const style = /<style[^>]*>([\s\S]*?)<\/style>/.exec(html)![1]!;
    const rules = (prefix: string) => [...style.matchAll(new RegExp(`\\.${prefix}(\\d+)\\{background:([^;]+);`, 'g'))].map((m) => `${m[1]}:${m[2]}`);
    const v = rules('v');
    const g = rules('g');
    assert.equal(v.length, 2 * DIV_BINS, 'difference bins, light and dark');
    assert.equal(g.length, 2 * DIV_BINS, 'sign bins, light and dark');
    const zero = (DIV_BINS - 1) / 2;
    g.forEach((rule, k) => {
      if (k % DIV_BINS !== zero) assert.notEqual(rule, v[k], `bin ${k % DIV_BINS}`);
    });
  });
});
