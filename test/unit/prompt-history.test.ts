// The prompt engineer's loop, its pure parts: the analysed range follows edits (not dropped), the
// untouched tokens keep their place, and a prompt's runs say how the score and the words moved.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { followRange, mapSpan } from '../../src/shared/text-range.js';
import { HISTORY_RUNS, appendRun, describeMoves, runMoves, summarizeRun } from '../../src/view/history.js';
import type { PanelReport } from '../../src/contract/panel.js';
import type { ModelReport } from '../../src/contract/report.js';
import { fixtureReport } from '../support/report-fixture.js';

describe('analysed range under edits', () => {
  it('follows an edit inside it instead of dropping it', () => {
    // "Capitalize" at 31..41 of a 42-character prompt at offset 100, replaced by "Reverse".
    assert.deepEqual(followRange(100, 42, { rangeOffset: 131, rangeLength: 10, text: 'Reverse' }), { offset: 100, length: 39, touched: true });
    assert.deepEqual(followRange(100, 42, { rangeOffset: 0, rangeLength: 0, text: 'xx' }), { offset: 102, length: 42, touched: false });
    assert.deepEqual(followRange(100, 42, { rangeOffset: 142, rangeLength: 0, text: '!' }), { offset: 100, length: 42, touched: false }, 'typing after the prompt');
    assert.deepEqual(followRange(100, 42, { rangeOffset: 90, rangeLength: 20, text: 'ab' }), { offset: 90, length: 34, touched: true }, 'an edit over its start');
    assert.deepEqual(followRange(100, 42, { rangeOffset: 100, rangeLength: 42, text: '' }), { offset: 100, length: 0, touched: true });
  });

  it('keeps the place of the characters an edit left alone', () => {
    const changes = [{ rangeOffset: 131, rangeLength: 10, text: 'Reverse' }];
    assert.deepEqual(mapSpan(104, 109, changes), { start: 104, end: 109 }, 'before the edit');
    assert.equal(mapSpan(131, 141, changes), null, 'the edited word');
    assert.deepEqual(mapSpan(141, 142, changes), { start: 138, end: 139 }, 'after the edit: shifted');
    assert.equal(mapSpan(100, 110, [{ rangeOffset: 105, rangeLength: 0, text: 'x' }]), null, 'an insertion inside');
    assert.deepEqual(mapSpan(100, 110, [{ rangeOffset: 0, rangeLength: 0, text: 'ab' }, { rangeOffset: 200, rangeLength: 3, text: '' }]), { start: 102, end: 112 });
  });
});

function withModel(report: PanelReport, role: 'base' | 'tuned', score: number, words: [string, number][]): PanelReport {
  const m = report[role]!;
  const model: ModelReport = { ...m, instructionScore: score, words: words.map(([text, density], k) => ({ text, density, start: k * 10, end: k * 10 + text.length, tokenIndices: [k] })) };
  return { ...report, [role]: model };
}

describe('a prompt’s runs', () => {
  const fixture = fixtureReport() as PanelReport;
  const first = withModel(withModel(fixture, 'base', 0.2, [['The', 0.1], ['words', 0.4], ['Capitalize', 0.25]]), 'tuned', 0.3, [['The', 0.05], ['words', 0.5], ['Capitalize', 0.3]]);
  const second = withModel(withModel(fixture, 'base', 0.21, [['The', 0.1], ['words', 0.45], ['Reverse', 0.2]]), 'tuned', 0.99, [['The', 0.02], ['words', 0.4], ['Reverse', 0.98]]);
  const many = (prefix: string, edited: string): [string, number][] => [...Array.from({ length: 8 }, (_, k): [string, number] => [`${prefix}${k}`, 0.9 - k * 0.1]), [edited, 0.01]];

  it('says how the score and the strongest words moved', () => {
    const a = summarizeRun(1, first);
    const b = summarizeRun(2, second);
    assert.deepEqual(a.words.tuned!.map((w) => w.text), ['words', 'Capitalize', 'The'], 'strongest first');
    const lines = describeMoves(runMoves(a, b));
    assert.equal(lines.length, 2);
    assert.equal(lines[1], "tuned 0.30 → 0.99; 'Reverse' – → 0.98, 'words' 0.50 → 0.40, 'The' 0.05 → 0.02, 'Capitalize' 0.30 → –");
    assert.match(lines[0]!, /^base 0\.20 → 0\.21; 'words' 0\.40 → 0\.45/);
  });

  it('names the edited words even when they are weak', () => {
    const a = summarizeRun(1, withModel(first, 'tuned', 0.3, many('w', 'Capitalize')));
    const b = summarizeRun(2, withModel(first, 'tuned', 0.4, many('w', 'Reverse')));
    const tuned = describeMoves(runMoves(a, b))[1]!;
    assert.match(tuned, /'Reverse' – → 0\.01/);
    assert.match(tuned, /'Capitalize' 0\.01 → –/);
    assert.match(tuned, /^tuned 0\.30 → 0\.40; 'w0' 0\.90 → 0\.90/);
  });

  it('keeps the last runs only, one entry per run', () => {
    let history = appendRun([], summarizeRun(1, first));
    history = appendRun(history, summarizeRun(1, second));
    assert.equal(history.length, 1, 'a run updated (a section computed later) replaces its entry');
    for (let id = 2; id < 20; id++) history = appendRun(history, summarizeRun(id, second));
    assert.equal(history.length, HISTORY_RUNS);
    assert.equal(history.at(-1)!.id, 19);
    const other: PanelReport = { ...second, tuned: { ...second.tuned!, model: { ...second.tuned!.model, id: 'someone/other-model' } } };
    assert.deepEqual(appendRun(history, summarizeRun(20, other)).map((r) => r.id), [20], 'other models start a new history');
  });

  it('compares only the models both runs have', () => {
    const single: PanelReport = { ...first, base: undefined };
    assert.deepEqual(runMoves(summarizeRun(1, single), summarizeRun(2, second)).map((m) => m.role), ['tuned']);
  });
});
