#!/usr/bin/env node
// `npm run package`: a platform-specific VSIX that holds only that platform's native binaries.
//
//   npm run package                       linux-x64 (default)
//   npm run package -- --target win32-x64 (or VSCE_TARGET=win32-x64 npm run package)
//
// The bundles (dist/, production build: minified, no source maps) hold our code and every pure-JS
// dependency. The native runtime externals are staged into a clean folder (.package/<target>/):
// onnxruntime-node with only bin/napi-v6/<platform>/<arch>, onnxruntime-common, and tokenizers with
// only its one tokenizers.<platform>.node. The staged onnxruntime-node's package.json keeps just
// its run-time dependency (onnxruntime-common): the others serve its install script, which does not
// run from a VSIX. `vsce package --target` then packages the staged folder (.vscodeignore is its
// allow-list), and the VSIX's size is printed.

import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const targetAt = process.argv.indexOf('--target');
const target = targetAt > 0 ? process.argv[targetAt + 1] : (process.env.VSCE_TARGET ?? 'linux-x64');

/** VS Code target → onnxruntime-node's bin folder and the tokenizers binary. */
const TARGETS = {
  'linux-x64': { ort: 'linux/x64', tokenizers: 'linux-x64-gnu' },
  'linux-arm64': { ort: 'linux/arm64', tokenizers: 'linux-arm64-gnu' },
  'darwin-arm64': { ort: 'darwin/arm64', tokenizers: 'darwin-arm64' },
  'win32-x64': { ort: 'win32/x64', tokenizers: 'win32-x64-msvc' },
  'win32-arm64': { ort: 'win32/arm64', tokenizers: 'win32-arm64-msvc' },
};
const spec = TARGETS[target];
if (!spec) {
  console.error(`package: no native binaries for target '${target}' (onnxruntime-node ships ${Object.keys(TARGETS).join(', ')})`);
  process.exit(2);
}

const run = (cmd, args, cwd = root) => {
  const r = spawnSync(cmd, args, { cwd, stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
};

// 1. Production bundles.
run(process.execPath, [join(root, 'scripts', 'build.mjs'), '--production']);

// 2. The staging folder.
const stage = join(root, '.package', target);
rmSync(stage, { recursive: true, force: true });
mkdirSync(stage, { recursive: true });
const copy = (from, to = from) => cpSync(join(root, from), join(stage, to), { recursive: true });

const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const runtime = ['onnxruntime-node', 'tokenizers'];
const staged = {
  ...pkg,
  dependencies: Object.fromEntries(runtime.map((name) => [name, pkg.dependencies[name]])),
  devDependencies: undefined,
  scripts: undefined,
  bin: undefined,
};
delete staged.private;
writeFileSync(join(stage, 'package.json'), `${JSON.stringify(staged, null, 2)}\n`);
for (const file of ['README.md', 'LICENSE', '.vscodeignore', 'media']) copy(file);
// The embedded default pair, when the project has trained it (else the engine generates a synthetic one).
if (existsSync(join(root, 'models', 'demo'))) copy(join('models', 'demo'));
mkdirSync(join(stage, 'dist'), { recursive: true });
for (const file of readdirSync(join(root, 'dist'))) {
  if (file === 'cli.js' || file.endsWith('.map')) continue;
  copy(join('dist', file));
}

const nm = (...parts) => join('node_modules', ...parts);
// onnxruntime-node: its JS, and one platform's binaries.
const ortPkg = JSON.parse(readFileSync(join(root, nm('onnxruntime-node', 'package.json')), 'utf8'));
mkdirSync(join(stage, nm('onnxruntime-node')), { recursive: true });
writeFileSync(
  join(stage, nm('onnxruntime-node', 'package.json')),
  `${JSON.stringify({ ...ortPkg, dependencies: { 'onnxruntime-common': ortPkg.dependencies['onnxruntime-common'] }, scripts: undefined }, null, 2)}\n`,
);
copy(nm('onnxruntime-node', 'dist'));
copy(nm('onnxruntime-node', 'bin', 'napi-v6', ...spec.ort.split('/')));
if (existsSync(join(root, nm('onnxruntime-node', 'LICENSE')))) copy(nm('onnxruntime-node', 'LICENSE'));
// onnxruntime-common: what it requires at run time.
copy(nm('onnxruntime-common', 'package.json'));
copy(nm('onnxruntime-common', 'dist', 'cjs'));
// tokenizers: its loader and one binary.
for (const file of ['package.json', 'index.js', 'LICENSE']) copy(nm('tokenizers', file));
copy(nm('tokenizers', `tokenizers.${spec.tokenizers}.node`));

// 3. vsce, on the staged folder.
const out = join(root, `${pkg.name}-${target}-${pkg.version}.vsix`);
rmSync(out, { force: true });
run(process.execPath, [join(root, 'node_modules', '@vscode', 'vsce', 'vsce'), 'package', '--target', target, '--out', out, '--allow-missing-repository', '--no-rewrite-relative-links', '--no-update-package-json'], stage);

const size = statSync(out).size;
console.log(`\n${out}\n${target}: ${(size / 2 ** 20).toFixed(1)} MiB (${size} bytes)`);
