import { CancelledError } from '../model/errors.js';
import { checkContext, encodePrompt, type EncodedPrompt, type PromptFormat } from '../model/prompt.js';
import type { ModelPool } from './model-pool.js';
import { attributeModel, type AttributionProgress, type AttributionRequest } from '../explain/attribution.js';
import { REPORT_SCHEMA, type ModelReport, type Report } from '../explain/report.js';

export interface GenerateRequest {
  model: string;
  prompt: string;
  format?: PromptFormat;
  maxNewTokens?: number;
}

export interface GenerateResult {
  model: string;
  executionProvider: string;
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
  const encoded: EncodedPrompt = await encodePrompt(runner.checkpoint, request.prompt, request.format ?? 'raw');
  checkContext(runner.checkpoint, encoded.inputIds.length, 'The prompt');
  const maxNewTokens = request.maxNewTokens ?? DEFAULT_MAX_NEW_TOKENS;
  const outputIds = await runner.generate(encoded.inputIds, { maxNewTokens, signal });
  if (signal?.aborted) throw new CancelledError();
  return {
    model: request.model,
    executionProvider: runner.executionProvider ?? 'cpu',
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
}

/** Both models on the same prompt: the document the panel, the HTML page and the terminal table render. */
export async function compare(
  pool: ModelPool,
  request: CompareRequest,
  options: { signal?: AbortSignal; onProgress?: (role: 'base' | 'tuned', p: AttributionProgress) => void } = {},
): Promise<Report> {
  const run = async (role: 'base' | 'tuned') => {
    const spec = role === 'base' ? request.base : request.tuned;
    const runner = await pool.get(spec);
    return attributeModel(
      runner,
      spec,
      { ...request, response: role === 'base' ? request.responseBase : request.responseTuned, format: role === 'base' ? request.formatBase : request.formatTuned },
      { signal: options.signal, onProgress: (p) => options.onProgress?.(role, p) },
    );
  };
  // One after the other: each model's sessions use every core already.
  const base = await run('base');
  const tuned = await run('tuned');
  return { schema: REPORT_SCHEMA, createdAt: new Date().toISOString(), prompt: request.prompt, base, tuned };
}
