/**
 * The report's `heads` and `ffn` sections (report.ts) from the analyses of both models: global
 * results summarised per head / per layer, local results on the prompt, and the cross-model
 * statistics (Table 3, FFN rotation).
 */
import type { LlamaRunner } from '../llm/runner.js';
import type { Checkpoint } from '../model/checkpoint.js';
import type { EncodedPrompt } from '../model/prompt.js';
import type { PromptRun } from './attribution.js';
import type { ForwardResult } from '../llm/runner.js';
import type { ProviderSetting } from '../runtime/session.js';
import { analyzeFfnGlobal, analyzeFfnLocal, compareFfnRotation, ffnCacheKeys, resolveFfnOptions, type FfnOptions, type FfnProgress, type FfnRotationLayer, type GlobalFfnResult, type LocalFfnResult } from './ffn.js';
import { analyzeHeadsGlobal, analyzeHeadsLocal, compareHeadVerbs, headsCacheKey, resolveHeadsOptions, type GlobalHeadsResult, type HeadsOptions, type HeadsProgress, type HeadsVerbComparison, type LocalHeadsResult } from './heads.js';
import { type InstructionVerb } from './instructions.js';
import { DEFAULT_INSTRUCTION_VERBS, matchInstructionVerb } from './instruction-lexicon.js';
import type { ActiveComponent, FfnSection, HeadReport, HeadsGroupRow, HeadsSection, ModelFfnSection, ModelHeadsSection } from './report.js';
import { buildWordList, promptWords, type WordList } from './wordlist.js';
import type { CacheOptions } from './analysis-cache.js';

export const REPORT_HEAD_PAIRS = 20;
export const REPORT_HEAD_WORDS = 20;
export const REPORT_HEAD_DIMS = 3;
export const REPORT_DIM_PAIRS = 10;
export const REPORT_ACTIVE = 10;
export const REPORT_ACTIVE_WORDS = 10;

export interface SectionOptions {
  heads?: HeadsOptions;
  ffn?: FfnOptions;
  /** A word file, or words, used exactly as given; default: vocabulary words + the prompt's words. */
  wordsFile?: string;
  words?: readonly string[];
  /** The instruction-verb lexicon (default: the built-in one; see instructionLexicon). */
  verbs?: readonly string[];
  provider?: ProviderSetting;
  cache?: CacheOptions;
  signal?: AbortSignal;
  log?: (line: string) => void;
  onProgress?: (role: 'base' | 'tuned', section: 'heads' | 'ffn', p: HeadsProgress | FfnProgress) => void;
}

/** What one model contributes to the sections: its word list, and one forward over the prompt with the probes. */
export interface ModelProbe {
  runner: LlamaRunner;
  list: WordList;
  encoded: EncodedPrompt;
  forward: ForwardResult;
  verbs: readonly InstructionVerb[];
}

/**
 * A model's probe from its attribution run (attributeAndProbe: the prompt encoded once, its forward
 * with the probes) and its word list.
 */
export async function modelProbe(runner: LlamaRunner, prompt: string, run: PromptRun, verbs: readonly InstructionVerb[], options: SectionOptions): Promise<ModelProbe> {
  if (!run.forward) throw new Error('internal: the local analyses need the forward over the prompt with its probes');
  const list = await buildWordList(
    runner.checkpoint,
    options.wordsFile !== undefined ? { file: options.wordsFile } : options.words !== undefined ? { words: options.words } : { extraWords: promptWords(prompt) },
  );
  return { runner, list, encoded: run.encoded, forward: run.forward, verbs };
}

function analysisProvider(runner: LlamaRunner, setting?: ProviderSetting): ProviderSetting {
  if (setting) return setting;
  return runner.executionProvider === null || runner.executionProvider === 'cpu' ? 'cpu' : 'auto';
}

function headReports(global: GlobalHeadsResult, verbs: readonly string[]): HeadReport[] {
  const isVerb = (w: string) => matchInstructionVerb(w, verbs) !== null;
  const out: HeadReport[] = [];
  for (const layer of global.layers) {
    for (const head of layer.heads) {
      // s(q, k) does not depend on the dimension: any dimension's entry gives it.
      const similarity = new Map<string, number>();
      for (const d of head.dims) for (const p of d.pairs) similarity.set(`${p.query}\u0000${p.key}`, p.similarity);
      out.push({
        layer: layer.layer,
        head: head.head,
        pairs: head.profile.pairs.slice(0, REPORT_HEAD_PAIRS).map((p) => ({ query: p.query, key: p.key, similarity: similarity.get(`${p.query}\u0000${p.key}`)!, dims: p.dims })),
        recurringPairs: head.profile.pairs.length,
        verbPairs: head.profile.pairs.filter((p) => isVerb(p.query) || isVerb(p.key)).length,
        words: head.profile.words.slice(0, REPORT_HEAD_WORDS),
        dims: head.dims.slice(0, REPORT_HEAD_DIMS).map((d) => ({ ...d, pairs: d.pairs.slice(0, REPORT_DIM_PAIRS) })),
      });
    }
  }
  return out;
}

function modelHeads(global: GlobalHeadsResult, local: LocalHeadsResult, verbs: readonly string[]): ModelHeadsSection {
  return {
    layers: global.numLayers,
    heads: global.numHeads,
    words: global.words,
    fromCache: global.fromCache,
    computeMs: global.computeMs,
    perHead: headReports(global, verbs),
    verbLinks: local.verbLinks,
    local: { words: local.words, instructionVerbs: local.instructionVerbs, heads: local.heads },
  };
}

export function headsSectionOf(
  base: { global: GlobalHeadsResult; local: LocalHeadsResult },
  tuned: { global: GlobalHeadsResult; local: LocalHeadsResult },
  verbs: readonly string[] = DEFAULT_INSTRUCTION_VERBS,
): HeadsSection {
  const table = compareHeadVerbs(base.global, tuned.global, verbs);
  const groups: HeadsGroupRow[] = [];
  for (const [kind, t] of [['instruction', table.instruction], ['general', table.general]] as const) {
    for (const row of t.verbs) {
      table.groups.forEach((g, i) => {
        const share = row.share[i];
        if (share === null || share === undefined) return;
        const group = g.layers[1] - g.layers[0] === 1 ? `layer ${g.layers[1]}` : `layers ${g.layers[0] + 1}–${g.layers[1]}`;
        groups.push({ group, layers: g.layers, word: row.verb, kind, share, tunedMore: row.tunedMore[i]!, decided: row.decided[i]! });
      });
    }
  }
  return { options: tuned.global.options, base: modelHeads(base.global, base.local, verbs), tuned: modelHeads(tuned.global, tuned.local, verbs), groups, table };
}

function modelFfn(global: GlobalFfnResult, local: LocalFfnResult): ModelFfnSection {
  const wordsOf = new Map(global.layers.map((l) => [l.layer, l.components]));
  const withWords = (u: { layer: number; component: number; score: number }): ActiveComponent => ({ ...u, words: wordsOf.get(u.layer)![u.component]!.words.slice(0, REPORT_ACTIVE_WORDS) });
  return {
    words: global.words,
    fromCache: global.fromCache,
    computeMs: global.computeMs,
    layers: global.layers.map((l) => ({ layer: l.layer, totalVariance: l.totalVariance, components: l.components.map((c) => ({ index: c.index, varianceRatio: c.varianceRatio, words: c.words })) })),
    active: local.top.map(withWords),
    local: { layers: local.layers.map((l) => ({ layer: l.layer, components: l.components.map(withWords) })) },
  };
}

export function ffnSectionOf(base: { global: GlobalFfnResult; local: LocalFfnResult }, tuned: { global: GlobalFfnResult; local: LocalFfnResult }): FfnSection {
  return {
    options: tuned.global.options,
    base: modelFfn(base.global, base.local),
    tuned: modelFfn(tuned.global, tuned.local),
    rotation: compareFfnRotation(base.global, tuned.global),
  };
}

// ---------------------------------------------------------------------------------------------
// Heads and FFN behind one interface. Each analysis has options, a global part per model
// (prompt-independent, cached on disk under its cache key, with progress), a local part on the
// prompt (from the forward compare already ran: ModelProbe), and a two-model part (Table 3, the
// FFN rotation) that its report section holds. `compare`, the engine and the CLI's global commands
// go through this, so the two analyses share one code path.

export interface RunSettings<P> {
  provider: ProviderSetting;
  signal?: AbortSignal;
  log?: (line: string) => void;
  cache?: CacheOptions;
  onProgress?: (p: P) => void;
}

export interface ModelAnalysis<Options, Progress, Global, Local, Diff, Section> {
  readonly name: 'heads' | 'ffn';
  /** The forward's outputs the local part reads. */
  readonly probes: { attentions?: boolean; ffn?: boolean };
  /** What the cached global result depends on (the options resolved for this checkpoint and word list). */
  cacheKey(checkpoint: Checkpoint, list: WordList, options?: Options): unknown;
  global(checkpoint: Checkpoint, list: WordList, options: Options | undefined, run: RunSettings<Progress>): Promise<Global>;
  local(prompt: string, probe: ModelProbe, global: Global): Local;
  /** The two-model comparison of the global results (`verbs`: the instruction-verb lexicon). */
  diff(base: Global, tuned: Global, verbs?: readonly string[]): Diff;
  /** The report's section: both models' global and local results and their comparison. */
  section(base: { global: Global; local: Local }, tuned: { global: Global; local: Local }, verbs?: readonly string[]): Section;
}

export const HEADS_ANALYSIS: ModelAnalysis<HeadsOptions, HeadsProgress, GlobalHeadsResult, LocalHeadsResult, HeadsVerbComparison, HeadsSection> = {
  name: 'heads',
  probes: { attentions: true },
  cacheKey: (checkpoint, list, options) => headsCacheKey(checkpoint, list, resolveHeadsOptions(checkpoint, list, options)),
  global: (checkpoint, list, options, run) => analyzeHeadsGlobal(checkpoint, list, options, run),
  local: (prompt, probe) => analyzeHeadsLocal(prompt, probe.encoded, probe.forward, probe.runner.checkpoint.config.numHeads, probe.verbs),
  diff: (base, tuned, verbs) => compareHeadVerbs(base, tuned, verbs),
  section: (base, tuned, verbs) => headsSectionOf(base, tuned, verbs),
};

export const FFN_ANALYSIS: ModelAnalysis<FfnOptions, FfnProgress, GlobalFfnResult, LocalFfnResult, FfnRotationLayer[], FfnSection> = {
  name: 'ffn',
  probes: { ffn: true },
  cacheKey: (checkpoint, list, options) => ffnCacheKeys(checkpoint, list, resolveFfnOptions(checkpoint, options)),
  global: (checkpoint, list, options, run) => analyzeFfnGlobal(checkpoint, list, options, run),
  local: (_prompt, probe, global) => analyzeFfnLocal(probe.encoded, probe.forward, global, 5, REPORT_ACTIVE),
  diff: (base, tuned) => compareFfnRotation(base, tuned),
  section: (base, tuned) => ffnSectionOf(base, tuned),
};

/** One analysis's section for two probed models: base's global and local parts, then tuned's, then their comparison. */
async function sectionOf<O, P, G, L, D, S>(
  analysis: ModelAnalysis<O, P, G, L, D, S>,
  prompt: string,
  probes: { base: ModelProbe; tuned: ModelProbe },
  analysisOptions: O | undefined,
  options: SectionOptions,
): Promise<S> {
  const one = async (role: 'base' | 'tuned') => {
    const p = probes[role];
    const global = await analysis.global(p.runner.checkpoint, p.list, analysisOptions, {
      provider: analysisProvider(p.runner, options.provider),
      signal: options.signal,
      log: options.log,
      cache: options.cache,
      onProgress: (progress: P) => options.onProgress?.(role, analysis.name, progress as HeadsProgress | FfnProgress),
    });
    return { global, local: analysis.local(prompt, p, global) };
  };
  const base = await one('base');
  return analysis.section(base, await one('tuned'), options.verbs);
}

/** Both sections for two probed models (either may be skipped). */
export async function analysisSections(
  prompt: string,
  probes: { base: ModelProbe; tuned: ModelProbe },
  which: { heads: boolean; ffn: boolean },
  options: SectionOptions = {},
): Promise<{ heads?: HeadsSection; ffn?: FfnSection }> {
  const out: { heads?: HeadsSection; ffn?: FfnSection } = {};
  if (which.heads) out.heads = await sectionOf(HEADS_ANALYSIS, prompt, probes, options.heads, options);
  if (which.ffn) out.ffn = await sectionOf(FFN_ANALYSIS, prompt, probes, options.ffn, options);
  return out;
}
