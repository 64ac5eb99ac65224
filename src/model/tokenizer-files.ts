import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { Tokenizer } from 'tokenizers';
import type { ModelConfig } from './config.js';
import { LensError } from './errors.js';
import { readJsonObject } from './json-file.js';
import { MAX_TOKENIZER_JSON_BYTES, readTextFileBounded } from './read-file.js';

/** A model's tokenizer, special tokens and chat template, as its folder describes them. */
export interface TokenizerFiles {
  /** The native tokenizer; loaded again from tokenizer.json on first use after `releaseNative`. */
  readonly tokenizer: Tokenizer;
  /**
   * Lets the native tokenizer be freed until it is next used (16 MB for a 49k-token BPE): a long
   * run that needs no tokenizer, such as an attribution session, then holds the model's weights,
   * not also its vocabulary. The next use loads it again (tens of milliseconds) from the same file,
   * checked to be byte-identical to the one loaded first.
   */
  releaseNative(): void;
  tokenizerFile: string;
  /** tokenizer_config.json (which holds the chat template), whether or not it exists. */
  tokenizerConfigFile: string;
  bosToken: string | null;
  eosToken: string | null;
  chatTemplate: string | null;
  /** Token ids that end generation: generation_config.json, config.json and the tokenizer's EOS. */
  eosTokenIds: number[];
  vocabSize: number;
}

function tokenContent(value: unknown): string | null {
  if (typeof value === 'string') return value;
  if (value && typeof value === 'object' && typeof (value as { content?: unknown }).content === 'string') {
    return (value as { content: string }).content;
  }
  return null;
}

function pickChatTemplate(value: unknown, file: string): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) {
    const named = value.find((t) => t && typeof t === 'object' && (t as { name?: unknown }).name === 'default') ?? value[0];
    const template = named && typeof named === 'object' ? (named as { template?: unknown }).template : undefined;
    if (typeof template === 'string') return template;
  }
  throw new LensError(`${file}: field 'chat_template' must be a string or a list of {name, template}`, file);
}

function ids(value: unknown): number[] {
  const list = Array.isArray(value) ? value : value === undefined || value === null ? [] : [value];
  return list.filter((v): v is number => Number.isSafeInteger(v) && v >= 0);
}

/**
 * What the tokenizers library does not check but panics on — and a Rust panic aborts the whole
 * process (the engine: every request), so it cannot be caught: refused here first.
 * - BPE `continuing_subword_prefix`: the library strips it from the right part of every merge
 *   unchecked (tokenizers/src/models/bpe/model.rs), so each right part must begin with it.
 */
function checkBeforeNativeLoad(json: unknown, file: string): void {
  const model = (json as { model?: unknown } | null)?.model as Record<string, unknown> | undefined;
  if (!model || typeof model !== 'object' || model.type !== 'BPE') return;
  const prefix = model.continuing_subword_prefix;
  if (typeof prefix !== 'string' || prefix === '' || !Array.isArray(model.merges)) return;
  model.merges.forEach((merge: unknown, i: number) => {
    const right = Array.isArray(merge) ? merge[1] : typeof merge === 'string' ? merge.split(' ')[1] : undefined;
    if (typeof right === 'string' && !right.startsWith(prefix)) {
      throw new LensError(`${file}: merge ${i} (${JSON.stringify(right.slice(0, 40))}) does not begin with model.continuing_subword_prefix ${JSON.stringify(prefix.slice(0, 40))}`, file);
    }
  });
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/**
 * tokenizer.json parsed in JavaScript, or an error naming the file. A function of its own, not a
 * closure inside loadTokenizerFiles: a closure there would share its scope with the reload closure
 * the returned object keeps, and so keep the file's text (megabytes) alive for the model's life.
 */
function parseTokenizerJson(text: string, tokenizerFile: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw new LensError(`${tokenizerFile}: invalid JSON (${(e as Error).message})`, tokenizerFile);
  }
}

export function loadTokenizerFiles(dir: string, config: ModelConfig): TokenizerFiles {
  const tokenizerFile = join(dir, 'tokenizer.json');
  if (!existsSync(tokenizerFile)) {
    const slow = ['tokenizer.model', 'vocab.json'].find((f) => existsSync(join(dir, f)));
    throw new LensError(
      `${tokenizerFile}: missing${slow ? ` (only ${slow} is present: save the fast tokenizer, tokenizer.json, with transformers)` : ''}`,
      tokenizerFile,
    );
  }
  const text = readTextFileBounded(tokenizerFile, 'the tokenizer', MAX_TOKENIZER_JSON_BYTES);
  // Parsed in JavaScript only when needed (a large vocabulary's JSON takes tens of MB of heap):
  // to guard the native loader against a subword prefix it would panic on, or to explain a failure.
  if (/"continuing_subword_prefix"\s*:\s*"/.test(text)) checkBeforeNativeLoad(parseTokenizerJson(text, tokenizerFile), tokenizerFile);
  let tokenizer: Tokenizer;
  try {
    tokenizer = Tokenizer.fromString(text);
  } catch (e) {
    parseTokenizerJson(text, tokenizerFile);
    throw new LensError(`${tokenizerFile}: not a tokenizer the tokenizers library can load (${(e as Error).message})`, tokenizerFile);
  }
  const configFile = join(dir, 'tokenizer_config.json');
  const tokConfig = existsSync(configFile) ? readJsonObject(configFile, 'Tokenizer config') : {};
  const bosToken = tokenContent(tokConfig.bos_token);
  const eosToken = tokenContent(tokConfig.eos_token);
  const generationFile = join(dir, 'generation_config.json');
  const generation = existsSync(generationFile) ? readJsonObject(generationFile, 'Generation config') : {};
  const eos = new Set<number>([...ids(generation.eos_token_id), ...config.eosTokenIds]);
  if (eosToken !== null) {
    const id = tokenizer.tokenToId(eosToken);
    if (id !== null && id !== undefined) eos.add(id);
  }
  const vocabSize = tokenizer.getVocabSize(true);
  if (vocabSize > config.vocabSize) {
    throw new LensError(`${tokenizerFile}: the tokenizer has ${vocabSize} tokens but config.json vocab_size is ${config.vocabSize}`, tokenizerFile);
  }
  const digest = sha256(text);
  let native: Tokenizer | null = tokenizer;
  const reload = (): Tokenizer => {
    const again = readTextFileBounded(tokenizerFile, 'the tokenizer', MAX_TOKENIZER_JSON_BYTES);
    if (sha256(again) !== digest) throw new LensError(`${tokenizerFile}: changed on disk while the model was in use; load the model again`, tokenizerFile);
    return Tokenizer.fromString(again);
  };
  return {
    get tokenizer() {
      return (native ??= reload());
    },
    releaseNative() {
      native = null;
    },
    tokenizerFile,
    tokenizerConfigFile: configFile,
    bosToken,
    eosToken,
    chatTemplate: pickChatTemplate(tokConfig.chat_template, configFile),
    eosTokenIds: [...eos].sort((a, b) => a - b),
    vocabSize,
  };
}
