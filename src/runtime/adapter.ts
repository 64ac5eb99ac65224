// Naming the device an execution provider runs on. Imports nothing, so that the extension host can
// use it without loading onnxruntime (which belongs in the engine process).

/** Adapters that run on the CPU. Names as the drivers report them; lvp/swiftshader are their Vulkan driver libraries. */
const SOFTWARE_ADAPTER = /llvmpipe|lavapipe|softpipe|swiftshader|basic render driver|\bwarp\b|libvulkan_lvp|libvk_swiftshader/i;

/** A CPU rasterizer posing as a GPU (llvmpipe, lavapipe, SwiftShader, Microsoft Basic Render Driver): slower than the CPU provider. */
export function isSoftwareAdapter(nameOrDriver: string): boolean {
  return SOFTWARE_ADAPTER.test(nameOrDriver);
}

/** "webgpu · NVIDIA H200", "webgpu · llvmpipe (LLVM 15.0.6, 256 bits)", "cpu". */
export function deviceLabel(provider: string, adapter: string | null | undefined): string {
  return adapter ? `${provider} · ${adapter}` : provider;
}

/** What a device label runs on, for people: the CPU, a software GPU (which is the CPU too) or a GPU. */
export function deviceKind(label: string): 'CPU' | 'software GPU on the CPU' | 'GPU' {
  if (label === 'cpu' || label.startsWith('cpu ')) return 'CPU';
  return isSoftwareAdapter(label) ? 'software GPU on the CPU' : 'GPU';
}
