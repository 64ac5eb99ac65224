import { CancelledError } from '../model/errors.js';
import { checkContext, encodePrompt, type EncodedPrompt, type PromptFormat } from '../model/prompt.js';
import type { ModelPool } from './model-pool.js';
import { attributeModel, type AttributionProgress, type AttributionRequest } from '../explain/attribution.js';
import { REPORT_SCHEMA, type ModelReport, type Report } from '../explain/report.js';
import { analysisSections, probeModel, type SectionOptions } from '../explain/analysis.js';
import type { CacheOptions } from '../explain/analysis-cache.js';
import { analyzeFfnGlobal, compareFfnRotation, type FfnOptions, type FfnProgress, type FfnRotationLayer, type GlobalFfnResult } from '../explain/ffn.js';
import { analyzeHeadsGlobal, compareHeadVerbs, type GlobalHeadsResult, type HeadsOptions, type HeadsProgress, type HeadsVerbComparison } from '../explain/heads.js';
import { buildWordList } from '../explain/wordlist.js';
import { executionDevice, type ProviderSetting } from '../runtime/session.js';

export interface GenerateRequest {
  model: string;
  prompt: string;
  format?: PromptFormat;
  maxNewTokens?: number;
}

export interface GenerateResult {
  model: string;
  executionProvider: string;
  /** "webgpu · NVIDIA H200", "cpu": the provider and the device it ran on. */
  executionDevice: string;
  inputIds: number[];
  promptSpan: [number, number];
  outputIds: number[];
  text: string;
}

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

export const DEFAULT_MAX_NEW_TOKENS = 32;

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

export interface AttributeRequest extends AttributionRequest {
  model: string;
}

export async function attribute(
  pool: ModelPool,
  request: AttributeRequest,
  options: { signal?: AbortSignal; onProgress?: (p: AttributionProgress) => void } = {},
): Promise<ModelReport> {
  const runner = await pool.get(request.model);
  return attributeModel(runner, request.model, request, options);
}

export interface CompareRequest extends Omit<AttributionRequest, 'response' | 'format'> {
  base: string;
  tuned: string;
  responseBase?: string;
  responseTuned?: string;
  formatBase?: PromptFormat;
  formatTuned?: PromptFormat;
  /** The heads section (default true). */
  heads?: boolean;
  /** The FFN section (default true). */
  ffn?: boolean;
  headsOptions?: HeadsOptions;
  ffnOptions?: FfnOptions;
  /** A word file for both analyses, used as given (default: vocabulary words + the prompt's words). */
  wordsFile?: string;
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
  const run = async (role: 'base' | 'tuned') => {
    const spec = role === 'base' ? request.base : request.tuned;
    const runner = await pool.get(spec, undefined, role === 'tuned' ? request.base : undefined);
    return attributeModel(
      runner,
      spec,
      { ...request, response: role === 'base' ? request.responseBase : request.responseTuned, format: role === 'base' ? request.formatBase : request.formatTuned },
      { signal: options.signal, onProgress: (p) => options.onProgress?.(role, p) },
    );
  };
  // One after the other: each model's sessions use every core already, and the pool keeps one
  // model resident at a time.
  options.log?.('compare: one model in memory at a time (the base model\'s sessions are released before the tuned model\'s open)');
  const base = await run('base');
  const tuned = await run('tuned');
  const report: Report = { schema: REPORT_SCHEMA, createdAt: new Date().toISOString(), prompt: request.prompt, base, tuned };
  const which = { heads: request.heads !== false, ffn: request.ffn !== false };
  if (which.heads || which.ffn) {
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
    const probe = async (role: 'base' | 'tuned') =>
      probeModel(await (role === 'base' ? pool.get(request.base) : pool.get(request.tuned, undefined, request.base)), request.prompt, (role === 'base' ? request.formatBase : request.formatTuned) ?? 'raw', report[role].instructions.verbs, sectionOptions);
    const probes = { base: await probe('base'), tuned: await probe('tuned') };
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

export async function headsGlobal(pool: ModelPool, request: HeadsRequest, options: GlobalRunOptions<HeadsProgress> = {}): Promise<GlobalHeadsResult> {
  const { checkpoint } = await pool.get(request.model, undefined, request.adapterBase);
  const list = await buildWordList(checkpoint, request.wordsFile !== undefined ? { file: request.wordsFile } : {});
  return analyzeHeadsGlobal(checkpoint, list, request, { provider: request.provider ?? 'cpu', ...options });
}

export async function ffnGlobal(pool: ModelPool, request: FfnRequest, options: GlobalRunOptions<FfnProgress> = {}): Promise<GlobalFfnResult> {
  const { checkpoint } = await pool.get(request.model, undefined, request.adapterBase);
  const list = await buildWordList(checkpoint, request.wordsFile !== undefined ? { file: request.wordsFile } : {});
  return analyzeFfnGlobal(checkpoint, list, request, { provider: request.provider ?? 'cpu', ...options });
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

export async function headsDiff(pool: ModelPool, request: DiffRequest<HeadsRequest>, options: GlobalRunOptions<{ role: 'base' | 'tuned'; progress: HeadsProgress }> = {}): Promise<HeadsDiffResult> {
  const one = (role: 'base' | 'tuned') =>
    headsGlobal(pool, { ...request, model: request[role], adapterBase: role === 'tuned' ? request.base : undefined }, { ...options, onProgress: (progress) => options.onProgress?.({ role, progress }) });
  const base = await one('base');
  const tuned = await one('tuned');
  return {
    base: { model: request.base, words: base.words, fromCache: base.fromCache },
    tuned: { model: request.tuned, words: tuned.words, fromCache: tuned.fromCache },
    options: tuned.options,
    verbs: compareHeadVerbs(base, tuned, request.instructionVerbs),
  };
}

export async function ffnDiff(pool: ModelPool, request: DiffRequest<FfnRequest>, options: GlobalRunOptions<{ role: 'base' | 'tuned'; progress: FfnProgress }> = {}): Promise<FfnDiffResult> {
  const one = (role: 'base' | 'tuned') =>
    ffnGlobal(pool, { ...request, model: request[role], adapterBase: role === 'tuned' ? request.base : undefined }, { ...options, onProgress: (progress) => options.onProgress?.({ role, progress }) });
  const base = await one('base');
  const tuned = await one('tuned');
  return {
    base: { model: request.base, fromCache: base.fromCache },
    tuned: { model: request.tuned, fromCache: tuned.fromCache },
    options: tuned.options,
    rotation: compareFfnRotation(base, tuned),
  };
}
