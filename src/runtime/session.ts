import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { LensError } from '../model/errors.js';
import { deviceLabel, isSoftwareAdapter } from './adapter.js';
import { Graph } from '../onnx/graph.js';
import { serializeModel } from '../onnx/serialize.js';

import { PROVIDER_SETTINGS, type ProviderSetting } from '../contract/engine.js';

export { PROVIDER_SETTINGS, type ProviderSetting };
export type Provider = Exclude<ProviderSetting, 'auto'>;

/** The order `auto` tries. onnxruntime never falls back by itself: a provider that fails throws. */
export const AUTO_ORDER: readonly Provider[] = ['cuda', 'webgpu', 'cpu'];

export interface ProviderAttempt {
  provider: Provider;
  error: string;
}

export interface OpenedSession {
  session: ort.InferenceSession;
  provider: Provider;
  /** The device the provider runs on ("NVIDIA H200", "llvmpipe (LLVM 15.0.6, 256 bits)"); null where it cannot be learned (always for cpu). */
  adapter: string | null;
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
    if (!existsSync(join(dir, lib))) return 'its libraries are not installed (ONNXRUNTIME_NODE_INSTALL=cuda12 node node_modules/onnxruntime-node/script/install.js)';
  }
  if (provider === 'webgpu' && process.platform === 'linux' && !libraryDirs().some((d) => existsSync(join(d, 'libvulkan.so.1')))) {
    return 'Vulkan (libvulkan.so.1) is not installed';
  }
  return null;
}

/** What a provider's device is, learned once per process. */
export interface AdapterInfo {
  /** The device's name, or null where it cannot be learned on this platform. */
  name: string | null;
  /** A CPU rasterizer posing as a GPU (llvmpipe, lavapipe, SwiftShader, Basic Render Driver): slower than the CPU provider. */
  software: boolean;
  /** Why the provider cannot run here (the probe failed), else null. */
  error: string | null;
}

/**
 * The Vulkan device Dawn created, from the Vulkan loader's own log (VK_LOADER_DEBUG=driver): the
 * loader names the device at vkCreateDevice ("Using "llvmpipe (…)" with driver: "libvulkan_lvp.so"").
 * Loaders older than that line (before ~1.3.2xx) log their sorted device list instead, whose first
 * entry is the one a high-performance request gets (discrete before integrated before CPU, as Dawn
 * ranks them).
 */
export function parseVulkanLoaderLog(stderr: string): { name: string; driver: string | null } | null {
  const using = [...stderr.matchAll(/Using "([^"\n]+)" with driver: "([^"\n]+)"/g)].at(-1);
  if (using) return { name: using[1]!, driver: using[2]! };
  const sorted = /Sorted order:\s*\n[^\n]*\[0\]\s+([^\n]+?)\s*\n/.exec(stderr);
  return sorted ? { name: sorted[1]!, driver: null } : null;
}

/** A one-node model: enough to make the WebGPU provider pick its adapter and create a device. */
function probeModel(): Uint8Array {
  const g = new Graph('adapter-probe');
  g.output(g.node('Neg', [g.input('x', 'float32', [1])]), 'y');
  return serializeModel(g);
}

// The child loads onnxruntime-node itself so that the loader's log goes to a stderr we can read
// (in this process it would go straight to our fd 2) and a native crash of Dawn costs only the probe.
const PROBE_SCRIPT = `
const ort = require(process.argv[1]);
(async () => {
  const session = await ort.InferenceSession.create(Buffer.from(process.argv[2], 'base64'), { executionProviders: ['webgpu'], logSeverityLevel: 3 });
  await session.run({ x: new ort.Tensor('float32', Float32Array.of(1), [1]) });
  process.stdout.write('probe ok\\n');
})().catch((e) => { process.stderr.write('probe failed: ' + String(e && e.message || e).split('\\n')[0] + '\\n'); process.exit(3); });
`;

const PROBE_TIMEOUT_MS = 60_000;

async function probeWebgpu(): Promise<AdapterInfo> {
  const unavailable = providerUnavailable('webgpu');
  if (unavailable) return { name: null, software: false, error: unavailable };
  // Dawn on Windows (D3D12) and macOS (Metal) has no loader log to read; there the name stays unknown.
  if (process.platform !== 'linux') return { name: null, software: false, error: null };
  const ortEntry = require.resolve('onnxruntime-node');
  const env = { ...process.env, VK_LOADER_DEBUG: 'driver', ELECTRON_RUN_AS_NODE: '1' };
  const result = await new Promise<{ stdout: string; stderr: string; error: Error | null }>((resolve) => {
    execFile(process.execPath, ['-e', PROBE_SCRIPT, ortEntry, Buffer.from(probeModel()).toString('base64')], { env, timeout: PROBE_TIMEOUT_MS, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) =>
      resolve({ stdout: String(stdout), stderr: String(stderr), error }),
    );
  });
  const found = parseVulkanLoaderLog(result.stderr);
  if (!result.stdout.includes('probe ok')) {
    const why = /probe failed: ([^\n]+)/.exec(result.stderr)?.[1] ?? result.error?.message.split('\n')[0] ?? 'the probe printed nothing';
    return { name: found?.name ?? null, software: false, error: `no usable WebGPU adapter (${why})` };
  }
  if (!found) return { name: null, software: false, error: null };
  return { name: found.name, software: isSoftwareAdapter(found.name) || (found.driver !== null && isSoftwareAdapter(found.driver)), error: null };
}

/** The NVIDIA driver's own description of GPU 0, which CUDA's default device is on a one-GPU machine. */
function cudaAdapter(): AdapterInfo {
  const root = '/proc/driver/nvidia/gpus';
  try {
    for (const bus of readdirSync(root).sort()) {
      const model = /^Model:\s*(.+)$/m.exec(readFileSync(join(root, bus, 'information'), 'utf8'))?.[1]?.trim();
      if (model) return { name: model, software: false, error: null };
    }
  } catch {
    // Not Linux, or no NVIDIA driver: the name stays unknown.
  }
  return { name: null, software: false, error: null };
}

const adapters = new Map<Provider, Promise<AdapterInfo>>();

/**
 * The device a provider would run on here, probed once per process (a WebGPU probe is a child
 * process of about a second). cpu has no adapter.
 */
export function providerAdapter(provider: Provider): Promise<AdapterInfo> {
  let known = adapters.get(provider);
  if (!known) {
    known =
      provider === 'webgpu' ? probeWebgpu() : provider === 'cuda' ? Promise.resolve(cudaAdapter()) : Promise.resolve({ name: null, software: false, error: null });
    adapters.set(provider, known);
  }
  return known;
}

const adapterNames = new Map<Provider, string | null>();

/** "webgpu · NVIDIA H200", "webgpu · llvmpipe (LLVM 15.0.6, 256 bits)", "cpu": what the status bar, log and report show. */
export function executionDevice(provider: Provider | null, adapter: string | null = provider ? (adapterNames.get(provider) ?? null) : null): string {
  return provider ? deviceLabel(provider, adapter) : 'cpu';
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
    graphOptimizationLevel: 'all',
    // The memory pattern plans one block for all of a run's intermediate values and allocates it
    // on the second run with the same shapes — beside the arena's blocks from the first run, which
    // stay reserved: the activations' peak twice. (Measured: +90 MB on a 135M model's attribution.)
    enableMemPattern: false,
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
/** Why `auto` passes over a provider here (failed before, not installed, or only a software adapter), or null. */
async function autoSkipReason(provider: Provider): Promise<string | null> {
  const known = knownFailures.get(provider) ?? providerUnavailable(provider);
  if (known) return known;
  const adapter = await providerAdapter(provider);
  if (adapter.error) return adapter.error;
  if (adapter.software) return `its only adapter, ${adapter.name}, is software rendering on the CPU and slower than the CPU provider (--provider ${provider} uses it anyway)`;
  return null;
}

/**
 * The provider `auto` will use here, as far as is known without opening a session: the first one
 * it would not pass over. A graph is built for it before the session opens (its compute type, and
 * whether the weights must fit in this machine's memory).
 */
export async function autoProvider(): Promise<Provider> {
  for (const provider of AUTO_ORDER) if ((await autoSkipReason(provider)) === null) return provider;
  return 'cpu';
}

export async function openSession(model: Uint8Array, externalDataFolder: string, setting: ProviderSetting, log?: (line: string) => void, extra?: ExtraSessionOptions): Promise<OpenedSession> {
  const order = setting === 'auto' ? AUTO_ORDER : [setting];
  const failed: ProviderAttempt[] = [];
  for (const provider of order) {
    const skip = setting === 'auto' ? await autoSkipReason(provider) : null;
    if (skip) {
      if (!knownFailures.has(provider)) log?.(`execution provider ${provider} skipped: ${skip}`);
      knownFailures.set(provider, skip);
      failed.push({ provider, error: skip });
      continue;
    }
    const adapter = await providerAdapter(provider);
    try {
      const session = await ort.InferenceSession.create(model, sessionOptions(provider, externalDataFolder, setting === 'auto' && provider !== 'cpu', extra));
      adapterNames.set(provider, adapter.name);
      if (!announced.has(provider)) log?.(`execution provider ${executionDevice(provider, adapter.name)} in use`);
      announced.add(provider);
      return { session, provider, adapter: adapter.name, failed };
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
