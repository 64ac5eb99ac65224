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
