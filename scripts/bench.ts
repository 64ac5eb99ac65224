/**
 * `npm run bench`: speed and memory, as ratios measured in one run.
 *
 *   npm run bench              SmolLM2-135M-shaped F32 checkpoint and a tiny one
 *   npm run bench -- --quick   the tiny checkpoint only
 *
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

interface Row {
  model: string;
  weightBytes: number;
  forwardMs: number;
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
  const probe = spawnSync(process.execPath, ['--import', 'tsx', __filename, '--memory-probe', dir], { encoding: 'utf8', cwd: ROOT });
  if (probe.status !== 0) throw new Error(`memory probe failed: ${probe.stderr}`);
  const memory = JSON.parse(probe.stdout.trim().split('\n').pop()!) as { baseline: number; peak: number; weightBytes: number };

  const checkpoint = loadCheckpoint(dir);
  const runner = new LlamaRunner(checkpoint, { provider: 'cpu' });
  try {
    const ids = promptIds(checkpoint.config.vocabSize);
    await runner.forward(ids); // session creation and first-run allocation are not the steady state
    const forward: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      const t = performance.now();
      await runner.forward(ids);
      forward.push(performance.now() - t);
    }
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
      forwardMs: median(forward),
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
  console.log('model                 weights MiB  forward ms  generate tok/s  peak RSS MiB  peak RSS ÷ weights');
  for (const r of rows) {
    console.log(
      `${r.model.padEnd(22)}${mib(r.weightBytes).padStart(11)}${r.forwardMs.toFixed(1).padStart(12)}${r.generateTokensPerSecond.toFixed(1).padStart(16)}${mib(r.peakRssBytes).padStart(14)}${r.peakRssOverWeights.toFixed(2).padStart(20)}`,
    );
  }
  mkdirSync(RESULTS, { recursive: true });
  const file = join(RESULTS, 'bench.json');
  writeFileSync(file, JSON.stringify({ date: new Date().toISOString(), promptTokens: PROMPT_TOKENS, responseTokens: RESPONSE_TOKENS, runs: RUNS, rows }, null, 2) + '\n');
  console.log(`\nwritten to ${file}`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
