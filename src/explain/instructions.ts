/**
 * Instruction spans in a prompt (the verb lexicon they use is instruction-lexicon.ts).
 *
 * Spans: the prompt is split into sentences (terminal punctuation, and every line break, so bullet
 * and numbered items are their own sentences); a sentence is an instruction when it holds a verb of
 * the list used imperatively:
 *  - in its base form as the first word of the sentence or of a clause (after `;`, `:`, `(`, a
 *    dash, or a comma), once leading bullets/numbers and lead-in words are skipped ("please",
 *    "now", "then", "also", "kindly", "first", "and", "do not", "always", "can you", "let's", …);
 *  - or in its base form right after a cue anywhere in the sentence: "you should/must/will/can/
 *    need to/have to…", "I want/need/would like you to", "your task/job/goal is to", "be sure to",
 *    "make sure (to|you)", "don't forget to", "please", "help me".
 * Only the base form counts for detection (an imperative has no other form): "I wrote a letter
 * yesterday." and "Written in 1850, …" are not instructions.
 * Verbs that are also common nouns ("list", "answer", "output", "design", "name", …) are guarded:
 * not imperative when followed by an auxiliary or "of" ("Design is hard", "List of birds"), by a
 * word and an auxiliary ("Copy machines are loud"), or, at a sentence start, by a colon directly
 * or after one more word (labels: "Answer:", "Grade level:"); after a comma, or coordinated with
 * "and"/"or"/"then", they count only when an object-like word follows ("…, list the names"), so
 * "eggs, copy paper" is no instruction. A verb directly followed by `=`, `(`, `[` and the like is
 * code ("answer = input()"). Verbs coordinated with an instruction ("Read the text and answer …")
 * are reported but do not mark a sentence on their own ("I like to read and write.").
 * A sentence is also an instruction by its shape, without a verb of the list (isRequestShape): a
 * question ("What should I do?", "How many integers are …"), an opening that addresses the model
 * or sets the task ("You are given …", "Given …", "Please …", "As a pirate captain, …"), a
 * first-person request ("I want to …", "I'd like …"), an obligation on the answer ("Your plot should
 * …", "The text must be classified …"); a sentence opening with a label ("Question: …", "Input: …") is context.
 * Known limits: the task input of a prompt ("Input: …", which the paper's annotators often count
 * as instruction) is not marked; a heading such as "Design Document" is. On the paper's 632
 * prompts (test/unit/instruction-detection.test.ts): character-level precision 0.83, recall 0.72,
 * F1 0.77 (0.83 / 0.41 / 0.55 with imperative verbs alone).
 * User-given spans override detection; the verbs reported are then the detected imperative verbs
 * that lie inside the given spans.
 */
import { LensError } from '../model/errors.js';
import { findWords, type TokenOffsets, type WordSpan } from './words.js';
import { DEFAULT_INSTRUCTION_VERBS, imperativeVerb, lookupFor, normalizeWord, type VerbLookup } from './instruction-lexicon.js';

import type { InstructionSpan, InstructionVerb } from '../contract/report.js';
export type { InstructionSpan, InstructionVerb };

export interface InstructionDetection {
  spans: InstructionSpan[];
  verbs: InstructionVerb[];
  /** `user` when the spans were given, `detected` otherwise. */
  source: 'user' | 'detected';
}

export interface DetectOptions {
  /** The verb list to use instead of the default. */
  verbs?: readonly string[];
  /** Spans given by the user: they replace detection. */
  spans?: readonly InstructionSpan[];
}

/**
 * Verbs that are also common nouns or adjectives, so that a sentence starting with them is often no
 * instruction ("Design is…", "List of…", "Answer:"). Detection guards them (see the file comment).
 */
const NOUN_LIKE = new Set([
  'answer', 'output', 'name', 'list', 'format', 'plan', 'draft', 'copy', 'count', 'check', 'estimate',
  'design', 'order', 'sort', 'match', 'score', 'test', 'code', 'comment', 'review', 'quote', 'label',
  'tag', 'group', 'mark', 'rank', 'rate', 'edit', 'repeat', 'use', 'complete', 'correct', 'reverse',
  'outline', 'program', 'document', 'change', 'search', 'state', 'act', 'play', 'start', 'limit',
  'focus', 'help', 'present', 'return', 'print', 'display', 'guess', 'reply', 'research', 'polish',
  'highlight', 'debate', 'critique', 'grade', 'judge', 'measure', 'approximate', 'round', 'factor',
  'filter', 'forecast', 'extract', 'contrast', 'draw', 'sketch', 'craft', 'produce', 'guide', 'share',
  'offer', 'break', 'turn', 'run', 'cut', 'split', 'fill', 'show', 'take', 'keep', 'try', 'conduct',
]);

/** Noun-like verbs that, as the prompt's last word before a colon, only cue the answer. */
const ANSWER_CUES = new Set(['answer', 'output', 'reply', 'return', 'print', 'display', 'show', 'code', 'label', 'tag', 'score', 'grade', 'rate', 'rank', 'state', 'start']);

// ---------------------------------------------------------------------------------------------
// Sentences

const ABBREVIATIONS = new Set([
  'e.g', 'i.e', 'etc', 'vs', 'mr', 'mrs', 'ms', 'dr', 'prof', 'st', 'jr', 'sr', 'fig', 'approx', 'cf',
  'no', 'vol', 'eg', 'ie', 'al', 'inc', 'ltd', 'co', 'jan', 'feb', 'mar', 'apr', 'jun', 'jul', 'aug',
  'sep', 'sept', 'oct', 'nov', 'dec', 'min', 'max', 'approx', 'dept', 'est',
]);

const BULLET_PREFIX = /^(?:[-*+•‣◦▪▫●○■□–—>#]+\s*|\(?(?:\d+|[a-zA-Z]|[ivx]+)[.)]\s+|\[[ xX]?\]\s*)+/u;

/**
 * Splits `text` into sentences: at `.`, `!`, `?`, `…` (with closing quotes or brackets) followed by
 * whitespace or the end — not after common abbreviations ("e.g.", "Dr.") or single letters
 * (initials, "a." items) — and at every line break. Each sentence is trimmed of whitespace and of
 * a leading bullet or list number ("- ", "* ", "1. ", "(a) ", "[ ] "); empty ones are dropped.
 */
export function splitSentences(text: string): InstructionSpan[] {
  const out: InstructionSpan[] = [];
  const push = (start: number, end: number): void => {
    let s = start;
    let e = end;
    while (s < e && /\s/u.test(text[s]!)) s++;
    while (e > s && /\s/u.test(text[e - 1]!)) e--;
    const m = BULLET_PREFIX.exec(text.slice(s, e));
    if (m) s += m[0].length;
    if (e > s) out.push({ start: s, end: e });
  };
  const lineBreak = /\r\n|[\n\r\u2028\u2029\u0085]/gu;
  let lineStart = 0;
  const lines: [number, number][] = [];
  for (const m of text.matchAll(lineBreak)) {
    lines.push([lineStart, m.index!]);
    lineStart = m.index! + m[0].length;
  }
  lines.push([lineStart, text.length]);
  const terminator = /[.!?…]+["'”’)\]]*(?=\s|$)/gu;
  for (const [ls, le] of lines) {
    const line = text.slice(ls, le);
    let sentStart = 0;
    for (const m of line.matchAll(terminator)) {
      const at = m.index!;
      if (m[0] === '.') {
        const before = /([\p{L}.]+)$/u.exec(line.slice(sentStart, at));
        const word = before?.[1]?.toLowerCase() ?? '';
        if (ABBREVIATIONS.has(word) || /^\p{L}$/u.test(word)) continue;
      }
      push(ls + sentStart, ls + at + m[0].length);
      sentStart = at + m[0].length;
    }
    push(ls + sentStart, le);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Detection

/** Words skipped at the start of a clause before looking for the imperative verb. */
const LEAD_INS = new Set([
  'please', 'pls', 'plz', 'kindly', 'now', 'then', 'also', 'next', 'finally', 'first', 'firstly',
  'second', 'secondly', 'third', 'thirdly', 'lastly', 'last', 'and', 'or', 'but', 'so', 'just',
  'simply', 'briefly', 'again', 'additionally', 'furthermore', 'moreover', 'instead', 'afterwards',
  'always', 'never', 'do', 'not', "don't", 'dont', 'carefully', 'quickly', 'only', 'ok', 'okay',
  'hi', 'hello', 'hey', "let's", 'lets',
]);

/** Two-word lead-ins ("can you", "let us"). */
const LEAD_IN_PAIRS = new Set(['can you', 'could you', 'would you', 'will you', 'let us', 'do you', 'go ahead']);

/** Cues after which a base-form verb is an instruction, anywhere in a sentence. */
const CUES: readonly (readonly string[])[] = [
  ['you', 'should'], ['you', 'must'], ['you', 'will'], ['you', 'can'], ['you', 'could'], ['you', 'would'],
  ['you', 'need', 'to'], ['you', 'have', 'to'], ['you', 'are', 'to'], ['you', 'ought', 'to'],
  ['you', 'are', 'going', 'to'], ["you're", 'going', 'to'], ["you'll"], ["you'd"],
  ['you', 'are', 'asked', 'to'], ['you', 'are', 'required', 'to'], ['you', 'are', 'expected', 'to'],
  ['i', 'want', 'you', 'to'], ['i', 'need', 'you', 'to'], ['i', 'would', 'like', 'you', 'to'],
  ["i'd", 'like', 'you', 'to'], ['we', 'want', 'you', 'to'], ['we', 'need', 'you', 'to'],
  ['we', 'would', 'like', 'you', 'to'], ["we'd", 'like', 'you', 'to'],
  ['your', 'task', 'is', 'to'], ['your', 'job', 'is', 'to'], ['your', 'goal', 'is', 'to'],
  ['your', 'role', 'is', 'to'], ['your', 'assignment', 'is', 'to'], ['your', 'objective', 'is', 'to'],
  ['the', 'task', 'is', 'to'],
  ['be', 'sure', 'to'], ['make', 'sure', 'to'], ['make', 'sure', 'you'], ['remember', 'to'],
  ["don't", 'forget', 'to'], ['do', 'not', 'forget', 'to'], ['please'],
  ['help', 'me'], ['help', 'me', 'to'], ['help', 'us'],
];

/** Adverbs allowed between a cue and its verb ("you should also write"). */
const BETWEEN = new Set(['please', 'also', 'now', 'then', 'first', 'just', 'only', 'simply', 'kindly', 'carefully', 'briefly', 'not', 'always', 'never']);

/** Words after which a noun-like verb is a noun ("Design is…", "List of…"). */
const NOUN_FOLLOWERS = new Set([
  'is', 'are', 'was', 'were', 'be', 'been', 'has', 'have', 'had', 'can', 'could', 'will', 'would',
  'should', 'must', 'may', 'might', 'shall', 'does', 'did', 'of', "'s", 'isn\'t', 'aren\'t', 'wasn\'t',
]);

/** Words that, following a noun-like verb after a comma, show it takes an object. */
const OBJECT_STARTS = new Set([
  'the', 'a', 'an', 'this', 'that', 'these', 'those', 'it', 'them', 'me', 'us', 'him', 'her', 'all',
  'each', 'every', 'some', 'any', 'my', 'your', 'our', 'their', 'its', 'his', 'both', 'one', 'two',
  'three', 'four', 'five', 'six', 'seven', 'eight', 'nine', 'ten', 'up', 'out', 'down', 'how', 'what',
  'why', 'which', 'who', 'whether', 'if', 'in', 'into', 'as', 'to', 'for', 'with', 'by', 'using',
  'from', 'about', 'on', 'only', 'below', 'above', 'following', 'here', 'again', 'no', 'more', 'at',
]);

interface SentenceWord extends WordSpan {
  lower: string;
}

function gapHas(text: string, from: number, to: number, chars: RegExp): boolean {
  return chars.test(text.slice(from, to));
}

const STRONG_BOUNDARY = /[;:()\[\]—–]|\s-\s/u;
const WEAK_BOUNDARY = /,/u;

/** Checks whether the verb at `k` is used as a verb given what follows it. */
function passesNounGuard(text: string, words: readonly SentenceWord[], k: number, end: number, strong: boolean): boolean {
  const w = words[k]!;
  const next = words[k + 1];
  const nextLower = next?.lower;
  // Code, not prose: "answer = input()", "print(x)", "list[0]", "format.json".
  if (/^(?:[(\[_<{]|\.\w|\s*[-+*/%]?=)/u.test(text.slice(w.end, end))) return false;
  if (nextLower !== undefined && NOUN_FOLLOWERS.has(nextLower) && !gapHas(text, w.end, next!.start, /[,;:]/u)) return false;
  if (!NOUN_LIKE.has(w.lower)) return true;
  const after = text.slice(w.end, next ? next.start : end);
  // A compound noun subject: "Copy machines are loud", "Use cases include…".
  const third = words[k + 2];
  if (
    next && third && !OBJECT_STARTS.has(next.lower) && NOUN_FOLLOWERS.has(third.lower) && third.lower !== 'of' &&
    /^\s+$/u.test(after) && /^\s+$/u.test(text.slice(next.end, third.start))
  ) {
    return false;
  }
  // A label ("Answer: 42", "Output:"), unless the verb and its colon end the prompt: then the
  // model is asked to do it ("The words: red key.\nSort:"), except for the verbs that only cue an
  // answer ("Question: …\nAnswer:").
  if (/^\s*:/u.test(after)) return /^\s*:\s*$/u.test(text.slice(w.end)) && !ANSWER_CUES.has(w.lower);
  if (strong && next && /^\s+$/u.test(after) && /^\s*:/u.test(text.slice(next.end, words[k + 2]?.start ?? end))) {
    return false; // a two-word label: "Grade level:", "Output format:"
  }
  if (strong) return true;
  return nextLower !== undefined && OBJECT_STARTS.has(nextLower) && !/[,;:]/u.test(after);
}

interface Hit {
  verb: string;
  word: SentenceWord;
  /** Whether the hit alone makes the sentence an instruction (coordinated verbs do not). */
  marks: boolean;
}

function analyseSentence(text: string, sentence: InstructionSpan, lookup: VerbLookup): Hit[] {
  const words: SentenceWord[] = findWords(text.slice(sentence.start, sentence.end)).map((w) => ({
    text: w.text,
    start: w.start + sentence.start,
    end: w.end + sentence.start,
    lower: normalizeWord(w.text),
  }));
  const hits = new Map<number, Hit>();
  const add = (k: number, marks: boolean): void => {
    const w = words[k]!;
    const verb = imperativeVerb(w.text, lookup);
    if (!verb) return;
    const prev = hits.get(k);
    if (prev) prev.marks ||= marks;
    else hits.set(k, { verb, word: w, marks });
  };

  // 1. Clause starts.
  for (let k = 0; k < words.length; k++) {
    let strong: boolean;
    if (k === 0) strong = true;
    else if (gapHas(text, words[k - 1]!.end, words[k]!.start, STRONG_BOUNDARY)) strong = true;
    else if (gapHas(text, words[k - 1]!.end, words[k]!.start, WEAK_BOUNDARY)) strong = false;
    else continue;
    let i = k;
    // A list marker inside the sentence ("Steps: 1) write…").
    if (/^(?:\d+|[a-z]|[ivx]+)$/u.test(words[i]!.lower) && /^[.)]/u.test(text.slice(words[i]!.end))) i++;
    const sameClause = (a: number, b: number): boolean =>
      !gapHas(text, words[a]!.end, words[b]!.start, STRONG_BOUNDARY) && !gapHas(text, words[a]!.end, words[b]!.start, WEAK_BOUNDARY);
    for (let skips = 0; i < words.length && skips < 6; skips++) {
      const pair = i + 1 < words.length ? `${words[i]!.lower} ${words[i + 1]!.lower}` : '';
      if (LEAD_IN_PAIRS.has(pair) && sameClause(i, i + 1)) {
        if (i + 2 < words.length && !sameClause(i + 1, i + 2)) break;
        i += 2;
      } else if (LEAD_INS.has(words[i]!.lower) && i + 1 < words.length && sameClause(i, i + 1)) {
        i++;
      } else break;
    }
    if (i >= words.length) continue;
    if (i > k && !sameClause(i - 1, i)) continue;
    if (imperativeVerb(words[i]!.text, lookup) && passesNounGuard(text, words, i, sentence.end, strong)) add(i, true);
  }

  // 2. Cues anywhere ("you should", "I want you to", "please", …).
  for (let k = 0; k < words.length; k++) {
    for (const cue of CUES) {
      if (k + cue.length > words.length) continue;
      let ok = true;
      for (let c = 0; c < cue.length && ok; c++) {
        if (words[k + c]!.lower !== cue[c]) ok = false;
        else if (c > 0 && !/^\s+$/u.test(text.slice(words[k + c - 1]!.end, words[k + c]!.start))) ok = false;
      }
      if (!ok) continue;
      let i = k + cue.length;
      while (i < words.length && BETWEEN.has(words[i]!.lower)) i++;
      if (i >= words.length) continue;
      if (!/^\s+$/u.test(text.slice(words[i - 1]!.end, words[i]!.start))) continue;
      if (imperativeVerb(words[i]!.text, lookup) && passesNounGuard(text, words, i, sentence.end, true)) add(i, true);
    }
  }

  // 3. Verbs coordinated with an instruction ("Read the text and answer the questions"): recorded
  //    as verbs, but they do not mark a sentence on their own ("I like to read and write.").
  for (let k = 1; k < words.length; k++) {
    const prev = words[k - 1]!.lower;
    if (prev !== 'and' && prev !== 'or' && prev !== 'then') continue;
    if (!/^\s+$/u.test(text.slice(words[k - 1]!.end, words[k]!.start))) continue;
    if (imperativeVerb(words[k]!.text, lookup) && passesNounGuard(text, words, k, sentence.end, false)) add(k, false);
  }
  return [...hits.entries()].sort((a, b) => a[0] - b[0]).map(([, h]) => h);
}

// ---------------------------------------------------------------------------------------------
// Requests without an imperative verb of the list
//
// Hand-written on purpose: a POS tagger from npm (compromise, wink-nlp) tags words, but what marks
// a request here is a handful of sentence shapes, and the taggers' guesses on short prompts
// ("Sort:", "Copy machines are loud") were what the noun guards above exist to avoid.

const WH_WORDS = new Set(['what', 'how', 'why', 'when', 'where', 'which', 'who', 'whom', 'whose', "what's", "how's", "where's", "who's", 'whats']);
const AUXILIARIES = new Set([
  'is', 'are', 'was', 'were', 'do', 'does', 'did', 'can', 'could', 'should', 'would', 'will', 'might',
  'may', 'must', 'shall', 'has', 'have', 'had', "isn't", "aren't", "don't", "doesn't", "didn't", "can't",
  "won't", "shouldn't", "wouldn't", "couldn't",
]);
/** Words after "how" that ask a question: "How many…", "How long…". */
const HOW_DEGREE = new Set(['many', 'much', 'long', 'far', 'often', 'old', 'big', 'large', 'fast', 'soon', 'come', 'about']);
/** Sentence openings that address the model or state a task: "You are given…", "Given…", "Please…". */
const OPENINGS: readonly (readonly string[])[] = [
  ['you', 'are'], ["you're"], ['you', 'will'], ["you'll"], ['you', 'need'], ['you', 'should'], ['you', 'must'],
  ['you', 'have', 'to'], ['you', 'can'], ['your', 'task'], ['your', 'job'], ['your', 'goal'], ['your', 'role'],
  ['your', 'objective'], ['your', 'help'], ['given'], ['please'], ['pls'], ['kindly'], ['suppose'], ['assume'],
  ['as', 'a'], ['as', 'an'], ['let'], ["let's"], ['now'],
];
/** Requests in the first person anywhere in a sentence: "I want to…", "I'd like…", "I need…". */
const REQUESTS: readonly (readonly string[])[] = [
  ['i', 'want'], ['i', 'would', 'like'], ["i'd", 'like'], ['i', 'need'], ['i', 'am', 'looking', 'for'],
  ["i'm", 'looking', 'for'], ['i', 'would', 'appreciate'], ["i'd", 'appreciate'], ['i', 'was', 'wondering'],
  ['i', 'wonder'], ['help', 'me'], ['it', 'is', 'up', 'to', 'you'], ["it's", 'up', 'to', 'you'],
];
/** Obligations: "Your answer should…", "The text must be classified…", "A list … should be compiled." */
const OBLIGATIONS = new Set(['should', 'must', 'shall']);
const IRREGULAR_PARTICIPLES = new Set(['written', 'given', 'done', 'made', 'shown', 'taken', 'chosen', 'drawn', 'kept', 'put', 'told', 'found', 'built', 'sent', 'read', 'set', 'split', 'cut', 'left', 'held', 'brought', 'thought', 'sought', 'bought', 'taught', 'known', 'seen']);

function startsWith(words: readonly SentenceWord[], at: number, phrase: readonly string[]): boolean {
  if (at + phrase.length > words.length) return false;
  for (let c = 0; c < phrase.length; c++) if (words[at + c]!.lower !== phrase[c]) return false;
  return true;
}

/**
 * Whether a sentence is a request by its shape rather than by an imperative verb: a question (it
 * ends with `?`, or opens with a question word and an auxiliary: "How many integers are…"), an
 * opening that addresses the model or sets the task ("You are given…", "Given…", "Please…", "As a
 * pirate captain, …"), a first-person request ("I want to change…", "I'd like…"), or an obligation
 * (should/must/shall) in a sentence that opens with "your", "the", "it", "they", "each" or "every"
 * ("Your plot should have a title.") or in the passive anywhere ("…, a list should be compiled.").
 * A sentence that opens with a label ("Question:
 * …", "Input: …") is context, not a request.
 */
function isRequestShape(text: string, sentence: InstructionSpan): boolean {
  const body = text.slice(sentence.start, sentence.end);
  if (/^[\p{L}\p{N} _'-]{1,40}:/u.test(body)) return false;
  const words: SentenceWord[] = findWords(body).map((w) => ({ ...w, lower: normalizeWord(w.text) }));
  if (words.length < 2) return false;
  if (/\?["'”’)\]]*$/u.test(body)) return true;
  const first = words[0]!.lower;
  const second = words[1]!.lower;
  if (WH_WORDS.has(first) && (AUXILIARIES.has(second) || (first === 'how' && HOW_DEGREE.has(second)) || first.endsWith("'s"))) return true;
  if (OPENINGS.some((o) => startsWith(words, 0, o))) return true;
  for (let k = 0; k < words.length; k++) {
    if (REQUESTS.some((r) => startsWith(words, k, r))) return true;
    if (OBLIGATIONS.has(words[k]!.lower) && k > 0 && ['your', 'the', 'it', 'they', 'each', 'every'].includes(words[0]!.lower)) return true;
    if (
      OBLIGATIONS.has(words[k]!.lower) && words[k + 1]?.lower === 'be' && words[k + 2] &&
      (/(?:ed|en)$/u.test(words[k + 2]!.lower) || IRREGULAR_PARTICIPLES.has(words[k + 2]!.lower))
    ) {
      return true;
    }
  }
  return false;
}

function validateSpans(text: string, spans: readonly InstructionSpan[]): InstructionSpan[] {
  const sorted = spans.map((s, k) => {
    if (!Number.isInteger(s.start) || !Number.isInteger(s.end) || s.start < 0 || s.end < s.start || s.end > text.length) {
      throw new LensError(`Instruction span ${k} [${s.start}, ${s.end}) is outside the prompt (length ${text.length}).`);
    }
    return { start: s.start, end: s.end };
  });
  sorted.sort((a, b) => a.start - b.start || a.end - b.end);
  const merged: InstructionSpan[] = [];
  for (const s of sorted) {
    if (s.end === s.start) continue;
    const last = merged[merged.length - 1];
    if (last && s.start <= last.end) last.end = Math.max(last.end, s.end);
    else merged.push(s);
  }
  return merged;
}

/**
 * Finds the instruction sentences of a prompt and their imperative verbs. With `options.spans`,
 * those spans are used as they are (sorted, overlapping ones merged) and the verbs are the detected
 * ones inside them.
 */
export function detectInstructions(text: string, options: DetectOptions = {}): InstructionDetection {
  const lookup = lookupFor(options.verbs ?? DEFAULT_INSTRUCTION_VERBS);
  const detectedSpans: InstructionSpan[] = [];
  const allVerbs: InstructionVerb[] = [];
  const markedVerbs: InstructionVerb[] = [];
  for (const sentence of splitSentences(text)) {
    const hits = analyseSentence(text, sentence, lookup);
    const verbs = hits.map((h) => ({ verb: h.verb, form: h.word.text, start: h.word.start, end: h.word.end }));
    allVerbs.push(...verbs);
    if (hits.some((h) => h.marks) || isRequestShape(text, sentence)) {
      detectedSpans.push(sentence);
      markedVerbs.push(...verbs);
    }
  }
  if (options.spans) {
    const spans = validateSpans(text, options.spans);
    const inside = allVerbs.filter((v) => spans.some((s) => v.start >= s.start && v.end <= s.end));
    return { spans, verbs: inside, source: 'user' };
  }
  return { spans: detectedSpans, verbs: markedVerbs, source: 'detected' };
}

/** 1 for each token that overlaps a span (half-open ranges), else 0. Empty tokens get 0. */
export function instructionMask(tokens: readonly TokenOffsets[], spans: readonly InstructionSpan[]): number[] {
  return tokens.map((t) => (t.end > t.start && spans.some((s) => t.start < s.end && t.end > s.start) ? 1 : 0));
}
