import type { ModelInfo } from '../engine/protocol.js';

/** `instruction-lens info` and the extension's Show Model Info print the same lines. */
export function formatModelInfo(info: ModelInfo): string {
  const mib = (b: number) => `${(b / 2 ** 20).toFixed(1)} MiB`;
  const millions = (n: number) => `${(n / 1e6).toFixed(1)} M`;
  return [
    `model          ${info.path}`,
    `architecture   ${info.architecture}`,
    ...info.family.map((trait) => `  special      ${trait}`),
    ...(info.adapter
      ? [`adapter        LoRA r=${info.adapter.rank} alpha=${info.adapter.alpha}${info.adapter.rslora ? ' (rsLoRA)' : ''} on ${info.adapter.modules} modules over ${info.adapter.base}${info.adapter.replaced.length ? `; replaces ${info.adapter.replaced.join(', ')}` : ''}`]
      : []),
    `parameters     ${millions(info.parameters)} (${info.dtype}, ${mib(info.weightBytes)})`,
    `layers         ${info.layers}`,
    `heads          ${info.heads} query, ${info.kvHeads} key/value (head_dim ${info.headDim})`,
    `hidden         ${info.hiddenSize} (FFN ${info.intermediateSize})`,
    `vocabulary     ${info.vocabSize}`,
    `context        ${info.contextLength} tokens (RoPE ${info.ropeScaling})`,
    `embeddings     ${info.tiedEmbeddings ? 'tied to lm_head' : 'separate lm_head'}${info.attentionBias ? ', q/k/v bias' : ''}`,
    `tokenizer      ${info.tokenizer.file} (${info.tokenizer.vocabSize} tokens, EOS ${info.tokenizer.eosTokenIds.join(', ') || 'none'})`,
    `chat template  ${info.chatTemplate ? 'present' : 'absent'}`,
  ].join('\n');
}
