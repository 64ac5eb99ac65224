/**
 * Float16 on the GPU path against float32 on the CPU, on the embedded demo pair: what a user sees
 * must not change with the precision. Greedy generation equal for 16 tokens; importance density
 * ranked the same (Spearman ≥ 0.99). (Numbers against the float64 reference are in forward-parity /
 * attribution-gradients, whose webgpu fp16 row covers them.)
 *
 * The instruction score must be within 2 % of the CPU's, unless the CPU's own matrix has entries on
 * a level boundary of ceil(A·L): there the score is discontinuous, and two float32 kernels' rounding
 * (raw equal to 3e-6 of its maximum) decides the level. Measured: on the base model's second prompt
 * the score moves 17 % (0.297 vs 0.253) between the CPU and WebGPU in float32 just as in float16.
 * Such a case must be explained by those entries alone: the score has to lie within 2 % of one the
 * CPU's matrix gives with each entry within 1e-5·max|raw| of a boundary (3× the two kernels'
 * measured agreement) resolved up or down (`scoresOverTies`). Measured: that prompt has 3 such
 * entries and one of their resolutions gives the float16 score; the other three prompts agree to
 * 0.00 %.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { loadCheckpoint } from '../../src/model/checkpoint.js';
import { LlamaRunner } from '../../src/llm/runner.js';
import { attributeModel } from '../../src/explain/attribution.js';
import { importanceDensity, instructionScore } from '../../src/explain/importance.js';
import { skipReason } from '../support/providers.js';

const DEMO = join(__dirname, '..', '..', 'models', 'demo');
const PROMPTS = ['The words: red horse shoe key.\nCapitalize:', 'The words: blue cat lamp.\nReverse:'];

/** Spearman's rank correlation (average ranks for ties). */
export function spearman(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const ranks = (v: ArrayLike<number>) => {
    const order = Array.from(v, (x, i) => [x, i] as const).sort((p, q) => p[0] - q[0]);
    const r = new Array<number>(v.length);
    for (let i = 0; i < order.length; ) {
      let j = i;
      while (j + 1 < order.length && order[j + 1]![0] === order[i]![0]) j++;
      for (let k = i; k <= j; k++) r[order[k]![1]] = (i + j) / 2;
      i = j + 1;
    }
    return r;
  };
  const ra = ranks(a), rb = ranks(b);
  const mean = (v: number[]) => v.reduce((s, x) => s + x, 0) / v.length;
  const ma = mean(ra), mb = mean(rb);
  let num = 0, da = 0, db = 0;
  for (let i = 0; i < ra.length; i++) {
    num += (ra[i]! - ma) * (rb[i]! - mb);
    da += (ra[i]! - ma) ** 2;
    db += (rb[i]! - mb) ** 2;
  }
  return da === 0 || db === 0 ? (da === db ? 1 : 0) : num / Math.sqrt(da * db);
}

/**
 * The instruction scores `raw` can give when each entry within `eps`·max|raw| of a level boundary
 * of ceil(a/(column max + 1e-7)·L) is nudged across it either way: every combination of those
 * entries. The kernels' agreement is a share of the whole matrix's maximum, so a column whose own
 * maximum is small has its levels that much less certain. Returns the scores and how many entries
 * were on a boundary.
 */
export function scoresOverTies(raw: number[][], mask: readonly number[], { L, b }: { L: number; b: number }, eps = 1e-5): { scores: number[]; ties: number } {
  const cols = raw[0]?.length ?? 0;
  const colMax = Array.from({ length: cols }, (_, j) => Math.max(0, ...raw.map((row) => row[j]!)));
  const slack = eps * Math.max(...raw.map((row) => Math.max(...row.map(Math.abs))));
  const ties: [number, number][] = [];
  raw.forEach((row, i) =>
    row.forEach((v, j) => {
      const level = (Math.max(v, 0) / (colMax[j]! + 1e-7)) * L;
      const uncertain = (2 * slack * L) / (colMax[j]! + 1e-7);
      const boundary = Math.round(level);
      // Not the column maximum itself (level L whichever way it rounds), nor a boundary between
      // two levels the threshold b drops alike.
      if (v < colMax[j]! && boundary >= b && Math.abs(level - boundary) < uncertain) ties.push([i, j]);
    }),
  );
  if (ties.length > 12) throw new Error(`${ties.length} entries on a level boundary: too many to enumerate`);
  const scores: number[] = [];
  for (let combo = 0; combo < 1 << ties.length; combo++) {
    const nudged = raw.map((row) => [...row]);
    ties.forEach(([i, j], k) => {
      nudged[i]![j]! += ((combo >> k) & 1 ? 2 : -2) * slack;
    });
    scores.push(instructionScore(importanceDensity(nudged), mask));
  }
  return { scores, ties: ties.length };
}

/** Whether `score` is within `relative` of `reference`, or of a score the reference's boundary entries allow. */
function scoreAgrees(score: number, reference: { raw: number[][]; instructionMask: number[]; instructionScore: number; importance: { L: number; b: number } }, relative: number): { ok: boolean; ties: number } {
  const near = (a: number, b: number) => Math.abs(a - b) <= relative * Math.max(Math.abs(b), 1e-9);
  if (near(score, reference.instructionScore)) return { ok: true, ties: 0 };
  const { scores, ties } = scoresOverTies(reference.raw, reference.instructionMask, reference.importance);
  return { ok: ties > 0 && scores.some((s) => near(score, s)), ties };
}

const webgpuFp16 = { provider: 'webgpu' as const, precision: 'fp16' as const, tolerance: 0 };

describe('float16 on webgpu against float32 on the CPU (demo pair)', { skip: skipReason(webgpuFp16) }, () => {
  for (const role of ['base', 'tuned'] as const) {
    test(`${role}: same generation, density ranks and instruction score`, async () => {
      const dir = join(DEMO, role);
      const cpu = new LlamaRunner(loadCheckpoint(dir), { provider: 'cpu' });
      const gpu = new LlamaRunner(loadCheckpoint(dir), { provider: 'webgpu', precision: 'fp16' });
      try {
        for (const prompt of PROMPTS) {
          const reference = await attributeModel(cpu, dir, { prompt, maxNewTokens: 16 });
          const half = await attributeModel(gpu, dir, { prompt, maxNewTokens: 16 });
          assert.equal(gpu.computeType, "float16"); // generation; the attribution graph computes in float32
          assert.equal(gpu.executionProvider, 'webgpu');
          assert.deepEqual(half.response.tokens.map((t) => t.id), reference.response.tokens.map((t) => t.id), `${role}: generation differs for ${JSON.stringify(prompt)}`);
          const rho = spearman(half.density, reference.density);
          assert.ok(rho >= 0.99, `${role}: density rank correlation ${rho.toFixed(4)} < 0.99`);
          const rel = Math.abs(half.instructionScore - reference.instructionScore) / Math.max(Math.abs(reference.instructionScore), 1e-9);
          const agrees = scoreAgrees(half.instructionScore, reference, 0.02);
          console.log(`${role} ${JSON.stringify(prompt)}: instruction score fp16 ${half.instructionScore.toFixed(4)} vs fp32 ${reference.instructionScore.toFixed(4)} (${(rel * 100).toFixed(2)} %${agrees.ties ? `; ${agrees.ties} entries on a level boundary` : ''})`);
          assert.ok(agrees.ok, `${role} ${JSON.stringify(prompt)}: instruction score ${half.instructionScore} vs ${reference.instructionScore}, not within 2 % nor explained by entries on a level boundary (${agrees.ties})`);
        }
      } finally {
        await cpu.dispose();
        await gpu.dispose();
      }
    });
  }

  test('spearman: 1 for the same order, −1 reversed, a swap lowers it', () => {
    assert.equal(spearman([1, 2, 3, 4], [10, 20, 30, 40]), 1);
    assert.equal(spearman([1, 2, 3, 4], [4, 3, 2, 1]), -1);
    assert.ok(spearman([1, 2, 3, 4, 5], [1, 2, 3, 5, 4]) < 0.99);
  });
});

test('scoresOverTies: an entry on the threshold level moves the score; none on a boundary leaves one score', () => {
  // Column max 1 → levels ceil(a·10); 0.7 sits exactly on the boundary between level 7 (dropped,
  // ≤ b) and 8 (kept), up to the 1e-7 of the normalisation.
  const raw = [
    [1, 0.23],
    [0.7, 1],
    [0.95, 0.93],
  ];
  const mask = [0, 1, 0];
  const { scores, ties } = scoresOverTies(raw, mask, { L: 10, b: 7 });
  assert.equal(ties, 1);
  assert.ok(Math.max(...scores) - Math.min(...scores) > 0.05, `the boundary entry changes the score: ${scores}`);
  const clear = scoresOverTies([[1, 0.22], [0.75, 1], [0.95, 0.93]], mask, { L: 10, b: 7 });
  assert.equal(clear.ties, 0);
  assert.equal(new Set(clear.scores).size, 1);
  // A moved score with no boundary entry to explain it is not accepted.
  const reference = { raw: [[1, 0.22], [0.75, 1], [0.95, 0.93]], instructionMask: mask, instructionScore: clear.scores[0]!, importance: { L: 10, b: 7 } };
  assert.equal(scoreAgrees(clear.scores[0]! * 1.05, reference, 0.02).ok, false);
  assert.equal(scoreAgrees(clear.scores[0]! * 1.01, reference, 0.02).ok, true);
});
