/**
 * Instruction verbs vs general verbs (the paper's Table 3): per layer group (quarters of depth)
 * and verb, the share of heads where the tuned model's head profile holds the verb more often
 * than the base model's. Reads the two models' global head results (heads.ts).
 */
import { LensError } from '../model/errors.js';
import { DEFAULT_INSTRUCTION_VERBS, matchInstructionVerb } from './instruction-lexicon.js';
import type { HeadsVerbComparison, VerbShareRow, VerbShareTable } from '../contract/report.js';
import type { GlobalHead, GlobalHeadsResult } from './heads.js';


/** Frequent general verbs with their forms (base first), the comparison group of Table 3. */
export const GENERAL_VERBS: Readonly<Record<string, readonly string[]>> = Object.freeze({
  be: ['be', 'is', 'are', 'was', 'were', 'been', 'being', 'am'],
  have: ['have', 'has', 'had', 'having'],
  do: ['do', 'does', 'did', 'done', 'doing'],
  go: ['go', 'goes', 'went', 'gone', 'going'],
  get: ['get', 'gets', 'got', 'gotten', 'getting'],
  see: ['see', 'sees', 'saw', 'seen', 'seeing'],
  come: ['come', 'comes', 'came', 'coming'],
  take: ['take', 'takes', 'took', 'taken', 'taking'],
  know: ['know', 'knows', 'knew', 'known', 'knowing'],
  think: ['think', 'thinks', 'thought', 'thinking'],
  say: ['say', 'says', 'said', 'saying'],
  look: ['look', 'looks', 'looked', 'looking'],
  want: ['want', 'wants', 'wanted', 'wanting'],
  seem: ['seem', 'seems', 'seemed', 'seeming'],
  feel: ['feel', 'feels', 'felt', 'feeling'],
  become: ['become', 'becomes', 'became', 'becoming'],
  leave: ['leave', 'leaves', 'left', 'leaving'],
  call: ['call', 'calls', 'called', 'calling'],
  need: ['need', 'needs', 'needed', 'needing'],
  mean: ['mean', 'means', 'meant', 'meaning'],
  let: ['let', 'lets', 'letting'],
  hold: ['hold', 'holds', 'held', 'holding'],
  bring: ['bring', 'brings', 'brought', 'bringing'],
  stand: ['stand', 'stands', 'stood', 'standing'],
  hear: ['hear', 'hears', 'heard', 'hearing'],
  live: ['live', 'lives', 'lived', 'living'],
  believe: ['believe', 'believes', 'believed', 'believing'],
  happen: ['happen', 'happens', 'happened', 'happening'],
  like: ['like', 'likes', 'liked', 'liking'],
  work: ['work', 'works', 'worked', 'working'],
});

const GENERAL_FORMS = new Map<string, string>(Object.entries(GENERAL_VERBS).flatMap(([base, forms]) => forms.map((f) => [f, base] as [string, string])));

/** The general verb `word` is a form of (case-insensitive), or null. */
export function matchGeneralVerb(word: string): string | null {
  return GENERAL_FORMS.get(word.toLowerCase()) ?? null;
}

function verbCounts(head: GlobalHead, match: (w: string) => string | null): Map<string, number> {
  const out = new Map<string, number>();
  for (const { word, count } of head.profile.words) {
    const verb = match(word);
    if (verb) out.set(verb, (out.get(verb) ?? 0) + count);
  }
  return out;
}

/** Table 3: per layer group and verb, the share of heads where the tuned model's count exceeds the base model's (ties ignored). */
export function compareHeadVerbs(base: GlobalHeadsResult, tuned: GlobalHeadsResult, verbs: readonly string[] = DEFAULT_INSTRUCTION_VERBS): HeadsVerbComparison {
  if (base.numLayers !== tuned.numLayers || base.numHeads !== tuned.numHeads) {
    throw new LensError(`The models differ in shape (${base.numLayers} × ${base.numHeads} vs ${tuned.numLayers} × ${tuned.numHeads} layers × heads); heads cannot be compared one to one`);
  }
  const L = base.numLayers;
  const G = Math.min(4, L);
  const groupOf = (l: number) => Math.floor((l * G) / L);
  const groups = Array.from({ length: G }, (_, g) => {
    const layers = Array.from({ length: L }, (_, l) => l).filter((l) => groupOf(l) === g);
    return { group: g, layers: [layers[0]!, layers[layers.length - 1]! + 1] as [number, number] };
  });
  const tunedLayers = new Map(tuned.layers.map((l) => [l.layer, l]));
  const overlap = Object.keys(GENERAL_VERBS).filter((v) => matchInstructionVerb(v, verbs) === v);
  const table = (match: (w: string) => string | null): VerbShareTable => {
    const rows = new Map<string, VerbShareRow>();
    const row = (verb: string) => {
      let r = rows.get(verb);
      if (!r) rows.set(verb, (r = { verb, share: [], tunedMore: new Array<number>(G).fill(0), decided: new Array<number>(G).fill(0) }));
      return r;
    };
    for (const bl of base.layers) {
      const tl = tunedLayers.get(bl.layer);
      if (!tl) continue;
      const g = groupOf(bl.layer);
      bl.heads.forEach((bh, h) => {
        const b = verbCounts(bh, match);
        const t = verbCounts(tl.heads[h]!, match);
        for (const verb of new Set([...b.keys(), ...t.keys()])) {
          const r = row(verb);
          const nb = b.get(verb) ?? 0;
          const nt = t.get(verb) ?? 0;
          if (nt !== nb) r.decided[g]!++;
          if (nt > nb) r.tunedMore[g]!++;
        }
      });
    }
    const verbs = [...rows.values()].sort((a, b) => (a.verb < b.verb ? -1 : a.verb > b.verb ? 1 : 0));
    for (const r of verbs) r.share = r.decided.map((n, g) => (n > 0 ? r.tunedMore[g]! / n : null));
    const mean = groups.map((_, g) => {
      const shares = verbs.map((r) => r.share[g]).filter((s): s is number => s !== null);
      return shares.length ? shares.reduce((a, b) => a + b, 0) / shares.length : null;
    });
    const pooled = groups.map((_, g) => {
      const decided = verbs.reduce((a, r) => a + r.decided[g]!, 0);
      return decided ? verbs.reduce((a, r) => a + r.tunedMore[g]!, 0) / decided : null;
    });
    return { verbs, mean, pooled };
  };
  return {
    groups,
    instruction: table((w) => matchInstructionVerb(w, verbs)),
    // A verb of the instruction lexicon is never a general verb as well ("take" is both in the built-in lists).
    general: table((w) => {
      const general = matchGeneralVerb(w);
      return general !== null && !overlap.includes(general) ? general : null;
    }),
    overlap,
  };
}
