import { CancelledError } from '../model/errors.js';
import { checkContext, encodePrompt, type EncodedPrompt, type PromptFormat } from '../model/prompt.js';
import type { ModelPool } from './model-pool.js';

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
