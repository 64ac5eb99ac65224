/**
 * `npm run bench`: speed and memory, as ratios measured in one run.
 *
 *   npm run bench              SmolLM2-135M-shaped F32 checkpoint and a tiny one
 *   npm run bench -- --quick   the tiny checkpoint only
 *
 * Forward time is over prompt + response (the sequence attribution runs on); attribution covers all
 * response tokens; the paper-style figure is R × one full backward with weight gradients.
 * Peak resident memory is measured in a fresh child process per model (getrusage maxrss), so
 * that one measurement cannot inherit another's peak. Results: a table on stdout and
 * bench-results/bench.json.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { loadCheckpoint } from '../src/model/checkpoint.js';
import { writeSyntheticCheckpoint, type SyntheticCheckpointOptions } from '../src/model/synthetic.js';
import { LlamaRunner } from '../src/llm/runner.js';

const ROOT = resolve(__dirname, '..');
const CACHE = join(ROOT, '.cache', 'bench');
const RESULTS = join(ROOT, 'bench-results');
const PROMPT_TOKENS = 64;
const RESPONSE_TOKENS = 32;
const RUNS = 5;
const MEMORY_RUNS = 3;

interface Row {
  model: string;
  weightBytes: number;
  /** One forward over prompt + response (the sequence attribution runs on). */
  forwardMs: number;
  /** Gradient × input for all response tokens (one forward, R cotangents batched back). */
  attributionMs: number;
  /** attributionMs ÷ forwardMs; the target is at most 1.5·R + 2. */
  attributionOverForward: number;
  /** The paper's cost model: one full backward, weight gradients included, per response token (R × one measured run). */
  paperStyleMs: number;
  paperStyleOverOurs: number;
  generateTokensPerSecond: number;
  peakRssBytes: number;
  peakRssOverWeights: number;
  baselineRssBytes: number;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function ensureCheckpoint(name: string, options: SyntheticCheckpointOptions): Promise<string> {
  const dir = join(CACHE, name);
  if (!existsSync(join(dir, 'config.json'))) {
    process.stderr.write(`writing synthetic checkpoint ${name} …\n`);
    await writeSyntheticCheckpoint(dir, options);
  }
  return dir;
}

function promptIds(vocab: number): number[] {
  return Array.from({ length: PROMPT_TOKENS }, (_, i) => (i * 7919 + 13) % vocab);
}

/** Child mode: load, run one forward, report peak RSS. Nothing else runs in this process. */
async function memoryProbe(dir: string): Promise<void> {
  const baseline = process.resourceUsage().maxRSS * 1024;
  const checkpoint = loadCheckpoint(dir);
  const runner = new LlamaRunner(checkpoint, { provider: 'cpu' });
  await runner.forward(promptIds(checkpoint.config.vocabSize));
  const peak = process.resourceUsage().maxRSS * 1024;
  await runner.dispose();
  process.stdout.write(JSON.stringify({ baseline, peak, weightBytes: checkpoint.weightBytes }) + '\n');
}

async function measure(name: string, dir: string): Promise<Row> {
  // Each probe is a fresh process; the median of several keeps one noisy start from deciding.
  const probes = Array.from({ length: MEMORY_RUNS }, () => {
    const probe = spawnSync(process.execPath, ['--import', 'tsx', __filename, '--memory-probe', dir], { encoding: 'utf8', cwd: ROOT });
    if (probe.status !== 0) throw new Error(`memory probe failed: ${probe.stderr}`);
    return JSON.parse(probe.stdout.trim().split('\n').pop()!) as { baseline: number; peak: number; weightBytes: number };
  });
  const memory = { ...probes[0]!, peak: median(probes.map((p) => p.peak)), baseline: median(probes.map((p) => p.baseline)) };

  const checkpoint = loadCheckpoint(dir);
  const runner = new LlamaRunner(checkpoint, { provider: 'cpu' });
  try {
    const ids = promptIds(checkpoint.config.vocabSize);
    const sequence = [...ids, ...promptIds(checkpoint.config.vocabSize).slice(0, RESPONSE_TOKENS).map((id) => (id * 31 + 7) % checkpoint.config.vocabSize)];
    const timed = async (fn: () => Promise<unknown>) => {
      await fn(); // session creation and first-run allocation are not the steady state
      const times: number[] = [];
      for (let i = 0; i < RUNS; i++) {
        const t = performance.now();
        await fn();
        times.push(performance.now() - t);
      }
      return median(times);
    };
    const forwardMs = await timed(() => runner.forward(sequence));
    const attributionMs = await timed(() => runner.attribute(sequence, PROMPT_TOKENS));
    const oneFullBackward = await timed(() => runner.attribute(sequence, sequence.length - 1, { weightGradients: true }));
    const paperStyleMs = oneFullBackward * RESPONSE_TOKENS;
    // No EOS stop: every run generates exactly RESPONSE_TOKENS tokens.
    checkpoint.tokenizer.eosTokenIds.length = 0;
    await runner.generate(ids, { maxNewTokens: 2 });
    const rates: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      const t = performance.now();
      const out = await runner.generate(ids, { maxNewTokens: RESPONSE_TOKENS });
      rates.push(out.length / ((performance.now() - t) / 1000));
    }
    return {
      model: name,
      weightBytes: memory.weightBytes,
      forwardMs,
      attributionMs,
      attributionOverForward: attributionMs / forwardMs,
      paperStyleMs,
      paperStyleOverOurs: paperStyleMs / attributionMs,
      generateTokensPerSecond: median(rates),
      peakRssBytes: memory.peak,
      peakRssOverWeights: memory.peak / memory.weightBytes,
      baselineRssBytes: memory.baseline,
    };
  } finally {
    await runner.dispose();
  }
}

async function main(): Promise<void> {
  const probeAt = process.argv.indexOf('--memory-probe');
  if (probeAt >= 0) return memoryProbe(process.argv[probeAt + 1]!);
  const quick = process.argv.includes('--quick');
  const models: [string, SyntheticCheckpointOptions][] = [['tiny', { preset: 'tiny', seed: 1 }]];
  if (!quick) models.push(['smollm2-135m-f32', { preset: 'smollm2-135m', dtype: 'F32', seed: 1 }]);
  const rows: Row[] = [];
  for (const [name, options] of models) rows.push(await measure(name, await ensureCheckpoint(name, options)));

  const mib = (b: number) => (b / 2 ** 20).toFixed(1);
  console.log(`\nprompt ${PROMPT_TOKENS} tokens, response ${RESPONSE_TOKENS} tokens, fp32, CPU; medians of ${RUNS} runs\n`);
  const table = rows.map((r) => ({
    model: r.model,
    'weights MiB': mib(r.weightBytes),
    'forward ms': r.forwardMs.toFixed(1),
    'attribution ms': r.attributionMs.toFixed(1),
    'attribution ÷ forward': `${r.attributionOverForward.toFixed(2)} (≤ ${1.5 * RESPONSE_TOKENS + 2})`,
    'paper-style ms': r.paperStyleMs.toFixed(0),
    'paper-style ÷ ours': r.paperStyleOverOurs.toFixed(2),
    'generate tok/s': r.generateTokensPerSecond.toFixed(1),
    'peak RSS MiB': mib(r.peakRssBytes),
    'peak RSS ÷ weights': r.peakRssOverWeights.toFixed(2),
  }));
  const columns = Object.keys(table[0]!) as (keyof (typeof table)[number])[];
  const widths = columns.map((c) => Math.max(c.length, ...table.map((row) => row[c].length)));
  console.log(columns.map((c, i) => c.padStart(widths[i]!)).join('  '));
  for (const row of table) console.log(columns.map((c, i) => row[c].padStart(widths[i]!)).join('  '));
  mkdirSync(RESULTS, { recursive: true });
  const file = join(RESULTS, 'bench.json');
  writeFileSync(file, JSON.stringify({ date: new Date().toISOString(), promptTokens: PROMPT_TOKENS, responseTokens: RESPONSE_TOKENS, runs: RUNS, rows }, null, 2) + '\n');
  console.log(`\nwritten to ${file}`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
