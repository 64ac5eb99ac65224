/**
 * The report's `heads` and `ffn` sections (report.ts) from the analyses of both models: global
 * results summarised per head / per layer, local results on the prompt, and the cross-model
 * statistics (Table 3, FFN rotation).
 */
import type { LlamaRunner } from '../llm/runner.js';
import type { EncodedPrompt } from '../model/prompt.js';
import type { PromptRun } from './attribution.js';
import type { ForwardResult } from '../llm/runner.js';
import type { ProviderSetting } from '../runtime/session.js';
import { analyzeFfnGlobal, analyzeFfnLocal, compareFfnRotation, type FfnOptions, type FfnProgress, type GlobalFfnResult } from './ffn.js';
import { analyzeHeadsGlobal, analyzeHeadsLocal, compareHeadVerbs, type GlobalHeadsResult, type HeadsOptions, type HeadsProgress, type LocalHeadsResult } from './heads.js';
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

function modelFfn(global: GlobalFfnResult, probe: ModelProbe): ModelFfnSection {
  const local = analyzeFfnLocal(probe.encoded, probe.forward, global, 5, REPORT_ACTIVE);
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

export function ffnSectionOf(base: { global: GlobalFfnResult; probe: ModelProbe }, tuned: { global: GlobalFfnResult; probe: ModelProbe }): FfnSection {
  return {
    options: tuned.global.options,
    base: modelFfn(base.global, base.probe),
    tuned: modelFfn(tuned.global, tuned.probe),
    rotation: compareFfnRotation(base.global, tuned.global),
  };
}

/** Both sections for two probed models (either may be skipped). */
export async function analysisSections(
  prompt: string,
  probes: { base: ModelProbe; tuned: ModelProbe },
  which: { heads: boolean; ffn: boolean },
  options: SectionOptions = {},
): Promise<{ heads?: HeadsSection; ffn?: FfnSection }> {
  const run = (role: 'base' | 'tuned', section: 'heads' | 'ffn') => ({
    provider: analysisProvider(probes[role].runner, options.provider),
    signal: options.signal,
    log: options.log,
    cache: options.cache,
    onProgress: (p: HeadsProgress | FfnProgress) => options.onProgress?.(role, section, p),
  });
  const out: { heads?: HeadsSection; ffn?: FfnSection } = {};
  if (which.heads) {
    const one = async (role: 'base' | 'tuned') => {
      const p = probes[role];
      const global = await analyzeHeadsGlobal(p.runner.checkpoint, p.list, options.heads, run(role, 'heads'));
      const local = analyzeHeadsLocal(prompt, p.encoded, p.forward, p.runner.checkpoint.config.numHeads, p.verbs);
      return { global, local };
    };
    const base = await one('base');
    out.heads = headsSectionOf(base, await one('tuned'), options.verbs);
  }
  if (which.ffn) {
    const one = async (role: 'base' | 'tuned') => ({
      global: await analyzeFfnGlobal(probes[role].runner.checkpoint, probes[role].list, options.ffn, run(role, 'ffn')),
      probe: probes[role],
    });
    const base = await one('base');
    out.ffn = ffnSectionOf(base, await one('tuned'));
  }
  return out;
}
