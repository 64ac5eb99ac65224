import { CancelledError } from '../model/errors.js';
import { checkContext, encodePrompt, type EncodedPrompt, type PromptFormat } from '../model/prompt.js';
import type { ModelPool } from './model-pool.js';
import { attributeAndProbe, attributeModel, type AttributionProgress } from '../explain/attribution.js';
import { REPORT_SCHEMA, type ModelReport, type Report } from '../explain/report.js';
import { FFN_ANALYSIS, HEADS_ANALYSIS, analysisSections, modelProbe, type ModelAnalysis, type SectionOptions } from '../explain/analysis.js';
import type { CacheOptions } from '../explain/analysis-cache.js';
import type { FfnOptions, FfnProgress, FfnRotationLayer, GlobalFfnResult } from '../explain/ffn.js';
import type { GlobalHeadsResult, HeadsOptions, HeadsProgress, HeadsVerbComparison } from '../explain/heads.js';
import { buildWordList } from '../explain/wordlist.js';
import { executionDevice, type ProviderSetting } from '../runtime/session.js';
import { DEFAULT_MAX_NEW_TOKENS, type AttributeRequest, type CompareRequest, type GenerateRequest, type GenerateResult } from '../contract/engine.js';

export type { AttributeRequest, CompareRequest, GenerateRequest, GenerateResult };

export interface InspectRequest {
  model: string;
  prompt: string;
  format?: PromptFormat;
  attentions?: boolean;
  ffn?: boolean;
}

export interface InspectResult {
  model: string;
  executionProvider: string;
  /** "webgpu · NVIDIA H200", "cpu": the provider and the device it ran on. */
  executionDevice: string;
  inputIds: number[];
  promptSpan: [number, number];
  /** [position][vocab] */
  logits: number[][];
  /** [layer][head][query][key] */
  attentions?: number[][][][];
  /** [layer][position][hidden] */
  ffn?: number[][][];
}

export { DEFAULT_MAX_NEW_TOKENS };

function rows(data: Float32Array, rowLength: number): number[][] {
  const out: number[][] = [];
  for (let i = 0; i < data.length; i += rowLength) out.push(Array.from(data.subarray(i, i + rowLength)));
  return out;
}

export async function generate(pool: ModelPool, request: GenerateRequest, signal?: AbortSignal): Promise<GenerateResult> {
  const runner = await pool.get(request.model);
  const encoded: EncodedPrompt = await encodePrompt(runner.checkpoint, request.prompt, request.format ?? 'raw', signal);
  checkContext(runner.checkpoint, encoded.inputIds.length, 'The prompt');
  const maxNewTokens = request.maxNewTokens ?? DEFAULT_MAX_NEW_TOKENS;
  const outputIds = await runner.generate(encoded.inputIds, { maxNewTokens, signal });
  if (signal?.aborted) throw new CancelledError();
  return {
    model: request.model,
    executionProvider: runner.executionProvider ?? 'cpu',
    executionDevice: executionDevice(runner.executionProvider),
    inputIds: encoded.inputIds,
    promptSpan: encoded.promptSpan,
    outputIds,
    text: await runner.checkpoint.tokenizer.tokenizer.decode(outputIds, true),
  };
}

export async function inspect(pool: ModelPool, request: InspectRequest): Promise<InspectResult> {
  const runner = await pool.get(request.model);
  const encoded = await encodePrompt(runner.checkpoint, request.prompt, request.format ?? 'raw');
  checkContext(runner.checkpoint, encoded.inputIds.length, 'The prompt');
  const { config } = runner.checkpoint;
  const S = encoded.inputIds.length;
  const out = await runner.forward(encoded.inputIds, { attentions: request.attentions, ffn: request.ffn });
  return {
    model: request.model,
    executionProvider: runner.executionProvider ?? 'cpu',
    executionDevice: executionDevice(runner.executionProvider),
    inputIds: encoded.inputIds,
    promptSpan: encoded.promptSpan,
    logits: rows(out.logits, config.vocabSize),
    attentions: out.attentions?.map((layer) => {
      const perHead = rows(layer, S * S);
      return perHead.map((head) => rows(Float32Array.from(head), S));
    }),
    ffn: out.ffn?.map((layer) => rows(layer, config.hiddenSize)),
  };
}

export async function attribute(
  pool: ModelPool,
  request: AttributeRequest,
  options: { signal?: AbortSignal; onProgress?: (p: AttributionProgress) => void } = {},
): Promise<ModelReport> {
  const runner = await pool.get(request.model);
  return attributeModel(runner, request.model, request, options);
}

export type AnalysisSectionProgress = { section: 'heads'; progress: HeadsProgress } | { section: 'ffn'; progress: FfnProgress };

/** Both models on the same prompt: the document the panel, the HTML page and the terminal table render. */
export async function compare(
  pool: ModelPool,
  request: CompareRequest,
  options: {
    signal?: AbortSignal;
    onProgress?: (role: 'base' | 'tuned', p: AttributionProgress) => void;
    /** Progress of the heads and FFN analyses. */
    onAnalysisProgress?: (role: 'base' | 'tuned', p: AnalysisSectionProgress) => void;
    log?: (line: string) => void;
    cache?: CacheOptions;
  } = {},
): Promise<Report> {
  const which = { heads: request.heads !== false, ffn: request.ffn !== false };
  const analyses = which.heads || which.ffn;
  // Each model once: the prompt encoded once, one forward over it (generation's first pass, or
  // a forward when the response is given) whose attention probabilities and FFN outputs feed the
  // local analyses, then the attribution graph.
  const run = async (role: 'base' | 'tuned') => {
    const spec = role === 'base' ? request.base : request.tuned;
    const runner = await pool.get(spec, undefined, role === 'tuned' ? request.base : undefined);
    const result = await attributeAndProbe(
      runner,
      spec,
      { ...request, response: role === 'base' ? request.responseBase : request.responseTuned, format: role === 'base' ? request.formatBase : request.formatTuned },
      { signal: options.signal, onProgress: (p) => options.onProgress?.(role, p), probes: analyses ? { attentions: which.heads, ffn: which.ffn } : undefined },
    );
    return { runner, ...result };
  };
  // One after the other: each model's sessions use every core already, and the pool keeps one
  // model resident at a time.
  options.log?.('compare: one model in memory at a time (the base model\'s sessions are released before the tuned model\'s open)');
  const base = await run('base');
  const tuned = await run('tuned');
  const report: Report = { schema: REPORT_SCHEMA, createdAt: new Date().toISOString(), prompt: request.prompt, base: base.report, tuned: tuned.report };
  if (analyses) {
    if (options.signal?.aborted) throw new CancelledError();
    const sectionOptions: SectionOptions = {
      heads: request.headsOptions,
      ffn: request.ffnOptions,
      wordsFile: request.wordsFile,
      verbs: request.instructionVerbs,
      signal: options.signal,
      log: options.log,
      cache: options.cache,
      onProgress: (role, section, p) => options.onAnalysisProgress?.(role, section === 'heads' ? { section, progress: p as HeadsProgress } : { section, progress: p as FfnProgress }),
    };
    const probes = {
      base: await modelProbe(base.runner, request.prompt, base, base.report.instructions.verbs, sectionOptions),
      tuned: await modelProbe(tuned.runner, request.prompt, tuned, tuned.report.instructions.verbs, sectionOptions),
    };
    // The global analyses map the weights with sessions of their own.
    await pool.releaseSessions();
    Object.assign(report, await analysisSections(request.prompt, probes, which, sectionOptions));
  }
  return report;
}

// ---------------------------------------------------------------------------------------------
// The global analyses on their own (CLI heads / ffn / heads-diff / ffn-diff)

export interface HeadsRequest extends HeadsOptions {
  model: string;
  /** The base of a LoRA adapter `model` whose adapter_config.json names none that is here (the diffs: the base model). */
  adapterBase?: string;
  /** The instruction-verb lexicon for Table 3 (default: the built-in one). */
  instructionVerbs?: readonly string[];
  /** A word file, used exactly as given (default: the vocabulary's whole words). */
  wordsFile?: string;
  provider?: ProviderSetting;
}

export interface FfnRequest extends FfnOptions {
  model: string;
  /** As HeadsRequest.adapterBase. */
  adapterBase?: string;
  wordsFile?: string;
  provider?: ProviderSetting;
}

export interface GlobalRunOptions<P> {
  signal?: AbortSignal;
  onProgress?: (p: P) => void;
  log?: (line: string) => void;
  cache?: CacheOptions;
}

/** One analysis's global part for one model, on the request's word file or the vocabulary's words. */
async function globalOf<O, P, G>(analysis: ModelAnalysis<O, P, G, unknown, unknown, unknown>, pool: ModelPool, request: O & { model: string; adapterBase?: string; wordsFile?: string; provider?: ProviderSetting }, options: GlobalRunOptions<P>): Promise<G> {
  const { checkpoint } = await pool.get(request.model, undefined, request.adapterBase);
  const list = await buildWordList(checkpoint, request.wordsFile !== undefined ? { file: request.wordsFile } : {});
  return analysis.global(checkpoint, list, request, { provider: request.provider ?? 'cpu', ...options });
}

export function headsGlobal(pool: ModelPool, request: HeadsRequest, options: GlobalRunOptions<HeadsProgress> = {}): Promise<GlobalHeadsResult> {
  return globalOf(HEADS_ANALYSIS, pool, request, options);
}

export function ffnGlobal(pool: ModelPool, request: FfnRequest, options: GlobalRunOptions<FfnProgress> = {}): Promise<GlobalFfnResult> {
  return globalOf(FFN_ANALYSIS, pool, request, options);
}

export interface HeadsDiffResult {
  base: { model: string; words: GlobalHeadsResult['words']; fromCache: boolean };
  tuned: { model: string; words: GlobalHeadsResult['words']; fromCache: boolean };
  options: GlobalHeadsResult['options'];
  /** The paper's Table 3. */
  verbs: HeadsVerbComparison;
}

export interface FfnDiffResult {
  base: { model: string; fromCache: boolean };
  tuned: { model: string; fromCache: boolean };
  options: GlobalFfnResult['options'];
  rotation: FfnRotationLayer[];
}

type DiffRequest<T> = Omit<T, 'model'> & { base: string; tuned: string };

/** One analysis's global part for both models, one after the other, with their comparison. */
async function diffOf<O, P, G, D>(
  analysis: ModelAnalysis<O, P, G, unknown, D, unknown>,
  pool: ModelPool,
  request: DiffRequest<O & { model: string; wordsFile?: string; provider?: ProviderSetting; instructionVerbs?: readonly string[] }>,
  options: GlobalRunOptions<{ role: 'base' | 'tuned'; progress: P }>,
): Promise<{ base: G; tuned: G; diff: D }> {
  const one = (role: 'base' | 'tuned') =>
    globalOf(analysis, pool, { ...request, model: request[role], adapterBase: role === 'tuned' ? request.base : undefined } as O & { model: string }, { ...options, onProgress: (progress: P) => options.onProgress?.({ role, progress }) });
  const base = await one('base');
  const tuned = await one('tuned');
  return { base, tuned, diff: analysis.diff(base, tuned, request.instructionVerbs) };
}

export async function headsDiff(pool: ModelPool, request: DiffRequest<HeadsRequest>, options: GlobalRunOptions<{ role: 'base' | 'tuned'; progress: HeadsProgress }> = {}): Promise<HeadsDiffResult> {
  const { base, tuned, diff } = await diffOf(HEADS_ANALYSIS, pool, request, options);
  return {
    base: { model: request.base, words: base.words, fromCache: base.fromCache },
    tuned: { model: request.tuned, words: tuned.words, fromCache: tuned.fromCache },
    options: tuned.options,
    verbs: diff,
  };
}

export async function ffnDiff(pool: ModelPool, request: DiffRequest<FfnRequest>, options: GlobalRunOptions<{ role: 'base' | 'tuned'; progress: FfnProgress }> = {}): Promise<FfnDiffResult> {
  const { base, tuned, diff } = await diffOf(FFN_ANALYSIS, pool, request, options);
  return {
    base: { model: request.base, fromCache: base.fromCache },
    tuned: { model: request.tuned, fromCache: tuned.fromCache },
    options: tuned.options,
    rotation: diff,
  };
}
