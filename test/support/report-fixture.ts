/**
 * Hand-made `Report` objects for the renderers' tests: two models (Llama 2 7B and Vicuna 7B v1.5),
 * a summarization prompt, a toy SentencePiece-like tokenization with offsets, a response each,
 * deterministic pseudo-random raw matrices in which the tuned model leans on the instruction and
 * the base model on the article, and everything downstream computed with the project's own
 * functions (density, words, instruction spans and mask, score), so the object is consistent.
 *
 * `hostileReport()` is the same with text that tries to break a renderer: markup, ANSI/OSC
 * sequences, C0/C1 controls, bidi overrides, lone surrogates, ZWJ emoji, CJK, tokenizer space
 * markers, newlines, tabs and CR — in the prompt, the responses, the token texts, the model names.
 */
import { REPORT_SCHEMA, type ModelDescription, type ModelReport, type PromptTokenReport, type Report, type ReportToken } from '../../src/explain/report.js';
import { importanceDensity, instructionScore } from '../../src/explain/importance.js';
import { detectInstructions, instructionMask } from '../../src/explain/instructions.js';
import { aggregateToWords } from '../../src/explain/words.js';
import { mulberry32 as rng } from './random.js';

export const FIXTURE_PROMPT =
  'Summarize the article below in two sentences.\n' +
  '<article>\n' +
  'The city council voted on Tuesday to expand the bike lane network by 40 kilometres over the next ' +
  'three years. Supporters said the plan would cut traffic and emissions, while some shop owners ' +
  'worried about losing parking spaces.\n' +
  '</article>';

export const HOSTILE_PROMPT =
  'Summarize the article below in two sentences.\n' +
  '<article><script>alert(1)</script></style>"\'& \u001b[31mred\u001b[0m ' +
  '\u001b]8;;http://x\u0007link\u001b]8;;\u0007 nul\u0000bell\u0007csi\u009b2J del\u007f ' +
  '\u202egnirts desrever\u202c \u2066iso\u2069 lone\ud800surrogate low\udc00 ' +
  'zwj 👩\u200d💻 emoji 🎉 CJK 日本語の記事です ▁marker Ġmarker\ttab\r\nline\u2028sep\n' +
  'Tell me <b>everything</b>.\n</article>';

function tokenId(text: string): number {
  let h = 2166136261;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 16777619);
  return 3 + ((h >>> 0) % 31997);
}

/**
 * A toy tokenizer: a newline alone; spaces glued to the next word (as SentencePiece does); words
 * cut into pieces of at most `piece` UTF-16 units (which may split a surrogate pair, as byte-level
 * BPE can); any other character alone.
 */
export function toyTokenize(text: string, piece = 6): PromptTokenReport[] {
  const tokens: PromptTokenReport[] = [];
  const re = /\n|[ \t]*[\p{L}\p{N}]+|[ \t]*[^\s\p{L}\p{N}]|\s/gu;
  for (const m of text.matchAll(re)) {
    const start = m.index!;
    const s = m[0];
    for (let k = 0; k < s.length; k += piece) {
      const t = s.slice(k, k + piece);
      tokens.push({ id: tokenId(t), text: t, start: start + k, end: start + k + t.length });
    }
  }
  return tokens;
}

const LLAMA: ModelDescription = {
  id: 'meta-llama/Llama-2-7b-hf', path: '/home/user/.cache/huggingface/hub/models--meta-llama--Llama-2-7b-hf/snapshots/01c7f73d',
  architecture: 'LlamaForCausalLM', parameters: 6_738_415_616, dtype: 'float16', layers: 32, heads: 32,
};
const VICUNA: ModelDescription = {
  id: 'lmsys/vicuna-7b-v1.5', path: '/home/user/.cache/huggingface/hub/models--lmsys--vicuna-7b-v1.5/snapshots/3321f76e',
  architecture: 'LlamaForCausalLM', parameters: 6_738_415_616, dtype: 'float16', layers: 32, heads: 32,
};

interface ModelSpec {
  model: ModelDescription;
  executionProvider: string;
  response: string;
  /** How much the model's raw attribution leans on instruction tokens (vs the article). */
  instructionWeight: number;
  seed: number;
  piece: number;
}

function modelReport(prompt: string, spec: ModelSpec, tokenTexts?: (tokens: PromptTokenReport[]) => void): ModelReport {
  const random = rng(spec.seed);
  const tokens = toyTokenize(prompt, spec.piece);
  tokenTexts?.(tokens);
  const responseTokens: ReportToken[] = toyTokenize(spec.response, spec.piece).map(({ id, text }) => ({ id, text }));
  const detection = detectInstructions(prompt);
  const mask = instructionMask(tokens, detection.spans);
  const raw = tokens.map((t, i) =>
    responseTokens.map(() => {
      const noise = (random() - 0.3) * 0.5;
      const content = /\p{L}{3,}/u.test(t.text) ? 1 : 0.3;
      const weight = mask[i] ? spec.instructionWeight : 1 - spec.instructionWeight;
      return Number((noise + content * (0.3 + weight) * random()).toFixed(5));
    }),
  );
  const density = importanceDensity(raw);
  const probabilities = responseTokens.map(() => Number((0.15 + 0.85 * random()).toFixed(4)));
  const bos = 1;
  const inputIds = [bos, ...tokens.map((t) => t.id), ...responseTokens.map((t) => t.id)];
  return {
    model: spec.model,
    executionProvider: spec.executionProvider,
    promptFormat: 'raw',
    objective: 'prob',
    inputIds,
    promptSpan: [1, 1 + tokens.length],
    responseSpan: [1 + tokens.length, inputIds.length],
    tokens,
    response: { text: spec.response, source: 'generated', tokens: responseTokens },
    probabilities,
    raw,
    importance: { L: 10, b: 7, p: 4 },
    density,
    words: aggregateToWords(prompt, tokens, density),
    instructions: { source: detection.source, spans: detection.spans, verbs: detection.verbs },
    instructionMask: mask,
    instructionScore: instructionScore(density, mask),
    timings: { generateMs: 812.4, attributeMs: 2315.9 },
  };
}

export interface FixtureOptions {
  /** Give the tuned model a different tokenization (no token-by-token alignment). */
  differentTokenizers?: boolean;
}

/** A realistic report: Llama 2 7B vs Vicuna 7B v1.5 on a summarization prompt. */
export function fixtureReport(options: FixtureOptions = {}): Report {
  return {
    schema: REPORT_SCHEMA,
    createdAt: '2024-05-01T12:00:00.000Z',
    prompt: FIXTURE_PROMPT,
    base: modelReport(FIXTURE_PROMPT, {
      model: LLAMA, executionProvider: 'cuda', seed: 1, piece: 6, instructionWeight: 0.35,
      response: '\nThe city council voted on Tuesday to expand the bike lane network by 40 kilometres over the next three years.\n\n<article>\nThe city council',
    }),
    tuned: modelReport(FIXTURE_PROMPT, {
      model: VICUNA, executionProvider: 'cuda', seed: 2, piece: options.differentTokenizers ? 4 : 6, instructionWeight: 0.75,
      response: 'The city council approved a 40 km expansion of bike lanes over three years. Supporters expect less traffic and fewer emissions, but some shop owners fear losing parking.',
    }),
  };
}

/** The same shape, with hostile text everywhere a model or a user can put some. */
export function hostileReport(options: FixtureOptions = {}): Report {
  const hostileTokens = (tokens: PromptTokenReport[]) => {
    // Token texts that are not the prompt's characters: tokenizer markers, a byte-fallback token,
    // half of an emoji, raw controls and markup.
    const extra = ['\u2581Summarize', '\u0120the', '<0x1B>', '\ud83c', '\udf89', '\u001b[2J\u001b[H', '\u009b31m', '</td></tr></table><script>alert(2)</script>', ' ', '\n', '\t', '\u200d', '', '\u202e'];
    extra.forEach((text, k) => {
      const t = tokens[k * 3 + 1];
      if (t) t.text = text;
    });
  };
  const evil = (m: ModelDescription, tag: string): ModelDescription => ({
    ...m,
    id: `${m.id}<script>alert('${tag}')</script>\u001b[31m`,
    path: `${m.path}/\u001b]8;;http://x\u0007click\u001b]8;;\u0007`,
    architecture: `${m.architecture}\u202e"'&`,
    dtype: `float16\u0000`,
  });
  const response = (extra: string) =>
    `<script>alert(1)</script></style>"'& \u001b[31mred\u001b[0m \u001b]8;;http://x\u0007link\u001b]8;;\u0007 \u0000\u0007\u009b2J \u202eevil\u202c lone\ud800 ` +
    `👩\u200d💻 🎉 日本語 ▁Ġ\ttab\r\nnew line ${extra}`;
  return {
    schema: REPORT_SCHEMA,
    createdAt: '2024-05-01T12:00:00.000Z\u001b[2J',
    prompt: HOSTILE_PROMPT,
    base: modelReport(HOSTILE_PROMPT, {
      model: evil(LLAMA, 'base'), executionProvider: 'cuda\u001b[2J', seed: 3, piece: 6, instructionWeight: 0.35,
      response: response('base'),
    }, hostileTokens),
    tuned: modelReport(HOSTILE_PROMPT, {
      model: evil(VICUNA, 'tuned'), executionProvider: 'cpu\u009b', seed: 4, piece: options.differentTokenizers ? 4 : 6, instructionWeight: 0.75,
      response: response('tuned').repeat(3),
    }, hostileTokens),
  };
}
