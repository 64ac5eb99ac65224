// Seeded fuzzing of what strangers hand us (issue 14): safetensors headers, config.json, tokenizer
// files, `score` JSONL lines and engine frames. Every case must end in a correct result or a clean
// LensError (or, for the engine, exactly one reply per request id, or a parse error and an exit) —
// no other exception, no hang, no leftover file. The seed is printed with any failure; rerun one
// with LENS_FUZZ_SEED=<seed>.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { before, describe, it } from 'node:test';
import { scoreJsonl } from '../../src/explain/score-file.js';
import { loadCheckpoint } from '../../src/model/checkpoint.js';
import { LensError } from '../../src/model/errors.js';
import { readSafetensorsHeader } from '../../src/model/safetensors.js';
import { writeSyntheticCheckpoint } from '../../src/model/synthetic.js';
import { EngineProcess, type RpcReply } from '../support/engine-raw.js';
import { mulberry32 } from '../support/random.js';
import { tempDir } from '../support/temp.js';

const SEED = Number(process.env.LENS_FUZZ_SEED ?? 20261202);
const root = resolve(__dirname, '..', '..');
const dir = tempDir('lens-fuzz-');
const model = join(dir, 'model');

type Rng = () => number;
const int = (rng: Rng, n: number) => Math.floor(rng() * n);
const pick = <T>(rng: Rng, list: readonly T[]): T => list[int(rng, list.length)]!;

/** Values that break assumptions: wrong types, edges of number ranges, long and odd strings. */
const ODD_VALUES: readonly unknown[] = [
  null, true, false, 0, -1, 1, 1.5, -0.5, 1e9, 1e308, -1e308, 5e-324, 2 ** 53, 2 ** 31, 65536,
  '', 'x', '12', 'bf16', 'F32', '\u001b[31m', '../../etc/passwd', 'a'.repeat(5000), [], [1, 2], [[1]], {}, { a: 1 },
];

function mutateValue(rng: Rng, value: unknown, depth = 0): unknown {
  const r = rng();
  if (r < 0.45 || depth > 3 || value === null || typeof value !== 'object') return pick(rng, ODD_VALUES);
  if (Array.isArray(value)) {
    const copy = [...value];
    if (copy.length && rng() < 0.6) copy[int(rng, copy.length)] = mutateValue(rng, copy[int(rng, copy.length)], depth + 1);
    else if (copy.length && rng() < 0.5) copy.splice(int(rng, copy.length), 1);
    else copy.push(pick(rng, ODD_VALUES));
    return copy;
  }
  return mutateObject(rng, value as Record<string, unknown>, depth + 1);
}

/** One to three changes: a field replaced by an odd value, mutated inside, deleted, or added. */
function mutateObject(rng: Rng, object: Record<string, unknown>, depth = 0): Record<string, unknown> {
  const copy = { ...object };
  const keys = Object.keys(copy);
  for (let n = 1 + int(rng, 3); n > 0; n--) {
    const key = keys.length ? pick(rng, keys) : 'k';
    const r = rng();
    if (r < 0.6) copy[key] = mutateValue(rng, copy[key], depth);
    else if (r < 0.8) delete copy[key];
    else copy[`${key}_${int(rng, 100)}`] = pick(rng, ODD_VALUES);
  }
  return copy;
}

/** Byte-level damage: flipped bytes, a cut, inserted junk. */
function mutateBytes(rng: Rng, bytes: Buffer, from = 0, to = bytes.length): Buffer {
  const copy = Buffer.from(bytes);
  const r = rng();
  if (r < 0.5) {
    for (let n = 1 + int(rng, 6); n > 0; n--) copy[from + int(rng, Math.max(1, to - from))] = int(rng, 256);
    return copy;
  }
  if (r < 0.75) return copy.subarray(0, from + int(rng, Math.max(1, to - from)));
  const at = from + int(rng, Math.max(1, to - from));
  return Buffer.concat([copy.subarray(0, at), Buffer.from(Array.from({ length: 1 + int(rng, 16) }, () => int(rng, 256))), copy.subarray(at)]);
}

/** Runs `cases` seeded cases; a failure names the seed and the case. */
async function fuzz(name: string, cases: number, body: (rng: Rng, index: number) => Promise<void> | void): Promise<number> {
  const rng = mulberry32(SEED ^ [...name].reduce((h, c) => Math.imul(h ^ c.charCodeAt(0), 16777619), 2166136261));
  for (let i = 0; i < cases; i++) {
    try {
      await body(rng, i);
    } catch (e) {
      throw new Error(`fuzz ${name}: seed ${SEED} (LENS_FUZZ_SEED=${SEED}), case ${i}: ${(e as Error).stack ?? e}`);
    }
  }
  return cases;
}

/** `run()` returns or throws a LensError; anything else fails the case. */
function cleanly<T>(run: () => T): T | LensError {
  try {
    return run();
  } catch (e) {
    if (e instanceof LensError) {
      assert.ok(!e.message.includes('\n'), `a multi-line message: ${e.message}`);
      return e;
    }
    throw e;
  }
}

let total = 0;
const started = performance.now();

before(async () => {
  if (!existsSync(join(root, 'dist', 'engine.js'))) execFileSync(process.execPath, [join(root, 'scripts', 'build.mjs')], { cwd: root, stdio: 'inherit' });
  await writeSyntheticCheckpoint(model, { preset: 'tiny', seed: 3, architecture: 'Qwen2ForCausalLM' });
});

describe(`fuzz (seed ${SEED})`, () => {
  it('safetensors headers', async () => {
    const original = readFileSync(join(model, 'model.safetensors'));
    const headerLength = Number(original.readBigUInt64LE(0));
    const header = JSON.parse(original.subarray(8, 8 + headerLength).toString('utf8')) as Record<string, Record<string, unknown>>;
    const names = Object.keys(header).filter((k) => k !== '__metadata__');
    const work = join(dir, 'st');
    cpSync(model, work, { recursive: true });
    const file = join(work, 'model.safetensors');
    total += await fuzz('safetensors', 160, (rng, i) => {
      let bytes: Buffer;
      if (rng() < 0.4) {
        bytes = mutateBytes(rng, original, 0, 8 + headerLength);
      } else {
        const h: Record<string, unknown> = { ...header };
        const name = pick(rng, names);
        const r = rng();
        if (r < 0.5) h[name] = mutateObject(rng, header[name]!);
        else if (r < 0.7) delete h[name];
        else if (r < 0.85) h[`${name}.extra`] = mutateValue(rng, header[name]);
        else h.__metadata__ = mutateValue(rng, { format: 'pt' });
        let text = JSON.stringify(h);
        // A tensor named twice, which JSON.parse would quietly collapse.
        if (rng() < 0.15) text = `{${JSON.stringify(name)}:${JSON.stringify(header[name])},${text.slice(1)}`;
        const body = Buffer.from(text, 'utf8');
        const prefix = Buffer.alloc(8);
        prefix.writeBigUInt64LE(BigInt(body.length + (rng() < 0.1 ? int(rng, 64) - 32 : 0)) & 0xffffffffffffffffn);
        bytes = Buffer.concat([prefix, body, original.subarray(8 + headerLength)]);
      }
      writeFileSync(file, bytes);
      const result = cleanly(() => readSafetensorsHeader(file));
      if (!(result instanceof LensError)) {
        const seen = new Set<string>();
        for (const t of result) {
          assert.ok(t.offset + t.length <= bytes.length, `tensor ${t.name} reaches past the end of the file`);
          assert.ok(!seen.has(t.name), `tensor ${t.name} twice`);
          seen.add(t.name);
        }
      }
      if (i % 4 === 0) cleanly(() => loadCheckpoint(work));
    });
  });

  it('config.json', async () => {
    const original = JSON.parse(readFileSync(join(model, 'config.json'), 'utf8')) as Record<string, unknown>;
    const work = join(dir, 'cfg');
    cpSync(model, work, { recursive: true });
    total += await fuzz('config', 120, (rng) => {
      const text = rng() < 0.15 ? mutateBytes(rng, Buffer.from(JSON.stringify(original))) : Buffer.from(JSON.stringify(mutateObject(rng, original)));
      writeFileSync(join(work, 'config.json'), text);
      const t0 = performance.now();
      const result = cleanly(() => loadCheckpoint(work));
      assert.ok(performance.now() - t0 < 5000, 'took over 5 s');
      if (!(result instanceof LensError)) {
        assert.ok(result.config.numLayers >= 1 && result.config.numLayers <= 10_000);
        assert.ok(Number.isFinite(result.config.ropeTheta) && result.config.ropeTheta >= 1);
      }
    });
  });

  it('tokenizer files', async () => {
    const tokenizer = JSON.parse(readFileSync(join(model, 'tokenizer.json'), 'utf8')) as Record<string, unknown>;
    const tokConfig = JSON.parse(readFileSync(join(model, 'tokenizer_config.json'), 'utf8')) as Record<string, unknown>;
    const work = join(dir, 'tok');
    cpSync(model, work, { recursive: true });
    total += await fuzz('tokenizer', 60, (rng) => {
      writeFileSync(join(work, 'tokenizer.json'), JSON.stringify(tokenizer));
      writeFileSync(join(work, 'tokenizer_config.json'), JSON.stringify(tokConfig));
      const r = rng();
      if (r < 0.4) writeFileSync(join(work, 'tokenizer.json'), JSON.stringify(mutateObject(rng, tokenizer)));
      else if (r < 0.55) writeFileSync(join(work, 'tokenizer.json'), mutateBytes(rng, Buffer.from(JSON.stringify(tokenizer))).subarray(0, 4096));
      else writeFileSync(join(work, 'tokenizer_config.json'), JSON.stringify(mutateObject(rng, tokConfig)));
      cleanly(() => loadCheckpoint(work));
    });
  });

  it('score JSONL lines', async () => {
    const work = join(dir, 'score');
    mkdirSync(work);
    const valid = { id: 'r', explain: [[0.1, 2, 3], [4, 0.5, 6]], mask: [1, 0] };
    total += await fuzz('score', 120, async (rng) => {
      const lines: string[] = [];
      for (let n = 1 + int(rng, 3); n > 0; n--) {
        const r = rng();
        if (r < 0.3) lines.push(JSON.stringify(valid));
        else if (r < 0.8) lines.push(JSON.stringify(mutateObject(rng, valid)));
        else lines.push(mutateBytes(rng, Buffer.from(JSON.stringify(valid))).toString('latin1'));
      }
      const input = join(work, 'in.jsonl');
      const output = join(work, 'out.jsonl');
      writeFileSync(input, lines.join('\n'));
      rmSync(output, { force: true });
      let result: unknown;
      try {
        result = await scoreJsonl(input, output);
      } catch (e) {
        if (!(e instanceof LensError)) throw e;
        result = e;
      }
      const files = readdirSync(work).sort();
      assert.deepEqual(files, result instanceof LensError ? ['in.jsonl'] : ['in.jsonl', 'out.jsonl'], 'a leftover or missing file');
      if (!(result instanceof LensError)) {
        for (const line of readFileSync(output, 'utf8').trim().split('\n')) {
          const record = JSON.parse(line) as { density: number[] };
          assert.ok(record.density.every((d) => Number.isFinite(d) && d >= 0 && d <= 1), line);
        }
      }
    });
  });

  it('engine frames', async () => {
    const enginePath = join(root, 'dist', 'engine.js');
    const env = { INSTRUCTION_LENS_CACHE: join(dir, 'cache') };
    const methods = ['instructionLens/info', 'instructionLens/generate', 'instructionLens/attribute', 'instructionLens/compare', 'instructionLens/nope', '$/cancelRequest'];
    const template = (method: string) =>
      method === 'instructionLens/compare'
        ? { base: join(dir, 'absent'), tuned: model, prompt: 'x', maxNewTokens: 1, objective: 'prob', importance: { L: 10 } }
        : method === 'instructionLens/info'
          ? { model, role: 'base' }
          : { model: join(dir, 'absent'), prompt: 'x', maxNewTokens: 1, format: 'raw' };
    // Well-framed messages with mutated content: each request with a usable id gets exactly one reply.
    const engine = new EngineProcess(enginePath, env);
    try {
      const expected = new Map<string | number, number>();
      total += await fuzz('engine-messages', 120, (rng, i) => {
        const method = pick(rng, methods);
        const message: Record<string, unknown> = { jsonrpc: '2.0', id: rng() < 0.5 ? i : `f${i}`, method, params: template(method) };
        const r = rng();
        let sent: unknown = message;
        if (r < 0.5) message.params = mutateObject(rng, message.params as Record<string, unknown>);
        else if (r < 0.7) sent = mutateObject(rng, message);
        else if (r < 0.8) message.params = mutateValue(rng, []);
        const m = sent as Record<string, unknown>;
        // A model '' would build the embedded default: not this test's business.
        const p = m.params as Record<string, unknown> | undefined;
        if (p && typeof p === 'object' && !Array.isArray(p)) for (const k of ['model', 'base', 'tuned']) if (p[k] === '') p[k] = join(dir, 'absent');
        void engine.send(m).catch(() => undefined);
        // Every message with a string or number id is due one reply, unless it is a response.
        const isResponse = m.method === undefined && ('result' in m || 'error' in m);
        if ((typeof m.id === 'string' || typeof m.id === 'number') && !isResponse) expected.set(m.id, (expected.get(m.id) ?? 0) + 1);
      });
      const last = await engine.send({ jsonrpc: '2.0', id: 'sentinel', method: 'instructionLens/info', params: { model } });
      assert.ok(last.result, JSON.stringify(last));
      // Replies to slow requests may come after the sentinel's: wait a little for them.
      const deadline = performance.now() + 20_000;
      while ([...expected].some(([id, n]) => engine.repliesFor(id) < n) && performance.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      for (const [id, n] of expected) assert.equal(engine.repliesFor(id), n, `seed ${SEED}: id ${JSON.stringify(id)} of ${n} message(s) got ${engine.repliesFor(id)} replies`);
    } finally {
      await engine.close();
    }

    // Broken frames: a parse error (id null), then the engine exits.
    total += await fuzz('engine-frames', 8, async (rng) => {
      const frames = [
        () => `Content-Length: ${pick(rng, ['-1', 'abc', '1e3', '', '99999999999999'])}\r\n\r\n{}`,
        () => `${Buffer.from(Array.from({ length: 1 + int(rng, 40) }, () => 33 + int(rng, 90))).toString('latin1').replace(/:/g, '')}\r\n\r\n`,
        () => {
          const body = mutateBytes(rng, Buffer.from(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'instructionLens/info', params: { model } })));
          return `Content-Length: ${body.length}\r\n\r\n${body.toString('latin1')}{`.slice(0, 25 + body.length);
        },
      ];
      const text = pick(rng, frames)();
      const broken = new EngineProcess(enginePath, env);
      try {
        broken.writeRaw(Buffer.from(text, 'latin1'));
        let reply: RpcReply | null = null;
        try {
          reply = await Promise.race([broken.nextMessage(), new Promise<null>((r) => setTimeout(() => r(null), 5000))]);
        } catch {
          reply = null;
        }
        if (reply && reply.error?.code === -32700) {
          assert.equal(await broken.exitCode(), 1);
        } else {
          // The body happened to stay valid JSON (a mutation inside a string): then it is an ordinary message.
          assert.ok(reply === null || reply.id !== undefined, `${JSON.stringify(text)} → ${JSON.stringify(reply)}`);
        }
      } finally {
        await broken.close();
      }
    });
  });

  it('ran a few hundred cases', () => {
    const seconds = (performance.now() - started) / 1000;
    process.stdout.write(`# fuzz: ${total} cases in ${seconds.toFixed(1)} s (seed ${SEED})\n`);
    assert.ok(total >= 300, `${total} cases`);
  });
});
