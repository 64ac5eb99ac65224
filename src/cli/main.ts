import { readFileSync } from 'node:fs';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { loadCheckpoint } from '../model/checkpoint.js';
import { CancelledError, LensError } from '../model/errors.js';
import type { PromptFormat } from '../model/prompt.js';
import { ModelPool, describeCheckpoint } from '../engine/model-pool.js';
import { DEFAULT_MAX_NEW_TOKENS, generate, inspect } from '../engine/operations.js';
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

Common options:
  --model M            a model folder or a Hugging Face hub id from the local cache
                       (default: the embedded demo model)
  --prompt TEXT        the prompt; or --prompt-file FILE
  --format F           raw (default) or chat-template
  --provider P         auto (default: CUDA, then WebGPU, then CPU), cuda, webgpu or cpu
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

async function modelOf(values: Values): Promise<string> {
  if (values.model !== undefined) return values.model;
  const fallback = await defaultModel();
  process.stderr.write(`${fallback.note}\n`);
  return fallback.path;
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
