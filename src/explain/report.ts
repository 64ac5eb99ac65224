/**
 * The report: one JSON contract for the CLI, the panel, the editor decorations and the hover
 * (DESIGN.md, "The report"). Its JSON Schema is docs/report.schema.json; bump the version in
 * `REPORT_SCHEMA` for any incompatible change.
 */
import type { PromptFormat } from '../model/prompt.js';
import type { Objective } from '../llm/gradient-graph.js';
import type { ComponentUsage, FfnRotationLayer, ResolvedFfnOptions } from './ffn.js';
import type { HeadDimension, HeadsVerbComparison, LocalHead, ResolvedHeadsOptions, VerbLink, WordListSummary } from './heads.js';
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
  /** The device that ran it: "webgpu · NVIDIA H200", "webgpu · llvmpipe (LLVM 15.0.6, 256 bits)", "cpu". Absent in reports from before it was added. */
  executionDevice?: string;
  promptFormat: PromptFormat;
  objective: Objective;
  /** How raw was differentiated: `forward` (one tangent per prompt token) or `reverse` (one cotangent per response token). Absent in reports from before it was added. */
  attributionMode?: 'forward' | 'reverse';
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
  /** Present when the head analysis ran (DESIGN.md §2). */
  heads?: HeadsSection;
  /** Present when the FFN analysis ran (DESIGN.md §3). */
  ffn?: FfnSection;
}

// ---------------------------------------------------------------------------------------------
// Heads (src/explain/heads.ts). Global results are summarised per head (the full per-dimension
// lists are what `instruction-lens heads --json` writes); local results are complete.

/** A recurring word pair of a head: it occurs in `dims` (> 1) of the head's analysed dimensions. */
export interface HeadPairReport {
  query: string;
  key: string;
  /** s(query, key), the co-occurrence similarity. */
  similarity: number;
  dims: number;
}

export interface HeadReport {
  layer: number;
  head: number;
  /** The head's profile: its recurring pairs, most dimensions first (ties by word position), at most REPORT_HEAD_PAIRS. */
  pairs: HeadPairReport[];
  /** How many recurring pairs the head has in all. */
  recurringPairs: number;
  /** Recurring pairs with an instruction verb (any form) as query or key. */
  verbPairs: number;
  /** Words of the recurring pairs with how many pairs each is in, most first, at most REPORT_HEAD_WORDS. */
  words: { word: string; count: number }[];
  /** The head's first REPORT_HEAD_DIMS dimensions by energy, each with its first REPORT_DIM_PAIRS pairs. */
  dims: HeadDimension[];
}

export interface ModelHeadsSection {
  /** The model's layer and head counts (perHead covers the analysed layers). */
  layers: number;
  heads: number;
  words: WordListSummary;
  fromCache: boolean;
  computeMs: number;
  perHead: HeadReport[];
  /** On this prompt: pairs among the heads' strongest that involve an instruction verb, strongest first. */
  verbLinks: VerbLink[];
  /** On this prompt: the prompt's words, its instruction verbs (word indices) and every head's strongest word pairs. */
  local: { words: { text: string; start: number; end: number }[]; instructionVerbs: { verb: string; word: number }[]; heads: LocalHead[] };
}

/** One cell of the paper's Table 3: in this layer group, the share of heads where the tuned model's count of the verb exceeds the base model's. */
export interface HeadsGroupRow {
  /** "layers 1–8" (1-based, inclusive). */
  group: string;
  /** 0-based [start, end). */
  layers: [number, number];
  word: string;
  kind: 'instruction' | 'general';
  share: number;
  tunedMore: number;
  decided: number;
}

export interface HeadsSection {
  options: ResolvedHeadsOptions;
  base: ModelHeadsSection;
  tuned: ModelHeadsSection;
  /** Table 3 as rows (cells with at least one head where the counts differ). */
  groups: HeadsGroupRow[];
  /** Table 3 in full: per verb and group, with the means over each verb list. */
  table: HeadsVerbComparison;
}

// ---------------------------------------------------------------------------------------------
// FFN (src/explain/ffn.ts)

export interface FfnComponentReport {
  index: number;
  /** σ_c² / Σσ². */
  varianceRatio: number;
  /** Concept words, best first. */
  words: string[];
}

export interface ActiveComponent extends ComponentUsage {
  /** The component's first concept words. */
  words: string[];
}

export interface ModelFfnSection {
  words: WordListSummary;
  fromCache: boolean;
  computeMs: number;
  layers: { layer: number; totalVariance: number; components: FfnComponentReport[] }[];
  /** On this prompt: the components its FFN outputs use most, over all layers (score = mean share of the output's energy). */
  active: ActiveComponent[];
  /** On this prompt: per layer, its most used components. */
  local: { layers: { layer: number; components: ActiveComponent[] }[] };
}

export interface FfnSection {
  options: ResolvedFfnOptions;
  base: ModelFfnSection;
  tuned: ModelFfnSection;
  /** Per layer: how far tuning rotated the top components (principal angles, best matches). */
  rotation: FfnRotationLayer[];
}
