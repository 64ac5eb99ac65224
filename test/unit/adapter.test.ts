/** Which device a provider runs on, and `auto` choosing hardware only. */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { deviceKind, deviceLabel, isSoftwareAdapter } from '../../src/runtime/adapter.js';
import { executionDevice, openSession, parseVulkanLoaderLog, providerAdapter } from '../../src/runtime/session.js';
import { Graph } from '../../src/onnx/graph.js';
import { serializeModel } from '../../src/onnx/serialize.js';
import { skipReason } from '../support/providers.js';

// Excerpts of the Vulkan loader's VK_LOADER_DEBUG=driver output (loader 1.3.239, Debian 12).
const LOADER_LOG = `INFO | DRIVER:    linux_read_sorted_physical_devices:
INFO | DRIVER:         Original order:
INFO | DRIVER:               [0] llvmpipe (LLVM 15.0.6, 256 bits)
INFO | DRIVER:               [1] NVIDIA H200
INFO | DRIVER:         Sorted order:
INFO | DRIVER:               [0] NVIDIA H200  
INFO | DRIVER:               [1] llvmpipe (LLVM 15.0.6, 256 bits)  
DRIVER:           vkCreateDevice layer callstack setup to:
DRIVER:              <Device>
DRIVER:                  Using "NVIDIA H200" with driver: "libGLX_nvidia.so.0"
`;

describe('adapter names', () => {
  it('the loader names the device it created; without that line, the first of its sorted list', () => {
    assert.deepEqual(parseVulkanLoaderLog(LOADER_LOG), { name: 'NVIDIA H200', driver: 'libGLX_nvidia.so.0' });
    const older = LOADER_LOG.split('DRIVER:           vkCreateDevice')[0]!;
    assert.deepEqual(parseVulkanLoaderLog(older), { name: 'NVIDIA H200', driver: null });
    assert.equal(parseVulkanLoaderLog('nothing from the loader\n'), null);
  });

  it('software adapters are recognised by name or driver library; hardware ones are not', () => {
    for (const s of ['llvmpipe (LLVM 15.0.6, 256 bits)', 'SwiftShader Device (Subzero)', 'Microsoft Basic Render Driver', 'lavapipe', 'libvulkan_lvp.so']) assert.ok(isSoftwareAdapter(s), s);
    for (const h of ['NVIDIA H200', 'AMD Radeon RX 7900 XTX (RADV NAVI31)', 'Intel(R) Arc(tm) A770 Graphics (DG2)', 'Apple M3 Max', 'libGLX_nvidia.so.0']) assert.ok(!isSoftwareAdapter(h), h);
    assert.equal(deviceLabel('webgpu', 'NVIDIA H200'), 'webgpu · NVIDIA H200');
    assert.equal(deviceLabel('cpu', null), 'cpu');
    assert.equal(deviceKind('cpu'), 'CPU');
    assert.equal(deviceKind('webgpu · llvmpipe (LLVM 15.0.6, 256 bits)'), 'software GPU on the CPU');
    assert.equal(deviceKind('webgpu · NVIDIA H200'), 'GPU');
  });
});

function negModel(): Uint8Array {
  const g = new Graph('neg');
  g.output(g.node('Neg', [g.input('x', 'float32', [1])]), 'y');
  return serializeModel(g);
}

describe('auto picks hardware only', { skip: skipReason({ provider: 'webgpu', precision: 'fp32', tolerance: 0 }) }, () => {
  it('the WebGPU adapter is named as Vulkan names it; a software one is used when asked for and skipped by auto', async () => {
    const adapter = await providerAdapter('webgpu');
    assert.equal(adapter.error, null);
    assert.ok(adapter.name, 'the probe found the adapter name');
    // Independent source where vulkan-tools is installed: the same device name.
    let summary = '';
    try {
      summary = execFileSync('vulkaninfo', ['--summary'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    } catch {
      summary = '';
    }
    if (summary) assert.ok(summary.includes(`deviceName         = ${adapter.name}`), `vulkaninfo lists ${adapter.name}`);

    const explicit = await openSession(negModel(), '.', 'webgpu');
    assert.equal(explicit.provider, 'webgpu');
    assert.equal(explicit.adapter, adapter.name);
    assert.equal(executionDevice('webgpu'), `webgpu · ${adapter.name}`);
    await explicit.session.release();

    const lines: string[] = [];
    const auto = await openSession(negModel(), '.', 'auto', (l) => lines.push(l));
    if (adapter.software) {
      assert.equal(auto.provider, 'cpu', 'auto must not pick a software adapter');
      const skipped = auto.failed.find((f) => f.provider === 'webgpu');
      assert.ok(skipped && skipped.error.includes(adapter.name!), JSON.stringify(auto.failed));
      assert.ok(lines.some((l) => l.startsWith('execution provider webgpu skipped:') && l.includes('software')), lines.join('\n'));
    } else {
      assert.equal(auto.provider, 'webgpu', 'a hardware adapter is used by auto');
    }
    await auto.session.release();
  });
});
