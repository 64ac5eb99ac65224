// `npm test`'s view of the @vscode/test-electron suite (`npm run test:vscode`): it runs where VS
// Code can be downloaded (or is in .vscode-test/ already) and reports itself SKIPPED — not passed —
// where it cannot, such as CI here, whose only network is the npm registry.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { it } from 'node:test';

const root = resolve(__dirname, '..', '..');

async function downloadReachable(): Promise<string | null> {
  try {
    const response = await fetch('https://update.code.visualstudio.com/api/releases/stable', { signal: AbortSignal.timeout(5000) });
    return response.ok ? null : `update.code.visualstudio.com answered ${response.status}`;
  } catch (e) {
    const cause = (e as { cause?: { code?: string } }).cause?.code;
    return `update.code.visualstudio.com unreachable (${cause ?? (e as Error).message})`;
  }
}

it('the @vscode/test-electron suite (npm run test:vscode)', { timeout: 15 * 60_000 }, async (t) => {
  const cache = join(root, '.vscode-test');
  const cached = existsSync(cache) && readdirSync(cache).some((name) => name.startsWith('vscode-'));
  const unreachable = cached ? null : await downloadReachable();
  if (unreachable) {
    t.skip(`VS Code download unavailable: ${unreachable}; run \`npm run test:vscode\` where it is`);
    return;
  }
  const result = spawnSync(process.execPath, [join(root, 'scripts', 'test-vscode.mjs')], { cwd: root, encoding: 'utf8', timeout: 14 * 60_000 });
  const output = `${result.stdout}\n${result.stderr}`;
  const skipped = /^SKIPPED: (.*)$/m.exec(output);
  if (skipped) {
    t.skip(skipped[1]!);
    return;
  }
  assert.equal(result.status, 0, output.slice(-4000));
  assert.match(output, /PASSED: the @vscode\/test-electron suite/);
});
