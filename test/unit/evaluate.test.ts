/**
 * `instruction-lens evaluate` and `evaluate-report` through dist/cli.js on the demo pair
 * (models/demo) and its held-out prompts: the card's Table 2, shards merged = one run, a run killed
 * with SIGKILL and resumed = an uninterrupted run byte for byte, a torn line repaired, changed
 * models/options refused unless --restart, malformed lines named by file and line. Plus the prompt
 * set reader on the paper's published file.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { before, describe, it } from 'node:test';
import { demoPromptSetLines } from '../../src/evaluate/demo-prompt-set.js';
import { readPromptSet, shardOf } from '../../src/evaluate/prompt-set.js';
import { parseProgressLine } from '../../src/evaluate/progress.js';
import type { EvaluateReport } from '../../src/evaluate/report.js';
import { cardFigures } from '../../src/train/evaluate-demo.js';
import { tempDir } from '../support/temp.js';

const root = resolve(__dirname, '..', '..');
const cli = join(root, 'dist', 'cli.js');
const demo = join(root, 'models', 'demo');
const paperFile = join(root, '..', 'shared', 'paper-attributions', 'attributions.jsonl.gz');
const dir = tempDir('lens-evaluate-');
const env = { ...process.env, INSTRUCTION_LENS_CACHE: join(dir, 'cache') };
const MODELS = ['--base', join(demo, 'base'), '--tuned', join(demo, 'tuned'), '--provider', 'cpu', '--max-new-tokens', '12'];

function run(...args: string[]) {
  const result = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', env });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

function evaluate(prompts: string, out: string, ...more: string[]) {
  return run('evaluate', ...MODELS, '--prompts', prompts, '--out', out, ...more);
}

function report(...dirs: string[]): EvaluateReport {
  const r = run('evaluate-report', ...dirs);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(readFileSync(join(dirs[0]!, 'report.json'), 'utf8')) as EvaluateReport;
}

function shardFile(out: string): string {
  const names = readdirSync(out).filter((n) => n.startsWith('shard-'));
  assert.equal(names.length, 1, `one results file in ${out}`);
  return join(out, names[0]!);
}

/** Result lines as parsed objects, keyed (index, model); asserts none is repeated. */
function resultLines(file: string): Map<string, unknown> {
  const lines = readFileSync(file, 'utf8').split('\n');
  assert.equal(lines.pop(), '', 'the file ends with a complete line');
  const out = new Map<string, unknown>();
  for (const line of lines.slice(1)) {
    const v = JSON.parse(line) as { kind: string; index: number; model: string };
    if (v.kind !== 'result') continue;
    const key = `${v.index}/${v.model}`;
    assert.ok(!out.has(key), `${key} appears twice in ${file}`);
    out.set(key, v);
  }
  return out;
}

const fullSet = join(dir, 'held-out.jsonl');
const smallSet = join(dir, 'small.jsonl');
const tinySet = join(dir, 'tiny.jsonl');
const unsharded = join(dir, 'small-unsharded');

before(() => {
  if (!existsSync(cli)) spawnSync(process.execPath, [join(root, 'scripts', 'build.mjs')], { cwd: root, stdio: 'inherit' });
  const lines = demoPromptSetLines();
  writeFileSync(fullSet, lines.join('\n') + '\n');
  writeFileSync(smallSet, lines.slice(0, 18).join('\n') + '\n');
  writeFileSync(tinySet, lines.slice(0, 3).join('\n') + '\n');
});

describe('evaluate prompt sets', () => {
  it('reads the paper\'s published file as it is: 632 prompts, their annotations, three groups', () => {
    const set = readPromptSet(paperFile, 'stop');
    assert.equal(set.prompts.length, 632);
    assert.deepEqual(set.skipped, []);
    assert.deepEqual([...new Set(set.prompts.map((p) => p.group))].sort(), ['lima_author', 'mtbench', 'user_oriented_task']);
    assert.ok(set.prompts.every((p) => p.instruction && p.instruction.length > 0));
    const shards = [0, 1, 2].map((k) => shardOf(set.prompts, { k, n: 3 }));
    assert.deepEqual(shards.flat().map((p) => p.index).sort((a, b) => a - b), set.prompts.map((p) => p.index), 'shards partition the prompts');
  });
});

describe('instruction-lens evaluate on the demo pair', () => {
  it('gives the card\'s Table 2 on its 120 held-out prompts', () => {
    const out = join(dir, 'full');
    const r = evaluate(fullSet, out);
    assert.equal(r.code, 0, r.stderr);
    const rep = report(out);
    const readme = readFileSync(join(demo, 'README.md'), 'utf8');
    const card = cardFigures(readme);
    const tdf = /t = ([\d.-]+), df = ([\d.]+)/.exec(readme);
    assert.ok(tdf, 'the card states t and df');
    assert.equal(rep.overall.n, 120);
    assert.ok(Math.abs(rep.overall.base.mean - card.meanInstructionScore.base) <= 1e-4, `base mean ${rep.overall.base.mean} vs card ${card.meanInstructionScore.base}`);
    assert.ok(Math.abs(rep.overall.tuned.mean - card.meanInstructionScore.tuned) <= 1e-4, `tuned mean ${rep.overall.tuned.mean} vs card ${card.meanInstructionScore.tuned}`);
    assert.ok(Math.abs(rep.overall.welch!.t - Number(tdf[1])) <= 0.002, `t ${rep.overall.welch!.t} vs card ${tdf[1]}`);
    assert.ok(Math.abs(rep.overall.welch!.df - Number(tdf[2])) <= 0.1, `df ${rep.overall.welch!.df} vs card ${tdf[2]}`);
    assert.ok(Math.abs(Math.log10(rep.overall.welch!.pTwoSided / card.pTwoSided)) < 0.01, `p ${rep.overall.welch!.pTwoSided} vs card ${card.pTwoSided}`);
    assert.equal(rep.groups.length, 6, 'one group per task');
    assert.deepEqual(rep.detection && [rep.detection.precision, rep.detection.recall], [1, 1], 'the instruction line is what detection finds');
    assert.ok(rep.overall.tuned.density.instruction! > rep.overall.base.density.instruction!, 'the tuned model puts more density on the instruction');
  });

  it('merges shards 0/3, 1/3 and 2/3 into exactly the unsharded results', () => {
    const one = evaluate(smallSet, unsharded);
    assert.equal(one.code, 0, one.stderr);
    const dirs = [0, 1, 2].map((k) => join(dir, `shard${k}`));
    dirs.forEach((d, k) => {
      const r = evaluate(smallSet, d, '--shard', `${k}/3`);
      assert.equal(r.code, 0, r.stderr);
    });
    const merged = new Map<string, unknown>();
    for (const d of dirs) for (const [k, v] of resultLines(shardFile(d))) merged.set(k, v);
    const whole = resultLines(shardFile(unsharded));
    assert.equal(whole.size, 36);
    assert.deepEqual(new Map([...merged].sort()), new Map([...whole].sort()), 'the same result lines');
    const a = report(unsharded);
    const b = report(...dirs);
    assert.deepEqual(b.shards, { n: 3, found: [0, 1, 2], missing: [] });
    assert.deepEqual({ ...b, shards: null }, { ...a, shards: null }, 'the same report, shard count aside');
  });

  it('after SIGKILL mid-way, the same arguments finish the run with the same file, byte for byte', async () => {
    const out = join(dir, 'killed');
    const child = spawn(process.execPath, [cli, 'evaluate', ...MODELS, '--prompts', smallSet, '--out', out], { env, stdio: 'ignore' });
    const exited = new Promise<NodeJS.Signals | null>((done) => child.on('exit', (_code, signal) => done(signal)));
    const file = join(out, 'shard-0-of-1.jsonl');
    const deadline = Date.now() + 300_000;
    while (Date.now() < deadline) {
      if (existsSync(file) && readFileSync(file, 'utf8').split('\n').length > 12) break;
      await new Promise((r) => setTimeout(r, 5));
    }
    child.kill('SIGKILL');
    assert.equal(await exited, 'SIGKILL', 'killed, not finished');
    const before = resultLines(file).size;
    assert.ok(before >= 11 && before < 36, `killed mid-way (${before} of 36 lines written)`);
    const r = evaluate(smallSet, out);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, new RegExp(`continuing after ${before} result line`));
    assert.equal(readFileSync(file, 'utf8'), readFileSync(shardFile(unsharded), 'utf8'));
  });

  it('as the extension runs it: progress lines it can read, and Cancel (SIGINT) exits 130 keeping the results', async () => {
    const out = join(dir, 'cancelled');
    const child = spawn(process.execPath, [cli, 'evaluate', ...MODELS, '--prompts', smallSet, '--out', out], {
      env: { ...env, INSTRUCTION_LENS_PROGRESS_SECONDS: '1' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    const exited = new Promise<number | null>((done) => child.on('close', (code) => done(code)));
    const file = join(out, 'shard-0-of-1.jsonl');
    while (!(existsSync(file) && readFileSync(file, 'utf8').split('\n').length > 6)) await new Promise((r) => setTimeout(r, 5));
    child.kill('SIGINT');
    assert.equal(await exited, 130, stderr);
    assert.match(stderr, /Cancelled/);
    const progress = stderr.split('\n').map(parseProgressLine).filter((p) => p !== null);
    assert.ok(progress.length >= 1 && progress.every((p) => p.total === 36), stderr);
    const r = evaluate(smallSet, out);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(readFileSync(file, 'utf8'), readFileSync(shardFile(unsharded), 'utf8'));
  });

  it('cuts off a torn last line and recomputes it', () => {
    const out = join(dir, 'torn');
    mkdirSync(out);
    const file = join(out, 'shard-0-of-1.jsonl');
    copyFileSync(shardFile(unsharded), file);
    const text = readFileSync(file, 'utf8');
    const lastStart = text.lastIndexOf('\n', text.length - 2) + 1;
    truncateSync(file, lastStart + Math.floor((text.length - lastStart) / 2)); // half of the last line
    assert.notEqual(readFileSync(file, 'utf8').at(-1), '\n');
    const r = evaluate(smallSet, out);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /torn last line/);
    assert.match(r.stderr, /1 computed now/);
    assert.equal(readFileSync(file, 'utf8'), text);
  });

  it('refuses to continue with another model or other options, unless --restart', () => {
    const out = join(dir, 'changed');
    assert.equal(evaluate(tinySet, out).code, 0);
    const file = shardFile(out);
    const first = readFileSync(file, 'utf8');
    const options = evaluate(tinySet, out, '--max-new-tokens', '8');
    assert.equal(options.code, 1);
    assert.match(options.stderr, /holds results of another run: the options differ \(maxNewTokens\).*--restart/);
    const model = run('evaluate', '--base', join(demo, 'base'), '--tuned', join(demo, 'base'), '--provider', 'cpu', '--max-new-tokens', '12', '--prompts', tinySet, '--out', out);
    assert.equal(model.code, 1);
    assert.match(model.stderr, /the tuned model differs/);
    assert.equal(readFileSync(file, 'utf8'), first, 'a refused run leaves the file as it was');
    const restarted = evaluate(tinySet, out, '--max-new-tokens', '8', '--restart');
    assert.equal(restarted.code, 0, restarted.stderr);
    const lines = readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    assert.equal(lines[0].options.maxNewTokens, 8);
    assert.equal(lines.length, 1 + 6);
  });

  it('names a malformed line by file and line, and skips or stops as asked, never crashing', () => {
    const good = demoPromptSetLines()[0]!;
    const long = JSON.stringify({ id: 'long', prompt: 'red '.repeat(20_000) });
    const bad = join(dir, 'bad.jsonl');
    writeFileSync(bad, [good, '{"id": "x", "prompt": ', '{"id": "y"}', good, '{"id": "z", "prompt": "Copy:", "instruction": "Sort"}', long, '{"id": "<b>w</b>", "prompt": "Copy:"}'].join('\n') + '\n');
    const stop = evaluate(bad, join(dir, 'bad-stop'), '--on-error', 'stop');
    assert.equal(stop.code, 1);
    assert.match(stop.stderr, new RegExp(`${bad.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:2: not JSON`));
    assert.doesNotMatch(stop.stderr, /internal error/);
    const out = join(dir, 'bad-skip');
    const skip = evaluate(bad, out, '--on-error', 'skip');
    assert.equal(skip.code, 0, skip.stderr);
    assert.match(skip.stderr, /bad\.jsonl:2: not JSON/);
    assert.match(skip.stderr, /bad\.jsonl:3: "prompt" must be a non-empty text/);
    assert.match(skip.stderr, /bad\.jsonl:4: id "heldout-0" repeats line 1/);
    assert.match(skip.stderr, /bad\.jsonl:5: "instruction" "Sort" does not occur in the prompt/);
    assert.match(skip.stderr, /bad\.jsonl:6 \(id "long", base model\): .*recorded, skipped/);
    assert.doesNotMatch(skip.stderr, /internal error/);
    const rep = report(out);
    assert.deepEqual(rep.prompts.skipped.map((s) => s.line), [2, 3, 4, 5]);
    assert.equal(rep.prompts.errors, 2, 'the long prompt, for both models');
    assert.equal(rep.prompts.evaluated, 2);
    const html = readFileSync(join(out, 'report.html'), 'utf8');
    assert.ok(html.includes('&lt;b&gt;w&lt;/b&gt;') && !html.includes('<b>w</b>'), 'ids are escaped');
    const only = join(dir, 'long.jsonl');
    writeFileSync(only, `${good}\n${long}\n`);
    const longStop = evaluate(only, join(dir, 'long-stop'), '--on-error', 'stop');
    assert.equal(longStop.code, 1);
    assert.match(longStop.stderr, /long\.jsonl:2 \(id "long", base model\): /);
    assert.doesNotMatch(longStop.stderr, /internal error/);
    assert.ok(statSync(join(dir, 'long-stop', 'shard-0-of-1.jsonl')).size > 0, 'the lines before the error are kept');
  });
});
