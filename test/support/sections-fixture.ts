/**
 * Hand-made `heads` and `ffn` report sections in the flat shape src/shared/sections.ts also reads
 * (not the engine's full HeadsSection/FfnSection: the real ones come from `compare`), for the
 * panel's tests: small, deterministic, with hostile strings on request. The tuned model gets more
 * instruction-verb pairs and task-verb concepts, so the Summary's findings hold.
 */
import type { Report } from '../../src/explain/report.js';
import { mulberry32 as rng } from './random.js';

/** A hand-made section where the report type wants the engine's: the panel reads both. */
export function asSection<K extends 'heads' | 'ffn'>(section: unknown): Report[K] {
  return section as Report[K];
}

const VERBS = ['summarize', 'write', 'explain', 'list', 'translate'];
const WORDS = ['article', 'sentences', 'city', 'council', 'bike', 'lane', 'traffic', 'parking', 'summary', 'text', 'story', 'code', 'poem', 'answer', 'question'];

export function headsSection(layers = 4, heads = 6, hostile = false): Report['heads'] {
  const model = (seed: number, verbBias: number) => {
    const random = rng(seed);
    const perHead = [];
    for (let layer = 0; layer < layers; layer++) {
      for (let head = 0; head < heads; head++) {
        const pairs = Array.from({ length: 6 }, (_, k) => {
          const verb = random() < verbBias;
          const query = verb ? VERBS[Math.floor(random() * VERBS.length)]! : WORDS[Math.floor(random() * WORDS.length)]!;
          const key = WORDS[(k + layer + head) % WORDS.length]!;
          return { query: hostile && k === 0 ? `<img src=x onerror=alert(1)>\u202e${query}` : query, key, similarity: Number((0.9 - k * 0.05).toFixed(3)) };
        });
        perHead.push({ layer, head, pairs });
      }
    }
    const verbLinks = Array.from({ length: Math.round(verbBias * 10) }, (_, k) => ({ layer: k % layers, head: (k * 5) % heads, verb: 'summarize', word: WORDS[k % WORDS.length]!, weight: Number((0.5 - k * 0.03).toFixed(3)) }));
    return { layers, heads, perHead, verbLinks };
  };
  return asSection<'heads'>({
    base: model(11, 0.15),
    tuned: model(12, 0.45),
    groups: [
      { group: 'layers 1–2', word: 'summarize', kind: 'instruction', share: 0.62 },
      { group: 'layers 1–2', word: 'make', kind: 'general', share: 0.41 },
      { group: 'layers 3–4', word: 'summarize', kind: 'instruction', share: 0.58 },
    ],
  });
}

export function ffnSection(layers = 4, hostile = false): Report['ffn'] {
  const model = (seed: number, taskBias: number) => {
    const random = rng(seed);
    return {
      layers: Array.from({ length: layers }, (_, layer) => ({
        layer,
        components: Array.from({ length: 5 }, (_, index) => ({
          index,
          explained: Number((0.2 / (index + 1)).toFixed(4)),
          words: Array.from({ length: 8 }, (_, k) => {
            const w = random() < taskBias ? VERBS[(k + index) % VERBS.length]! : WORDS[(k * 3 + index + layer) % WORDS.length]!;
            return hostile && k === 0 ? `</li><script>alert(3)</script>${w}` : w;
          }),
        })),
      })),
      active: [{ layer: 1, component: 0, score: 2.5 }, { layer: 2, component: 3, score: 1.25 }],
    };
  };
  return asSection<'ffn'>({
    base: model(21, 0.1),
    tuned: model(22, 0.4),
    rotation: Array.from({ length: layers }, (_, layer) => ({ layer, cosine: Number((0.98 - layer * 0.08).toFixed(3)) })),
  });
}
