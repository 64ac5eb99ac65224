import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { LensError } from '../model/errors.js';

export type ProviderSetting = 'auto' | 'cuda' | 'webgpu' | 'cpu';
export type Provider = Exclude<ProviderSetting, 'auto'>;
export const PROVIDER_SETTINGS: readonly ProviderSetting[] = ['auto', 'cuda', 'webgpu', 'cpu'];

/** The order `auto` tries. onnxruntime never falls back by itself: a provider that fails throws. */
export const AUTO_ORDER: readonly Provider[] = ['cuda', 'webgpu', 'cpu'];

export interface ProviderAttempt {
  provider: Provider;
  error: string;
}

export interface OpenedSession {
  session: ort.InferenceSession;
  provider: Provider;
  /** Providers tried before this one, and why each failed. */
  failed: ProviderAttempt[];
}

export function parseProviderSetting(value: string): ProviderSetting {
  if ((PROVIDER_SETTINGS as readonly string[]).includes(value)) return value as ProviderSetting;
  throw new LensError(`Unknown execution provider '${value}' (expected one of ${PROVIDER_SETTINGS.join(', ')})`);
}

/** Providers that failed in this process, and why: `auto` does not try them again for every session. */
const knownFailures = new Map<Provider, string>();
const announced = new Set<Provider>();

function libraryDirs(): string[] {
  const fromEnv = (process.env.LD_LIBRARY_PATH ?? '').split(':').filter(Boolean);
  return [...fromEnv, '/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/usr/lib64', '/usr/lib', '/lib/x86_64-linux-gnu', '/usr/local/lib'];
}

/**
 * Why a provider cannot work here, found without trying it: trying CUDA without its libraries,
 * or WebGPU on Linux without Vulkan, makes the native layers print errors of their own.
 */
export function providerUnavailable(provider: Provider): string | null {
  if (provider === 'cuda') {
    if (process.platform !== 'linux' && process.platform !== 'win32') return 'CUDA is only available on Linux and Windows';
    const binary = require.resolve('onnxruntime-node/package.json');
    const dir = join(dirname(binary), 'bin', `napi-v6`, process.platform, process.arch);
    const lib = process.platform === 'win32' ? 'onnxruntime_providers_cuda.dll' : 'libonnxruntime_providers_cuda.so';
    if (!existsSync(join(dir, lib))) return 'its libraries are not installed (ONNXRUNTIME_NODE_INSTALL=cuda12 npm rebuild onnxruntime-node)';
  }
  if (provider === 'webgpu' && process.platform === 'linux' && !libraryDirs().some((d) => existsSync(join(d, 'libvulkan.so.1')))) {
    return 'Vulkan (libvulkan.so.1) is not installed';
  }
  return null;
}

/** Options a caller may add to a session (the benchmark profiles the analysis graphs' products). */
export interface ExtraSessionOptions {
  enableProfiling?: boolean;
  profileFilePrefix?: string;
  /**
   * The graph converts its F16/BF16 weights where they are used and must not have them folded
   * into float32 constants at session creation (see the note in sessionOptions).
   */
  convertWeightsAtUse?: boolean;
}

function sessionOptions(provider: Provider, externalDataFolder: string, quiet: boolean, extra: ExtraSessionOptions = {}): ort.InferenceSession.SessionOptions {
  const { convertWeightsAtUse, ...ortOptions } = extra;
  return {
    ...ortOptions,
    executionProviders: [provider],
    graphOptimizationLevel: (process.env.IL_OPT as 'all') ?? 'all',
    // The memory pattern plans one block for all of a run's intermediate values and allocates it
    // on the second run with the same shapes — beside the arena's blocks from the first run, which
    // stay reserved: the activations' peak twice. (Measured: +90 MB on a 135M model's attribution.)
    enableMemPattern: false,
    ...(process.env.IL_ARENA === '0' ? { enableCpuMemArena: false } : {}),
    // A provider tried by `auto` may fail; its failure is reported by us, not printed natively.
    logSeverityLevel: quiet ? 4 : 3,
    extra: {
      session: {
        // Weights are external data inside the .safetensors files, found relative to this folder.
        model_external_initializers_file_folder_path: externalDataFolder,
        // Pre-packing makes a second, re-laid-out copy of every weight matrix; the memory-mapped
        // originals are enough, and a copy would double the resident size of the model.
        disable_prepacking: '1',
      },
      ...(convertWeightsAtUse
        ? {
            optimization: {
              // Constant folding would turn every Cast of an F16/BF16 weight into a float32 constant
              // held for the session's life (a float32 copy of the model per session: 4.3× the
              // weight bytes for generate + attribute); common-subexpression elimination would merge
              // a backward's recomputed Casts with the forward's, keeping those alive from the
              // forward to the backward. The model graphs are written without foldable or duplicated
              // work otherwise, so neither costs anything else there.
              disable_specified_optimizers: 'ConstantFolding,CommonSubexpressionElimination',
            },
          }
        : {}),
    },
  };
}

/**
 * Opens a session on the requested provider; for `auto`, on the first of CUDA, WebGPU and CPU
 * that accepts the model. The failures are returned so the caller can log them and show which
 * provider runs.
 */
export async function openSession(model: Uint8Array, externalDataFolder: string, setting: ProviderSetting, log?: (line: string) => void, extra?: ExtraSessionOptions): Promise<OpenedSession> {
  const order = setting === 'auto' ? AUTO_ORDER : [setting];
  const failed: ProviderAttempt[] = [];
  for (const provider of order) {
    const known = setting === 'auto' ? (knownFailures.get(provider) ?? providerUnavailable(provider)) : null;
    if (known) {
      if (!knownFailures.has(provider)) log?.(`execution provider ${provider} skipped: ${known}`);
      knownFailures.set(provider, known);
      failed.push({ provider, error: known });
      continue;
    }
    try {
      const session = await ort.InferenceSession.create(model, sessionOptions(provider, externalDataFolder, setting === 'auto' && provider !== 'cpu', extra));
      if (failed.length && !announced.has(provider)) log?.(`execution provider ${provider} in use`);
      announced.add(provider);
      return { session, provider, failed };
    } catch (e) {
      const error = (e as Error).message.split('\n')[0]!;
      failed.push({ provider, error });
      if (setting === 'auto') knownFailures.set(provider, error);
      log?.(`execution provider ${provider} failed: ${error}`);
    }
  }
  const details = failed.map((f) => `${f.provider}: ${f.error}`).join('; ');
  throw new LensError(`No execution provider could run the model (${details})`);
}
