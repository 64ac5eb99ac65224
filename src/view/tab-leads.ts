/**
 * One plain sentence at the top of each panel tab, saying what it shows for this prompt, with the
 * prompt's own numbers. Pure; the panel shows it (webview/main.ts).
 */
import { reportRoles, type PanelReport, type PanelTab, type SectionName, type SectionStatus } from '../contract/panel.js';
import { findings } from './findings.js';
import { formatNumber } from './format.js';

/** Each tab's title, in the panel and in the HTML page alike. */
export const TAB_TITLE: Record<PanelTab, string> = { attribution: 'Attribution', heads: 'Heads', ffn: 'FFN', summary: 'Summary' };

const quote = (s: string) => `“${s.trim()}”`;

function strongestWord(report: PanelReport, role: 'base' | 'tuned'): string | null {
  const m = report[role];
  if (!m) return null;
  const best = [...m.words].filter((w) => /\S/.test(w.text) && Number.isFinite(w.density)).sort((a, b) => b.density - a.density || a.start - b.start)[0];
  return best ? quote(best.text) : null;
}

export function tabLead(tab: PanelTab, report: PanelReport, sections: Record<SectionName, SectionStatus>): string {
  const roles = reportRoles(report);
  switch (tab) {
    case 'attribution': {
      if (roles.length === 1) {
        const r = roles[0]!;
        const word = strongestWord(report, r);
        return `How much each word of this prompt drove the ${r === 'base' ? 'base' : 'instruction-tuned'} model’s response: its instruction score is ${formatNumber(report[r]!.instructionScore, 2)}${word ? `, and ${word} mattered most` : ''}.`;
      }
      const b = report.base!.instructionScore;
      const t = report.tuned!.instructionScore;
      const word = strongestWord(report, 'tuned');
      const lean = t > b ? 'leans more on the instruction than' : t < b ? 'leans less on the instruction than' : 'leans on the instruction as much as';
      return `How much each word of this prompt drove each model’s response: the instruction-tuned model ${lean} the base model (score ${formatNumber(t, 2)} vs ${formatNumber(b, 2)})${word ? `, and ${word} mattered most to it` : ''}.`;
    }
    case 'heads': {
      const heads = report.heads;
      if (!heads) return `Which word pairs each attention head encodes, and which heads tie this prompt’s instruction verbs to other words: ${sections.heads.state === 'computing' ? 'being computed' : 'not computed for this run'}.`;
      const verbs = [...new Set(heads.tuned.local.instructionVerbs.map((v) => v.verb))];
      const linking = (r: 'base' | 'tuned') => new Set(heads[r].verbLinks.map((l) => `${l.layer}:${l.head}`)).size;
      if (!verbs.length) return 'Which word pairs each attention head encodes; this prompt has no instruction verb, so no head links one.';
      return `Which word pairs each attention head encodes: on this prompt ${linking('tuned')} of the instruction-tuned model’s heads and ${linking('base')} of the base model’s tie the instruction verb${verbs.length > 1 ? 's' : ''} ${verbs.map(quote).join(', ')} to other words.`;
    }
    case 'ffn': {
      const ffn = report.ffn;
      if (!ffn) return `What the feed-forward layers store (their main directions, named by their closest words) and how tuning turned them: ${sections.ffn.state === 'computing' ? 'being computed' : 'not computed for this run'}.`;
      const rotation = ffn.rotation.map((r) => r.meanBestMatch).filter(Number.isFinite);
      const mean = rotation.length ? rotation.reduce((a, c) => a + c, 0) / rotation.length : NaN;
      const used = ffn.tuned.local.layers.reduce((n, l) => n + l.components.length, 0);
      return `What the feed-forward layers store (their main directions, named by their closest words): tuning turned them to a mean best-match cosine of ${formatNumber(mean, 2)} (1 = unchanged), and this prompt uses ${used} of the instruction-tuned model’s concepts.`;
    }
    case 'summary': {
      const list = findings(report, sections);
      const holds = list.filter((f) => f.status === 'holds').length;
      const measured = list.filter((f) => f.status === 'holds' || f.status === 'does-not-hold').length;
      return `Whether the paper’s ${list.length} findings about instruction tuning hold on this prompt: ${holds} of the ${measured} measured here hold.`;
    }
  }
}
