// Plain float64 reference of the head and FFN analyses (test code).
//
// The ORACLE for the analysis graphs: independent of src/ (no imports from it), written for
// obviousness rather than speed, everything in float64, straight from DESIGN.md §2 and §3:
//
//   word list      tokenizer.json's vocabulary: marker (Ġ byte-level, ▁ sentencepiece) + ≥ 2
//                  letters, first `limit` by id, deduplicated; then extra words (their tokens given)
//   vectors        input = mean of embedding rows, output = mean of lm_head rows
//   heads          Hq = E·(Wqᵀ ⊙ g), Hk = E·(Wkᵀ ⊙ g) per head (GQA: its kv group); energy per dim;
//                  top-K |Hq| and |Hk| words; sign-consistent q ≠ k pairs with s(q,k) > τ_q, τ_k,
//                  s = cosine of input vectors (or given vectors), τ = mean + 1.96·std (population)
//                  over the first `baseline` words; pairs by s desc (s on a 2^-40 grid), then
//                  query, then key position
//   FFN            value vectors = columns of down_proj, centred; covariance; Jacobi eigenvectors;
//                  variance ratio λ/Σλ; top words by |v·ô| (ties by position)
//
// Sorting is always by value, then by index: the tie-breaking rule the engine must follow.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadReferenceModel, type ReferenceModel } from './llama64';

// ---------------------------------------------------------------------------------------------
// Word list

function gpt2ByteDecoder(): Map<string, number> {
  // bytes that print as themselves in GPT-2's table; the others are numbered from 256 upwards
  const printable: number[] = [];
  for (let b = 33; b <= 126; b++) printable.push(b);
  for (let b = 161; b <= 172; b++) printable.push(b);
  for (let b = 174; b <= 255; b++) printable.push(b);
  const map = new Map<string, number>();
  let extra = 0;
  for (let b = 0; b < 256; b++) {
    if (printable.includes(b)) map.set(String.fromCodePoint(b), b);
    else map.set(String.fromCodePoint(256 + extra++), b);
  }
  return map;
}

export function referenceVocabularyWords(dir: string, limit = 20000): { word: string; id: number }[] {
  const json = JSON.parse(readFileSync(join(dir, 'tokenizer.json'), 'utf8')) as { model: { vocab: Record<string, number> | [string, number][] } };
  const vocab = json.model.vocab;
  const entries: [string, number][] = Array.isArray(vocab) ? vocab.map(([t], i) => [t, i]) : Object.entries(vocab);
  const byteLevel = entries.filter(([t]) => t.startsWith('Ġ')).length >= entries.filter(([t]) => t.startsWith('▁')).length;
  const decoder = gpt2ByteDecoder();
  entries.sort((a, b) => a[1] - b[1]);
  const out: { word: string; id: number }[] = [];
  const seen = new Set<string>();
  for (const [token, id] of entries) {
    if (out.length === limit) break;
    let text: string;
    if (byteLevel) {
      if (!token.startsWith('Ġ')) continue;
      const bytes: number[] = [];
      let ok = true;
      for (const ch of token) {
        const b = decoder.get(ch);
        if (b === undefined) ok = false;
        else bytes.push(b);
      }
      if (!ok) continue;
      try {
        text = new TextDecoder('utf-8', { fatal: true }).decode(Uint8Array.from(bytes));
      } catch {
        continue;
      }
    } else {
      if (!token.startsWith('▁')) continue;
      text = token.split('▁').join(' ');
    }
    const word = text.slice(1);
    if (text[0] !== ' ' || !/^\p{L}{2,}$/u.test(word) || seen.has(word)) continue;
    seen.add(word);
    out.push({ word, id });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Shared numerics

export interface RefWordVectors {
  input: Float64Array[];
  output: Float64Array[];
}

export function referenceWordVectors(model: ReferenceModel, tokens: number[][]): RefWordVectors {
  const H = model.config.hiddenSize;
  const embed = model.weights.get('model.embed_tokens.weight')!.data;
  const head = model.config.tieWordEmbeddings ? embed : model.weights.get('lm_head.weight')!.data;
  const mean = (table: Float64Array, ids: number[]) => {
    const v = new Float64Array(H);
    for (const id of ids) for (let x = 0; x < H; x++) v[x] += table[id * H + x]!;
    for (let x = 0; x < H; x++) v[x] /= ids.length;
    return v;
  };
  return { input: tokens.map((t) => mean(embed, t)), output: tokens.map((t) => mean(head, t)) };
}

function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}

function unit(v: Float64Array): Float64Array {
  const n = Math.sqrt(dot(v, v));
  return n > 0 ? v.map((x) => x / n) : new Float64Array(v.length);
}

/** Indices of the k largest values, ties by lower index. */
export function topIndices(values: ArrayLike<number>, k: number): number[] {
  const idx = Array.from({ length: values.length }, (_, i) => i);
  idx.sort((a, b) => values[b]! - values[a]! || a - b);
  return idx.slice(0, k);
}

// ---------------------------------------------------------------------------------------------
// Heads

export interface RefHeadDim {
  dim: number;
  energy: number;
  pairs: { q: number; k: number; s: number }[];
  /** The K-th and (K+1)-th largest |Hq| (resp. |Hk|) are equal: the top-K cut falls inside a tie. */
  queryCutTie: boolean;
  keyCutTie: boolean;
}

export interface RefHeadsOptions {
  topK: number;
  dims: number;
  baseline: number;
  /** Similarity vectors per word (null: no vector); default the input vectors. */
  similarity?: (Float64Array | null)[];
  layers?: number[];
}

export interface RefHeads {
  tau: Float64Array;
  /** [layer][head] → analysed dims in energy order. */
  layers: RefHeadDim[][][];
}

export function referenceHeads(model: ReferenceModel, tokens: number[][], options: RefHeadsOptions): RefHeads {
  const c = model.config;
  const H = c.hiddenSize;
  const d = c.headDim;
  const N = tokens.length;
  const { input } = referenceWordVectors(model, tokens);
  const simVectors = (options.similarity ?? input).map((v) => (v ? unit(v) : null));
  const baseRows: number[] = [];
  for (let i = 0; i < N && baseRows.length < options.baseline; i++) if (simVectors[i]) baseRows.push(i);
  const tau = new Float64Array(N);
  for (let w = 0; w < N; w++) {
    const v = simVectors[w];
    if (!v) {
      tau[w] = Infinity;
      continue;
    }
    const s = baseRows.map((b) => dot(v, simVectors[b]!));
    const mean = s.reduce((a, b) => a + b, 0) / s.length;
    const variance = s.reduce((a, b) => a + (b - mean) ** 2, 0) / s.length;
    tau[w] = mean + 1.96 * Math.sqrt(variance);
  }
  const sim = (q: number, k: number) => (simVectors[q] && simVectors[k] ? dot(simVectors[q]!, simVectors[k]!) : -Infinity);
  const K = Math.min(options.topK, N);
  const layers: RefHeadDim[][][] = [];
  for (let l = 0; l < c.numLayers; l++) {
    if (options.layers && !options.layers.includes(l)) continue;
    // Every per-dimension gain between the embedding and q·k is folded: the input norm's (none in
    // OLMo 2, whose norms follow attention), and the q/k norms' on the projection's output side
    // (Qwen3: gain[r mod head_dim] per head; OLMo 2: gain[r] over the whole projection).
    const p = `model.layers.${l}.`;
    // Gemma's norms scale by (1 + w).
    const offset = c.gemma ? 1 : 0;
    const gain = c.postNorms ? new Float64Array(H).fill(1) : model.weights.get(`${p}input_layernorm.weight`)!.data.map((v) => v + offset);
    // Phi-3: W_q and W_k are the first two row blocks of qkv_proj.
    const qkv = c.phi3 ? model.weights.get(`${p}self_attn.qkv_proj.weight`)!.data : null;
    const Wq = qkv ? qkv.subarray(0, c.numHeads * d * H) : model.weights.get(`${p}self_attn.q_proj.weight`)!.data;
    const Wk = qkv ? qkv.subarray(c.numHeads * d * H) : model.weights.get(`${p}self_attn.k_proj.weight`)!.data;
    const outGain = (norm: 'q_norm' | 'k_norm', r: number) => {
      if (c.qkNorm === 'none') return 1;
      const w = model.weights.get(`${p}self_attn.${norm}.weight`)!.data;
      return (c.qkNorm === 'head' ? w[r % d]! : w[r]!) + offset;
    };
    // project(W, row r): Hr[w] = Σ_i E[w][i] · W[r][i] · g[i] · n[r]  (= E · (Wᵀ ⊙ g) column r, times the q/k norm gain)
    const project = (W: Float64Array, r: number, norm: 'q_norm' | 'k_norm') => {
      const n = outGain(norm, r);
      return input.map((e) => {
        let s = 0;
        for (let i = 0; i < H; i++) s += e[i]! * W[r * H + i]! * gain[i]!;
        return s * n;
      });
    };
    const heads: RefHeadDim[][] = [];
    for (let h = 0; h < c.numHeads; h++) {
      const kv = Math.floor(h / (c.numHeads / c.numKvHeads));
      const Hq = Array.from({ length: d }, (_, r) => project(Wq, h * d + r, 'q_norm'));
      const Hk = Array.from({ length: d }, (_, r) => project(Wk, kv * d + r, 'k_norm'));
      const energy = Array.from({ length: d }, (_, r) => dot(Hq[r]!, Hq[r]!) + dot(Hk[r]!, Hk[r]!));
      const dims = topIndices(energy, Math.min(options.dims, d));
      heads.push(dims.map((r) => {
        const Q = topIndices(Hq[r]!.map(Math.abs), K);
        const Kw = topIndices(Hk[r]!.map(Math.abs), K);
        const pairs: { q: number; k: number; s: number }[] = [];
        for (const q of Q) {
          for (const k of Kw) {
            if (q === k || !(Hq[r]![q]! * Hk[r]![k]! > 0)) continue;
            const s = sim(q, k);
            // Reported and ranked on a 2^-40 grid, so that exact ties stay ties.
            if (s > tau[q]! && s > tau[k]!) pairs.push({ q, k, s: Math.round(s * 2 ** 40) / 2 ** 40 });
          }
        }
        pairs.sort((a, b) => b.s - a.s || a.q - b.q || a.k - b.k);
        const cutTie = (values: number[]) => {
          const sorted = values.map(Math.abs).sort((a, b) => b - a);
          return K < N && sorted[K - 1] === sorted[K];
        };
        return { dim: r, energy: energy[r]!, pairs, queryCutTie: cutTie(Hq[r]!), keyCutTie: cutTie(Hk[r]!) };
      }));
    }
    layers.push(heads);
  }
  return { tau, layers };
}

// ---------------------------------------------------------------------------------------------
// FFN

/** Cyclic Jacobi eigendecomposition of a symmetric matrix: values descending, vectors as rows, largest-|entry| positive. */
export function jacobiEigen(a: Float64Array[], sweeps = 100): { values: number[]; vectors: Float64Array[] } {
  const n = a.length;
  const A = a.map((r) => Float64Array.from(r));
  const V = Array.from({ length: n }, (_, i) => {
    const r = new Float64Array(n);
    r[i] = 1;
    return r;
  });
  for (let sweep = 0; sweep < sweeps; sweep++) {
    let off = 0;
    for (let p = 0; p < n; p++) for (let q = p + 1; q < n; q++) off += A[p]![q]! ** 2;
    if (off < 1e-30) break;
    for (let p = 0; p < n; p++) {
      for (let q = p + 1; q < n; q++) {
        const apq = A[p]![q]!;
        if (Math.abs(apq) < 1e-300) continue;
        const theta = (A[q]![q]! - A[p]![p]!) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const cs = 1 / Math.sqrt(t * t + 1);
        const sn = t * cs;
        for (let k = 0; k < n; k++) {
          const akp = A[k]![p]!;
          const akq = A[k]![q]!;
          A[k]![p] = cs * akp - sn * akq;
          A[k]![q] = sn * akp + cs * akq;
        }
        for (let k = 0; k < n; k++) {
          const apk = A[p]![k]!;
          const aqk = A[q]![k]!;
          A[p]![k] = cs * apk - sn * aqk;
          A[q]![k] = sn * apk + cs * aqk;
        }
        // V's rows are the eigenvectors: rotate rows p and q.
        for (let k = 0; k < n; k++) {
          const vp = V[p]![k]!;
          const vq = V[q]![k]!;
          V[p]![k] = cs * vp - sn * vq;
          V[q]![k] = sn * vp + cs * vq;
        }
      }
    }
  }
  const order = topIndices(A.map((r, i) => r[i]!), n);
  return {
    values: order.map((i) => A[i]![i]!),
    vectors: order.map((i) => {
      const v = Float64Array.from(V[i]!);
      let big = 0;
      for (let k = 1; k < n; k++) if (Math.abs(v[k]!) > Math.abs(v[big]!)) big = k;
      return v[big]! < 0 ? v.map((x) => -x) : v;
    }),
  };
}

export interface RefFfnLayer {
  layer: number;
  varianceRatio: number[];
  /** Components as rows (unit). */
  components: Float64Array[];
  /** Per component: word indices and scores, best first. */
  words: { indices: number[]; scores: number[] }[];
}

export function referenceFfn(model: ReferenceModel, tokens: number[][], options: { components: number; words: number; layers?: number[] }): RefFfnLayer[] {
  const c = model.config;
  const H = c.hiddenSize;
  const I = c.intermediateSize;
  const { output } = referenceWordVectors(model, tokens);
  const outUnit = output.map(unit);
  const out: RefFfnLayer[] = [];
  for (let l = 0; l < c.numLayers; l++) {
    if (options.layers && !options.layers.includes(l)) continue;
    const down = model.weights.get(`model.layers.${l}.mlp.down_proj.weight`)!.data; // [H, I]
    const values = Array.from({ length: I }, (_, j) => Float64Array.from({ length: H }, (_, x) => down[x * I + j]!));
    const mean = new Float64Array(H);
    for (const v of values) for (let x = 0; x < H; x++) mean[x] += v[x]! / I;
    const centred = values.map((v) => v.map((x, i) => x - mean[i]!));
    const cov = Array.from({ length: H }, (_, a) => Float64Array.from({ length: H }, (_, b) => centred.reduce((s, v) => s + v[a]! * v[b]!, 0) / I));
    const { values: lambda, vectors } = jacobiEigen(cov);
    const total = lambda.reduce((a, b) => a + b, 0);
    const C = Math.min(options.components, H);
    const comps = vectors.slice(0, C);
    out.push({
      layer: l,
      varianceRatio: lambda.slice(0, C).map((x) => x / total),
      components: comps,
      words: comps.map((v) => {
        const scores = outUnit.map((o) => Math.abs(dot(v, o)));
        const indices = topIndices(scores, Math.min(options.words, scores.length));
        return { indices, scores: indices.map((i) => scores[i]!) };
      }),
    });
  }
  return out;
}

export { loadReferenceModel };
