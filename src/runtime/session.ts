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

function sessionOptions(provider: Provider, externalDataFolder: string): ort.InferenceSession.SessionOptions {
  return {
    executionProviders: [provider],
    graphOptimizationLevel: 'all',
    logSeverityLevel: 3,
    extra: {
      session: {
        // Weights are external data inside the .safetensors files, found relative to this folder.
        model_external_initializers_file_folder_path: externalDataFolder,
        // Pre-packing makes a second, re-laid-out copy of every weight matrix; the memory-mapped
        // originals are enough, and a copy would double the resident size of the model.
        disable_prepacking: '1',
      },
    },
  };
}

/**
 * Opens a session on the requested provider; for `auto`, on the first of CUDA, WebGPU and CPU
 * that accepts the model. The failures are returned so the caller can log them and show which
 * provider runs.
 */
export async function openSession(model: Uint8Array, externalDataFolder: string, setting: ProviderSetting, log?: (line: string) => void): Promise<OpenedSession> {
  const order = setting === 'auto' ? AUTO_ORDER : [setting];
  const failed: ProviderAttempt[] = [];
  for (const provider of order) {
    try {
      const session = await ort.InferenceSession.create(model, sessionOptions(provider, externalDataFolder));
      if (failed.length) log?.(`execution provider ${provider} in use after: ${failed.map((f) => `${f.provider} (${f.error})`).join('; ')}`);
      return { session, provider, failed };
    } catch (e) {
      const error = (e as Error).message.split('\n')[0]!;
      failed.push({ provider, error });
      log?.(`execution provider ${provider} failed: ${error}`);
    }
  }
  const details = failed.map((f) => `${f.provider}: ${f.error}`).join('; ');
  throw new LensError(`No execution provider could run the model (${details})`);
}
