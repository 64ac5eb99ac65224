/**
 * The engine protocol's data: what the extension host sends to the engine process and what comes
 * back (JSON-RPC over stdio, src/engine/protocol.ts builds the vscode-jsonrpc message types from
 * these). Plain types that import nothing but the report contract. The engine checks every request
 * against its method's JSON Schema (src/engine/schemas.ts); the client checks every report it gets
 * against docs/report.schema.json (validateReport) before anything renders it.
 */
import type { ImportanceOptions, InstructionSpan, ModelReport, Objective, PromptFormat, Report } from './report.js';

// The defaults and the allowed values of the settings every side uses (the CLI, the engine, the
// extension's settings), in one place.

/** Tokens a model may generate as its response when the request does not say. */
export const DEFAULT_MAX_NEW_TOKENS = 32;

/** The execution provider setting: `auto` tries CUDA, then WebGPU, then the CPU. */
export type ProviderSetting = 'auto' | 'cuda' | 'webgpu' | 'cpu';
export const PROVIDER_SETTINGS: readonly ProviderSetting[] = ['auto', 'cuda', 'webgpu', 'cpu'];

/** Which of the two models a request is about: picks the embedded default when `model` is ''. */
export type ModelRole = 'base' | 'tuned';

/** The precision setting: fp16 applies on a GPU only; the CPU always computes in fp32. */
export type Precision = 'auto' | 'fp32' | 'fp16';
export const PRECISION_SETTINGS: readonly Precision[] = ['auto', 'fp32', 'fp16'];

export interface GenerateRequest {
  model: string;
  prompt: string;
  format?: PromptFormat;
  maxNewTokens?: number;
}

export interface GenerateResult {
  model: string;
  executionProvider: string;
  /** "webgpu · NVIDIA H200", "cpu": the provider and the device it ran on. */
  executionDevice: string;
  inputIds: number[];
  promptSpan: [number, number];
  outputIds: number[];
  text: string;
}

/** One model's attribution of a prompt (src/explain/attribution.ts). */
export interface AttributionRequest {
  prompt: string;
  /** Given response text; otherwise the model generates one greedily. */
  response?: string;
  format?: PromptFormat;
  maxNewTokens?: number;
  objective?: Objective;
  /** Forward or reverse mode, or `auto` (default): the one of lower estimated cost for this prompt, response and model. */
  mode?: 'auto' | 'forward' | 'reverse';
  importance?: ImportanceOptions;
  /** Instruction spans given by the user (UTF-16 offsets into the prompt); otherwise detected. */
  instructionSpans?: InstructionSpan[];
  instructionVerbs?: readonly string[];
}

export interface AttributeRequest extends AttributionRequest {
  model: string;
}

/** The heads analysis's options (DESIGN.md §2). */
export interface HeadsOptions {
  /** Words per dimension on each side (default 100). */
  topK?: number;
  /** Dimensions per head, in energy order (default: all, head_dim). */
  dims?: number;
  /** Baseline words for the thresholds: the first this many of the list (default 3,000). */
  baselineWords?: number;
  /** GloVe-format word vectors for the similarity (default: the model's own input vectors). */
  vectors?: string;
  /** Only these layers (default: all). */
  layers?: number[];
}

/** How the FFN components are computed: `auto` picks `exact` for small hidden sizes, else `subspace`. */
export type FfnMethod = 'auto' | 'exact' | 'subspace';

/** The FFN analysis's options (DESIGN.md §3). */
export interface FfnOptions {
  /** Principal components per layer (default 64; at most the hidden size). */
  components?: number;
  /** Concept words per component (default 50). */
  wordsPerComponent?: number;
  /** Only these layers (default: all). */
  layers?: number[];
  /** How the components are computed (default `auto`). */
  method?: FfnMethod;
}

export interface CompareRequest extends Omit<AttributionRequest, 'response' | 'format'> {
  base: string;
  tuned: string;
  responseBase?: string;
  responseTuned?: string;
  formatBase?: PromptFormat;
  formatTuned?: PromptFormat;
  /** The heads section (default true). */
  heads?: boolean;
  /** The FFN section (default true). */
  ffn?: boolean;
  headsOptions?: HeadsOptions;
  ffnOptions?: FfnOptions;
  /** A word file for both analyses, used as given (default: vocabulary words + the prompt's words). */
  wordsFile?: string;
}

/** What `instructionLens/info` returns: the checkpoint's description, as `instruction-lens info --json` writes it. */
export interface ModelInfo {
  path: string;
  architecture: string;
  /** What is special about the family (q/k norms, norm placement, sliding windows, biases). */
  family: string[];
  /** A LoRA adapter over the base (the model was given as an adapter folder). */
  adapter: { base: string; rank: number; alpha: number; rslora: boolean; modules: number; replaced: string[] } | null;
  parameters: number;
  dtype: string;
  weightBytes: number;
  layers: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  hiddenSize: number;
  intermediateSize: number;
  vocabSize: number;
  contextLength: number;
  tiedEmbeddings: boolean;
  attentionBias: boolean;
  ropeScaling: string;
  tokenizer: { file: string; vocabSize: number; eosTokenIds: number[] };
  chatTemplate: boolean;
}

export interface ModelParams {
  /** A model folder or a Hugging Face hub id in the local cache; '' = the embedded default. */
  model: string;
  /** Which embedded default '' stands for (default 'base'). */
  role?: ModelRole;
}

/** Ties the engine's progress notifications to the request they are about. */
export interface ProgressParamsBase {
  progressToken?: string;
}

export type InfoParams = ModelParams;

export interface GenerateParams extends GenerateRequest, ProgressParamsBase {
  role?: ModelRole;
}

/** `instructionLens/attribute`: one model's attribution report. `model` '' is the embedded default of `role`. */
export interface AttributeParams extends AttributeRequest, ProgressParamsBase {
  role?: ModelRole;
}

/** `instructionLens/compare`: both models on one prompt. `base`/`tuned` '' are the embedded defaults. */
export interface CompareParams extends CompareRequest, ProgressParamsBase {}

export type EngineErrorKind = 'user' | 'cancelled' | 'internal';

/** The `data` of every ResponseError the engine sends. */
export interface EngineErrorData {
  kind: EngineErrorKind;
  /** The file at fault, when the error names one (LensError.file). */
  file?: string;
  /** What went wrong, where the extension acts on it ('empty-response': the model generated nothing). */
  reason?: 'empty-response';
}

export interface LogParams {
  line: string;
}

export interface ProgressParams {
  /** The progressToken of the request this is about. */
  token: string;
  message: string;
  /** Percentage of the whole work done since the previous report (as vscode.Progress takes it). */
  increment?: number;
}

/** The methods, their params and their results. */
export interface EngineMethods {
  'instructionLens/info': { params: InfoParams; result: ModelInfo };
  'instructionLens/generate': { params: GenerateParams; result: GenerateResult };
  'instructionLens/attribute': { params: AttributeParams; result: ModelReport };
  'instructionLens/compare': { params: CompareParams; result: Report };
}
