// Hostile files and requests (issue 14): each probe a stranger's checkpoint, prompt, template or
// request can make, with what must hold — bounded work, one clear line, nothing replaced that was
// not ours. The CLI and the engine run as they ship (dist/), in child processes.
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { chmodSync, cpSync, existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';
import { before, describe, it } from 'node:test';
import { cached } from '../../src/explain/analysis-cache.js';
import { scoreJsonl } from '../../src/explain/score-file.js';
import { loadCheckpoint } from '../../src/model/checkpoint.js';
import { LensError } from '../../src/model/errors.js';
import { encodePrompt, maxPromptChars } from '../../src/model/prompt.js';
import { writeSyntheticCheckpoint } from '../../src/model/synthetic.js';
import { editSafetensorsHeader } from '../support/safetensors-edit.js';
import { tempDir } from '../support/temp.js';
import { EngineProcess } from '../support/engine-raw.js';

const root = resolve(__dirname, '..', '..');
const cli = join(root, 'dist', 'cli.js');
const dir = tempDir('lens-hostile-');
const model = join(dir, 'model');
const isRoot = process.getuid?.() === 0;

function run(args: string[], options: { env?: NodeJS.ProcessEnv; timeout?: number; uid?: number; gid?: number } = {}) {
  const started = performance.now();
  const result: SpawnSyncReturns<string> = spawnSync(process.execPath, [cli, ...args], {
    encoding: 'utf8',
    timeout: options.timeout ?? 60_000,
    env: { ...process.env, INSTRUCTION_LENS_CACHE: join(dir, 'cache'), NO_COLOR: '1', ...options.env },
    uid: options.uid,
    gid: options.gid,
  });
  return { code: result.status, signal: result.signal, stdout: result.stdout, stderr: result.stderr, ms: performance.now() - started };
}

/** The run failed with exit 1 and one line on stderr (after any [instruction-lens] progress lines) matching `pattern`, no stack. */
function failsWithOneLine(r: ReturnType<typeof run>, pattern: RegExp): void {
  assert.equal(r.signal, null, `killed by ${r.signal} (blocked?)`);
  assert.equal(r.code, 1, `exit ${r.code}: ${r.stderr}`);
  const lines = r.stderr.split('\n').filter((l) => l && !l.startsWith('[instruction-lens]'));
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0]!, /^instruction-lens: /);
  assert.match(lines[0]!, pattern);
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'a stack trace');
}

/** A copy of the model to spoil. */
function copyModel(name: string): string {
  const copy = join(dir, name);
  cpSync(model, copy, { recursive: true });
  return copy;
}

function editJson(file: string, edit: (json: Record<string, unknown>) => void): void {
  const json = JSON.parse(readFileSync(file, 'utf8'));
  edit(json);
  writeFileSync(file, JSON.stringify(json));
}

function mkfifo(path: string): void {
  execFileSync('mkfifo', [path]);
}

function withTemplate(name: string, template: string): string {
  const copy = copyModel(name);
  editJson(join(copy, 'tokenizer_config.json'), (c) => (c.chat_template = template));
  return copy;
}

const ESC = /[\u001b\u009b\u0007]/;

before(async () => {
  if (!existsSync(cli)) execFileSync(process.execPath, [join(root, 'scripts', 'build.mjs')], { cwd: root, stdio: 'inherit' });
  await writeSyntheticCheckpoint(model, { preset: 'tiny', seed: 14, architecture: 'Qwen2ForCausalLM' });
});

describe('output paths', () => {
  it('--json - prints the JSON on standard output', () => {
    const r = run(['info', '--model', model, '--json', '-']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).architecture, 'Qwen2ForCausalLM');
  });

  it('writes through /dev/stdout instead of replacing it', () => {
    const r = run(['info', '--model', model, '--json', '/dev/stdout']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout.slice(0, r.stdout.indexOf('}\n') + 2)).architecture, 'Qwen2ForCausalLM');
  });

  it('writes into a FIFO (its reader gets the JSON) and leaves it a FIFO', async () => {
    const fifo = join(dir, 'out.fifo');
    mkfifo(fifo);
    const reader = spawn('cat', [fifo]);
    let got = '';
    reader.stdout.on('data', (d) => (got += d));
    const done = new Promise((resolve) => reader.on('close', resolve));
    // A CLI that replaced the FIFO instead of writing into it leaves the reader waiting: stop it.
    const stop = setTimeout(() => reader.kill(), 15_000);
    const r = run(['info', '--model', model, '--json', fifo], { timeout: 20_000 });
    await done;
    clearTimeout(stop);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(got).architecture, 'Qwen2ForCausalLM');
    assert.ok(statSync(fifo).isFIFO());
  });

  it('leaves a character device a character device (a scratch device in a temporary folder; root only)', (t) => {
    const device = join(dir, 'null-device');
    try {
      execFileSync('mknod', [device, 'c', '1', '3'], { stdio: 'ignore' });
    } catch {
      return t.skip('mknod needs root');
    }
    const r = run(['info', '--model', model, '--json', device]);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(statSync(device).isCharacterDevice(), 'the device was replaced by a regular file');
  });

  it('--json /dev/null as root leaves /dev/null a character device (in a private mount namespace)', (t) => {
    if (!isRoot) return t.skip('needs root');
    // /dev/null here is a scratch device bind-mounted over it in a private mount namespace, so the
    // real one is never at risk; a rename onto the mount point would fail with EBUSY anyway.
    const scratch = join(dir, 'scratch-null');
    try {
      execFileSync('mknod', [scratch, 'c', '1', '3'], { stdio: 'ignore' });
      execFileSync('unshare', ['-m', 'true'], { stdio: 'ignore' });
    } catch {
      return t.skip('mknod or unshare -m is not available');
    }
    const script = `mount --make-rprivate / && mount --bind "$1" /dev/null && "$2" "$3" info --model "$4" --json /dev/null && stat -c %F /dev/null`;
    const out = execFileSync('unshare', ['-m', 'sh', '-c', script, 'sh', scratch, process.execPath, cli, model], {
      encoding: 'utf8',
      env: { ...process.env, INSTRUCTION_LENS_CACHE: join(dir, 'cache') },
    });
    assert.match(out, /character special file/);
    assert.ok(statSync(scratch).isCharacterDevice());
    assert.ok(statSync('/dev/null').isCharacterDevice());
  });

  it('follows a symlink to its target (the link stays a link)', () => {
    const target = join(dir, 'real.json');
    const link = join(dir, 'link.json');
    writeFileSync(target, 'old');
    symlinkSync(target, link);
    const r = run(['info', '--model', model, '--json', link]);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(lstatSync(link).isSymbolicLink());
    assert.equal(readlinkSync(link), target);
    assert.equal(JSON.parse(readFileSync(target, 'utf8')).architecture, 'Qwen2ForCausalLM');
  });

  it('refuses a missing parent folder, naming it, and creates nothing', () => {
    const missing = join(dir, 'no-such-folder');
    failsWithOneLine(run(['info', '--model', model, '--json', join(missing, 'out.json')]), /the folder .*no-such-folder does not exist/);
    assert.equal(existsSync(missing), false);
  });

  it('refuses an output path whose parent is a file with one line', () => {
    const file = join(dir, 'plain.txt');
    writeFileSync(file, 'x');
    failsWithOneLine(run(['info', '--model', model, '--json', join(file, 'out.json')]), /plain\.txt is not a folder|plain\.txt.*not a folder/);
  });
});

describe('chat templates run under a budget', () => {
  it('a range(1e12) template fails within 5 s with one line naming the file', () => {
    const m = withTemplate('range-1e12', '{% for i in range(1000000000000) %}x{% endfor %}');
    const r = run(['generate', '--model', m, '--prompt', 'hi', '--format', 'chat-template', '--max-new-tokens', '1', '--provider', 'cpu']);
    failsWithOneLine(r, /tokenizer_config\.json/);
    // Refused before it allocates: an array that long ends at V8's largest array, a fatal error
    // that killed the whole process (SIGTRAP) when it came before the worker's heap limit.
    assert.match(r.stderr, /range\(\) of 1000000000000 items/);
    assert.ok(r.ms < 5000 + 1500, `took ${r.ms.toFixed(0)} ms (process start and model load included)`);
  });

  it('a template with a short range still renders', () => {
    const m = withTemplate('range-3', "{% for i in range(3) %}{{ i }}{% endfor %}{{ messages[0]['content'] }}");
    const r = run(['generate', '--model', m, '--prompt', 'hi', '--format', 'chat-template', '--max-new-tokens', '1', '--provider', 'cpu']);
    assert.equal(r.code, 0, r.stderr);
  });

  it('a range(1e8) template that would grow to gigabytes fails with one line', () => {
    const m = withTemplate('range-1e8', '{% for i in range(100000000) %}{{ i }}{% endfor %}');
    failsWithOneLine(run(['generate', '--model', m, '--prompt', 'hi', '--format', 'chat-template', '--max-new-tokens', '1', '--provider', 'cpu']), /tokenizer_config\.json/);
  });

  it('nested loops stop at the time budget', () => {
    const m = withTemplate('nested', '{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}');
    const r = run(['generate', '--model', m, '--prompt', 'hi', '--format', 'chat-template', '--max-new-tokens', '1', '--provider', 'cpu']);
    failsWithOneLine(r, /did not finish rendering within/);
    assert.ok(r.ms < 10_000);
  });

  it('in the engine: the next request is answered within 1 s after a template failure and after a Cancel', async () => {
    const m = withTemplate('engine-template', '{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}');
    const engine = new EngineProcess(join(root, 'dist', 'engine.js'), { INSTRUCTION_LENS_CACHE: join(dir, 'cache') });
    try {
      const failed = await engine.request('instructionLens/generate', { model: m, prompt: 'hi', format: 'chat-template', maxNewTokens: 1 });
      assert.match(failed.error?.message ?? '', /did not finish rendering/);
      let t0 = performance.now();
      const info = await engine.request('instructionLens/info', { model: m });
      const afterFailure = performance.now() - t0;
      assert.equal(info.result?.architecture, 'Qwen2ForCausalLM');
      assert.ok(afterFailure < 1000, `answered after ${afterFailure.toFixed(0)} ms`);

      const pending = engine.request('instructionLens/generate', { model: m, prompt: 'hi', format: 'chat-template', maxNewTokens: 1 });
      await new Promise((r) => setTimeout(r, 300));
      engine.notify('$/cancelRequest', { id: engine.lastId });
      const cancelled = await pending;
      assert.equal(cancelled.error?.code, -32800, JSON.stringify(cancelled));
      t0 = performance.now();
      const again = await engine.request('instructionLens/info', { model: m });
      const afterCancel = performance.now() - t0;
      assert.ok(again.result, JSON.stringify(again));
      assert.ok(afterCancel < 1000, `answered after ${afterCancel.toFixed(0)} ms`);
      process.stdout.write(`# engine answers ${afterFailure.toFixed(0)} ms after a template failure, ${afterCancel.toFixed(0)} ms after a Cancel\n`);
    } finally {
      await engine.close();
    }
  });

  it('raise_exception text reaches the terminal escaped', () => {
    const m = withTemplate('raise', '{{ raise_exception("boom \u001b[2J\u001b]0;title\u0007") }}');
    const r = run(['generate', '--model', m, '--prompt', 'hi', '--format', 'chat-template', '--provider', 'cpu']);
    failsWithOneLine(r, /boom/);
    assert.doesNotMatch(r.stderr, ESC);
  });
});

describe('unbounded and blocking reads', () => {
  it('--prompt-file /dev/zero is refused at once', () => {
    const r = run(['generate', '--model', model, '--prompt-file', '/dev/zero'], { timeout: 20_000 });
    failsWithOneLine(r, /\/dev\/zero: it is a character device/);
  });

  it('a FIFO as prompt file is refused without blocking', () => {
    const fifo = join(dir, 'prompt.fifo');
    mkfifo(fifo);
    failsWithOneLine(run(['generate', '--model', model, '--prompt-file', fifo], { timeout: 20_000 }), /prompt\.fifo: it is a FIFO/);
  });

  it('a FIFO as model.safetensors or tokenizer.json is refused without blocking', () => {
    for (const file of ['model.safetensors', 'tokenizer.json']) {
      const m = copyModel(`fifo-${file}`);
      rmSync(join(m, file));
      mkfifo(join(m, file));
      failsWithOneLine(run(['info', '--model', m], { timeout: 20_000 }), new RegExp(`${file.replace('.', '\\.')}: it is a FIFO`));
    }
  });

  it('a FIFO as a cache entry is skipped (the analysis is recomputed)', () => {
    const cache = join(dir, 'fifo-cache');
    const args = ['heads', '--model', model, '--layers', '0', '--dims', '2', '--top-k', '10', '--json', join(dir, 'heads.json'), '--provider', 'cpu'];
    assert.equal(run(args, { env: { INSTRUCTION_LENS_CACHE: cache } }).code, 0);
    const entry = readdirSync(join(cache, 'analysis')).find((f) => f.endsWith('.cache'))!;
    rmSync(join(cache, 'analysis', entry));
    mkfifo(join(cache, 'analysis', entry));
    const r = run(args, { env: { INSTRUCTION_LENS_CACHE: cache }, timeout: 60_000 });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /FIFO/);
  });

  it('a prompt longer than the context allows is refused before it is tokenized', async () => {
    const checkpoint = loadCheckpoint(model);
    const limit = maxPromptChars(checkpoint);
    const t0 = performance.now();
    await assert.rejects(encodePrompt(checkpoint, 'a '.repeat(limit), 'raw'), (e: unknown) => e instanceof LensError && /characters, more than/.test(e.message));
    assert.ok(performance.now() - t0 < 500);
  });

  it('a 100 MB prompt sent to the engine gets a clear error and the engine goes on', async () => {
    const engine = new EngineProcess(join(root, 'dist', 'engine.js'), { INSTRUCTION_LENS_CACHE: join(dir, 'cache') });
    try {
      const big = await engine.request('instructionLens/generate', { model, prompt: 'a'.repeat(100 * 1024 * 1024) });
      assert.equal(big.error?.code, -32602, JSON.stringify(big).slice(0, 300));
      assert.match(big.error!.message, /'prompt'/);
      assert.ok((await engine.request('instructionLens/info', { model })).result);
    } finally {
      await engine.close();
    }
  });

  it('a words file of /dev/zero is refused with one line', () => {
    failsWithOneLine(run(['heads', '--model', model, '--words', '/dev/zero', '--json', join(dir, 'w.json')]), /\/dev\/zero: it is a character device/);
  });
});

describe('one line, exit 1, for every file failure', () => {
  it('model.safetensors that is a folder', () => {
    const m = copyModel('dir-weights');
    rmSync(join(m, 'model.safetensors'));
    mkdirSync(join(m, 'model.safetensors'));
    failsWithOneLine(run(['info', '--model', m]), /model\.safetensors: it is a folder/);
  });

  it('an unreadable config.json or tokenizer.json (EACCES)', (t) => {
    for (const file of ['config.json', 'tokenizer.json']) {
      const m = copyModel(`eacces-${file}`);
      chmodSync(join(m, file), 0o000);
      // root reads anything: run as nobody then (the folders must let it in).
      const asNobody = isRoot ? { uid: 65534, gid: 65534 } : {};
      if (isRoot) {
        for (let p = dir; p !== '/'; p = resolve(p, '..')) chmodSync(p, statSync(p).mode | 0o005);
        chmodSync(m, 0o755);
        try {
          execFileSync(process.execPath, [cli, '--help'], { ...asNobody, stdio: 'ignore' });
        } catch {
          return t.skip('the CLI cannot run as nobody here');
        }
      }
      failsWithOneLine(run(['info', '--model', m], { ...asNobody, env: { INSTRUCTION_LENS_CACHE: join(m, 'cache'), HOME: m } }), new RegExp(`${file.replace('.', '\\.')}: permission denied`));
    }
  });

  it('INSTRUCTION_LENS_CACHE=/dev/null costs time, not the result', () => {
    const r = run(['heads', '--model', model, '--layers', '0', '--dims', '2', '--top-k', '10', '--json', join(dir, 'devnull-heads.json'), '--provider', 'cpu'], { env: { INSTRUCTION_LENS_CACHE: '/dev/null' } });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /analysis cache: cannot write/);
    assert.ok(JSON.parse(readFileSync(join(dir, 'devnull-heads.json'), 'utf8')).layers.length === 1);
  });

  it('score --input DIR and heads --vectors DIR', () => {
    failsWithOneLine(run(['score', '--input', dir, '--output', join(dir, 'o.jsonl')]), /it is a folder/);
    failsWithOneLine(run(['heads', '--model', model, '--vectors', dir, '--json', join(dir, 'v.json')]), /it is a folder/);
  });

  it('num_hidden_layers: 1e9 is refused at once, by name', () => {
    const m = copyModel('layers-1e9');
    editJson(join(m, 'config.json'), (c) => (c.num_hidden_layers = 1e9));
    const r = run(['info', '--model', m]);
    failsWithOneLine(r, /num_hidden_layers/);
    assert.ok(r.ms < 5000, `${r.ms} ms`);
  });
});

describe('cache payloads are checked against their type', () => {
  it('a cache entry with a valid checksum and a wrong payload is recomputed', async () => {
    const cacheDir = join(dir, 'typed-cache');
    const good = { options: { topK: 1, dims: 1, baselineWords: 1, similarity: 'input-embeddings', layers: [0] }, layers: [] };
    const first = await cached('heads', { k: 1 }, async () => good, { dir: cacheDir });
    // Rewrite the payload with a matching length and checksum: only its type is wrong.
    const text = readFileSync(first.file, 'utf8');
    const header = JSON.parse(text.slice(0, text.indexOf('\n')));
    const payload = Buffer.from(JSON.stringify({ layers: 'nope' }));
    header.bytes = payload.length;
    header.sha256 = (await import('node:crypto')).createHash('sha256').update(payload).digest('hex');
    writeFileSync(first.file, Buffer.concat([Buffer.from(JSON.stringify(header) + '\n'), payload]));
    const logs: string[] = [];
    let computed = 0;
    const second = await cached('heads', { k: 1 }, async () => (computed++, good), { dir: cacheDir, log: (l) => logs.push(l) });
    assert.equal(second.fromCache, false);
    assert.equal(computed, 1);
    assert.deepEqual(second.value, good);
    assert.match(logs.join('\n'), /unusable payload/);
  });
});

describe('score with one enormous line', () => {
  it('a gzip bomb of zeros fails with a LensError and leaves no file behind', async () => {
    const out = join(dir, 'bomb');
    mkdirSync(out);
    const input = join(out, 'bomb.jsonl.gz');
    writeFileSync(input, gzipSync(Buffer.alloc(80 * 1024 * 1024, 0x30)));
    await assert.rejects(scoreJsonl(input, join(out, 'scores.jsonl')), (e: unknown) => e instanceof LensError && /line 1: longer than/.test(e.message));
    assert.deepEqual(readdirSync(out), ['bomb.jsonl.gz']);
  });
});

describe('terminal escapes', () => {
  it('a tensor name with escape sequences is shown escaped', () => {
    const m = copyModel('esc-tensor');
    editSafetensorsHeader(join(m, 'model.safetensors'), (h) => {
      h['evil\u001b[31m\u009b2J'] = { dtype: 'I64', shape: [0], data_offsets: [0, 0] };
    });
    const r = run(['info', '--model', m]);
    failsWithOneLine(r, /evil/);
    assert.doesNotMatch(r.stderr, ESC);
  });

  it('architectures[0] with escape sequences is shown escaped', () => {
    const m = copyModel('esc-arch');
    editJson(join(m, 'config.json'), (c) => (c.architectures = ['Evil\u001b]8;;http://x\u0007link\u001b]8;;\u0007']));
    const r = run(['info', '--model', m]);
    failsWithOneLine(r, /Evil/);
    assert.doesNotMatch(r.stderr, ESC);
  });

  it("generate's text is printed escaped (the JSON keeps it as it is)", () => {
    const m = copyModel('esc-generate');
    const first = join(dir, 'esc-first.json');
    assert.equal(run(['generate', '--model', m, '--prompt', 'hi there', '--max-new-tokens', '3', '--provider', 'cpu', '--json', first]).code, 0);
    const { outputIds } = JSON.parse(readFileSync(first, 'utf8')) as { outputIds: number[] };
    assert.ok(outputIds.length > 0);
    // Make every generated character decode to an escape sequence (a Replace step after the tokenizer's decoder).
    editJson(join(m, 'tokenizer.json'), (t) => {
      const replace = { type: 'Replace', pattern: { Regex: '[^\\s]' }, content: '\u001b[31mRED' };
      t.decoder = t.decoder ? { type: 'Sequence', decoders: [t.decoder, replace] } : replace;
    });
    const second = join(dir, 'esc-second.json');
    const r = run(['generate', '--model', m, '--prompt', 'hi there', '--max-new-tokens', '3', '--provider', 'cpu', '--json', second]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(JSON.parse(readFileSync(second, 'utf8')).text, /\u001b\[31mRED/);
    assert.match(r.stdout, /␛\[31mRED/);
    assert.doesNotMatch(r.stdout, ESC);
  });
});

describe('engine requests', () => {
  const enginePath = () => join(root, 'dist', 'engine.js');

  for (const [name, raw] of [
    ['no Content-Length', 'Content-Type: application/json\r\n\r\n{}'],
    ['a bad Content-Length', 'Content-Length: lots\r\n\r\n{}'],
    ['garbage', 'garbage garbage\r\n\r\n'],
    ['a body that is not JSON', 'Content-Length: 5\r\n\r\nhello'],
  ] as const) {
    it(`a frame with ${name} is answered with a parse error, then the engine exits`, async () => {
      const engine = new EngineProcess(enginePath(), { INSTRUCTION_LENS_CACHE: join(dir, 'cache') });
      try {
        engine.writeRaw(raw);
        const reply = await engine.nextMessage();
        assert.equal(reply.id, null);
        assert.equal(reply.error?.code, -32700);
        assert.equal(await engine.exitCode(), 1);
      } finally {
        await engine.close();
      }
    });
  }

  it('refuses wrong types, unknown enum values and positional params with -32602 naming the field; answers a message without method; gives one reply per id', async () => {
    const engine = new EngineProcess(enginePath(), { INSTRUCTION_LENS_CACHE: join(dir, 'cache') });
    try {
      const typed = await engine.request('instructionLens/generate', { model, prompt: 42 });
      assert.equal(typed.error?.code, -32602);
      assert.match(typed.error!.message, /'prompt' must be a string/);
      const evil = await engine.request('instructionLens/attribute', { model, prompt: 'x', objective: 'evil' });
      assert.equal(evil.error?.code, -32602);
      assert.match(evil.error!.message, /'objective' must be one of prob, logprob/);
      const nested = await engine.request('instructionLens/compare', { base: model, tuned: model, prompt: 'x', importance: { L: 'ten' } });
      assert.match(nested.error!.message, /'importance\.L' must be/);
      const positional = await engine.request('instructionLens/info', [model] as never);
      assert.equal(positional.error?.code, -32602);
      const noMethod = await engine.send({ jsonrpc: '2.0', id: 'no-method' });
      assert.equal(noMethod.error?.code, -32600);
      // Two requests with one id, the first still running: each gets exactly one reply.
      const m = withTemplate('dup-id', '{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}');
      const a = engine.send({ jsonrpc: '2.0', id: 'same', method: 'instructionLens/generate', params: { model: m, prompt: 'x', format: 'chat-template' } });
      const b = engine.send({ jsonrpc: '2.0', id: 'same', method: 'instructionLens/info', params: { model } });
      const replies = await Promise.all([a, b]);
      assert.equal(replies.length, 2);
      assert.equal(engine.repliesFor('same'), 2);
      assert.ok(replies.some((r) => r.error?.code === -32600 && /already in use/.test(r.error.message)));
      // 12 and "12" are one id to vscode-jsonrpc: the second, while the first runs, is refused, not lost.
      const slow = { model: m, prompt: 'x', format: 'chat-template' };
      const [n12, s12] = await Promise.all([
        engine.send({ jsonrpc: '2.0', id: 12, method: 'instructionLens/generate', params: slow }),
        engine.send({ jsonrpc: '2.0', id: '12', method: 'instructionLens/info', params: { model } }),
      ]);
      assert.ok(n12.error && s12.error?.code === -32600, JSON.stringify([n12, s12]));
      // A $/cancelRequest without an id (it threw inside vscode-jsonrpc's reader) is dropped.
      engine.notify('$/cancelRequest', {});
      engine.notify('$/cancelRequest', null);
      // And the engine goes on.
      assert.ok((await engine.request('instructionLens/info', { model })).result);
    } finally {
      await engine.close();
    }
  });
});

describe('config sanity', () => {
  it('a config with fewer layers than the weights is refused', () => {
    const m = copyModel('fewer-layers');
    editJson(join(m, 'config.json'), (c) => (c.num_hidden_layers = (c.num_hidden_layers as number) - 1));
    assert.throws(() => loadCheckpoint(m), (e: unknown) => e instanceof LensError && /num_hidden_layers is \d+, but the weights hold \d+ layers/.test(e.message));
  });

  it('a tensor named twice in a safetensors header is refused', () => {
    const m = copyModel('duplicate-tensor');
    const file = join(m, 'model.safetensors');
    const bytes = readFileSync(file);
    const length = Number(bytes.readBigUInt64LE(0));
    const header = bytes.subarray(8, 8 + length).toString('utf8');
    // Repeat the first entry under the same name (the same length, so offsets stay valid).
    const first = /^\{("(?:[^"\\]|\\.)*"):(\{[^}]*\})/.exec(header)!;
    const doubled = `{${first[1]}:${first[2]},${header.slice(1)}`;
    const prefix = Buffer.alloc(8);
    prefix.writeBigUInt64LE(BigInt(Buffer.byteLength(doubled)));
    writeFileSync(file, Buffer.concat([prefix, Buffer.from(doubled), bytes.subarray(8 + length)]));
    assert.throws(() => loadCheckpoint(m), (e: unknown) => e instanceof LensError && /appears twice/.test(e.message));
  });

  for (const [field, value] of [['rope_theta', 5e-324], ['rms_norm_eps', 1e308], ['hidden_size', 2 ** 40]] as const) {
    it(`${field}: ${value} is refused by name`, () => {
      const m = copyModel(`degenerate-${field}`);
      editJson(join(m, 'config.json'), (c) => (c[field] = value));
      assert.throws(() => loadCheckpoint(m), (e: unknown) => e instanceof LensError && new RegExp(`'${field}'`).test(e.message));
    });
  }
});
