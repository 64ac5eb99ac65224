// `compare` runs each model once: one encode of the prompt and one forward over it per model
// (generation's first pass gives the local analyses their attentions and FFN outputs), counted
// by the debug counter; and what the local analyses get from that pass is what a separate
// forward over the prompt gives.

import assert from 'node:assert/strict';
import { join, resolve } from 'node:path';
import { after, describe, it } from 'node:test';
import { ModelPool } from '../../src/engine/model-pool.js';
import { compare } from '../../src/engine/operations.js';
import { analyzeHeadsLocal } from '../../src/explain/heads.js';
import { encodePrompt } from '../../src/model/prompt.js';
import { countsFor, resetCounts } from '../../src/model/debug-counts.js';
import { tempDir } from '../support/temp.js';

const root = resolve(__dirname, '..', '..');
const base = join(root, 'models', 'demo', 'base');
const tuned = join(root, 'models', 'demo', 'tuned');
const PROMPT = 'The words: red horse shoe key.\nCapitalize:';

describe('compare: one encode and one forward per model', () => {
  const cache = { dir: tempDir() };
  const pool = new ModelPool({ provider: 'cpu' });
  const previous = process.env.LENS_DEBUG_COUNTS;
  process.env.LENS_DEBUG_COUNTS = '1';
  after(async () => {
    await pool.dispose();
    if (previous === undefined) delete process.env.LENS_DEBUG_COUNTS;
    else process.env.LENS_DEBUG_COUNTS = previous;
  });

  it('generated responses, heads and FFN: encode 1, forward 1 per model; the local heads equal a separate forward\'s', async () => {
    resetCounts();
    const report = await compare(pool, { base, tuned, prompt: PROMPT, maxNewTokens: 8 }, { cache });
    for (const [role, spec] of [['base', base], ['tuned', tuned]] as const) {
      const counts = countsFor(spec);
      assert.equal(counts.encode, 1, `${role}: ${JSON.stringify(counts)}`);
      assert.equal(counts.forward, 1, `${role}: ${JSON.stringify(counts)}`);
      assert.ok(counts['attribute-run'] >= 1, `${role}: ${JSON.stringify(counts)}`);
      assert.equal(report[role].response.source, 'generated');
    }
    assert.ok(report.heads && report.ffn, 'both sections');
    // The local heads from generation's first pass against a forward of their own.
    const runner = await pool.get(tuned);
    const encoded = await encodePrompt(runner.checkpoint, PROMPT);
    const forward = await runner.forward(encoded.inputIds, { attentions: true });
    const local = analyzeHeadsLocal(PROMPT, encoded, forward, runner.checkpoint.config.numHeads, report.tuned.instructions.verbs);
    assert.deepEqual(report.heads.tuned.local, { words: local.words, instructionVerbs: local.instructionVerbs, heads: local.heads });
    assert.deepEqual(report.heads.tuned.verbLinks, local.verbLinks);
    assert.ok(local.heads.length > 0);
  });

  it('given responses: the prompt and the response encoded once each, one forward per model', async () => {
    resetCounts();
    const report = await compare(pool, { base, tuned, prompt: PROMPT, responseBase: ' red', responseTuned: ' RED HORSE' }, { cache });
    for (const spec of [base, tuned]) {
      const counts = countsFor(spec);
      assert.equal(counts.encode, 2, JSON.stringify(counts));
      assert.equal(counts.forward, 1, JSON.stringify(counts));
      assert.equal(counts['decode-step'], 0, JSON.stringify(counts));
    }
    assert.equal(report.base.response.source, 'given');
    assert.ok(report.heads && report.ffn);
  });

  it('without the analyses no forward runs besides generation\'s', async () => {
    resetCounts();
    await compare(pool, { base, tuned, prompt: PROMPT, responseBase: ' red', responseTuned: ' RED', heads: false, ffn: false }, { cache });
    assert.equal(countsFor(base).forward, 0);
    assert.equal(countsFor(tuned).forward, 0);
  });
});
