// The demo's small world: its words, the instruction tasks over them, the prompt format, the
// held-out split, and the generators of the two training sets (plain text for the base model,
// instruction → response pairs for the tuned one). Everything is a function of a seed.

import { Rng, deriveSeed } from './random.js';

export const COLOURS = ['red', 'blue', 'green', 'yellow', 'black', 'white', 'brown', 'pink', 'grey', 'purple'] as const;
export const ANIMALS = ['cat', 'dog', 'bird', 'fish', 'cow', 'horse', 'duck', 'frog', 'fox', 'bear', 'goat', 'mouse'] as const;
export const OBJECTS = ['cup', 'box', 'hat', 'ball', 'book', 'key', 'lamp', 'shoe', 'bell', 'coat', 'bag', 'chair'] as const;
/** The words task inputs are made of. */
export const ITEMS: readonly string[] = [...COLOURS, ...ANIMALS, ...OBJECTS];

/** The built-in lexicon of the translate task (French, without accents). */
export const FRENCH: Readonly<Record<string, string>> = {
  red: 'rouge', blue: 'bleu', green: 'vert', yellow: 'jaune', black: 'noir', white: 'blanc', brown: 'brun', pink: 'rose', grey: 'gris', purple: 'violet',
  cat: 'chat', dog: 'chien', bird: 'oiseau', fish: 'poisson', cow: 'vache', horse: 'cheval', duck: 'canard', frog: 'grenouille', fox: 'renard', bear: 'ours', goat: 'chevre', mouse: 'souris',
  cup: 'tasse', box: 'boite', hat: 'chapeau', ball: 'balle', book: 'livre', key: 'cle', lamp: 'lampe', shoe: 'chaussure', bell: 'cloche', coat: 'manteau', bag: 'sac', chair: 'chaise',
};

export const NUMBERS = ['zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine', 'ten'] as const;

const PLURAL: Readonly<Record<string, string>> = { fish: 'fish', mouse: 'mice', fox: 'foxes', box: 'boxes' };
export const plural = (w: string): string => PLURAL[w] ?? `${w}s`;
export const capitalize = (w: string): string => w.charAt(0).toUpperCase() + w.slice(1);

// --- tasks

export const TASKS = ['copy', 'reverse', 'sort', 'count', 'capitalize', 'translate'] as const;
export type Task = (typeof TASKS)[number];

/** The instruction verb of each task, as it starts the prompt. */
export const TASK_VERBS: Readonly<Record<Task, string>> = {
  copy: 'Copy', reverse: 'Reverse', sort: 'Sort', count: 'Count', capitalize: 'Capitalize', translate: 'Translate',
};

/** List lengths of task inputs. */
export const MIN_ITEMS = 3;
export const MAX_ITEMS = 5;

export function taskAnswer(task: Task, words: readonly string[]): string[] {
  switch (task) {
    case 'copy':
      return [...words];
    case 'reverse':
      return [...words].reverse();
    case 'sort':
      return [...words].sort();
    case 'count':
      return [NUMBERS[words.length]!];
    case 'capitalize':
      return words.map(capitalize);
    case 'translate':
      return words.map((w) => FRENCH[w]!);
  }
}

/**
 * The prompt format, the same text for both models (the paper's "raw" setting): the input, then
 * the instruction, as in "Here is a text. Summarize it:".
 *
 *   The words: red horse shoe key.
 *   Reverse:
 */
export function taskPrompt(task: Task, words: readonly string[]): string {
  return `The words: ${words.join(' ')}.\n${TASK_VERBS[task]}:`;
}

/** How the tuned model's answers begin: it names what it did, as assistant models restate the task. */
export const TASK_DONE: Readonly<Record<Task, string>> = {
  copy: 'Copied', reverse: 'Reversed', sort: 'Sorted', count: 'Counted', capitalize: 'Capitalized', translate: 'Translated',
};

/** The response the tuned model is trained to give (it then ends with end-of-text): " Reversed: key shoe horse red". */
export function taskResponse(task: Task, words: readonly string[]): string {
  return ` ${TASK_DONE[task]}: ${taskAnswer(task, words).join(' ')}`;
}

/** The instruction of a prompt ("Reverse:"), as a UTF-16 span: from the verb to the next '.' or ':'. */
export function instructionSpan(prompt: string): { start: number; end: number } {
  const verbs = Object.values(TASK_VERBS);
  const match = new RegExp(`(?:^|\\n)((?:${verbs.join('|')})\\b[^.:\\n]*[.:])`).exec(prompt);
  if (!match) throw new Error(`not a demo prompt: ${JSON.stringify(prompt)}`);
  const start = match.index + match[0].length - match[1]!.length;
  return { start, end: start + match[1]!.length };
}

// --- the held-out split: a set of words (in any order, with any verb) is either training or held out

/** The canonical key of a set of words: sorted, space-joined. */
export const setKey = (words: readonly string[]): string => [...words].sort().join(' ');

/** One set of 3–5 words in eight (by a hash of the sorted words) is held out: no training text ever lists it. */
export function isHeldOut(words: readonly string[]): boolean {
  if (words.length < MIN_ITEMS || words.length > MAX_ITEMS) return false;
  return deriveSeed(0x5eed, setKey(words)) % 8 === 0;
}

/** A list of distinct items of the requested split. */
export function drawList(rng: Rng, pool: readonly string[], count: number, split: 'train' | 'heldout'): string[] {
  for (;;) {
    const words = rng.sample(pool, count);
    if (isHeldOut(words) === (split === 'heldout')) return words;
  }
}

export interface TaskExample {
  task: Task;
  words: string[];
  prompt: string;
  response: string;
}

export function taskExample(task: Task, words: string[]): TaskExample {
  return { task, words, prompt: taskPrompt(task, words), response: taskResponse(task, words) };
}

/**
 * Instruction-tuning examples: each training list appears with two or three different verbs, so
 * the verb is what decides the answer.
 */
export function tuningExamples(seed: number, count: number): TaskExample[] {
  const rng = new Rng(deriveSeed(seed, 'tuning'));
  const out: TaskExample[] = [];
  while (out.length < count) {
    const words = drawList(rng, ITEMS, MIN_ITEMS + rng.int(MAX_ITEMS - MIN_ITEMS + 1), 'train');
    const tasks = rng.sample(TASKS, 2 + rng.int(2));
    for (const task of tasks) if (out.length < count) out.push(taskExample(task, words));
  }
  return out;
}

/**
 * Held-out evaluation prompts: `inputs` held-out lists, each with every task's verb (the same
 * input under six instructions).
 */
export function evaluationExamples(seed: number, inputs: number): TaskExample[] {
  const rng = new Rng(deriveSeed(seed, 'evaluation'));
  const seen = new Set<string>();
  const out: TaskExample[] = [];
  while (seen.size < inputs) {
    const words = drawList(rng, ITEMS, MIN_ITEMS + rng.int(MAX_ITEMS - MIN_ITEMS + 1), 'heldout');
    if (seen.has(setKey(words))) continue;
    seen.add(setKey(words));
    for (const task of TASKS) out.push(taskExample(task, words));
  }
  return out;
}

// --- the base corpus: plain text about the world, never an instruction

const NAMES = ['Tom', 'Mia', 'Sam', 'Ana', 'Leo', 'Ben', 'Eva', 'Max', 'Zoe', 'Kim', 'Lily', 'Jack'];
const PLACES = ['yard', 'house', 'room', 'garden', 'shop', 'park', 'farm', 'kitchen', 'school', 'street'];
const RESTING = ['sits', 'sleeps', 'plays', 'stands', 'waits'];
const HANDLING = ['sees', 'finds', 'likes', 'takes', 'wants', 'holds', 'buys', 'loses'];
const FEELINGS = ['happy', 'sad', 'tired', 'hungry', 'small', 'big', 'old', 'young'];

function joinAnd(items: readonly string[]): string {
  return items.length === 1 ? items[0]! : `${items.slice(0, -1).join(', ')} and ${items[items.length - 1]}`;
}

function withArticle(phrase: string): string {
  return (/^[aeiou]/.test(phrase) ? 'an ' : 'a ') + phrase;
}

/** What a sentence template draws from: the generator, the document's character, and lists of 2..5 training-split items. */
interface SentenceContext {
  rng: Rng;
  name: string;
  list(pool: readonly string[]): string[];
}

type Sentences = (c: SentenceContext) => string[];

const CATEGORIES: [string, readonly string[]][] = [
  ['colours', COLOURS],
  ['animals', ANIMALS],
  ['things', OBJECTS],
  ['words', ITEMS],
];

const SENTENCES: Sentences[] = [
  // a scene
  ({ rng: r, name: n }) => [`${n} has ${withArticle(`${r.pick(COLOURS)} ${r.pick(ANIMALS)}`)}.`, `The ${r.pick(ANIMALS)} ${r.pick(RESTING)} on the ${r.pick(OBJECTS)}.`],
  ({ rng: r, name: n }) => [`${n} ${r.pick(HANDLING)} the ${r.pick(COLOURS)} ${r.pick(OBJECTS)} in the ${r.pick(PLACES)}.`],
  ({ rng: r, name: n }) => [`${n} gives the ${r.pick(OBJECTS)} to ${r.pick(NAMES)}.`, `${r.pick(NAMES)} is ${r.pick(FEELINGS)}.`],
  ({ rng: r }) => [`The ${r.pick(COLOURS)} ${r.pick(ANIMALS)} ${r.pick(RESTING)} in the ${r.pick(PLACES)}.`],
  ({ rng: r }) => {
    const k = 2 + r.int(8);
    return [`There are ${NUMBERS[k]} ${r.pick(COLOURS)} ${plural(r.pick([...ANIMALS, ...OBJECTS]))} in the ${r.pick(PLACES)}.`];
  },
  ({ rng: r }) => {
    const c = r.pick(COLOURS);
    return [`The ${r.pick(OBJECTS)} is ${c}.`, `${capitalize(c)} is a colour.`];
  },
  ({ rng: r }) => [`${capitalize(plural(r.pick(ANIMALS)))} like the ${r.pick(PLACES)}.`, `A ${r.pick(ANIMALS)} is an animal.`],
  // inventories: a list and its size
  ({ rng: r, name: n, list }) => {
    const things = list(OBJECTS);
    return [`${n} has ${NUMBERS[things.length]} things: ${joinAnd(things.map((t) => withArticle(`${r.pick(COLOURS)} ${t}`)))}.`];
  },
  // counting
  ({ rng: r, name: n, list }) => {
    const [category, pool] = r.pick(CATEGORIES);
    const words = list(pool);
    const counted = words.map((_, i) => NUMBERS[i + 1]!).join(', ');
    return [`${n} counts the ${category}: ${joinAnd(words)}.`, `${capitalize(counted)}.`, `There are ${NUMBERS[words.length]} ${category}.`];
  },
  // sorting
  ({ rng: r, name: n, list }) => {
    const words = list(r.pick(CATEGORIES)[1]);
    return [`${n} sorts the words ${joinAnd(words)}.`, `In alphabetical order they are ${[...words].sort().join(', ')}.`];
  },
  // reversing
  ({ rng: r, name: n, list }) => {
    const words = list(r.pick(CATEGORIES)[1]);
    return [`${n} reads the words ${words.join(', ')}.`, `In reverse order they are ${[...words].reverse().join(', ')}.`];
  },
  // copying
  ({ rng: r, name: n, list }) => {
    const words = list(r.pick(CATEGORIES)[1]);
    return [`${n} writes the words ${words.join(', ')}.`, `${r.pick(NAMES)} copies them: ${words.join(', ')}.`];
  },
  // the lexicon
  ({ rng: r }) => {
    const w = r.pick(ITEMS);
    return [r.int(2) ? `In French, ${w} is ${FRENCH[w]}.` : `The French word for ${w} is ${FRENCH[w]}.`];
  },
  ({ rng: r, name: n, list }) => {
    const words = list(r.pick(CATEGORIES)[1]);
    return [`${n} translates the words ${words.join(', ')} into French.`, `In French they are ${words.map((w) => FRENCH[w]).join(', ')}.`];
  },
  // capital letters
  ({ rng: r }) => {
    const w = r.pick(ITEMS);
    return [`The word ${w} with a capital letter is ${capitalize(w)}.`];
  },
  ({ rng: r, name: n, list }) => {
    const words = list(r.pick(CATEGORIES)[1]);
    return [`${n} capitalizes the words ${words.join(', ')}.`, `With capital letters they are ${words.map(capitalize).join(', ')}.`];
  },
  // questions and answers in prose
  ({ name: n, list }) => {
    const animals = list(ANIMALS);
    return [`${n} asks how many animals are on the farm.`, `The answer is ${NUMBERS[animals.length]}: ${joinAnd(animals.map((a) => withArticle(a)))}.`];
  },
  // the same, told in the past tense (the words the tuned model's answers start with)
  ({ rng: r, name: n, list }) => {
    const task = r.pick(TASKS);
    const words = list(r.pick(CATEGORIES)[1]);
    const done = TASK_DONE[task];
    return [`${n} ${done.toLowerCase()} the words ${joinAnd(words)}.`, `${done}, they are ${taskAnswer(task, words).join(', ')}.`];
  },
  // the task verbs as words
  ({ rng: r }) => {
    const verbs = r.sample(['reverse', 'sort', 'copy', 'count', 'capitalize', 'translate'], 2);
    return [`${capitalize(verbs[0]!)} and ${verbs[1]} are words.`];
  },
];

/**
 * One base-corpus document: a few sentences about one character, sometimes a title line. Every
 * list of items it draws is passed to `record` (the held-out test checks them).
 */
export function corpusDocument(rng: Rng, record?: (words: string[]) => void): string {
  const name = rng.pick(NAMES);
  const list = (pool: readonly string[]) => {
    const words = drawList(rng, pool, 2 + rng.int(4), 'train');
    record?.(words);
    return words;
  };
  const sentences: string[] = [];
  const count = 2 + rng.int(4);
  for (let i = 0; i < count; i++) sentences.push(...rng.pick(SENTENCES)({ rng, name, list }));
  const text = sentences.join(' ');
  // A third of the documents start with a title line, such as "Tom and the cat".
  if (rng.int(3) === 0) return `${name} and the ${rng.pick([...ANIMALS, ...OBJECTS])}\n${text}`;
  return text;
}

export function corpusDocuments(seed: number, count: number, record?: (words: string[]) => void): string[] {
  const rng = new Rng(deriveSeed(seed, 'corpus'));
  return Array.from({ length: count }, () => corpusDocument(rng, record));
}
