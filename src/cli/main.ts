import { readFileSync } from 'node:fs';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { loadCheckpoint } from '../model/checkpoint.js';
import { CancelledError, LensError } from '../model/errors.js';
import type { PromptFormat } from '../model/prompt.js';
import { ModelPool, describeCheckpoint } from '../engine/model-pool.js';
import { DEFAULT_MAX_NEW_TOKENS, attribute, compare, generate, inspect } from '../engine/operations.js';
import type { AttributionProgress } from '../explain/attribution.js';
import { DEFAULT_IMPORTANCE_OPTIONS, type ImportanceOptions } from '../explain/importance.js';
import type { InstructionSpan } from '../explain/instructions.js';
import { scoreJsonl } from '../explain/score-file.js';
import type { Objective } from '../llm/gradient-graph.js';
import { renderHtml } from '../report/html.js';
import { renderTerminal, supportsColor } from '../report/terminal.js';
import { parseProviderSetting } from '../runtime/session.js';
import { writeFileAtomic } from './atomic-write.js';
import { defaultModel } from './default-model.js';

const USAGE = `Usage: instruction-lens <command> [options]

Commands:
  info      --model M                          architecture, size, dtype, tokenizer, chat template
  generate  [--model M] --prompt TEXT [--max-new-tokens N] [--json OUT]
                                               greedy generation
  inspect   [--model M] --prompt TEXT --json OUT [--attentions] [--ffn]
                                               logits (and attention probabilities, FFN outputs)
  attribute [--model M] --prompt TEXT [--response TEXT] [--max-new-tokens N]
            [--objective prob|logprob] --json OUT
                                               one model: which prompt tokens drove each response token
  compare   [--base M1] [--tuned M2] --prompt TEXT [--response-base T] [--response-tuned T]
            [--json OUT] [--html OUT]          both models side by side (table in the terminal)
  score     --input FILE.jsonl[.gz] --output OUT.jsonl [--L 10] [--b 7] [--p 4]
                                               re-score saved attribution matrices (density, score)

Common options:
  --model M            a model folder or a Hugging Face hub id from the local cache
                       (default: the embedded demo model)
  --prompt TEXT        the prompt; or --prompt-file FILE
  --format F           raw (default) or chat-template
  --provider P         auto (default: CUDA, then WebGPU, then CPU), cuda, webgpu or cpu
  --instruction TEXT   mark TEXT (each occurrence in the prompt) as instruction; repeatable
                       (default: sentences with an imperative instruction verb are detected)
  --L N --b N --p N    the paper's sparsification levels, threshold and norm (10, 7, 4)
  -h, --help           this help
`;

const OPTIONS = {
  model: { type: 'string' },
  prompt: { type: 'string' },
  'prompt-file': { type: 'string' },
  format: { type: 'string' },
  provider: { type: 'string' },
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
  help: { type: 'boolean', short: 'h' },
} satisfies ParseArgsConfig['options'];

class UsageError extends Error {}

type Values = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>['values'];

function promptOf(values: Values): string {
  if (values.prompt !== undefined && values['prompt-file'] !== undefined) throw new UsageError('give --prompt or --prompt-file, not both');
  if (values['prompt-file'] !== undefined) {
    try {
      return readFileSync(values['prompt-file'], 'utf8');
    } catch (e) {
      throw new LensError(`Cannot read prompt file ${values['prompt-file']}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, values['prompt-file']);
    }
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
  const log = (line: string) => process.stderr.write(`[instruction-lens] ${line}\n`);
  const pool = new ModelPool({ provider: parseProviderSetting(values.provider ?? 'auto'), log });
  const controller = new AbortController();
  const onSigint = () => controller.abort();
  process.once('SIGINT', onSigint);
  try {
    switch (command) {
      case 'info': {
        const info = describeCheckpoint(loadCheckpoint(await modelOf(values)));
        if (values.json) writeFileAtomic(values.json, JSON.stringify(info, null, 2) + '\n');
        else process.stdout.write(formatInfo(info));
        return 0;
      }
      case 'generate': {
        const prompt = promptOf(values);
        const result = await generate(
          pool,
          { model: await modelOf(values), prompt, format: formatOf(values), maxNewTokens: positiveInt(values['max-new-tokens'], '--max-new-tokens', DEFAULT_MAX_NEW_TOKENS) },
          controller.signal,
        );
        if (values.json) writeFileAtomic(values.json, JSON.stringify(result) + '\n');
        process.stdout.write(`${result.text}\n`);
        log(`${result.outputIds.length} tokens on ${result.executionProvider}`);
        return 0;
      }
      case 'inspect': {
        if (!values.json) throw new UsageError('inspect needs --json OUT');
        const result = await inspect(pool, { model: await modelOf(values), prompt: promptOf(values), format: formatOf(values), attentions: values.attentions, ffn: values.ffn });
        writeFileAtomic(values.json, JSON.stringify(result) + '\n');
        log(`wrote ${values.json}: ${result.inputIds.length} positions on ${result.executionProvider}`);
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
            importance: importanceOf(values),
            instructionSpans: instructionSpansOf(values, prompt),
          },
          { signal: controller.signal, onProgress: progressLogger(log) },
        );
        writeFileAtomic(values.json, JSON.stringify(report) + '\n');
        log(`wrote ${values.json}: ${report.tokens.length} prompt × ${report.response.tokens.length} response tokens on ${report.executionProvider}; instruction score ${report.instructionScore.toFixed(3)}`);
        return 0;
      }
      case 'compare': {
        const prompt = promptOf(values);
        const format = formatOf(values);
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
            importance: importanceOf(values),
            instructionSpans: instructionSpansOf(values, prompt),
          },
          { signal: controller.signal, onProgress: (role, p) => progressLogger(log, `${role}: `)(p) },
        );
        // Render before writing anything, so a failure leaves no file behind.
        const html = values.html ? renderHtml(report) : undefined;
        if (values.json) writeFileAtomic(values.json, JSON.stringify(report) + '\n');
        if (values.html) writeFileAtomic(values.html, html!);
        process.stdout.write(renderTerminal(report, { color: values.color ?? supportsColor(process.stdout, process.env), width: process.stdout.columns || 100 }));
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
      process.stderr.write(`instruction-lens: ${e.message}\n`);
      return e instanceof CancelledError ? 130 : 1;
    }
    process.stderr.write(`instruction-lens: internal error: ${(e as Error).stack ?? e}\n`);
    return 70;
  } finally {
    process.off('SIGINT', onSigint);
    await pool.dispose();
  }
}

function formatInfo(info: ReturnType<typeof describeCheckpoint>): string {
  const gib = (b: number) => `${(b / 2 ** 20).toFixed(1)} MiB`;
  const millions = (n: number) => `${(n / 1e6).toFixed(1)} M`;
  return [
    `model          ${info.path}`,
    `architecture   ${info.architecture}`,
    `parameters     ${millions(info.parameters)} (${info.dtype}, ${gib(info.weightBytes)})`,
    `layers         ${info.layers}`,
    `heads          ${info.heads} query, ${info.kvHeads} key/value (head_dim ${info.headDim})`,
    `hidden         ${info.hiddenSize} (FFN ${info.intermediateSize})`,
    `vocabulary     ${info.vocabSize}`,
    `context        ${info.contextLength} tokens (RoPE ${info.ropeScaling})`,
    `embeddings     ${info.tiedEmbeddings ? 'tied to lm_head' : 'separate lm_head'}${info.attentionBias ? ', q/k/v bias' : ''}`,
    `tokenizer      ${info.tokenizer.file} (${info.tokenizer.vocabSize} tokens, EOS ${info.tokenizer.eosTokenIds.join(', ') || 'none'})`,
    `chat template  ${info.chatTemplate ? 'present' : 'absent'}`,
    '',
  ].join('\n');
}
