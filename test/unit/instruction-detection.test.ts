/**
 * Instruction detection measured on the authors' annotations (shared/paper-attributions): the
 * character-level precision and recall of the detected spans over the 632 prompts, and the request
 * shapes that carry no imperative verb (questions, "Please …", "You are …", "Given …").
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { describe, it } from 'node:test';
import { detectInstructions } from '../../src/explain/instructions.js';
import { detectionCounts, detectionScores, paperInstructionSpans } from '../../src/evaluate/detection-metrics.js';

const repoRoot = resolve(__dirname, '..', '..');
const paperFile = join(repoRoot, '..', 'shared', 'paper-attributions', 'attributions.jsonl.gz');

const spans = (text: string): string[] => detectInstructions(text).spans.map((s) => text.slice(s.start, s.end));

describe('detection metrics', () => {
  it('counts non-whitespace characters, micro-averaged over prompts', () => {
    const text = 'ab cd ef';
    const c = detectionCounts(text, [{ start: 0, end: 5 }], [{ start: 3, end: 8 }]);
    assert.deepEqual(c, { truePositive: 2, falsePositive: 2, falseNegative: 2 });
    const s = detectionScores([c, { truePositive: 4, falsePositive: 0, falseNegative: 0 }]);
    assert.equal(s.precision, 6 / 8);
    assert.equal(s.recall, 6 / 8);
    assert.equal(s.f1, 0.75);
    assert.deepEqual(detectionScores([]), { truePositive: 0, falsePositive: 0, falseNegative: 0, precision: 0, recall: 0, f1: 0 });
  });

  it('reads the paper\'s annotation format: instruction spans before &&&, split on |||', () => {
    const text = 'Write a poem. About cats. Context here.';
    const r = paperInstructionSpans(text, 'Write a poem|||About cats|||not in text&&&Context here');
    assert.deepEqual(r.spans, [{ start: 0, end: 12 }, { start: 14, end: 24 }]);
    assert.equal(r.missing, 1);
  });
});

describe('request shapes without an imperative verb', () => {
  it('marks questions, with or without a question mark', () => {
    assert.deepEqual(spans('My dog barks at night. What should I do?'), ['What should I do?']);
    assert.deepEqual(spans('How many integers are in the solution of |x + 5| < 10'), ['How many integers are in the solution of |x + 5| < 10']);
  });

  it('marks "Please …", "You are …", "Given …", first-person requests and passive obligations', () => {
    assert.deepEqual(spans('Please be concise. The sky is blue.'), ['Please be concise.']);
    assert.deepEqual(spans('You are given two questions. They were asked online.'), ['You are given two questions.']);
    assert.deepEqual(spans('Given a <span> in HTML I want to change its colour.'), ['Given a <span> in HTML I want to change its colour.']);
    assert.deepEqual(spans('I would appreciate it if you wrote an introduction.'), ['I would appreciate it if you wrote an introduction.']);
    assert.deepEqual(spans('The given text must be classified as offensive or not.'), ['The given text must be classified as offensive or not.']);
    assert.deepEqual(spans('Invent a plot. Your plot should have a title. Plots can be long.'), ['Invent a plot.', 'Your plot should have a title.']);
  });

  it('leaves labels, statements and narrative alone', () => {
    assert.deepEqual(spans('Question: what is 2 + 2?\nAnswer:'), []);
    assert.deepEqual(spans('Input: why not?\nOutput:'), []);
    assert.deepEqual(spans('When you are stuck, the docs help. Where we live it rains.'), []);
    assert.deepEqual(spans('The words: red horse shoe key.\nCapitalize:'), ['Capitalize:']);
    assert.deepEqual(spans('I wrote a letter yesterday. It was long.'), []);
  });
});

describe('detection on the paper\'s 632 annotated prompts', () => {
  it('reaches character-level F1 ≥ 0.75 with precision ≥ 0.80', () => {
    const lines = gunzipSync(readFileSync(paperFile)).toString('utf8').split('\n').filter((l) => l.trim());
    const seen = new Set<string>();
    const counts = [];
    let missing = 0;
    for (const line of lines) {
      const r = JSON.parse(line) as { id: string; prompt: string; instruct: string };
      if (seen.has(r.id)) continue;
      seen.add(r.id);
      const gold = paperInstructionSpans(r.prompt, r.instruct);
      missing += gold.missing;
      counts.push(detectionCounts(r.prompt, detectInstructions(r.prompt).spans, gold.spans));
    }
    assert.equal(seen.size, 632);
    assert.equal(missing, 0, 'every annotated span is found in its prompt');
    const s = detectionScores(counts);
    console.log(`detection on 632 prompts: precision ${s.precision.toFixed(3)}, recall ${s.recall.toFixed(3)}, F1 ${s.f1.toFixed(3)}`);
    assert.ok(s.precision >= 0.8, `precision ${s.precision}`);
    assert.ok(s.f1 >= 0.75, `F1 ${s.f1}`);
  });
});
