// The highlights' legend: a status bar item, shown while highlights are in a visible editor, that
// names the scale (tuned or base importance, or tuned − base) low → high, with the colours'
// swatches in its tooltip (src/view/legend.ts) in the colour scheme of the editor's theme, the one
// the highlights use; a click switches the highlight mode. It goes when the highlights are cleared
// or their editor is not visible, and is drawn again when the theme changes.

import * as vscode from 'vscode';
import type { ColorScheme } from '../view/colors.js';
import { highlightLegend } from '../view/legend.js';
import type { Highlights, HighlightsShown } from './highlights.js';

/**
 * The scheme a decoration's `light`/`dark` options take in a theme of this kind: VS Code applies
 * `dark` in dark and high-contrast (dark) themes, `light` in light and high-contrast light ones.
 */
export function themeScheme(kind: vscode.ColorThemeKind): ColorScheme {
  return kind === vscode.ColorThemeKind.Light || kind === vscode.ColorThemeKind.HighContrastLight ? 'light' : 'dark';
}

export function registerLegend(highlights: Highlights): vscode.Disposable {
  const item = vscode.window.createStatusBarItem('instructionLens.legend', vscode.StatusBarAlignment.Right, 99);
  item.name = 'Instruction Lens Highlights';
  item.command = 'instructionLens.toggleHighlight';
  let last: HighlightsShown | null = null;
  const update = (shown: HighlightsShown | null) => {
    last = shown;
    if (!shown) {
      item.hide();
      return;
    }
    const legend = highlightLegend(shown.mode, shown.stale, themeScheme(vscode.window.activeColorTheme.kind));
    item.text = legend.text;
    const tooltip = new vscode.MarkdownString(legend.tooltip);
    tooltip.supportHtml = true;
    item.tooltip = tooltip;
    item.accessibilityInformation = { label: legend.label };
    item.show();
  };
  const subscriptions = [highlights.onDidRefresh(update), vscode.window.onDidChangeActiveColorTheme(() => update(last))];
  return { dispose: () => (subscriptions.forEach((s) => s.dispose()), item.dispose()) };
}
