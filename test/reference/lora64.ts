// Float64 reference for PEFT LoRA adapters (test code, independent of src/): the adapter merged
// into its base, as PEFT's merge_and_unload computes it,
//
//   W' = W + s · B · A,   s = lora_alpha / r   (use_rslora: lora_alpha / √r)
//
// for every `base_model.model.<module>.lora_A.weight` [r, in] / `lora_B.weight` [out, r], and
// every other adapter tensor `base_model.model.<name>` (modules_to_save, resized embeddings)
// replacing the base's tensor; vocab_size follows a resized embedding.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { referenceModelFromTensors, type ReferenceModel } from './llama64';
import { readCheckpointTensors64, readSafetensors64, type Tensor64 } from './safetensors64';

export function loadMergedReferenceModel(baseDir: string, adapterDir: string): ReferenceModel {
  const configJson = JSON.parse(readFileSync(join(baseDir, 'config.json'), 'utf8')) as Record<string, unknown>;
  const adapterConfig = JSON.parse(readFileSync(join(adapterDir, 'adapter_config.json'), 'utf8')) as Record<string, unknown>;
  const r = adapterConfig.r as number;
  const alpha = adapterConfig.lora_alpha as number;
  const s = adapterConfig.use_rslora === true ? alpha / Math.sqrt(r) : alpha / r;
  const weights = readCheckpointTensors64(baseDir);
  const adapter = readSafetensors64(join(adapterDir, 'adapter_model.safetensors')).tensors;
  const merged = new Map<string, Tensor64>(weights);
  for (const [key, t] of adapter) {
    const name = key.replace(/^base_model\.model\./, '');
    const m = /^(.+)\.lora_A\.weight$/.exec(name);
    if (m) {
      const W = weights.get(`${m[1]}.weight`)!;
      const B = adapter.get(key.replace('lora_A', 'lora_B'))!;
      const [out, inDim] = W.shape as [number, number];
      const data = Float64Array.from(W.data);
      for (let o = 0; o < out; o++) {
        for (let i = 0; i < inDim; i++) {
          let sum = 0;
          for (let k = 0; k < r; k++) sum += B.data[o * r + k]! * t.data[k * inDim + i]!;
          data[o * inDim + i] += s * sum;
        }
      }
      merged.set(`${m[1]}.weight`, { ...W, data });
    } else if (!name.endsWith('.lora_B.weight')) {
      merged.set(name, t);
    }
  }
  const embed = merged.get('model.embed_tokens.weight')!;
  return referenceModelFromTensors({ ...configJson, vocab_size: embed.shape[0] }, merged);
}
