/**
 * The head analysis (src/explain/heads.ts) against the float64 reference (test/reference/
 * analysis64.ts): the same word list, the same ranked dimensions, the same ranked pairs (ties
 * broken by word position, exercised with triplicated embedding rows), scores within 1e-5; the
 * local analysis against the reference forward's attentions; Table 3 on hand-made profiles.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Tokenizer } from 'tokenizers';
import { analyzeHeadsGlobal, analyzeHeadsLocal, compareHeadVerbs, headProfile, type GlobalHeadsResult } from '../../src/explain/heads.js';
import { detectInstructions } from '../../src/explain/instructions.js';
import { instructionLexicon } from '../../src/explain/instruction-lexicon.js';
import { buildWordList, promptWords } from '../../src/explain/wordlist.js';
import { LlamaRunner } from '../../src/llm/runner.js';
import { loadCheckpoint } from '../../src/model/checkpoint.js';
import { encodePrompt } from '../../src/model/prompt.js';
import { writeSyntheticCheckpoint } from '../../src/model/synthetic.js';
import { loadReferenceModel, referenceForward } from '../reference/llama64.js';
import { referenceHeads, referenceVocabularyWords, type RefHeads } from '../reference/analysis64.js';
import { parityTargets, skipReason, targetName, targetOptions, type ParityTarget } from '../support/providers.js';
import { copyTensorRows } from '../support/safetensors-rows.js';
import { tempDir } from '../support/temp.js';

const REL = 1e-5;
const noCache = { cache: { enabled: false }, provider: 'cpu' as const };

/** Largest relative difference seen per scope and target, reported at the end of the file. */
const worst = new Map<string, number>();
let scope = 'global cpu fp32';
after(() => process.stdout.write(`# heads parity: largest relative difference: ${[...worst].map(([k, v]) => `${k} ${v.toExponential(2)}`).join(', ')}\n`));
const CPU: ParityTarget = { provider: 'cpu', precision: 'fp32', tolerance: 1e-4 };
/** The special cases run on the CPU only; a run restricted to other targets (`npm run gpu-check`) leaves them out. */
const cpuOnly = parityTargets().some((t) => t.provider === 'cpu') ? false : 'LENS_PARITY_PROVIDERS leaves out cpu';

function close(actual: number, expected: number, scale: number, what: string, tolerance = REL): void {
  const rel = Math.abs(actual - expected) / Math.max(Math.abs(expected), scale, Number.MIN_VALUE);
  worst.set(scope, Math.max(worst.get(scope) ?? 0, rel));
  assert.ok(rel <= tolerance, `${what}: ${actual} vs ${expected}`);
}

/** Every analysed dimension: same index, energy within 1e-5, identical ranked pairs, similarities within 1e-5. */
function assertHeadsMatch(actual: GlobalHeadsResult, ref: RefHeads, words: string[], what: string): { pairs: number; tiedNeighbours: number } {
  let pairs = 0;
  let tiedNeighbours = 0;
  assert.equal(actual.layers.length, ref.layers.length, `${what}: layers`);
  actual.layers.forEach((layer, li) => {
    layer.heads.forEach((head, h) => {
      const refDims = ref.layers[li]![h]!;
      assert.equal(head.dims.length, refDims.length, `${what}: layer ${layer.layer} head ${h}: dims`);
      head.dims.forEach((dim, j) => {
        const r = refDims[j]!;
        const where = `${what}: layer ${layer.layer} head ${h} rank ${j}`;
        assert.equal(dim.dim, r.dim, `${where}: dimension`);
        close(dim.energy, r.energy, 0, `${where}: energy`);
        assert.deepEqual(
          dim.pairs.map((p) => `${p.query}→${p.key}`),
          r.pairs.map((p) => `${words[p.q]}→${words[p.k]}`),
          `${where}: ranked pairs`,
        );
        dim.pairs.forEach((p, i) => close(p.similarity, r.pairs[i]!.s, 1e-3, `${where}: similarity ${i}`));
        for (let i = 1; i < r.pairs.length; i++) if (r.pairs[i]!.s === r.pairs[i - 1]!.s) tiedNeighbours++;
        pairs += dim.pairs.length;
      });
      // The profile is derived from the pairs: recount it plainly from the reference.
      const counts = new Map<string, number>();
      for (const d of refDims) for (const k of new Set(d.pairs.map((p) => `${p.q},${p.k}`))) counts.set(k, (counts.get(k) ?? 0) + 1);
      const recurring = [...counts].filter(([, n]) => n > 1).map(([k, n]) => [...k.split(',').map(Number), n] as [number, number, number]);
      recurring.sort((a, b) => b[2] - a[2] || a[0] - b[0] || a[1] - b[1]);
      assert.deepEqual(head.profile.pairs.map((p) => [p.query, p.key, p.dims]), recurring.map(([q, k, n]) => [words[q], words[k], n]), `${what}: layer ${layer.layer} head ${h}: profile`);
    });
  });
  return { pairs, tiedNeighbours };
}

// Every target runs the first (largest) global case and the local one; the special cases run on the CPU.
for (const target of parityTargets()) describe(`global heads on ${targetName(target)}`, { skip: skipReason(target) }, () => {
  it('llama GQA 4/2: vocabulary words + prompt words (one multi-token), every dimension', async () => {
    scope = `global ${targetName(target)}`;
    const dir = join(tempDir(), 'llama');
    await writeSyntheticCheckpoint(dir, { preset: 'tiny', seed: 5 });
    const checkpoint = loadCheckpoint(dir);
    const prompt = 'Summarize the zorblaxian article in two sentences.';
    const list = await buildWordList(checkpoint, { extraWords: promptWords(prompt) });
    const vocab = referenceVocabularyWords(dir);
    assert.deepEqual(list.words.slice(0, list.vocabularyCount), vocab.map((v) => v.word), 'vocabulary words');
    assert.deepEqual(list.tokens.slice(0, list.vocabularyCount), vocab.map((v) => [v.id]));
    // Prompt words the vocabulary lacks come last, tokenized after a space (the tokenizers library is the reference).
    const tokenizer = Tokenizer.fromFile(join(dir, 'tokenizer.json'));
    const extra = list.words.slice(list.vocabularyCount);
    assert.ok(extra.includes('zorblaxian'));
    for (let i = 0; i < extra.length; i++) {
      const ids = (await tokenizer.encode(' ' + extra[i], null, { addSpecialTokens: false })).getIds();
      assert.deepEqual(list.tokens[list.vocabularyCount + i], ids, extra[i]);
    }
    assert.ok(list.tokens[list.words.indexOf('zorblaxian')]!.length > 1, 'a multi-token word is averaged');

    const actual = await analyzeHeadsGlobal(checkpoint, list, {}, { ...noCache, ...targetOptions(target) });
    assert.equal(actual.options.topK, 100);
    assert.equal(actual.options.dims, 16);
    const ref = referenceHeads(loadReferenceModel(dir), list.tokens, { topK: 100, dims: 16, baseline: 3000 });
    const { pairs } = assertHeadsMatch(actual, ref, list.words, 'llama');
    assert.ok(pairs > 1000, `only ${pairs} pairs: the comparison would prove little`);
  });
});

describe('global heads: parity with the float64 reference', { skip: cpuOnly }, () => {
  const root = tempDir();
  before(() => {
    scope = `global ${targetName(CPU)}`;
  });

  it('qwen2 with tied BF16 embeddings: a subset of layers and dimensions, smaller K and a baseline smaller than the hidden size, items in many small runs', async () => {
    const dir = join(root, 'qwen');
    await writeSyntheticCheckpoint(dir, { preset: 'tiny', seed: 6, architecture: 'Qwen2ForCausalLM', tieWordEmbeddings: true, dtype: 'BF16', numLayers: 3 });
    const checkpoint = loadCheckpoint(dir);
    const list = await buildWordList(checkpoint);
    const options = { topK: 40, dims: 5, baselineWords: 40, layers: [2, 0] }; // fewer baseline words than dimensions: the thresholds' direct path
    // 20 items per layer; a budget that fits 3 candidate rows and 1 pair item per run; the pair
    // similarities from the per-item graph instead of the words × words table the other cases use.
    const actual = await analyzeHeadsGlobal(checkpoint, list, options, { ...noCache, itemBudgetBytes: 3 * 8 * list.words.length + 1000, similarityTableBytes: 0 });
    assert.deepEqual(actual.layers.map((l) => l.layer), [0, 2]);
    const ref = referenceHeads(loadReferenceModel(dir), list.tokens, { topK: 40, dims: 5, baseline: 40, layers: [0, 2] });
    const { pairs } = assertHeadsMatch(actual, ref, list.words, 'qwen2');
    assert.ok(pairs > 50);
  });

  for (const [family, options, folded] of [
    ['qwen3 (q/k norm gains per head dimension folded)', { architecture: 'Qwen3ForCausalLM', headDim: 24 }, ['input_layernorm gain (input side)', 'q_norm/k_norm gains per head dimension (output side)']],
    ['olmo2 (no input norm; q/k norm gains over the projection folded)', { architecture: 'Olmo2ForCausalLM', dtype: 'BF16' }, ['q_norm/k_norm gains over the projection (output side)']],
    ['granite (input gain; its multipliers are scalars: rankings unchanged)', { architecture: 'GraniteForCausalLM' }, ['input_layernorm gain (input side)']],
    ['smollm3 (NoPE layers: RoPE is ignored anyway)', { architecture: 'SmolLM3ForCausalLM', noRopeLayerInterval: 2 }, ['input_layernorm gain (input side)']],
    ['phi3 (q/k rows of the fused qkv_proj)', { architecture: 'Phi3ForCausalLM', partialRotaryFactor: 0.5 }, ['input_layernorm gain (input side)']],
    ['gemma2 ((1 + w) input gain folded)', { architecture: 'Gemma2ForCausalLM', tieWordEmbeddings: true, attnSoftcap: 50, finalSoftcap: 30 }, ['input_layernorm gain (1 + w) (input side)']],
    ['gemma3 ((1 + w) input and q/k norm gains folded)', { architecture: 'Gemma3ForCausalLM', tieWordEmbeddings: true, headDim: 32 }, ['input_layernorm gain (1 + w) (input side)', 'q_norm/k_norm gains (1 + w) per head dimension (output side)']],
  ] as const) {
    it(family, async () => {
      const dir = join(root, family.slice(0, 7));
      await writeSyntheticCheckpoint(dir, { preset: 'tiny', seed: 10, ...options });
      const checkpoint = loadCheckpoint(dir);
      const list = await buildWordList(checkpoint);
      const actual = await analyzeHeadsGlobal(checkpoint, list, { topK: 50, dims: 6, baselineWords: 300 }, noCache);
      assert.deepEqual(actual.options.folded, folded);
      const ref = referenceHeads(loadReferenceModel(dir), list.tokens, { topK: 50, dims: 6, baseline: 300 });
      const { pairs } = assertHeadsMatch(actual, ref, list.words, family);
      assert.ok(pairs > 20, `${family}: ${pairs} pairs`);
    });
  }

  it('exact ties (words in triples with identical embedding rows) are broken by word position', async () => {
    const dir = join(root, 'ties');
    await writeSyntheticCheckpoint(dir, { preset: 'tiny', seed: 7 });
    const ids = referenceVocabularyWords(dir).map((v) => v.id);
    const copies: [number, number][] = [];
    for (let i = 0; i < ids.length; i++) if (i % 3) copies.push([ids[i - (i % 3)]!, ids[i]!]);
    copyTensorRows(join(dir, 'model.safetensors'), 'model.embed_tokens.weight', copies);
    const checkpoint = loadCheckpoint(dir);
    const list = await buildWordList(checkpoint);
    const actual = await analyzeHeadsGlobal(checkpoint, list, { dims: 6 }, noCache);
    const ref = referenceHeads(loadReferenceModel(dir), list.tokens, { topK: 100, dims: 6, baseline: 3000 });
    const cutTies = ref.layers.flat(2).filter((d) => d.queryCutTie || d.keyCutTie).length;
    assert.ok(cutTies > 10, `the top-K cut falls inside a tie in only ${cutTies} dimensions`);
    const { tiedNeighbours } = assertHeadsMatch(actual, ref, list.words, 'ties');
    assert.ok(tiedNeighbours > 100, `only ${tiedNeighbours} tied neighbours in the ranked pairs`);
  });

  it('GloVe-format vectors for the similarity (exact entry, else lower-case; words without one never pair)', async () => {
    const dir = join(root, 'glove');
    await writeSyntheticCheckpoint(dir, { preset: 'tiny', seed: 8 });
    const checkpoint = loadCheckpoint(dir);
    const list = await buildWordList(checkpoint);
    // Values on a 1/256 grid are exact in float32, so the file means the same to both sides.
    let seed = 12345;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) * 2 - 1;
    const D = 12;
    const lines: string[] = [];
    const table = new Map<string, Float64Array>();
    list.words.forEach((w, i) => {
      if (i % 7 === 3) return; // no vector
      const key = i % 5 === 0 ? w.toLowerCase() : w;
      if (table.has(key)) return;
      const v = Float64Array.from({ length: D }, () => Math.round(random() * 256) / 256);
      table.set(key, v);
      lines.push(`${key} ${Array.from(v).join(' ')}`);
    });
    lines.splice(5, 0, `. . . ${Array.from({ length: D }, () => '0.5').join(' ')}`); // a "word" with spaces, as in GloVe 840B
    const file = join(root, 'vectors.txt');
    writeFileSync(file, lines.join('\n') + '\n');
    const actual = await analyzeHeadsGlobal(checkpoint, list, { dims: 4, vectors: file, baselineWords: 800 }, noCache);
    assert.equal(actual.options.similarity, 'glove');
    assert.equal(actual.options.vectorsDims, D);
    const similarity = list.words.map((w) => table.get(w) ?? table.get(w.toLowerCase()) ?? null);
    assert.equal(actual.options.vectorsCoverage, similarity.filter(Boolean).length);
    const ref = referenceHeads(loadReferenceModel(dir), list.tokens, { topK: 100, dims: 4, baseline: 800, similarity });
    const { pairs } = assertHeadsMatch(actual, ref, list.words, 'glove');
    assert.ok(pairs > 50);
    const missing = new Set(list.words.filter((_, i) => !similarity[i]));
    for (const l of actual.layers) for (const h of l.heads) for (const d of h.dims) for (const p of d.pairs) assert.ok(!missing.has(p.query) && !missing.has(p.key));
  });
});

for (const target of parityTargets()) describe(`local heads on ${targetName(target)}: attention on the prompt, aggregated to words`, { skip: skipReason(target) }, () => {
  const dir = join(tempDir(), 'm');
  before(() => writeSyntheticCheckpoint(dir, { preset: 'tiny', seed: 9 }));

  it('word pairs and verb links match the reference attentions', async () => {
    scope = `local ${targetName(target)}`; // attention probabilities come from the float32 forward
    const checkpoint = loadCheckpoint(dir);
    const runner = new LlamaRunner(checkpoint, targetOptions(target));
    try {
      const prompt = 'Summarize the article, then translate the summary into French.';
      const encoded = await encodePrompt(checkpoint, prompt, 'raw');
      const forward = await runner.forward(encoded.inputIds, { attentions: true });
      const verbs = detectInstructions(prompt).verbs;
      assert.deepEqual(verbs.map((v) => v.verb), ['summarize', 'translate']);
      const local = analyzeHeadsLocal(prompt, encoded, forward, checkpoint.config.numHeads, verbs, 6);
      assert.deepEqual(local.words.map((w) => w.text), ['Summarize', 'the', 'article', 'then', 'translate', 'the', 'summary', 'into', 'French']);
      assert.deepEqual(local.instructionVerbs, [{ verb: 'summarize', word: 0 }, { verb: 'translate', word: 4 }]);
      // Reference: query word = mean over its tokens, key word = sum over its tokens.
      const ref = referenceForward(loadReferenceModel(dir), encoded.inputIds, { attentions: true });
      const [p0] = encoded.promptSpan;
      const tokenWord = encoded.tokens.map((t) => local.words.findIndex((w) => t.start < w.end && w.start < t.end));
      let links = 0;
      for (const head of local.heads) {
        const A = ref.attentions![head.layer]![head.head]!;
        const W = local.words.length;
        const M = Array.from({ length: W }, () => new Float64Array(W));
        for (let i = 0; i < W; i++) {
          const qs = tokenWord.map((w, t) => (w === i ? p0 + t : -1)).filter((t) => t >= 0);
          for (let j = 0; j < W; j++) {
            const ks = tokenWord.map((w, t) => (w === j ? p0 + t : -1)).filter((t) => t >= 0);
            M[i]![j] = qs.reduce((s, a) => s + ks.reduce((u, b) => u + A[a]![b]!, 0), 0) / qs.length;
          }
        }
        const pairs: [number, number, number][] = [];
        for (let i = 0; i < W; i++) for (let j = 0; j < W; j++) if (i !== j && M[i]![j]! > 0) pairs.push([i, j, M[i]![j]!]);
        pairs.sort((a, b) => b[2] - a[2] || a[0] - b[0] || a[1] - b[1]);
        assert.deepEqual(head.pairs.map((p) => [p.query, p.key]), pairs.slice(0, 6).map(([i, j]) => [i, j]), `layer ${head.layer} head ${head.head}`);
        head.pairs.forEach((p, k) => close(p.weight, pairs[k]![2], 1e-3, `layer ${head.layer} head ${head.head} pair ${k}`, target.precision === 'fp32' ? REL : target.tolerance));
        const isVerb = (w: number) => w === 0 || w === 4;
        links += head.pairs.reduce((n, p) => n + Number(isVerb(p.query)) + Number(isVerb(p.key)), 0);
      }
      assert.equal(local.verbLinks.length, links);
      for (let i = 1; i < local.verbLinks.length; i++) assert.ok(local.verbLinks[i - 1]!.weight >= local.verbLinks[i]!.weight);
      for (const l of local.verbLinks) assert.equal(l.word, local.words[l.wordIndex]!.text);
    } finally {
      await runner.dispose();
    }
  });
});

describe('head profiles and Table 3', () => {
  it('profiles count pairs once per dimension; Table 3 counts heads where tuned > base, ties ignored', () => {
    const words = ['write', 'poem', 'is', 'story', 'summarize', 'text', 'writes'];
    assert.deepEqual(headProfile([{ pairs: [0, 1, 0.9, 0, 1, 0.9, 2, 3, 0.5] }, { pairs: [0, 1, 0.9, 2, 3, 0.5] }, { pairs: [0, 1, 0.9] }], words), {
      pairs: [{ query: 'write', key: 'poem', dims: 3 }, { query: 'is', key: 'story', dims: 2 }],
      words: [{ word: 'write', count: 1 }, { word: 'poem', count: 1 }, { word: 'is', count: 1 }, { word: 'story', count: 1 }],
    });
    const head = (pairs: [number, number][]) => ({ head: 0, dims: [], profile: headProfile([{ pairs: pairs.flatMap(([q, k]) => [q, k, 1]) }, { pairs: pairs.flatMap(([q, k]) => [q, k, 1]) }], words) });
    const model = (perLayer: [number, number][][][]): GlobalHeadsResult => ({
      words: { count: words.length, source: 'file', vocabularyCount: 0, hash: '' },
      options: { topK: 1, dims: 2, baselineWords: 1, similarity: 'input-embeddings', layers: perLayer.map((_, l) => l) },
      numLayers: perLayer.length,
      numHeads: 2,
      layers: perLayer.map((heads, layer) => ({ layer, heads: heads.map((p, h) => ({ ...head(p), head: h })) })),
      fromCache: false,
      computeMs: 0,
    });
    // 4 layers × 2 heads; "write"/"writes" count for write, "is" for be.
    const base = model([[[[0, 1]], []], [[], [[2, 3]]], [[[4, 5]], [[0, 1]]], [[], []]]);
    const tuned = model([[[[0, 1], [6, 3]], [[0, 5]]], [[], []], [[[4, 5]], []], [[[2, 1]], []]]);
    const table = compareHeadVerbs(base, tuned);
    assert.deepEqual(table.groups.map((g) => g.layers), [[0, 1], [1, 2], [2, 3], [3, 4]]);
    const row = (t: typeof table.instruction, verb: string) => t.verbs.find((r) => r.verb === verb)!;
    // write: layer 0 head 0 (2 vs 1, tuned more), head 1 (1 vs 0), layer 2 head 1 (0 vs 1).
    assert.deepEqual(row(table.instruction, 'write').share, [1, null, 0, null]);
    assert.deepEqual(row(table.instruction, 'write').decided, [2, 0, 1, 0]);
    assert.deepEqual(row(table.instruction, 'summarize').share, [null, null, null, null]); // equal counts: ignored
    assert.deepEqual(row(table.general, 'be').share, [null, 0, null, 1]);
    assert.deepEqual(table.instruction.pooled, [1, null, 0, null]);
    assert.ok(table.overlap.includes('take') && table.overlap.includes('think'));

    // One lexicon: "take" (built-in instruction verb and frequent general verb) counts as an
    // instruction verb only; a verb the user added ("tell" is built in, "glorp" is not) joins Table 3.
    const lexWords = ['take', 'took', 'glorp', 'glorped', 'is', 'poem'];
    const lexHead = (pairs: [number, number][]) => ({ head: 0, dims: [], profile: headProfile([{ pairs: pairs.flatMap(([q, k]) => [q, k, 1]) }, { pairs: pairs.flatMap(([q, k]) => [q, k, 1]) }], lexWords) });
    const lexModel = (heads: [number, number][][]): GlobalHeadsResult => ({ ...model([[], []]), numLayers: 1, layers: [{ layer: 0, heads: heads.map((p, h) => ({ ...lexHead(p), head: h })) }] });
    const lexBase = lexModel([[[4, 5]], []]);
    const lexTuned = lexModel([[[0, 5], [1, 5]], [[3, 5], [4, 5]]]);
    const builtIn = compareHeadVerbs(lexBase, lexTuned);
    assert.deepEqual(builtIn.instruction.verbs.map((r) => r.verb), ['take']);
    assert.deepEqual(builtIn.general.verbs.map((r) => r.verb), ['be'], '"take" is not a general verb as well');
    const withUser = compareHeadVerbs(lexBase, lexTuned, instructionLexicon(['Glorp']));
    assert.deepEqual(withUser.instruction.verbs.map((r) => r.verb), ['glorp', 'take']);
    assert.deepEqual(row(withUser.instruction, 'glorp').tunedMore, [1]);
    assert.ok(!withUser.general.verbs.some((r) => r.verb === 'take'));
  });
});
