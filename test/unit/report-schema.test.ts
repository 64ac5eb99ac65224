/** Reports the engine produces conform to the documented schema, docs/report.schema.json. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import Ajv from 'ajv';
import { ModelPool } from '../../src/engine/model-pool.js';
import { compare } from '../../src/engine/operations.js';
import { writeSyntheticCheckpoint } from '../../src/model/synthetic.js';
import { tempDir } from '../support/temp.js';

const schema = JSON.parse(readFileSync(resolve(__dirname, '..', '..', 'docs', 'report.schema.json'), 'utf8'));

describe('report schema', () => {
  it('a real compare report validates, and a broken one does not', async () => {
    const dir = tempDir();
    await writeSyntheticCheckpoint(join(dir, 'a'), { preset: 'tiny', seed: 1 });
    await writeSyntheticCheckpoint(join(dir, 'b'), { preset: 'tiny', seed: 2, architecture: 'Qwen2ForCausalLM' });
    const pool = new ModelPool({ provider: 'cpu' });
    try {
      const report = await compare(pool, { base: join(dir, 'a'), tuned: join(dir, 'b'), prompt: 'Please list three colours. Then explain why.', maxNewTokens: 5 });
      const compiled = new Ajv({ allErrors: true, strict: false }).compile(schema);
      // A plain boolean: Ajv's type guard would narrow the report to `unknown` after the first check.
      const validate = (value: unknown): boolean => compiled(value);
      const plain = JSON.parse(JSON.stringify(report));
      assert.ok(validate(plain), JSON.stringify(compiled.errors, null, 2));
      assert.equal(plain.base.executionDevice, 'cpu');
      // The device must name its provider first: a bare adapter name, or a number, is refused.
      assert.equal(validate({ ...plain, base: { ...plain.base, executionDevice: 'llvmpipe (LLVM 15.0.6, 256 bits)' } }), false);
      assert.equal(validate({ ...plain, base: { ...plain.base, executionDevice: 7 } }), false);
      assert.ok(validate({ ...plain, base: { ...plain.base, executionProvider: 'webgpu', executionDevice: 'webgpu · NVIDIA H200' } }), JSON.stringify(compiled.errors));
      plain.base.promptSpan = [1];
      delete plain.tuned.density;
      assert.equal(validate(plain), false);
      assert.ok(compiled.errors!.some((e) => e.instancePath === '/base/promptSpan'));
      assert.ok(compiled.errors!.some((e) => e.message?.includes('density')));
    } finally {
      await pool.dispose();
    }
  });
});
