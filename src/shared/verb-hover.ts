// The Markdown of the hover on an instruction verb (src/extension/hover.ts shows it): pure, so
// the tests check it without VS Code. Every piece of document or model text is escaped.

import { matchInstructionVerb } from '../explain/instruction-lexicon.js';
import type { ModelReport } from '../explain/report.js';
import { formatNumber } from '../view/format.js';
import { wordAt, wordRank } from '../view/heatmap.js';
import { reportRoles, type ModelRole, type PanelReport } from '../contract/panel.js';
import { headsLinkingVerb, headsView, headsWithVerbPairs, type HeadsModelView } from '../view/section-views.js';

const ROLE_NAME: Record<ModelRole, string> = { base: 'Base', tuned: 'Tuned' };

/** Text for Markdown: every character that could start markup escaped. */
export function markdownText(text: string): string {
  return text.replace(/[\\`*_{}[\]()#+\-.!|<>~&]/g, (c) => `\\${c}`).replace(/[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g, '');
}

function commandLink(label: string, command: string): string {
  return `[${label}](command:${command} "${label}")`;
}

export interface VerbHoverContent {
  verb: string;
  form: string;
  markdown: string;
}

/** The hover's Markdown for the verb `form` at offsets [start, end) of the analysed prompt, or null when it is no instruction verb. */
export function verbHoverMarkdown(form: string, verbs: readonly string[], analysis: { report: PanelReport; start: number; end: number }): VerbHoverContent | null {
  const verb = matchInstructionVerb(form, verbs);
  if (!verb) return null;
  const lines: string[] = [`**Instruction verb** \`${markdownText(verb)}\`${form.toLowerCase() !== verb ? ` (as “${markdownText(form)}”)` : ''}`, ''];
  const { report, start, end } = analysis;
  const roles = reportRoles(report);
  const rows: string[] = [`| | ${roles.map((r) => ROLE_NAME[r]).join(' | ')} |`, `|---|${roles.map(() => '---:').join('|')}|`];
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
  lines.push('', commandLink('Open the Instruction Lens panel', 'instructionLens.showPanel'));
  return { verb, form, markdown: lines.join('\n') };
}

