/**
 * One JSON Schema per engine method: the params a request may carry. The engine validates every
 * request against its method's schema before doing anything (ajv, compiled once); a failure is
 * answered with -32602 (InvalidParams) and a message naming the field, e.g.
 * `instructionLens/attribute: 'objective' must be one of prob, logprob`.
 */
import Ajv, { type ErrorObject, type ValidateFunction } from 'ajv';

/** The longest prompt or response text a request may carry; the model's context bounds it further (encodePrompt). */
export const MAX_REQUEST_TEXT = 16 * 1024 * 1024;
/** The longest model path or hub id. */
const MAX_PATH = 4096;

const text = { type: 'string', maxLength: MAX_REQUEST_TEXT };
const path = { type: 'string', maxLength: MAX_PATH };
const positiveInt = { type: 'integer', minimum: 1, maximum: 1_000_000 };
const format = { enum: ['raw', 'chat-template'] };
const layers = { type: 'array', maxItems: 100_000, items: { type: 'integer', minimum: 0, maximum: 100_000 } };

const common = {
  prompt: text,
  maxNewTokens: positiveInt,
  objective: { enum: ['prob', 'logprob'] },
  mode: { enum: ['auto', 'forward', 'reverse'] },
  importance: {
    type: 'object',
    additionalProperties: false,
    properties: {
      L: { type: 'integer', minimum: 1, maximum: 1_000_000 },
      b: { type: 'number', minimum: 0, maximum: 1_000_000 },
      // p = Infinity cannot travel in JSON; a large p is the same within float precision.
      p: { type: 'number', minimum: 1, maximum: 1e300 },
    },
  },
  instructionSpans: {
    type: 'array',
    maxItems: 100_000,
    items: {
      type: 'object',
      additionalProperties: false,
      required: ['start', 'end'],
      properties: { start: { type: 'integer', minimum: 0 }, end: { type: 'integer', minimum: 0 } },
    },
  },
  instructionVerbs: { type: 'array', maxItems: 10_000, items: { type: 'string', maxLength: 100 } },
  progressToken: { type: 'string', maxLength: 200 },
} as const;

const role = { enum: ['base', 'tuned'] };

export const PARAM_SCHEMAS = {
  'instructionLens/info': {
    type: 'object',
    additionalProperties: false,
    required: ['model'],
    properties: { model: path, role },
  },
  'instructionLens/generate': {
    type: 'object',
    additionalProperties: false,
    required: ['model', 'prompt'],
    properties: { model: path, role, prompt: text, format, maxNewTokens: positiveInt, progressToken: common.progressToken },
  },
  'instructionLens/attribute': {
    type: 'object',
    additionalProperties: false,
    required: ['model', 'prompt'],
    properties: { model: path, role, format, response: text, ...common },
  },
  'instructionLens/compare': {
    type: 'object',
    additionalProperties: false,
    required: ['base', 'tuned', 'prompt'],
    properties: {
      base: path,
      tuned: path,
      responseBase: text,
      responseTuned: text,
      formatBase: format,
      formatTuned: format,
      heads: { type: 'boolean' },
      ffn: { type: 'boolean' },
      headsOptions: {
        type: 'object',
        additionalProperties: false,
        properties: { topK: positiveInt, dims: positiveInt, baselineWords: positiveInt, vectors: path, layers },
      },
      ffnOptions: {
        type: 'object',
        additionalProperties: false,
        properties: { components: positiveInt, wordsPerComponent: positiveInt, layers },
      },
      wordsFile: path,
      ...common,
    },
  },
} as const;

export type EngineMethod = keyof typeof PARAM_SCHEMAS;

const ajv = new Ajv({ allErrors: false, strict: true });
const validators = new Map<string, ValidateFunction>(Object.entries(PARAM_SCHEMAS).map(([m, s]) => [m, ajv.compile(s)]));

/** `/importance/L` → `importance.L`; the root → `params`. */
function fieldOf(error: ErrorObject): string {
  const parts = error.instancePath.split('/').slice(1).map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
  if (error.keyword === 'required') parts.push(String(error.params.missingProperty));
  if (error.keyword === 'additionalProperties') parts.push(String(error.params.additionalProperty));
  return parts.length ? parts.map((p, i) => (/^\d+$/.test(p) ? `[${p}]` : i ? `.${p}` : p)).join('') : 'params';
}

function describeError(error: ErrorObject): string {
  const field = `'${fieldOf(error)}'`;
  switch (error.keyword) {
    case 'required':
      return `${field} is missing`;
    case 'additionalProperties':
      return `${field} is not a known field`;
    case 'enum':
      return `${field} must be one of ${(error.params.allowedValues as unknown[]).join(', ')}`;
    case 'type':
      return error.instancePath === '' ? 'params must be an object (by name), not a list or a value' : `${field} must be ${error.params.type === 'integer' ? 'an integer' : `a ${error.params.type}`}`;
    default:
      return `${field} ${error.message}`;
  }
}

/** Why `params` do not fit `method`'s schema, or null when they do (or the method has none). */
export function paramsProblem(method: string, params: unknown): string | null {
  const validate = validators.get(method);
  if (!validate || validate(params)) return null;
  return `${method}: ${describeError(validate.errors![0]!)}`;
}
