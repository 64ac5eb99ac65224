// The comparison panel: one webview panel (dist/webview.js in the HTML shell of
// src/shared/panel-html.ts, a fresh CSP nonce per load), typed messages both ways
// (src/contract/panel.ts), and a WebviewPanelSerializer so that a panel open when VS Code
// closed comes back. retainContextWhenHidden is off: a hidden panel's page is destroyed and
// rebuilt from its own saved state (vscode.getState) when shown; on `ready` the extension sends the
// current document again only when the page holds an older one.

import * as vscode from 'vscode';
import { createNonce, panelHtml } from '../shared/panel-html.js';
import {
  PANEL_VIEW_TYPE,
  parseFromWebview,
  parseState,
  type FromWebview,
  type HighlightMode,
  type PanelDocument,
  type PanelFailure,
  type PanelTab,
  type RenderedCounts,
  type ToWebview,
} from '../contract/panel.js';
import type { LensContext } from './context.js';
import { panelReportProblem } from '../engine/report-validation.js';

export interface PanelHandlers {
  /** Messages other than ready/rendered/error/tab, checked. */
  onMessage(message: FromWebview): void;
}

export class LensPanel implements vscode.Disposable {
  private panel: vscode.WebviewPanel | undefined;
  private panelSubscriptions: vscode.Disposable[] = [];
  private document: PanelDocument | undefined;
  private tab: PanelTab = 'attribution';
  private mode: HighlightMode = 'difference';
  private busy: string | null = null;
  private failure: PanelFailure | null = null;
  /** The document came from the extension (an analysis), not only from the page's saved state. */
  private live = false;
  /** The analysis of before the reload was looked for (restoreSettled): an adopted document without one is a snapshot. */
  private settled = false;
  /** What the page last said it drew (for the tests and the log). */
  lastRendered: RenderedCounts | undefined;
  private readonly renderedEmitter = new vscode.EventEmitter<RenderedCounts>();
  readonly onDidRender = this.renderedEmitter.event;

  constructor(
    private readonly lens: LensContext,
    private readonly handlers: PanelHandlers,
  ) {
    lens.own(
      vscode.window.registerWebviewPanelSerializer(PANEL_VIEW_TYPE, {
        deserializeWebviewPanel: async (panel, state) => this.adopt(panel, state),
      }),
    );
  }

  get visible(): boolean {
    return this.panel?.visible ?? false;
  }

  get isOpen(): boolean {
    return this.panel !== undefined;
  }

  /** Shows a new document (or the same one again), on `tab` when given. */
  show(document: PanelDocument | undefined, options: { tab?: PanelTab; preserveFocus?: boolean } = {}): void {
    if (document) {
      this.document = document;
      this.live = true;
      this.failure = null;
    }
    if (options.tab) this.tab = options.tab;
    if (!this.panel) {
      const panel = vscode.window.createWebviewPanel(PANEL_VIEW_TYPE, 'Instruction Lens', { viewColumn: vscode.ViewColumn.Beside, preserveFocus: options.preserveFocus ?? true }, this.webviewOptions());
      this.attach(panel);
    } else {
      this.panel.reveal(undefined, options.preserveFocus ?? true);
    }
    if (this.document) this.post({ type: 'document', document: this.document, tab: this.tab, mode: this.mode });
    if (options.tab && !document) this.post({ type: 'showTab', tab: options.tab });
  }

  /** The document of an analysis restored after a reload: sent to the page when it is (or comes) up, nothing revealed. */
  restore(document: PanelDocument): void {
    if (this.document && this.document.id > document.id) return;
    this.document = document;
    this.live = true;
    this.post({ type: 'document', document, tab: this.tab, mode: this.mode });
  }

  /**
   * The analysis of before the reload came back (restore) or could not (its prompt's file gone or
   * changed): a document the page restored from its own state then is a snapshot, and says so.
   */
  restoreSettled(): void {
    this.settled = true;
    this.markSnapshot();
  }

  private markSnapshot(): void {
    if (!this.settled || this.live || !this.document || this.document.snapshot) return;
    this.document = { ...this.document, snapshot: true };
    this.post({ type: 'document', document: this.document, tab: this.tab, mode: this.mode });
  }

  /** What the panel shows (a document restored from the page's own state after a reload included). */
  get current(): PanelDocument | undefined {
    return this.document;
  }

  /** Updates the document the panel shows without revealing it (sections computed later). */
  update(document: PanelDocument): void {
    const same = this.document?.id === document.id;
    this.document = document;
    this.live = true;
    if (same) this.post({ type: 'sections', documentId: document.id, sections: document.sections, report: document.report });
    else this.post({ type: 'document', document, tab: this.tab, mode: this.mode });
  }

  /** The analysed text of document `id` was edited since its run (or is back as it was). */
  setEdited(id: number, edited: boolean): void {
    if (this.document?.id !== id || Boolean(this.document.edited) === edited) return;
    this.document = { ...this.document, edited };
    this.post({ type: 'edited', documentId: id, edited });
  }

  /** Shows a failed run where its results would be (null: clears it); opens the panel when it is closed. */
  setFailure(failure: PanelFailure | null): void {
    this.failure = failure;
    if (failure && !this.panel) this.show(undefined);
    this.post({ type: 'failure', failure });
  }

  setBusy(message: string | null): void {
    this.busy = message;
    this.post({ type: 'busy', message });
  }

  setMode(mode: HighlightMode): void {
    this.mode = mode;
    this.post({ type: 'highlight', mode });
  }

  private post(message: ToWebview): void {
    void this.panel?.webview.postMessage(message);
  }

  private webviewOptions(): vscode.WebviewOptions & vscode.WebviewPanelOptions {
    return {
      enableScripts: true,
      retainContextWhenHidden: false,
      enableFindWidget: true,
      localResourceRoots: [vscode.Uri.joinPath(this.lens.extension.extensionUri, 'dist')],
    };
  }

  /** A panel VS Code restored after a restart: its page restores itself from `state`. */
  private adopt(panel: vscode.WebviewPanel, state: unknown): void {
    const restored = parseState(state);
    // The state comes back from the webview: its report is adopted only if it still has the contract's shape.
    if (!this.document && restored.document && panelReportProblem(restored.document.report) === null) this.document = restored.document;
    this.tab = restored.tab;
    this.mode = restored.mode;
    panel.webview.options = this.webviewOptions();
    this.attach(panel);
    this.markSnapshot();
  }

  private attach(panel: vscode.WebviewPanel): void {
    this.panel?.dispose();
    this.panel = panel;
    panel.iconPath = vscode.Uri.joinPath(this.lens.extension.extensionUri, 'media', 'icon.png');
    const dist = (file: string) => panel.webview.asWebviewUri(vscode.Uri.joinPath(this.lens.extension.extensionUri, 'dist', file)).toString();
    panel.webview.html = panelHtml({ cspSource: panel.webview.cspSource, nonce: createNonce(), scriptUri: dist('webview.js'), styleUri: dist('webview.css') });
    this.panelSubscriptions = [
      panel.webview.onDidReceiveMessage((raw) => this.receive(raw)),
      panel.onDidDispose(() => {
        if (this.panel !== panel) return;
        this.panel = undefined;
        for (const s of this.panelSubscriptions.splice(0)) s.dispose();
      }),
    ];
  }

  private receive(raw: unknown): void {
    const message = parseFromWebview(raw);
    if (!message) {
      this.lens.log('Panel: ignored a malformed message.');
      return;
    }
    switch (message.type) {
      case 'ready':
        // A page that was rebuilt (shown again, restored) has its own state; send only what is newer.
        if (this.document && (message.documentId !== this.document.id || this.document.snapshot)) this.post({ type: 'document', document: this.document, tab: this.tab, mode: this.mode });
        if (this.busy) this.post({ type: 'busy', message: this.busy });
        if (this.failure) this.post({ type: 'failure', failure: this.failure });
        return;
      case 'tab':
        this.tab = message.tab;
        return;
      case 'rendered': {
        const { type: _type, ...counts } = message;
        this.lastRendered = counts;
        this.renderedEmitter.fire(counts);
        return;
      }
      case 'error':
        this.lens.log(`Panel script error: ${message.message}`);
        return;
      default:
        this.handlers.onMessage(message);
    }
  }

  dispose(): void {
    this.panel?.dispose();
    this.renderedEmitter.dispose();
  }
}
