/**
 * A debug counter of the expensive steps per model, for checking that a command does each once:
 * with `LENS_DEBUG_COUNTS=1` the process prints, when it exits, one line per model to stderr
 * (`[counts] <model>: encode 1, forward 1, decode-step 5, attribute-run 1`). Kinds:
 * - `encode`: a tokenizer encode of the prompt or of a given response;
 * - `word-encode`: a tokenizer encode of one word of the heads/FFN word list (a word that is not
 *   one vocabulary entry);
 * - `forward`: a full forward pass over a sequence (runner.forward, or generation's first pass
 *   over the prompt, which fills the KV cache);
 * - `decode-step`: one generated token's pass with the KV cache;
 * - `attribute-run`: one run of the gradient graph (a forward and a backward for a chunk of
 *   response tokens).
 * Off (the default) it costs one property lookup per step.
 */
export type CountKind = 'encode' | 'word-encode' | 'forward' | 'decode-step' | 'attribute-run';

const KINDS: readonly CountKind[] = ['encode', 'word-encode', 'forward', 'decode-step', 'attribute-run'];
const counts = new Map<string, Map<CountKind, number>>();
let hooked = false;

function enabled(): boolean {
  return process.env.LENS_DEBUG_COUNTS === '1';
}

export function countStep(model: string, kind: CountKind): void {
  if (!enabled()) return;
  let perModel = counts.get(model);
  if (!perModel) counts.set(model, (perModel = new Map()));
  perModel.set(kind, (perModel.get(kind) ?? 0) + 1);
  if (!hooked) {
    hooked = true;
    process.on('exit', () => process.stderr.write(formatCounts()));
  }
}

/** The counts so far, one line per model (empty when nothing was counted). */
export function formatCounts(): string {
  return [...counts].map(([model, perModel]) => `[counts] ${model}: ${KINDS.map((k) => `${k} ${perModel.get(k) ?? 0}`).join(', ')}\n`).join('');
}

/** The counts of one model (every kind, 0 when not counted). */
export function countsFor(model: string): Record<CountKind, number> {
  const perModel = counts.get(model);
  return Object.fromEntries(KINDS.map((k) => [k, perModel?.get(k) ?? 0])) as Record<CountKind, number>;
}

export function resetCounts(): void {
  counts.clear();
}
