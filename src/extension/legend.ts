// The highlights' legend: a status bar item, shown while highlights are in a visible editor, that
// names the scale (tuned or base importance, or tuned − base) low → high, with the colours'
// swatches in its tooltip (src/view/legend.ts); a click switches the highlight mode. It goes when
// the highlights are cleared or their editor is not visible.

import * as vscode from 'vscode';
import { highlightLegend } from '../view/legend.js';
import type { Highlights, HighlightsShown } from './highlights.js';

export function registerLegend(highlights: Highlights): vscode.Disposable {
  const item = vscode.window.createStatusBarItem('instructionLens.legend', vscode.StatusBarAlignment.Right, 99);
  item.name = 'Instruction Lens Highlights';
  item.command = 'instructionLens.toggleHighlight';
  const update = (shown: HighlightsShown | null) => {
    if (!shown) {
      item.hide();
      return;
    }
    const legend = highlightLegend(shown.mode, shown.stale);
    item.text = legend.text;
    const tooltip = new vscode.MarkdownString(legend.tooltip);
    tooltip.supportHtml = true;
    item.tooltip = tooltip;
    item.accessibilityInformation = { label: legend.label };
    item.show();
  };
  const subscription = highlights.onDidRefresh(update);
  return { dispose: () => (subscription.dispose(), item.dispose()) };
}
