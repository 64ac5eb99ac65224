/** The evaluate progress display: a bar with rate and ETA on a terminal, plain lines otherwise. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createProgress, formatDuration } from '../../src/evaluate/progress.js';

function sink(isTTY: boolean) {
  const out: string[] = [];
  return { out, stream: { isTTY, columns: 100, write: (t: string) => out.push(t) } };
}

describe('evaluate progress', () => {
  it('formats durations', () => {
    assert.equal(formatDuration(42), '42s');
    assert.equal(formatDuration(125), '2m05s');
    assert.equal(formatDuration(7260), '2h01m');
    assert.equal(formatDuration(Infinity), '?');
  });

  it('redraws one bar in place on a terminal, with the rate of this run and the time left', () => {
    let t = 0;
    const { out, stream } = sink(true);
    const p = createProgress({ total: 10, already: 2, label: 'evaluate 0/1', stream, now: () => t });
    t = 4;
    p.update(4); // 2 items in 4 s: 0.5/s, 6 left: 12 s
    p.finish();
    assert.ok(out.every((l) => l.startsWith('\r') || l === '\n'));
    assert.match(out[1]!, /^\revaluate 0\/1 \[#+-+\] 4\/10 \(40\.0%\) 0\.50\/s ETA 12s/);
    assert.equal(out.at(-1), '\n');
  });

  it('writes plain lines, at most one per interval, otherwise', () => {
    let t = 0;
    const { out, stream } = sink(false);
    const p = createProgress({ total: 4, already: 0, label: 'evaluate', stream, now: () => t, every: 10 });
    t = 1;
    p.update(1);
    t = 11;
    p.update(2);
    t = 12;
    p.update(4);
    p.finish();
    assert.deepEqual(out, ['evaluate: 0/4 (0.0%) –/s ETA ?\n', 'evaluate: 2/4 (50.0%) 0.18/s ETA 11s\n', 'evaluate: 4/4 (100.0%) 0.33/s ETA 0s\n']);
  });
});

describe('evaluate progress lines read back', () => {
  it('parses what the plain display writes, and nothing else', async () => {
    const { parseProgressLine } = await import('../../src/evaluate/progress.js');
    assert.deepEqual(parseProgressLine('evaluate 0/1: 2/4 (50.0%) 0.18/s ETA 11s\n'), { done: 2, total: 4, detail: '2/4 (50.0%) 0.18/s ETA 11s' });
    assert.equal(parseProgressLine('[instruction-lens] evaluate 0/1: 2/4'), null);
    assert.equal(parseProgressLine('heads: the paper\'s Table 3'), null);
  });
});
