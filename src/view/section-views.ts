// What the panel, the Summary and the hover show of the report's `heads` and `ffn` sections,
// derived from the contract's types (src/contract/report.ts). A report reaches them only after
// passing docs/report.schema.json at the engine boundary (src/engine/report-validation.ts), so
// nothing here checks or guesses at fields.
//
// Heads: per head its recurring word pairs (score = the pair's similarity) and how many of them hold
// an instruction verb; on this prompt, the pairs linking an instruction verb to another word; the
// paper's Table 3 as rows (the share of heads in a layer group where the tuned model's count of the
// word exceeds the base model's).
// FFN: per layer its components (explained = the variance ratio) with their concept words; the
// components this prompt uses per layer; per layer the rotation, as the mean best-match cosine
// between base and tuned components (1 = unchanged).

import { matchInstructionVerb } from '../explain/instruction-lexicon.js';
import type { FfnSection, HeadsSection, ModelFfnSection, ModelHeadsSection } from '../contract/report.js';
import type { ModelRole } from '../contract/panel.js';

export interface WordPair {
  query: string;
  key: string;
  score: number;
  /** In how many of the head's analysed dimensions the pair occurs. */
  dims: number;
}

export interface HeadView {
  layer: number;
  head: number;
  /** The head's recurring pairs the report keeps (the first of them), most dimensions first, then strongest. */
  pairs: WordPair[];
  /** How many recurring pairs the head has in all (more than `pairs` holds). */
  recurringPairs: number;
  /** Of all its recurring pairs, those with an instruction verb on either side. */
  verbPairs: number;
}

export interface VerbLinkView {
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
  verbLinks: VerbLinkView[];
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

function headsModel(m: ModelHeadsSection): HeadsModelView {
  return {
    layers: m.layers,
    heads: m.heads,
    perHead: m.perHead.map((h) => ({
      layer: h.layer,
      head: h.head,
      pairs: h.pairs
        .map((p, k) => ({ query: p.query, key: p.key, score: p.similarity, dims: p.dims, k }))
        .sort((a, b) => b.dims - a.dims || b.score - a.score || a.k - b.k)
        .map(({ k: _k, ...p }) => p),
      recurringPairs: Math.max(h.recurringPairs, h.pairs.length),
      verbPairs: h.verbPairs,
    })),
    verbLinks: m.verbLinks.map((l) => ({ layer: l.layer, head: l.head, verb: l.verb, word: l.word, weight: l.weight })),
  };
}

/** A layer group as the grids number layers (from 0): "layers 0–7", "layer 3". */
export function layerGroupLabel([start, end]: readonly [number, number]): string {
  return end - 1 <= start ? `layer ${start}` : `layers ${start}–${end - 1}`;
}

/** The heads section as the panel shows it. */
export function headsView(section: HeadsSection): HeadsView {
  return {
    models: { base: headsModel(section.base), tuned: headsModel(section.tuned) },
    groups: section.groups.map((g) => ({ group: layerGroupLabel(g.layers), word: g.word, kind: g.kind, share: g.share })),
  };
}

function ffnModel(m: ModelFfnSection): FfnModelView {
  return {
    layers: m.layers.map((l) => ({ layer: l.layer, components: l.components.map((c) => ({ index: c.index, explained: c.varianceRatio, words: c.words })) })),
    active: m.local.layers.flatMap((l) => l.components.map((c) => ({ layer: c.layer, component: c.component, score: c.score }))),
  };
}

/** The FFN section as the panel shows it. */
export function ffnView(section: FfnSection): FfnView {
  return {
    models: { base: ffnModel(section.base), tuned: ffnModel(section.tuned) },
    rotation: section.rotation.map((r) => ({ layer: r.layer, cosine: r.meanBestMatch })),
  };
}

/** Heads of a model that link `verb` (its base form) to other words on the prompt, strongest first. */
export function headsLinkingVerb(view: HeadsModelView, verb: string, verbs?: readonly string[]): VerbLinkView[] {
  return view.verbLinks.filter((l) => l.verb === verb || matchInstructionVerb(l.verb, verbs) === verb).sort((a, b) => b.weight - a.weight);
}

/** Heads whose global word pairs include `verb` (any inflection). */
export function headsWithVerbPairs(view: HeadsModelView, verb: string, verbs?: readonly string[]): number {
  const is = (w: string) => /^[\p{L}'’]+$/u.test(w) && matchInstructionVerb(w, verbs) === verb;
  return view.perHead.filter((h) => h.pairs.some((p) => is(p.query) || is(p.key))).length;
}

/** Both models' links from this prompt's instruction verbs to other words, strongest first. */
export function verbLinksByWeight(view: HeadsView): (VerbLinkView & { role: ModelRole })[] {
  return (['base', 'tuned'] as const).flatMap((role) => (view.models[role]?.verbLinks ?? []).map((l) => ({ role, ...l }))).sort((a, b) => b.weight - a.weight);
}

/** "This head has 412 recurring word pairs (…), 379 of them with an instruction verb; the 20 listed below are …" */
export function headCounts(head: HeadView): string {
  const pairs = head.recurringPairs === 1 ? '1 recurring word pair' : `${head.recurringPairs} recurring word pairs`;
  const verb = `${head.verbPairs} of them with an instruction verb`;
  const listed = head.pairs.length < head.recurringPairs ? `; the ${head.pairs.length} listed below are those in the most dimensions` : '';
  return `This head has ${pairs} (pairs found in more than one of its dimensions), ${verb}${listed}.`;
}

export interface GroupsTableRow {
  kind: 'instruction' | 'general';
  /** The verb; null for the kind's mean row. */
  word: string | null;
  /** One share per column; undefined where no head's counts differ. */
  shares: (number | undefined)[];
}

/** The paper's Table 3, pivoted: a column per layer group; per kind its mean row, then a row per verb. */
export function groupsTable(groups: readonly GroupRow[]): { columns: string[]; rows: GroupsTableRow[] } {
  const columns = [...new Set(groups.map((g) => g.group))];
  const rows: GroupsTableRow[] = [];
  for (const kind of ['instruction', 'general'] as const) {
    const words = [...new Set(groups.filter((g) => g.kind === kind).map((g) => g.word))];
    if (!words.length) continue;
    const means = columns.map((c) => {
      const values = groups.filter((g) => g.kind === kind && g.group === c).map((g) => g.share);
      return values.length ? values.reduce((a, b) => a + b, 0) / values.length : undefined;
    });
    rows.push({ kind, word: null, shares: means });
    for (const word of words) rows.push({ kind, word, shares: columns.map((c) => groups.find((g) => g.kind === kind && g.word === word && g.group === c)?.share) });
  }
  return { columns, rows };
}

/** A share of heads as a whole percentage; "—" where there is none. */
export function sharePercent(v: number | undefined): string {
  return v === undefined ? '—' : `${(v * 100).toFixed(0)}%`;
}

/** The angle between base and tuned components, in degrees, from their best-match cosine. */
export function rotationDegrees(cosine: number): number {
  return (Math.acos(Math.max(-1, Math.min(1, cosine))) * 180) / Math.PI;
}
