/**
 * A prompt set for `instruction-lens evaluate`: JSON lines, one prompt per line,
 *
 *   {"id": "q1", "prompt": "…", "group": "math",
 *    "instruction": ["text that occurs in the prompt", [start, end], {"start": 0, "end": 9}],
 *    "response": "given to both models" | {"base": "…", "tuned": "…"}}
 *
 * `id` and `prompt` are required; `instruction` marks the instruction spans (a text marks every
 * occurrence; ranges are UTF-16 offsets, half-open); without it they are detected. The paper's
 * published file (shared/paper-attributions/attributions.jsonl.gz: `id`, `prompt`, `instruct`, one
 * line per prompt and paper model) is read as it is: `instruct` is its annotation (spans before
 * `&&&`, split on `|||`, each at its first occurrence), the group is the id without its number (all
 * `mtbench_*` one group), and the second line of an id is the same prompt for the other paper model.
 * Its responses (`output_tokens`) belong to the paper's models, not to the pair evaluated: unused.
 *
 * A gzip file (`.gz`, or gzip's magic bytes) is decompressed. A malformed line is named by file and
 * line; with `onError: 'stop'` the first one is an error, with `'skip'` it is left out and listed.
 */
import { gunzipSync } from 'node:zlib';
import { createHash } from 'node:crypto';
import { LensError } from '../model/errors.js';
import { readFileBounded } from '../model/read-file.js';
import type { InstructionSpan } from '../explain/instructions.js';
import { paperInstructionSpans } from './detection-metrics.js';

/** A prompt file larger than this is refused (compressed or not), and so is more text than this once decompressed. */
export const MAX_PROMPT_SET_BYTES = 256 * 1024 * 1024;

export type OnError = 'skip' | 'stop';

export interface EvalPrompt {
  /** Position among the accepted prompts (0-based): the order of results and of shards. */
  index: number;
  id: string;
  prompt: string;
  group: string;
  /** Annotated instruction spans: used for the score, and to measure detection. */
  instruction?: InstructionSpan[];
  response?: { base?: string; tuned?: string };
  /** 1-based line in the file. */
  line: number;
}

export interface SkippedLine {
  line: number;
  message: string;
}

export interface PromptSet {
  file: string;
  prompts: EvalPrompt[];
  skipped: SkippedLine[];
  /** SHA-256 of the accepted prompts (ids, texts, groups, spans, responses): a changed file changes it. */
  hash: string;
}

const DEFAULT_GROUP = 'all';

function paperGroup(id: string): string {
  const g = id.replace(/_\d+$/, '');
  return g.startsWith('mtbench') ? 'mtbench' : g;
}

class LineError extends Error {}

function spansOf(value: unknown, prompt: string): InstructionSpan[] {
  const items = Array.isArray(value) && !(value.length === 2 && value.every((v) => typeof v === 'number')) ? value : [value];
  const spans: InstructionSpan[] = [];
  for (const item of items) {
    if (typeof item === 'string') {
      if (!item) throw new LineError('"instruction" has an empty text');
      let at = prompt.indexOf(item);
      if (at < 0) throw new LineError(`"instruction" ${JSON.stringify(item.length > 60 ? `${item.slice(0, 60)}…` : item)} does not occur in the prompt`);
      for (; at >= 0; at = prompt.indexOf(item, at + item.length)) spans.push({ start: at, end: at + item.length });
      continue;
    }
    let start: unknown, end: unknown;
    if (Array.isArray(item) && item.length === 2) [start, end] = item;
    else if (item && typeof item === 'object' && !Array.isArray(item)) ({ start, end } = item as { start?: unknown; end?: unknown });
    else throw new LineError('"instruction" items must be texts, [start, end] or {"start", "end"}');
    if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || (start as number) < 0 || (end as number) <= (start as number) || (end as number) > prompt.length) {
      throw new LineError(`"instruction" range [${String(start)}, ${String(end)}) is not inside the prompt (length ${prompt.length})`);
    }
    spans.push({ start: start as number, end: end as number });
  }
  return spans;
}

function responseOf(value: unknown): EvalPrompt['response'] {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'string') {
    if (!value.trim()) throw new LineError('"response" is empty');
    return { base: value, tuned: value };
  }
  if (typeof value !== 'object' || Array.isArray(value)) throw new LineError('"response" must be a text or {"base", "tuned"}');
  const out: { base?: string; tuned?: string } = {};
  for (const [key, v] of Object.entries(value)) {
    if (key !== 'base' && key !== 'tuned') throw new LineError(`"response" has an unknown key "${key}" (base, tuned)`);
    if (typeof v !== 'string' || !v.trim()) throw new LineError(`"response.${key}" must be a non-empty text`);
    out[key] = v;
  }
  return out;
}

/** One parsed line, or a LineError. `paper` lines (with `instruct`) may repeat an id with the same prompt. */
function parseLine(text: string): { prompt: Omit<EvalPrompt, 'index' | 'line'>; paper: boolean } {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new LineError(`not JSON (${(e as Error).message})`);
  }
  if (!value || typeof value !== 'object' || Array.isArray(value)) throw new LineError('not a JSON object');
  const v = value as Record<string, unknown>;
  const id = typeof v.id === 'number' && Number.isFinite(v.id) ? String(v.id) : v.id;
  if (typeof id !== 'string' || !id) throw new LineError('"id" must be a non-empty text or a number');
  if (typeof v.prompt !== 'string' || !v.prompt.trim()) throw new LineError('"prompt" must be a non-empty text');
  const prompt = v.prompt;
  const paper = typeof v.instruct === 'string' && v.instruction === undefined;
  if (v.group !== undefined && (typeof v.group !== 'string' || !v.group)) throw new LineError('"group" must be a non-empty text');
  const group = typeof v.group === 'string' ? v.group : paper ? paperGroup(id) : DEFAULT_GROUP;
  let instruction: InstructionSpan[] | undefined;
  if (paper) {
    const found = paperInstructionSpans(prompt, v.instruct as string);
    if (found.missing) throw new LineError(`${found.missing} span(s) of "instruct" do not occur in the prompt`);
    instruction = found.spans;
  } else if (v.instruction !== undefined) {
    instruction = spansOf(v.instruction, prompt);
  }
  return { prompt: { id, prompt, group, instruction, response: paper ? undefined : responseOf(v.response) }, paper };
}

function decode(bytes: Buffer, file: string): string {
  const gzip = file.endsWith('.gz') || (bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b);
  if (!gzip) return bytes.toString('utf8');
  try {
    return gunzipSync(bytes, { maxOutputLength: MAX_PROMPT_SET_BYTES }).toString('utf8');
  } catch (e) {
    throw new LensError(`Cannot read the prompt set ${file}: not a valid gzip file or over ${MAX_PROMPT_SET_BYTES} bytes decompressed (${(e as Error).message})`, file);
  }
}

/** Reads and checks a prompt set (see the file comment). */
export function readPromptSet(file: string, onError: OnError): PromptSet {
  const text = decode(readFileBounded(file, 'the prompt set', MAX_PROMPT_SET_BYTES), file);
  const prompts: EvalPrompt[] = [];
  const skipped: SkippedLine[] = [];
  const byId = new Map<string, { prompt: EvalPrompt; paper: boolean }>();
  const lines = text.split('\n');
  for (let k = 0; k < lines.length; k++) {
    const raw = lines[k]!.replace(/\r$/, '');
    if (!raw.trim()) continue;
    const line = k + 1;
    try {
      const parsed = parseLine(raw);
      const seen = byId.get(parsed.prompt.id);
      if (seen) {
        if (parsed.paper && seen.paper && seen.prompt.prompt === parsed.prompt.prompt) continue; // the other paper model's line
        throw new LineError(`id "${parsed.prompt.id}" repeats line ${seen.prompt.line}`);
      }
      const prompt: EvalPrompt = { index: prompts.length, line, ...parsed.prompt };
      byId.set(prompt.id, { prompt, paper: parsed.paper });
      prompts.push(prompt);
    } catch (e) {
      if (!(e instanceof LineError)) throw e;
      if (onError === 'stop') throw new LensError(`${file}:${line}: ${e.message} (--on-error skip leaves such lines out)`, file);
      skipped.push({ line, message: e.message });
    }
  }
  if (!prompts.length) throw new LensError(`${file}: no prompt to evaluate${skipped.length ? ` (${skipped.length} malformed line(s) skipped)` : ''}`, file);
  const hash = createHash('sha256');
  for (const p of prompts) hash.update(JSON.stringify([p.id, p.prompt, p.group, p.instruction ?? null, p.response ?? null])).update('\n');
  return { file, prompts, skipped, hash: hash.digest('hex') };
}

/** The prompts of shard k of n: every n-th prompt, starting at k (deterministic, balanced). */
export function shardOf<T extends { index: number }>(prompts: readonly T[], shard: { k: number; n: number }): T[] {
  return prompts.filter((p) => p.index % shard.n === shard.k);
}

/** Parses "K/N" (0 ≤ K < N). */
export function parseShard(text: string): { k: number; n: number } {
  const m = /^(\d+)\/(\d+)$/.exec(text.trim());
  const k = m ? Number(m[1]) : NaN;
  const n = m ? Number(m[2]) : NaN;
  if (!m || !Number.isSafeInteger(k) || !Number.isSafeInteger(n) || n < 1 || k >= n) throw new LensError(`--shard must be K/N with 0 ≤ K < N, got '${text}'`);
  return { k, n };
}
