import { existsSync, realpathSync } from 'node:fs';
import { basename, dirname, join, relative, sep } from 'node:path';
import { contextLength, expectedTensors, parseModelConfig, type ModelConfig } from './config.js';
import { LensError } from './errors.js';
import { resolveModelPath } from './hub.js';
import { readJsonObject } from './json-file.js';
import { readSafetensorsHeader, type TensorDescriptor, type WeightDtype } from './safetensors.js';
import { loadTokenizerFiles, type TokenizerFiles } from './tokenizer-files.js';
import { isAdapterFolder, readAdapterConfig, readAdapterTensors, type LoraAdapter } from './lora.js';

/** A Hugging Face checkpoint folder, validated, with its weights located but not read. */
export interface Checkpoint {
  /** What the user asked for (folder or hub id). */
  spec: string;
  /** The model folder (for a hub id, its snapshot folder). */
  dir: string;
  config: ModelConfig;
  tensors: Map<string, TensorDescriptor>;
  /** The folder every weight file lies under (symlinks resolved); external data is relative to it. */
  weightsRoot: string;
  /** The dtype most weights have. */
  dtype: WeightDtype;
  weightBytes: number;
  parameterCount: number;
  tokenizer: TokenizerFiles;
  contextLength: number;
  /** A LoRA adapter over the base weights (the spec named an adapter folder). */
  adapter?: LoraAdapter;
}

export interface LoadCheckpointOptions {
  /** The base of a LoRA adapter when its adapter_config.json names none, or names one that is not here. */
  adapterBase?: string;
}

function realFile(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    throw new LensError(`Weight file not found: ${path}`, path);
  }
}

/** The safetensors files of a folder: one model.safetensors, or the shards its index names. */
function weightFiles(dir: string): { files: string[]; weightMap: Map<string, string> | null } {
  const index = join(dir, 'model.safetensors.index.json');
  if (existsSync(index)) {
    const raw = readJsonObject(index, 'Safetensors index');
    const map = raw.weight_map;
    if (map === null || typeof map !== 'object' || Array.isArray(map)) {
      throw new LensError(`${index}: field 'weight_map' is missing or not an object`, index);
    }
    const weightMap = new Map<string, string>();
    for (const [name, file] of Object.entries(map as Record<string, unknown>)) {
      if (typeof file !== 'string' || file.includes('/') || file.includes('\\') || file.startsWith('.')) {
        throw new LensError(`${index}: weight_map['${name}'] must be a file name in the model folder, got ${JSON.stringify(file)}`, index);
      }
      weightMap.set(name, file);
    }
    return { files: [...new Set(weightMap.values())].sort(), weightMap };
  }
  if (existsSync(join(dir, 'model.safetensors'))) return { files: ['model.safetensors'], weightMap: null };
  const legacy = ['pytorch_model.bin', 'model.bin'].find((f) => existsSync(join(dir, f)));
  throw new LensError(
    legacy
      ? `${dir}: only ${legacy} is present; Instruction Lens reads safetensors weights (convert the checkpoint to model.safetensors)`
      : `${dir}: no model.safetensors or model.safetensors.index.json found`,
    dir,
  );
}

/**
 * config.json's num_hidden_layers must match the layers the weights hold: more layers than the
 * tensors would fail later, tensor by tensor; fewer would silently drop the checkpoint's last layers.
 */
function checkLayerCount(config: ModelConfig, tensors: Map<string, TensorDescriptor>, configFile: string): void {
  let layers = 0;
  for (const name of tensors.keys()) {
    const m = /^model\.layers\.(\d+)\./.exec(name);
    if (m) layers = Math.max(layers, Number(m[1]) + 1);
  }
  if (layers !== config.numLayers) {
    throw new LensError(`${configFile}: num_hidden_layers is ${config.numLayers}, but the weights hold ${layers} layer${layers === 1 ? '' : 's'} (model.layers.0 … ${layers - 1})`, configFile);
  }
}

/**
 * Phi-3's qkv_proj [(heads + 2·kv_heads)·head_dim, H] and gate_up_proj [2·I, H] hold q/k/v and
 * gate/up as consecutive rows, so each part is a contiguous byte range of the file: it becomes a
 * tensor of its own (q_proj, k_proj, v_proj, gate_proj, up_proj) pointing there, and everything
 * downstream reads a Llama-shaped layer. Nothing is copied.
 */
function splitFusedProjections(config: ModelConfig, tensors: Map<string, TensorDescriptor>, dir: string): void {
  const { numHeads, numKvHeads, headDim: d, hiddenSize: H, intermediateSize: I } = config;
  const split = (fused: string, parts: [string, number][]) => {
    const t = tensors.get(fused);
    const rows = parts.reduce((n, [, r]) => n + r, 0);
    if (!t) throw new LensError(`${dir}: the checkpoint lacks tensor '${fused}', which config.json requires`, dir);
    if (t.shape.length !== 2 || t.shape[0] !== rows || t.shape[1] !== H) {
      throw new LensError(`${t.file}: tensor '${fused}' has shape [${t.shape.join(', ')}], config.json implies [${rows}, ${H}]`, t.file);
    }
    const rowBytes = t.length / rows;
    let start = 0;
    for (const [name, r] of parts) {
      tensors.set(name, { ...t, name, shape: [r, H], offset: t.offset + start * rowBytes, length: r * rowBytes });
      start += r;
    }
    tensors.delete(fused);
  };
  for (let l = 0; l < config.numLayers; l++) {
    const p = `model.layers.${l}.`;
    split(`${p}self_attn.qkv_proj.weight`, [[`${p}self_attn.q_proj.weight`, numHeads * d], [`${p}self_attn.k_proj.weight`, numKvHeads * d], [`${p}self_attn.v_proj.weight`, numKvHeads * d]]);
    split(`${p}mlp.gate_up_proj.weight`, [[`${p}mlp.gate_proj.weight`, I], [`${p}mlp.up_proj.weight`, I]]);
  }
}

function commonDir(paths: string[]): string {
  let root = dirname(paths[0]!);
  for (const p of paths) {
    while (!(p + sep).startsWith(root + sep) && !p.startsWith(root + sep)) root = dirname(root);
  }
  return root;
}

/**
 * Loads and validates a checkpoint: config, weights (headers only), tokenizer files. Every tensor
 * the config needs must be present with the right shape; nothing is read beyond the headers.
 */
export function loadCheckpoint(spec: string, env: NodeJS.ProcessEnv = process.env, options: LoadCheckpointOptions = {}): Checkpoint {
  const dir = resolveModelPath(spec, env);
  if (isAdapterFolder(dir)) return loadAdapterCheckpoint(spec, dir, env, options);
  return loadModelCheckpoint(spec, dir);
}

/**
 * A PEFT LoRA adapter over its base: the base from base_model_name_or_path (a folder or a hub id
 * in the local cache), else the given base. The adapter's tensors join the base's (external data
 * into adapter_model.safetensors); tensors it saves whole replace the base's; a resized embedding
 * sets the vocabulary size, and the adapter folder's tokenizer is used when it has one.
 */
function loadAdapterCheckpoint(spec: string, dir: string, env: NodeJS.ProcessEnv, options: LoadCheckpointOptions): Checkpoint {
  const settings = readAdapterConfig(dir);
  let baseSpec = settings.baseSpec;
  let base: Checkpoint | null = null;
  if (baseSpec !== null) {
    try {
      base = loadModelCheckpoint(baseSpec, resolveModelPath(baseSpec, env));
    } catch (e) {
      if (options.adapterBase === undefined) {
        throw new LensError(`${settings.configFile}: base_model_name_or_path '${baseSpec}' cannot be loaded (${(e as Error).message}); give the base model explicitly`, settings.configFile);
      }
    }
  }
  if (!base) {
    if (options.adapterBase === undefined) throw new LensError(`${settings.configFile}: field 'base_model_name_or_path' is missing; give the base model explicitly`, settings.configFile);
    baseSpec = options.adapterBase;
    const baseDir = resolveModelPath(baseSpec, env);
    if (isAdapterFolder(baseDir)) throw new LensError(`${baseDir}: the base of an adapter cannot itself be an adapter`, baseDir);
    base = loadModelCheckpoint(baseSpec, baseDir);
  }
  const baseShapes = expectedTensors(base.config);
  const adapter = readAdapterTensors(dir, settings, baseShapes);
  const tensors = new Map(base.tensors);
  for (const [name, t] of adapter.loraTensors) tensors.set(name, t);
  // A resized embedding (new tokens) changes the vocabulary: every tensor of the new size must come with the adapter.
  const embed = adapter.replacements.get('model.embed_tokens.weight') ?? adapter.replacements.get('lm_head.weight');
  const config: ModelConfig = embed ? { ...base.config, vocabSize: embed.shape[0]! } : base.config;
  const shapes = expectedTensors(config);
  let weightBytes = base.weightBytes;
  for (const [name, t] of adapter.replacements) {
    const shape = shapes.get(name)!;
    if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
      throw new LensError(`${t.file}: tensor '${t.name}' has shape [${t.shape.join(', ')}], the adapted model needs [${shape.join(', ')}]`, t.file);
    }
    weightBytes -= base.tensors.get(name)!.length;
    tensors.set(name, t);
  }
  for (const [name, shape] of shapes) {
    const t = tensors.get(name)!;
    if (t.shape.some((d, i) => d !== shape[i])) {
      throw new LensError(`${adapter.file}: the adapter resizes the vocabulary to ${config.vocabSize} but does not hold '${name}' (the base's has ${t.shape[0]} rows)`, adapter.file);
    }
  }
  weightBytes += adapter.bytes;
  const weightsRoot = commonDir([...new Set([...tensors.values()].map((t) => t.file))]);
  const tokenizer = existsSync(join(dir, 'tokenizer.json')) ? loadTokenizerFiles(dir, config) : config === base.config ? base.tokenizer : loadTokenizerFiles(base.dir, config);
  return {
    ...base,
    spec,
    dir,
    config,
    tensors,
    weightsRoot,
    weightBytes,
    tokenizer,
    adapter: {
      dir,
      configFile: settings.configFile,
      modules: adapter.modules,
      replaced: [...adapter.replacements.keys()],
      bytes: adapter.bytes,
      baseSpec: baseSpec!,
      baseDir: base.dir,
      rank: settings.rank,
      alpha: settings.alpha,
      rslora: settings.rslora,
    },
  };
}

function loadModelCheckpoint(spec: string, dir: string): Checkpoint {
  const configFile = join(dir, 'config.json');
  const config = parseModelConfig(readJsonObject(configFile, 'Model config (config.json)'), configFile);
  const { files, weightMap } = weightFiles(dir);
  const tensors = new Map<string, TensorDescriptor>();
  const realFiles = new Map<string, string>();
  for (const file of files) {
    const real = realFile(join(dir, file));
    realFiles.set(file, real);
    for (const t of readSafetensorsHeader(real)) {
      // With an index, a tensor belongs to the shard the index names; others are ignored.
      if (weightMap && weightMap.get(t.name) !== file) continue;
      if (tensors.has(t.name)) throw new LensError(`${real}: tensor '${t.name}' appears in more than one weight file`, real);
      tensors.set(t.name, t);
    }
  }
  if (weightMap) {
    for (const [name, file] of weightMap) {
      if (!tensors.has(name)) throw new LensError(`${realFiles.get(file)}: tensor '${name}' is listed in model.safetensors.index.json but not in this file`, realFiles.get(file));
    }
  }
  checkLayerCount(config, tensors, configFile);
  if (config.fusedProjections) splitFusedProjections(config, tensors, dir);
  const expected = expectedTensors(config);
  let weightBytes = 0;
  let parameterCount = 0;
  const dtypeCounts = new Map<WeightDtype, number>();
  for (const [name, shape] of expected) {
    const t = tensors.get(name);
    if (!t) {
      const hint = name === 'lm_head.weight' ? ' (or set tie_word_embeddings: true in config.json)' : '';
      throw new LensError(`${dir}: the checkpoint lacks tensor '${name}', which config.json requires${hint}`, dir);
    }
    if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
      throw new LensError(`${t.file}: tensor '${name}' has shape [${t.shape.join(', ')}], config.json implies [${shape.join(', ')}]`, t.file);
    }
    weightBytes += t.length;
    const count = shape.reduce((a, b) => a * b, 1);
    parameterCount += count;
    dtypeCounts.set(t.dtype, (dtypeCounts.get(t.dtype) ?? 0) + count);
  }
  const dtype = [...dtypeCounts].sort((a, b) => b[1] - a[1])[0]![0];
  const weightsRoot = commonDir([...realFiles.values()]);
  for (const real of realFiles.values()) {
    // External data may not escape its folder; commonDir guarantees it, this guards the invariant.
    if (relative(weightsRoot, real).startsWith('..')) throw new LensError(`${real}: weight file outside ${weightsRoot}`, real);
  }
  const tokenizer = loadTokenizerFiles(dir, config);
  return {
    spec,
    dir,
    config,
    tensors,
    weightsRoot,
    dtype,
    weightBytes,
    parameterCount,
    tokenizer,
    contextLength: contextLength(config),
  };
}

export function modelDisplayName(checkpoint: Checkpoint): string {
  return checkpoint.spec.includes('/') && !existsSync(checkpoint.spec) ? checkpoint.spec : basename(checkpoint.dir);
}
