// `instructionLens/compare` and `instructionLens/attribute` as the extension uses them: the
// engine process (dist/engine.js) through EngineClient, with progress per phase and chunk, the
// embedded default pair for '' models, cancellation that really stops the work, and parameter checks.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { EngineClient, EngineError } from '../../src/engine/client.js';
import { REPORT_SCHEMA } from '../../src/explain/report.js';
import { writeSyntheticCheckpoint } from '../../src/model/synthetic.js';

const root = resolve(__dirname, '..', '..');
const enginePath = join(root, 'dist', 'engine.js');
const PROMPT = 'Summarize the text below in one sentence.\nThe council voted to expand the bike lanes.';
/** A prompt the embedded demo pair answers (outside its tiny world its tuned model answers nothing). */
const DEFAULT_PAIR_PROMPT = 'The words: red horse shoe key.\nCapitalize:';

describe('engine process: compare and attribute', () => {
  let dir: string;
  let base: string;
  let tuned: string;
  let slow: string;
  let client: EngineClient;
  const logs: string[] = [];

  before(async () => {
    if (!existsSync(enginePath)) execFileSync(process.execPath, [join(root, 'scripts', 'build.mjs')], { cwd: root, stdio: 'inherit' });
    dir = mkdtempSync(join(tmpdir(), 'lens-engine-compare-'));
    base = join(dir, 'base');
    tuned = join(dir, 'tuned');
    slow = join(dir, 'slow');
    await Promise.all([
      writeSyntheticCheckpoint(base, { preset: 'tiny', seed: 1 }),
      writeSyntheticCheckpoint(tuned, { preset: 'tiny', seed: 2 }),
      writeSyntheticCheckpoint(slow, { preset: 'tiny', seed: 3, hiddenSize: 256, intermediateSize: 512, numLayers: 4, maxPositionEmbeddings: 1024 }),
    ]);
    client = new EngineClient({ enginePath, provider: 'cpu', precision: 'fp16', env: { ...process.env, INSTRUCTION_LENS_CACHE: join(dir, 'cache') }, shutdownTimeoutMs: 5000 });
    client.onLog((line) => logs.push(line));
  });

  after(async () => {
    await client?.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  it('compares two models with progress per phase, adding up to 100', async () => {
    const progress: { message: string; increment?: number }[] = [];
    const report = await client.compare({ base, tuned, prompt: PROMPT, maxNewTokens: 4, heads: false, ffn: false, importance: { L: 10, b: 7, p: 4 } }, { onProgress: (p) => progress.push(p) });
    assert.equal(report.schema, REPORT_SCHEMA);
    assert.equal(report.prompt, PROMPT);
    assert.equal(report.base.model.id, base);
    assert.equal(report.tuned.model.id, tuned);
    assert.equal(report.heads, undefined);
    const total = progress.reduce((s, p) => s + (p.increment ?? 0), 0);
    assert.ok(total > 99 && total <= 100 + 1e-9, `increments add up to ${total}`);
    const messages = progress.map((p) => p.message).join('\n');
    assert.match(messages, /Base model: generating/);
    assert.match(messages, /Tuned model: attributing the response \(\d+ of \d+ tokens\)/);
    assert.ok(logs.some((l) => /precision fp16 applies on a GPU only: .* computes in float32 on the CPU/.test(l)), 'the precision setting is reported, not faked');
  });

  it('computes the heads and FFN sections when asked, with their progress', async () => {
    const progress: string[] = [];
    const report = await client.compare({ base, tuned, prompt: PROMPT, maxNewTokens: 4 }, { onProgress: (p) => progress.push(p.message) });
    assert.ok(report.heads && report.ffn, 'both sections');
    assert.ok(progress.some((m) => m.startsWith('Head word pairs (tuned model)')), progress.join('\n'));
    assert.ok(progress.some((m) => m.startsWith('FFN concepts (base model)')), progress.join('\n'));
  });

  it("attributes one model; '' is the embedded default of the role", async () => {
    const progress: string[] = [];
    const report = await client.attribute({ model: '', role: 'tuned', prompt: DEFAULT_PAIR_PROMPT, maxNewTokens: 3 }, { onProgress: (p) => progress.push(p.message) });
    assert.ok(report.model.path.startsWith(join(dir, 'cache')) || report.model.path.includes(join('models', 'demo')), report.model.path);
    assert.ok(report.density.length === report.tokens.length);
    assert.ok(progress.some((m) => /Tuned model: attributing/.test(m)), progress.join('\n'));
  });

  it('stops a comparison when it is cancelled, and answers the next request', async () => {
    const controller = new AbortController();
    const started = Date.now();
    const pending = client.compare({ base: slow, tuned: slow, prompt: PROMPT, maxNewTokens: 400, heads: false, ffn: false }, {
      signal: controller.signal,
      onProgress: (p) => {
        if (/generating/.test(p.message)) setTimeout(() => controller.abort(), 300);
      },
    });
    await assert.rejects(pending, (e: unknown) => e instanceof EngineError && e.kind === 'cancelled');
    const stopped = await new Promise<string>((done, fail) => {
      const deadline = setTimeout(() => fail(new Error(`the engine did not report stopping: ${logs.slice(-5).join(' | ')}`)), 20_000);
      const check = () => {
        const line = logs.find((l) => /instructionLens\/compare cancelled: stopped after/.test(l));
        if (line) {
          clearTimeout(deadline);
          done(line);
        } else setTimeout(check, 50);
      };
      check();
    });
    assert.ok(Date.now() - started < 20_000, stopped);
    const next = await client.compare({ base, tuned, prompt: PROMPT, maxNewTokens: 2, heads: false, ffn: false });
    assert.equal(next.base.model.id, base);
  });

  it('rejects malformed parameters and reports a missing model as a user error', async () => {
    await assert.rejects(client.compare({ base, tuned: 3 as unknown as string, prompt: PROMPT }), (e: unknown) => e instanceof EngineError && /'tuned' must be a string/.test(e.message));
    await assert.rejects(client.compare({ base, tuned, prompt: PROMPT, importance: { L: 'ten' as unknown as number } }), (e: unknown) => e instanceof EngineError && /importance/.test(e.message));
    const missing = join(dir, 'nowhere');
    await assert.rejects(client.compare({ base: missing, tuned, prompt: PROMPT }), (e: unknown) => e instanceof EngineError && e.kind === 'user' && e.message.includes(missing));
  });
});
