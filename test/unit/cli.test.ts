/** The CLI as users run it: the bundled dist/cli.js, in a child process. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { before, describe, it } from 'node:test';
import { writeSyntheticCheckpoint } from '../../src/model/synthetic.js';
import { loadReferenceModel, referenceForward, referenceGreedy } from '../reference/llama64.js';
import { assertClose, flatten } from '../support/compare.js';
import { tempDir } from '../support/temp.js';

const root = resolve(__dirname, '..', '..');
const cli = join(root, 'dist', 'cli.js');
const dir = tempDir();
const model = join(dir, 'model');

function run(...args: string[]) {
  const result = spawnSync(process.execPath, [cli, ...args], {
    encoding: 'utf8',
    env: { ...process.env, INSTRUCTION_LENS_CACHE: join(dir, 'cache') },
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

before(async () => {
  if (!existsSync(cli)) spawnSync(process.execPath, [join(root, 'scripts', 'build.mjs')], { cwd: root, stdio: 'inherit' });
  await writeSyntheticCheckpoint(model, { preset: 'tiny', seed: 21, architecture: 'Qwen2ForCausalLM' });
});

describe('instruction-lens CLI', () => {
  it('info describes the checkpoint', () => {
    const { code, stdout } = run('info', '--model', model);
    assert.equal(code, 0);
    assert.match(stdout, /Qwen2ForCausalLM/);
    assert.match(stdout, /chat template\s+present/);
    assert.match(stdout, /4 query, 2 key\/value/);
  });

  it('generate writes inputIds, outputIds, text and the provider, matching the reference', () => {
    const out = join(dir, 'gen.json');
    const { code, stderr } = run('generate', '--model', model, '--prompt', 'Write a short story.', '--max-new-tokens', '8', '--json', out, '--provider', 'cpu');
    assert.equal(code, 0, stderr);
    const result = JSON.parse(readFileSync(out, 'utf8'));
    assert.equal(result.executionProvider, 'cpu');
    assert.equal(result.executionDevice, 'cpu');
    assert.match(stderr, /tokens on cpu$/m, 'the log names the device');
    assert.ok(result.inputIds.length > 0);
    assert.ok(result.outputIds.length <= 8);
    assert.equal(typeof result.text, 'string');
    const reference = loadReferenceModel(model);
    const eos = JSON.parse(readFileSync(join(model, 'generation_config.json'), 'utf8')).eos_token_id;
    assert.deepEqual(result.outputIds, referenceGreedy(reference, result.inputIds, 8, [eos].flat()));
  });

  it('inspect writes logits, attentions and FFN outputs that match the reference', () => {
    const out = join(dir, 'inspect.json');
    const prompt = join(dir, 'prompt.txt');
    writeFileSync(prompt, 'Translate the sentence into French: the cat sleeps.');
    const { code, stderr } = run('inspect', '--model', model, '--prompt-file', prompt, '--json', out, '--attentions', '--ffn');
    assert.equal(code, 0, stderr);
    const result = JSON.parse(readFileSync(out, 'utf8'));
    const reference = referenceForward(loadReferenceModel(model), result.inputIds, { attentions: true, ffn: true });
    assertClose(flatten(result.logits), flatten(reference.logits), 1e-4, 'logits');
    assertClose(flatten(result.attentions.flat(2)), flatten(reference.attentions!.flat(2)), 1e-4, 'attentions');
    assertClose(flatten(result.ffn.flat(1)), flatten(reference.ffn!.flat(1)), 1e-4, 'ffn');
  });

  it('chat-template format wraps the prompt and keeps its span', () => {
    const out = join(dir, 'chat.json');
    const { code, stderr } = run('generate', '--model', model, '--prompt', 'List three colours.', '--format', 'chat-template', '--max-new-tokens', '2', '--json', out);
    assert.equal(code, 0, stderr);
    const result = JSON.parse(readFileSync(out, 'utf8'));
    const [start, end] = result.promptSpan;
    assert.ok(start > 0, 'the template puts tokens before the prompt');
    assert.ok(end < result.inputIds.length, 'and after it (the assistant header)');
  });

  it('errors are one clear line, with no file written', () => {
    const out = join(dir, 'never.json');
    const missing = run('generate', '--model', join(dir, 'nope'), '--prompt', 'hi', '--json', out);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /Model folder not found: .*nope/);
    assert.doesNotMatch(missing.stderr, /at .*\.js:\d+/, 'no stack trace');
    const empty = run('generate', '--model', model, '--prompt', '  ', '--json', out);
    assert.equal(empty.code, 1);
    assert.match(empty.stderr, /prompt is empty/);
    assert.equal(existsSync(out), false);
    const usage = run('inspect', '--model', model, '--prompt', 'x');
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /inspect needs --json/);
    const unknown = run('frobnicate');
    assert.equal(unknown.code, 2);
  });

  it('with no --model, runs the default model and says which', () => {
    const { code, stderr } = run('generate', '--prompt', 'Summarize this text.', '--max-new-tokens', '4');
    assert.equal(code, 0, stderr);
    assert.match(stderr, /demo|synthetic/);
  });
});

describe('instruction-lens attribute / compare / score', () => {
  it('attribute writes the per-model report with spans, raw, probabilities, density and tokens', () => {
    const out = join(dir, 'attr.json');
    const prompt = 'The report is long. Summarize it in two sentences.';
    const { code, stderr } = run('attribute', '--model', model, '--prompt', prompt, '--max-new-tokens', '6', '--json', out, '--provider', 'cpu');
    assert.equal(code, 0, stderr);
    const r = JSON.parse(readFileSync(out, 'utf8'));
    const [p0, p1] = r.promptSpan;
    const [r0, r1] = r.responseSpan;
    assert.equal(p1, r0);
    assert.equal(r1, r.inputIds.length);
    assert.equal(r.raw.length, p1 - p0);
    assert.equal(r.raw[0].length, r1 - r0);
    assert.equal(r.probabilities.length, r1 - r0);
    assert.equal(r.density.length, p1 - p0);
    assert.equal(r.executionProvider, 'cpu');
    for (const t of r.tokens) assert.equal(prompt.slice(t.start, t.end), t.text);
    assert.ok(r.instructions.verbs.some((v: { verb: string }) => v.verb === 'summarize'));
    assert.ok(r.instructionMask.some((m: number) => m === 1));
  });

  it('attribute with a given response and the log-probability objective', () => {
    const out = join(dir, 'attr-given.json');
    const { code, stderr } = run('attribute', '--model', model, '--prompt', 'Translate: cat', '--response', ' chat', '--objective', 'logprob', '--json', out);
    assert.equal(code, 0, stderr);
    const r = JSON.parse(readFileSync(out, 'utf8'));
    assert.equal(r.response.source, 'given');
    assert.equal(r.objective, 'logprob');
    assert.equal(r.response.tokens.map((t: { text: string }) => t.text).join(''), ' chat');
  });

  it('attribute --mode forward and --mode reverse: the same raw, the mode recorded; a wrong mode is refused', () => {
    const reports = (['forward', 'reverse'] as const).map((mode) => {
      const out = join(dir, `attr-${mode}.json`);
      const { code, stderr } = run('attribute', '--model', model, '--prompt', 'Reverse: red cat', '--response', ' cat red', '--mode', mode, '--json', out, '--provider', 'cpu');
      assert.equal(code, 0, stderr);
      const r = JSON.parse(readFileSync(out, 'utf8'));
      assert.equal(r.attributionMode, mode);
      return r;
    });
    const [forward, reverse] = reports.map((r) => (r.raw as number[][]).flat());
    const scale = Math.max(...reverse!.map(Math.abs));
    assert.ok(scale > 0);
    forward!.forEach((v, k) => assert.ok(Math.abs(v - reverse![k]!) <= 1e-5 * scale, `raw[${k}]: forward ${v}, reverse ${reverse![k]}`));
    const bad = run('attribute', '--model', model, '--prompt', 'x y', '--mode', 'sideways', '--json', join(dir, 'never.json'));
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /--mode must be one of auto, forward, reverse/);
  });

  it('compare writes JSON and a self-contained HTML page, and prints a table', () => {
    const json = join(dir, 'cmp.json');
    const html = join(dir, 'cmp.html');
    const tuned = join(dir, 'model');
    const { code, stdout, stderr } = run('compare', '--base', model, '--tuned', tuned, '--prompt', 'Write a poem about <script>alert(1)</script>.', '--max-new-tokens', '4', '--json', json, '--html', html);
    assert.equal(code, 0, stderr);
    const report = JSON.parse(readFileSync(json, 'utf8'));
    assert.equal(report.schema, 'instruction-lens/report@1');
    assert.ok(report.base.raw.length > 0 && report.tuned.raw.length > 0);
    const page = readFileSync(html, 'utf8');
    assert.ok(!page.includes('<script>alert(1)'), 'prompt text is escaped in the page');
    assert.match(stdout, /Instruction score/);
    assert.doesNotMatch(stdout, /\u001b/, 'no colour when stdout is not a terminal');
  });

  it('a response longer than the context is refused, with nothing written', () => {
    const out = join(dir, 'long.json');
    const response = Array.from({ length: 400 }, (_, i) => `w${i}`).join(' ');
    const { code, stderr } = run('attribute', '--model', model, '--prompt', 'Repeat this.', '--response', response, '--json', out);
    assert.equal(code, 1);
    assert.match(stderr, /context/);
    assert.equal(existsSync(out), false);
  });

  it('an empty response is refused', () => {
    const { code, stderr } = run('attribute', '--model', model, '--prompt', 'Repeat this.', '--response', ' ', '--json', join(dir, 'x.json'));
    assert.equal(code, 1);
    assert.match(stderr, /response is empty/);
  });

  it('NaN in the weights is named', async () => {
    const broken = join(dir, 'nan-model');
    await writeSyntheticCheckpoint(broken, { preset: 'tiny', seed: 4 });
    const file = join(broken, 'model.safetensors');
    const bytes = readFileSync(file);
    const headerLength = Number(bytes.readBigUInt64LE(0));
    const header = JSON.parse(bytes.subarray(8, 8 + headerLength).toString('utf8'));
    const [begin] = header['model.layers.1.mlp.down_proj.weight'].data_offsets;
    bytes.writeFloatLE(NaN, 8 + headerLength + begin + 4 * 5);
    writeFileSync(file, bytes);
    const out = join(dir, 'nan.json');
    const { code, stderr } = run('attribute', '--model', broken, '--prompt', 'Write a list.', '--response', ' one two', '--json', out);
    assert.equal(code, 1, stderr);
    assert.match(stderr, /model\.layers\.1\.mlp\.down_proj\.weight/);
    assert.match(stderr, /NaN/);
    assert.equal(existsSync(out), false);
  });

  it('score re-scores the paper matrices; a malformed line is named and nothing is written', () => {
    const input = join(dir, 'in.jsonl');
    writeFileSync(input, [JSON.stringify({ id: 'a', explain: [[10, 0], [3, 8]], mask: [1, 0] }), JSON.stringify({ id: 'b', explain: [[1.5, -2], [0.5, 4]] })].join('\n') + '\n');
    const output = join(dir, 'out.jsonl');
    const ok = run('score', '--input', input, '--output', output);
    assert.equal(ok.code, 0, ok.stderr);
    const lines = readFileSync(output, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    assert.equal(lines.length, 2);
    assert.equal(typeof lines[0].score, 'number');
    assert.equal(lines[1].score, undefined);
    const bad = join(dir, 'bad.jsonl');
    writeFileSync(bad, JSON.stringify({ explain: [[1]] }) + '\n' + '{"explain": [[1, 2], [3]]}\n');
    const badOut = join(dir, 'bad-out.jsonl');
    const failed = run('score', '--input', bad, '--output', badOut);
    assert.equal(failed.code, 1);
    assert.match(failed.stderr, /bad\.jsonl.*line 2/);
    assert.equal(existsSync(badOut), false);
  });
});
