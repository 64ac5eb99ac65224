import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LensError } from '../../src/model/errors.js';
import { detectInstructions, instructionMask, splitSentences } from '../../src/explain/instructions.js';
import { DEFAULT_INSTRUCTION_VERBS, PAPER_INSTRUCTION_VERBS, matchInstructionVerb, verbForms } from '../../src/explain/instruction-lexicon.js';

/** The text of each detected span. */
function spans(text: string): string[] {
  return detectInstructions(text).spans.map((s) => text.slice(s.start, s.end));
}
function verbs(text: string): string[] {
  return detectInstructions(text).verbs.map((v) => `${v.verb}:${text.slice(v.start, v.end)}`);
}

describe('verbForms and matchInstructionVerb', () => {
  it('holds the paper\'s verbs and British spellings', () => {
    for (const v of PAPER_INSTRUCTION_VERBS) assert.ok(DEFAULT_INSTRUCTION_VERBS.includes(v), v);
    for (const v of ['answer', 'provide', 'suggest', 'capitalize', 'summarise', 'analyse', 'capitalise', 'imagine', 'use']) {
      assert.ok(DEFAULT_INSTRUCTION_VERBS.includes(v), v);
    }
    assert.equal(new Set(DEFAULT_INSTRUCTION_VERBS).size, DEFAULT_INSTRUCTION_VERBS.length, 'no duplicates');
  });

  it('generates regular inflections: -s/-es/-ies, -ed/-d/-ied, -ing with e-drop and doubling', () => {
    assert.deepEqual(verbForms('plan'), ['plan', 'plans', 'planned', 'planning']);
    assert.deepEqual(verbForms('classify'), ['classify', 'classifies', 'classified', 'classifying']);
    assert.deepEqual(verbForms('use'), ['use', 'uses', 'used', 'using']);
    assert.deepEqual(verbForms('fix'), ['fix', 'fixes', 'fixed', 'fixing']);
    assert.deepEqual(verbForms('edit'), ['edit', 'edits', 'edited', 'editing']);
    assert.deepEqual(verbForms('format'), ['format', 'formats', 'formatted', 'formatting']);
    assert.deepEqual(verbForms('play'), ['play', 'plays', 'played', 'playing']);
    assert.deepEqual(verbForms('label'), ['label', 'labels', 'labeled', 'labelled', 'labeling', 'labelling']);
    assert.deepEqual(verbForms('summarise'), ['summarise', 'summarises', 'summarised', 'summarising']);
  });

  it('uses the irregulars table', () => {
    assert.deepEqual(verbForms('write'), ['write', 'writes', 'wrote', 'written', 'writing']);
    assert.deepEqual(verbForms('make'), ['make', 'makes', 'made', 'making']);
    assert.deepEqual(verbForms('choose'), ['choose', 'chooses', 'chose', 'chosen', 'choosing']);
    assert.deepEqual(verbForms('split'), ['split', 'splits', 'splitting']);
  });

  it('maps any form back to its base verb, case-insensitively', () => {
    const cases: [string, string | null][] = [
      ['writes', 'write'], ['Wrote', 'write'], ['written', 'write'], ['writing', 'write'],
      ['made', 'make'], ['gave', 'give'], ['given', 'give'], ['found', 'find'], ['told', 'tell'],
      ['chose', 'choose'], ['chosen', 'choose'], ['planning', 'plan'], ['copies', 'copy'],
      ['SUMMARIZED', 'summarize'], ['summarising', 'summarise'], ['analysed', 'analyse'],
      ['capitalises', 'capitalise'], ['lists', 'list'], ['converting', 'convert'],
      ['walked', null], ['the', null], ['writer', null], ["don't", null], ['', null],
    ];
    for (const [word, base] of cases) assert.equal(matchInstructionVerb(word), base, word);
    assert.equal(matchInstructionVerb('walked', ['walk']), 'walk', 'a custom list');
  });

  it('rejects a verb that is not letters', () => {
    assert.throws(() => verbForms('re-write'), LensError);
  });
});

describe('splitSentences', () => {
  it('splits at terminal punctuation, line breaks and bullets, not after abbreviations', () => {
    const text = 'Dr. Smith arrived, e.g. at noon. Was it late?\n- first item\n  2) second item!\n\nLast one';
    assert.deepEqual(
      splitSentences(text).map((s) => text.slice(s.start, s.end)),
      ['Dr. Smith arrived, e.g. at noon.', 'Was it late?', 'first item', 'second item!', 'Last one'],
    );
  });
});

describe('detectInstructions', () => {
  it('marks the imperative sentence after a context sentence', () => {
    const text = 'Here is an article about whales. Summarize it in two sentences.';
    const d = detectInstructions(text);
    assert.equal(d.source, 'detected');
    assert.deepEqual(d.spans, [{ start: 33, end: text.length }]);
    assert.deepEqual(d.verbs, [{ verb: 'summarize', form: 'Summarize', start: 33, end: 42 }]);
  });

  it('skips "please" and keeps the colon-introduced instruction', () => {
    const text = 'Please translate the following into French:\nThe weather is nice today.';
    assert.deepEqual(spans(text), ['Please translate the following into French:']);
    assert.deepEqual(verbs(text), ['translate:translate']);
  });

  it('does not mark a narrative with a past-tense verb', () => {
    assert.deepEqual(spans('I wrote a letter yesterday.'), []);
    assert.deepEqual(spans('Written in 1850, the novel is long. Found in 1900, the firm grew.'), []);
    assert.deepEqual(spans('She gave him the book and told him to read it.'), []);
  });

  it('treats bullet and numbered items as sentences', () => {
    const text = 'Things to do:\n- write a haiku about rain\n* list three birds\n1. Name a colour.\n2) Design is hard.\n(a) also explain why';
    assert.deepEqual(spans(text), ['write a haiku about rain', 'list three birds', 'Name a colour.', 'also explain why']);
  });

  it('finds verbs after cues anywhere in a sentence', () => {
    const text =
      "I'm writing a paper. Help me write its introduction. I want you to act as a translator. " +
      'Your task is to classify the tweet. You should also explain your answer. Can you please tell me a joke? ' +
      'Make sure to format it as JSON.';
    assert.deepEqual(spans(text), [
      'Help me write its introduction.',
      'I want you to act as a translator.',
      'Your task is to classify the tweet.',
      'You should also explain your answer.',
      'Can you please tell me a joke?',
      'Make sure to format it as JSON.',
    ]);
    assert.deepEqual(verbs(text), ['help:Help', 'write:write', 'act:act', 'classify:classify', 'explain:explain', 'tell:tell', 'make:Make', 'format:format']);
  });

  it('finds a verb at a clause start after a comma or semicolon, with lead-ins', () => {
    assert.deepEqual(spans('Given the list below, sort the numbers in ascending order.'), ['Given the list below, sort the numbers in ascending order.']);
    assert.deepEqual(spans('Hello, then rewrite this paragraph; do not use jargon.'), ['Hello, then rewrite this paragraph; do not use jargon.']);
    assert.deepEqual(verbs('Hello, then rewrite this paragraph; do not use jargon.'), ['rewrite:rewrite', 'use:use']);
  });

  it('records verbs coordinated with an instruction, but they do not mark a sentence alone', () => {
    assert.deepEqual(verbs('Read the passage and answer the questions.'), ['read:Read', 'answer:answer']);
    assert.deepEqual(spans('I like to read and write.'), []);
  });

  it('does not take noun uses of noun-like verbs for instructions', () => {
    assert.deepEqual(spans('Output: 42\nAnswer: yes\nUse of force is never right. List of birds: robin, wren.'), []);
    assert.deepEqual(spans('Design is hard. Copy machines are loud.'), []);
    assert.deepEqual(spans('I bought eggs, copy paper, and pens.'), []);
    assert.deepEqual(spans('Given the text, list the names.'), ['Given the text, list the names.']);
  });

  it('takes a task verb with a colon that ends the prompt for an instruction, but not an answer cue', () => {
    assert.deepEqual(spans('The words: red horse shoe key.\nReverse:'), ['Reverse:']);
    assert.deepEqual(spans('The words: red key.\nSort: \n'), ['Sort:']);
    assert.deepEqual(spans('Copy: 3 pages\nCount: 12'), []);
    assert.deepEqual(spans('Question: what is 2 + 2?\nAnswer:'), []);
    assert.deepEqual(spans('Input: a b c\nOutput:'), []);
  });

  it('works with offsets after emoji and multi-byte text', () => {
    const text = '🧙‍♂️ Café story. Résumez ceci. Rewrite it for kids 👶.';
    const d = detectInstructions(text);
    assert.deepEqual(d.spans.map((s) => text.slice(s.start, s.end)), ['Rewrite it for kids 👶.']);
    assert.equal(text.slice(d.verbs[0]!.start, d.verbs[0]!.end), 'Rewrite');
  });

  it('lets user-given spans override detection (verbs: the detected ones inside them)', () => {
    const text = 'Summarize this. The cat wrote nothing.';
    const d = detectInstructions(text, { spans: [{ start: 16, end: 38 }] });
    assert.equal(d.source, 'user');
    assert.deepEqual(d.spans, [{ start: 16, end: 38 }]);
    assert.deepEqual(d.verbs, []);
    const e = detectInstructions(text, { spans: [{ start: 5, end: 10 }, { start: 0, end: 6 }] });
    assert.deepEqual(e.spans, [{ start: 0, end: 10 }], 'sorted and merged');
    assert.deepEqual(e.verbs.map((v) => v.verb), ['summarize']);
    assert.deepEqual(detectInstructions(text, { spans: [] }).spans, [], 'an empty list also overrides');
    assert.throws(() => detectInstructions(text, { spans: [{ start: 0, end: 99 }] }), LensError);
  });

  it('accepts a custom verb list', () => {
    assert.deepEqual(spans('Summarize this. Frobnicate that.'), ['Summarize this.']);
    assert.equal(detectInstructions('Summarize this. Frobnicate that.', { verbs: ['frobnicate'] }).spans.length, 1);
  });
});

describe('instructionMask', () => {
  it('marks the tokens that overlap a span', () => {
    const tokens = [
      { start: 0, end: 0 }, // BOS
      { start: 0, end: 4 },
      { start: 4, end: 9 },
      { start: 9, end: 12 },
      { start: 12, end: 15 },
    ];
    assert.deepEqual(instructionMask(tokens, [{ start: 5, end: 10 }]), [0, 0, 1, 1, 0]);
    assert.deepEqual(instructionMask(tokens, [{ start: 4, end: 4 }]), [0, 0, 0, 0, 0]);
    assert.deepEqual(instructionMask(tokens, [{ start: 0, end: 1 }, { start: 14, end: 15 }]), [0, 1, 0, 0, 1]);
    assert.deepEqual(instructionMask(tokens, []), [0, 0, 0, 0, 0]);
  });
});

describe('detectInstructions on code and labels', () => {
  it('does not take code or two-word labels for instructions, but keeps parenthesised prose', () => {
    assert.deepEqual(spans('answer = input(question)\nprint("No.")\nlist[0] = 1\nGrade level: 9-10'), []);
    assert.deepEqual(spans('Explain (briefly) why the sky is blue.'), ['Explain (briefly) why the sky is blue.']);
  });
});
