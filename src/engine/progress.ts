// Progress of the engine's long requests as the extension shows it (vscode.Progress: a message and
// an increment in percent of the whole). A request is a list of stages of equal weight — each
// model's attribution, then each model's heads and FFN analyses when asked for — and each stage
// reports a fraction of itself done; the increments only ever add up, to 100 at most.

import type { AttributionProgress } from '../explain/attribution.js';
import type { AnalysisSectionProgress } from './operations.js';

export type Role = 'base' | 'tuned';
const ROLE: Record<Role, string> = { base: 'Base model', tuned: 'Tuned model' };

export class ProgressPlan {
  private reported = 0;

  constructor(
    private readonly stages: readonly string[],
    private readonly send: (message: string, increment?: number) => void,
  ) {}

  /** `fraction` of stage `stage` is done; `message` says what runs now. */
  report(stage: string, fraction: number, message: string): void {
    const at = this.stages.indexOf(stage);
    if (at < 0) {
      this.send(message);
      return;
    }
    const f = Number.isFinite(fraction) ? Math.min(1, Math.max(0, fraction)) : 0;
    const total = ((at + f) / this.stages.length) * 100;
    const increment = total - this.reported;
    if (increment > 0.01) {
      this.reported = total;
      this.send(message, increment);
    } else {
      this.send(message);
    }
  }
}

/**
 * One event of a request, as the editor's notification and the CLI's progress line show it: the
 * stage that runs (the same words while it runs), how far into it (`done` of `total` `unit`), the
 * fraction of that stage done, and the whole as one line (`message`).
 */
export interface Step {
  fraction: number;
  stage: string;
  done?: number;
  total?: number;
  unit?: string;
  message: string;
}

/** "stage (3 of 9 tokens)…", the count left out when the stage has none. */
export function stepMessage(stage: string, done?: number, total?: number, unit?: string): string {
  const count = total ? ` (${done ?? 0} of ${total}${unit ? ` ${unit}` : ''})` : '';
  return `${stage}${count}…`;
}

function step(fraction: number, stage: string, count?: { done?: number; total?: number; unit?: string }): Step {
  return { fraction, stage, ...count, message: stepMessage(stage, count?.done, count?.total, count?.unit) };
}

/** An attribution event: the fraction of that model's stage and the line to show (no role: the only model, as in the CLI's attribute). */
export function attributionStep(role: Role | undefined, p: AttributionProgress): Step {
  const stage = (what: string) => (role ? `${ROLE[role]}: ${what}` : what[0]!.toUpperCase() + what.slice(1));
  switch (p.phase) {
    case 'encode':
      return step(0, stage('reading the prompt'));
    case 'generate':
      return step(0.05, stage('generating the response'));
    case 'attribute': {
      const done = p.done ?? 0;
      const total = p.total ?? 0;
      return step(0.4 + (total > 0 ? (0.6 * done) / total : 0), stage('attributing the response'), { done, total, unit: 'tokens' });
    }
  }
}

/** A heads/FFN analysis event: the fraction of that model's section stage and the line to show (no role: the only model, as in the CLI's heads and ffn). */
export function sectionStep(role: Role | undefined, p: AnalysisSectionProgress): Step {
  const who = role ? ` (${role} model)` : '';
  const { phase, done, total } = p.progress;
  const part = total ? (done ?? 0) / total : 0;
  const cache = 'looking in the analysis cache';
  if (p.section === 'heads') {
    const stage = `Head word pairs${who}: ${phase === 'layers' ? 'layers' : phase === 'thresholds' ? 'similarity thresholds' : phase === 'word-vectors' ? 'word vectors' : cache}`;
    return step(phase === 'layers' ? 0.3 + 0.7 * part : phase === 'thresholds' ? 0.2 : 0.05, stage, phase === 'layers' ? { done, total } : undefined);
  }
  const stage = `FFN concepts${who}: ${phase === 'covariance' ? 'principal components' : phase === 'concepts' ? 'concept words' : phase === 'word-vectors' ? 'word vectors' : cache}`;
  const counted = phase === 'covariance' || phase === 'concepts';
  return step(phase === 'covariance' ? 0.05 + 0.45 * part : phase === 'concepts' ? 0.55 + 0.45 * part : phase === 'word-vectors' ? 0.5 : 0.02, stage, counted ? { done, total } : undefined);
}
