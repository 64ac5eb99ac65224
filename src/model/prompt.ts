import type { Checkpoint } from './checkpoint.js';
import { LensError } from './errors.js';
import { renderChatTemplate } from './chat-template.js';
import { countStep } from './debug-counts.js';

export type PromptFormat = 'raw' | 'chat-template';

/** A prompt token, with its characters in the prompt text ([start, end) in UTF-16 units, as JavaScript strings index). */
export interface PromptToken {
  id: number;
  text: string;
  start: number;
  end: number;
}

/** What the model is given: the whole sequence, and where the user's prompt lies in it. */
export interface EncodedPrompt {
  format: PromptFormat;
  inputIds: number[];
  /** Half-open token indices of the prompt inside inputIds. */
  promptSpan: [number, number];
  /** The prompt's tokens (promptSpan), with character offsets into the prompt text. */
  tokens: PromptToken[];
}

/** tokenizers reports offsets in Unicode code points; JavaScript strings index UTF-16 units. */
function codePointToUtf16(text: string): number[] {
  const map: number[] = [];
  let unit = 0;
  for (const ch of text) {
    map.push(unit);
    unit += ch.length;
  }
  map.push(unit);
  return map;
}

/** Characters per token no real tokenizer exceeds on average: bounds a prompt before it is tokenized. */
export const MAX_CHARS_PER_TOKEN = 64;

/** The longest prompt (in UTF-16 units) worth tokenizing for a model: its context × MAX_CHARS_PER_TOKEN. */
export function maxPromptChars(checkpoint: Pick<Checkpoint, 'contextLength'>): number {
  return checkpoint.contextLength * MAX_CHARS_PER_TOKEN;
}

function checkPromptLength(checkpoint: Checkpoint, text: string, what: string): void {
  const limit = maxPromptChars(checkpoint);
  if (text.length > limit) {
    throw new LensError(`${what} has ${text.length} characters, more than ${limit} (${MAX_CHARS_PER_TOKEN} per token of the model's context of ${checkpoint.contextLength}, ${checkpoint.dir}/config.json)`);
  }
}

export async function encodePrompt(checkpoint: Checkpoint, prompt: string, format: PromptFormat = 'raw', signal?: AbortSignal): Promise<EncodedPrompt> {
  checkPromptLength(checkpoint, prompt, 'The prompt');
  if (prompt.trim().length === 0) throw new LensError('The prompt is empty.');
  const { tokenizer } = checkpoint.tokenizer;
  const text = format === 'chat-template' ? await renderChatTemplate(checkpoint.tokenizer, prompt, signal) : prompt;
  if (text !== prompt) checkPromptLength(checkpoint, text, 'The prompt in its chat template');
  const promptStart = format === 'chat-template' ? text.indexOf(prompt) : 0;
  if (promptStart < 0) throw new LensError(`The chat template of ${checkpoint.dir} changed the prompt text; cannot locate it in the rendered conversation`);
  // transformers: tokenizer(text) adds the model's special tokens; apply_chat_template does not (the template has them).
  countStep(checkpoint.spec, 'encode');
  const encoding = await tokenizer.encode(text, null, { addSpecialTokens: format === 'raw' });
  const ids = encoding.getIds();
  const offsets = encoding.getOffsets();
  const special = encoding.getSpecialTokensMask();
  const toUtf16 = codePointToUtf16(text);
  const promptEnd = promptStart + prompt.length;
  let first = -1;
  let last = -1;
  for (let i = 0; i < ids.length; i++) {
    if (special[i]) continue;
    const start = toUtf16[offsets[i]![0]!]!;
    const end = toUtf16[offsets[i]![1]!]!;
    if (end > promptStart && start < promptEnd) {
      if (first < 0) first = i;
      last = i;
    }
  }
  if (first < 0) throw new LensError('The prompt produced no tokens.');
  const tokens: PromptToken[] = [];
  for (let i = first; i <= last; i++) {
    const start = Math.max(toUtf16[offsets[i]![0]!]! - promptStart, 0);
    const end = Math.min(toUtf16[offsets[i]![1]!]! - promptStart, prompt.length);
    tokens.push({ id: ids[i]!, text: prompt.slice(start, end), start, end });
  }
  const vocab = checkpoint.config.vocabSize;
  const bad = ids.find((id) => id >= vocab);
  if (bad !== undefined) throw new LensError(`${checkpoint.tokenizer.tokenizerFile}: token id ${bad} is outside the model's vocabulary (${vocab})`);
  return { format, inputIds: ids, promptSpan: [first, last + 1], tokens };
}

export function checkContext(checkpoint: Checkpoint, totalTokens: number, what: string): void {
  if (totalTokens > checkpoint.contextLength) {
    throw new LensError(`${what} needs ${totalTokens} tokens, more than the model's context of ${checkpoint.contextLength} (${checkpoint.dir}/config.json)`);
  }
}
