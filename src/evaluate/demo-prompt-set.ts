/**
 * The demo pair's held-out prompts (src/train/evaluate-demo.ts, models/demo/README.md) as an
 * evaluate prompt set: one line per prompt, grouped by task, with the instruction line given as a
 * character range (the card's setting). `scripts/demo-prompt-set.ts` writes it.
 */
import { DEMO_RECIPE } from '../train/demo.js';
import { EVALUATION_INPUTS } from '../train/evaluate-demo.js';
import { evaluationExamples, instructionSpan } from '../train/world.js';

export function demoPromptSetLines(inputs: number = EVALUATION_INPUTS, seed: number = DEMO_RECIPE.seed): string[] {
  return evaluationExamples(seed, inputs).map((e, k) => {
    const span = instructionSpan(e.prompt);
    return JSON.stringify({ id: `heldout-${k}`, group: e.task, prompt: e.prompt, instruction: [[span.start, span.end]] });
  });
}
