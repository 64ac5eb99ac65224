// The Markdown of the editor's hover (src/extension/hover.ts shows it): on every highlighted prompt
// token, both models' importance for it (density and rank among the prompt's tokens) and whether it
// is part of an instruction; on an instruction verb also the word's importance and head statistics.
// While the analysed text is edited since its run, the hover says so instead of showing numbers of
// the earlier text. Pure, so the tests check it without VS Code. Every piece of document or model
// text is escaped.

import { matchInstructionVerb } from '../explain/instruction-lexicon.js';
import { visibleToken } from '../report/escape.js';
import type { ModelReport } from '../explain/report.js';
import { formatNumber } from '../view/format.js';
import { densityCells, finiteOrZero, highlightCells, wordAt, wordRank, type HeatCell } from '../view/heatmap.js';
import { reportRoles, type HighlightMode, type ModelRole, type PanelReport } from '../contract/panel.js';
import { headsLinkingVerb, headsView, headsWithVerbPairs, type HeadsModelView } from '../view/section-views.js';

const ROLE_NAME: Record<ModelRole, string> = { base: 'Base', tuned: 'Tuned' };

/** Text for Markdown: every character that could start markup escaped. */
export function markdownText(text: string): string {
  return text.replace(/[\\`*_{}[\]()#+\-.!|<>~&]/g, (c) => `\\${c}`).replace(/[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g, '');
}

function commandLink(label: string, command: string, args?: unknown[]): string {
  const query = args ? `?${encodeURIComponent(JSON.stringify(args))}` : '';
  return `[${label}](command:${command}${query} "${label}")`;
}

/** The commands the hover's links run (the adapter trusts exactly these). */
export const HOVER_COMMANDS = ['instructionLens.showPanel', 'instructionLens.compareSelection'] as const;
const PANEL_LINK = commandLink('Open the Instruction Lens panel', 'instructionLens.showPanel');

export interface VerbHoverContent {
  verb: string;
  form: string;
  markdown: string;
}

/** The hover's Markdown for the verb `form` at offsets [start, end) of the analysed prompt, or null when it is no instruction verb. */
export function verbHoverMarkdown(form: string, verbs: readonly string[], analysis: { report: PanelReport; start: number; end: number }): VerbHoverContent | null {
  const section = verbSection(form, verbs, analysis);
  return section && { verb: section.verb, form, markdown: [...section.lines, '', PANEL_LINK].join('\n') };
}

/** The verb's lines: its word importance per model, its head statistics, whether it is in an instruction span. */
function verbSection(form: string, verbs: readonly string[], analysis: { report: PanelReport; start: number; end: number }): { verb: string; lines: string[] } | null {
  const verb = matchInstructionVerb(form, verbs);
  if (!verb) return null;
  const lines: string[] = [`**Instruction verb** \`${markdownText(verb)}\`${form.toLowerCase() !== verb ? ` (as “${markdownText(form)}”)` : ''}`, ''];
  const { report, start, end } = analysis;
  const roles = reportRoles(report);
  const rows: string[] = tableHead(roles);
  const cell = (m: ModelReport) => {
    const word = wordAt(m, start, end);
    if (!word || word.tokenIndices.length === 0) return 'n/a';
    const { rank, of } = wordRank(m, word);
    return `${formatNumber(word.density)} (rank ${rank} of ${of})`;
  };
  rows.push(`| Importance (word density) | ${roles.map((r) => cell(report[r]!)).join(' | ')} |`);
  const inSpan = roles.some((r) => report[r]!.instructions.spans.some((s) => start < s.end && end > s.start));
  if (report.heads !== undefined) {
    const models = headsView(report.heads).models;
    const count = (r: ModelRole, f: (v: HeadsModelView) => number) => {
      const v = models[r];
      return v ? String(f(v)) : 'n/a';
    };
    rows.push(`| Heads linking it on this prompt | ${roles.map((r) => count(r, (v) => new Set(headsLinkingVerb(v, verb, verbs).map((l) => `${l.layer}:${l.head}`)).size)).join(' | ')} |`);
    rows.push(`| Heads whose word pairs hold it | ${roles.map((r) => count(r, (v) => headsWithVerbPairs(v, verb, verbs))).join(' | ')} |`);
  }
  lines.push(...rows, '');
  lines.push(inSpan ? 'In an instruction span of the prompt.' : 'Not in a detected instruction span (not used as a command here).');
  if (report.heads === undefined) lines.push('', 'Head statistics: not computed for this report.');
  return { verb, lines };
}

function tableHead(roles: readonly ModelRole[]): string[] {
  return [`| | ${roles.map((r) => ROLE_NAME[r]).join(' | ')} |`, `|---|${roles.map(() => '---:').join('|')}|`];
}

export interface TokenHoverInput {
  report: PanelReport;
  /** The highlight mode shown (its cells are the hover's ranges). */
  mode: HighlightMode;
  verbs: readonly string[];
  /** The hovered document offset. */
  offset: number;
  /** Where the prompt's characters [start, end) are in the document now; null when an edit touched them. */
  place: (start: number, end: number) => { start: number; end: number } | null;
  /** The analysed text was edited since the run. */
  stale: boolean;
}

export interface TokenHoverContent {
  /** The hovered highlight's document offsets. */
  start: number;
  end: number;
  markdown: string;
  /** The instruction verb of the hovered word, if it is one. */
  verb?: string;
}

const WORD = /[\p{L}\p{M}'’]+/gu;

/** The word of `text` that holds offset `at` (quotes trimmed), if any. */
function wordOf(text: string, at: number): { form: string; start: number; end: number } | undefined {
  for (const m of text.matchAll(WORD)) {
    const lead = m[0].length - m[0].replace(/^['’]+/, '').length;
    const form = m[0].replace(/^['’]+|['’]+$/g, '');
    const start = m.index! + lead;
    if (form && start <= at && at < start + form.length) return { form, start, end: start + form.length };
  }
  return undefined;
}

/** Token i's rank by density among the model's prompt tokens that are not whitespace (1 = most important). */
function tokenRank(m: ModelReport, i: number): { rank: number; of: number } {
  const shown = m.tokens.map((t, k) => k).filter((k) => /\S/.test(m.tokens[k]!.text));
  const d = finiteOrZero(m.density[i]);
  return { rank: shown.filter((k) => finiteOrZero(m.density[k]) > d).length + 1, of: shown.length };
}

/**
 * The hover on the highlighted prompt token at document `offset`: null when no highlight is there.
 * When the analysis is stale the hover says so (and offers Compare again) instead of numbers.
 */
export function tokenHoverMarkdown(input: TokenHoverInput): TokenHoverContent | null {
  const { report, verbs, offset, place } = input;
  const cells: HeatCell[] = highlightCells(report, input.mode) ?? densityCells((report.tuned ?? report.base)!);
  let hit: { cell: HeatCell; start: number; end: number } | undefined;
  for (const cell of cells) {
    if (cell.end <= cell.start || !/\S/.test(cell.text)) continue;
    const at = place(cell.start, cell.end);
    if (at && at.start <= offset && offset < at.end) {
      hit = { cell, ...at };
      break;
    }
  }
  if (!hit) return null;
  const shownText = `“${markdownText(visibleToken(hit.cell.text))}”`;
  if (input.stale) {
    const markdown = [
      `**Instruction Lens** · ${shownText}`,
      '',
      'The prompt was edited since the last run: its importance numbers describe the earlier text, so they are not shown here.',
      '',
      `${commandLink('Compare again', 'instructionLens.compareSelection', ['again'])} · ${PANEL_LINK}`,
    ].join('\n');
    return { start: hit.start, end: hit.end, markdown };
  }
  // The hovered character of the prompt (the highlight's text is the prompt's, untouched).
  const at = hit.cell.start + (offset - hit.start);
  const roles = reportRoles(report);
  // Each model's prompt token under the hovered character (−1: none).
  const tokenOf = (m: ModelReport) => m.tokens.findIndex((t) => t.start <= at && at < t.end);
  const hovered = roles.map((r) => ({ m: report[r]!, i: tokenOf(report[r]!) }));
  const rows = tableHead(roles);
  const per = (f: (m: ModelReport, i: number) => string) => hovered.map(({ m, i }) => (i < 0 ? 'n/a' : f(m, i))).join(' | ');
  const differs = roles.length === 2 && hovered.some(({ m, i }) => i >= 0 && (m.tokens[i]!.start !== hit!.cell.start || m.tokens[i]!.end !== hit!.cell.end));
  if (differs) rows.push(`| Token | ${per((m, i) => `“${markdownText(visibleToken(m.tokens[i]!.text))}”`)} |`);
  rows.push(`| Importance (token density) | ${per((m, i) => formatNumber(finiteOrZero(m.density[i])))} |`);
  rows.push(`| Rank among the prompt’s tokens | ${per((m, i) => {
    const { rank, of } = tokenRank(m, i);
    return `${rank} of ${of}`;
  })} |`);
  rows.push(`| Part of an instruction | ${per((m, i) => (m.instructionMask[i] === 1 ? 'yes' : 'no'))} |`);
  const lines = [`**Instruction Lens** · token ${shownText}`, '', ...rows, ''];
  if (report.base && report.tuned) {
    const b = tokenOf(report.base);
    const t = tokenOf(report.tuned);
    if (b >= 0 && t >= 0) {
      const delta = finiteOrZero(report.tuned.density[t]) - finiteOrZero(report.base.density[b]);
      lines.push(`Tuned − base: ${delta > 0 ? '+' : ''}${formatNumber(delta)} (${delta > 0 ? 'the tuned model gives it more importance' : delta < 0 ? 'the base model gives it more importance' : 'the same importance'}).`, '');
    }
  }
  const inInstruction = hovered.some(({ m, i }) => i >= 0 && m.instructionMask[i] === 1);
  lines.push(inInstruction ? 'Part of an instruction of the prompt (underlined).' : 'Not part of a detected instruction.');
  const word = wordOf(report.prompt, at);
  const verb = word && verbSection(word.form, verbs, { report, start: word.start, end: word.end });
  if (verb) lines.push('', '---', '', ...verb.lines);
  lines.push('', PANEL_LINK);
  return { start: hit.start, end: hit.end, markdown: lines.join('\n'), ...(verb ? { verb: verb.verb } : {}) };
}
