#!/usr/bin/env node
// `npm run test:vscode`: the @vscode/test-electron suite (test/vscode/suite/index.ts) in a real
// VS Code that @vscode/test-electron downloads (to .vscode-test/, reused afterwards). Where VS Code
// cannot be downloaded (no network beyond the npm registry) it says SKIPPED and why, and exits 0
// without claiming a pass; on Linux without a display it runs under xvfb-run when that exists.
//
//   node scripts/test-vscode.mjs [--version stable|1.100.3]

import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const versionAt = process.argv.indexOf('--version');
const version = versionAt > 0 ? process.argv[versionAt + 1] : (process.env.VSCODE_TEST_VERSION ?? 'stable');

function skip(reason) {
  console.log(`SKIPPED: the @vscode/test-electron suite did not run: ${reason}`);
  process.exit(0);
}

if (process.platform === 'linux' && !process.env.DISPLAY && !process.env.INSTRUCTION_LENS_XVFB) {
  const xvfb = spawnSync('sh', ['-c', 'command -v xvfb-run'], { encoding: 'utf8' }).stdout.trim();
  if (!xvfb) skip('no display ($DISPLAY unset) and no xvfb-run (apt-get install xvfb)');
  const again = spawnSync(xvfb, ['-a', process.execPath, ...process.argv.slice(1)], { stdio: 'inherit', env: { ...process.env, INSTRUCTION_LENS_XVFB: '1' } });
  process.exit(again.status ?? 1);
}

// The extension and the suite, built.
const built = spawnSync(process.execPath, [join(root, 'scripts', 'build.mjs')], { stdio: 'inherit', cwd: root });
if (built.status !== 0) process.exit(built.status ?? 1);
const out = join(root, 'out', 'vscode-suite');
await build({
  entryPoints: { index: join(root, 'test', 'vscode', 'suite', 'index.ts') },
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  external: ['vscode', 'onnxruntime-node', 'tokenizers'],
  outdir: out,
  logLevel: 'warning',
});

const { downloadAndUnzipVSCode, runTests } = await import('@vscode/test-electron');
let vscodeExecutablePath;
try {
  vscodeExecutablePath = await Promise.race([
    downloadAndUnzipVSCode({ version, cachePath: join(root, '.vscode-test') }),
    new Promise((_, fail) => setTimeout(() => fail(new Error('no answer within 3 minutes')), 180_000).unref()),
  ]);
} catch (e) {
  skip(`VS Code download unavailable (${e instanceof Error ? e.message : e})`);
}

const work = mkdtempSync(join(tmpdir(), 'lens-vscode-suite-'));
const workspace = join(work, 'workspace');
mkdirSync(join(workspace, '.vscode'), { recursive: true });
writeFileSync(join(workspace, '.vscode', 'settings.json'), '{}\n');
try {
  await runTests({
    vscodeExecutablePath,
    extensionDevelopmentPath: root,
    extensionTestsPath: join(out, 'index.js'),
    extensionTestsEnv: { INSTRUCTION_LENS_CACHE: join(work, 'cache') },
    launchArgs: [workspace, '--disable-extensions', '--disable-workspace-trust', '--skip-welcome', '--skip-release-notes', '--user-data-dir', join(work, 'user-data'), '--no-sandbox'],
  });
  console.log('PASSED: the @vscode/test-electron suite');
} catch (e) {
  console.error(`FAILED: the @vscode/test-electron suite: ${e instanceof Error ? e.message : e}`);
  process.exitCode = 1;
} finally {
  if (existsSync(work)) rmSync(work, { recursive: true, force: true });
}
