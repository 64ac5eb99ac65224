// What every tab renderer gets: the document, the view state, and ways to change them.

import type { FromWebview, PanelDocument, PanelState } from '../src/contract/panel.js';

export interface View {
  readonly doc: PanelDocument;
  readonly state: PanelState;
  /** Changes the view state and saves it (vscode.setState); no re-render. */
  patch(change: Partial<PanelState>): void;
  /** Re-renders the whole panel from the state (after a change that affects several places). */
  rerender(): void;
  post(message: FromWebview): void;
}

export const ROLE_NAME = { base: 'Base', tuned: 'Instruction-tuned' } as const;
