import { loadCheckpoint, type Checkpoint } from '../model/checkpoint.js';
import { familyTraits } from '../model/config.js';
import { LlamaRunner, type PrecisionSetting } from '../llm/runner.js';
import type { ProviderSetting } from '../runtime/session.js';
import type { ModelInfo } from '../contract/engine.js';

/**
 * Keeps one runner per (model, provider) so that a model's checkpoint is read once and its current
 * session reused across requests. One model is resident at a time: handing out a runner first
 * releases the sessions of the others (after their operation in progress), because two models'
 * weights together need not fit in memory and reopening a session costs well under a second.
 * dispose() releases them all.
 */
export class ModelPool {
  private readonly runners = new Map<string, Promise<LlamaRunner>>();

  constructor(private readonly options: { provider?: ProviderSetting; precision?: PrecisionSetting; log?: (line: string) => void } = {}) {}

  /** `adapterBase`: the base of a LoRA adapter `spec` whose adapter_config.json names none that is here (compare: the base model). */
  async get(spec: string, provider: ProviderSetting = this.options.provider ?? 'auto', adapterBase?: string): Promise<LlamaRunner> {
    const key = `${spec}\u0000${provider}\u0000${adapterBase ?? ''}`;
    let runner = this.runners.get(key);
    if (!runner) {
      runner = Promise.resolve().then(() => new LlamaRunner(loadCheckpoint(spec, process.env, { adapterBase }), { provider, precision: this.options.precision, log: this.options.log }));
      this.runners.set(key, runner);
      runner.catch(() => this.runners.delete(key));
    }
    await this.releaseSessions(key);
    return runner;
  }

  /** Releases the sessions of every runner but `keep`'s, so that their weights leave memory. */
  async releaseSessions(keep?: string): Promise<void> {
    const others = [...this.runners].filter(([key]) => key !== keep).map(([, runner]) => runner);
    await Promise.allSettled(others.map(async (r) => (await r).releaseSessions()));
  }

  async dispose(): Promise<void> {
    const all = [...this.runners.values()];
    this.runners.clear();
    await Promise.allSettled(all.map(async (r) => (await r).dispose()));
  }
}

/** The checkpoint as `info` describes it (the contract's ModelInfo). */
export function describeCheckpoint(checkpoint: Checkpoint): ModelInfo {
  const c = checkpoint.config;
  return {
    path: checkpoint.dir,
    architecture: c.architecture,
    family: familyTraits(c),
    adapter: checkpoint.adapter
      ? { base: checkpoint.adapter.baseSpec, rank: checkpoint.adapter.rank, alpha: checkpoint.adapter.alpha, rslora: checkpoint.adapter.rslora, modules: checkpoint.adapter.modules.size, replaced: checkpoint.adapter.replaced }
      : null,
    parameters: checkpoint.parameterCount,
    dtype: checkpoint.dtype,
    weightBytes: checkpoint.weightBytes,
    layers: c.numLayers,
    heads: c.numHeads,
    kvHeads: c.numKvHeads,
    headDim: c.headDim,
    hiddenSize: c.hiddenSize,
    intermediateSize: c.intermediateSize,
    vocabSize: c.vocabSize,
    contextLength: checkpoint.contextLength,
    tiedEmbeddings: c.tieWordEmbeddings,
    attentionBias: c.attentionBias,
    ropeScaling: c.ropeScaling.type,
    tokenizer: { file: checkpoint.tokenizer.tokenizerFile, vocabSize: checkpoint.tokenizer.vocabSize, eosTokenIds: checkpoint.tokenizer.eosTokenIds },
    chatTemplate: checkpoint.tokenizer.chatTemplate !== null,
  };
}
