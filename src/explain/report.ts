/**
 * The report: one JSON contract for the CLI, the panel, the editor decorations and the hover
 * (DESIGN.md, "The report"). Its JSON Schema is docs/report.schema.json; bump the version in
 * `REPORT_SCHEMA` for any incompatible change.
 */
import type { PromptFormat } from '../model/prompt.js';
import type { Objective } from '../llm/gradient-graph.js';
import type { InstructionSpan, InstructionVerb } from './instructions.js';
import type { Word } from './words.js';

export const REPORT_SCHEMA = 'instruction-lens/report@1';

export interface ReportToken {
  id: number;
  /** The token's characters in the prompt (prompt tokens) or its decoded text (response tokens). */
  text: string;
}

export interface PromptTokenReport extends ReportToken {
  /** [start, end) in UTF-16 units of the prompt text. */
  start: number;
  end: number;
}

export interface ModelDescription {
  /** What the user named: a folder or a hub id. */
  id: string;
  path: string;
  architecture: string;
  parameters: number;
  dtype: string;
  layers: number;
  heads: number;
}

/** One model's attribution of its response to the prompt. `instruction-lens attribute` writes this alone. */
export interface ModelReport {
  model: ModelDescription;
  executionProvider: string;
  promptFormat: PromptFormat;
  objective: Objective;
  /** Everything the model was given: template/BOS tokens, the prompt, the response. */
  inputIds: number[];
  /** Half-open indices into inputIds. */
  promptSpan: [number, number];
  responseSpan: [number, number];
  /** The prompt's tokens (promptSpan), with character offsets into the prompt. */
  tokens: PromptTokenReport[];
  response: {
    text: string;
    /** `generated` greedily by this model, or `given` by the user. */
    source: 'generated' | 'given';
    tokens: ReportToken[];
  };
  /** p(y_j) per response token. */
  probabilities: number[];
  /** [prompt token][response token]: gradient × input of o_j w.r.t. the prompt token's embedding. */
  raw: number[][];
  importance: { L: number; b: number; p: number };
  /** Importance density per prompt token, in [0, 1]. */
  density: number[];
  words: Word[];
  instructions: { source: 'user' | 'detected'; spans: InstructionSpan[]; verbs: InstructionVerb[] };
  /** 1 on prompt tokens that overlap an instruction span. */
  instructionMask: number[];
  instructionScore: number;
  timings: { generateMs: number; attributeMs: number };
}

export interface Report {
  schema: typeof REPORT_SCHEMA;
  createdAt: string;
  prompt: string;
  base: ModelReport;
  tuned: ModelReport;
  /** Present when the head analysis ran (a later section). */
  heads?: unknown;
  /** Present when the FFN analysis ran (a later section). */
  ffn?: unknown;
}
