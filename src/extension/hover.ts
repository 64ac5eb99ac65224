// The hover on an instruction verb (any inflection: matchInstructionVerb), in the languages of
// `instructionLens.hoverLanguages`. Inside the analysed range it shows both models' importance for
// the word (density and rank among the prompt's words), its head statistics when the report has a
// heads section, and a link that opens the panel. Outside the analysed text it shows nothing.

import * as vscode from 'vscode';
import { verbHoverMarkdown } from '../shared/verb-hover.js';
import type { AnalysisStore } from './analysis.js';
import type { LensContext } from './context.js';

const WORD = /[\p{L}\p{M}'’]+/u;

export class VerbHover implements vscode.HoverProvider {
  constructor(
    private readonly lens: LensContext,
    private readonly store: AnalysisStore,
  ) {}

  provideHover(document: vscode.TextDocument, position: vscode.Position): vscode.Hover | undefined {
    const range = document.getWordRangeAtPosition(position, WORD);
    if (!range) return undefined;
    const form = document.getText(range).replace(/^['’]+|['’]+$/g, '');
    // Only inside the analysed text: elsewhere there is nothing to show (and prose is full of verbs).
    const analysed = this.store.rangeIn(document);
    const analysis = this.store.analysis;
    if (!analysed || !analysis || analysis.stale || !analysed.contains(range)) return undefined;
    const start = document.offsetAt(range.start) - analysis.offset;
    const content = verbHoverMarkdown(form, this.lens.settings().verbs, { report: analysis.report, start, end: start + document.getText(range).length });
    if (!content) return undefined;
    const markdown = new vscode.MarkdownString(content.markdown);
    markdown.isTrusted = { enabledCommands: ['instructionLens.showPanel'] };
    markdown.supportHtml = false;
    return new vscode.Hover(markdown, range);
  }
}

/** Registers the hover for the configured languages, again whenever the setting changes. */
export function registerVerbHover(lens: LensContext, store: AnalysisStore): vscode.Disposable {
  const provider = new VerbHover(lens, store);
  let registration: vscode.Disposable | undefined;
  const register = () => {
    registration?.dispose();
    const selector = lens.settings().hoverLanguages.map((language) => ({ language }));
    registration = selector.length ? vscode.languages.registerHoverProvider(selector, provider) : undefined;
  };
  register();
  const watch = vscode.workspace.onDidChangeConfiguration((e) => {
    if (e.affectsConfiguration('instructionLens.hoverLanguages')) register();
  });
  return { dispose: () => (watch.dispose(), registration?.dispose()) };
}
