import { LensError, emptyResponseError } from '../model/errors.js';
import { checkContext, encodePrompt, type EncodedPrompt } from '../model/prompt.js';
import type { ForwardResult, LlamaRunner } from '../llm/runner.js';
import { DEFAULT_IMPORTANCE_OPTIONS, importanceDensity, instructionScore } from './importance.js';
import { detectInstructions, instructionMask } from './instructions.js';
import type { ModelReport, ReportToken } from './report.js';
import { aggregateToWords } from './words.js';
import { executionDevice } from '../runtime/session.js';
import { describeForReport, findNonFiniteWeights } from './model-checks.js';
import { countStep } from '../model/debug-counts.js';
import { DEFAULT_MAX_NEW_TOKENS, type AttributionRequest } from '../contract/engine.js';

/** What one model's attribution is asked for (the engine protocol's request, src/contract/engine.ts). */
export type { AttributionRequest };

export interface AttributionProgress {
  phase: 'encode' | 'generate' | 'attribute';
  done?: number;
  total?: number;
}

/** Text of each response token as it reads in context: byte-level pieces are decoded together with what precedes them. */
async function responseTokenTexts(runner: LlamaRunner, ids: number[]): Promise<ReportToken[]> {
  const { tokenizer } = runner.checkpoint.tokenizer;
  const out: ReportToken[] = [];
  let previous = '';
  for (let j = 0; j < ids.length; j++) {
    const text = await tokenizer.decode(ids.slice(0, j + 1), false);
    const piece = text.startsWith(previous) ? text.slice(previous.length) : await tokenizer.decode([ids[j]!], false);
    out.push({ id: ids[j]!, text: piece });
    previous = text;
  }
  return out;
}

/**
 * One model's attribution report for a prompt: encode, generate (or take) the response, compute
 * gradient × input for every response token in one graph run per chunk, then the paper's
 * importance density, words, instruction spans and score.
 */
export async function attributeModel(
  runner: LlamaRunner,
  spec: string,
  request: AttributionRequest,
  options: { signal?: AbortSignal; onProgress?: (p: AttributionProgress) => void } = {},
): Promise<ModelReport> {
  return (await attributeAndProbe(runner, spec, request, options)).report;
}

/** What one model's run leaves for the local analyses: the encoded prompt and its forward with the probes. */
export interface PromptRun {
  encoded: EncodedPrompt;
  /** The forward over the prompt (encoded.inputIds) with the probes asked for; absent when none were. */
  forward?: ForwardResult;
}

/**
 * attributeModel, and with `probes` also the forward over the prompt with attention
 * probabilities and/or FFN outputs, from the same run: the prompt is encoded once, and when the
 * response is generated the generation's first pass (the whole prompt) gives the probes, so no
 * second forward runs (DESIGN: compare runs the forward once per model).
 */
export async function attributeAndProbe(
  runner: LlamaRunner,
  spec: string,
  request: AttributionRequest,
  options: { signal?: AbortSignal; onProgress?: (p: AttributionProgress) => void; probes?: { attentions?: boolean; ffn?: boolean } } = {},
): Promise<{ report: ModelReport } & PromptRun> {
  const { checkpoint } = runner;
  let forward: ForwardResult | undefined;
  const format = request.format ?? 'raw';
  const encoded = await encodePrompt(checkpoint, request.prompt, format, options.signal);
  checkContext(checkpoint, encoded.inputIds.length + 1, 'The prompt and a response');
  let responseIds: number[];
  let source: 'generated' | 'given';
  const started = performance.now();
  if (request.response !== undefined) {
    if (request.response.trim().length === 0) throw new LensError('The given response is empty.');
    countStep(checkpoint.spec, 'encode');
    const encoding = await checkpoint.tokenizer.tokenizer.encode(request.response, null, { addSpecialTokens: false });
    responseIds = encoding.getIds();
    source = 'given';
    if (responseIds.length === 0) throw new LensError('The given response produced no tokens.');
    checkContext(checkpoint, encoded.inputIds.length + responseIds.length, 'The prompt and the given response');
    if (options.probes) forward = await runner.forward(encoded.inputIds, options.probes);
  } else {
    options.onProgress?.({ phase: 'generate' });
    responseIds = await runner.generate(encoded.inputIds, {
      maxNewTokens: request.maxNewTokens ?? DEFAULT_MAX_NEW_TOKENS,
      signal: options.signal,
      probes: options.probes,
      onPrompt: options.probes ? (f) => (forward = f) : undefined,
    });
    source = 'generated';
    if (responseIds.length === 0) {
      throw emptyResponseError(spec);
    }
  }
  const generateMs = performance.now() - started;
  const inputIds = [...encoded.inputIds, ...responseIds];
  const responseStart = encoded.inputIds.length;
  // The report's response texts come from the tokenizer now, so that the attribution session, the
  // run's memory peak, does not also hold the native tokenizer (reloaded on its next use).
  const responseText = await checkpoint.tokenizer.tokenizer.decode(responseIds, true);
  const responseTokens = await responseTokenTexts(runner, responseIds);
  checkpoint.tokenizer.releaseNative();
  const attributeStarted = performance.now();
  const attribution = await runner.attribute(inputIds, responseStart, {
    objective: request.objective ?? 'prob',
    mode: request.mode,
    // Only the prompt's tokens are reported: forward mode carries a tangent for those alone.
    positions: encoded.promptSpan,
    signal: options.signal,
    onProgress: (done, total) => options.onProgress?.({ phase: 'attribute', done, total }),
  });
  const attributeMs = performance.now() - attributeStarted;
  const finite = attribution.raw.every(Number.isFinite) && attribution.probabilities.every(Number.isFinite);
  if (!finite) {
    const bad = await findNonFiniteWeights(runner);
    throw new LensError(
      bad.length
        ? `${checkpoint.dir}: weight${bad.length > 1 ? 's' : ''} ${bad.slice(0, 5).map((n) => `'${n}'`).join(', ')}${bad.length > 5 ? ` and ${bad.length - 5} more` : ''} contain NaN or Infinity`
        : `${checkpoint.dir}: the model produced non-finite values (NaN/Infinity) on this prompt`,
      checkpoint.dir,
    );
  }
  const [p0, p1] = encoded.promptSpan;
  const S = attribution.sequenceLength;
  const R = attribution.responseCount;
  const raw: number[][] = [];
  for (let i = p0; i < p1; i++) {
    const row = new Array<number>(R);
    for (let j = 0; j < R; j++) row[j] = attribution.raw[j * S + i]!;
    raw.push(row);
  }
  const importance = { ...DEFAULT_IMPORTANCE_OPTIONS, ...request.importance };
  const density = importanceDensity(raw, importance);
  const instructions = detectInstructions(request.prompt, { spans: request.instructionSpans, verbs: request.instructionVerbs });
  const mask = instructionMask(encoded.tokens, instructions.spans);
  const report: ModelReport = {
    model: describeForReport(runner, spec),
    executionProvider: runner.executionProvider ?? 'cpu',
    executionDevice: executionDevice(runner.executionProvider),
    promptFormat: format,
    objective: request.objective ?? 'prob',
    attributionMode: attribution.mode,
    inputIds,
    promptSpan: encoded.promptSpan,
    responseSpan: [responseStart, inputIds.length],
    tokens: encoded.tokens.map((t) => ({ id: t.id, text: t.text, start: t.start, end: t.end })),
    response: {
      text: responseText,
      source,
      tokens: responseTokens,
    },
    probabilities: Array.from(attribution.probabilities),
    raw,
    importance,
    density,
    words: aggregateToWords(request.prompt, encoded.tokens, density),
    instructions,
    instructionMask: mask,
    instructionScore: instructionScore(density, mask),
    timings: { generateMs, attributeMs },
  };
  return { report, encoded, forward };
}
