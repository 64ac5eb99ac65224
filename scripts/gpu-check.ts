/**
 * `npm run gpu-check`: the GPU path in one command, for a machine with a GPU and a Vulkan loader.
 *
 *   npm run gpu-check              webgpu parity tests + bench rows on a SmolLM2-135M-shaped BF16 checkpoint
 *   npm run gpu-check -- --quick   the same on the tiny checkpoint and short attribution shapes
 *                                  (what a software adapter such as llvmpipe can do in minutes)
 *
 * Prints the adapter, the parity errors (max|Δ|/max|ref| against the float64 reference), and per
 * precision of the parity table (test/support/providers.ts: fp32 today, fp16 once the runner takes
 * it) forward ms, attribution ms, generate tokens/s and peak RSS. Each bench row runs in a fresh
 * child process so that its peak RSS is its own. Results also go to bench-results/gpu-check.json.
 * The whole run is meant to fit in 8 minutes on a GPU; it says when it did not.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { loadCheckpoint } from '../src/model/checkpoint.js';
import { medianMs } from './timing.js';
import { writeSyntheticCheckpoint, type SyntheticCheckpointOptions } from '../src/model/synthetic.js';
import { LlamaRunner } from '../src/llm/runner.js';
import { executionDevice, providerAdapter } from '../src/runtime/session.js';
import { parityTargets, targetName, targetOptions, type ParityTarget } from '../test/support/providers.js';

const ROOT = resolve(__dirname, '..');
const CACHE = join(ROOT, '.cache', 'bench');
const RESULTS = join(ROOT, 'bench-results');
const BUDGET_S = 8 * 60;
const PARITY_FILES = ['forward-parity', 'attribution-gradients', 'heads', 'ffn'].map((f) => `test/unit/${f}.test.ts`);

interface BenchRow {
  target: string;
  model: string;
  device: string;
  weightBytes: number;
  forwardMs: number;
  attributionMs: number;
  generateTokensPerSecond: number;
  peakRssBytes: number;
}

const mib = (b: number) => `${(b / 2 ** 20).toFixed(0)} MiB`;

function benchShape(quick: boolean): { name: string; options: SyntheticCheckpointOptions; prompt: number; response: number; runs: number } {
  return quick
    ? { name: 'tiny-bf16', options: { preset: 'tiny', seed: 1, dtype: 'BF16' }, prompt: 16, response: 8, runs: 2 }
    : { name: 'smollm2-135m-bf16', options: { preset: 'smollm2-135m', seed: 1, dtype: 'BF16' }, prompt: 64, response: 32, runs: 3 };
}

/** Child mode: one target's bench row on one checkpoint, as a JSON line; nothing else runs in this process. */
async function benchChild(dir: string, target: ParityTarget, prompt: number, response: number, runs: number, model: string): Promise<void> {
  const checkpoint = loadCheckpoint(dir);
  const runner = new LlamaRunner(checkpoint, { ...targetOptions(target), log: (l) => process.stderr.write(l + '\n') });
  try {
    const V = checkpoint.config.vocabSize;
    const ids = Array.from({ length: prompt + response }, (_, i) => (i * 7919 + 13) % V);
    const timed = (fn: () => Promise<unknown>) => medianMs(runs, fn);
    const forwardMs = await timed(() => runner.forward(ids));
    const attributionMs = await timed(() => runner.attribute(ids, prompt));
    checkpoint.tokenizer.eosTokenIds.length = 0; // no EOS stop: every run generates `response` tokens
    const generateMs = await timed(() => runner.generate(ids.slice(0, prompt), { maxNewTokens: response }));
    const row: BenchRow = {
      target: targetName(target),
      model,
      device: executionDevice(runner.executionProvider),
      weightBytes: checkpoint.weightBytes,
      forwardMs,
      attributionMs,
      generateTokensPerSecond: response / (generateMs / 1000),
      peakRssBytes: process.resourceUsage().maxRSS * 1024,
    };
    process.stdout.write(JSON.stringify(row) + '\n');
  } finally {
    await runner.dispose();
  }
}

/** Runs the parity test files on webgpu, streaming their output, and keeps the lines that carry errors. */
function runParity(quick: boolean): Promise<{ ok: boolean; figures: string[]; seconds: number }> {
  const started = performance.now();
  return new Promise((done) => {
    const child = spawn(process.execPath, ['--import', 'tsx', '--test', '--test-reporter=spec', ...PARITY_FILES], {
      cwd: ROOT,
      env: { ...process.env, LENS_PARITY_PROVIDERS: 'webgpu', LENS_REQUIRE_WEBGPU: '1', ...(quick ? { LENS_PARITY_QUICK: '1' } : {}) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const figures: string[] = [];
    let last = '';
    let buffered = '';
    child.stdout.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop()!;
      for (const line of lines) {
        process.stdout.write(line + '\n');
        const trimmed = line.trim();
        if (/^[✔✖] /.test(trimmed)) last = trimmed.replace(/^[✔✖] /, '').replace(/ \([\d.]+ms\)$/, '');
        if (trimmed.includes('max|Δ|/max|ref|')) figures.push(`${last}: ${trimmed.replace(/^ℹ /, '')}`);
        if (/^# (heads|ffn) parity/.test(trimmed)) figures.push(trimmed.slice(2));
      }
    });
    // Dawn's limit warnings on every session; the rest of stderr is worth seeing.
    child.stderr.on('data', (chunk: Buffer) => {
      for (const line of chunk.toString().split('\n')) if (line && !line.startsWith('Warning: max')) process.stderr.write(line + '\n');
    });
    child.on('close', (code) => done({ ok: code === 0, figures, seconds: (performance.now() - started) / 1000 }));
  });
}

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  if (args[0] === '--bench-child') {
    const [, dir, name, prompt, response, runs, model] = args;
    const target = parityTargets().find((t) => targetName(t) === name);
    if (!target) throw new Error(`unknown target ${name}`);
    await benchChild(dir!, target, Number(prompt), Number(response), Number(runs), model!);
    return 0;
  }
  const unknown = args.filter((a) => a !== '--quick');
  if (unknown.length) {
    process.stderr.write(`gpu-check: unknown argument ${unknown[0]} (usage: npm run gpu-check [-- --quick])\n`);
    return 2;
  }
  const quick = args.includes('--quick');
  const started = performance.now();

  const adapter = await providerAdapter('webgpu');
  if (adapter.error) {
    process.stderr.write(`gpu-check: WebGPU cannot run here: ${adapter.error}\n`);
    return 1;
  }
  const device = executionDevice('webgpu', adapter.name);
  process.stdout.write(`adapter: ${device}${adapter.software ? ' (a software adapter: the CPU, not a GPU; these are not GPU figures)' : ''}\n`);

  const parity = await runParity(quick);

  const shape = benchShape(quick);
  const dir = join(CACHE, shape.name);
  if (!existsSync(join(dir, 'config.json'))) await writeSyntheticCheckpoint(dir, shape.options);
  const rows: BenchRow[] = [];
  const benchFailures: string[] = [];
  for (const target of parityTargets().filter((t) => t.provider === 'webgpu')) {
    const child = spawnSync(
      process.execPath,
      ['--import', 'tsx', __filename, '--bench-child', dir, targetName(target), String(shape.prompt), String(shape.response), String(shape.runs), shape.name],
      { cwd: ROOT, encoding: 'utf8', maxBuffer: 64 * 2 ** 20 },
    );
    const line = child.stdout.trim().split('\n').pop() ?? '';
    if (child.status !== 0 || !line.startsWith('{')) {
      benchFailures.push(`${targetName(target)}: ${child.stderr.split('\n').filter((l) => l && !l.startsWith('Warning: max')).slice(-3).join(' | ')}`);
      continue;
    }
    rows.push(JSON.parse(line) as BenchRow);
  }
  const seconds = (performance.now() - started) / 1000;

  const out: string[] = ['', `── gpu-check${quick ? ' --quick' : ''} · ${device} ──`];
  out.push(`parity on webgpu (${parityTargets().filter((t) => t.provider === 'webgpu').map(targetName).join(', ')}): ${parity.ok ? 'passed' : 'FAILED'} in ${parity.seconds.toFixed(0)} s`);
  for (const f of parity.figures) out.push(`  ${f}`);
  out.push(`bench (${shape.name}, prompt ${shape.prompt} + response ${shape.response} tokens):`);
  out.push('  target       forward ms  attribution ms  generate tok/s  peak RSS   weights');
  for (const r of rows) {
    out.push(`  ${r.target.padEnd(12)} ${r.forwardMs.toFixed(1).padStart(10)}  ${r.attributionMs.toFixed(1).padStart(14)}  ${r.generateTokensPerSecond.toFixed(1).padStart(14)}  ${mib(r.peakRssBytes).padStart(9)}  ${mib(r.weightBytes)}`);
  }
  for (const f of benchFailures) out.push(`  FAILED ${f}`);
  out.push(`total ${seconds.toFixed(0)} s${seconds > BUDGET_S ? ` — over the ${BUDGET_S / 60}-minute budget` : ''}`);
  process.stdout.write(out.join('\n') + '\n');

  mkdirSync(RESULTS, { recursive: true });
  writeFileSync(join(RESULTS, 'gpu-check.json'), JSON.stringify({ device, software: adapter.software, quick, parity, bench: rows, benchFailures, seconds }, null, 2) + '\n');
  return parity.ok && benchFailures.length === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (e) => {
    process.stderr.write(`gpu-check: ${(e as Error).message}\n`);
    process.exit(1);
  },
);
