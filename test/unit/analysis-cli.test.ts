/** The heads / ffn / heads-diff / ffn-diff commands and compare's sections, through dist/cli.js. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { before, describe, it } from 'node:test';
import { Tokenizer } from 'tokenizers';
import { buildWordList } from '../../src/explain/wordlist.js';
import { loadCheckpoint } from '../../src/model/checkpoint.js';
import { writeSyntheticCheckpoint } from '../../src/model/synthetic.js';
import { tempDir } from '../support/temp.js';

const root = resolve(__dirname, '..', '..');
const cli = join(root, 'dist', 'cli.js');
const dir = tempDir();
const base = join(dir, 'base');
const tuned = join(dir, 'tuned');

function run(...args: string[]) {
  const result = spawnSync(process.execPath, [cli, ...args, '--provider', 'cpu'], { encoding: 'utf8', env: { ...process.env, INSTRUCTION_LENS_CACHE: join(dir, 'cache') } });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

before(async () => {
  if (!existsSync(cli)) spawnSync(process.execPath, [join(root, 'scripts', 'build.mjs')], { cwd: root, stdio: 'inherit' });
  await writeSyntheticCheckpoint(base, { preset: 'tiny', seed: 41 });
  await writeSyntheticCheckpoint(tuned, { preset: 'tiny', seed: 42 });
});

describe('instruction-lens heads / ffn', () => {
  it('heads --json writes every layer and head, dimensions by energy, pairs by similarity', () => {
    const out = join(dir, 'heads.json');
    const { code, stderr } = run('heads', '--model', base, '--top-k', '30', '--dims', '3', '--json', out);
    assert.equal(code, 0, stderr);
    const result = JSON.parse(readFileSync(out, 'utf8'));
    assert.equal(result.layers.length, 2);
    assert.equal(result.options.topK, 30);
    assert.equal(result.words.source, 'vocabulary');
    let pairs = 0;
    for (const layer of result.layers) {
      assert.equal(typeof layer.layer, 'number');
      assert.equal(layer.heads.length, 4);
      for (const head of layer.heads) {
        assert.equal(head.dims.length, 3);
        for (let j = 1; j < head.dims.length; j++) assert.ok(head.dims[j - 1].energy >= head.dims[j].energy);
        for (const dim of head.dims) {
          assert.deepEqual(Object.keys(dim), ['dim', 'energy', 'pairs']);
          for (let i = 1; i < dim.pairs.length; i++) assert.ok(dim.pairs[i - 1].similarity >= dim.pairs[i].similarity);
          for (const p of dim.pairs) assert.deepEqual(Object.keys(p), ['query', 'key', 'similarity']);
          pairs += dim.pairs.length;
        }
      }
    }
    assert.ok(pairs > 0);
  });

  it('ffn --json writes each layer’s components with 50 concept words', () => {
    const out = join(dir, 'ffn.json');
    const { code, stderr } = run('ffn', '--model', base, '--components', '5', '--json', out);
    assert.equal(code, 0, stderr);
    const result = JSON.parse(readFileSync(out, 'utf8'));
    assert.equal(result.layers.length, 2);
    for (const layer of result.layers) {
      assert.equal(layer.components.length, 5);
      layer.components.forEach((c: { index: number; varianceRatio: number; words: string[] }, i: number) => {
        assert.equal(c.index, i);
        assert.equal(c.words.length, 50);
        if (i) assert.ok(layer.components[i - 1].varianceRatio >= c.varianceRatio);
      });
    }
    assert.ok(!('bases' in result));
  });

  it('--words FILE is used exactly as given', () => {
    const words = file('words.txt', 'write\r\nWrite\nsummarize\npoem\nthe\nzorblaxian\n');
    const out = join(dir, 'heads-words.json');
    const { code, stderr } = run('heads', '--model', base, '--words', words, '--top-k', '3', '--json', out);
    assert.equal(code, 0, stderr);
    const result = JSON.parse(readFileSync(out, 'utf8'));
    assert.equal(result.words.source, 'file');
    assert.equal(result.words.count, 6);
    const seen = new Set<string>();
    for (const l of result.layers) for (const h of l.heads) for (const d of h.dims) for (const p of d.pairs) seen.add(p.query).add(p.key);
    for (const w of seen) assert.ok(['write', 'Write', 'summarize', 'poem', 'the', 'zorblaxian'].includes(w), w);
  });

  it('--words FILE with a WordLevel tokenizer (no word-initial marker): a word’s tokens are the tokenizer’s for it; without a list the error says how to pass one', async () => {
    const wl = join(dir, 'wordlevel');
    await writeSyntheticCheckpoint(wl, { preset: 'tiny', seed: 43 });
    // The same ids and special tokens, as a whitespace-split WordLevel vocabulary: a few real words, the rest w<id>.
    const json = JSON.parse(readFileSync(join(wl, 'tokenizer.json'), 'utf8'));
    const specials = new Map<number, string>(json.added_tokens.map((t: { id: number; content: string }) => [t.id, t.content]));
    const real = ['<unk>', 'write', 'Write', 'summarize', 'poem', 'the', 'sea', 'short'];
    const vocab: Record<string, number> = {};
    let next = 0;
    for (const id of Object.values(json.model.vocab as Record<string, number>)) vocab[specials.get(id) ?? (next < real.length ? real[next++]! : `w${id}`)] = id;
    json.model = { type: 'WordLevel', vocab, unk_token: '<unk>' };
    json.pre_tokenizer = { type: 'WhitespaceSplit' };
    json.decoder = null;
    json.post_processor = null;
    writeFileSync(join(wl, 'tokenizer.json'), JSON.stringify(json));
    const noList = run('heads', '--model', wl, '--json', join(dir, 'wl-never.json'));
    assert.notEqual(noList.code, 0);
    assert.match(noList.stderr, /no word-initial tokens .*--words FILE \(one word per line\)/);
    const words = file('wl-words.txt', 'write\nsummarize\npoem\nthe\nsea\nshort\nw300\nw301\n');
    const out = join(dir, 'heads-wl.json');
    const { code, stderr } = run('heads', '--model', wl, '--words', words, '--top-k', '4', '--json', out);
    assert.equal(code, 0, stderr);
    const result = JSON.parse(readFileSync(out, 'utf8'));
    assert.equal(result.words.source, 'file');
    assert.equal(result.words.count, 8);
    assert.ok(result.layers.every((l: { heads: unknown[] }) => l.heads.length === 4));
    // In process: each word's tokens are exactly what the tokenizers library gives for it.
    const checkpoint = loadCheckpoint(wl);
    const list = await buildWordList(checkpoint, { file: words });
    const tokenizer = Tokenizer.fromFile(join(wl, 'tokenizer.json'));
    for (let i = 0; i < list.words.length; i++) assert.deepEqual(list.tokens[i], (await tokenizer.encode(list.words[i]!, null, { addSpecialTokens: false })).getIds(), list.words[i]);
    assert.deepEqual(list.tokens.slice(0, 2), [[vocab.write], [vocab.summarize]]);
  });

  it('bad input fails with the file (and line) named, and writes nothing', () => {
    const out = join(dir, 'never.json');
    const cases: [string[], RegExp][] = [
      [['heads', '--words', join(dir, 'missing.txt')], /missing\.txt: ENOENT|Cannot read the word list .*missing\.txt/],
      [['heads', '--words', file('empty.txt', '')], /empty\.txt: the word list is empty/],
      [['ffn', '--words', file('blank.txt', 'write\n\npoem\n')], /blank\.txt:2: empty line/],
      [['heads', '--words', file('dup.txt', 'write\npoem\nwrite\n')], /dup\.txt:3: "write" repeats line 1/],
      [['heads', '--vectors', file('short.txt', 'the 0.1 0.2 0.3\nwrite 0.1 0.2\n')], /short\.txt:2: 2 values, but the vectors have 3 dimensions/],
      [['heads', '--vectors', file('long.txt', 'the 0.1 0.2 0.3\nwrite 0.1 0.2 0.3 0.4\n')], /long\.txt:2: 4 values, but the vectors have 3 dimensions/],
      [['heads', '--vectors', file('nan.txt', 'the 0.1 0.2 0.3\nwrite 0.1 abc 0.3\n')], /nan\.txt:2: value 2 \("abc"\) is not a number/],
      [['heads', '--vectors', join(dir, 'nope.vec')], /nope\.vec/],
      [['heads', '--top-k', '0'], /--top-k must be a positive integer/],
      [['heads-diff', '--verbs', file('verbs.txt', 'write\nre-write\n')], /verbs\.txt:2: "re-write" is not a verb made of letters a-z/],
      [['ffn', '--layers', '0,7'], /Layer 7 does not exist/],
    ];
    for (const [args, message] of cases) {
      const { code, stderr } = run(...args, '--model', base, '--json', out);
      assert.notEqual(code, 0, args.join(' '));
      assert.match(stderr, message, args.join(' '));
      assert.ok(!stderr.includes('internal error'), stderr);
      assert.ok(!existsSync(out), `${args.join(' ')}: wrote ${out}`);
    }
  });
});

describe('instruction-lens heads-diff / ffn-diff / compare', () => {
  it('heads-diff prints Table 3 and writes it', () => {
    const out = join(dir, 'heads-diff.json');
    const { code, stdout, stderr } = run('heads-diff', '--base', base, '--tuned', tuned, '--dims', '8', '--json', out);
    assert.equal(code, 0, stderr);
    assert.match(stdout, /instruction \(mean\)/);
    assert.match(stdout, /general \(mean\)/);
    const result = JSON.parse(readFileSync(out, 'utf8'));
    assert.equal(result.verbs.groups.length, 2);
    assert.ok(result.verbs.instruction.verbs.length > 0);
    for (const row of result.verbs.instruction.verbs) for (const s of row.share) assert.ok(s === null || (s >= 0 && s <= 1));
  });

  it('ffn-diff prints and writes the rotation per layer', () => {
    const out = join(dir, 'ffn-diff.json');
    const { code, stdout, stderr } = run('ffn-diff', '--base', base, '--tuned', tuned, '--json', out);
    assert.equal(code, 0, stderr);
    assert.match(stdout, /mean angle/);
    const result = JSON.parse(readFileSync(out, 'utf8'));
    assert.equal(result.rotation.length, 2);
    for (const r of result.rotation) {
      assert.equal(r.k, 8);
      assert.ok(r.meanCosine > 0 && r.meanCosine < 1);
      assert.equal(r.bestMatch.length, 8);
    }
  });

  it('compare fills the heads and ffn sections, and leaves them out with --no-heads / --no-ffn', () => {
    const prompt = 'Summarize the article below in two sentences.';
    const full = join(dir, 'report.json');
    let r = run('compare', '--base', base, '--tuned', tuned, '--prompt', prompt, '--max-new-tokens', '3', '--json', full);
    assert.equal(r.code, 0, r.stderr);
    const report = JSON.parse(readFileSync(full, 'utf8'));
    for (const role of ['base', 'tuned']) {
      const heads = report.heads[role];
      assert.equal(heads.perHead.length, 8);
      assert.deepEqual(heads.local.instructionVerbs, [{ verb: 'summarize', word: 0 }]);
      assert.ok(heads.words.count > heads.words.vocabularyCount || heads.words.count > 1000);
      assert.ok(report.ffn[role].layers.length === 2 && report.ffn[role].active.length > 0);
    }
    assert.ok(Array.isArray(report.heads.groups));
    assert.equal(report.ffn.rotation.length, 2);
    const none = join(dir, 'report-none.json');
    r = run('compare', '--base', base, '--tuned', tuned, '--prompt', prompt, '--max-new-tokens', '3', '--json', none, '--no-heads', '--no-ffn');
    assert.equal(r.code, 0, r.stderr);
    const bare = JSON.parse(readFileSync(none, 'utf8'));
    assert.ok(!('heads' in bare) && !('ffn' in bare));
    const onlyFfn = join(dir, 'report-ffn.json');
    r = run('compare', '--base', base, '--tuned', tuned, '--prompt', prompt, '--max-new-tokens', '3', '--json', onlyFfn, '--no-heads');
    assert.equal(r.code, 0, r.stderr);
    const partial = JSON.parse(readFileSync(onlyFfn, 'utf8'));
    assert.ok(!('heads' in partial) && 'ffn' in partial);
  });
});
