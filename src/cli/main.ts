import { parseArgs, type ParseArgsConfig } from 'node:util';
import { loadCheckpoint } from '../model/checkpoint.js';
import { CancelledError, LensError } from '../model/errors.js';
import type { PromptFormat } from '../model/prompt.js';
import { ModelPool, describeCheckpoint } from '../engine/model-pool.js';
import { DEFAULT_MAX_NEW_TOKENS, attribute, compare, ffnDiff, ffnGlobal, generate, headsDiff, headsGlobal, inspect } from '../engine/operations.js';
import type { FfnOptions } from '../explain/ffn.js';
import type { HeadsOptions } from '../explain/heads.js';
import type { AttributionProgress } from '../explain/attribution.js';
import { DEFAULT_IMPORTANCE_OPTIONS, type ImportanceOptions } from '../explain/importance.js';
import { type InstructionSpan } from '../explain/instructions.js';
import { instructionLexicon } from '../explain/instruction-lexicon.js';
import { readWordsFile } from '../explain/wordlist.js';
import { scoreJsonl } from '../explain/score-file.js';
import type { Objective } from '../llm/gradient-graph.js';
import { renderHtml } from '../report/html.js';
import { renderTerminal, supportsColor } from '../report/terminal.js';
import { parseProviderSetting } from '../runtime/session.js';
import { ATTRIBUTION_MODES, parsePrecisionSetting, type AttributionMode } from '../llm/runner.js';
import { formatModelInfo } from '../shared/model-info.js';
import { writeOutput, writesToStdout } from '../model/write-file.js';
import { MAX_WORDS_FILE_BYTES, checkInputFile, fileError, readTextFileBounded } from '../model/read-file.js';
import { visibleControls } from '../report/escape.js';
import { defaultModel } from './default-model.js';

const USAGE = `Usage: instruction-lens <command> [options]

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

Common options:
  --model M            a model folder or a Hugging Face hub id from the local cache
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

const OPTIONS = {
  model: { type: 'string' },
  prompt: { type: 'string' },
  'prompt-file': { type: 'string' },
  format: { type: 'string' },
  provider: { type: 'string' },
  precision: { type: 'string' },
  'max-new-tokens': { type: 'string' },
  json: { type: 'string' },
  attentions: { type: 'boolean' },
  ffn: { type: 'boolean' },
  response: { type: 'string' },
  'response-base': { type: 'string' },
  'response-tuned': { type: 'string' },
  objective: { type: 'string' },
  mode: { type: 'string' },
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
  help: { type: 'boolean', short: 'h' },
} satisfies ParseArgsConfig['options'];

class UsageError extends Error {}

/** A prompt file larger than this is refused before it is read (no model's context takes more). */
const MAX_PROMPT_FILE_BYTES = 64 * 1024 * 1024;

type Values = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>['values'];

function promptOf(values: Values): string {
  if (values.prompt !== undefined && values['prompt-file'] !== undefined) throw new UsageError('give --prompt or --prompt-file, not both');
  if (values['prompt-file'] !== undefined) {
    // The model's context bounds the prompt further (encodePrompt), before it is tokenized.
    return readTextFileBounded(values['prompt-file'], 'the prompt file', MAX_PROMPT_FILE_BYTES);
  }
  if (values.prompt === undefined) throw new UsageError('--prompt TEXT or --prompt-file FILE is required');
  return values.prompt;
}

function formatOf(values: Values): PromptFormat {
  const format = values.format ?? 'raw';
  if (format !== 'raw' && format !== 'chat-template') throw new UsageError(`--format must be raw or chat-template, got '${format}'`);
  return format;
}

function positiveInt(value: string | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 1) throw new UsageError(`${name} must be a positive integer, got '${value}'`);
  return n;
}

async function modelOf(values: Values, option: 'model' | 'base' | 'tuned' = 'model'): Promise<string> {
  const given = values[option];
  if (given !== undefined) return given;
  const fallback = await defaultModel(option === 'tuned' ? 'tuned' : 'base');
  process.stderr.write(`${fallback.note}\n`);
  return fallback.path;
}

function modeOf(values: Values): AttributionMode {
  const mode = values.mode ?? 'auto';
  if (!(ATTRIBUTION_MODES as readonly string[]).includes(mode)) throw new UsageError(`--mode must be one of ${ATTRIBUTION_MODES.join(', ')}, got '${mode}'`);
  return mode as AttributionMode;
}

function objectiveOf(values: Values): Objective {
  const objective = values.objective ?? 'prob';
  if (objective !== 'prob' && objective !== 'logprob') throw new UsageError(`--objective must be prob or logprob, got '${objective}'`);
  return objective;
}

function importanceOf(values: Values): Required<ImportanceOptions> {
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
function instructionSpansOf(values: Values, prompt: string): InstructionSpan[] | undefined {
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

function layersOf(values: Values): number[] | undefined {
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
function verbsOf(values: Values): readonly string[] | undefined {
  if (values.verbs === undefined) return undefined;
  const file = values.verbs;
  return instructionLexicon(
    readWordsFile(file).map((v, i) => {
      if (!/^[A-Za-z]+$/.test(v)) throw new LensError(`${file}:${i + 1}: "${v}" is not a verb made of letters a-z`, file);
      return v;
    }),
  );
}

function headsOptionsOf(values: Values): HeadsOptions & { wordsFile?: string } {
  checkInputFiles(values);
  return {
    wordsFile: values.words,
    topK: optionalPositiveInt(values['top-k'], '--top-k'),
    dims: optionalPositiveInt(values.dims, '--dims'),
    vectors: values.vectors,
    layers: layersOf(values),
  };
}

function ffnOptionsOf(values: Values): FfnOptions & { wordsFile?: string } {
  checkInputFiles(values);
  return { wordsFile: values.words, components: optionalPositiveInt(values.components, '--components'), layers: layersOf(values) };
}

/** A progress line per phase change (and per step in it), without repeating itself. */
function analysisLogger(log: (line: string) => void) {
  let last = '';
  return (prefix: string, p: { phase: string; done?: number; total?: number }) => {
    if (p.phase === 'cache') return;
    const line = `${prefix}${p.phase}${p.total !== undefined ? ` ${p.done ?? 0}/${p.total}` : ''}`;
    if (line !== last) log(line);
    last = line;
  };
}

const pct = (v: number | null | undefined) => (v === null || v === undefined ? '   –  ' : `${(v * 100).toFixed(1).padStart(5)}%`);

function formatHeadsDiff(result: Awaited<ReturnType<typeof headsDiff>>): string {
  const { verbs } = result;
  const header = `${'verbs'.padEnd(22)}${verbs.groups.map((g) => `layers ${g.layers[0] + 1}–${g.layers[1]}`.padStart(16)).join('')}`;
  const row = (label: string, cells: (number | null)[]) => `${label.padEnd(22)}${cells.map((c) => pct(c).padStart(16)).join('')}`;
  const lines = [
    'Share of heads where the tuned model has more word pairs with the verb than the base model (ties ignored):',
    '',
    header,
    row('instruction (mean)', verbs.instruction.mean),
    row('instruction (pooled)', verbs.instruction.pooled),
    row('general (mean)', verbs.general.mean),
    row('general (pooled)', verbs.general.pooled),
    '',
  ];
  for (const [name, table] of [['instruction verbs', verbs.instruction], ['general verbs', verbs.general]] as const) {
    if (!table.verbs.length) continue;
    lines.push(`${name}:`);
    for (const r of table.verbs) lines.push(row(`  ${r.verb}`, r.share));
    lines.push('');
  }
  return lines.join('\n');
}

function formatFfnDiff(result: Awaited<ReturnType<typeof ffnDiff>>): string {
  const lines = [`Rotation of the top-${result.rotation[0]?.k ?? 0} FFN components, base → tuned:`, '', `${'layer'.padStart(5)}  ${'mean cos'.padStart(9)}  ${'mean angle'.padStart(10)}  ${'best match'.padStart(10)}`];
  for (const r of result.rotation) {
    lines.push(`${String(r.layer).padStart(5)}  ${r.meanCosine.toFixed(4).padStart(9)}  ${`${r.meanAngleDegrees.toFixed(1)}°`.padStart(10)}  ${r.meanBestMatch.toFixed(4).padStart(10)}`);
  }
  return lines.join('\n') + '\n';
}

function progressLogger(log: (line: string) => void, prefix = '') {
  let last = '';
  return (p: AttributionProgress) => {
    const line = p.phase === 'attribute' ? `${prefix}attribution ${p.done}/${p.total} response tokens` : `${prefix}${p.phase === 'generate' ? 'generating the response' : p.phase}`;
    if (line !== last) log(line);
    last = line;
  };
}

export async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (e) {
    process.stderr.write(`instruction-lens: ${(e as Error).message}\n\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  const command = positionals[0];
  if (values.help || !command) {
    process.stdout.write(USAGE);
    return command || values.help ? 0 : 2;
  }
  const log = (line: string) => process.stderr.write(`[instruction-lens] ${visibleControls(line)}\n`);
  const pool = new ModelPool({ provider: parseProviderSetting(values.provider ?? 'auto'), precision: parsePrecisionSetting(values.precision ?? 'auto'), log });
  const controller = new AbortController();
  const onSigint = () => controller.abort();
  process.once('SIGINT', onSigint);
  try {
    switch (command) {
      case 'info': {
        const info = describeCheckpoint(loadCheckpoint(await modelOf(values)));
        if (values.json) await writeOutput(values.json, JSON.stringify(info, null, 2) + '\n');
        else process.stdout.write(`${visibleControls(formatModelInfo(info), { newline: 'keep', tab: 'keep' })}\n`);
        return 0;
      }
      case 'generate': {
        const prompt = promptOf(values);
        const result = await generate(
          pool,
          { model: await modelOf(values), prompt, format: formatOf(values), maxNewTokens: positiveInt(values['max-new-tokens'], '--max-new-tokens', DEFAULT_MAX_NEW_TOKENS) },
          controller.signal,
        );
        if (values.json) await writeOutput(values.json, JSON.stringify(result) + '\n');
        // The model's text may hold anything a tokenizer can decode: no control character reaches the terminal.
        if (!writesToStdout(values.json)) process.stdout.write(`${visibleControls(result.text, { newline: 'keep', tab: 'keep' })}\n`);
        log(`${result.outputIds.length} tokens on ${result.executionDevice}`);
        return 0;
      }
      case 'inspect': {
        if (!values.json) throw new UsageError('inspect needs --json OUT');
        const result = await inspect(pool, { model: await modelOf(values), prompt: promptOf(values), format: formatOf(values), attentions: values.attentions, ffn: values.ffn });
        await writeOutput(values.json, JSON.stringify(result) + '\n');
        log(`wrote ${values.json}: ${result.inputIds.length} positions on ${result.executionDevice}`);
        return 0;
      }
      case 'attribute': {
        if (!values.json) throw new UsageError('attribute needs --json OUT');
        const prompt = promptOf(values);
        const model = await modelOf(values);
        const report = await attribute(
          pool,
          {
            model,
            prompt,
            response: values.response,
            format: formatOf(values),
            maxNewTokens: positiveInt(values['max-new-tokens'], '--max-new-tokens', DEFAULT_MAX_NEW_TOKENS),
            objective: objectiveOf(values),
            mode: modeOf(values),
            importance: importanceOf(values),
            instructionSpans: instructionSpansOf(values, prompt),
            instructionVerbs: verbsOf(values),
          },
          { signal: controller.signal, onProgress: progressLogger(log) },
        );
        await writeOutput(values.json, JSON.stringify(report) + '\n');
        log(`wrote ${values.json}: ${report.tokens.length} prompt × ${report.response.tokens.length} response tokens on ${report.executionDevice ?? report.executionProvider}; instruction score ${report.instructionScore.toFixed(3)}`);
        return 0;
      }
      case 'heads': {
        if (!values.json) throw new UsageError('heads needs --json OUT');
        const options = headsOptionsOf(values);
        const model = await modelOf(values);
        const progress = analysisLogger(log);
        const result = await headsGlobal(pool, { model, provider: parseProviderSetting(values.provider ?? 'auto'), ...options }, { signal: controller.signal, log, onProgress: (p) => progress('heads: ', p) });
        const { fromCache, computeMs, ...rest } = result;
        await writeOutput(values.json, JSON.stringify({ model, ...rest }) + '\n');
        log(`wrote ${values.json}: ${result.layers.length} layers × ${result.numHeads} heads, ${result.words.count} words${fromCache ? ' (from the analysis cache)' : ''} in ${(computeMs / 1000).toFixed(1)} s`);
        return 0;
      }
      case 'ffn': {
        if (!values.json) throw new UsageError('ffn needs --json OUT');
        const options = ffnOptionsOf(values);
        const model = await modelOf(values);
        const progress = analysisLogger(log);
        const result = await ffnGlobal(pool, { model, provider: parseProviderSetting(values.provider ?? 'auto'), ...options }, { signal: controller.signal, log, onProgress: (p) => progress('ffn: ', p) });
        const { fromCache, computeMs, bases: _bases, ...rest } = result;
        await writeOutput(values.json, JSON.stringify({ model, ...rest }) + '\n');
        log(`wrote ${values.json}: ${result.layers.length} layers × ${result.options.components} components, ${result.words.count} words${fromCache ? ' (from the analysis cache)' : ''} in ${(computeMs / 1000).toFixed(1)} s`);
        return 0;
      }
      case 'heads-diff': {
        const options = headsOptionsOf(values);
        const base = await modelOf(values, 'base');
        const tuned = await modelOf(values, 'tuned');
        const progress = analysisLogger(log);
        const result = await headsDiff(pool, { base, tuned, provider: parseProviderSetting(values.provider ?? 'auto'), instructionVerbs: verbsOf(values), ...options }, { signal: controller.signal, log, onProgress: (p) => progress(`${p.role} heads: `, p.progress) });
        if (values.json) await writeOutput(values.json, JSON.stringify(result) + '\n');
        if (!writesToStdout(values.json)) process.stdout.write(visibleControls(formatHeadsDiff(result), { newline: 'keep' }));
        return 0;
      }
      case 'ffn-diff': {
        const options = ffnOptionsOf(values);
        const base = await modelOf(values, 'base');
        const tuned = await modelOf(values, 'tuned');
        const progress = analysisLogger(log);
        const result = await ffnDiff(pool, { base, tuned, provider: parseProviderSetting(values.provider ?? 'auto'), ...options }, { signal: controller.signal, log, onProgress: (p) => progress(`${p.role} ffn: `, p.progress) });
        if (values.json) await writeOutput(values.json, JSON.stringify(result) + '\n');
        if (!writesToStdout(values.json)) process.stdout.write(formatFfnDiff(result));
        return 0;
      }
      case 'compare': {
        const prompt = promptOf(values);
        const format = formatOf(values);
        const headsOptions = headsOptionsOf(values);
        const ffnOptions = ffnOptionsOf(values);
        const analysisProgress = analysisLogger(log);
        const report = await compare(
          pool,
          {
            base: await modelOf(values, 'base'),
            tuned: await modelOf(values, 'tuned'),
            prompt,
            responseBase: values['response-base'],
            responseTuned: values['response-tuned'],
            formatBase: format,
            formatTuned: format,
            maxNewTokens: positiveInt(values['max-new-tokens'], '--max-new-tokens', DEFAULT_MAX_NEW_TOKENS),
            objective: objectiveOf(values),
            mode: modeOf(values),
            importance: importanceOf(values),
            instructionSpans: instructionSpansOf(values, prompt),
            heads: !values['no-heads'],
            ffn: !values['no-ffn'],
            headsOptions: { topK: headsOptions.topK, dims: headsOptions.dims, vectors: headsOptions.vectors, layers: headsOptions.layers },
            ffnOptions: { components: ffnOptions.components, layers: ffnOptions.layers },
            wordsFile: values.words,
            instructionVerbs: verbsOf(values),
          },
          {
            signal: controller.signal,
            log,
            onProgress: (role, p) => progressLogger(log, `${role}: `)(p),
            onAnalysisProgress: (role, p) => analysisProgress(`${role} ${p.section}: `, p.progress),
          },
        );
        // Render before writing anything, so a failure leaves no file behind.
        const html = values.html ? renderHtml(report) : undefined;
        if (values.json) await writeOutput(values.json, JSON.stringify(report) + '\n');
        if (values.html) await writeOutput(values.html, html!);
        if (!writesToStdout(values.json) && !writesToStdout(values.html)) process.stdout.write(renderTerminal(report, { color: values.color ?? supportsColor(process.stdout, process.env), width: process.stdout.columns || 100 }));
        return 0;
      }
      case 'score': {
        if (!values.input || !values.output) throw new UsageError('score needs --input FILE.jsonl[.gz] and --output OUT.jsonl');
        const summary = await scoreJsonl(values.input, values.output, importanceOf(values));
        log(`scored ${summary.scored} of ${summary.lines} lines into ${values.output}${summary.empty ? ` (${summary.empty} with an empty matrix)` : ''}`);
        return 0;
      }
      default:
        throw new UsageError(`unknown command '${command}'`);
    }
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`instruction-lens: ${e.message}\n\n${USAGE}`);
      return 2;
    }
    if (e instanceof LensError || e instanceof CancelledError) {
      process.stderr.write(`instruction-lens: ${visibleControls(e.message)}\n`);
      return e instanceof CancelledError ? 130 : 1;
    }
    const system = e as NodeJS.ErrnoException;
    if (typeof system?.code === 'string' && typeof system.syscall === 'string') {
      // A file operation that no reader above turned into a LensError: still one line naming the file.
      process.stderr.write(`instruction-lens: ${visibleControls(fileError(`Cannot ${system.syscall}`, system.path ?? '(unknown file)', e).message)}\n`);
      return 1;
    }
    process.stderr.write(`instruction-lens: internal error: ${(e as Error).stack ?? e}\n`);
    return 70;
  } finally {
    process.off('SIGINT', onSigint);
    await pool.dispose();
  }
}
