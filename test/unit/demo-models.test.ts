/**
 * The embedded demo pair (models/demo): its held-out prompts are disjoint from everything it was
 * trained on, and the figures its card states hold when measured with the project's own pipeline
 * (greedy generation and attribution through attributeModel). Loads the committed models; does
 * not retrain.
 */
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { projectRoot } from '../../src/model/default-model.js';
import { loadCheckpoint } from '../../src/model/checkpoint.js';
import { DEMO_RECIPE } from '../../src/train/demo.js';
import { EVALUATION_INPUTS, cardFigures, evaluateDemo, formatEvaluation, type DemoEvaluation } from '../../src/train/evaluate-demo.js';
import { FRENCH, ITEMS, TASKS, TASK_VERBS, corpusDocuments, evaluationExamples, isHeldOut, setKey, taskAnswer, taskPrompt, taskResponse, tuningExamples } from '../../src/train/world.js';

const root = join(projectRoot(__dirname), 'models', 'demo');
const base = join(root, 'base');
const tuned = join(root, 'tuned');

describe('demo pair: held-out prompts', () => {
  const evaluation = evaluationExamples(DEMO_RECIPE.seed, EVALUATION_INPUTS);

  it('are at least 100, every task with every input', () => {
    assert.ok(evaluation.length >= 100, `${evaluation.length} prompts`);
    assert.equal(evaluation.length, EVALUATION_INPUTS * TASKS.length);
    for (const e of evaluation) assert.ok(isHeldOut(e.words), `${e.words} is not in the held-out split`);
  });

  it('share no input with the training data: no training text lists a held-out set of words, in any order', () => {
    const corpusLists: string[][] = [];
    const documents = corpusDocuments(DEMO_RECIPE.seed, DEMO_RECIPE.base.documents, (words) => corpusLists.push(words));
    const tuning = tuningExamples(DEMO_RECIPE.seed, DEMO_RECIPE.tuning.examples);
    assert.ok(corpusLists.length > 10000 && tuning.length === DEMO_RECIPE.tuning.examples);
    const inputs = evaluation.filter((_, i) => i % TASKS.length === 0).map((e) => e.words);
    const heldOutSets = new Set(inputs.map(setKey));
    assert.equal(heldOutSets.size, EVALUATION_INPUTS, 'every held-out input is a different set of words');
    for (const words of [...corpusLists, ...tuning.map((e) => e.words)]) assert.ok(!heldOutSets.has(setKey(words)), `training list ${words} is a held-out input`);
    // Independently of how the generators record their lists: every run of task words in a
    // training text (separated by spaces, commas or "and"; capitalized or in French counted as the
    // word) is read back, and none is a held-out set.
    const item = new Map<string, string>(ITEMS.flatMap((w) => [[w, w], [FRENCH[w]!, w]] as [string, string][]));
    const runs = (text: string): string[][] => {
      const out: string[][] = [];
      let run: string[] = [];
      for (const piece of text.match(/[A-Za-z]+|[^A-Za-z]+/g) ?? []) {
        const word = item.get(piece.toLowerCase());
        if (word) run.push(word);
        else if (!(piece === ' ' || piece === ', ' || piece === 'and')) {
          if (run.length) out.push(run);
          run = [];
        }
      }
      if (run.length) out.push(run);
      return out;
    };
    assert.deepEqual(runs('The words: red horse shoe key.\nSorted: Horse, key and red'), [['red', 'horse', 'shoe', 'key'], ['horse', 'key', 'red']]);
    let read = 0;
    for (const text of [...documents, ...tuning.map((e) => e.prompt + e.response)]) {
      for (const run of runs(text)) {
        read++;
        assert.ok(!heldOutSets.has(setKey(run)), `training text lists the held-out input ${setKey(run)}: ${JSON.stringify(text)}`);
      }
    }
    assert.ok(read > 100000, `${read} lists read`);
  });

  it('the base corpus never gives an instruction: no imperative task verb, no prompt format', () => {
    const documents = corpusDocuments(DEMO_RECIPE.seed, DEMO_RECIPE.base.documents);
    for (const doc of documents) {
      for (const verb of Object.values(TASK_VERBS)) assert.ok(!new RegExp(`\\b${verb}(:| them\\b| the words\\b)`).test(doc), doc);
      assert.ok(!doc.includes('The words:'), doc);
    }
  });
});

describe('demo pair: committed models', () => {
  it('are Llama checkpoints of at most 20 MB together, with the same tokenizer', () => {
    let bytes = 0;
    for (const dir of [base, tuned]) {
      for (const f of readdirSync(dir)) bytes += statSync(join(dir, f)).size;
      const checkpoint = loadCheckpoint(dir);
      assert.equal(checkpoint.config.architecture, 'LlamaForCausalLM');
    }
    assert.ok(bytes <= 20 * 2 ** 20, `${bytes} bytes`);
    const a = loadCheckpoint(base).tokenizer, b = loadCheckpoint(tuned).tokenizer;
    assert.equal(a.vocabSize, b.vocabSize);
  });

  it('every task word and verb is one token; a raw prompt starts with the beginning-of-sequence token', async () => {
    const { tokenizer } = loadCheckpoint(tuned).tokenizer;
    for (const task of TASKS) {
      const words = ITEMS.slice(TASKS.indexOf(task) * 5, TASKS.indexOf(task) * 5 + 5);
      const ids = (await tokenizer.encode(taskPrompt(task, words), null, { addSpecialTokens: true })).getIds();
      // <bos> The words : w1..w5 . \n Verb :
      assert.equal(ids.length, 1 + 3 + 5 + 2 + 2, task);
      assert.equal(ids[0], 0);
      const response = (await tokenizer.encode(taskResponse(task, words), null, { addSpecialTokens: false })).getIds();
      assert.equal(response.length, 2 + taskAnswer(task, words).length, task);
    }
  });
});

describe('demo pair: measured on held-out prompts (models/demo/README.md)', () => {
  let result: DemoEvaluation;
  before(async () => {
    result = await evaluateDemo({ base, tuned });
  });

  it('the tuned model follows the instruction on ≥ 80% of them, the base model on ≤ 20%', (t) => {
    t.diagnostic(formatEvaluation(result));
    assert.ok(result.prompts >= 100);
    assert.ok(result.tuned.accuracy >= 0.8, `tuned ${result.tuned.accuracy}`);
    assert.ok(result.base.accuracy <= 0.2, `base ${result.base.accuracy}`);
  });

  it("the tuned model's mean instruction score exceeds the base model's (Welch t-test, p < 0.01)", () => {
    assert.ok(result.tuned.meanInstructionScore > result.base.meanInstructionScore);
    assert.ok(result.welch.t > 0 && result.welch.pTwoSided < 0.01, `t = ${result.welch.t}, p = ${result.welch.pTwoSided}`);
  });

  it("the tuned model ranks the instruction verb among its top 3 prompt tokens on ≥ 70% of them", () => {
    assert.ok(result.tuned.verbTop3 >= 0.7, `${result.tuned.verbTop3}`);
  });

  it('the card states these figures (to within float rounding on another CPU: one prompt, 0.01 of a score)', () => {
    const card = cardFigures(readFileSync(join(root, 'README.md'), 'utf8'));
    const prompt = 1 / result.prompts + 1e-9;
    for (const m of ['base', 'tuned'] as const) {
      assert.ok(Math.abs(card.accuracy[m] - result[m].accuracy) <= prompt, `${m} accuracy: card ${card.accuracy[m]}, measured ${result[m].accuracy}`);
      assert.ok(Math.abs(card.verbTop3[m] - result[m].verbTop3) <= prompt, `${m} verb top 3: card ${card.verbTop3[m]}, measured ${result[m].verbTop3}`);
      assert.ok(Math.abs(card.meanInstructionScore[m] - result[m].meanInstructionScore) <= 0.01, `${m} score: card ${card.meanInstructionScore[m]}, measured ${result[m].meanInstructionScore}`);
    }
    assert.ok(card.pTwoSided < 0.01);
  });
});
