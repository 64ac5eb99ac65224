/**
 * The instruction-verb lexicon: one list of instruction verbs for detection, the heads' verb pairs,
 * Table 3 and the hover. A default list holds the paper's instruction verbs (Wu et al., Table 3 and
 * §4) and other common task verbs, with British spellings; the user's verbs extend it.
 * `verbForms` generates a verb's inflections (regular -s/-es/-ies, -ed/-d/-ied, -ing with e-drop
 * and consonant doubling, plus an irregulars table); `matchInstructionVerb` maps any of them back
 * to the base verb. Written by hand: the English NLP libraries on npm that inflect verbs
 * (compromise and the like) are large and guess from suffixes, while this list is closed.
 */
import { LensError } from '../model/errors.js';

/** The paper's instruction verbs. */
export const PAPER_INSTRUCTION_VERBS: readonly string[] = Object.freeze([
  'write', 'give', 'find', 'create', 'make', 'describe', 'design', 'generate', 'classify', 'explain',
  'tell', 'identify', 'output', 'predict', 'detect', 'translate', 'summarize', 'retrieve', 'revise',
  'evaluate', 'correct', 'develop', 'analyze', 'compose', 'demonstrate', 'interpret', 'solve',
  'follow', 'clarify', 'recommend', 'estimate', 'edit', 'format', 'repeat', 'rewrite', 'list', 'convert',
]);

/** The paper's verbs plus other common task verbs and British spellings. */
export const DEFAULT_INSTRUCTION_VERBS: readonly string[] = Object.freeze([
  ...PAPER_INSTRUCTION_VERBS,
  'answer', 'provide', 'suggest', 'compare', 'contrast', 'calculate', 'compute', 'extract', 'sort',
  'reverse', 'copy', 'count', 'capitalize', 'name', 'choose', 'select', 'pick', 'check', 'determine',
  'prepare', 'plan', 'draft', 'paraphrase', 'rephrase', 'reword', 'restate', 'complete', 'fill', 'use',
  'imagine', 'pretend', 'act', 'play', 'roleplay', 'help', 'consider', 'read', 'proofread', 'add',
  'remove', 'delete', 'replace', 'insert', 'append', 'include', 'exclude', 'avoid', 'ensure', 'keep',
  'limit', 'change', 'transform', 'shorten', 'expand', 'condense', 'simplify', 'improve', 'discuss',
  'argue', 'justify', 'elaborate', 'outline', 'brainstorm', 'rank', 'rate', 'score', 'categorize',
  'organize', 'arrange', 'rearrange', 'group', 'match', 'label', 'tag', 'mark', 'highlight',
  'underline', 'define', 'illustrate', 'show', 'display', 'print', 'return', 'draw', 'sketch',
  'spell', 'punctuate', 'respond', 'reply', 'ask', 'greet', 'introduce', 'conclude', 'critique',
  'review', 'assess', 'grade', 'judge', 'verify', 'validate', 'confirm', 'prove', 'derive', 'measure',
  'approximate', 'round', 'factor', 'implement', 'code', 'program', 'debug', 'fix', 'optimize',
  'refactor', 'test', 'document', 'annotate', 'transcribe', 'encode', 'decode', 'encrypt', 'decrypt',
  'parse', 'split', 'combine', 'merge', 'join', 'filter', 'specify', 'state', 'indicate', 'mention',
  'cite', 'quote', 'recite', 'think', 'reflect', 'craft', 'build', 'construct', 'formulate', 'produce',
  'propose', 'invent', 'advise', 'teach', 'guide', 'share', 'offer', 'narrate', 'depict', 'portray',
  'emphasize', 'focus', 'research', 'search', 'locate', 'recognize', 'decide', 'apply', 'forecast',
  'begin', 'start', 'continue', 'finish', 'try', 'remember', 'speak', 'take', 'put', 'break',
  'turn', 'run', 'cut', 'retell', 'polish', 'enhance', 'debate', 'conduct', 'perform', 'calculate',
  'come', 'look', 'enter', 'notify', 'curate', 'publish', 'schedule', 'embody',
  // British spellings.
  'summarise', 'analyse', 'capitalise', 'categorise', 'organise', 'optimise', 'emphasise', 'recognise',
].filter((v, i, all) => all.indexOf(v) === i));

/**
 * The instruction-verb lexicon: the built-in verbs plus the user's (`instructionLens.instructionVerbs`,
 * CLI `--verbs FILE`), lower-cased, without repeats. One list serves detection, the heads' verb
 * pairs and Table 3, and the hover; the general verbs of Table 3 leave out whatever it holds.
 */
export function instructionLexicon(extra: readonly string[] = []): readonly string[] {
  if (!extra.length) return DEFAULT_INSTRUCTION_VERBS;
  const added = extra.map((v) => (verbForms(v), v.trim().toLowerCase())).filter((v) => !DEFAULT_INSTRUCTION_VERBS.includes(v));
  return Object.freeze([...DEFAULT_INSTRUCTION_VERBS, ...added.filter((v, i) => added.indexOf(v) === i)]);
}

/** Irregular past and past-participle forms (the -s and -ing forms stay regular). */
const IRREGULAR: Readonly<Record<string, readonly string[]>> = {
  write: ['wrote', 'written'],
  rewrite: ['rewrote', 'rewritten'],
  overwrite: ['overwrote', 'overwritten'],
  give: ['gave', 'given'],
  find: ['found'],
  make: ['made'],
  tell: ['told'],
  retell: ['retold'],
  choose: ['chose', 'chosen'],
  draw: ['drew', 'drawn'],
  read: ['read'],
  proofread: ['proofread'],
  think: ['thought'],
  teach: ['taught'],
  build: ['built'],
  show: ['showed', 'shown'],
  prove: ['proved', 'proven'],
  begin: ['began', 'begun'],
  split: ['split'],
  put: ['put'],
  cut: ['cut'],
  break: ['broke', 'broken'],
  take: ['took', 'taken'],
  say: ['said'],
  speak: ['spoke', 'spoken'],
  keep: ['kept'],
  run: ['ran', 'run'],
  spell: ['spelled', 'spelt'],
  output: ['output', 'outputted'],
  forecast: ['forecast', 'forecasted'],
  get: ['got', 'gotten'],
  do: ['did', 'done'],
  go: ['went', 'gone'],
  come: ['came', 'come'],
  see: ['saw', 'seen'],
  send: ['sent'],
  set: ['set'],
  let: ['let'],
  bring: ['brought'],
  leave: ['left'],
  understand: ['understood'],
  sing: ['sang', 'sung'],
  learn: ['learned', 'learnt'],
  quit: ['quit'],
};

/** Multi-syllable verbs whose final consonant doubles (stress on the last syllable). */
const DOUBLE_FINAL = new Set([
  'format', 'submit', 'omit', 'admit', 'commit', 'permit', 'refer', 'prefer', 'transfer', 'confer',
  'defer', 'infer', 'deter', 'control', 'compel', 'propel', 'expel', 'occur', 'recur', 'regret',
  'forget', 'begin', 'equip', 'program', 'upset', 'outfit', 'acquit', 'rebut', 'abhor', 'patrol',
]);

const VOWELS = 'aeiou';

function isVowelAt(w: string, i: number): boolean {
  const c = w[i];
  if (c === undefined) return false;
  if (c === 'u' && i > 0 && w[i - 1] === 'q') return false; // "qu" acts as a consonant
  if (c === 'y') return i > 0 && !isVowelAt(w, i - 1);
  return VOWELS.includes(c);
}

function vowelGroups(w: string): number {
  let groups = 0;
  for (let i = 0; i < w.length; i++) if (isVowelAt(w, i) && !isVowelAt(w, i - 1)) groups++;
  return groups;
}

/** Consonant-vowel-consonant ending whose last consonant doubles before -ed/-ing. */
function doublesFinal(w: string): boolean {
  if (DOUBLE_FINAL.has(w)) return true;
  const n = w.length;
  if (n < 3) return false;
  const last = w[n - 1]!;
  if ('wxy'.includes(last) || isVowelAt(w, n - 1)) return false;
  if (!isVowelAt(w, n - 2) || isVowelAt(w, n - 3)) return false;
  return vowelGroups(w) === 1;
}

/** British doubling of a final single-vowel 'l' in an unstressed syllable: label → labelled. */
function britishDoubleL(w: string): boolean {
  const n = w.length;
  return n >= 4 && w[n - 1] === 'l' && isVowelAt(w, n - 2) && !isVowelAt(w, n - 3) && vowelGroups(w) > 1 && !DOUBLE_FINAL.has(w);
}

function thirdPerson(w: string): string {
  if (/[^aeiou]y$/.test(w)) return w.slice(0, -1) + 'ies';
  if (/(s|sh|ch|x|z|o)$/.test(w)) return w + 'es';
  return w + 's';
}

function regularPast(w: string): string[] {
  if (w.endsWith('e')) return [w + 'd'];
  if (/[^aeiou]y$/.test(w)) return [w.slice(0, -1) + 'ied'];
  if (doublesFinal(w)) return [w + w[w.length - 1] + 'ed'];
  if (britishDoubleL(w)) return [w + 'ed', w + 'led'];
  return [w + 'ed'];
}

function presentParticiple(w: string): string[] {
  if (w.endsWith('ie')) return [w.slice(0, -2) + 'ying'];
  if (/(ee|oe|ye)$/.test(w) || w === 'be') return [w + 'ing'];
  if (w.endsWith('e') && w.length > 2) return [w.slice(0, -1) + 'ing'];
  if (doublesFinal(w)) return [w + w[w.length - 1] + 'ing'];
  if (britishDoubleL(w)) return [w + 'ing', w + 'ling'];
  return [w + 'ing'];
}

/**
 * The inflected forms of a verb, base first: base, -s, past (and participle), -ing.
 * `verbForms('plan')` → plan, plans, planned, planning; `verbForms('write')` → write, writes,
 * wrote, written, writing.
 */
export function verbForms(verb: string): string[] {
  const w = verb.trim().toLowerCase();
  if (!/^[a-z]+$/.test(w)) throw new LensError(`"${verb}" is not a verb made of letters a-z.`);
  const past = IRREGULAR[w] ?? regularPast(w);
  const forms = [w, thirdPerson(w), ...past, ...presentParticiple(w)];
  return forms.filter((f, i) => forms.indexOf(f) === i);
}

export interface VerbLookup {
  /** Any form → base verb (the base itself wins over another verb's inflection). */
  forms: Map<string, string>;
  bases: Set<string>;
}

const lookupCache = new WeakMap<readonly string[], VerbLookup>();

export function lookupFor(verbs: readonly string[]): VerbLookup {
  let lookup = lookupCache.get(verbs);
  if (!lookup) {
    const forms = new Map<string, string>();
    const bases = new Set<string>();
    for (const v of verbs) {
      const base = v.trim().toLowerCase();
      bases.add(base);
      forms.set(base, base);
    }
    for (const base of bases) {
      for (const f of verbForms(base)) if (!forms.has(f)) forms.set(f, base);
    }
    lookup = { forms, bases };
    lookupCache.set(verbs, lookup);
  }
  return lookup;
}

export function normalizeWord(word: string): string {
  return word.toLowerCase().replace(/\u2019/g, "'");
}

/** The base verb of the list that `word` is a form of (case-insensitive), or null. */
export function matchInstructionVerb(word: string, verbs: readonly string[] = DEFAULT_INSTRUCTION_VERBS): string | null {
  return lookupFor(verbs).forms.get(normalizeWord(word)) ?? null;
}

/** The verb when `word` is the base (imperative) form of a verb of the list, else null. */
export function imperativeVerb(word: string, lookup: VerbLookup): string | null {
  const w = normalizeWord(word);
  return lookup.bases.has(w) ? w : null;
}

