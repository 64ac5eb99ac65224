// Measures the demo pair (models/demo) on held-out prompts with the project's own pipeline:
// greedy generation and gradient × input attribution through attributeModel (src/explain), the
// paper's importance density and instruction score, and a Welch t-test between the two models'
// instruction scores (the paper's Table 2 in miniature). `npm run eval-demo` prints it;
// test/unit/demo-models.test.ts asserts the figures models/demo/README.md states.

import { loadCheckpoint } from '../model/checkpoint.js';
import { encodePrompt } from '../model/prompt.js';
import { LlamaRunner } from '../llm/runner.js';
import { attributeModel } from '../explain/attribution.js';
import type { ModelReport } from '../explain/report.js';
import { DEMO_RECIPE } from './demo.js';
import { welchTTest, type WelchResult } from './stats.js';
import { TASKS, TASK_VERBS, evaluationExamples, instructionSpan, type Task, type TaskExample } from './world.js';

/** Held-out inputs evaluated; each is asked with all six verbs. */
export const EVALUATION_INPUTS = 20;
/** Long enough for every expected answer (5 words + end-of-text) and for a base model to show it does something else. */
export const EVALUATION_MAX_NEW_TOKENS = 12;

export interface ModelOutcome {
  /** The model's greedy response (the attributed one, unless the expected response was given). */
  response: string;
  /** The greedy response is exactly the expected answer, and generation stopped there (end-of-text). */
  correct: boolean;
  instructionScore: number;
  /** Competition rank of the instruction verb's importance density among the prompt tokens (1 = highest; ties share the better rank). */
  verbRank: number;
  /** The same with ties counted against the verb (the number of tokens with density ≥ the verb's). */
  verbRankPessimistic: number;
  verbDensity: number;
  density: number[];
}

export interface EvaluatedPrompt {
  task: Task;
  words: string[];
  prompt: string;
  expected: string;
  base: ModelOutcome;
  tuned: ModelOutcome;
}

export interface ModelSummary {
  /** Share of prompts answered exactly (greedy). */
  accuracy: number;
  perTask: Record<Task, number>;
  meanInstructionScore: number;
  /** Share of prompts whose verb ranks in the top 3 prompt tokens by importance density (competition ranking). */
  verbTop3: number;
  /** The same with ties counted against the verb. */
  verbTop3Pessimistic: number;
}

export interface DemoEvaluation {
  prompts: number;
  response: 'own' | 'expected';
  base: ModelSummary;
  tuned: ModelSummary;
  /** Welch's t-test, tuned vs base instruction scores. */
  welch: WelchResult;
  results: EvaluatedPrompt[];
  seconds: number;
}

/** The model's greedy response to a raw prompt, as attributeModel would generate it. */
async function greedyResponse(runner: LlamaRunner, prompt: string): Promise<string> {
  const { inputIds } = await encodePrompt(runner.checkpoint, prompt, 'raw');
  const ids = await runner.generate(inputIds, { maxNewTokens: EVALUATION_MAX_NEW_TOKENS });
  return runner.checkpoint.tokenizer.tokenizer.decode(ids, true);
}

function outcome(report: ModelReport, example: TaskExample, greedy: string): ModelOutcome {
  const verbStart = example.prompt.indexOf(TASK_VERBS[example.task]);
  const verbEnd = verbStart + TASK_VERBS[example.task].length;
  const verbToken = report.tokens.findIndex((t) => t.start <= verbStart && t.end >= verbEnd);
  if (verbToken < 0) throw new Error(`the verb of ${JSON.stringify(example.prompt)} is not one token`);
  const d = report.density;
  const verbDensity = d[verbToken]!;
  const higher = d.filter((v, i) => i !== verbToken && v > verbDensity).length;
  const notLower = d.filter((v, i) => i !== verbToken && v >= verbDensity).length;
  return {
    response: greedy,
    correct: greedy === example.response,
    instructionScore: report.instructionScore,
    verbRank: verbDensity > 0 ? higher + 1 : d.length,
    verbRankPessimistic: verbDensity > 0 ? notLower + 1 : d.length,
    verbDensity,
    density: d,
  };
}

function summarize(results: EvaluatedPrompt[], which: 'base' | 'tuned'): ModelSummary {
  const share = (xs: EvaluatedPrompt[], f: (o: ModelOutcome) => boolean) => xs.filter((r) => f(r[which])).length / xs.length;
  const perTask = Object.fromEntries(TASKS.map((t) => [t, share(results.filter((r) => r.task === t), (o) => o.correct)])) as Record<Task, number>;
  return {
    accuracy: share(results, (o) => o.correct),
    perTask,
    meanInstructionScore: results.reduce((a, r) => a + r[which].instructionScore, 0) / results.length,
    verbTop3: share(results, (o) => o.verbRank <= 3),
    verbTop3Pessimistic: share(results, (o) => o.verbRankPessimistic <= 3),
  };
}

export interface EvaluateOptions {
  base: string;
  tuned: string;
  /**
   * `own` (default, the paper's setting): each model's own greedy response is attributed.
   * `expected`: both models are attributed on the same, expected response (a controlled variant).
   */
  response?: 'own' | 'expected';
  seed?: number;
  inputs?: number;
  onProgress?: (done: number, total: number) => void;
}

/**
 * Each held-out prompt goes to both models the same way (raw text). Each model's response is its
 * own greedy generation — the paper's setting: attribution explains what the model did — and the
 * instruction span is the instruction sentence ("Reverse the words:"), given explicitly.
 */
export async function evaluateDemo(options: EvaluateOptions): Promise<DemoEvaluation> {
  const started = performance.now();
  const examples = evaluationExamples(options.seed ?? DEMO_RECIPE.seed, options.inputs ?? EVALUATION_INPUTS);
  const runners = {
    base: new LlamaRunner(loadCheckpoint(options.base), { provider: 'cpu' }),
    tuned: new LlamaRunner(loadCheckpoint(options.tuned), { provider: 'cpu' }),
  };
  const results: EvaluatedPrompt[] = [];
  try {
    for (const example of examples) {
      const request = {
        prompt: example.prompt,
        response: options.response === 'expected' ? example.response : undefined,
        format: 'raw' as const,
        maxNewTokens: EVALUATION_MAX_NEW_TOKENS,
        instructionSpans: [instructionSpan(example.prompt)],
      };
      const base = await attributeModel(runners.base, options.base, request);
      const tuned = await attributeModel(runners.tuned, options.tuned, request);
      const own = request.response === undefined;
      results.push({
        task: example.task,
        words: example.words,
        prompt: example.prompt,
        expected: example.response,
        base: outcome(base, example, own ? base.response.text : await greedyResponse(runners.base, example.prompt)),
        tuned: outcome(tuned, example, own ? tuned.response.text : await greedyResponse(runners.tuned, example.prompt)),
      });
      options.onProgress?.(results.length, examples.length);
    }
  } finally {
    await runners.base.dispose();
    await runners.tuned.dispose();
  }
  return {
    prompts: results.length,
    response: options.response ?? 'own',
    base: summarize(results, 'base'),
    tuned: summarize(results, 'tuned'),
    welch: welchTTest(results.map((r) => r.tuned.instructionScore), results.map((r) => r.base.instructionScore)),
    results,
    seconds: (performance.now() - started) / 1000,
  };
}

const pct = (x: number) => `${(100 * x).toFixed(1)}%`;

/** A plain-text table of the figures. */
export function formatEvaluation(e: DemoEvaluation): string {
  const lines = [
    `${e.prompts} held-out prompts (${e.prompts / TASKS.length} inputs × ${TASKS.length} verbs), ${e.seconds.toFixed(0)} s; attributed response: ${e.response === 'own' ? "each model's own greedy response" : 'the expected response, for both models'}`,
    '',
    `                               base      tuned`,
    `follows the instruction      ${pct(e.base.accuracy).padStart(6)}     ${pct(e.tuned.accuracy).padStart(6)}`,
    ...TASKS.map((t) => `  ${t.padEnd(27)}${pct(e.base.perTask[t]).padStart(6)}     ${pct(e.tuned.perTask[t]).padStart(6)}`),
    `mean instruction score       ${e.base.meanInstructionScore.toFixed(4).padStart(6)}     ${e.tuned.meanInstructionScore.toFixed(4).padStart(6)}`,
    `verb in top 3 by density     ${pct(e.base.verbTop3).padStart(6)}     ${pct(e.tuned.verbTop3).padStart(6)}`,
    `  ties counted against it    ${pct(e.base.verbTop3Pessimistic).padStart(6)}     ${pct(e.tuned.verbTop3Pessimistic).padStart(6)}`,
    '',
    `Welch t-test, tuned vs base instruction score: t = ${e.welch.t.toFixed(3)}, df = ${e.welch.df.toFixed(1)}, p (two-sided) = ${e.welch.pTwoSided.toExponential(2)}`,
  ];
  return lines.join('\n');
}

// --- the card (models/demo/README.md) holds the table between two markers; `npm run eval-demo --
// --card` rewrites it, and the demo test compares it with a fresh measurement.

export const CARD_BEGIN = '<!-- eval-demo: begin (written by `npm run eval-demo -- --card`) -->';
export const CARD_END = '<!-- eval-demo: end -->';

/** Where the card's table block is: [just after the begin marker, at the end marker). */
function cardBlock(card: string): [number, number] {
  const begin = card.indexOf(CARD_BEGIN);
  const end = card.indexOf(CARD_END);
  if (begin < 0 || end < begin) throw new Error(`the card has no "${CARD_BEGIN}" … "${CARD_END}" block`);
  return [begin + CARD_BEGIN.length, end];
}

/** The card's text with the block between the markers replaced by this evaluation's table. */
export function withCardTable(card: string, e: DemoEvaluation): string {
  const [begin, end] = cardBlock(card);
  return `${card.slice(0, begin)}\n\`\`\`text\n${formatEvaluation(e)}\n\`\`\`\n${card.slice(end)}`;
}

export interface CardFigures {
  accuracy: { base: number; tuned: number };
  meanInstructionScore: { base: number; tuned: number };
  verbTop3: { base: number; tuned: number };
  pTwoSided: number;
}

/** The figures a card's table states (shares as fractions). */
export function cardFigures(card: string): CardFigures {
  const block = card.slice(...cardBlock(card));
  const row = (label: string, percent: boolean) => {
    const m = new RegExp(`^${label}\\s+([\\d.]+)%?\\s+([\\d.]+)%?\\s*$`, 'm').exec(block);
    if (!m) throw new Error(`the card's table has no "${label}" row`);
    const scale = percent ? 100 : 1;
    return { base: Number(m[1]) / scale, tuned: Number(m[2]) / scale };
  };
  const p = /p \(two-sided\) = ([\d.e+-]+)/.exec(block);
  if (!p) throw new Error("the card's table has no p-value");
  return {
    accuracy: row('follows the instruction', true),
    meanInstructionScore: row('mean instruction score', false),
    verbTop3: row('verb in top 3 by density', true),
    pTwoSided: Number(p[1]),
  };
}
