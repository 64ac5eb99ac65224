import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LensError } from '../../src/model/errors.js';
import { aggregateToWords, aggregateWords, assignTokensToWords, findWords } from '../../src/explain/words.js';

/** Tokens given as [start, end) pairs. */
const tok = (pairs: [number, number][]) => pairs.map(([start, end]) => ({ start, end }));

describe('findWords', () => {
  it('splits on everything but letters, digits, marks and inner apostrophes (Unicode-aware)', () => {
    const text = "Zoë's café: naïve 日本語, e\u0301t\u00e9 हिन्दी 42x don’t 'quoted' — ok";
    assert.deepEqual(
      findWords(text).map((w) => w.text),
      ["Zoë's", 'café', 'naïve', '日本語', 'e\u0301t\u00e9', 'हिन्दी', '42x', 'don’t', 'quoted', 'ok'],
    );
    for (const w of findWords(text)) assert.equal(text.slice(w.start, w.end), w.text);
  });

  it('gives no word for emoji, punctuation, a lone apostrophe or whitespace', () => {
    assert.deepEqual(findWords("👋 — ' ... \n\t🧙‍♂️"), []);
  });
});

describe('aggregateToWords', () => {
  // "Zoë said 👋 hi—don't stop." in UTF-16 offsets: Z0 o1 ë2 ␠3 said4-7 ␠8 👋9-10 (two code units)
  // ␠11 hi12-13 —14 don15-17 '18 t19 ␠20 stop21-24 .25
  const text = "Zoë said 👋 hi—don't stop.";
  const tokens = tok([
    [0, 2], // "Zo"
    [2, 3], // "ë"
    [3, 8], // " said"
    [8, 11], // " 👋"
    [11, 14], // " hi"
    [14, 15], // "—"
    [15, 18], // "don"
    [18, 20], // "'t"
    [20, 25], // " stop"
    [25, 26], // "."
  ]);
  const density = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0];

  it('sums its tokens\' density per word, with UTF-16 offsets across an emoji', () => {
    assert.equal(text.length, 26);
    const words = aggregateToWords(text, tokens, density);
    assert.deepEqual(
      words.map((w) => [w.text, w.start, w.end, w.tokenIndices]),
      [
        ['Zoë', 0, 3, [0, 1]],
        ['said', 4, 8, [2]],
        ['hi', 12, 14, [4]],
        ["don't", 15, 20, [6, 7]],
        ['stop', 21, 25, [8]],
      ],
    );
    const sums = words.map((w) => w.density);
    [0.3, 0.3, 0.5, 1.5, 0.9].forEach((v, i) => assert.ok(Math.abs(sums[i]! - v) < 1e-12, `${words[i]!.text}: ${sums[i]}`));
  });

  it('keeps the tokens that form no word countable (emoji, dash, full stop)', () => {
    const agg = aggregateWords(text, tokens, density);
    assert.deepEqual(agg.unassigned, [3, 5, 9]);
    assert.ok(Math.abs(agg.unassignedDensity - 2.0) < 1e-12);
    const total = agg.words.reduce((s, w) => s + w.density, 0) + agg.unassignedDensity;
    assert.ok(Math.abs(total - density.reduce((a, b) => a + b, 0)) < 1e-12);
  });

  it('gives a token that spans several words to the first one it overlaps', () => {
    const words = aggregateToWords('ab cd ef', tok([[0, 4], [4, 8]]), [1, 2]);
    assert.deepEqual(words.map((w) => [w.text, w.density, w.tokenIndices]), [
      ['ab', 1, [0]],
      ['cd', 2, [1]],
      ['ef', 0, []],
    ]);
  });

  it('leaves zero-length tokens (BOS, template) out of every word', () => {
    assert.deepEqual(assignTokensToWords(findWords('hi'), tok([[0, 0], [0, 2], [2, 2]])), [-1, 0, -1]);
  });

  it('rejects offsets outside the text and a density of the wrong length', () => {
    assert.throws(() => aggregateToWords('hi', tok([[0, 3]]), [1]), (e) => e instanceof LensError && /outside the text/.test(e.message));
    assert.throws(() => aggregateToWords('hi', tok([[1, 0]]), [1]), LensError);
    assert.throws(() => aggregateToWords('hi', tok([[0, 2]]), [1, 2]), (e) => e instanceof LensError && /1 tokens but 2 density/.test(e.message));
  });
});
