// --gpu auto and software Vulkan devices: node-llama-cpp calls Vulkan "supported" wherever the Vulkan loader finds
// a driver, and CI installs Mesa's lavapipe (a CPU implementation) for the trainer's device test. `auto` must not
// take it; an explicit `--gpu vulkan` still may. The real probe runs against this machine's real node-llama-cpp.
import { describe, expect, it } from 'vitest';
import { isSoftwareDevice, realProbe, resolveDevices, type DeviceProbe } from '../../src/run/devices.js';

/** A probe with scripted answers (the decision alone); the real one is tested below. */
const scripted = (types: (string | false)[], names: Record<string, string[]>): DeviceProbe => ({
  gpuTypes: async () => types,
  nvcc: () => null,
  deviceNames: async (gpu) => names[gpu] ?? [],
});

describe('--gpu auto skips software devices', () => {
  it('tells software rasterizers from hardware by the name the backend reports', () => {
    for (const name of ['llvmpipe (LLVM 15.0.6, 256 bits)', 'Lavapipe', 'SwiftShader Device (Subzero)', 'softpipe']) expect(isSoftwareDevice(name)).toBe(true);
    for (const name of ['NVIDIA H100 80GB HBM3', 'AMD Radeon RX 7900 XTX (RADV NAVI31)', 'Intel(R) Arc(tm) A770 Graphics (DG2)', 'Apple M2']) expect(isSoftwareDevice(name)).toBe(false);
  });

  it('auto: a backend whose only device is llvmpipe (or none) falls back to the CPU with the usual line', async () => {
    for (const names of [{ vulkan: ['llvmpipe (LLVM 15.0.6, 256 bits)'] }, { vulkan: [] }]) {
      const d = await resolveDevices({ gpu: 'auto', gpuLayers: 'max' }, { needsTrainer: false, probe: scripted(['vulkan', false], names) });
      expect(d).toMatchObject({ sampling: false, trainer: 'cpu' });
      expect(d.line).toBe('--gpu auto: node-llama-cpp finds no usable GPU here; sampling on the CPU');
    }
  });

  it('auto takes a hardware device, also beside a software one', async () => {
    const d = await resolveDevices({ gpu: 'auto', gpuLayers: 'max' }, { needsTrainer: false, probe: scripted(['vulkan', false], { vulkan: ['llvmpipe (LLVM 15.0.6, 256 bits)', 'AMD Radeon RX 7900 XTX (RADV NAVI31)'] }) });
    expect(d.sampling).toBe('vulkan');
  });

  it('an explicit --gpu vulkan still uses a software device; --gpu cuda names no software backend as usable', async () => {
    const probe = scripted(['vulkan', false], { vulkan: ['llvmpipe (LLVM 15.0.6, 256 bits)'] });
    expect((await resolveDevices({ gpu: 'vulkan', gpuLayers: 'max' }, { needsTrainer: false, probe })).sampling).toBe('vulkan');
    await expect(resolveDevices({ gpu: 'cuda', gpuLayers: 'max' }, { needsTrainer: false, probe })).rejects.toThrow(/usable GPU backends: none\)/);
  });

  it('on this machine (no GPU; lavapipe installed by scripts/setup.sh): auto → CPU through the real probe', async () => {
    const supported = await realProbe.gpuTypes();
    expect(supported).toContain('vulkan'); // the loader finds lavapipe: the case this guards against
    // what the decision reads: node-llama-cpp's Vulkan binary lists no hardware device here (ggml-vulkan hides
    // CPU-type devices; were one listed through GGML_VK_VISIBLE_DEVICES, it is named llvmpipe)
    expect((await realProbe.deviceNames!('vulkan')).filter((name) => !isSoftwareDevice(name))).toEqual([]);
    const d = await resolveDevices({ gpu: 'auto', gpuLayers: 'max' }, { needsTrainer: true, probe: realProbe });
    expect(d).toMatchObject({ sampling: false, trainer: 'cpu' });
  }, 60_000);
});
