// The extension in a real VS Code: code-server (installed by ../shared/tools/setup-code-server.sh)
// driven by Playwright through Debian's Chromium. The repository is the extension (linked into a
// fresh extensions folder; LENS_E2E_VSIX=file.vsix installs a packaged one instead); the workspace holds a prompt and settings that point at small
// synthetic checkpoints. Covered: the default pair and its notification; compare from the command
// palette → both heatmaps in the panel's webview and highlights in the editor; the hover on an
// instruction verb and on any other highlighted token, the highlights' legend in the status bar, its swatches in the light and a dark theme's scheme (gone
// when they are cleared); a reload after the prompt's file is gone → a snapshot with Re-run; a long analysis during which other commands still run (the engine is its own
// process), cancelled from the notification — the engine logs that it stopped, and a new run
// works; a corrupt model folder → an error message, and the extension keeps working.
// Screenshots go to test-artifacts/vscode-*.png.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser, FrameLocator, Page } from 'playwright-core';
import { writeSyntheticCheckpoint } from '../../src/model/synthetic.js';
import { divBinColor } from '../../src/view/colors.js';
import { chromiumAvailable, launchChromium, screenshot } from '../support/browser.js';
import { codeServerBinary, startCodeServer, type CodeServer } from '../support/code-server.js';

const root = resolve(__dirname, '..', '..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { publisher: string; name: string; version: string };
// The last two lines are in the embedded demo pair's format, so that its tuned model answers too
// (on text outside its tiny world, or with a line break after the colon, it ends its response at
// once). The file ends with a line break, as files do: the extension leaves it out of the prompt.
const PROMPT = 'Summarize the article below in two sentences, as it is written.\nThe city council voted on Tuesday to expand the bike lanes.\nThe words: red horse shoe key.\nCapitalize:\n';

const binary = chromiumAvailable() ? codeServerBinary() : { reason: 'Chromium not installed (/usr/bin/chromium)' };
const skip = 'reason' in binary ? `code-server unavailable: ${binary.reason}` : false;

describe('Instruction Lens in a real VS Code (code-server + Chromium)', { skip, timeout: 300_000 }, () => {
  let dir: string;
  let workspace: string;
  let userData: string;
  let models: Record<'base' | 'tuned' | 'slowBase' | 'slowTuned' | 'corrupt', string>;
  let server: CodeServer;
  let browser: Browser;
  let page: Page;
  let panel: FrameLocator;
  const panelErrors: string[] = [];

  function writeSettings(settings: Record<string, unknown>): void {
    writeFileSync(join(workspace, '.vscode', 'settings.json'), JSON.stringify({ 'instructionLens.executionProvider': 'cpu', 'instructionLens.maxNewTokens': 6, ...settings }, null, 2));
  }

  /** Waits until the status bar shows `base ↔ tuned` (the settings file was read). */
  async function statusShows(base: string, tuned: string): Promise<void> {
    await page.locator('.statusbar-item', { hasText: `${base} ↔ ${tuned}` }).first().waitFor({ timeout: 30_000 });
  }

  /** Runs a command from the palette (F1), retrying the typing when the list does not show it. */
  async function runCommand(title: string): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      await page.keyboard.press('Escape');
      await page.keyboard.press('F1');
      const input = page.locator('.quick-input-widget input');
      await input.waitFor({ timeout: 10_000 });
      await input.fill(`>${title}`);
      const row = page.locator('.quick-input-list .monaco-list-row', { hasText: title }).first();
      try {
        await row.waitFor({ timeout: 5_000 });
        await page.keyboard.press('Enter');
        return;
      } catch (e) {
        if (attempt >= 3) throw e;
      }
    }
  }

  /** Selects all of the editor that shows `text` (default: the first editor, prompt.md). */
  async function selectPrompt(text?: string): Promise<void> {
    const editor = (text ? page.locator('.monaco-editor .view-lines', { hasText: text }) : page.locator('.monaco-editor .view-lines')).first();
    await editor.click();
    await page.keyboard.press('Control+A');
  }

  /** The text of the panel header's date line (changes with every new document). */
  async function panelStamp(): Promise<string> {
    return (await panel.locator('header.top p.muted').first().innerText({ timeout: 60_000 })).trim();
  }

  /** Opens a workspace file with Quick Open and waits for `text` in its editor. */
  async function openFile(name: string, text: string): Promise<void> {
    await page.keyboard.press('Escape');
    // In the first editor group (the panel is beside it).
    await page.locator('.monaco-editor .view-lines').first().click();
    await page.keyboard.press('Control+P');
    await page.locator('.quick-input-widget input').fill(name);
    await page.locator('.quick-input-list .monaco-list-row', { hasText: name }).first().waitFor();
    await page.keyboard.press('Enter');
    await page.locator('.monaco-editor .view-lines', { hasText: text }).first().waitFor();
  }

  async function waitForNewDocument(previous: string | null, timeout = 90_000): Promise<void> {
    const deadline = Date.now() + timeout;
    for (;;) {
      try {
        const stamp = await panel.locator('header.top p.muted').first().innerText({ timeout: 2_000 });
        if (stamp.trim() !== previous && (await panel.locator('.heatmap-base .tok').count()) > 0) return;
      } catch {
        // the webview is (re)loading
      }
      if (Date.now() > deadline) throw new Error('the panel did not show a new report');
      await page.waitForTimeout(250);
    }
  }

  /** Moves the mouse onto the middle of `word` in the first editor that shows it (its tokens may be split across spans). */
  async function hoverWord(word: string): Promise<void> {
    const box = await page.evaluate((w) => {
      for (const line of Array.from(document.querySelectorAll('.monaco-editor .view-lines .view-line'))) {
        const nodes: Text[] = [];
        const walker = document.createTreeWalker(line, NodeFilter.SHOW_TEXT);
        for (let n = walker.nextNode(); n; n = walker.nextNode()) nodes.push(n as Text);
        const text = nodes.map((n) => n.data).join('').replace(/\u00a0/g, ' ');
        const at = text.search(new RegExp(`\\b${w}\\b`));
        if (at < 0) continue;
        let target = at + Math.floor(w.length / 2);
        for (const n of nodes) {
          if (target < n.data.length) {
            const range = document.createRange();
            range.setStart(n, target);
            range.setEnd(n, target + 1);
            const r = range.getBoundingClientRect();
            return { x: r.left + r.width / 2, y: r.top + r.height / 2 };
          }
          target -= n.data.length;
        }
      }
      return null;
    }, word);
    assert.ok(box, `${word} in the editor`);
    await page.mouse.move(box.x, box.y);
  }

  async function editorDecorations(): Promise<number> {
    return page.locator('.monaco-editor .view-lines span[class*="ced-"]').count();
  }

  async function until(what: string, probe: () => Promise<boolean>, timeout = 30_000): Promise<number> {
    const started = Date.now();
    while (!(await probe())) {
      if (Date.now() - started > timeout) throw new Error(`timed out: ${what}`);
      await page.waitForTimeout(100);
    }
    return Date.now() - started;
  }

  /** Lines of the extension's log channel, which VS Code keeps as a file under the user data folder. */
  function extensionLog(): string {
    const found: string[] = [];
    const walk = (d: string) => {
      for (const name of readdirSync(d)) {
        const path = join(d, name);
        if (statSync(path).isDirectory()) walk(path);
        else if (name.endsWith('Instruction Lens.log')) found.push(readFileSync(path, 'utf8'));
      }
    };
    if (existsSync(join(userData, 'logs'))) walk(join(userData, 'logs'));
    return found.join('\n');
  }

  before(async () => {
    if ('reason' in binary) return;
    if (!existsSync(join(root, 'dist', 'extension.js'))) execFileSync(process.execPath, [join(root, 'scripts', 'build.mjs')], { cwd: root, stdio: 'inherit' });
    dir = mkdtempSync(join(tmpdir(), 'lens-vscode-e2e-'));
    models = {
      base: join(dir, 'models', 'base'),
      tuned: join(dir, 'models', 'tuned'),
      slowBase: join(dir, 'models', 'slow-base'),
      slowTuned: join(dir, 'models', 'slow-tuned'),
      corrupt: join(dir, 'models', 'corrupt'),
    };
    // Tiny models answer in seconds; the slow pair takes well over a minute per comparison on two cores.
    const slow = { preset: 'tiny', hiddenSize: 512, intermediateSize: 1024, numLayers: 6, maxPositionEmbeddings: 2048 } as const;
    await Promise.all([
      writeSyntheticCheckpoint(models.base, { preset: 'tiny', seed: 1 }),
      writeSyntheticCheckpoint(models.tuned, { preset: 'tiny', seed: 2 }),
      writeSyntheticCheckpoint(models.slowBase, { ...slow, seed: 3 }),
      writeSyntheticCheckpoint(models.slowTuned, { ...slow, seed: 4 }),
    ]);
    mkdirSync(models.corrupt, { recursive: true });
    writeFileSync(join(models.corrupt, 'config.json'), '{ "architectures": ["LlamaForCausalLM"], this is not JSON');

    const extensions = join(dir, 'extensions');
    mkdirSync(extensions, { recursive: true });
    if (process.env.LENS_E2E_VSIX) {
      // The packaged extension (npm run package), installed as a user would.
      execFileSync(binary.bin, ['--extensions-dir', extensions, '--install-extension', resolve(process.env.LENS_E2E_VSIX)], { stdio: 'inherit' });
    } else {
      symlinkSync(root, join(extensions, `${pkg.publisher}.${pkg.name}-${pkg.version}`), 'dir');
    }
    userData = join(dir, 'user-data');
    mkdirSync(join(userData, 'User'), { recursive: true });
    writeFileSync(
      join(userData, 'User', 'settings.json'),
      JSON.stringify({
        'workbench.startupEditor': 'none',
        'workbench.tips.enabled': false,
        'workbench.welcomePage.walkthroughs.openOnInstall': false,
        'telemetry.telemetryLevel': 'off',
        'security.workspace.trust.enabled': false,
        'extensions.autoCheckUpdates': false,
        'extensions.autoUpdate': false,
        'update.mode': 'none',
        'editor.hover.delay': 300,
        'editor.minimap.enabled': false,
        'window.commandCenter': false,
        'chat.commandCenter.enabled': false,
        'files.autoSave': 'off',
      }),
    );
    workspace = join(dir, 'workspace');
    mkdirSync(join(workspace, '.vscode'), { recursive: true });
    writeFileSync(join(workspace, 'prompt.md'), PROMPT);
    writeSettings({});

    server = await startCodeServer({ bin: binary.bin, workspace, userDataDir: userData, extensionsDir: extensions, env: { INSTRUCTION_LENS_CACHE: join(dir, 'cache') } });
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    // The panel's console errors and any CSP violation (Chromium logs "Refused to …" for those).
    page.on('console', (message) => {
      if (message.type() !== 'error') return;
      const url = message.location().url ?? '';
      if (/webview|dist\/webview/.test(url) || /Content Security Policy|Refused to/.test(message.text())) panelErrors.push(`${message.text()} (${url})`);
    });
    await page.goto(`${server.url}?folder=${encodeURIComponent(workspace)}`);
    await page.locator('.monaco-workbench').waitFor({ timeout: 90_000 });
    await page.locator('.statusbar-item', { hasText: '↔' }).first().waitFor({ timeout: 60_000 });
    panel = page.frameLocator('iframe.webview.ready').frameLocator('#active-frame');
    await page.keyboard.press('Control+P');
    await page.locator('.quick-input-widget input').fill('prompt.md');
    await page.locator('.quick-input-list .monaco-list-row', { hasText: 'prompt.md' }).first().waitFor();
    await page.keyboard.press('Enter');
    await page.locator('.monaco-editor .view-lines', { hasText: 'Summarize' }).first().waitFor();
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('uses the embedded default pair when no models are set, and says so', async () => {
    await statusShows('default model', 'default model');
    await selectPrompt();
    await runCommand('Instruction Lens: Compare Models on Selection');
    await page.locator('.notification-toast', { hasText: 'using the embedded demo pair' }).first().waitFor({ timeout: 60_000 });
    await waitForNewDocument(null, 120_000);
    await screenshot(page, 'vscode-default-pair', { fullPage: false });
  });

  it('compares from the command palette: both heatmaps in the panel, highlights in the editor, a hover on a verb', async () => {
    writeSettings({ 'instructionLens.baseModel': models.base, 'instructionLens.tunedModel': models.tuned });
    await statusShows('base', 'tuned');
    const before = await panelStamp();
    await selectPrompt();
    await runCommand('Instruction Lens: Compare Models on Selection');
    await waitForNewDocument(before);
    assert.ok((await panel.locator('.heatmap-base .tok').count()) > 5, 'the base model’s heatmap');
    assert.ok((await panel.locator('.heatmap-tuned .tok').count()) > 5, 'the tuned model’s heatmap');
    assert.match(await panel.locator('header .models').innerText(), /base.*tuned/s);
    await until('the editor highlights', async () => (await editorDecorations()) > 5);
    await screenshot(page, 'vscode-compare', { fullPage: false });

    // The hover on an inflected instruction verb ("written" → write) inside the analysed text.
    await page.keyboard.press('Control+End');
    const written = page.locator('.monaco-editor .view-lines span span', { hasText: /^\s*written$/ }).first();
    await written.hover();
    const hover = page.locator('.monaco-hover', { hasText: 'Instruction verb' }).first();
    try {
      await hover.waitFor({ state: 'visible', timeout: 10_000 });
    } catch {
      // A hover can be swallowed by a moving mouse: move away and back once.
      await page.mouse.move(5, 5);
      await written.hover();
      await hover.waitFor({ state: 'visible', timeout: 10_000 });
    }
    const text = await hover.innerText();
    assert.match(text, /write/);
    assert.match(text, /Importance/);
    assert.match(text, /Base/);
    assert.match(text, /Tuned/);
    assert.match(text, /Open the Instruction Lens panel/);
    await screenshot(page, 'vscode-hover', { fullPage: false });
    await page.mouse.move(5, 5);

    // Any highlighted token has a hover: a word that is no verb shows both models' importance, its rank, instruction or not.
    const tokenHover = page.locator('.monaco-hover', { hasText: 'Importance (token density)' }).first();
    for (let attempt = 1; ; attempt++) {
      await hoverWord('council');
      try {
        await tokenHover.waitFor({ state: 'visible', timeout: 10_000 });
        break;
      } catch (e) {
        await page.mouse.move(5, 5);
        if (attempt >= 2) throw e;
      }
    }
    const tokenText = await tokenHover.innerText();
    assert.match(tokenText, /Base\s+Tuned/);
    assert.match(tokenText, /Importance \(token density\)\s+[-0-9.e]+\s+[-0-9.e]+/, tokenText);
    assert.match(tokenText, /Rank among the prompt’s tokens\s+\d+ of \d+\s+\d+ of \d+/, tokenText);
    assert.match(tokenText, /Part of an instruction\s+(yes|no)\s+(yes|no)/);
    assert.doesNotMatch(tokenText, /Instruction verb/, 'council is no verb');
    await screenshot(page, 'vscode-token-hover', { fullPage: false });
    await page.mouse.move(5, 5);

    // The legend of the highlights' colours in the status bar, with the swatches in its tooltip.
    const legend = page.locator('.statusbar-item', { hasText: 'Instruction Lens: tuned − base' }).first();
    await legend.waitFor({ timeout: 10_000 });
    assert.match(await legend.innerText(), /base ▓▒░│░▒▓ tuned/);
    // Its swatches are the highlights' own colours in the theme's scheme: in the light theme the
    // tests run in, then in a dark one (chosen with the theme picker, then the light one again).
    const workbenchScheme = () => page.locator('.monaco-workbench').first().evaluate((n) => (n.classList.contains('vs') || n.classList.contains('hc-light') ? 'light' : 'dark'));
    const firstSwatch = async (scheme: 'light' | 'dark') => {
      await until(`the workbench in a ${scheme} theme`, async () => (await workbenchScheme()) === scheme);
      await page.mouse.move(5, 5);
      await legend.hover();
      const [r, g, b] = divBinColor(0, scheme);
      const swatch = page.locator('.monaco-hover span[style*="background-color"]').first();
      await until(`the legend's ${scheme} swatches`, async () => (await swatch.count()) > 0 && (await swatch.evaluate((n) => getComputedStyle(n).backgroundColor)) === `rgb(${r}, ${g}, ${b})`, 10_000);
    };
    const pickTheme = async (label: string) => {
      // The palette row clicked by its exact title: Enter could take "Browse Color Themes in Marketplace".
      await page.keyboard.press('Escape');
      await page.keyboard.press('F1');
      await page.locator('.quick-input-widget input').fill('>Preferences: Color Theme');
      await page.locator('.quick-input-list .monaco-list-row', { hasText: /^Preferences: Color Theme/ }).first().click();
      await page.locator('.quick-input-widget input').fill(label);
      await page.locator('.quick-input-list .monaco-list-row', { hasText: label }).first().waitFor({ timeout: 10_000 });
      await page.keyboard.press('Enter');
    };
    await firstSwatch('light');
    await pickTheme('Dark Modern');
    await firstSwatch('dark');
    await pickTheme('Light Modern');
    await until('the workbench back in its light theme', async () => (await workbenchScheme()) === 'light');
    await page.mouse.move(5, 5);
  });

  it('edit → compare again: the range follows the edit, the edited prompt runs, both runs in the panel’s history', async () => {
    const before = await panelStamp();
    const runsBefore = await panel.locator('.history ol.runs li').count();
    // Edit the verb of the analysed prompt: "Capitalize:" → "Reverse:".
    const verb = page.locator('.monaco-editor .view-lines span span', { hasText: /^Capitalize:?$/ }).first();
    await verb.dblclick();
    await page.keyboard.type('Reverse');
    await page.locator('.monaco-editor .view-lines', { hasText: 'Reverse:' }).first().waitFor();
    // The highlights stay (dimmed, marked edited) instead of going; the panel says the report is of the earlier text.
    await until('the edited mark after the analysed range', () =>
      page.evaluate(() => Array.from(document.querySelectorAll('.monaco-editor .view-lines span[class*="ced-"]')).some((node) => getComputedStyle(node, '::after').content.includes('edited since the last run'))));
    assert.ok((await editorDecorations()) > 5, 'the untouched tokens keep their highlights');
    await panel.locator('[data-state="edited"]').waitFor({ timeout: 10_000 });
    await screenshot(page, 'vscode-edited', { fullPage: false });
    // A line after the prompt that is not part of it; then Compare again with nothing selected:
    // exactly the edited prompt runs.
    await page.keyboard.press('Control+End');
    await page.keyboard.type('Not part of the prompt.');
    await page.keyboard.press('Control+Home');
    await panel.locator('vscode-button[data-command="compare"]').click();
    await waitForNewDocument(before);
    const heatmap = await panel.locator('.heatmap-tuned').innerText();
    assert.match(heatmap, /Reverse/, 'the edited prompt');
    assert.doesNotMatch(heatmap, /Capitalize|Not part/, 'exactly the edited prompt: not the earlier text, not the whole file');
    assert.equal(await panel.locator('[data-state="edited"]').count(), 0, 'the new run is of the edited text');
    await until('both runs in the history', async () => (await panel.locator('.history ol.runs li').count()) === Math.max(runsBefore, 1) + 1);
    const moves = await panel.locator('.history ul.moves').innerText();
    assert.match(moves, /tuned \S+ → \S+;/, 'the tuned model’s score change');
    assert.match(moves, /base \S+ → \S+;/, 'the base model’s score change');
    assert.match(moves, /'Capitalize:?' \S+ → –|'Reverse:?' – → \S+/, 'the edited word moved');
    await screenshot(page, 'vscode-history', { fullPage: false });
  });

  it('reload the window: the panel, the highlights and Export come back', async () => {
    const stamp = await panelStamp();
    const runs = await panel.locator('.history ol.runs li').count();
    assert.ok(runs >= 2, 'the runs of the edit test');
    await runCommand('Developer: Reload Window');
    await page.locator('.monaco-workbench').waitFor({ timeout: 90_000 });
    await page.locator('.statusbar-item', { hasText: 'base ↔ tuned' }).first().waitFor({ timeout: 60_000 });
    await until('the panel back with its report', async () => (await panelStamp().catch(() => '')) === stamp, 60_000);
    assert.equal(await panel.locator('.history ol.runs li').count(), runs, 'the history is back');
    await until('the highlights back', async () => (await editorDecorations()) > 5, 30_000);
    // Export works: JSON, saved where the dialog proposes (the workspace folder).
    const out = join(workspace, 'instruction-lens-report.json');
    rmSync(out, { force: true });
    await runCommand('Instruction Lens: Export Report');
    const pick = page.locator('.quick-input-list .monaco-list-row', { hasText: 'JSON' }).first();
    await pick.waitFor({ timeout: 10_000 });
    await pick.click();
    // code-server's save dialog: a quick input with the proposed path.
    const input = page.locator('.quick-input-widget input');
    await until('the save dialog', async () => /instruction-lens-report\.json/.test(await input.inputValue().catch(() => '')), 10_000);
    await page.keyboard.press('Enter');
    await page.locator('.notification-toast', { hasText: 'report written' }).first().waitFor({ timeout: 15_000 });
    assert.equal(await page.locator('.notification-toast', { hasText: 'report written' }).locator('.monaco-button', { hasText: 'Open' }).count(), 1, 'an Open button');
    const exported = JSON.parse(readFileSync(out, 'utf8'));
    assert.equal(exported.schema, 'instruction-lens/report@1');
    assert.match(exported.prompt, /Reverse:$/);
    await screenshot(page, 'vscode-after-reload', { fullPage: false });
  });

  it('reload after the prompt’s file is gone: the panel says it is a snapshot and Re-run compares its prompt in a new editor', async () => {
    writeFileSync(join(workspace, 'snap.md'), 'The words: red cat shoe key.\nCapitalize:\n');
    // From the Explorer (Quick Open's file index can lag behind a file written after a window reload),
    // into the first editor group (the panel is beside it).
    await page.locator('.tabs-container .tab', { hasText: 'prompt.md' }).first().click();
    await page.locator('.explorer-folders-view .monaco-list-row', { hasText: 'snap.md' }).first().click({ timeout: 30_000 });
    await page.locator('.monaco-editor .view-lines', { hasText: 'red cat' }).first().waitFor();
    await screenshot(page, 'vscode-snapshot-opened', { fullPage: false });
    const before = await panelStamp();
    await selectPrompt('red cat');
    await runCommand('Instruction Lens: Compare Models on Selection');
    await waitForNewDocument(before);
    const stamp = await panelStamp();
    // Its editor closed (a middle click on its tab), then the file deleted.
    const tab = page.locator('.tabs-container .tab', { hasText: 'snap.md' }).first();
    await tab.click({ button: 'middle' });
    try {
      await tab.waitFor({ state: 'detached', timeout: 10_000 });
    } catch (e) {
      await screenshot(page, 'vscode-snapshot-close-failed', { fullPage: false });
      throw e;
    }
    assert.equal(await panelStamp(), stamp, 'the panel is still open');
    rmSync(join(workspace, 'snap.md'));
    await runCommand('Developer: Reload Window');
    await page.locator('.monaco-workbench').waitFor({ timeout: 90_000 });
    await page.locator('.statusbar-item', { hasText: 'base ↔ tuned' }).first().waitFor({ timeout: 60_000 });
    await until('the panel back with its report', async () => (await panelStamp().catch(() => '')) === stamp, 60_000);
    const banner = panel.locator('[data-state="snapshot"]');
    await banner.waitFor({ timeout: 30_000 });
    assert.match(await banner.innerText(), /snapshot.*snap\.md.*not found again/s);
    await screenshot(page, 'vscode-snapshot', { fullPage: false });
    await banner.locator('vscode-button[data-command="compare-snapshot"]').click();
    await waitForNewDocument(stamp);
    assert.match(await panel.locator('.heatmap-tuned').innerText(), /cat/, 'the snapshot’s prompt ran again');
    assert.equal(await panel.locator('[data-state="snapshot"]').count(), 0, 'the new run is no snapshot');
    await page.locator('.monaco-editor .view-lines', { hasText: 'red cat' }).first().waitFor();
    await until('the new run’s highlights in its editor', async () => (await editorDecorations()) > 3);
    await runCommand('View: Revert and Close Editor');
  });

  it('a prompt a model cannot continue: the panel says so where the results would be, shows the other model, offers Choose Models', async () => {
    // The embedded demo pair knows only its tiny world: its tuned model ends its response at once here.
    writeSettings({});
    await statusShows('default model', 'default model');
    writeFileSync(join(workspace, 'odd.md'), 'Hello there, my friend. How are you today?\n');
    await openFile('odd.md', 'friend');
    await selectPrompt('friend');
    await runCommand('Instruction Lens: Compare Models on Selection');
    const notice = panel.locator('[data-state="missing"], [data-state="failed"]').first();
    try {
      await notice.waitFor({ timeout: 120_000 });
    } catch (e) {
      await screenshot(page, 'vscode-cannot-continue-timeout', { fullPage: false });
      process.stdout.write(`# extension log:\n${extensionLog().split('\n').slice(-15).join('\n')}\n`);
      throw e;
    }
    assert.match(await notice.innerText(), /produced nothing|Neither model produced a response/);
    assert.doesNotMatch(await notice.innerText(), /--response|CLI|\/models\/demo/, 'no CLI flag and no path in the message');
    const choose = notice.locator('vscode-button[data-action="selectModels"]');
    assert.equal(await choose.count(), 1, 'the Choose Models action');
    assert.equal(await page.locator('.notification-toast', { hasText: '--response' }).count(), 0, 'no toast with a CLI flag');
    await screenshot(page, 'vscode-cannot-continue', { fullPage: false });
    // The action opens the model picker.
    await choose.click();
    await page.locator('.quick-input-widget', { hasText: 'Embedded default' }).first().waitFor({ timeout: 10_000 });
    await page.keyboard.press('Escape');
    writeSettings({ 'instructionLens.baseModel': models.base, 'instructionLens.tunedModel': models.tuned });
    await statusShows('base', 'tuned');
    assert.deepEqual(panelErrors, [], 'no console error in the panel and no CSP violation in these flows');
    assert.doesNotMatch(extensionLog(), /Panel script error/, 'the panel reported no script error');
    // Back to prompt.md (its tab), for the tests that follow.
    await page.locator('.tabs-container .tab', { hasText: 'prompt.md' }).first().click();
    await page.locator('.monaco-editor .view-lines', { hasText: 'Summarize' }).first().waitFor();
    // Open Settings: the settings where the models take effect (code-server: its Remote tab).
    await notice.locator('vscode-button[data-action="openSettings"]').click();
    await page.locator('.settings-editor .settings-tabs-widget .action-label.checked', { hasText: 'Remote' }).first().waitFor({ timeout: 15_000 });
    await screenshot(page, 'vscode-open-settings', { fullPage: false });
    await page.locator('.tabs-container .tab', { hasText: 'prompt.md' }).first().click();
    await page.locator('.monaco-editor .view-lines', { hasText: 'Summarize' }).first().waitFor();
    await runCommand('Instruction Lens: Show Panel');
    // prompt.md analysed again (the tests that follow start from its highlights), the editor focused.
    const stamp = await panelStamp();
    await selectPrompt('Summarize');
    await runCommand('Instruction Lens: Compare Models on Selection');
    await waitForNewDocument(stamp);
    await until('the highlights of prompt.md', async () => (await editorDecorations()) > 5);
    await selectPrompt('Summarize');
  });

  it('stays responsive during a long analysis, and Cancel really stops the engine', async () => {
    writeSettings({ 'instructionLens.baseModel': models.slowBase, 'instructionLens.tunedModel': models.slowTuned, 'instructionLens.maxNewTokens': 400, 'instructionLens.analyses.heads': false, 'instructionLens.analyses.ffn': false });
    await statusShows('slow-base', 'slow-tuned');
    const before = await panelStamp();
    assert.ok((await editorDecorations()) > 0, 'the previous analysis is highlighted');
    await selectPrompt();
    await runCommand('Instruction Lens: Compare Models on Selection');
    const toast = page.locator('.notification-toast', { hasText: 'Instruction Lens: comparing' }).first();
    await toast.waitFor({ timeout: 30_000 });
    await page.waitForTimeout(1500);

    // The extension host answers while the engine computes: two commands, both take effect at once.
    const legend = page.locator('.statusbar-item', { hasText: /Instruction Lens: (base importance|tuned importance|tuned − base)/ });
    assert.equal(await legend.count(), 1, 'the legend while highlights are shown');
    await runCommand('Instruction Lens: Clear Highlights');
    const cleared = await until('highlights cleared during the analysis', async () => (await editorDecorations()) === 0, 10_000);
    await until('the legend gone with the highlights', async () => (await legend.count()) === 0, 10_000);
    await runCommand('Instruction Lens: Toggle Highlight (Base / Tuned / Difference)');
    const toggled = await until('highlights back during the analysis', async () => (await editorDecorations()) > 0, 10_000);
    await until('the legend back with the highlights', async () => (await legend.count()) === 1, 10_000);
    // Still running: its progress shows in the status bar (the toast hides behind the palette).
    const running = page.locator('.statusbar-item', { hasText: 'Instruction Lens: comparing' }).first();
    assert.ok(await running.isVisible(), 'the analysis still runs');
    await screenshot(page, 'vscode-running', { fullPage: false });

    // Cancel from the notification (in the notification centre, where VS Code keeps it).
    await runCommand('Notifications: Show Notifications');
    const item = page.locator('.notifications-center .notification-list-item', { hasText: 'Instruction Lens: comparing' }).first();
    await item.waitFor({ timeout: 10_000 });
    await item.hover();
    const cancelledAt = Date.now();
    await item.locator('.monaco-button', { hasText: 'Cancel' }).first().click();
    await item.waitFor({ state: 'detached', timeout: 15_000 });
    await running.waitFor({ state: 'detached', timeout: 15_000 });
    await page.keyboard.press('Escape');
    // The engine logs when its work has really stopped (the operation saw the cancel and threw).
    await until('the engine to report that it stopped', async () => /instructionLens\/compare cancelled: stopped after/.test(extensionLog()), 30_000);
    const stoppedAfter = Date.now() - cancelledAt;
    assert.ok(stoppedAfter < 30_000, `stopped ${stoppedAfter} ms after Cancel`);
    assert.equal(await panelStamp(), before, 'the cancelled run left the panel as it was');

    // A new run works, on the same engine.
    writeSettings({ 'instructionLens.baseModel': models.base, 'instructionLens.tunedModel': models.tuned });
    await statusShows('base', 'tuned');
    await selectPrompt();
    await runCommand('Instruction Lens: Compare Models on Selection');
    await waitForNewDocument(before);
    process.stdout.write(`# commands during the analysis took effect in ${cleared} ms and ${toggled} ms; the engine stopped ${stoppedAfter} ms after Cancel\n`);
  });

  it('shows an error for a corrupt model folder, and keeps working afterwards', async () => {
    writeSettings({ 'instructionLens.baseModel': models.corrupt, 'instructionLens.tunedModel': models.tuned });
    await statusShows('corrupt', 'tuned');
    const before = await panelStamp();
    await selectPrompt();
    await runCommand('Instruction Lens: Compare Models on Selection');
    const error = page.locator('.notification-toast', { hasText: 'config.json' }).first();
    await error.waitFor({ timeout: 60_000 });
    assert.match(await error.innerText(), /corrupt/);
    assert.doesNotMatch(await error.innerText(), /\/models\/corrupt/, 'the model by its short name, not its path');
    // The panel says it where the results would be, with its actions.
    const failed = panel.locator('[data-state="failed"]');
    await failed.waitFor({ timeout: 10_000 });
    assert.match(await failed.innerText(), /config\.json/);
    assert.equal(await failed.locator('vscode-button[data-action="selectModels"]').count(), 1);
    assert.equal(await failed.locator('vscode-button[data-action="showLog"]').count(), 1);
    await screenshot(page, 'vscode-corrupt-model', { fullPage: false });

    writeSettings({ 'instructionLens.baseModel': models.base, 'instructionLens.tunedModel': models.tuned });
    await statusShows('base', 'tuned');
    await selectPrompt();
    await runCommand('Instruction Lens: Compare Models on Selection');
    await waitForNewDocument(before);
    // The Summary tab states the findings with numbers.
    await panel.locator('vscode-tab-header[data-tab="summary"]').click();
    await panel.locator('vscode-tab-panel[data-tab="summary"] .finding').first().waitFor();
    assert.equal(await panel.locator('.finding').count(), 3);
    await screenshot(page, 'vscode-summary', { fullPage: false });
    // The panel's "Compare again" (a message from the webview) runs the comparison on the analysed text.
    const stamp = await panelStamp();
    await panel.locator('vscode-button[data-command="compare"]').click();
    await waitForNewDocument(stamp);
    // "Show Head Word Pairs" brings the Heads tab, with the engine's grids.
    await runCommand('Instruction Lens: Show Head Word Pairs');
    await panel.locator('vscode-tab-panel[data-tab="heads"]:not([hidden]) table.grid').first().waitFor({ timeout: 30_000 });
    assert.equal(await panel.locator('table.grid').count(), 2);
    await screenshot(page, 'vscode-heads', { fullPage: false });
  });

  it('evaluates a prompt set (Evaluate Prompt Set…) and shows its report with plots in a panel', async () => {
    writeSettings({ 'instructionLens.baseModel': models.base, 'instructionLens.tunedModel': models.tuned });
    await statusShows('base', 'tuned');
    const set = ['Summarize the text below. The council voted.', 'What is the capital of France?', 'Copy: red key'].map((prompt, k) => JSON.stringify({ id: `p${k}`, prompt }));
    writeFileSync(join(workspace, 'set.jsonl'), set.join('\n') + '\n');
    // From the Explorer (Quick Open's file index can lag behind a file written after a window reload).
    await page.locator('.explorer-folders-view .monaco-list-row', { hasText: 'set.jsonl' }).first().click({ timeout: 30_000 });
    await page.locator('.monaco-editor .view-lines', { hasText: 'capital' }).first().waitFor();
    await runCommand('Instruction Lens: Evaluate Prompt Set…');
    // The report panel: a webview whose page drew its plots (the body says how many).
    let drawn: string | undefined;
    await until('the evaluation report panel', async () => {
      for (const frame of page.frames()) {
        drawn = await frame.evaluate(() => (document.title.startsWith('Instruction Lens evaluation') ? document.body.dataset.chartsDrawn : undefined)).catch(() => undefined);
        if (drawn) return true;
      }
      return false;
    }, 120_000);
    assert.equal(drawn, '3', 'the score distributions of the one group and of all prompts, and the density plot');
    const report = JSON.parse(readFileSync(join(workspace, 'set.lens-eval', 'report.json'), 'utf8'));
    assert.deepEqual(report.results.map((r: { id: string }) => r.id), ['p0', 'p1', 'p2']);
    await screenshot(page, 'vscode-evaluate', { fullPage: false });
  });
});
