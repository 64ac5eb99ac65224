// Reading the report's optional `heads` and `ffn` sections (src/explain/report.ts types them as
// `unknown` until the head and FFN analyses land in the report). The panel, the hover and the
// summary read them only through these functions, so a change of the sections' shape is mended
// here alone. Anything that does not match is reported as unreadable — never guessed at.
//
// heads: { base?: M, tuned?: M, groups?: GroupRow[] | comparison?: HeadsVerbComparison }
//   M, either flat:   { layers, heads, perHead: [{ layer, head, pairs: [{ query, key, similarity }], verbPairs? }],
//                       verbLinks?: [{ layer, head, verb, word (text, or an index into local.words), weight }],
//                       local?: { words: [{ text }] } }                   (src/explain/report.ts's ModelHeadsSection)
//   or as src/explain/heads.ts computes it: { global: GlobalHeadsResult, local?: LocalHeadsResult }
//                     (or a GlobalHeadsResult itself: { numLayers, numHeads, layers: [{ layer, heads: [{ head, dims, profile }] }] })
//   GroupRow = { group, word, kind: 'instruction' | 'general', share }: the share of heads in a layer
//   group where the tuned model's count of the word exceeds the base model's (the paper's Table 3).
// ffn: { base?: F, tuned?: F, rotation?: [{ layer, cosine | meanBestMatch | meanCosine }] }
//   F = { layers: [{ layer, components: [{ index, explained | varianceRatio, words }] }],
//         active?: [{ layer, component | index, score | usage }],        // the prompt's most used components
//         local?: { layers: [{ layer, components: [same as active] }] } } // per layer (preferred when present)
//   (or { global: GlobalFfnResult, local?: LocalFfnResult } as src/explain/ffn.ts computes them)
// Rotation: the mean best-match cosine between base and tuned components when given (1 = unchanged),
// else the mean cosine of the principal angles.

import { matchInstructionVerb } from '../explain/instruction-lexicon.js';
import type { ModelRole } from '../contract/panel.js';

export interface WordPair {
  query: string;
  key: string;
  score: number;
}

export interface HeadView {
  layer: number;
  head: number;
  pairs: WordPair[];
  /** Pairs with an instruction verb on either side. */
  verbPairs: number;
}

export interface VerbLink {
  layer: number;
  head: number;
  verb: string;
  word: string;
  weight: number;
}

export interface HeadsModelView {
  layers: number;
  heads: number;
  perHead: HeadView[];
  verbLinks: VerbLink[];
}

export interface GroupRow {
  group: string;
  word: string;
  kind: 'instruction' | 'general';
  share: number;
}

export interface HeadsView {
  models: Partial<Record<ModelRole, HeadsModelView>>;
  groups: GroupRow[];
}

export interface Concept {
  index: number;
  explained: number;
  words: string[];
}

export interface FfnLayerView {
  layer: number;
  components: Concept[];
}

export interface ActiveConcept {
  layer: number;
  component: number;
  score: number;
}

export interface FfnModelView {
  layers: FfnLayerView[];
  active: ActiveConcept[];
}

export interface RotationRow {
  layer: number;
  cosine: number;
}

export interface FfnView {
  models: Partial<Record<ModelRole, FfnModelView>>;
  rotation: RotationRow[];
}

export type SectionRead<T> = { ok: true; view: T } | { ok: false; error: string };

class Unreadable extends Error {}

type Obj = Record<string, unknown>;
const isObj = (x: unknown): x is Obj => typeof x === 'object' && x !== null && !Array.isArray(x);

function obj(x: unknown, where: string): Obj {
  if (!isObj(x)) throw new Unreadable(`${where} is not an object`);
  return x;
}
function arr(x: unknown, where: string): unknown[] {
  if (!Array.isArray(x)) throw new Unreadable(`${where} is not a list`);
  return x;
}
function num(x: unknown, where: string): number {
  if (typeof x !== 'number' || !Number.isFinite(x)) throw new Unreadable(`${where} is not a number`);
  return x;
}
function int(x: unknown, where: string): number {
  const v = num(x, where);
  if (!Number.isSafeInteger(v) || v < 0) throw new Unreadable(`${where} is not a count`);
  return v;
}
function str(x: unknown, where: string): string {
  if (typeof x !== 'string') throw new Unreadable(`${where} is not text`);
  return x;
}
function pick(o: Obj, names: readonly string[]): unknown {
  for (const n of names) if (o[n] !== undefined) return o[n];
  return undefined;
}

function isVerb(word: string, verbs?: readonly string[]): boolean {
  return /^[\p{L}'’]+$/u.test(word) && matchInstructionVerb(word, verbs) !== null;
}

function readPair(p: unknown, where: string): WordPair {
  const po = obj(p, where);
  return { query: str(po.query, `${where}.query`), key: str(po.key, `${where}.key`), score: num(pick(po, ['similarity', 'score', 's', 'dims']) ?? 0, `${where}.similarity`) };
}

function countVerbPairs(pairs: readonly WordPair[], verbs?: readonly string[]): number {
  return pairs.filter((p) => isVerb(p.query, verbs) || isVerb(p.key, verbs)).length;
}

/** The flat form: perHead. */
function readFlatHeads(o: Obj, where: string, verbs?: readonly string[]): Omit<HeadsModelView, 'verbLinks'> {
  const layers = int(o.layers, `${where}.layers`);
  const heads = int(o.heads, `${where}.heads`);
  const perHead = arr(o.perHead, `${where}.perHead`).map((h, k): HeadView => {
    const w = `${where}.perHead[${k}]`;
    const ho = obj(h, w);
    const pairs = arr(ho.pairs ?? [], `${w}.pairs`).map((p, i) => readPair(p, `${w}.pairs[${i}]`));
    const layer = int(ho.layer, `${w}.layer`);
    const head = int(ho.head, `${w}.head`);
    if (layer >= layers || head >= heads) throw new Unreadable(`${w} names layer ${layer}, head ${head}, outside ${layers} × ${heads}`);
    return { layer, head, pairs, verbPairs: ho.verbPairs === undefined ? countVerbPairs(pairs, verbs) : int(ho.verbPairs, `${w}.verbPairs`) };
  });
  return { layers, heads, perHead };
}

/**
 * src/explain/heads.ts's global result: per layer and head, its dimensions' pairs. A head's pairs
 * are those of all its dimensions (strongest similarity first, each pair once).
 */
function readGlobalHeads(o: Obj, where: string, verbs?: readonly string[]): Omit<HeadsModelView, 'verbLinks'> {
  const heads = int(o.numHeads, `${where}.numHeads`);
  const perHead: HeadView[] = [];
  let layers = o.numLayers === undefined ? 0 : int(o.numLayers, `${where}.numLayers`);
  arr(o.layers, `${where}.layers`).forEach((l, k) => {
    const lw = `${where}.layers[${k}]`;
    const lo = obj(l, lw);
    const layer = int(lo.layer, `${lw}.layer`);
    layers = Math.max(layers, layer + 1);
    arr(lo.heads, `${lw}.heads`).forEach((h, j) => {
      const hw = `${lw}.heads[${j}]`;
      const ho = obj(h, hw);
      const seen = new Set<string>();
      const pairs: WordPair[] = [];
      arr(ho.dims ?? [], `${hw}.dims`).forEach((d, i) => {
        const dw = `${hw}.dims[${i}]`;
        for (const [n, p] of arr(obj(d, dw).pairs ?? [], `${dw}.pairs`).entries()) {
          const pair = readPair(p, `${dw}.pairs[${n}]`);
          const id = `${pair.query}\u0000${pair.key}`;
          if (!seen.has(id)) {
            seen.add(id);
            pairs.push(pair);
          }
        }
      });
      pairs.sort((x, y) => y.score - x.score);
      perHead.push({ layer, head: int(ho.head, `${hw}.head`), pairs, verbPairs: countVerbPairs(pairs, verbs) });
    });
  });
  return { layers, heads, perHead };
}

/** Verb links of the local analysis: word indices into its `words` (or words already as text). */
function readVerbLinks(x: unknown, words: unknown, where: string): VerbLink[] {
  const texts = words === undefined ? null : arr(words, `${where}.words`).map((w, k) => str(isObj(w) ? w.text : w, `${where}.words[${k}]`));
  const wordText = (v: unknown, w: string) => {
    if (typeof v === 'string') return v;
    const i = int(v, w);
    if (!texts || i >= texts.length) throw new Unreadable(`${w} is no word of the prompt`);
    return texts[i]!;
  };
  return arr(x ?? [], `${where}.verbLinks`).map((v, k): VerbLink => {
    const w = `${where}.verbLinks[${k}]`;
    const vo = obj(v, w);
    return { layer: int(vo.layer, `${w}.layer`), head: int(vo.head, `${w}.head`), verb: str(vo.verb, `${w}.verb`), word: wordText(vo.word, `${w}.word`), weight: num(vo.weight ?? 0, `${w}.weight`) };
  });
}

function readHeadsModel(x: unknown, where: string, verbs?: readonly string[]): HeadsModelView {
  const o = obj(x, where);
  const globalWhere = o.global !== undefined ? `${where}.global` : where;
  const g = o.global !== undefined ? obj(o.global, globalWhere) : o;
  const shape = g.perHead !== undefined ? readFlatHeads(g, globalWhere, verbs) : readGlobalHeads(g, globalWhere, verbs);
  const local = o.local !== undefined ? obj(o.local, `${where}.local`) : null;
  const verbLinks = o.verbLinks !== undefined ? readVerbLinks(o.verbLinks, local?.words, where) : readVerbLinks(local?.verbLinks, local?.words, `${where}.local`);
  return { ...shape, verbLinks };
}

/** src/explain/heads.ts's comparison (HeadsVerbComparison) as rows: per layer group and verb, its share. */
function readComparison(x: unknown): GroupRow[] {
  const o = obj(x, 'heads.comparison');
  const groups = arr(o.groups, 'heads.comparison.groups').map((g, k) => {
    const go = obj(g, `heads.comparison.groups[${k}]`);
    const layers = go.layers === undefined ? null : arr(go.layers, `heads.comparison.groups[${k}].layers`).map((v, i) => int(v, `heads.comparison.groups[${k}].layers[${i}]`));
    return layers && layers.length === 2 ? `layers ${layers[0]}–${layers[1]}` : `group ${int(go.group ?? k, `heads.comparison.groups[${k}].group`) + 1}`;
  });
  const rows: GroupRow[] = [];
  for (const kind of ['instruction', 'general'] as const) {
    if (o[kind] === undefined) continue;
    const table = obj(o[kind], `heads.comparison.${kind}`);
    arr(table.verbs, `heads.comparison.${kind}.verbs`).forEach((v, k) => {
      const vw = `heads.comparison.${kind}.verbs[${k}]`;
      const vo = obj(v, vw);
      arr(vo.share, `${vw}.share`).forEach((share, g) => {
        if (share !== null && groups[g] !== undefined) rows.push({ group: groups[g]!, word: str(vo.verb, `${vw}.verb`), kind, share: num(share, `${vw}.share[${g}]`) });
      });
    });
  }
  return rows;
}

function readRoles<T>(o: Obj, where: string, read: (x: unknown, where: string) => T): Partial<Record<ModelRole, T>> {
  const models: Partial<Record<ModelRole, T>> = {};
  for (const role of ['base', 'tuned'] as const) if (o[role] !== undefined) models[role] = read(o[role], `${where}.${role}`);
  if (!models.base && !models.tuned) throw new Unreadable(`${where} has neither a base nor a tuned part`);
  return models;
}

function attempt<T>(read: () => T): SectionRead<T> {
  try {
    return { ok: true, view: read() };
  } catch (e) {
    if (e instanceof Unreadable) return { ok: false, error: e.message };
    throw e;
  }
}

/** The heads section as the panel shows it; `verbs` is the instruction-verb list (default list when absent). */
export function readHeads(section: unknown, verbs?: readonly string[]): SectionRead<HeadsView> {
  return attempt(() => {
    const o = obj(section, 'heads');
    const models = readRoles(o, 'heads', (x, w) => readHeadsModel(x, w, verbs));
    const groups =
      o.comparison !== undefined
        ? readComparison(o.comparison)
        : arr(o.groups ?? [], 'heads.groups').map((g, k): GroupRow => {
            const go = obj(g, `heads.groups[${k}]`);
            const kind = go.kind === 'general' ? 'general' : 'instruction';
            return { group: str(go.group, `heads.groups[${k}].group`), word: str(go.word, `heads.groups[${k}].word`), kind, share: num(go.share, `heads.groups[${k}].share`) };
          });
    return { models, groups };
  });
}

function readFfnModel(x: unknown, where: string): FfnModelView {
  const o = obj(x, where);
  const globalWhere = o.global !== undefined ? `${where}.global` : where;
  const g = o.global !== undefined ? obj(o.global, globalWhere) : o;
  const layers = arr(g.layers, `${globalWhere}.layers`).map((l, k): FfnLayerView => {
    const w = `${globalWhere}.layers[${k}]`;
    const lo = obj(l, w);
    const components = arr(lo.components, `${w}.components`).map((c, i): Concept => {
      const cw = `${w}.components[${i}]`;
      const co = obj(c, cw);
      return {
        index: co.index === undefined ? i : int(co.index, `${cw}.index`),
        explained: num(pick(co, ['explained', 'varianceRatio', 'explainedVariance', 'ratio']) ?? 0, `${cw}.explained`),
        words: arr(pick(co, ['words', 'concepts']), `${cw}.words`).map((s, j) => str(isObj(s) ? s.word : s, `${cw}.words[${j}]`)),
      };
    });
    return { layer: lo.layer === undefined ? k : int(lo.layer, `${w}.layer`), components };
  });
  const active: ActiveConcept[] = [];
  if (o.local !== undefined) {
    const lo = obj(o.local, `${where}.local`);
    arr(lo.layers, `${where}.local.layers`).forEach((l, k) => {
      const lw = `${where}.local.layers[${k}]`;
      const layerObj = obj(l, lw);
      arr(layerObj.components, `${lw}.components`).forEach((c, i) => {
        const co = obj(c, `${lw}.components[${i}]`);
        const cw = `${lw}.components[${i}]`;
        active.push({ layer: int(co.layer ?? layerObj.layer, `${cw}.layer`), component: int(pick(co, ['component', 'index']), `${cw}.component`), score: num(pick(co, ['score', 'usage']), `${cw}.score`) });
      });
    });
  } else {
    arr(o.active ?? [], `${where}.active`).forEach((a, k) => {
      const ao = obj(a, `${where}.active[${k}]`);
      active.push({ layer: int(ao.layer, `${where}.active[${k}].layer`), component: int(pick(ao, ['component', 'index']), `${where}.active[${k}].component`), score: num(pick(ao, ['score', 'usage']), `${where}.active[${k}].score`) });
    });
  }
  return { layers, active };
}

/** The FFN section as the panel shows it. */
export function readFfn(section: unknown): SectionRead<FfnView> {
  return attempt(() => {
    const o = obj(section, 'ffn');
    const models = readRoles(o, 'ffn', readFfnModel);
    const rotation = arr(o.rotation ?? [], 'ffn.rotation').map((r, k): RotationRow => {
      const ro = obj(r, `ffn.rotation[${k}]`);
      return { layer: int(ro.layer, `ffn.rotation[${k}].layer`), cosine: num(pick(ro, ['cosine', 'meanBestMatch', 'meanCosine']), `ffn.rotation[${k}].cosine`) };
    });
    return { models, rotation };
  });
}

/** Heads of a model that link `verb` (its base form) to other words on the prompt, strongest first. */
export function headsLinkingVerb(view: HeadsModelView, verb: string, verbs?: readonly string[]): VerbLink[] {
  return view.verbLinks.filter((l) => l.verb === verb || matchInstructionVerb(l.verb, verbs) === verb).sort((a, b) => b.weight - a.weight);
}

/** Heads whose global word pairs include `verb` (any inflection). */
export function headsWithVerbPairs(view: HeadsModelView, verb: string, verbs?: readonly string[]): number {
  const is = (w: string) => /^[\p{L}'’]+$/u.test(w) && matchInstructionVerb(w, verbs) === verb;
  return view.perHead.filter((h) => h.pairs.some((p) => is(p.query) || is(p.key))).length;
}
