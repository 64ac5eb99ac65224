/**
 * The CLI's usage text, its options and their readers: each turns an option's text into what the
 * operations take, or fails with a UsageError / LensError naming the option or the file.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { LensError } from '../model/errors.js';
import type { PromptFormat } from '../model/prompt.js';
import type { FfnOptions } from '../explain/ffn.js';
import type { HeadsOptions } from '../explain/heads.js';
import { DEFAULT_IMPORTANCE_OPTIONS, type ImportanceOptions } from '../explain/importance.js';
import { type InstructionSpan } from '../explain/instructions.js';
import { instructionLexicon } from '../explain/instruction-lexicon.js';
import { readWordsFile } from '../explain/wordlist.js';
import type { Objective } from '../llm/gradient-graph.js';
import { ATTRIBUTION_MODES, type AttributionMode } from '../llm/runner.js';
import { MAX_WORDS_FILE_BYTES, checkInputFile, readTextFileBounded } from '../model/read-file.js';
import { defaultModel } from '../model/default-model.js';

export const USAGE = `Usage: instruction-lens <command> [options]

Commands:
  info      --model M                          architecture, size, dtype, tokenizer, chat template
  generate  [--model M] --prompt TEXT [--max-new-tokens N] [--json OUT]
                                               greedy generation
  inspect   [--model M] --prompt TEXT --json OUT [--attentions] [--ffn]
                                               logits (and attention probabilities, FFN outputs)
  attribute [--model M] --prompt TEXT [--response TEXT] [--max-new-tokens N]
            [--objective prob|logprob] [--mode auto|forward|reverse] --json OUT
                                               one model: which prompt tokens drove each response token
  compare   [--base M1] [--tuned M2] --prompt TEXT [--response-base T] [--response-tuned T]
            [--json OUT] [--html OUT]          both models side by side (table in the terminal)
  score     --input FILE.jsonl[.gz] --output OUT.jsonl [--L 10] [--b 7] [--p 4]
                                               re-score saved attribution matrices (density, score)
  heads     [--model M] [--words FILE] [--top-k 100] [--dims N] [--vectors GLOVE.txt] --json OUT
                                               every attention head's word pairs, per dimension
  ffn       [--model M] [--words FILE] [--components 64] --json OUT
                                               every FFN layer's principal components and concept words
  heads-diff [--base M1] [--tuned M2] [heads options] [--json OUT]
                                               instruction verbs vs general verbs in the heads (Table 3)
  ffn-diff  [--base M1] [--tuned M2] [--words FILE] [--components 64] [--json OUT]
                                               how tuning rotated each layer's FFN components
  evaluate  [--base M1] [--tuned M2] --prompts FILE.jsonl[.gz] --out DIR [--shard K/N] [--restart]
            [--on-error skip|stop] [--heads] [--ffn] [--max-new-tokens N]
                                               a prompt set through both models: resumable results per shard
  evaluate-report DIR... [--out DIR]           merge shards into report.json and report.html (Table 2, plots)

Common options:
  --model M            a model folder, a PEFT LoRA adapter folder (over its base_model_name_or_path;
                       compare: else --base) or a Hugging Face hub id from the local cache
                       (default: the embedded demo model)
  --prompt TEXT        the prompt; or --prompt-file FILE
  --format F           raw (default) or chat-template
  --provider P         auto (default: CUDA, then WebGPU, then CPU), cuda, webgpu or cpu
  --precision P        auto (default: float16 on a GPU for F16/BF16 checkpoints), fp32 or fp16; the CPU computes in fp32
  --mode M             attribute/compare: auto (default: the cheaper for this prompt and response), forward
                       (one pass per prompt token) or reverse (one pass per response token); same numbers
  --instruction TEXT   mark TEXT (each occurrence in the prompt) as instruction; repeatable
                       (default: sentences with an imperative instruction verb are detected)
  --L N --b N --p N    the paper's sparsification levels, threshold and norm (10, 7, 4)
  --words FILE         word list for heads/ffn, one word per line, used as given (default: the
                       vocabulary's first 20,000 whole words, plus the prompt's words in compare)
  --verbs FILE         instruction verbs added to the built-in list, one per line: detection,
                       the heads' verb pairs and Table 3 (compare, attribute, heads-diff)
  --layers L,L,...     heads/ffn: only these layers (0-based)
  --no-heads --no-ffn  compare: skip the head / FFN analysis
  -h, --help           this help
`;

export const OPTIONS = {
  model: { type: 'string' },
  prompt: { type: 'string' },
  'prompt-file': { type: 'string' },
  format: { type: 'string' },
  provider: { type: 'string' },
  precision: { type: 'string' },
  mode: { type: 'string' },
  'max-new-tokens': { type: 'string' },
  json: { type: 'string' },
  attentions: { type: 'boolean' },
  ffn: { type: 'boolean' },
  response: { type: 'string' },
  'response-base': { type: 'string' },
  'response-tuned': { type: 'string' },
  objective: { type: 'string' },
  base: { type: 'string' },
  tuned: { type: 'string' },
  html: { type: 'string' },
  input: { type: 'string' },
  output: { type: 'string' },
  instruction: { type: 'string', multiple: true },
  L: { type: 'string' },
  b: { type: 'string' },
  p: { type: 'string' },
  color: { type: 'boolean' },
  words: { type: 'string' },
  verbs: { type: 'string' },
  'top-k': { type: 'string' },
  dims: { type: 'string' },
  vectors: { type: 'string' },
  components: { type: 'string' },
  layers: { type: 'string' },
  'no-heads': { type: 'boolean' },
  'no-ffn': { type: 'boolean' },
  prompts: { type: 'string' },
  out: { type: 'string' },
  shard: { type: 'string' },
  restart: { type: 'boolean' },
  'on-error': { type: 'string' },
  heads: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} satisfies ParseArgsConfig['options'];

export class UsageError extends Error {}

/** A prompt file larger than this is refused before it is read (no model's context takes more). */
const MAX_PROMPT_FILE_BYTES = 64 * 1024 * 1024;

export type Values = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>['values'];

export function promptOf(values: Values): string {
  if (values.prompt !== undefined && values['prompt-file'] !== undefined) throw new UsageError('give --prompt or --prompt-file, not both');
  if (values['prompt-file'] !== undefined) {
    // The model's context bounds the prompt further (encodePrompt), before it is tokenized.
    return readTextFileBounded(values['prompt-file'], 'the prompt file', MAX_PROMPT_FILE_BYTES);
  }
  if (values.prompt === undefined) throw new UsageError('--prompt TEXT or --prompt-file FILE is required');
  return values.prompt;
}

export function formatOf(values: Values): PromptFormat {
  const format = values.format ?? 'raw';
  if (format !== 'raw' && format !== 'chat-template') throw new UsageError(`--format must be raw or chat-template, got '${format}'`);
  return format;
}

export function positiveInt(value: string | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 1) throw new UsageError(`${name} must be a positive integer, got '${value}'`);
  return n;
}

export async function modelOf(values: Values, option: 'model' | 'base' | 'tuned' = 'model'): Promise<string> {
  const given = values[option];
  if (given !== undefined) return given;
  const fallback = await defaultModel(option === 'tuned' ? 'tuned' : 'base');
  process.stderr.write(`${fallback.note}\n`);
  return fallback.path;
}

export function modeOf(values: Values): AttributionMode {
  const mode = values.mode ?? 'auto';
  if (!(ATTRIBUTION_MODES as readonly string[]).includes(mode)) throw new UsageError(`--mode must be one of ${ATTRIBUTION_MODES.join(', ')}, got '${mode}'`);
  return mode as AttributionMode;
}

export function objectiveOf(values: Values): Objective {
  const objective = values.objective ?? 'prob';
  if (objective !== 'prob' && objective !== 'logprob') throw new UsageError(`--objective must be prob or logprob, got '${objective}'`);
  return objective;
}

export function importanceOf(values: Values): Required<ImportanceOptions> {
  const number = (value: string | undefined, name: string, fallback: number, check: (n: number) => boolean, what: string) => {
    if (value === undefined) return fallback;
    const n = value === 'inf' ? Infinity : Number(value);
    if (!check(n)) throw new UsageError(`${name} must be ${what}, got '${value}'`);
    return n;
  };
  return {
    L: number(values.L, '--L', DEFAULT_IMPORTANCE_OPTIONS.L, (n) => Number.isSafeInteger(n) && n >= 1, 'a positive integer'),
    b: number(values.b, '--b', DEFAULT_IMPORTANCE_OPTIONS.b, (n) => Number.isFinite(n) && n >= 0, 'a number ≥ 0'),
    p: number(values.p, '--p', DEFAULT_IMPORTANCE_OPTIONS.p, (n) => n >= 1, 'a number ≥ 1 (or inf)'),
  };
}

/** Spans of every occurrence of each --instruction text in the prompt. */
export function instructionSpansOf(values: Values, prompt: string): InstructionSpan[] | undefined {
  if (!values.instruction?.length) return undefined;
  const spans: InstructionSpan[] = [];
  for (const text of values.instruction) {
    if (!text) throw new UsageError('--instruction needs a non-empty text');
    let at = prompt.indexOf(text);
    if (at < 0) throw new LensError(`--instruction ${JSON.stringify(text)} does not occur in the prompt`);
    for (; at >= 0; at = prompt.indexOf(text, at + text.length)) spans.push({ start: at, end: at + text.length });
  }
  return spans;
}

function optionalPositiveInt(value: string | undefined, name: string): number | undefined {
  return value === undefined ? undefined : positiveInt(value, name, 0);
}

export function layersOf(values: Values): number[] | undefined {
  if (values.layers === undefined) return undefined;
  const layers = values.layers.split(',').map((t) => t.trim());
  if (!layers.every((t) => /^\d+$/.test(t))) throw new UsageError(`--layers must be layer numbers separated by commas, got '${values.layers}'`);
  return layers.map(Number);
}

/** --words and --vectors name regular files that can be read: checked before any model is loaded. */
function checkInputFiles(values: Values): void {
  if (values.words !== undefined) checkInputFile(values.words, 'the word list', MAX_WORDS_FILE_BYTES);
  if (values.vectors !== undefined) checkInputFile(values.vectors, 'the word vectors');
}

/** The instruction-verb lexicon: the built-in verbs plus --verbs FILE's, or undefined for the built-in list alone. */
export function verbsOf(values: Values): readonly string[] | undefined {
  if (values.verbs === undefined) return undefined;
  const file = values.verbs;
  return instructionLexicon(
    readWordsFile(file).map((v, i) => {
      if (!/^[A-Za-z]+$/.test(v)) throw new LensError(`${file}:${i + 1}: "${v}" is not a verb made of letters a-z`, file);
      return v;
    }),
  );
}

export function headsOptionsOf(values: Values): HeadsOptions & { wordsFile?: string } {
  checkInputFiles(values);
  return {
    wordsFile: values.words,
    topK: optionalPositiveInt(values['top-k'], '--top-k'),
    dims: optionalPositiveInt(values.dims, '--dims'),
    vectors: values.vectors,
    layers: layersOf(values),
  };
}

export function ffnOptionsOf(values: Values): FfnOptions & { wordsFile?: string } {
  checkInputFiles(values);
  return { wordsFile: values.words, components: optionalPositiveInt(values.components, '--components'), layers: layersOf(values) };
}

/** A progress line per phase change (and per step in it), without repeating itself. */
