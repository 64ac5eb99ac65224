/**
 * `compare` in the terminal, through dist/cli.js on the embedded demo pair: the progress on stderr —
 * one line redrawn in place on a terminal (run under a pseudo-terminal with util-linux `script`),
 * plain lines, one per stage, when piped, with an empty analysis cache so that every stage runs —
 * and the heads and FFN findings in the printed results.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { before, describe, it } from 'node:test';
import { createCliProgress, interactiveStream } from '../../src/cli/progress-line.js';
import { tempDir } from '../support/temp.js';

const root = resolve(__dirname, '..', '..');
const cli = join(root, 'dist', 'cli.js');
const dir = tempDir();
const PROMPT = 'The words: red horse shoe key. Capitalize:';
const ESC = '\u001b';

/**
 * The environment of a run on a fresh analysis cache, with no colour or CI setting inherited, and
 * the shell `script` starts fixed (it runs $SHELL, else /bin/sh) so that a run is the same everywhere.
 */
function env(cache: string): NodeJS.ProcessEnv {
  const e: NodeJS.ProcessEnv = { ...process.env, INSTRUCTION_LENS_CACHE: join(dir, cache), TERM: 'xterm-256color', SHELL: '/bin/sh' };
  delete e.CI;
  delete e.NO_COLOR;
  delete e.FORCE_COLOR;
  return e;
}

const hasScript = spawnSync('script', ['--version'], { encoding: 'utf8' }).status === 0;

before(() => {
  if (!existsSync(cli)) spawnSync(process.execPath, [join(root, 'scripts', 'build.mjs')], { cwd: root, stdio: 'inherit' });
});

describe('compare in the terminal', () => {
  it('piped: plain lines, one per stage, no escape sequence', () => {
    const r = spawnSync(process.execPath, [cli, 'compare', '--prompt', PROMPT, '--provider', 'cpu'], { encoding: 'utf8', env: env('piped') });
    assert.equal(r.status, 0, r.stderr);
    assert.ok(!r.stderr.includes(ESC), 'no escape sequence on a pipe');
    assert.ok(!r.stderr.includes('\r'), 'no carriage return on a pipe');
    const lines = r.stderr.split('\n').filter(Boolean);
    const count = (re: RegExp) => lines.filter((l) => re.test(l)).length;
    // One line per stage, with its size, not one per token or layer.
    assert.equal(count(/Base model: attributing the response \(\d+ tokens\)$/), 1, r.stderr);
    assert.equal(count(/Tuned model: attributing the response \(\d+ tokens\)$/), 1, r.stderr);
    assert.equal(count(/attributing/), 2, r.stderr);
    assert.equal(count(/Head word pairs \(base model\): layers \(4\)$/), 1, r.stderr);
    assert.equal(count(/FFN concepts \(tuned model\): concept words \(4\)$/), 1, r.stderr);
    assert.equal(count(/\b\d+\/\d+\b/), 0, 'no step counter on a pipe');
    assert.match(r.stdout, /Instruction score/);
    // The heads and FFN findings it computed, compactly, with the Summary's verdicts.
    assert.match(r.stdout, /^Heads linking the instruction verbs/m);
    assert.match(r.stdout, /^ {2}L\d+\.H\d+ +capitalize \u2192 \S+ +\d\.\d\d/m, 'a head linking the verb, with its weight');
    assert.match(r.stdout, /^ {2}tuned {2}(\d+ ){4} \(of 4 heads a layer\)$/m, 'the tuned model\'s linking heads per layer');
    assert.match(r.stdout, /^FFN rotation per layer/m);
    assert.match(r.stdout, /^ {2}L0 +0\.\d{3} [#.]{10} {3}L1 +0\.\d{3} [#.]{10} {3}L2 .* {3}L3 +0\.\d{3} [#.]{10}$/m, 'the four layers\' rotation');
    assert.match(r.stdout, /\u2192 (Holds|Does not hold)/);
  });

  it('--no-heads --no-ffn: no heads or FFN lines, and no such stage', () => {
    const r = spawnSync(process.execPath, [cli, 'compare', '--prompt', PROMPT, '--provider', 'cpu', '--no-heads', '--no-ffn'], { encoding: 'utf8', env: env('none') });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /Instruction score/);
    assert.doesNotMatch(r.stdout, /Heads linking|FFN rotation/);
    assert.doesNotMatch(r.stderr, /Head word pairs|FFN concepts/);
  });

  it('on a terminal: one line redrawn in place, far fewer lines', { skip: hasScript ? false : 'util-linux script is not installed' }, () => {
    const command = `stty cols 100 rows 40; exec ${JSON.stringify(process.execPath)} ${JSON.stringify(cli)} compare --prompt ${JSON.stringify(PROMPT)} --provider cpu`;
    const tty = spawnSync('script', ['-qfec', command, '/dev/null'], { encoding: 'utf8', env: env('tty'), input: '' });
    assert.equal(tty.status, 0, tty.stdout);
    const out = tty.stdout;
    // ora redraws with cursor-to-column-1 and erase-line.
    assert.ok(out.includes(`${ESC}[1G`) && out.includes(`${ESC}[0K`), 'the line is redrawn in place');
    assert.match(out, /Head word pairs \(tuned model\): layers 4\/4/, 'the counter is in the line');
    assert.match(out, /Tuned model: attributing the response \d+\/\d+ tokens/);
    // Never more rows than the line has: no cursor-up (which would erase the lines above).
    assert.ok(!out.includes(`${ESC}[1A`), 'the line never wraps');
    // The rows left on the screen: the lines that stay, then the results.
    const rows = out.split('\n');
    const progressRows = rows.filter((l) => l.includes('[instruction-lens]') || /Head word pairs|FFN concepts|attributing/.test(l));
    const piped = spawnSync(process.execPath, [cli, 'compare', '--prompt', PROMPT, '--provider', 'cpu'], { encoding: 'utf8', env: env('tty-piped') });
    const pipedRows = piped.stderr.split('\n').filter(Boolean).length;
    assert.ok(progressRows.length * 3 <= pipedRows, `${progressRows.length} rows with progress on the terminal, ${pipedRows} piped`);
    assert.match(out, /Instruction score/, 'the results follow');
  });

  it('on a terminal, Ctrl+C cancels: the line cleared, the CLI\'s own message, exit 130', { skip: hasScript ? false : 'util-linux script is not installed' }, async () => {
    // The CLI replaces the shell (exec) and `script -e` passes on its exit status: a shell left
    // between them would get the terminal's SIGINT too, and dash (Debian's /bin/sh, what `script`
    // runs when SHELL is unset, as under CI) dies of it before it could report the CLI's status.
    const command = `stty cols 100 rows 40; exec ${JSON.stringify(process.execPath)} ${JSON.stringify(cli)} compare --prompt ${JSON.stringify(PROMPT)} --provider cpu`;
    const child = spawn('script', ['-qfec', command, '/dev/null'], { env: env('cancel'), stdio: ['pipe', 'pipe', 'inherit'] });
    let out = '';
    let sent = false;
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      out += chunk;
      // Ctrl+C typed on the terminal once the heads analysis runs (it takes a good part of a second).
      if (!sent && out.includes('Head word pairs (base model)')) {
        sent = true;
        child.stdin.write('\u0003');
      }
    });
    const [code] = (await once(child, 'close')) as [number | null];
    assert.ok(sent, 'the heads stage was shown');
    assert.equal(code, 130, out.slice(-400));
    assert.ok(out.includes(`${ESC}[0Kinstruction-lens: Cancelled.`), 'the progress line is cleared before the message');
    assert.doesNotMatch(out, /Instruction score/, 'no results after a cancel');
  });

  it('interactiveStream: a TTY that knows its width, TERM not dumb, not under CI', () => {
    assert.equal(interactiveStream({ isTTY: true, columns: 80 }, {}), true);
    assert.equal(interactiveStream({ isTTY: false, columns: 80 }, {}), false);
    assert.equal(interactiveStream({ isTTY: true, columns: 0 }, {}), false, 'a pseudo-terminal with no size');
    assert.equal(interactiveStream({ isTTY: true, columns: 80 }, { TERM: 'dumb' }), false);
    assert.equal(interactiveStream({ isTTY: true, columns: 80 }, { CI: 'true' }), false);
  });

  it('plain mode: a line when the stage changes, the counter never, details and logs as they come, controls made visible', () => {
    const written: string[] = [];
    const p = createCliProgress({ write: (t: string) => written.push(t) }, { interactive: false });
    p.update({ stage: 'Base model: attributing the response', done: 0, total: 3, unit: 'tokens' });
    p.update({ stage: 'Base model: attributing the response', done: 1, total: 3, unit: 'tokens' });
    p.update({ stage: 'Base model: attributing the response', done: 3, total: 3, unit: 'tokens' });
    p.note('heads layer 0: 0.1 s');
    p.update({ stage: 'Tuned model: generating the response' });
    p.log(`evil ${ESC}[31mred\u0007`);
    p.stop();
    assert.deepEqual(written, [
      '[instruction-lens] Base model: attributing the response (3 tokens)\n',
      '[instruction-lens] heads layer 0: 0.1 s\n',
      '[instruction-lens] Tuned model: generating the response\n',
      '[instruction-lens] evil \u241b[31mred\u2407\n',
    ]);
  });
});
