/**
 * `npm run train-demo` is reproducible: two runs from the recipe's seed write byte-identical
 * folders (checked on the first steps of each phase; a full run takes minutes), and a full run
 * replaces models/demo's two folders together, leaving no staging folder behind.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { loadCheckpoint } from '../../src/model/checkpoint.js';
import { readWeights } from '../../src/train/model-io.js';
import { trainDemo } from '../../src/train/demo.js';

describe('train-demo', () => {
  const root = mkdtempSync(join(tmpdir(), 'lens-train-demo-'));
  after(() => rmSync(root, { recursive: true, force: true }));

  it('writes the same bytes twice from the same seed', async () => {
    const runs = ['a', 'b'].map((name) => join(root, name));
    for (const out of runs) {
      await trainDemo({ out, maxSteps: { base: 3, tuned: 2 }, threads: 1, log: () => {} });
      assert.deepEqual(readdirSync(out).sort(), ['base', 'tuned'], 'only the two model folders remain');
    }
    for (const which of ['base', 'tuned']) {
      const files = readdirSync(join(runs[0]!, which)).sort();
      assert.deepEqual(files, ['config.json', 'generation_config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json']);
      for (const f of files) assert.ok(readFileSync(join(runs[0]!, which, f)).equals(readFileSync(join(runs[1]!, which, f))), `${which}/${f} differs between two runs`);
    }
    // Tuning changed the weights it started from.
    const base = readWeights(loadCheckpoint(join(runs[0]!, 'base')));
    const tuned = readWeights(loadCheckpoint(join(runs[0]!, 'tuned')));
    const name = 'model.layers.0.self_attn.q_proj.weight';
    assert.notDeepEqual(tuned.get(name)!.data, base.get(name)!.data);
  });
});
