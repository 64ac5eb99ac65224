import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { describe, it } from 'node:test';
import { LensError } from '../../src/model/errors.js';
import { importanceDensity, instructionScore } from '../../src/explain/importance.js';
import { EMPTY_MATRIX_NOTE, scoreJsonl } from '../../src/explain/score-file.js';
import { tempDir } from '../support/temp.js';

const root = tempDir();
let counter = 0;
function freshDir(): string {
  const dir = join(root, `case${counter++}`);
  mkdirSync(dir);
  return dir;
}

const RAW = [
  [0.5, -1],
  [1, 2],
  [0.2, 4],
];
const OPTS = { L: 10, b: 3, p: 4 };

describe('scoreJsonl', () => {
  it('scores each line, keeps id and model, scores only with a mask, notes an empty matrix', async () => {
    const dir = freshDir();
    const input = join(dir, 'in.jsonl');
    const output = join(dir, 'out.jsonl');
    writeFileSync(
      input,
      '\uFEFF' +
        [
          JSON.stringify({ id: 'a_1', model: 'base', explain: RAW, mask: [1, 0, 1], prompt: 'dropped' }),
          '',
          JSON.stringify({ explain: RAW }),
          JSON.stringify({ id: 'a_2', model: 'tuned', explain: [], mask: [1, 1] }),
          JSON.stringify({ id: 'a_3', explain: [[], [], []], mask: [0, 1, 0] }),
          JSON.stringify({ id: 'a_4', explain: [[0, 10], [8, 3]], mask: [true, false] }),
        ].join('\r\n') +
        '\r\n',
    );
    const summary = await scoreJsonl(input, output, OPTS);
    assert.deepEqual(summary, { lines: 5, scored: 2, empty: 2 });
    const out = readFileSync(output, 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l));
    const d = importanceDensity(RAW, OPTS);
    assert.deepEqual(Object.keys(out[0]), ['id', 'model', 'density', 'score']);
    assert.deepEqual(out[0], { id: 'a_1', model: 'base', density: d, score: instructionScore(d, [1, 0, 1]) });
    assert.ok(Math.abs(out[0].score - 0.6768477) < 1e-7, 'hand-worked value (see importance.test.ts)');
    assert.deepEqual(out[1], { density: d });
    assert.deepEqual(out[2], { id: 'a_2', model: 'tuned', density: [], score: null, note: EMPTY_MATRIX_NOTE });
    assert.deepEqual(out[3], { id: 'a_3', density: [], score: null, note: EMPTY_MATRIX_NOTE });
    // Quantized rule: [[0, 10], [8, 3]] is taken as it is; b = 3 zeroes the 3.
    assert.deepEqual(out[4].density.map((v: number) => Math.round(v * 1e6) / 1e6), [1, 1]);
  });

  it('reads gzip input and writes gzip output when the name ends in .gz', async () => {
    const dir = freshDir();
    const input = join(dir, 'in.jsonl.gz');
    const output = join(dir, 'out.jsonl.gz');
    writeFileSync(input, gzipSync(JSON.stringify({ id: 'x', explain: RAW, mask: [0, 1, 0] }) + '\n'));
    assert.deepEqual(await scoreJsonl(input, output, OPTS), { lines: 1, scored: 1, empty: 0 });
    const line = JSON.parse(gunzipSync(readFileSync(output)).toString('utf8'));
    assert.ok(Math.abs(line.score - 1 / Math.log2(3)) < 1e-7);
    // Gzip is detected by content, not by name.
    const renamed = join(dir, 'in-without-suffix.jsonl');
    writeFileSync(renamed, readFileSync(input));
    await scoreJsonl(renamed, join(dir, 'out2.jsonl'), OPTS);
    assert.deepEqual(JSON.parse(readFileSync(join(dir, 'out2.jsonl'), 'utf8')), line);
  });

  const good = JSON.stringify({ id: 'ok', explain: RAW, mask: [1, 0, 0] });
  const malformed: [string, string, RegExp][] = [
    ['invalid JSON', '{"explain": [[1, 2], [3, 4]', /invalid JSON/],
    ['NaN written by Python', '{"explain": [[NaN, 1]]}', /invalid JSON/],
    ['not an object', '[[1, 2]]', /not a JSON object/],
    ['explain missing', '{"id": "x"}', /"explain" is missing/],
    ['explain not a matrix', '{"explain": 3}', /"explain" is number 3, not a matrix/],
    ['a row not an array', '{"explain": [[1, 2], 5]}', /row 1 is number 5/],
    ['ragged', '{"explain": [[1, 2], [3]]}', /ragged: row 1 has 1 entries, row 0 has 2/],
    ['a string entry', '{"explain": [[1, "2"]]}', /"explain"\[0\]\[1\] is the string "2"/],
    ['a null entry', '{"explain": [[1, 2], [null, 4]]}', /"explain"\[1\]\[0\] is null/],
    ['a mask of the wrong length', '{"explain": [[1, 2], [3, 4]], "mask": [1]}', /"mask" has 1 entries but "explain" has 2 prompt tokens/],
    ['a mask value other than 0/1', '{"explain": [[1, 2], [3, 4]], "mask": [1, 2]}', /"mask"\[1\] is number 2/],
    ['a mask that is not an array', '{"explain": [[1, 2]], "mask": "1"}', /"mask" is the string "1"/],
  ];
  for (const [what, line, re] of malformed) {
    it(`stops at ${what}, naming the file and line, and writes nothing`, async () => {
      const dir = freshDir();
      const input = join(dir, 'bad.jsonl');
      const output = join(dir, 'scores.jsonl');
      writeFileSync(output, 'previous results\n');
      // Line 3 is blank: line numbers count physical lines.
      writeFileSync(input, [good, good, '', line, good].join('\n') + '\n');
      await assert.rejects(scoreJsonl(input, output, OPTS), (e: unknown) => {
        assert.ok(e instanceof LensError, `expected a LensError, got ${e}`);
        assert.ok(e.message.startsWith(`${input}, line 4: `), e.message);
        assert.match(e.message, re);
        assert.equal(e.file, input);
        return true;
      });
      assert.equal(readFileSync(output, 'utf8'), 'previous results\n', 'the existing output is untouched');
      assert.deepEqual(readdirSync(dir).sort(), ['bad.jsonl', 'scores.jsonl'], 'no temporary file is left');
    });
  }

  it('creates no output when the first line is bad and there was none before', async () => {
    const dir = freshDir();
    const input = join(dir, 'bad.jsonl.gz');
    writeFileSync(input, gzipSync('{"explain": [[1, Infinity]]}\n'));
    await assert.rejects(scoreJsonl(input, join(dir, 'out.jsonl'), OPTS), /bad\.jsonl\.gz, line 1: invalid JSON/);
    assert.deepEqual(readdirSync(dir), ['bad.jsonl.gz']);
  });

  it('reports a missing input and a corrupt gzip stream as LensErrors, writing nothing', async () => {
    const dir = freshDir();
    await assert.rejects(scoreJsonl(join(dir, 'nope.jsonl'), join(dir, 'out.jsonl')), (e: unknown) => e instanceof LensError && /not found/.test(e.message));
    const input = join(dir, 'truncated.jsonl.gz');
    const lines = Array.from({ length: 200 }, (_, k) => JSON.stringify({ id: `r${k}`, explain: RAW })).join('\n');
    const gz = gzipSync(lines);
    writeFileSync(input, gz.subarray(0, gz.length - 40));
    await assert.rejects(scoreJsonl(input, join(dir, 'out.jsonl'), OPTS), (e: unknown) => e instanceof LensError && /truncated\.jsonl\.gz/.test(e.message));
    assert.deepEqual(readdirSync(dir), ['truncated.jsonl.gz']);
    assert.equal(existsSync(join(dir, 'out.jsonl')), false);
  });

  it('rejects bad options before reading', async () => {
    const dir = freshDir();
    const input = join(dir, 'in.jsonl');
    writeFileSync(input, good + '\n');
    await assert.rejects(scoreJsonl(input, join(dir, 'out.jsonl'), { p: 0 }), LensError);
    assert.deepEqual(readdirSync(dir), ['in.jsonl']);
  });
});
