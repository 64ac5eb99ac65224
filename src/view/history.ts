/**
 * A prompt's runs: what is kept of each (instruction scores, each model's words by density) and how
 * the instruction score and the strongest words moved from one run to the next
 * ("tuned 0.300 → 0.990; 'Capitalize' 0.300 → 0.980"). Pure; the extension keeps the history, the
 * panel shows it.
 */
import { ROLES, type ModelRole, type PanelReport, type RunSummary } from '../contract/panel.js';
import { formatNumber } from './format.js';

/** How many runs a prompt keeps (the current one included). */
export const HISTORY_RUNS = 6;
/** How many words of each model a run keeps. */
export const HISTORY_WORDS = 400;
/** How many of the strongest words a change line names. */
const CHANGED_WORDS = 3;
/** How many words that only one of the two runs has (the edit) a change line names, each way. */
const EDITED_WORDS = 2;

/** What is kept of a run. */
export function summarizeRun(id: number, report: PanelReport): RunSummary {
  const scores: RunSummary['scores'] = {};
  const words: RunSummary['words'] = {};
  for (const role of ROLES) {
    const m = report[role];
    if (!m) continue;
    scores[role] = m.instructionScore;
    words[role] = m.words
      .map((w, k) => ({ text: w.text, density: w.density, k }))
      .filter((w) => /\S/.test(w.text))
      .sort((a, b) => b.density - a.density || a.k - b.k)
      .slice(0, HISTORY_WORDS)
      .map(({ text, density }) => ({ text: text.trim(), density }));
  }
  const models = ROLES.map((r) => report[r]?.model.id ?? '–').join(' ↔ ');
  return { id, createdAt: String(report.createdAt), prompt: report.prompt, models, scores, words };
}

/**
 * The history after a new run: the earlier runs of the same models and this one, the last
 * HISTORY_RUNS (a run of other models starts a new history: its scores are not comparable).
 */
export function appendRun(history: readonly RunSummary[], run: RunSummary): RunSummary[] {
  return [...history.filter((r) => r.id !== run.id && r.models === run.models), run].slice(-HISTORY_RUNS);
}

export interface WordMove {
  text: string;
  /** null: the word is not among the run's words (not in its prompt, or too weak to be kept). */
  from: number | null;
  to: number | null;
}

export interface RoleMove {
  role: ModelRole;
  score: { from: number; to: number } | null;
  words: WordMove[];
}

/**
 * How each model's score and words moved from `before` to `after` (the models both runs have): the
 * strongest words of either run, and the words the edit added or removed.
 */
export function runMoves(before: RunSummary, after: RunSummary): RoleMove[] {
  const moves: RoleMove[] = [];
  for (const role of ROLES) {
    const a = before.words[role];
    const b = after.words[role];
    if (!a || !b) continue;
    const from = before.scores[role];
    const to = after.scores[role];
    const names: string[] = [];
    // The strongest words of each run, then the edit: words only one of the runs has.
    const added = b.filter((w) => !a.some((v) => v.text === w.text)).slice(0, EDITED_WORDS);
    const removed = a.filter((w) => !b.some((v) => v.text === w.text)).slice(0, EDITED_WORDS);
    for (const w of [...b.slice(0, CHANGED_WORDS), ...a.slice(0, CHANGED_WORDS), ...added, ...removed]) if (!names.includes(w.text)) names.push(w.text);
    const density = (list: { text: string; density: number }[], text: string) => list.find((w) => w.text === text)?.density ?? null;
    moves.push({
      role,
      score: from !== undefined && to !== undefined ? { from, to } : null,
      words: names.map((text) => ({ text, from: density(a, text), to: density(b, text) })),
    });
  }
  return moves;
}

const ROLE_WORD: Record<ModelRole, string> = { base: 'base', tuned: 'tuned' };
const value = (v: number | null) => (v === null ? '–' : formatNumber(v, 2));

/** One line per model: "tuned 0.30 → 0.99; 'Capitalize' 0.30 → 0.98, 'Reverse' – → 0.41". */
export function describeMoves(moves: readonly RoleMove[]): string[] {
  return moves.map((m) => {
    const score = m.score ? `${ROLE_WORD[m.role]} ${value(m.score.from)} → ${value(m.score.to)}` : ROLE_WORD[m.role];
    const words = m.words.map((w) => `'${w.text}' ${value(w.from)} → ${value(w.to)}`).join(', ');
    return words ? `${score}; ${words}` : score;
  });
}
