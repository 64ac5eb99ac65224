// PEFT LoRA adapters as a model: the base checkpoint plus an adapter folder (adapter_config.json,
// adapter_model.safetensors). The adapter's A/B matrices become tensors of the checkpoint (external
// data into adapter_model.safetensors, like every weight), and the graphs add s·B(A·x) to each
// adapted projection, so no merged copy of a weight exists. Tensors the adapter saves whole
// (modules_to_save, resized embeddings) replace the base's.

import { existsSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import { LensError } from './errors.js';
import { readJsonObject } from './json-file.js';
import { readSafetensorsHeader, type TensorDescriptor } from './safetensors.js';

export const ADAPTER_CONFIG = 'adapter_config.json';
export const ADAPTER_WEIGHTS = 'adapter_model.safetensors';

/** One adapted projection: y = x·Wᵀ + scale·(x·Aᵀ)·Bᵀ. */
export interface LoraModule {
  /** Tensor names (in the checkpoint's tensor map) of A [r, in] and B [out, r]. */
  a: string;
  b: string;
  rank: number;
  scale: number;
}

export interface LoraAdapter {
  /** The adapter folder. */
  dir: string;
  configFile: string;
  /** The module prefix it adapts (`model.layers.0.self_attn.q_proj`) → its A/B. */
  modules: Map<string, LoraModule>;
  /** Base tensors the adapter replaces whole (modules_to_save, resized embeddings). */
  replaced: string[];
  /** Bytes of the adapter's tensors. */
  bytes: number;
  /** The base model as config.json's base_model_name_or_path names it (or as it was given). */
  baseSpec: string;
  /** The base model's folder (its config.json). */
  baseDir: string;
  rank: number;
  alpha: number;
  rslora: boolean;
}

export function isAdapterFolder(dir: string): boolean {
  return existsSync(join(dir, ADAPTER_CONFIG)) && !existsSync(join(dir, 'config.json'));
}

/** Fields of adapter_config.json that change the computation and are refused unless at their neutral value. */
const REFUSED_WHEN_SET: [field: string, neutral: (v: unknown) => boolean, why: string][] = [
  ['use_dora', (v) => v === false || v == null, 'DoRA (weight-decomposed LoRA) adapters are not supported'],
  ['fan_in_fan_out', (v) => v === false || v == null, 'fan_in_fan_out (Conv1D weights) is not supported'],
  ['lora_bias', (v) => v === false || v == null, 'LoRA biases are not supported'],
  ['bias', (v) => v === 'none' || v == null, "trained biases are not supported (only bias 'none')"],
  ['rank_pattern', (v) => v == null || (typeof v === 'object' && Object.keys(v as object).length === 0), 'per-module ranks are not supported'],
  ['alpha_pattern', (v) => v == null || (typeof v === 'object' && Object.keys(v as object).length === 0), 'per-module alphas are not supported'],
  ['use_qalora', (v) => v === false || v == null, 'QA-LoRA is not supported'],
  ['layer_replication', (v) => v == null, 'layer replication is not supported'],
  ['trainable_token_indices', (v) => v == null, 'trainable tokens are not supported'],
];

/** Reads adapter_config.json: the base it names and the LoRA constants. Other adapter types and variants are refused by name. */
export function readAdapterConfig(dir: string): { baseSpec: string | null; rank: number; alpha: number; rslora: boolean; configFile: string } {
  const configFile = join(dir, ADAPTER_CONFIG);
  const raw = readJsonObject(configFile, 'Adapter config (adapter_config.json)');
  const type = raw.peft_type;
  if (type !== 'LORA') {
    throw new LensError(`${configFile}: peft_type ${JSON.stringify(type)} is not supported (only LORA adapters)`, configFile);
  }
  for (const [name, neutral, why] of REFUSED_WHEN_SET) {
    if (!neutral(raw[name])) throw new LensError(`${configFile}: field '${name}' is ${JSON.stringify(raw[name])}: ${why}`, configFile);
  }
  const positive = (name: string) => {
    const v = raw[name];
    if (typeof v !== 'number' || !Number.isFinite(v) || !(v > 0) || v > 1e6) throw new LensError(`${configFile}: field '${name}' must be a positive number, got ${JSON.stringify(v)}`, configFile);
    return v;
  };
  const rank = positive('r');
  if (!Number.isSafeInteger(rank)) throw new LensError(`${configFile}: field 'r' must be an integer, got ${rank}`, configFile);
  const alpha = positive('lora_alpha');
  const rslora = raw.use_rslora === true;
  const base = raw.base_model_name_or_path;
  return { baseSpec: typeof base === 'string' && base.length > 0 ? base : null, rank, alpha, rslora, configFile };
}

const PREFIX = 'base_model.model.';

/**
 * The adapter's tensors laid over the base's: LoRA pairs by module, whole tensors replacing the
 * base's. `baseShapes` are the tensors the base model reads; every adapter tensor must adapt or
 * replace one of them (anything else would be silently ignored, so it is refused by name).
 */
export function readAdapterTensors(
  dir: string,
  settings: { rank: number; alpha: number; rslora: boolean; configFile: string },
  baseShapes: Map<string, number[]>,
): { modules: Map<string, LoraModule>; replacements: Map<string, TensorDescriptor>; loraTensors: Map<string, TensorDescriptor>; file: string; bytes: number } {
  const path = join(dir, ADAPTER_WEIGHTS);
  if (!existsSync(path)) {
    const bin = existsSync(join(dir, 'adapter_model.bin'));
    throw new LensError(`${dir}: no ${ADAPTER_WEIGHTS}${bin ? ' (only adapter_model.bin: convert the adapter to safetensors)' : ''}`, dir);
  }
  const file = realpathSync(path);
  const scale = settings.rslora ? settings.alpha / Math.sqrt(settings.rank) : settings.alpha / settings.rank;
  const pairs = new Map<string, { a?: TensorDescriptor; b?: TensorDescriptor }>();
  const replacements = new Map<string, TensorDescriptor>();
  const loraTensors = new Map<string, TensorDescriptor>();
  let bytes = 0;
  for (const t of readSafetensorsHeader(file)) {
    bytes += t.length;
    if (!t.name.startsWith(PREFIX)) throw new LensError(`${file}: tensor '${t.name}' is not a PEFT tensor name (base_model.model.…)`, file);
    const name = t.name.slice(PREFIX.length);
    if (/\.lora_magnitude_vector(\.|$)/.test(name)) throw new LensError(`${file}: tensor '${t.name}' is a DoRA magnitude: DoRA adapters are not supported`, file);
    if (/\.lora_embedding_[AB](\.|$)/.test(name)) throw new LensError(`${file}: tensor '${t.name}': LoRA on the embedding is not supported (save the embedding whole with modules_to_save)`, file);
    const lora = /^(.+)\.lora_([AB])\.weight$/.exec(name);
    if (lora) {
      const module = lora[1]!;
      if (!baseShapes.has(`${module}.weight`) || module === 'lm_head' || module === 'model.embed_tokens') {
        throw new LensError(`${file}: tensor '${t.name}' adapts '${module}', which is not a projection of the base model this engine can adapt`, file);
      }
      const pair = pairs.get(module) ?? {};
      pair[lora[2] === 'A' ? 'a' : 'b'] = t;
      pairs.set(module, pair);
      loraTensors.set(t.name, t);
      continue;
    }
    if (!baseShapes.has(name)) throw new LensError(`${file}: tensor '${t.name}' replaces '${name}', which the base model does not have`, file);
    replacements.set(name, t);
  }
  const modules = new Map<string, LoraModule>();
  for (const [module, pair] of pairs) {
    if (!pair.a || !pair.b) throw new LensError(`${file}: module '${module}' has lora_${pair.a ? 'A' : 'B'} but no lora_${pair.a ? 'B' : 'A'}`, file);
    const [out, inDim] = baseShapes.get(`${module}.weight`)!;
    const [r, aIn] = pair.a.shape;
    const [bOut, br] = pair.b.shape;
    if (pair.a.shape.length !== 2 || pair.b.shape.length !== 2 || aIn !== inDim || bOut !== out || br !== r) {
      throw new LensError(`${file}: '${module}' lora_A [${pair.a.shape}] / lora_B [${pair.b.shape}] do not fit its weight [${out}, ${inDim}]`, file);
    }
    if (r !== settings.rank) throw new LensError(`${file}: '${module}' has rank ${r}, but ${settings.configFile} says r = ${settings.rank}`, file);
    modules.set(module, { a: pair.a.name, b: pair.b.name, rank: r, scale });
  }
  return { modules, replacements, loraTensors, file, bytes };
}
