/**
 * The CLI's `evaluate` and `evaluate-report` commands (src/evaluate/): main.ts parses the common
 * options and hands them here.
 */
import { join } from 'node:path';
import { LensError } from '../model/errors.js';
import { writeFileAtomic } from '../model/write-file.js';
import type { ModelPool } from '../engine/model-pool.js';
import type { ImportanceOptions } from '../explain/importance.js';
import { parseShard, readPromptSet, type OnError } from '../evaluate/prompt-set.js';
import { runEvaluate, type EvaluateSummary } from '../evaluate/run.js';
import { createProgress } from '../evaluate/progress.js';
import { buildReport, formatReport, loadShards } from '../evaluate/report.js';
import { renderEvaluateHtml } from '../evaluate/report-html.js';

export interface EvaluateArgs {
  base: string;
  tuned: string;
  prompts?: string;
  out?: string;
  shard?: string;
  restart: boolean;
  onError?: string;
  heads: boolean;
  ffn: boolean;
  format: string;
  maxNewTokens: number;
  objective: string;
  importance: Required<ImportanceOptions>;
  lexicon?: readonly string[];
  layers?: number[];
  words?: string;
}

function onErrorOf(value: string | undefined): OnError {
  const v = value ?? 'skip';
  if (v !== 'skip' && v !== 'stop') throw new LensError(`--on-error must be skip or stop, got '${v}'`);
  return v;
}

export async function evaluateCommand(pool: ModelPool, args: EvaluateArgs, options: { signal?: AbortSignal; log: (line: string) => void }): Promise<EvaluateSummary> {
  if (!args.prompts || !args.out) throw new LensError('evaluate needs --prompts FILE.jsonl[.gz] and --out DIR');
  const onError = onErrorOf(args.onError);
  const shard = args.shard === undefined ? { k: 0, n: 1 } : parseShard(args.shard);
  const set = readPromptSet(args.prompts, onError);
  for (const s of set.skipped) options.log(`${args.prompts}:${s.line}: ${s.message}; skipped`);
  const summary = await runEvaluate(pool, {
    base: args.base,
    tuned: args.tuned,
    set,
    out: args.out,
    shard,
    options: {
      format: args.format,
      maxNewTokens: args.maxNewTokens,
      objective: args.objective,
      importance: args.importance,
      verbs: args.lexicon ? [...args.lexicon] : null,
      heads: args.heads,
      ffn: args.ffn,
      layers: args.layers ?? null,
      words: args.words ?? null,
    },
    lexicon: args.lexicon,
    restart: args.restart,
    onError,
    signal: options.signal,
    log: options.log,
    // INSTRUCTION_LENS_PROGRESS_SECONDS: seconds between plain progress lines (default 10; the extension asks for 1).
    progress: (total, already) =>
      createProgress({ total, already, label: `evaluate ${shard.k}/${shard.n}`, stream: process.stderr, every: Number(process.env.INSTRUCTION_LENS_PROGRESS_SECONDS) || undefined }),
  });
  options.log(
    `${summary.file}: ${summary.resumed + summary.computed}/${summary.total} lines (${summary.resumed} from before, ${summary.computed} computed now)${summary.errors ? `, ${summary.errors} model error(s) recorded` : ''}`,
  );
  return summary;
}

/** Merges the shards of `dirs` into report.json and report.html in `out` (default: the first folder). */
export async function evaluateReportCommand(dirs: readonly string[], out: string | undefined, log: (line: string) => void): Promise<void> {
  const loaded = loadShards(dirs);
  for (const w of loaded.warnings) log(w);
  const report = buildReport(loaded);
  const target = out ?? dirs[0]!;
  writeFileAtomic(join(target, 'report.json'), JSON.stringify(report, null, 1) + '\n');
  writeFileAtomic(join(target, 'report.html'), renderEvaluateHtml(report));
  log(`wrote ${join(target, 'report.json')} and ${join(target, 'report.html')}`);
  process.stdout.write(formatReport(report));
}
