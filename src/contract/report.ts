/**
 * The report: one JSON contract for the CLI, the panel, the editor decorations and the hover
 * (DESIGN.md, "The report"). Plain types that import nothing: the producers (src/explain/) fill
 * them, the consumers (src/report/, src/shared/, src/extension/, webview/) trust a report once it
 * passed the one validation at its boundary (validateReport, against docs/report.schema.json,
 * which test/unit/contract-schema.test.ts checks against these types). Bump the version in
 * `REPORT_SCHEMA` for any incompatible change.
 */

export const REPORT_SCHEMA = 'instruction-lens/report@1';

/** How the prompt is given to a model: as it is (the paper's setting), or in its chat template. */
export type PromptFormat = 'raw' | 'chat-template';

/** What is differentiated per response token: p(y_j) (the paper's) or log p(y_j). */
export type Objective = 'prob' | 'logprob';

/** The paper's sparsification levels L, threshold b and norm p (DESIGN.md §1; defaults 10, 7, 4). */
export interface ImportanceOptions {
  /** Quantization levels. */
  L?: number;
  /** Threshold: quantized entries `≤ b` are set to 0. */
  b?: number;
  /** The p of the p-norm in the density's denominator (`Infinity` allowed in-process). */
  p?: number;
}

/** The paper's defaults: L = 10, b = 7, p = 4. */
export const DEFAULT_IMPORTANCE_OPTIONS: Readonly<Required<ImportanceOptions>> = Object.freeze({ L: 10, b: 7, p: 4 });

/** A part of the prompt marked as instruction: [start, end) in UTF-16 units. */
export interface InstructionSpan {
  /** UTF-16 offset of the span's first character. */
  start: number;
  /** One past its last character. */
  end: number;
}

/** An instruction verb's occurrence in the prompt. */
export interface InstructionVerb {
  /** The base verb from the list, lower case ("summarize", "summarise", "write"). */
  verb: string;
  /** The word as it appears in the text. */
  form: string;
  start: number;
  end: number;
}

export interface WordSpan {
  text: string;
  start: number;
  end: number;
}

/** A prompt word with the density of its tokens. */
export interface Word extends WordSpan {
  /** Sum of the density of the tokens assigned to this word. */
  density: number;
  /** Indices of the tokens assigned to this word, ascending. */
  tokenIndices: number[];
}

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

/** The word list the global analyses ran over. */
export interface WordListSummary {
  count: number;
  source: 'vocabulary' | 'file';
  vocabularyCount: number;
  file?: string;
  hash: string;
}

/** The heads analysis's options as they were applied. */
export interface ResolvedHeadsOptions {
  topK: number;
  dims: number;
  baselineWords: number;
  similarity: 'input-embeddings' | 'glove';
  vectorsFile?: string;
  vectorsDims?: number;
  /** Words of the list that have a GloVe vector (with `glove`). */
  vectorsCoverage?: number;
  layers: number[];
  /** The per-dimension gains folded into W_q and W_k for this model's family (heads.ts, headsFoldedGains). */
  folded?: string[];
}

export interface HeadPair {
  query: string;
  key: string;
  similarity: number;
}

export interface HeadDimension {
  /** The dimension's index inside the head (0..head_dim-1). */
  dim: number;
  /** Σ_w Hq[w,dim]² + Σ_w Hk[w,dim]². */
  energy: number;
  /** Kept pairs, by similarity descending. */
  pairs: HeadPair[];
}

export interface VerbShareRow {
  verb: string;
  /** Per layer group: heads where the tuned count exceeds the base count ÷ heads where they differ; null when none differ. */
  share: (number | null)[];
  tunedMore: number[];
  decided: number[];
}

export interface VerbShareTable {
  /** Verbs (base forms) that occur in either model's head profiles, alphabetical. */
  verbs: VerbShareRow[];
  /** Per group: the mean of the verbs' shares (null shares left out). */
  mean: (number | null)[];
  /** Per group: Σ tunedMore ÷ Σ decided over the verbs. */
  pooled: (number | null)[];
}

/** The paper's Table 3. */
export interface HeadsVerbComparison {
  /** Layer groups: quarters of depth (fewer when the model has fewer than 4 layers), [start, end) layers. */
  groups: { group: number; layers: [number, number] }[];
  instruction: VerbShareTable;
  general: VerbShareTable;
  /** General verbs that are also in the instruction-verb list: they count as instruction verbs only. */
  overlap: string[];
}

export interface LocalWordPair {
  /** Index into `words`. */
  query: number;
  key: number;
  /** Mean over the query word's tokens of the attention summed over the key word's tokens. */
  weight: number;
}

export interface LocalHead {
  layer: number;
  head: number;
  /** The strongest pairs of distinct words, by weight descending (ties: query, then key position). */
  pairs: LocalWordPair[];
}

export interface VerbLink {
  layer: number;
  head: number;
  /** The instruction verb (base form). */
  verb: string;
  /** The other word of the pair, as written in the prompt. */
  word: string;
  /** Index of the verb's word in `words`. */
  verbWord: number;
  /** Index of the other word in `words`. */
  wordIndex: number;
  /** Whether the verb is the pair's query (it attends to `word`) or its key (`word` attends to it). */
  role: 'query' | 'key';
  weight: number;
}

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

/** The FFN analysis's options as they were applied. */
export interface ResolvedFfnOptions {
  components: number;
  wordsPerComponent: number;
  layers: number[];
  method: 'exact' | 'subspace';
}

export interface FfnRotationLayer {
  layer: number;
  /** Components compared per model (the top k). */
  k: number;
  /** Cosines of the principal angles between the two top-k subspaces, descending. */
  principalCosines: number[];
  meanCosine: number;
  /** Mean principal angle in degrees (0: same subspace, 90: orthogonal). */
  meanAngleDegrees: number;
  /** Per base component: the tuned component most aligned with it and |cosine|. */
  bestMatch: { index: number; match: number; cosine: number }[];
  meanBestMatch: number;
}

/** How much the prompt's FFN outputs use a component. */
export interface ComponentUsage {
  layer: number;
  /** The component's index in its layer. */
  component: number;
  /** Usage: the mean over prompt tokens of (f_t·v_c)² / ‖f_t‖². */
  score: number;
}

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
