/**
 * Saves real `compare` reports for the panel's and the renderers' tests, and for checking that a
 * refactoring leaves the reports unchanged:
 *
 *   node --import tsx scripts/make-report-fixtures.ts [--out DIR] [--renders]
 *
 * Two pairs, each with heads and FFN on the CPU: the embedded demo pair on a demo prompt (responses
 * generated), and a tiny synthetic pair (random weights, seeds 1 and 2) on a fixed prompt with given
 * responses. Each runs the CLI (`compare --json`) in a child process with a fresh analysis cache.
 * What changes from run to run is fixed before writing (`createdAt`, timings, `computeMs`,
 * `fromCache`), and the synthetic pair's temporary folder is written as `<synthetic>`, so that two
 * runs of the same code give byte-identical files. Default DIR: test/fixtures/reports/.
 * `--renders` also writes each report's HTML page (fixed nonce) and terminal table (colour, 100
 * columns) beside it.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { writeSyntheticCheckpoint } from '../src/model/synthetic.js';
import { renderHtml } from '../src/report/html.js';
import { renderTerminal } from '../src/report/terminal.js';

const root = resolve(__dirname, '..');
const { values } = parseArgs({ options: { out: { type: 'string' }, renders: { type: 'boolean' } } });
const out = resolve(values.out ?? join(root, 'test', 'fixtures', 'reports'));
mkdirSync(out, { recursive: true });

export const DEMO_PROMPT = 'The words: red horse shoe key.\nCapitalize:';
export const SYNTHETIC_PROMPT = 'Summarize the text below in one sentence.\nThe cat sat on the mat and looked at the bird.';

/** Replaces what differs between two runs of the same code with fixed values. */
function normalize(value: unknown, replace: [string, string][]): unknown {
  if (typeof value === 'string') return replace.reduce((s, [from, to]) => s.split(from).join(to), value);
  if (Array.isArray(value)) return value.map((v) => normalize(v, replace));
  if (value === null || typeof value !== 'object') return value;
  const o: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    if (k === 'createdAt') o[k] = '2000-01-01T00:00:00.000Z';
    else if (k === 'computeMs' || k === 'generateMs' || k === 'attributeMs') o[k] = 0;
    else if (k === 'fromCache') o[k] = false;
    else o[k] = normalize(v, replace);
  }
  return o;
}

function compareReport(name: string, args: string[], replace: [string, string][]): void {
  const cache = mkdtempSync(join(tmpdir(), 'lens-fixture-cache-'));
  const json = join(cache, 'report.json');
  try {
    execFileSync(process.execPath, ['--import', 'tsx', join(root, 'src', 'cli', 'bin.ts'), 'compare', '--provider', 'cpu', '--json', json, ...args], {
      cwd: root,
      env: { ...process.env, INSTRUCTION_LENS_CACHE: cache, NO_COLOR: '1' },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    const report = normalize(JSON.parse(readFileSync(json, 'utf8')), [...replace, [root, '<repo>']]);
    writeFileSync(join(out, `${name}.report.json`), JSON.stringify(report, null, 1) + '\n');
    if (values.renders) {
      // eslint-disable-next-line @typescript-eslint/no-explicit-any
      writeFileSync(join(out, `${name}.html`), renderHtml(report as any, { nonce: 'Zml4dHVyZS1ub25jZS0xMjM0' }));
      // eslint-disable-next-line @typescript-eslint/no-explicit-any
      writeFileSync(join(out, `${name}.txt`), renderTerminal(report as any, { color: true, width: 100 }));
    }
    process.stderr.write(`wrote ${join(out, `${name}.report.json`)}\n`);
  } finally {
    rmSync(cache, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  compareReport('demo', ['--base', join(root, 'models', 'demo', 'base'), '--tuned', join(root, 'models', 'demo', 'tuned'), '--prompt', DEMO_PROMPT], []);
  const synthetic = mkdtempSync(join(tmpdir(), 'lens-fixture-models-'));
  try {
    await writeSyntheticCheckpoint(join(synthetic, 'base'), { preset: 'tiny', seed: 1 });
    await writeSyntheticCheckpoint(join(synthetic, 'tuned'), { preset: 'tiny', seed: 2 });
    compareReport(
      'synthetic',
      [
        '--base', join(synthetic, 'base'), '--tuned', join(synthetic, 'tuned'), '--prompt', SYNTHETIC_PROMPT,
        '--response-base', ' The cat sat.', '--response-tuned', ' A cat sat on a mat.',
      ],
      [[synthetic, '<synthetic>']],
    );
  } finally {
    rmSync(synthetic, { recursive: true, force: true });
  }
}

main().catch((e) => {
  process.stderr.write(`${(e as Error).stack ?? e}\n`);
  process.exitCode = 1;
});
