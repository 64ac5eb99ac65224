/** Word lists (src/explain/wordlist.ts) and GloVe files (src/explain/glove.ts). */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Tokenizer } from 'tokenizers';
import { readGloveVectors } from '../../src/explain/glove.js';
import { buildWordList, promptWords, readWordsFile, vocabularyWords } from '../../src/explain/wordlist.js';
import type { Checkpoint } from '../../src/model/checkpoint.js';
import { LensError } from '../../src/model/errors.js';
import { tempDir } from '../support/temp.js';

/** Just enough of a Checkpoint for the word-list functions: a tokenizer and the vocabulary size. */
function fakeCheckpoint(tokenizerJson: object, vocabSize: number): Checkpoint {
  return {
    tokenizer: { tokenizer: Tokenizer.fromString(JSON.stringify(tokenizerJson)), tokenizerFile: 'tokenizer.json' },
    config: { vocabSize },
  } as unknown as Checkpoint;
}

function bpe(vocab: string[], merges: string[], extra: object): object {
  return {
    version: '1.0',
    added_tokens: [],
    model: { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null, fuse_unk: false, byte_fallback: false, vocab: Object.fromEntries(vocab.map((t, i) => [t, i])), merges },
    ...extra,
  };
}

describe('vocabulary words', () => {
  it('SentencePiece (▁): marker + at least two letters, id order, limit; a word outside the vocabulary is tokenized without a leading space token', async () => {
    const chars = ['▁', 'a', 'b', 'c', 'e', 'f', 'i', 'r', 't', 'w', 'x', '1', 'é'];
    const pieces: [string, string][] = [
      ['▁', 'w'], ['▁w', 'r'], ['i', 't'], ['▁wr', 'it'], ['▁writ', 'e'], ['▁', 'a'], ['▁', '1'], ['▁1', 'x'],
      ['c', 'a'], ['▁', 'ca'], ['▁ca', 't'], ['▁ca', 'f'], ['▁caf', 'é'], ['a', 'b'], ['▁', 'ab'],
    ];
    const json = bpe([...chars, ...pieces.map(([a, b]) => a + b)], pieces.map(([a, b]) => `${a} ${b}`), {
      normalizer: { type: 'Sequence', normalizers: [{ type: 'Prepend', prepend: '▁' }, { type: 'Replace', pattern: { String: ' ' }, content: '▁' }] },
      pre_tokenizer: null,
      decoder: null,
    });
    const checkpoint = fakeCheckpoint(json, 64);
    // ▁w and ▁a (one letter), ▁1x (a digit) are not whole words; 'it', 'ca', 'ab' (no marker) neither.
    assert.deepEqual(vocabularyWords(checkpoint).map((v) => v.word), ['wr', 'writ', 'write', 'ca', 'cat', 'caf', 'café', 'ab']);
    assert.deepEqual(vocabularyWords(checkpoint, 2).map((v) => v.word), ['wr', 'writ']);
    const list = await buildWordList(checkpoint, { extraWords: ['write', 'abba', 'cat'] });
    assert.deepEqual(list.words.slice(-1), ['abba']);
    const ids = list.tokens[list.tokens.length - 1]!;
    assert.ok(ids.length >= 2 && !ids.includes(0), `abba → ${ids}`);
  });

  it('byte-level (Ġ): entries are decoded from GPT-2 byte symbols, so non-ASCII words are whole words too', async () => {
    // "Ġcaf" + "Ã©" is " café" in UTF-8 bytes.
    const vocab = ['Ġ', 'c', 'a', 'f', 'Ã', '©', '4', 'Ġc', 'Ġca', 'Ġcaf', 'ĠcafÃ', 'ĠcafÃ©', 'Ġ4', 'Ġ4a', 'Ãa'];
    const merges = ['Ġ c', 'Ġc a', 'Ġca f', 'Ġcaf Ã', 'ĠcafÃ ©', 'Ġ 4', 'Ġ4 a', 'Ã a'];
    const json = bpe(vocab, merges, {
      normalizer: null,
      pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
      decoder: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    });
    const checkpoint = fakeCheckpoint(json, 15);
    // ĠcafÃ alone is an incomplete UTF-8 sequence: not a word.
    assert.deepEqual(vocabularyWords(checkpoint).map((v) => v.word), ['ca', 'caf', 'café']);
  });

  it('prompt words: distinct, in order of appearance', () => {
    assert.deepEqual(promptWords('Write a poem. Write it well, don’t rhyme "a".'), ['Write', 'a', 'poem', 'it', 'well', 'don’t', 'rhyme']);
  });
});

describe('word files', () => {
  const dir = tempDir();
  const write = (name: string, text: string) => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };
  const fails = (path: string, message: RegExp) => assert.throws(() => readWordsFile(path), (e: unknown) => e instanceof LensError && message.test(e.message) && e.file === path);

  it('one word per line, used as given (BOM, CRLF and a final line break allowed)', () => {
    assert.deepEqual(readWordsFile(write('ok.txt', '\uFEFFwrite\r\nWrite\nice cream\nnaïve')), ['write', 'Write', 'ice cream', 'naïve']);
  });

  it('refuses what it cannot use exactly, naming the file and the line', () => {
    fails(join(dir, 'absent.txt'), /Cannot read the word list .*absent\.txt: not found \(ENOENT\)/);
    fails(write('empty.txt', ''), /empty\.txt: the word list is empty/);
    fails(write('newline.txt', '\n'), /newline\.txt:1: empty line/);
    fails(write('blank.txt', 'a\n   \nb\n'), /blank\.txt:2: empty line/);
    fails(write('space.txt', 'a\n b\n'), /space\.txt:2: " b" has leading or trailing white space/);
    fails(write('dup.txt', 'a\nb\na\n'), /dup\.txt:3: "a" repeats line 1/);
  });
});

describe('GloVe files', () => {
  const dir = tempDir();
  const write = (name: string, text: string) => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };

  it('reads the vectors of the list’s words: exact entry first, else the lower-cased one; word2vec header; words with spaces', async () => {
    const file = write('v.txt', '3 2\nthe 1 2\nWrite 0 1\n. . . 5 5\nwrite 3 4\n\npoem -1e-1 +2.5\n');
    const v = await readGloveVectors(file, ['write', 'Write', 'POEM', 'missing', 'The']);
    assert.equal(v.dims, 2);
    assert.deepEqual(v.found, [true, true, true, false, true]);
    assert.deepEqual(Array.from(v.vectors), [3, 4, 0, 1, -0.1, 2.5, 0, 0, 1, 2]);
    assert.equal(v.foundCount, 4);
  });

  it('names the file and line of a bad vector', async () => {
    const fails = async (text: string, message: RegExp) =>
      assert.rejects(readGloveVectors(write('bad.txt', text), ['a']), (e: unknown) => e instanceof LensError && message.test(e.message));
    await fails('a 1 2 3\nb 1 2\n', /bad\.txt:2: 2 values, but the vectors have 3 dimensions/);
    await fails('a 1 2 3\nb 1 2 3 4\n', /bad\.txt:2: 4 values, but the vectors have 3 dimensions/);
    await fails('a 1 2\nb 1 x\n', /bad\.txt:2: value 2 \("x"\) is not a number/);
    await fails('a 1 1e999\n', /bad\.txt:1: value 2 is not finite/);
    await fails('word\n', /bad\.txt:1: expected a word and its vector/);
    await fails('', /bad\.txt: no word vectors/);
    await fails('b 1 2\n', /bad\.txt: none of the 1 words of the list has a vector/);
    await assert.rejects(readGloveVectors(dir, ['a']), /it is a folder, not a regular file/);
  });
});
