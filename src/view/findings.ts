// The paper's three findings (Wu et al., arXiv 2310.00492), as measured on the analysed prompt:
// what the Summary tab states, with the numbers, and plainly when a finding does not hold here or
// was not measured. Pure: the panel renders the result; the tests check the verdicts.

import { DEFAULT_INSTRUCTION_VERBS, matchInstructionVerb } from '../explain/instruction-lexicon.js';
import type { PanelReport, SectionStatus } from '../contract/panel.js';
import { ffnView, headsView, type FfnModelView, type HeadsModelView } from './section-views.js';
import { formatMeasure, formatNumber } from './format.js';

export type FindingStatus = 'holds' | 'does-not-hold' | 'inconclusive' | 'not-measured';

/** How a verdict reads: a symbol (never colour alone) and words. */
export const FINDING_STATUS: Record<FindingStatus, { symbol: string; label: string }> = {
  holds: { symbol: '✔', label: 'Holds on this prompt' },
  'does-not-hold': { symbol: '✘', label: 'Does not hold on this prompt' },
  inconclusive: { symbol: '?', label: 'Inconclusive' },
  'not-measured': { symbol: '–', label: 'Not measured' },
};

/** A number of a finding's table: a count prints as a count ("16", not "16.000"); none as "—". */
export function findingValue(v: number | undefined): string {
  return v === undefined ? '—' : Number.isInteger(v) ? String(v) : formatNumber(v);
}

export interface Finding {
  id: 'instruction-score' | 'verb-heads' | 'ffn-rotation';
  title: string;
  /** The paper's claim, in one sentence. */
  claim: string;
  status: FindingStatus;
  /** What this prompt shows, in words, with the numbers. */
  measured: string;
  numbers: { label: string; base?: number; tuned?: number; value?: number }[];
}

const fmt = formatMeasure;

function sectionNote(status: SectionStatus | undefined, what: string): string {
  if (!status || status.state === 'computed') return `The report has no ${what} section.`;
  if (status.state === 'not-computed' || status.state === 'failed') return status.reason;
  return `The ${what} analysis is running.`;
}

function instructionScoreFinding(report: PanelReport): Finding {
  const claim = 'The instruction-tuned model leans more on the instruction part of the prompt: its instruction score is higher than the base model’s.';
  const base = report.base;
  const tuned = report.tuned;
  const title = 'Attention to the instruction';
  if (!base || !tuned) {
    return { id: 'instruction-score', title, claim, status: 'not-measured', measured: 'Only one model was analysed; compare both models to measure this.', numbers: [] };
  }
  const numbers = [{ label: 'Instruction score', base: base.instructionScore, tuned: tuned.instructionScore }];
  const instructionTokens = Math.max(base.instructionMask.filter((v) => v === 1).length, tuned.instructionMask.filter((v) => v === 1).length);
  if (instructionTokens === 0) {
    return {
      id: 'instruction-score', title, claim, status: 'not-measured', numbers,
      measured: 'No instruction span was found in this prompt (no instruction verb used as a command), so both scores are 0 and the finding cannot be checked here.',
    };
  }
  const b = base.instructionScore;
  const t = tuned.instructionScore;
  if (!Number.isFinite(b) || !Number.isFinite(t)) return { id: 'instruction-score', title, claim, status: 'inconclusive', numbers, measured: 'A score is not a finite number.' };
  if (t > b) {
    const ratio = b > 0 ? ` (×${(t / b).toFixed(2)})` : '';
    return { id: 'instruction-score', title, claim, status: 'holds', numbers, measured: `Holds on this prompt: the tuned model’s instruction score is ${fmt(t)}, the base model’s ${fmt(b)}${ratio}.` };
  }
  if (t === b) return { id: 'instruction-score', title, claim, status: 'does-not-hold', numbers, measured: `Does not hold on this prompt: both models score ${fmt(t)}.` };
  return { id: 'instruction-score', title, claim, status: 'does-not-hold', numbers, measured: `Does not hold on this prompt: the base model’s instruction score (${fmt(b)}) is higher than the tuned model’s (${fmt(t)}).` };
}

function distinctHeads(view: HeadsModelView): number {
  return new Set(view.verbLinks.map((l) => `${l.layer}:${l.head}`)).size;
}

function headsFinding(report: PanelReport, status: SectionStatus | undefined, verbs?: readonly string[]): Finding {
  const claim = 'More of the tuned model’s attention heads encode word relations with instruction verbs (e.g. “write”, “summarize”).';
  const title = 'Heads linking instruction verbs';
  if (report.heads === undefined) return { id: 'verb-heads', title, claim, status: 'not-measured', numbers: [], measured: sectionNote(status, 'heads') };
  const view = headsView(report.heads);
  const { base, tuned } = view.models;
  if (!base || !tuned) return { id: 'verb-heads', title, claim, status: 'not-measured', numbers: [], measured: 'Not measured: the heads section covers one model only.' };
  const globalB = base.perHead.filter((h) => h.verbPairs > 0).length;
  const globalT = tuned.perHead.filter((h) => h.verbPairs > 0).length;
  const localB = distinctHeads(base);
  const localT = distinctHeads(tuned);
  const numbers: Finding['numbers'] = [
    { label: 'Heads with instruction-verb word pairs', base: globalB, tuned: globalT },
    { label: 'Heads linking this prompt’s instruction verbs', base: localB, tuned: localT },
  ];
  const groups = view.groups;
  const meanShare = (kind: 'instruction' | 'general') => {
    const rows = groups.filter((g) => g.kind === kind);
    return rows.length ? rows.reduce((sum, g) => sum + g.share, 0) / rows.length : null;
  };
  const instr = meanShare('instruction');
  const general = meanShare('general');
  if (instr !== null) {
    numbers.push({ label: 'Share of heads where the tuned model has more pairs with the word (mean over layer groups): instruction verbs', value: instr });
    if (general !== null) numbers.push({ label: '… the same for frequent general verbs', value: general });
    const pct = (v: number) => `${(v * 100).toFixed(1)}%`;
    const versus = general === null ? '' : `, against ${pct(general)} for frequent general verbs`;
    const holds = instr > 0.5 && (general === null || instr > general);
    return {
      id: 'verb-heads', title, claim, status: holds ? 'holds' : 'does-not-hold', numbers,
      measured: `${holds ? 'Holds' : 'Does not hold here'}: in ${pct(instr)} of the heads (mean over layer groups) the tuned model encodes more word pairs with instruction verbs than the base model${versus}. On this prompt ${localT} of the tuned model’s heads and ${localB} of the base model’s link its instruction verbs to other words.`,
    };
  }
  const total = `${tuned.layers * tuned.heads}`;
  const useLocal = base.verbLinks.length + tuned.verbLinks.length > 0;
  const [b, t, what] = useLocal ? [localB, localT, 'heads link this prompt’s instruction verbs to other words'] : [globalB, globalT, 'heads encode word pairs with an instruction verb'];
  if (t > b) return { id: 'verb-heads', title, claim, status: 'holds', numbers, measured: `Holds: ${t} of the tuned model’s ${total} ${what}, against ${b} of the base model’s.` };
  return { id: 'verb-heads', title, claim, status: 'does-not-hold', numbers, measured: `Does not hold here: ${t} of the tuned model’s ${total} ${what}, against ${b} of the base model’s.` };
}

/** Share of concept words (over all layers and components) that are instruction/task verbs. */
function taskWordShare(view: FfnModelView, verbs: readonly string[]): number {
  let all = 0;
  let task = 0;
  for (const layer of view.layers) {
    for (const c of layer.components) {
      for (const w of c.words) {
        all++;
        const word = w.replace(/^[\u2581\u0120\s]+/u, '');
        if (/^[\p{L}'’]+$/u.test(word) && matchInstructionVerb(word, verbs) !== null) task++;
      }
    }
  }
  return all ? task / all : 0;
}

function ffnFinding(report: PanelReport, status: SectionStatus | undefined, verbs: readonly string[]): Finding {
  const claim = 'Instruction tuning rotates the feed-forward layers’ principal directions (their stored concepts) toward user tasks.';
  const title = 'FFN knowledge rotated toward tasks';
  if (report.ffn === undefined) return { id: 'ffn-rotation', title, claim, status: 'not-measured', numbers: [], measured: sectionNote(status, 'FFN') };
  const view = ffnView(report.ffn);
  const { base, tuned } = view.models;
  const rotation = view.rotation;
  const numbers: Finding['numbers'] = [];
  let rotated: string | null = null;
  if (rotation.length) {
    const mean = rotation.reduce((s, r) => s + r.cosine, 0) / rotation.length;
    const min = rotation.reduce((m, r) => (r.cosine < m.cosine ? r : m));
    numbers.push({ label: 'Mean best-match cosine, base → tuned components (1 = unchanged)', value: mean });
    rotated = `mean best-match cosine ${fmt(mean)} over ${rotation.length} layers (≈${fmt((Math.acos(Math.min(1, Math.max(-1, mean))) * 180) / Math.PI, 1)}°), most rotated: layer ${min.layer} (${fmt(min.cosine)})`;
  }
  if (!base || !tuned) {
    return { id: 'ffn-rotation', title, claim, status: 'inconclusive', numbers, measured: `${rotated ? `Rotation: ${rotated}. ` : ''}The concepts of both models are needed to tell whether it points toward tasks.` };
  }
  const shareB = taskWordShare(base, verbs);
  const shareT = taskWordShare(tuned, verbs);
  numbers.push({ label: 'Share of concept words that are task verbs', base: shareB, tuned: shareT });
  const pct = (v: number) => `${(v * 100).toFixed(1)}%`;
  const lead = rotated ? `Rotation: ${rotated}. ` : '';
  if (shareT > shareB) return { id: 'ffn-rotation', title, claim, status: 'holds', numbers, measured: `${lead}Holds: ${pct(shareT)} of the tuned model’s concept words are task verbs, against ${pct(shareB)} of the base model’s.` };
  return { id: 'ffn-rotation', title, claim, status: 'does-not-hold', numbers, measured: `${lead}Does not hold here: ${pct(shareT)} of the tuned model’s concept words are task verbs, against ${pct(shareB)} of the base model’s.` };
}

/** The three findings, in the paper's order. */
export function findings(report: PanelReport, sections: { heads?: SectionStatus; ffn?: SectionStatus } = {}, verbs: readonly string[] = DEFAULT_INSTRUCTION_VERBS): Finding[] {
  return [instructionScoreFinding(report), headsFinding(report, sections.heads, verbs), ffnFinding(report, sections.ffn, verbs)];
}
