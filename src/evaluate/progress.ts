/**
 * Progress of an evaluation: on a terminal, one bar redrawn in place with the rate and the time
 * left; otherwise (a log file, a batch scheduler's output) a plain line every few seconds and at
 * the end.
 */

export interface ProgressSink {
  /** `done` of `total` items, `done` counting only items computed in this run after `skipped` found done. */
  update(done: number): void;
  finish(): void;
}

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

export interface ProgressOptions {
  total: number;
  /** Items already done when the run started (resumed): counted as done, not in the rate. */
  already: number;
  label: string;
  stream: { isTTY?: boolean; columns?: number; write(text: string): unknown };
  now?: () => number;
  /** Seconds between plain lines (default 10). */
  every?: number;
}

export function createProgress(options: ProgressOptions): ProgressSink {
  const now = options.now ?? (() => performance.now() / 1000);
  const started = now();
  const tty = options.stream.isTTY === true;
  let lastDraw = -Infinity;
  let lastDone = -1;
  const text = (done: number): string => {
    const elapsed = now() - started;
    const fresh = done - options.already;
    const rate = elapsed > 0 && fresh > 0 ? fresh / elapsed : 0;
    const left = options.total - done;
    const eta = rate > 0 ? formatDuration(left / rate) : '?';
    const pct = options.total ? ((100 * done) / options.total).toFixed(1) : '100.0';
    return `${done}/${options.total} (${pct}%) ${rate ? rate.toFixed(2) : '–'}/s ETA ${eta}`;
  };
  const draw = (done: number, force: boolean): void => {
    const t = now();
    if (tty) {
      if (!force && t - lastDraw < 0.1) return;
      const width = Math.max(10, Math.min(40, (options.stream.columns ?? 80) - 60));
      const filled = options.total ? Math.round((width * done) / options.total) : width;
      options.stream.write(`\r${options.label} [${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${text(done)}\u001b[K`);
    } else {
      if (!force && t - lastDraw < (options.every ?? 10)) return;
      if (done === lastDone) return;
      options.stream.write(`${options.label}: ${text(done)}\n`);
    }
    lastDraw = t;
    lastDone = done;
  };
  draw(options.already, true);
  let current = options.already;
  return {
    update(done: number) {
      current = done;
      draw(done, done === options.total);
    },
    finish() {
      if (tty) {
        draw(current, true);
        options.stream.write('\n');
      } else draw(current, true);
    },
  };
}

/** A plain progress line back as numbers (the extension reads the CLI's stderr), or null for any other line. */
export function parseProgressLine(line: string): { done: number; total: number; detail: string } | null {
  const m = /^evaluate \d+\/\d+: (\d+)\/(\d+) \(([\d.]+%\) .*)$/.exec(line.trim());
  return m ? { done: Number(m[1]), total: Number(m[2]), detail: `${m[1]}/${m[2]} (${m[3]}` } : null;
}
