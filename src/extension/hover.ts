// The hover on the analysed prompt, in the languages of `instructionLens.hoverLanguages`: on every
// highlighted token both models' importance (density and rank among the prompt's tokens), whether
// it is part of an instruction, and on an instruction verb (any inflection) the word's importance and
// head statistics; a link opens the panel. While the prompt is edited since its run, the hover on a
// highlight says so and offers Compare again. Outside the analysed text it shows nothing. The
// Markdown comes from src/shared/verb-hover.ts.

import * as vscode from 'vscode';
import { HOVER_COMMANDS, tokenHoverMarkdown } from '../shared/verb-hover.js';
import type { AnalysisStore } from './analysis.js';
import type { LensContext } from './context.js';
import type { Highlights } from './highlights.js';

export class PromptHover implements vscode.HoverProvider {
  constructor(
    private readonly lens: LensContext,
    private readonly store: AnalysisStore,
    private readonly highlights: Highlights,
  ) {}

  provideHover(document: vscode.TextDocument, position: vscode.Position): vscode.Hover | undefined {
    const analysed = this.store.rangeIn(document);
    const analysis = this.store.analysis;
    if (!analysed || !analysis || !analysed.contains(position)) return undefined;
    const content = tokenHoverMarkdown({
      report: analysis.report,
      mode: this.highlights.shownMode(),
      verbs: this.lens.settings().verbs,
      offset: document.offsetAt(position),
      place: (start, end) => this.store.place(start, end, analysis),
      stale: analysis.stale,
    });
    if (!content) return undefined;
    const markdown = new vscode.MarkdownString(content.markdown);
    markdown.isTrusted = { enabledCommands: [...HOVER_COMMANDS] };
    markdown.supportHtml = false;
    return new vscode.Hover(markdown, new vscode.Range(document.positionAt(content.start), document.positionAt(content.end)));
  }
}

/** Registers the hover for the configured languages, again whenever the setting changes. */
export function registerPromptHover(lens: LensContext, store: AnalysisStore, highlights: Highlights): vscode.Disposable {
  const provider = new PromptHover(lens, store, highlights);
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
