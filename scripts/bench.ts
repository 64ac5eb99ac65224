/**
 * `npm run bench`: speed and memory, as ratios measured in one run.
 *
 *   npm run bench              SmolLM2-135M-shaped F32 checkpoint and a tiny one
 *   npm run bench -- --quick   the tiny checkpoint only
 *   npm run bench -- --analysis-only   only the global heads/FFN rows (bench-results/bench-analysis.json)
 *   npm run bench -- --real-size       memory of whole CLI processes on real-size BF16/F16/F32 checkpoints
 *                                      and seconds per layer of a Llama-2-7B shape (bench-results/bench-real-size.json)
 *   npm run bench -- --analysis-scale  heads and FFN at Llama-3.2-1B and Llama-2-7B shapes (a few layers
 *                                      each, extrapolated to the whole model; bench-results/bench-scale.json)
 *   npm run bench -- --modes [16x256,64x32,256x16,memory]
 *                                      attribution's forward and reverse modes on the SmolLM2-135M shape:
 *                                      per prompt × response row, reverse mode against auto (and the paper's
 *                                      loop at 64 × 32); `memory`: each mode's peak RSS within a given budget
 *                                      (bench-results/bench-modes.json)
 *
 * The global analyses (heads, FFN) run on the SmolLM2-shaped model with a 20,000-word list over 4
 * of its 30 layers (the full run is extrapolated from them); their products' achieved GFLOP/s come
 * from onnxruntime's profiler and are set against a plain large product measured in the same run.
 *
 * Forward time is over prompt + response (the sequence attribution runs on); attribution covers all
 * response tokens; the paper-style figure is R × one full backward with weight gradients.
 * Peak resident memory is measured in a fresh child process per model (getrusage maxrss), so
 * that one measurement cannot inherit another's peak. Results: a table on stdout and
 * bench-results/bench.json.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import * as ort from 'onnxruntime-node';
import { loadCheckpoint } from '../src/model/checkpoint.js';
import { median, medianMs } from './timing.js';
import { SYNTHETIC_PRESETS, writeSyntheticCheckpoint, type SyntheticCheckpointOptions } from '../src/model/synthetic.js';
import { LlamaRunner, type AttributionOptions } from '../src/llm/runner.js';
import { analyzeFfnGlobal } from '../src/explain/ffn.js';
import { analyzeHeadsGlobal } from '../src/explain/heads.js';
import { buildWordList } from '../src/explain/wordlist.js';
import { Graph, int } from '../src/onnx/graph.js';
import { serializeModel } from '../src/onnx/serialize.js';

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
    const timed = (fn: () => Promise<unknown>) => medianMs(RUNS, fn);
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

// ---------------------------------------------------------------------------------------------
// Global analyses (heads, FFN): wall time, achieved GFLOP/s of their products (from onnxruntime's
// profiler: every Gemm/MatMul kernel's time and shapes) against a plain large product of the same
// element type measured in this run, and the analysis cache's speed-up.

/** Layers the heads and FFN rows measure on the 30-layer model (a full heads run takes minutes on 2 cores); totals are extrapolated. */
const ANALYSIS_LAYERS = [0, 10, 20, 29];

interface ProductStats {
  /** op:dtype, e.g. Gemm:float. */
  kind: string;
  gflop: number;
  ms: number;
  gflops: number;
  /** ÷ the plain product of the same element type. */
  ofPlain: number;
}

interface AnalysisRow {
  analysis: 'heads' | 'ffn';
  model: string;
  words: number;
  layersMeasured: number[];
  layersTotal: number;
  /** Wall time of the run over the measured layers (word vectors, statistics, layers). */
  wallMs: number;
  /** Per measured layer (after the per-model part). */
  perLayerMs: number;
  /** Per-model part + 30 × per-layer. */
  extrapolatedFullMs: number;
  products: ProductStats[];
  /** The largest product class (by FLOPs) and its share of the plain product's rate. */
  dominant: ProductStats;
  cachedMs: number;
  cacheSpeedup: number;
  /** GFLOP/s of the plain [4096, H] × [H, 4096] product, per element type. */
  plainGflops: { float32: number; float64: number };
}

/** A plain large product [4096, H] × [H, 4096] of the given type: median GFLOP/s of 5 runs. */
async function plainProduct(type: 'float32' | 'float64', hidden: number): Promise<number> {
  const M = 4096;
  const g = new Graph('plain');
  const a = g.input('a', type, [M, hidden]);
  const b = g.input('b', type, [M, hidden]);
  g.output(g.node('Gemm', [a, b], { transB: int(1) }), 'c');
  const session = await ort.InferenceSession.create(serializeModel(g), { graphOptimizationLevel: 'all' });
  const data = () => (type === 'float32' ? Float32Array.from({ length: M * hidden }, (_, i) => ((i * 7919) % 1000) / 1000) : Float64Array.from({ length: M * hidden }, (_, i) => ((i * 7919) % 1000) / 1000));
  const feeds = { a: new ort.Tensor(type, data(), [M, hidden]), b: new ort.Tensor(type, data(), [M, hidden]) };
  await session.run(feeds);
  const rates: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const t = performance.now();
    await session.run(feeds);
    rates.push((2 * M * M * hidden) / ((performance.now() - t) / 1000) / 1e9);
  }
  await session.release();
  return median(rates);
}

/** Σ FLOPs and kernel time of every Gemm / MatMul / FusedMatMul in the profiles under `dir`, by op and element type. */
function profiledProducts(dir: string, plain: { float32: number; float64: number }): ProductStats[] {
  const totals = new Map<string, { flop: number; us: number }>();
  for (const file of readdirSync(dir)) {
    const events = JSON.parse(readFileSync(join(dir, file), 'utf8')) as { cat: string; name: string; dur: number; args?: { op_name?: string; input_type_shape?: Record<string, number[]>[]; output_type_shape?: Record<string, number[]>[] } }[];
    for (const e of events) {
      const op = e.args?.op_name;
      if (e.cat !== 'Node' || !e.name.endsWith('_kernel_time') || !op || !['Gemm', 'MatMul', 'FusedMatMul'].includes(op)) continue;
      const [type, a] = Object.entries(e.args!.input_type_shape![0]!)[0]!;
      const out = Object.values(e.args!.output_type_shape![0]!)[0]!;
      const rows = out[out.length - 2]!;
      // The contracted size: A's other dimension (Gemm may take A transposed), A's last for MatMul.
      const k = op === 'Gemm' ? (a[0] === rows ? a[1]! : a[0]!) : a[a.length - 1]!;
      const flop = 2 * out.reduce((x, y) => x * y, 1) * k;
      const key = `${op}:${type}`;
      const t = totals.get(key) ?? { flop: 0, us: 0 };
      t.flop += flop;
      t.us += e.dur;
      totals.set(key, t);
    }
  }
  return [...totals]
    .map(([kind, t]) => {
      const gflops = t.flop / (t.us * 1e3);
      return { kind, gflop: t.flop / 1e9, ms: t.us / 1e3, gflops, ofPlain: gflops / plain[kind.endsWith(':double') ? 'float64' : 'float32'] };
    })
    .sort((x, y) => y.gflop - x.gflop);
}

async function measureAnalyses(name: string, dir: string): Promise<AnalysisRow[]> {
  const checkpoint = loadCheckpoint(dir);
  const hidden = checkpoint.config.hiddenSize;
  const plain = { float32: await plainProduct('float32', hidden), float64: await plainProduct('float64', hidden) };
  process.stderr.write(`plain [4096, ${hidden}] × [${hidden}, 4096]: float32 ${plain.float32.toFixed(1)} GFLOP/s, float64 ${plain.float64.toFixed(1)} GFLOP/s\n`);
  const list = await buildWordList(checkpoint);
  const layers = ANALYSIS_LAYERS.filter((l) => l < checkpoint.config.numLayers);
  const rows: AnalysisRow[] = [];
  for (const analysis of ['heads', 'ffn'] as const) {
    const profileDir = mkdtempSync(join(tmpdir(), 'lens-bench-profile-'));
    const cacheDir = mkdtempSync(join(tmpdir(), 'lens-bench-cache-'));
    try {
      let firstLayerAt = 0;
      const mark = (p: { phase: string; done?: number }) => {
        if ((p.phase === 'layers' || p.phase === 'covariance') && p.done === 0) firstLayerAt = performance.now();
      };
      const run = { provider: 'cpu' as const, profilePrefix: join(profileDir, 'p'), cache: { dir: cacheDir }, onProgress: mark };
      const started = performance.now();
      if (analysis === 'heads') await analyzeHeadsGlobal(checkpoint, list, { layers }, run);
      else await analyzeFfnGlobal(checkpoint, list, { layers }, run);
      const wallMs = performance.now() - started;
      // FFN: the concepts (after the covariances) are per layer too; count them with the layers.
      const perModelMs = firstLayerAt - started;
      const perLayerMs = (wallMs - perModelMs) / layers.length;
      const products = profiledProducts(profileDir, plain);
      const cachedStart = performance.now();
      const again = analysis === 'heads' ? await analyzeHeadsGlobal(checkpoint, list, { layers }, { provider: 'cpu', cache: { dir: cacheDir } }) : await analyzeFfnGlobal(checkpoint, list, { layers }, { provider: 'cpu', cache: { dir: cacheDir } });
      const cachedMs = performance.now() - cachedStart;
      if (!again.fromCache) throw new Error(`${analysis}: the second run did not use the cache`);
      rows.push({
        analysis,
        model: name,
        words: list.words.length,
        layersMeasured: layers,
        layersTotal: checkpoint.config.numLayers,
        wallMs,
        perLayerMs,
        extrapolatedFullMs: perModelMs + perLayerMs * checkpoint.config.numLayers,
        products,
        dominant: products[0]!,
        cachedMs,
        cacheSpeedup: wallMs / cachedMs,
        plainGflops: plain,
      });
    } finally {
      rmSync(profileDir, { recursive: true, force: true });
      rmSync(cacheDir, { recursive: true, force: true });
    }
  }
  return rows;
}

// ---------------------------------------------------------------------------------------------
// Heads and FFN at real sizes: per-layer seconds on synthetic checkpoints of the real shapes with a
// few layers, extrapolated to the whole model; the FFN's subspace method against the exact path
// measured in the same run (the speed-up is the ratio; absolute seconds depend on the machine's load).

interface ScaleRow {
  model: string;
  analysis: 'heads' | 'ffn';
  method?: 'exact' | 'subspace';
  words: number;
  layersMeasured: number[];
  layersTotal: number;
  /** Once per model (word vectors, thresholds). */
  perModelMs: number;
  perLayerMs: number;
  /** perModelMs + layersTotal × perLayerMs. */
  extrapolatedFullMs: number;
  /** FFN subspace: whether every layer passed the residual test, and the largest residual (÷ λ₀). */
  converged?: boolean;
  largestResidual?: number;
}

/** Runs one analysis and splits its wall time into the per-model part and the per-layer part, from its progress events. */
async function timeAnalysis(run: () => Promise<unknown>, perLayerPhases: string[], events: { phase: string; at: number; done?: number }[]): Promise<{ perModelMs: number; perLayerMs: number }> {
  events.length = 0;
  const started = performance.now();
  await run();
  const ended = performance.now();
  // A phase lasts from its first event to the next phase's first event.
  let layerMs = 0;
  for (let i = 0; i < events.length; i++) {
    const e = events[i]!;
    if (!perLayerPhases.includes(e.phase)) continue;
    const next = events.slice(i + 1).find((x) => x.phase !== e.phase);
    if (events[i - 1]?.phase === e.phase) continue;
    layerMs += (next?.at ?? ended) - e.at;
  }
  return { perModelMs: ended - started - layerMs, perLayerMs: layerMs };
}

async function measureScale(): Promise<ScaleRow[]> {
  const rows: ScaleRow[] = [];
  const events: { phase: string; at: number; done?: number }[] = [];
  const onProgress = (p: { phase: string; done?: number }) => events.push({ phase: p.phase, at: performance.now(), done: p.done });
  const log = (line: string) => process.stderr.write(`  ${line}\n`);
  const add = (row: Omit<ScaleRow, 'extrapolatedFullMs'>) => {
    const full = { ...row, extrapolatedFullMs: row.perModelMs + row.perLayerMs * row.layersTotal };
    rows.push(full);
    process.stderr.write(`${row.model} ${row.analysis}${row.method ? ` (${row.method})` : ''}: ${(row.perLayerMs / 1000).toFixed(1)} s/layer, per model ${(row.perModelMs / 1000).toFixed(1)} s, all ${row.layersTotal} layers ≈ ${(full.extrapolatedFullMs / 60000).toFixed(1)} min\n`);
  };
  const cache = { enabled: false };
  // The checkpoints have 2 of the model's layers; layersTotal is the real model's.
  const ffnRow = async (model: string, layersTotal: number, checkpoint: ReturnType<typeof loadCheckpoint>, list: Awaited<ReturnType<typeof buildWordList>>, method: 'exact' | 'subspace', layers: number[]) => {
    let result: Awaited<ReturnType<typeof analyzeFfnGlobal>> | undefined;
    const t = await timeAnalysis(async () => (result = await analyzeFfnGlobal(checkpoint, list, { layers, method }, { provider: 'cpu', cache, onProgress, log })), ['covariance', 'concepts'], events);
    const residuals = result!.layers.flatMap((l) => l.residuals ?? []);
    add({
      model,
      analysis: 'ffn',
      method,
      words: list.words.length,
      layersMeasured: layers,
      layersTotal,
      perModelMs: t.perModelMs,
      perLayerMs: t.perLayerMs / layers.length,
      ...(method === 'subspace' ? { converged: result!.layers.every((l) => l.converged), largestResidual: Math.max(...residuals) } : {}),
    });
  };
  // Llama-3.2-1B: the FFN's two methods on the same layer.
  {
    const dir = await ensureCheckpoint('llama-3.2-1b-2layers-bf16', { preset: 'llama-3.2-1b', numLayers: 2, dtype: 'BF16', seed: 1 });
    const checkpoint = loadCheckpoint(dir);
    const list = await buildWordList(checkpoint);
    const total = SYNTHETIC_PRESETS['llama-3.2-1b'].numLayers;
    await ffnRow('llama-3.2-1b', total, checkpoint, list, 'subspace', [0]);
    await ffnRow('llama-3.2-1b', total, checkpoint, list, 'exact', [0]);
  }
  // Llama-2-7B: heads and FFN (default methods), extrapolated to its 32 layers.
  {
    const dir = await ensureCheckpoint('llama-2-7b-2layers-f16', { preset: 'llama-2-7b', numLayers: 2, dtype: 'F16', seed: 1 });
    const checkpoint = loadCheckpoint(dir);
    const list = await buildWordList(checkpoint);
    const model = 'llama-2-7b';
    const total = SYNTHETIC_PRESETS['llama-2-7b'].numLayers;
    await ffnRow(model, total, checkpoint, list, 'subspace', [0]);
    // The words × words similarity table's allowance is a share of the weight bytes: those of the whole model, not of the 2-layer checkpoint.
    const layerBytes = [...checkpoint.tensors].filter(([name]) => name.startsWith('model.layers.0.')).reduce((a, [, t]) => a + t.length, 0);
    const fullWeightBytes = checkpoint.weightBytes + (total - checkpoint.config.numLayers) * layerBytes;
    const t = await timeAnalysis(() => analyzeHeadsGlobal(checkpoint, list, { layers: [0] }, { provider: 'cpu', cache, onProgress, log, similarityTableBytes: Math.max(256 * 2 ** 20, fullWeightBytes / 5) }), ['layers'], events);
    add({ model, analysis: 'heads', words: list.words.length, layersMeasured: [0], layersTotal: total, perModelMs: t.perModelMs, perLayerMs: t.perLayerMs });
  }
  return rows;
}

// ---------------------------------------------------------------------------------------------
// Real-size rows: the shipped CLI bundle as a whole process, its peak RSS against the weight bytes.

const REAL_PROMPT = 'Please summarize the following text about the river and the mountain in two short sentences.';

interface CliRun {
  peakRssBytes: number;
  seconds: number;
}

/** The Node flags of a script's `#!/usr/bin/env -S node …` line: the CLI runs with them as installed. */
function shebangNodeFlags(script: string): string[] {
  const first = readFileSync(script, 'utf8').split('\n', 1)[0]!;
  const match = /^#!\/usr\/bin\/env(?: -S)? node(.*)$/.exec(first);
  if (!match) throw new Error(`${script}: no node shebang`);
  return match[1]!.trim().split(/\s+/).filter(Boolean);
}

/** Runs dist/cli.js with `args` in a fresh process, with its shebang's Node flags; its peak RSS comes from scripts/peak-rss.cjs. */
function runCli(args: string[]): CliRun {
  const out = mkdtempSync(join(tmpdir(), 'bench-cli-'));
  try {
    const peakFile = join(out, 'peak');
    const started = performance.now();
    const cli = join(ROOT, 'dist', 'cli.js');
    const run = spawnSync(process.execPath, [...shebangNodeFlags(cli), '--require', join(ROOT, 'scripts', 'peak-rss.cjs'), cli, ...args, '--json', join(out, 'out.json')], {
      cwd: ROOT,
      encoding: 'utf8',
      env: { ...process.env, BENCH_PEAK_RSS_FILE: peakFile },
    });
    const seconds = (performance.now() - started) / 1000;
    if (run.status !== 0) throw new Error(`instruction-lens ${args[0]} failed: ${run.stderr}`);
    return { peakRssBytes: Number(readFileSync(peakFile, 'utf8')), seconds };
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

interface RealSizeRow {
  row: string;
  command: string;
  weightBytes: number;
  peakRssBytes: number;
  peakRssOverWeights: number;
  seconds: number;
}

async function measureRealSize(): Promise<{ rows: RealSizeRow[]; sevenB: Record<string, number> }> {
  if (!existsSync(join(ROOT, 'dist', 'cli.js'))) throw new Error('dist/cli.js is missing: run npm run build first');
  const checkpoints: [string, SyntheticCheckpointOptions][] = [
    ['smollm2-135m-f32', { preset: 'smollm2-135m', dtype: 'F32', seed: 1 }],
    ['llama-3.2-1b-bf16', { preset: 'llama-3.2-1b', dtype: 'BF16', seed: 1 }],
    ['llama-3.2-1b-f16', { preset: 'llama-3.2-1b', dtype: 'F16', seed: 1 }],
    ['llama-3.2-1b-bf16-b', { preset: 'llama-3.2-1b', dtype: 'BF16', seed: 2 }],
    ['llama-2-7b-4-layers-bf16', { preset: 'llama-2-7b', dtype: 'BF16', numLayers: 4, seed: 1 }],
    ['llama-2-7b-2-layers-bf16', { preset: 'llama-2-7b', dtype: 'BF16', numLayers: 2, seed: 1 }],
  ];
  const dirs = new Map<string, string>();
  for (const [name, options] of checkpoints) dirs.set(name, await ensureCheckpoint(name, options));
  const weights = (name: string) => loadCheckpoint(dirs.get(name)!).weightBytes;
  const attribute = (name: string) => ['attribute', '--model', dirs.get(name)!, '--prompt', REAL_PROMPT, '--max-new-tokens', String(RESPONSE_TOKENS), '--provider', 'cpu'];
  const rows: RealSizeRow[] = [];
  const add = (row: string, command: string, weightBytes: number, run: CliRun) => {
    rows.push({ row, command, weightBytes, peakRssBytes: run.peakRssBytes, peakRssOverWeights: run.peakRssBytes / weightBytes, seconds: run.seconds });
    process.stderr.write(`${row}: ${(run.peakRssBytes / weightBytes).toFixed(3)}× weights, ${run.seconds.toFixed(1)} s\n`);
  };
  for (const name of ['smollm2-135m-f32', 'llama-3.2-1b-bf16', 'llama-3.2-1b-f16']) add(name, 'attribute', weights(name), runCli(attribute(name)));
  // compare holds one model at a time: its peak is set against one model's weights.
  add('llama-3.2-1b-bf16 pair', 'compare --no-heads --no-ffn', weights('llama-3.2-1b-bf16'), runCli(['compare', '--base', dirs.get('llama-3.2-1b-bf16')!, '--tuned', dirs.get('llama-3.2-1b-bf16-b')!, '--prompt', REAL_PROMPT, '--max-new-tokens', String(RESPONSE_TOKENS), '--provider', 'cpu', '--no-heads', '--no-ffn']));
  // Llama-2-7B: 4 and 2 of its 32 layers; the difference gives seconds per layer, the rest is the
  // part every depth pays (embedding, LM head, tokenizer, process).
  const four = runCli(attribute('llama-2-7b-4-layers-bf16'));
  add('llama-2-7b, 4 of 32 layers', 'attribute', weights('llama-2-7b-4-layers-bf16'), four);
  const two = runCli(attribute('llama-2-7b-2-layers-bf16'));
  add('llama-2-7b, 2 of 32 layers', 'attribute', weights('llama-2-7b-2-layers-bf16'), two);
  const perLayer = (four.seconds - two.seconds) / 2;
  const fixed = two.seconds - 2 * perLayer;
  const full = fixed + 32 * perLayer;
  return { rows, sevenB: { secondsPerLayer: perLayer, fixedSeconds: fixed, attributeFullModelSeconds: full, comparePairSeconds: 2 * full } };
}

// ---------------------------------------------------------------------------------------------
// Attribution modes: forward (one tangent per prompt token) against reverse (one cotangent per
// response token), on the SmolLM2-135M shape, one run each (the long rows take minutes).

/** The working-memory budget the mode rows give both modes (chunks of tangents or cotangents within it). */
const MODES_BUDGET = 256 * 2 ** 20;
/** The memory rows' budget: small enough that both modes need several chunks at 64 × 32. */
const MEMORY_BUDGET = 32 * 2 ** 20;

interface ModeRow {
  prompt: number;
  response: number;
  reverseMs: number;
  autoMs: number;
  autoMode: string;
  /** reverseMs ÷ autoMs. */
  autoSpeedup: number;
  /** The paper's loop: R × one full backward with weight gradients (64 × 32 only). */
  paperStyleMs?: number;
  paperOverAuto?: number;
}

interface ModeMemoryRow {
  mode: 'forward' | 'reverse';
  budgetBytes: number;
  /** Peak RSS of a process that attributed 64 × 32 within the budget. */
  peakRssBytes: number;
  /** The same with one tangent or cotangent per run (the least working memory the mode can use). */
  oneAtATimePeakRssBytes: number;
  /** peak − one-at-a-time peak: what the chunks took beyond the least; must be ≤ the budget. */
  chunkBytes: number;
}

function modeSequence(vocab: number, prompt: number, response: number): number[] {
  return Array.from({ length: prompt + response }, (_, i) => (i * 7919 + 13) % vocab);
}

/** Child mode: attribute prompt × response in one mode with the given options, report peak RSS. */
async function modeMemoryProbe(dir: string, mode: 'forward' | 'reverse', options: AttributionOptions): Promise<void> {
  const checkpoint = loadCheckpoint(dir);
  const runner = new LlamaRunner(checkpoint, { provider: 'cpu' });
  const ids = modeSequence(checkpoint.config.vocabSize, 64, 32);
  const result = await runner.attribute(ids, 64, { ...options, mode });
  if (result.mode !== mode) throw new Error(`asked for ${mode}, ran ${result.mode}`);
  process.stdout.write(JSON.stringify({ peak: process.resourceUsage().maxRSS * 1024 }) + '\n');
  await runner.dispose();
}

async function measureModes(dir: string, rows: string[]): Promise<{ rows: ModeRow[]; memory: ModeMemoryRow[] }> {
  const checkpoint = loadCheckpoint(dir);
  const runner = new LlamaRunner(checkpoint, { provider: 'cpu' });
  const out: ModeRow[] = [];
  const memory: ModeMemoryRow[] = [];
  try {
    for (const row of rows.filter((r) => r !== 'memory')) {
      const [prompt, response] = row.split('x').map(Number) as [number, number];
      const ids = modeSequence(checkpoint.config.vocabSize, prompt, response);
      const timedOnce = async (options: AttributionOptions) => {
        // The session of the mode opens on a two-token run first: opening is not attribution.
        await runner.attribute(ids.slice(0, prompt + 2), prompt, { ...options, chunkSize: 1 });
        const started = performance.now();
        const result = await runner.attribute(ids, prompt, { memoryBudget: MODES_BUDGET, ...options });
        return { ms: performance.now() - started, mode: result.mode };
      };
      const reverse = await timedOnce({ mode: 'reverse' });
      const auto = await timedOnce({ mode: 'auto' });
      const entry: ModeRow = { prompt, response, reverseMs: reverse.ms, autoMs: auto.ms, autoMode: auto.mode, autoSpeedup: reverse.ms / auto.ms };
      process.stderr.write(`modes ${prompt} × ${response}: reverse ${(reverse.ms / 1000).toFixed(1)} s, auto (${auto.mode}) ${(auto.ms / 1000).toFixed(1)} s: ×${entry.autoSpeedup.toFixed(2)}\n`);
      if (prompt === 64 && response === 32) {
        // The paper's loop: one full backward (weight gradients included) per response token.
        // (Its session opens on a first run, not timed.)
        await runner.attribute(ids.slice(0, prompt + 1), prompt, { weightGradients: true });
        const started = performance.now();
        for (let t = prompt; t < ids.length; t++) await runner.attribute(ids.slice(0, t + 1), t, { weightGradients: true });
        entry.paperStyleMs = performance.now() - started;
        entry.paperOverAuto = entry.paperStyleMs / auto.ms;
        process.stderr.write(`  paper's loop ${(entry.paperStyleMs / 1000).toFixed(1)} s: auto ×${entry.paperOverAuto.toFixed(2)} faster\n`);
      }
      out.push(entry);
    }
  } finally {
    await runner.dispose();
  }
  if (rows.includes('memory')) {
    const probe = (mode: string, options: AttributionOptions) => {
      const run = spawnSync(process.execPath, ['--import', 'tsx', __filename, '--mode-memory-probe', dir, mode, JSON.stringify(options)], { encoding: 'utf8', cwd: ROOT });
      if (run.status !== 0) throw new Error(`mode memory probe failed: ${run.stderr}`);
      return (JSON.parse(run.stdout.trim().split('\n').pop()!) as { peak: number }).peak;
    };
    for (const mode of ['forward', 'reverse'] as const) {
      const peakRssBytes = probe(mode, { memoryBudget: MEMORY_BUDGET });
      const oneAtATimePeakRssBytes = probe(mode, { chunkSize: 1 });
      const row = { mode, budgetBytes: MEMORY_BUDGET, peakRssBytes, oneAtATimePeakRssBytes, chunkBytes: peakRssBytes - oneAtATimePeakRssBytes };
      memory.push(row);
      process.stderr.write(`memory ${mode}: peak ${(peakRssBytes / 2 ** 20).toFixed(0)} MiB, one at a time ${(oneAtATimePeakRssBytes / 2 ** 20).toFixed(0)} MiB: chunks ${(row.chunkBytes / 2 ** 20).toFixed(1)} MiB of a ${(MEMORY_BUDGET / 2 ** 20).toFixed(0)} MiB budget\n`);
    }
  }
  return { rows: out, memory };
}

async function main(): Promise<void> {
  const modeProbeAt = process.argv.indexOf('--mode-memory-probe');
  if (modeProbeAt >= 0) {
    const [dir, mode, options] = process.argv.slice(modeProbeAt + 1);
    return modeMemoryProbe(dir!, mode as 'forward' | 'reverse', JSON.parse(options!) as AttributionOptions);
  }
  const modesAt = process.argv.indexOf('--modes');
  if (modesAt >= 0) {
    const list = process.argv[modesAt + 1] && !process.argv[modesAt + 1]!.startsWith('--') ? process.argv[modesAt + 1]!.split(',') : ['16x256', '64x32', '256x16', 'memory'];
    const dir = await ensureCheckpoint('smollm2-135m-f32', { preset: 'smollm2-135m', dtype: 'F32', seed: 1 });
    const { rows, memory } = await measureModes(dir, list);
    console.log(`\nattribution modes on smollm2-135m-f32, CPU, one run each, working-memory budget ${MODES_BUDGET / 2 ** 20} MiB\n`);
    for (const r of rows) {
      console.log(
        `P ${String(r.prompt).padStart(3)}  R ${String(r.response).padStart(3)}  reverse ${(r.reverseMs / 1000).toFixed(1).padStart(6)} s  auto (${r.autoMode.padEnd(7)}) ${(r.autoMs / 1000).toFixed(1).padStart(6)} s  reverse ÷ auto ${r.autoSpeedup.toFixed(2)}` +
          (r.paperStyleMs ? `  paper's loop ${(r.paperStyleMs / 1000).toFixed(1)} s ÷ auto ${r.paperOverAuto!.toFixed(2)}` : ''),
      );
    }
    for (const m of memory) console.log(`memory ${m.mode.padEnd(7)} 64 × 32: chunks took ${(m.chunkBytes / 2 ** 20).toFixed(1)} MiB beyond one-at-a-time (budget ${(m.budgetBytes / 2 ** 20).toFixed(0)} MiB): ${m.chunkBytes <= m.budgetBytes ? 'within' : 'OVER'}`);
    mkdirSync(RESULTS, { recursive: true });
    const file = join(RESULTS, 'bench-modes.json');
    writeFileSync(file, JSON.stringify({ date: new Date().toISOString(), budgetBytes: MODES_BUDGET, rows, memory }, null, 2) + '\n');
    console.log(`\nwritten to ${file}`);
    return;
  }
  if (process.argv.includes('--real-size')) {
    const { rows, sevenB } = await measureRealSize();
    console.log(`\nwhole CLI processes (dist/cli.js), CPU, prompt of ${REAL_PROMPT.length} characters, up to ${RESPONSE_TOKENS} generated tokens; peak RSS against the weight bytes (target ≤ 1.3)\n`);
    for (const r of rows) console.log(`${r.row.padEnd(28)} ${r.command.padEnd(28)} weights ${(r.weightBytes / 2 ** 30).toFixed(2)} GiB  peak ${(r.peakRssBytes / 2 ** 30).toFixed(2)} GiB  ${r.peakRssOverWeights.toFixed(3)}×  ${r.seconds.toFixed(1)} s`);
    console.log(`\nllama-2-7b attribute: ${sevenB.secondsPerLayer!.toFixed(1)} s per layer + ${sevenB.fixedSeconds!.toFixed(1)} s fixed → 32 layers ≈ ${(sevenB.attributeFullModelSeconds! / 60).toFixed(1)} min; compare (a pair, one after the other) ≈ ${(sevenB.comparePairSeconds! / 60).toFixed(1)} min on this machine`);
    mkdirSync(RESULTS, { recursive: true });
    const file = join(RESULTS, 'bench-real-size.json');
    writeFileSync(file, JSON.stringify({ date: new Date().toISOString(), rows, sevenB }, null, 2) + '\n');
    console.log(`\nwritten to ${file}`);
    return;
  }
  const probeAt = process.argv.indexOf('--memory-probe');
  if (probeAt >= 0) return memoryProbe(process.argv[probeAt + 1]!);
  if (process.argv.includes('--analysis-scale')) {
    const plain = { float32: await plainProduct('float32', 4096), float64: await plainProduct('float64', 4096) };
    const scale = await measureScale();
    const exact = scale.find((r) => r.model === 'llama-3.2-1b' && r.method === 'exact')!;
    const subspace = scale.find((r) => r.model === 'llama-3.2-1b' && r.method === 'subspace')!;
    const seven = scale.filter((r) => r.model === 'llama-2-7b');
    const sevenTotal = seven.reduce((a, r) => a + r.extrapolatedFullMs, 0);
    console.log(`\nheads and FFN at real shapes, CPU, one run; plain [4096, 4096] × [4096, 4096] product: float32 ${plain.float32.toFixed(1)} GFLOP/s, float64 ${plain.float64.toFixed(1)} GFLOP/s\n`);
    for (const r of scale) {
      console.log(
        `${r.model.padEnd(13)} ${r.analysis.padEnd(5)} ${(r.method ?? '').padEnd(8)} ${(r.perLayerMs / 1000).toFixed(1).padStart(7)} s/layer  per model ${(r.perModelMs / 1000).toFixed(1).padStart(6)} s  ` +
          `${r.layersTotal} layers ≈ ${(r.extrapolatedFullMs / 60000).toFixed(1)} min${r.converged === undefined ? '' : `  converged ${r.converged} (largest residual ${r.largestResidual!.toExponential(1)} λ₀)`}`,
      );
    }
    console.log(`\nllama-3.2-1b FFN per layer: exact ÷ subspace = ${(exact.perLayerMs / subspace.perLayerMs).toFixed(1)}× (target ≥ 10×)`);
    console.log(`llama-2-7b heads + FFN, whole model ≈ ${(sevenTotal / 60000).toFixed(1)} min (target ≤ 10 min on 2 cores)`);
    mkdirSync(RESULTS, { recursive: true });
    const file = join(RESULTS, 'bench-scale.json');
    writeFileSync(file, JSON.stringify({ date: new Date().toISOString(), plainGflops: plain, rows: scale, ffnSpeedup1b: exact.perLayerMs / subspace.perLayerMs, sevenBMinutes: sevenTotal / 60000 }, null, 2) + '\n');
    console.log(`\nwritten to ${file}`);
    return;
  }
  const quick = process.argv.includes('--quick');
  const models: [string, SyntheticCheckpointOptions][] = [['tiny', { preset: 'tiny', seed: 1 }]];
  if (!quick) models.push(['smollm2-135m-f32', { preset: 'smollm2-135m', dtype: 'F32', seed: 1 }]);
  const rows: Row[] = [];
  const analysisOnly = process.argv.includes('--analysis-only');
  if (!analysisOnly) for (const [name, options] of models) rows.push(await measure(name, await ensureCheckpoint(name, options)));

  const mib = (b: number) => (b / 2 ** 20).toFixed(1);
  if (rows.length) console.log(`\nprompt ${PROMPT_TOKENS} tokens, response ${RESPONSE_TOKENS} tokens, fp32, CPU; medians of ${RUNS} runs\n`);
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
  if (table.length) {
    const columns = Object.keys(table[0]!) as (keyof (typeof table)[number])[];
    const widths = columns.map((c) => Math.max(c.length, ...table.map((row) => row[c].length)));
    console.log(columns.map((c, i) => c.padStart(widths[i]!)).join('  '));
    for (const row of table) console.log(columns.map((c, i) => row[c].padStart(widths[i]!)).join('  '));
  }
  // Global analyses: on the SmolLM2-shaped model (the tiny one with --quick), a 20,000-word list
  // (or the whole vocabulary's words when it has fewer).
  const [analysisName, analysisOptions] = models[models.length - 1]!;
  const analysis = await measureAnalyses(analysisName, await ensureCheckpoint(analysisName, analysisOptions));
  const a0 = analysis[0]!;
  console.log(
    `\nglobal analyses on ${analysisName}, ${a0.words} words, layers ${a0.layersMeasured.join(', ')} of ${a0.layersTotal} measured (the full run is extrapolated); CPU;` +
      ` plain [4096, H] × [H, 4096] product: float32 ${a0.plainGflops.float32.toFixed(1)} GFLOP/s, float64 ${a0.plainGflops.float64.toFixed(1)} GFLOP/s\n`,
  );
  for (const r of analysis) {
    console.log(
      `${r.analysis.padEnd(6)} ${(r.wallMs / 1000).toFixed(1)} s for ${r.layersMeasured.length} layers (${(r.perLayerMs / 1000).toFixed(2)} s/layer; full ${r.layersTotal} layers ≈ ${(r.extrapolatedFullMs / 1000).toFixed(0)} s);` +
        ` cached ${r.cachedMs.toFixed(0)} ms (×${r.cacheSpeedup.toFixed(0)})`,
    );
    for (const p of r.products) console.log(`         ${p.kind.padEnd(20)} ${p.gflop.toFixed(1).padStart(7)} GFLOP in ${p.ms.toFixed(0).padStart(6)} ms = ${p.gflops.toFixed(1).padStart(6)} GFLOP/s (${(p.ofPlain * 100).toFixed(0)}% of the plain product)`);
  }
  mkdirSync(RESULTS, { recursive: true });
  const file = join(RESULTS, analysisOnly ? 'bench-analysis.json' : 'bench.json');
  writeFileSync(file, JSON.stringify({ date: new Date().toISOString(), promptTokens: PROMPT_TOKENS, responseTokens: RESPONSE_TOKENS, runs: RUNS, rows, analysis }, null, 2) + '\n');
  console.log(`\nwritten to ${file}`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
