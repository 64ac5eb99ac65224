/**
 * The paper's check on its own published attribution matrices (shared/paper-attributions, see its
 * README): with b = 7, p = 4 and the quantized rule, the instruction-tuned model's mean instruction
 * score exceeds the base model's in each of the three prompt groups.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { before, describe, it } from 'node:test';
import { importanceDensity, instructionScore, isQuantized } from '../../src/explain/importance.js';
import { detectInstructions, instructionMask } from '../../src/explain/instructions.js';
import { scoreJsonl } from '../../src/explain/score-file.js';
import { tempDir } from '../support/temp.js';
import { mulberry32 as rng } from '../support/random.js';

const repoRoot = resolve(__dirname, '..', '..');
const paperFile = join(repoRoot, '..', 'shared', 'paper-attributions', 'attributions.jsonl.gz');
const OPTIONS = { L: 10, b: 7, p: 4 };
const MODELS = ['llama-7b', 'vicuna-7b'] as const;
const GROUPS = ['lima_author', 'mtbench', 'user_oriented_task'] as const;

interface PaperRecord {
  id: string;
  model: string;
  input_tokens: string[];
  output_tokens: string[];
  explain: number[][];
  prompt: string;
  instruct: string;
}

interface Prepared {
  record: PaperRecord;
  group: string;
  mask: number[];
  /** Instruction spans of this record not found in its token text. */
  missing: number;
}

let records: Prepared[] = [];

function groupOf(id: string): string {
  const g = id.replace(/_\d+$/, '');
  return g.startsWith('mtbench') ? 'mtbench' : g;
}

/** The README's mask: instruction spans found in the joined token text, tokens overlapping them. */
function buildMask(r: PaperRecord): { mask: number[]; missing: number } {
  const pieces = r.input_tokens.map((t) => t.replace(/\u2581/g, ' ').replace(/<0x0A>/g, '\n'));
  const text = pieces.join('');
  const tokens: { start: number; end: number }[] = [];
  let at = 0;
  for (const p of pieces) {
    tokens.push({ start: at, end: at + p.length });
    at += p.length;
  }
  const parts = r.instruct.split('&&&')[0]!.split('|||').map((s) => s.trim()).filter((s) => s.length > 0);
  const spans: { start: number; end: number }[] = [];
  let missing = 0;
  for (const part of parts) {
    const start = text.indexOf(part);
    if (start < 0) missing++;
    else spans.push({ start, end: start + part.length });
  }
  return { mask: instructionMask(tokens, spans), missing };
}

/** A plain, independent restatement of the quantized rule: threshold, then L1 / L4, normalised. */
function referenceDensity(explain: number[][]): number[] {
  const d = explain.map((row) => {
    const kept = row.map((v) => (v > 7 ? v : 0));
    const l1 = kept.reduce((s, v) => s + v, 0);
    const l4 = Math.pow(kept.reduce((s, v) => s + v * v * v * v, 0), 1 / 4);
    return l1 / (l4 + 1e-9);
  });
  const max = Math.max(...d);
  return d.map((v) => v / (max + 1e-9));
}

function isEmpty(r: PaperRecord): boolean {
  return r.explain.length === 0 || r.explain[0]!.length === 0;
}

/** Mean score per group and model; records with an empty matrix are left out. */
function groupMeans(scoreOf: (p: Prepared, index: number) => number): Map<string, Record<string, number>> {
  const sums = new Map<string, Record<string, { sum: number; n: number }>>();
  records.forEach((p, index) => {
    if (isEmpty(p.record)) return;
    const byModel = sums.get(p.group) ?? {};
    const acc = (byModel[p.record.model] ??= { sum: 0, n: 0 });
    acc.sum += scoreOf(p, index);
    acc.n++;
    sums.set(p.group, byModel);
  });
  const means = new Map<string, Record<string, number>>();
  for (const [g, byModel] of sums) {
    means.set(g, Object.fromEntries(Object.entries(byModel).map(([m, a]) => [m, a.sum / a.n])));
  }
  return means;
}

function claimHolds(means: Map<string, Record<string, number>>): boolean[] {
  return GROUPS.map((g) => means.get(g)!['vicuna-7b']! > means.get(g)!['llama-7b']!);
}

function format(means: Map<string, Record<string, number>>): string {
  return GROUPS.map((g) => `${g}: llama-7b ${means.get(g)!['llama-7b']!.toFixed(4)}, vicuna-7b ${means.get(g)!['vicuna-7b']!.toFixed(4)}`).join('; ');
}

const densities: number[][] = [];
const scores: number[] = [];

describe('the paper\'s published attribution matrices', () => {
  before(() => {
    const lines = gunzipSync(readFileSync(paperFile)).toString('utf8').split('\n').filter((l) => l.trim() !== '');
    records = lines.map((l) => {
      const record = JSON.parse(l) as PaperRecord;
      return { record, group: groupOf(record.id), ...buildMask(record) };
    });
    for (const p of records) {
      const d = isEmpty(p.record) ? [] : importanceDensity(p.record.explain, OPTIONS);
      densities.push(d);
      scores.push(isEmpty(p.record) ? NaN : instructionScore(d, p.mask));
    }
  });

  it('has 1264 records of 632 prompts × 2 models in the three groups, one with an empty matrix', (t) => {
    assert.equal(records.length, 1264);
    assert.deepEqual([...new Set(records.map((p) => p.record.model))].sort(), [...MODELS]);
    assert.deepEqual([...new Set(records.map((p) => p.group))].sort(), [...GROUPS]);
    const empty = records.filter((p) => isEmpty(p.record)).map((p) => `${p.record.id}/${p.record.model}`);
    assert.equal(empty.length, 1);
    t.diagnostic(`empty matrix (left out of the means): ${empty.join(', ')}`);
    for (const p of records) if (!isEmpty(p.record)) assert.equal(p.record.explain.length, p.record.input_tokens.length, p.record.id);
  });

  it('finds the instruction spans in the token text (all but a few)', (t) => {
    const missing = records.reduce((s, p) => s + p.missing, 0);
    const total = records.reduce((s, p) => s + p.record.instruct.split('&&&')[0]!.split('|||').filter((x) => x.trim()).length, 0);
    t.diagnostic(`instruction spans not found in the token text (skipped): ${missing} of ${total}`);
    assert.ok(missing <= 4, `${missing} spans not found`);
    const withInstruction = records.filter((p) => p.mask.includes(1)).length;
    assert.ok(withInstruction >= 1260, `only ${withInstruction} records have an instruction token`);
  });

  it('takes every matrix as already quantized and matches a plain restatement of the rule', () => {
    for (let k = 0; k < records.length; k++) {
      const r = records[k]!.record;
      if (isEmpty(r)) continue;
      assert.ok(isQuantized(r.explain, 10), `${r.id}/${r.model} is not taken as quantized`);
      const ref = referenceDensity(r.explain);
      const got = densities[k]!;
      assert.equal(got.length, ref.length);
      for (let i = 0; i < ref.length; i++) assert.ok(Math.abs(got[i]! - ref[i]!) < 1e-12, `${r.id}/${r.model} token ${i}: ${got[i]} vs ${ref[i]}`);
    }
  });

  it('vicuna-7b scores higher than llama-7b in each group (the paper\'s claim)', (t) => {
    const means = groupMeans((_, k) => scores[k]!);
    t.diagnostic(`mean instruction score (b=7, p=4): ${format(means)}`);
    for (const g of GROUPS) {
      const m = means.get(g)!;
      assert.ok(m['vicuna-7b']! > m['llama-7b']!, `${g}: vicuna-7b ${m['vicuna-7b']} is not above llama-7b ${m['llama-7b']}`);
    }
  });

  it('can fail: inverted masks break the claim, shuffled masks shrink the gap', (t) => {
    const inverted = groupMeans((p, k) => instructionScore(densities[k]!, p.mask.map((m) => 1 - m)));
    t.diagnostic(`inverted masks (context instead of instruction): ${format(inverted)}`);
    assert.ok(claimHolds(inverted).includes(false), 'the claim still holds in every group with inverted masks');

    // Shuffled masks (the same number of instruction tokens, at random positions): on these data
    // the tuned model still wins in every group — its density is higher over the whole prompt — so
    // that is reported, not asserted. What the real mask adds is a larger tuned-minus-base gap than
    // random masks give, in every group: that is asserted (mean over 20 shuffles, fixed seed).
    const random = rng(20231001);
    const rounds = 20;
    const gapSum: Record<string, number> = {};
    let holdsEveryRound = 0;
    for (let round = 0; round < rounds; round++) {
      const shuffled = groupMeans((p, k) => {
        const m = [...p.mask];
        for (let i = m.length - 1; i > 0; i--) {
          const j = Math.floor(random() * (i + 1));
          [m[i], m[j]] = [m[j]!, m[i]!];
        }
        return instructionScore(densities[k]!, m);
      });
      if (round === 0) t.diagnostic(`shuffled masks (one round): ${format(shuffled)}`);
      if (claimHolds(shuffled).every(Boolean)) holdsEveryRound++;
      for (const g of GROUPS) gapSum[g] = (gapSum[g] ?? 0) + shuffled.get(g)!['vicuna-7b']! - shuffled.get(g)!['llama-7b']!;
    }
    t.diagnostic(`with shuffled masks the claim still holds in all three groups in ${holdsEveryRound} of ${rounds} rounds`);
    const real = groupMeans((_, k) => scores[k]!);
    for (const g of GROUPS) {
      const realGap = real.get(g)!['vicuna-7b']! - real.get(g)!['llama-7b']!;
      const randomGap = gapSum[g]! / rounds;
      t.diagnostic(`${g}: vicuna − llama gap ${realGap.toFixed(4)} with the instruction mask, ${randomGap.toFixed(4)} with shuffled masks`);
      assert.ok(realGap > randomGap, `${g}: the instruction mask's gap ${realGap} is not above the shuffled masks' ${randomGap}`);
    }
  });

  it('detects instructions that mostly agree with the paper\'s annotations (character level)', (t) => {
    // Not the paper's method (its spans were annotated by hand); a sanity check of detectInstructions
    // on 632 real prompts. Recall is low by design: questions carry no instruction verb.
    let tp = 0;
    let fp = 0;
    let fn = 0;
    const seen = new Set<string>();
    for (const { record } of records) {
      if (seen.has(record.id)) continue;
      seen.add(record.id);
      const text = record.prompt;
      const gold = new Uint8Array(text.length);
      const found = new Uint8Array(text.length);
      for (const part of record.instruct.split('&&&')[0]!.split('|||').map((x) => x.trim()).filter((x) => x)) {
        const at = text.indexOf(part);
        if (at >= 0) gold.fill(1, at, at + part.length);
      }
      for (const s of detectInstructions(text).spans) found.fill(1, s.start, s.end);
      for (let i = 0; i < text.length; i++) {
        if (/\s/u.test(text[i]!)) continue;
        if (gold[i] && found[i]) tp++;
        else if (found[i]) fp++;
        else if (gold[i]) fn++;
      }
    }
    const precision = tp / (tp + fp);
    const recall = tp / (tp + fn);
    t.diagnostic(`detected vs annotated instruction characters over ${seen.size} prompts: precision ${precision.toFixed(3)}, recall ${recall.toFixed(3)}`);
    assert.ok(precision > 0.75, `precision ${precision}`);
  });

  it('gives the same scores through scoreJsonl (a .jsonl.gz round trip)', async () => {
    const dir = tempDir();
    const input = join(dir, 'paper-input.jsonl.gz');
    const output = join(dir, 'paper-scores.jsonl');
    const lines = records.map((p) => JSON.stringify({ id: p.record.id, model: p.record.model, explain: p.record.explain, mask: p.mask }));
    writeFileSync(input, gzipSync(lines.join('\n') + '\n'));
    const summary = await scoreJsonl(input, output, OPTIONS);
    assert.deepEqual(summary, { lines: 1264, scored: 1263, empty: 1 });
    const out = readFileSync(output, 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l) as { id: string; model: string; density: number[]; score: number | null; note?: string });
    assert.equal(out.length, records.length);
    for (let k = 0; k < records.length; k++) {
      const r = records[k]!.record;
      assert.equal(out[k]!.id, r.id);
      assert.equal(out[k]!.model, r.model);
      if (isEmpty(r)) {
        assert.deepEqual(out[k]!.density, []);
        assert.equal(out[k]!.score, null);
        assert.ok(out[k]!.note);
      } else {
        assert.deepEqual(out[k]!.density, densities[k]);
        assert.equal(out[k]!.score, scores[k]);
      }
    }
  });
});
