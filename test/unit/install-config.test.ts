// How the project installs: npm must not warn on any command, and onnxruntime-node's install step
// (which downloads CUDA binaries from outside the npm registry) must stay skipped through a setting
// npm honours: the `allowScripts` field of package.json, not an unknown `.npmrc` key.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = join(__dirname, '..', '..');
const npm = (...args: string[]) => spawnSync('npm', args, { cwd: ROOT, encoding: 'utf8', env: { ...process.env, npm_config_update_notifier: 'false' } });

describe('install configuration', () => {
  it('npm prints no warning for a plain command in the project', () => {
    const run = npm('pkg', 'get', 'name');
    assert.equal(run.status, 0, run.stderr);
    assert.doesNotMatch(run.stderr, /warn/i, `npm warned: ${run.stderr}`);
  });

  it("denies onnxruntime-node's install script (the CUDA download) in package.json's allowScripts", () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { allowScripts?: Record<string, boolean> };
    assert.equal(pkg.allowScripts?.['onnxruntime-node'], false);
  });

  it('every installed dependency with an install script has a recorded decision', () => {
    const run = npm('install-scripts', 'ls');
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /No packages with unreviewed install scripts/, run.stdout);
  });
});
