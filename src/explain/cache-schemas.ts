/**
 * The type of each analysis-cache payload (the JSON that `cached()` stores, before `decode`), as a
 * JSON Schema. A cache file's checksum only proves the file is what was written — not that what
 * was written has the shape this version reads: a payload that does not fit its kind's schema is
 * logged, deleted and recomputed (analysis-cache.ts), never handed to the analysis.
 */
import Ajv, { type ValidateFunction } from 'ajv';

const count = { type: 'integer', minimum: 0 } as const;
const numbers = { type: 'array', items: { type: 'number' } } as const;
const integers = { type: 'array', items: count } as const;

/** heads.ts CompactHeads. */
const heads = {
  type: 'object',
  required: ['options', 'layers'],
  properties: {
    options: {
      type: 'object',
      required: ['topK', 'dims', 'baselineWords', 'similarity', 'layers'],
      properties: {
        topK: count,
        dims: count,
        baselineWords: count,
        similarity: { enum: ['input-embeddings', 'glove'] },
        vectorsFile: { type: 'string' },
        vectorsDims: count,
        vectorsCoverage: { type: 'number' },
        layers: integers,
        folded: { type: 'array', items: { type: 'string' } },
      },
    },
    layers: {
      type: 'array',
      items: {
        type: 'object',
        required: ['layer', 'heads'],
        properties: {
          layer: count,
          heads: {
            type: 'array',
            items: {
              type: 'object',
              required: ['head', 'dims'],
              properties: {
                head: count,
                dims: {
                  type: 'array',
                  items: {
                    type: 'object',
                    required: ['dim', 'energy', 'pairs'],
                    // pairs: (query index, key index, similarity) triples, flattened.
                    properties: { dim: count, energy: { type: 'number' }, pairs: numbers },
                  },
                },
              },
            },
          },
        },
      },
    },
  },
} as const;

/** ffn.ts BasisLayer[] as encoded (basis in base64). */
const ffnBasis = {
  type: 'array',
  items: {
    type: 'object',
    required: ['layer', 'totalVariance', 'variances', 'basis'],
    properties: { layer: count, totalVariance: { type: 'number' }, variances: numbers, basis: { type: 'string' } },
  },
} as const;

/** ffn.ts ConceptLayer[]. */
const ffnConcepts = {
  type: 'array',
  items: {
    type: 'object',
    required: ['layer', 'components'],
    properties: {
      layer: count,
      components: { type: 'array', items: { type: 'object', required: ['indices', 'scores'], properties: { indices: integers, scores: numbers } } },
    },
  },
} as const;

const SCHEMAS: Record<string, object> = { heads, 'ffn-basis': ffnBasis, 'ffn-concepts': ffnConcepts };

const ajv = new Ajv({ allErrors: false, strict: false });
const validators = new Map<string, ValidateFunction>();

/** Why `data` is not a payload of `kind`, or null when it is (or the kind has no schema). */
export function cachePayloadProblem(kind: string, data: unknown): string | null {
  const schema = SCHEMAS[kind];
  if (!schema) return null;
  let validate = validators.get(kind);
  if (!validate) validators.set(kind, (validate = ajv.compile(schema)));
  if (validate(data)) return null;
  const e = validate.errors![0]!;
  return `payload${e.instancePath.replace(/\//g, '.')} ${e.message}`;
}
