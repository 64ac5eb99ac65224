// Word lists for the synthetic tokenizer.
//
// The order matters: the tokenizer builder turns words into whole tokens in list order and stops
// when the requested vocabulary is full, so the words a small vocabulary must keep whole (the
// instruction verbs the lens is about, and the commonest function words) come first.
// Every entry is letters only: the ByteLevel pre-tokenizer splits at letter/non-letter
// boundaries, so a token mixing letters with digits or punctuation could never be produced.

/** Instruction verbs with their inflections; the base form comes first in each row. */
export const INSTRUCTION_VERBS: readonly (readonly string[])[] = [
  ['write', 'writes', 'wrote', 'written', 'writing'],
  ['give', 'gives', 'gave', 'given', 'giving'],
  ['find', 'finds', 'found', 'finding'],
  ['create', 'creates', 'created', 'creating'],
  ['make', 'makes', 'made', 'making'],
  ['describe', 'describes', 'described', 'describing'],
  ['design', 'designs', 'designed', 'designing'],
  ['generate', 'generates', 'generated', 'generating'],
  ['classify', 'classifies', 'classified', 'classifying'],
  ['explain', 'explains', 'explained', 'explaining'],
  ['tell', 'tells', 'told', 'telling'],
  ['identify', 'identifies', 'identified', 'identifying'],
  ['output', 'outputs', 'outputted', 'outputting'],
  ['predict', 'predicts', 'predicted', 'predicting'],
  ['detect', 'detects', 'detected', 'detecting'],
  ['translate', 'translates', 'translated', 'translating'],
  ['summarize', 'summarizes', 'summarized', 'summarizing'],
  ['retrieve', 'retrieves', 'retrieved', 'retrieving'],
  ['revise', 'revises', 'revised', 'revising'],
  ['evaluate', 'evaluates', 'evaluated', 'evaluating'],
  ['correct', 'corrects', 'corrected', 'correcting'],
  ['develop', 'develops', 'developed', 'developing'],
  ['analyze', 'analyzes', 'analyzed', 'analyzing'],
  ['compose', 'composes', 'composed', 'composing'],
  ['demonstrate', 'demonstrates', 'demonstrated', 'demonstrating'],
  ['interpret', 'interprets', 'interpreted', 'interpreting'],
  ['solve', 'solves', 'solved', 'solving'],
  ['follow', 'follows', 'followed', 'following'],
  ['clarify', 'clarifies', 'clarified', 'clarifying'],
  ['recommend', 'recommends', 'recommended', 'recommending'],
  ['estimate', 'estimates', 'estimated', 'estimating'],
  ['edit', 'edits', 'edited', 'editing'],
  ['format', 'formats', 'formatted', 'formatting'],
  ['repeat', 'repeats', 'repeated', 'repeating'],
  ['rewrite', 'rewrites', 'rewrote', 'rewritten', 'rewriting'],
  ['list', 'lists', 'listed', 'listing'],
  ['convert', 'converts', 'converted', 'converting'],
  ['reverse', 'reverses', 'reversed', 'reversing'],
  ['sort', 'sorts', 'sorted', 'sorting'],
  ['copy', 'copies', 'copied', 'copying'],
  ['count', 'counts', 'counted', 'counting'],
  ['capitalize', 'capitalizes', 'capitalized', 'capitalizing'],
];

/** The most frequent English words, roughly by frequency; the first ones matter most. */
export const COMMON_WORDS: readonly string[] = `
the of and to a in is that for it as was with be by on not he I this are or his from at which
but have an they you were her she there one all we their has been if more when will would who
so no what can about out up into do than other some them only its time new these may like my
two first any then its how our also did over such many most me said made should very just year
could people way after where well because through each before must much those even back here
know between good make day us get say still both under life see world take own while down work
why now go long same great last might being another use never come found few again man old
part used place your without since great against right three think small thing during often
number help every around however always home something need point give want things look end
house high next name too hand far best both less large off better different water show around
word small little world large often night group until really began open order become let
public read left seem turn start own young form change both war play move head live real
keep point five city early fact mean nothing idea local room question answer sentence
paragraph text story poem letter email essay summary title list code function program example
input response instruction task words language English French Spanish German number numbers
data table file article review topic content message user assistant system format style tone
short brief simple clear main key important following given below above using based into
each item items step steps reason reasons way ways word letters order alphabetical please
new best possible single whole full true false yes none every several following sentences
`.trim().split(/\s+/);

/**
 * Consonants and vowels for filler pseudo-words ("zorbak"), which pad the vocabulary to the
 * requested size: they look like text, decode to text, and carry no meaning a test could mistake
 * for a real word's.
 */
export const FILLER_ONSETS: readonly string[] = ['b', 'd', 'f', 'g', 'k', 'l', 'm', 'n', 'p', 'r', 's', 't', 'v', 'z', 'br', 'dr', 'kr', 'pl', 'st', 'tr', 'sh', 'zh'];
export const FILLER_VOWELS: readonly string[] = ['a', 'e', 'i', 'o', 'u', 'ai', 'ou'];
export const FILLER_CODAS: readonly string[] = ['', 'n', 'r', 'k', 's', 'x', 'm'];

function capitalize(word: string): string {
  return word.charAt(0).toUpperCase() + word.slice(1);
}

/**
 * The real words in the order the tokenizer should learn them. Each appears as a word-initial
 * token ("Ġwrite", what follows a space) and bare ("write", what starts a text); the verbs also
 * capitalized, because instructions usually start with one ("Write a poem").
 */
export function orderedWords(): string[] {
  const seen = new Set<string>();
  const out: string[] = [];
  const add = (w: string) => {
    if (!seen.has(w)) {
      seen.add(w);
      out.push(w);
    }
  };
  const spaced = (w: string) => ' ' + w;
  const baseVerbs = INSTRUCTION_VERBS.map((row) => row[0]!);
  const topWords = COMMON_WORDS.slice(0, 40);

  // 1. What even a tiny vocabulary keeps: verb base forms and the top function words.
  for (let i = 0; i < Math.max(baseVerbs.length, topWords.length); i++) {
    if (i < baseVerbs.length) {
      add(spaced(baseVerbs[i]!));
      add(capitalize(baseVerbs[i]!));
    }
    if (i < topWords.length) add(spaced(topWords[i]!));
  }
  // 2. Inflections, then the remaining common words, then the bare/capitalized variants.
  for (const row of INSTRUCTION_VERBS) for (const w of row) add(spaced(w));
  for (const w of COMMON_WORDS) add(spaced(w));
  for (const row of INSTRUCTION_VERBS) for (const w of row) add(w);
  for (const w of COMMON_WORDS) add(w);
  for (const row of INSTRUCTION_VERBS) for (const w of row) add(spaced(capitalize(w)));
  for (const w of COMMON_WORDS) add(capitalize(w));
  return out;
}

/**
 * An endless, deterministic stream of pronounceable pseudo-words, alternating word-initial and
 * bare forms. Multiplying the index by a constant coprime to the space size walks the syllable
 * space in a scattered order, so consecutive fillers do not all share a prefix.
 */
export function* fillerWords(): Generator<string> {
  const syllables: string[] = [];
  for (const o of FILLER_ONSETS) for (const v of FILLER_VOWELS) for (const c of FILLER_CODAS) syllables.push(o + v + c);
  const n = syllables.length;
  const space = n * n * n; // three-syllable words
  const stride = 1_000_003; // prime, larger than any syllable space here, hence coprime to it
  for (let i = 0; ; i++) {
    const k = (i * stride) % space;
    const word = syllables[k % n]! + syllables[Math.floor(k / n) % n]! + syllables[Math.floor(k / (n * n))]!;
    yield ' ' + word;
    yield word;
    if (i + 1 >= space) return;
  }
}
