/**
 * `instruction-lens evaluate-report DIR…`: merges the shards' results files into one report — the
 * paper's Table 2 per group and overall (mean instruction score per model, Welch's t-test of tuned
 * against base), the importance density on instruction vs other tokens, instruction detection
 * against the annotations when the prompts carried some, and with --heads/--ffn the Table 3
 * statistic and the FFN rotation per layer. Shards must come from one evaluation: the same models
 * (by content), options, prompt set and shard count. The report holds nothing that depends on how
 * the prompts were split into shards except its `shards` field.
 */
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { LensError } from '../model/errors.js';
import { readFileBounded } from '../model/read-file.js';
import { welchTTest } from '../train/stats.js';
import { detectionScores, type DetectionScores } from './detection-metrics.js';
import { SHARD_FILE, headerMismatch, parseResults, type FfnLine, type HeadsLine, type ModelIdentity, type PromptResult, type ResultsHeader, type Role, type RunOptions } from './results.js';
import type { SkippedLine } from './prompt-set.js';

export const EVALUATE_REPORT_SCHEMA = 'instruction-lens/evaluate-report@1';
const MAX_RESULTS_FILE_BYTES = 1024 * 1024 * 1024;

export interface ModelStats {
  n: number;
  mean: number;
  /** Sample standard deviation (n − 1). */
  sd: number;
  scores: number[];
  /** Mean over prompts of the mean density on instruction tokens (prompts without any left out), and on the other tokens. */
  density: { instruction: number | null; other: number | null };
}

export interface GroupStats {
  group: string;
  /** Prompts with a result from both models. */
  n: number;
  base: ModelStats;
  tuned: ModelStats;
  /** Welch's t-test, tuned vs base; null below two prompts or when both samples are constant. */
  welch: { t: number; df: number; pTwoSided: number; pGreater: number } | null;
}

export interface PromptRow {
  index: number;
  id: string;
  group: string;
  base: { score: number | null; response: string | null; error: string | null };
  tuned: { score: number | null; response: string | null; error: string | null };
}

export interface EvaluateReport {
  schema: typeof EVALUATE_REPORT_SCHEMA;
  base: ModelIdentity;
  tuned: ModelIdentity;
  options: RunOptions;
  prompts: { file: string; hash: string; count: number; skipped: SkippedLine[]; evaluated: number; errors: number };
  shards: { n: number; found: number[]; missing: number[] };
  groups: GroupStats[];
  overall: GroupStats;
  /** Character-level detection against the annotations (prompts that carry them), or null. */
  detection: (DetectionScores & { prompts: number }) | null;
  heads: HeadsLine['verbs'] | null;
  ffn: FfnLine['rotation'] | null;
  results: PromptRow[];
}

export interface LoadedShards {
  header: ResultsHeader;
  results: PromptResult[];
  heads: HeadsLine | null;
  ffn: FfnLine | null;
  found: number[];
  warnings: string[];
}

/** Reads every shard-K-of-N.jsonl in the folders and checks that they belong together. */
export function loadShards(dirs: readonly string[]): LoadedShards {
  if (!dirs.length) throw new LensError('evaluate-report needs at least one results folder');
  let first: { header: ResultsHeader; file: string } | null = null;
  const byShard = new Map<number, string>();
  const results = new Map<string, PromptResult>();
  let heads: HeadsLine | null = null;
  let ffn: FfnLine | null = null;
  const warnings: string[] = [];
  for (const dir of dirs) {
    let names: string[];
    try {
      if (!statSync(dir).isDirectory()) throw new Error('not a folder');
      names = readdirSync(dir).filter((n) => SHARD_FILE.test(n)).sort();
    } catch (e) {
      throw new LensError(`Cannot read the results folder ${dir}: ${(e as Error).message}`, dir);
    }
    if (!names.length) throw new LensError(`${dir}: no results file (shard-K-of-N.jsonl)`, dir);
    for (const name of names) {
      const file = join(dir, name);
      const parsed = parseResults(readFileBounded(file, 'the results file', MAX_RESULTS_FILE_BYTES), file);
      if (parsed.torn) warnings.push(`${file}: a torn last line left out (is that shard still running?)`);
      const { header } = parsed;
      const m = SHARD_FILE.exec(name)!;
      if (Number(m[1]) !== header.shard.k || Number(m[2]) !== header.shard.n) throw new LensError(`${file}: its header says shard ${header.shard.k}/${header.shard.n}`, file);
      if (first) {
        const mismatch = headerMismatch(first.header, header, { shard: false });
        if (mismatch) throw new LensError(`${file} and ${first.file} come from different evaluations: ${mismatch}`, file);
      } else first = { header, file };
      const seen = byShard.get(header.shard.k);
      if (seen) throw new LensError(`shard ${header.shard.k}/${header.shard.n} found twice: ${seen} and ${file}`, file);
      byShard.set(header.shard.k, file);
      for (const line of parsed.lines) {
        if (line.kind === 'heads') heads ??= line;
        else if (line.kind === 'ffn') ffn ??= line;
        else {
          const key = `${line.index}\u0000${line.model}`;
          if (results.has(key)) throw new LensError(`${file}: prompt ${line.index} (${line.model}) appears twice`, file);
          if (line.index % header.shard.n !== header.shard.k) throw new LensError(`${file}: prompt ${line.index} does not belong to shard ${header.shard.k}/${header.shard.n}`, file);
          results.set(key, line);
        }
      }
    }
  }
  const header = first!.header;
  const found = [...byShard.keys()].sort((a, b) => a - b);
  if (found.length < header.shard.n) warnings.push(`shards missing: ${Array.from({ length: header.shard.n }, (_, k) => k).filter((k) => !byShard.has(k)).join(', ')} of ${header.shard.n}`);
  const sorted = [...results.values()].sort((a, b) => a.index - b.index || (a.model === b.model ? 0 : a.model === 'base' ? -1 : 1));
  return { header, results: sorted, heads, ffn, found, warnings };
}

const mean = (xs: readonly number[]): number => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN);

function modelStats(lines: readonly PromptResult[]): ModelStats {
  const scores = lines.map((l) => l.instructionScore!);
  const m = mean(scores);
  const sd = scores.length > 1 ? Math.sqrt(scores.reduce((a, x) => a + (x - m) ** 2, 0) / (scores.length - 1)) : 0;
  const instruction: number[] = [];
  const other: number[] = [];
  for (const l of lines) {
    const d = l.density!;
    const mask = l.instructionMask!;
    const inside = d.filter((_, i) => mask[i]);
    const outside = d.filter((_, i) => !mask[i]);
    if (inside.length) instruction.push(mean(inside));
    if (outside.length) other.push(mean(outside));
  }
  return {
    n: lines.length,
    mean: scores.length ? m : 0,
    sd,
    scores,
    density: { instruction: instruction.length ? mean(instruction) : null, other: other.length ? mean(other) : null },
  };
}

function groupStats(group: string, pairs: readonly { base: PromptResult; tuned: PromptResult }[]): GroupStats {
  const base = modelStats(pairs.map((p) => p.base));
  const tuned = modelStats(pairs.map((p) => p.tuned));
  let welch: GroupStats['welch'] = null;
  try {
    if (pairs.length >= 2) {
      const w = welchTTest(tuned.scores, base.scores);
      welch = { t: w.t, df: w.df, pTwoSided: w.pTwoSided, pGreater: w.pGreater };
    }
  } catch {
    welch = null; // both samples constant
  }
  return { group, n: pairs.length, base, tuned, welch };
}

/** The merged report of loaded shards. */
export function buildReport(loaded: LoadedShards): EvaluateReport {
  const { header } = loaded;
  const byIndex = new Map<number, Partial<Record<Role, PromptResult>>>();
  for (const r of loaded.results) {
    const entry = byIndex.get(r.index) ?? {};
    entry[r.model] = r;
    byIndex.set(r.index, entry);
  }
  const rows: PromptRow[] = [];
  const pairs: { group: string; base: PromptResult; tuned: PromptResult }[] = [];
  const detection = [];
  let errors = 0;
  const cell = (r: PromptResult | undefined) => ({ score: r?.instructionScore ?? null, response: r?.response?.text ?? null, error: r?.error ?? (r ? null : 'not evaluated') });
  for (const [index, entry] of [...byIndex].sort((a, b) => a[0] - b[0])) {
    const any = (entry.base ?? entry.tuned)!;
    rows.push({ index, id: any.id, group: any.group, base: cell(entry.base), tuned: cell(entry.tuned) });
    errors += (entry.base?.error !== undefined ? 1 : 0) + (entry.tuned?.error !== undefined ? 1 : 0);
    if (entry.base && entry.tuned && entry.base.error === undefined && entry.tuned.error === undefined) pairs.push({ group: any.group, base: entry.base, tuned: entry.tuned });
    const annotated = entry.base?.detection ?? entry.tuned?.detection;
    if (annotated) detection.push(annotated);
  }
  const groups = [...new Set(pairs.map((p) => p.group))].sort().map((g) => groupStats(g, pairs.filter((p) => p.group === g)));
  return {
    schema: EVALUATE_REPORT_SCHEMA,
    base: header.base,
    tuned: header.tuned,
    options: header.options,
    prompts: { file: header.prompts.file, hash: header.prompts.hash, count: header.prompts.count, skipped: header.prompts.skipped, evaluated: pairs.length, errors },
    shards: { n: header.shard.n, found: loaded.found, missing: Array.from({ length: header.shard.n }, (_, k) => k).filter((k) => !loaded.found.includes(k)) },
    groups,
    overall: groupStats('all prompts', pairs),
    detection: detection.length ? { ...detectionScores(detection), prompts: detection.length } : null,
    heads: loaded.heads?.verbs ?? null,
    ffn: loaded.ffn?.rotation ?? null,
    results: rows,
  };
}

/** A plain-text Table 2 for the terminal. */
export function formatReport(r: EvaluateReport): string {
  const f = (x: number) => x.toFixed(4);
  const p = (x: number) => (x < 1e-3 ? x.toExponential(2) : x.toFixed(4));
  const lines = [
    `${r.prompts.evaluated} prompts evaluated of ${r.prompts.count}${r.prompts.errors ? `, ${r.prompts.errors} model error(s)` : ''}${r.prompts.skipped.length ? `, ${r.prompts.skipped.length} malformed line(s) skipped` : ''}; shards ${r.shards.found.length}/${r.shards.n}`,
    '',
    `${'group'.padEnd(24)}${'n'.padStart(5)}${'base'.padStart(10)}${'tuned'.padStart(10)}${'t'.padStart(9)}${'df'.padStart(8)}${'p'.padStart(11)}`,
  ];
  for (const g of [...r.groups, r.overall]) {
    lines.push(
      `${g.group.slice(0, 23).padEnd(24)}${String(g.n).padStart(5)}${f(g.base.mean).padStart(10)}${f(g.tuned.mean).padStart(10)}${(g.welch ? g.welch.t.toFixed(3) : '–').padStart(9)}${(g.welch ? g.welch.df.toFixed(1) : '–').padStart(8)}${(g.welch ? p(g.welch.pTwoSided) : '–').padStart(11)}`,
    );
  }
  if (r.detection) lines.push('', `instruction detection vs the annotations (${r.detection.prompts} prompts): precision ${r.detection.precision.toFixed(3)}, recall ${r.detection.recall.toFixed(3)}, F1 ${r.detection.f1.toFixed(3)}`);
  return lines.join('\n') + '\n';
}
