#!/usr/bin/env node
// Bundles the extension, the engine process, the CLI and the webview (script and style sheet) with esbuild.
// onnxruntime-node and tokenizers are native (.node binaries), so they stay external and are
// resolved from node_modules at run time; `vscode` is provided by the editor.
import { build } from 'esbuild';
import { chmodSync, mkdirSync } from 'node:fs';

const production = process.argv.includes('--production');
const common = {
  bundle: true,
  sourcemap: !production,
  minify: production,
  logLevel: 'warning',
  legalComments: 'linked',
};
const node = {
  ...common,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  external: ['vscode', 'onnxruntime-node', 'tokenizers'],
};

mkdirSync('dist', { recursive: true });
await Promise.all([
  build({ ...node, entryPoints: { extension: 'src/extension/extension.ts' }, outdir: 'dist' }),
  build({ ...node, entryPoints: { engine: 'src/engine/main.ts' }, outdir: 'dist' }),
  // Chat templates render in a worker thread (src/model/chat-template.ts), loaded from this file beside the bundles.
  build({ ...node, entryPoints: { 'chat-template-worker': 'src/model/chat-template-worker.ts' }, outdir: 'dist' }),
  build({ ...node, entryPoints: { cli: 'src/cli/bin.ts' }, outdir: 'dist', banner: { js: '#!/usr/bin/env -S node --max-semi-space-size=1' } }),
  build({ ...common, platform: 'browser', target: 'es2022', format: 'iife', entryPoints: { webview: 'webview/main.ts' }, outdir: 'dist' }),
  // The evaluate report's plots (Chart.js), inlined into report.html by src/evaluate/report-html.ts.
  build({ ...common, sourcemap: false, minify: true, legalComments: 'eof', platform: 'browser', target: 'es2022', format: 'iife', entryPoints: { 'evaluate-charts': 'webview/evaluate-charts.ts' }, outdir: 'dist' }),
  // The panel's style sheet (dist/webview.css), loaded from the extension's files under the panel's CSP.
  build({ ...common, sourcemap: false, entryPoints: { webview: 'webview/panel.css' }, outdir: 'dist' }),
]);
chmodSync('dist/cli.js', 0o755);
