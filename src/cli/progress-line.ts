/**
 * The CLI's progress, on stderr. On an interactive terminal (a TTY, `TERM` not `dumb`, no `CI`):
 * one line redrawn in place (ora's spinner, the stage and its count), the lines that stay (which
 * execution provider runs, what was written) printed above it, the analyses' passing details
 * (per-layer timings) shown in it, and the line cleared before the results print. Anywhere else
 * (piped, a log file, CI): plain lines, one when a stage begins, never one per token or layer
 * counted inside it.
 *
 * The stages are those the editor's notification shows (src/engine/progress.ts), in the same words.
 */
import ora, { type Ora } from 'ora';
import { truncateToWidth, visibleControls } from '../report/escape.js';
import type { Step } from '../engine/progress.js';

export interface CliProgress {
  /** The stage running now and how far into it. */
  update(step: Pick<Step, 'stage' | 'done' | 'total' | 'unit'>): void;
  /** A line that stays (above the progress line on a terminal). */
  log(line: string): void;
  /** A passing detail of the running stage: in the progress line on a terminal, a plain line elsewhere. */
  note(line: string): void;
  /** Clears the progress line, before anything else is written (idempotent). */
  stop(): void;
  /** Whether the line is redrawn in place. */
  readonly interactive: boolean;
}

export interface ProgressStream {
  isTTY?: boolean;
  columns?: number;
  write(text: string): unknown;
}

/**
 * Whether progress on `stream` may be redrawn in place: a TTY that knows its width (a pseudo-terminal
 * with no window size reports 0 columns, and a redraw cannot tell how many rows it wrapped to),
 * `TERM` not `dumb`, not under CI.
 */
export function interactiveStream(stream: { isTTY?: boolean; columns?: number }, env: Record<string, string | undefined> = process.env): boolean {
  return stream.isTTY === true && (stream.columns ?? 0) > 0 && env.TERM !== 'dumb' && env.CI === undefined;
}

const PREFIX = '[instruction-lens] ';

export function createCliProgress(stream: ProgressStream, options: { interactive: boolean }): CliProgress {
  const plain = (line: string) => stream.write(`${PREFIX}${visibleControls(line)}\n`);
  if (!options.interactive) {
    let lastStage: string | undefined;
    return {
      interactive: false,
      update({ stage, total, unit }) {
        if (stage === lastStage) return;
        lastStage = stage;
        plain(`${stage}${total ? ` (${total}${unit ? ` ${unit}` : ''})` : ''}`);
      },
      log: plain,
      note: plain,
      stop() {},
    };
  }
  let spinner: Ora | undefined;
  let stageNow = '';
  let current = '';
  let detail = '';
  const text = () => {
    // ora counts the spinner and its space as four columns when it measures the rows to redraw;
    // one more spare, so that the line never wraps.
    const width = Math.max(20, (stream.columns ?? 80) - 5);
    return truncateToWidth(visibleControls(detail ? `${current} \u00b7 ${detail}` : current), width);
  };
  const show = () => {
    const next = text();
    if (!spinner) {
      // Ctrl+C must reach the CLI's own SIGINT handler, which cancels and cleans up: discardStdin
      // off (it would read Ctrl+C from stdin itself), hideCursor off (restoring the cursor hooks a
      // SIGINT listener that re-raises the signal, killing the process before it cleans up).
      spinner = ora({ stream: stream as NodeJS.WriteStream, isEnabled: true, discardStdin: false, hideCursor: false, text: next }).start();
    } else if (spinner.text !== next) {
      spinner.text = next;
      // The analyses hold the event loop for seconds at a time: draw now, not at the spinner's next tick.
      spinner.render();
    }
  };
  return {
    interactive: true,
    update({ stage, done, total, unit }) {
      const count = total ? ` ${done ?? 0}/${total}${unit ? ` ${unit}` : ''}` : '';
      // A detail belongs to its stage: a new stage starts without one.
      if (stage !== stageNow) detail = '';
      stageNow = stage;
      current = `${stage}${count}`;
      show();
    },
    log(line) {
      if (!spinner) return void plain(line);
      spinner.clear();
      plain(line);
      spinner.render();
    },
    note(line) {
      detail = line;
      if (current) show();
      else plain(line);
    },
    stop() {
      spinner?.stop();
      spinner = undefined;
      stageNow = '';
      current = '';
      detail = '';
    },
  };
}
