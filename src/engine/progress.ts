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

/** An attribution event: the fraction of that model's stage and the line to show. */
export function attributionStep(role: Role, p: AttributionProgress): { fraction: number; message: string } {
  switch (p.phase) {
    case 'encode':
      return { fraction: 0, message: `${ROLE[role]}: reading the prompt…` };
    case 'generate':
      return { fraction: 0.05, message: `${ROLE[role]}: generating the response…` };
    case 'attribute': {
      const done = p.done ?? 0;
      const total = p.total ?? 0;
      return { fraction: 0.4 + (total > 0 ? (0.6 * done) / total : 0), message: `${ROLE[role]}: attributing the response (${done} of ${total} tokens)…` };
    }
  }
}

/** A heads/FFN analysis event: the fraction of that model's section stage and the line to show. */
export function sectionStep(role: Role, p: AnalysisSectionProgress): { fraction: number; message: string } {
  const who = role === 'base' ? 'base' : 'tuned';
  const count = p.progress.done !== undefined && p.progress.total ? ` (${p.progress.done} of ${p.progress.total})` : '';
  const part = p.progress.total ? (p.progress.done ?? 0) / p.progress.total : 0;
  if (p.section === 'heads') {
    const phase = p.progress.phase;
    const message = `Head word pairs (${who} model): ${phase === 'layers' ? `layers${count}` : phase === 'thresholds' ? 'similarity thresholds' : phase === 'word-vectors' ? 'word vectors' : 'cache'}…`;
    return { fraction: phase === 'layers' ? 0.3 + 0.7 * part : phase === 'thresholds' ? 0.2 : 0.05, message };
  }
  const phase = p.progress.phase;
  const message = `FFN concepts (${who} model): ${phase === 'covariance' ? `principal components${count}` : phase === 'concepts' ? `concept words${count}` : phase === 'word-vectors' ? 'word vectors' : 'cache'}…`;
  return { fraction: phase === 'covariance' ? 0.05 + 0.45 * part : phase === 'concepts' ? 0.55 + 0.45 * part : phase === 'word-vectors' ? 0.5 : 0.02, message };
}
