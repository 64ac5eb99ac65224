// The import rules of the source tree (README: Layout):
// - src/contract/ imports nothing from the rest of src/ (it is the contract the others fill);
// - nothing outside src/extension/ imports src/extension/, nothing outside src/cli/ imports src/cli/;
// - only src/extension/ imports 'vscode'.
// The checker runs on the real tree (src/, webview/, scripts/) and, first, on a small made-up tree
// that breaks each rule, so that it is known to find what it looks for.

import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, posix, relative, resolve } from 'node:path';
import { describe, it } from 'node:test';

const root = resolve(__dirname, '..', '..');

/** Every module specifier of a TypeScript source: static imports and re-exports, import(), require(). */
export function specifiers(source: string): string[] {
  const out: string[] = [];
  const text = source.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`])\/\/.*$/gm, '$1');
  for (const m of text.matchAll(/\b(?:import|export)\s+(?:type\s+)?(?:[\w*{}\s,$]+?\s+from\s+)?['"]([^'"]+)['"]/g)) out.push(m[1]!);
  for (const m of text.matchAll(/\b(?:import|require)\s*\(\s*['"]([^'"]+)['"]\s*\)/g)) out.push(m[1]!);
  return out;
}

/** A file's imports as repository paths (relative specifiers) or package names. */
function edges(files: Map<string, string>): { from: string; to: string }[] {
  const out: { from: string; to: string }[] = [];
  for (const [file, source] of files) {
    for (const spec of specifiers(source)) {
      const to = spec.startsWith('.') ? posix.normalize(posix.join(posix.dirname(file), spec)) : spec;
      out.push({ from: file, to });
    }
  }
  return out;
}

const under = (path: string, folder: string) => path === folder || path.startsWith(folder + '/');

export function violations(files: Map<string, string>): string[] {
  const out: string[] = [];
  for (const { from, to } of edges(files)) {
    if (under(from, 'src/contract') && to.startsWith('src/') && !under(to, 'src/contract')) out.push(`${from} imports ${to}: src/contract imports nothing from the rest of src/`);
    for (const folder of ['src/extension', 'src/cli']) {
      if (under(to, folder) && !under(from, folder)) out.push(`${from} imports ${to}: nothing outside ${folder} imports it`);
    }
    if ((to === 'vscode' || to.startsWith('vscode/')) && !under(from, 'src/extension')) out.push(`${from} imports 'vscode': only src/extension does`);
  }
  return out;
}

function tree(folders: string[]): Map<string, string> {
  const files = new Map<string, string>();
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (/\.(ts|mts|cts|js|mjs|cjs)$/.test(entry.name) && !entry.name.endsWith('.d.ts')) files.set(relative(root, path).split('\\').join('/'), readFileSync(path, 'utf8'));
    }
  };
  for (const f of folders) walk(join(root, f));
  return files;
}

describe('import graph', () => {
  it('the checker finds each kind of violation in a made-up tree', () => {
    const fake = new Map([
      ['src/contract/report.ts', "import type { X } from '../explain/heads.js';\nexport interface R { x: X }"],
      ['src/engine/server.ts', "import { defaultModel } from '../cli/default-model.js';"],
      ['src/report/html.ts', "export { thing } from '../extension/panel.js';"],
      ['src/shared/hover.ts', "const vscode = require('vscode');"],
      ['webview/main.ts', "const m = await import('../src/cli/main.js');"],
      ['src/contract/ok.ts', "import type { R } from './report.js';\n// import { no } from '../explain/heads.js';"],
      ['src/cli/main.ts', "import { compare } from '../engine/operations.js';\nimport * as vscode from 'vscode';"],
      ['src/extension/a.ts', "import * as vscode from 'vscode';\nimport { main } from '../cli/main.js';"],
    ]);
    const found = violations(fake);
    assert.deepEqual(found.map((v) => v.split(' imports ')[0]).sort(), [
      'src/cli/main.ts', // vscode
      'src/contract/report.ts',
      'src/engine/server.ts',
      'src/extension/a.ts', // cli
      'src/report/html.ts',
      'src/shared/hover.ts',
      'webview/main.ts',
    ]);
  });

  it('src/, webview/ and scripts/ keep the rules', () => {
    const files = tree(['src', 'webview', 'scripts']);
    assert.ok(files.size > 100, `only ${files.size} files found`);
    assert.ok([...files.keys()].some((f) => f.startsWith('src/extension/')), 'src/extension is read');
    assert.deepEqual(violations(files), []);
  });

  it('the contract exists and its files import only each other', () => {
    const files = [...tree(['src/contract'])];
    assert.ok(files.length >= 3, 'src/contract has the report, the engine protocol and the panel protocol');
    for (const [file, source] of files) {
      for (const spec of specifiers(source)) assert.match(spec, /^\.\/[\w-]+\.js$/, `${file} imports '${spec}'`);
    }
  });
});
