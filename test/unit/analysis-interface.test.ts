// Heads and FFN behind one interface (src/explain/analysis.ts): each names the probes its local
// part reads, its cache key follows what the global result depends on, and the global part through
// the interface reads back from the cache what a direct call wrote.

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { FFN_ANALYSIS, HEADS_ANALYSIS } from '../../src/explain/analysis.js';
import { analyzeHeadsGlobal } from '../../src/explain/heads.js';
import { buildWordList, type WordList } from '../../src/explain/wordlist.js';
import { loadCheckpoint, type Checkpoint } from '../../src/model/checkpoint.js';
import { writeSyntheticCheckpoint } from '../../src/model/synthetic.js';
import { tempDir } from '../support/temp.js';

describe('the analysis interface', () => {
  const dir = tempDir();
  let checkpoint: Checkpoint;
  let words: WordList;
  let fewer: WordList;

  before(async () => {
    await writeSyntheticCheckpoint(join(dir, 'm'), { preset: 'tiny', seed: 5 });
    checkpoint = loadCheckpoint(join(dir, 'm'));
    words = await buildWordList(checkpoint, { words: ['write', 'poem', 'summarize', 'text', 'cat', 'mat', 'bird', 'red'] });
    fewer = await buildWordList(checkpoint, { words: ['write', 'poem', 'summarize', 'text'] });
  });

  it('names the probes each local part reads', () => {
    assert.deepEqual(HEADS_ANALYSIS.probes, { attentions: true });
    assert.deepEqual(FFN_ANALYSIS.probes, { ffn: true });
  });

  it('cache keys change with what the result depends on, and only with that', () => {
    const key = (k: unknown) => JSON.stringify(k);
    assert.equal(key(HEADS_ANALYSIS.cacheKey(checkpoint, words, { topK: 3 })), key(HEADS_ANALYSIS.cacheKey(checkpoint, words, { topK: 3 })));
    assert.notEqual(key(HEADS_ANALYSIS.cacheKey(checkpoint, words, { topK: 3 })), key(HEADS_ANALYSIS.cacheKey(checkpoint, words, { topK: 4 })));
    assert.notEqual(key(HEADS_ANALYSIS.cacheKey(checkpoint, words, { topK: 3 })), key(HEADS_ANALYSIS.cacheKey(checkpoint, fewer, { topK: 3 })));
    const ffn = (list: WordList, components: number) => FFN_ANALYSIS.cacheKey(checkpoint, list, { components }) as { basis: unknown; concepts: unknown };
    assert.equal(key(ffn(words, 4).basis), key(ffn(fewer, 4).basis), 'the components do not depend on the word list');
    assert.notEqual(key(ffn(words, 4).concepts), key(ffn(fewer, 4).concepts), 'their concept words do');
    assert.notEqual(key(ffn(words, 4).basis), key(ffn(words, 5).basis));
  });

  it('the global part through the interface is the direct call, cached under the same key', async () => {
    const cache = { dir: join(dir, 'cache') };
    const direct = await analyzeHeadsGlobal(checkpoint, words, { topK: 3, dims: 2 }, { provider: 'cpu', cache });
    assert.equal(direct.fromCache, false);
    const progress: string[] = [];
    const through = await HEADS_ANALYSIS.global(checkpoint, words, { topK: 3, dims: 2 }, { provider: 'cpu', cache, onProgress: (p) => progress.push(p.phase) });
    assert.equal(through.fromCache, true, 'read back from the cache the direct call wrote');
    assert.deepEqual(through.layers, direct.layers);
    assert.deepEqual(progress, ['cache']);
    const diff = HEADS_ANALYSIS.diff(direct, through);
    assert.ok(diff.instruction.verbs.every((v) => v.share.every((s) => s === null)), 'a model against itself: no head differs');
  });
});
