/**
 * A model that would not fit in memory is refused before its session opens, with one line that
 * names the model, the bytes it needs and the bytes available — not an out-of-memory kill later.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { before, describe, it } from 'node:test';
import { loadCheckpoint } from '../../src/model/checkpoint.js';
import { writeSyntheticCheckpoint } from '../../src/model/synthetic.js';
import { LlamaRunner } from '../../src/llm/runner.js';
import { memoryBudget, parseByteSize } from '../../src/runtime/memory.js';
import { tempDir } from '../support/temp.js';

const root = resolve(__dirname, '..', '..');
const cli = join(root, 'dist', 'cli.js');
const dir = tempDir();
const model = join(dir, 'model');

before(async () => {
  if (!existsSync(cli)) spawnSync(process.execPath, [join(root, 'scripts', 'build.mjs')], { cwd: root, stdio: 'inherit' });
  await writeSyntheticCheckpoint(model, { preset: 'tiny', seed: 5, dtype: 'BF16' });
});

describe('memory check before a model runs on the CPU', () => {
  it('refuses a model larger than the budget in one line naming the model, the bytes needed and available', () => {
    const run = spawnSync(process.execPath, [cli, 'generate', '--model', model, '--prompt', 'Write a poem.', '--provider', 'cpu'], {
      encoding: 'utf8',
      env: { ...process.env, INSTRUCTION_LENS_MAX_MEMORY: '1M' },
    });
    assert.equal(run.status, 1, run.stderr);
    const lines = run.stderr.trim().split('\n').filter((l) => !l.startsWith('[instruction-lens]'));
    assert.equal(lines.length, 1, run.stderr);
    assert.match(lines[0]!, /Not enough memory for the model/);
    assert.ok(lines[0]!.includes(model), lines[0]);
    assert.match(lines[0]!, /needs about [\d.]+ (MiB|GiB)/);
    assert.match(lines[0]!, /but 1 MiB are available \(INSTRUCTION_LENS_MAX_MEMORY\)/);
    assert.equal(run.stdout, '');
  });

  it('runs the same model when the budget covers its estimate', () => {
    const runner = new LlamaRunner(loadCheckpoint(model), { provider: 'cpu' });
    const { total } = runner.residentBytesEstimate();
    const run = spawnSync(process.execPath, [cli, 'generate', '--model', model, '--prompt', 'Write a poem.', '--provider', 'cpu', '--max-new-tokens', '2'], {
      encoding: 'utf8',
      env: { ...process.env, INSTRUCTION_LENS_MAX_MEMORY: String(total) },
    });
    assert.equal(run.status, 0, run.stderr);
  });

  it('estimates weights once plus one layer of float32 conversions for BF16', () => {
    const checkpoint = loadCheckpoint(model);
    const { total, detail } = new LlamaRunner(checkpoint, { provider: 'cpu' }).residentBytesEstimate();
    const layer = [...checkpoint.tensors].filter(([n]) => n.startsWith('model.layers.0.')).reduce((s, [, t]) => s + t.shape.reduce((a, b) => a * b, 1), 0);
    assert.ok(total > checkpoint.weightBytes + layer * 4, detail);
    assert.ok(total < 2 * checkpoint.weightBytes + 1024 * 2 ** 20, detail);
    assert.match(detail, /float32 conversions/);
  });

  it('reads sizes with units and refuses nonsense, naming the variable', () => {
    assert.equal(parseByteSize('8G', 'X'), 8 * 2 ** 30);
    assert.equal(parseByteSize('512 MiB', 'X'), 512 * 2 ** 20);
    assert.equal(parseByteSize('1048576', 'X'), 2 ** 20);
    assert.throws(() => parseByteSize('lots', 'INSTRUCTION_LENS_MAX_MEMORY'), /INSTRUCTION_LENS_MAX_MEMORY: expected a size/);
    assert.throws(() => parseByteSize('0', 'X'), /expected a size/);
    assert.deepEqual(memoryBudget({ INSTRUCTION_LENS_MAX_MEMORY: '2G' }), { bytes: 2 * 2 ** 30, source: 'INSTRUCTION_LENS_MAX_MEMORY' });
    assert.ok(memoryBudget({}).bytes > 0);
  });
});
