// onnxruntime sessions for training: CPU, a fixed number of intra-op threads (results depend on
// how the work is split, so a fixed count is what makes a run repeatable), sequential execution.

import * as ort from 'onnxruntime-node';
import type { Checkpoint } from '../model/checkpoint.js';
import { names } from '../llm/llama-graph.js';
import { serializeModel } from '../onnx/serialize.js';
import { buildTrainingGraph, trainNames } from './graph.js';
import { rowFeeds, type PackedRow } from './packing.js';

/** A model's weights as float32 arrays, by checkpoint tensor name. */
export type Weights = Map<string, { shape: number[]; data: Float32Array }>;

export interface StepResult {
  loss: number;
  /** Per position: the unweighted cross-entropy (0 where nothing is predicted). */
  tokenLoss: Float32Array;
  /** Per position: the most likely next token. */
  predictions: BigInt64Array;
  gradients?: Map<string, Float32Array>;
}

export async function createCpuSession(bytes: Uint8Array, threads: number): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(bytes, {
    executionProviders: ['cpu'],
    graphOptimizationLevel: 'all',
    executionMode: 'sequential',
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    logSeverityLevel: 3,
  });
}

/** Runs the training graph (loss and gradients) or the loss-only graph for one checkpoint's shapes. */
export class TrainingSession {
  private constructor(
    private readonly session: ort.InferenceSession,
    readonly checkpoint: Checkpoint,
    readonly weightNames: string[],
    readonly withGradients: boolean,
  ) {}

  static async open(checkpoint: Checkpoint, options: { threads: number; withGradients?: boolean }): Promise<TrainingSession> {
    const withGradients = options.withGradients !== false;
    const { graph, weights } = buildTrainingGraph(checkpoint, { withGradients });
    const session = await createCpuSession(serializeModel(graph), options.threads);
    return new TrainingSession(session, checkpoint, weights, withGradients);
  }

  /**
   * Loss (and gradients) of one packed row; `normalizer` is the number of predicted tokens the loss
   * is averaged over (default: the row's), `labelSmoothing` the ε of the targets (default 0).
   */
  async run(weights: Weights, row: PackedRow, options: { normalizer?: number; labelSmoothing?: number } = {}): Promise<StepResult> {
    const { config } = this.checkpoint;
    const f = rowFeeds(row, config, options.normalizer, options.labelSmoothing);
    const S = row.ids.length;
    const feeds: Record<string, ort.Tensor> = {
      [names.inputIds]: new ort.Tensor('int64', f.ids, [S]),
      [names.ropeCos]: new ort.Tensor('float32', f.cos, [S, config.headDim]),
      [names.ropeSin]: new ort.Tensor('float32', f.sin, [S, config.headDim]),
      [names.attentionBias]: new ort.Tensor('float32', f.bias, [S, S]),
      [trainNames.targets]: new ort.Tensor('float32', f.targets, [S, config.vocabSize]),
      [trainNames.lossWeights]: new ort.Tensor('float32', f.lossWeights, [S, 1]),
    };
    for (const name of this.weightNames) {
      const w = weights.get(name);
      if (!w) throw new Error(`missing weight '${name}'`);
      feeds[name] = new ort.Tensor('float32', w.data, w.shape);
    }
    const out = await this.session.run(feeds);
    const result: StepResult = {
      loss: (out[trainNames.loss]!.data as Float32Array)[0]!,
      tokenLoss: out[trainNames.tokenLoss]!.data as Float32Array,
      predictions: out[trainNames.predictions]!.data as BigInt64Array,
    };
    if (this.withGradients) {
      result.gradients = new Map(this.weightNames.map((n) => [n, out[trainNames.gradient(n)]!.data as Float32Array]));
    }
    return result;
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}
