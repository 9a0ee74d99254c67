/**
 * Where a run samples and trains, decided at start from `--gpu` / `--gpu-layers`:
 *   off    → CPU sampler, CPU trainer;
 *   auto   → the best GPU backend node-llama-cpp finds usable here (cuda, vulkan, metal) with a
 *            hardware device behind it, else the CPU; a backend whose only devices are software
 *            rasterizers that run on the CPU (Mesa's llvmpipe/lavapipe, SwiftShader) does not count:
 *            it is slower than the CPU backend itself; the trainer stays on the CPU (only `--gpu cuda`
 *            builds the CUDA trainer);
 *   cuda   → node-llama-cpp's CUDA binary for sampling, and the CUDA trainer (built once, cached
 *            beside the CPU one) with the model's layers on the GPU; refused at start when
 *            node-llama-cpp cannot use CUDA here or, for a learning strategy, nvcc is missing;
 *   vulkan → node-llama-cpp's Vulkan binary for sampling (refused when unusable; a software device
 *            such as llvmpipe is taken when asked for by name); CPU trainer.
 * `line` says in one line what the run got (printed as a note at start).
 */
import { getLlama, getLlamaGpuTypes, LlamaLogLevel } from 'node-llama-cpp';
import { UserError } from '../errors.js';
import type { GpuChoice } from '../model/runtime.js';
import { findNvcc, NO_NVCC_MESSAGE } from '../trainer/build.js';
import type { RunConfig } from './config.js';

export interface Devices {
  /** The backend node-llama-cpp samples with (false = CPU). */
  sampling: Exclude<GpuChoice, 'auto'>;
  /** Layers the sampler puts on the GPU (node-llama-cpp's gpuLayers; 0 on the CPU). */
  samplingLayers: number | 'max';
  trainer: 'cpu' | 'cuda';
  /** The trainer's n_gpu_layers: −1 = all, 0 on the CPU. */
  trainerGpuLayers: number;
  line: string | null;
}

export interface DeviceProbe {
  /** GPU types node-llama-cpp can use on this machine (its getLlamaGpuTypes('supported')). */
  gpuTypes(): Promise<(string | false)[]>;
  /** The CUDA compiler a CUDA trainer build would use, or null. */
  nvcc(): string | null;
  /**
   * Names of the devices node-llama-cpp's binary for `gpu` reports (its getGpuDeviceNames()); a probe without it
   * (a scripted one) counts every supported backend as hardware.
   */
  deviceNames?(gpu: string): Promise<string[]>;
}

export const realProbe: DeviceProbe = {
  gpuTypes: () => getLlamaGpuTypes('supported'),
  nvcc: () => findNvcc(),
  deviceNames: async (gpu) => {
    // a throwaway runtime: the backend may be refused, and sampling then loads the CPU binary
    const llama = await getLlama({ gpu: gpu as 'cuda' | 'vulkan' | 'metal', build: 'never', logLevel: LlamaLogLevel.error }).catch(() => null);
    if (!llama) return [];
    try {
      return await llama.getGpuDeviceNames();
    } finally {
      await llama.dispose();
    }
  },
};

/**
 * Software rasterizers that implement Vulkan (or GL) on the CPU. node-llama-cpp reports device names only,
 * not Vulkan's declared device type (VK_PHYSICAL_DEVICE_TYPE_CPU), so they are told apart by name; ggml-vulkan
 * itself already hides CPU-type devices unless GGML_VK_VISIBLE_DEVICES names them, in which case they show up here.
 */
const SOFTWARE_DEVICE = /\b(llvmpipe|lavapipe|swiftshader|softpipe)\b/i;

export function isSoftwareDevice(name: string): boolean {
  return SOFTWARE_DEVICE.test(name);
}

/** The GPU backends of `supported` that have at least one hardware device (what `auto` may take). */
async function hardwareBackends(supported: string[], probe: DeviceProbe): Promise<string[]> {
  if (!probe.deviceNames) return supported;
  const out: string[] = [];
  for (const gpu of supported) {
    const names = await probe.deviceNames(gpu);
    if (names.some((name) => !isSoftwareDevice(name))) out.push(gpu);
  }
  return out;
}

const BEST_FIRST = ['cuda', 'vulkan', 'metal'] as const;

export async function resolveDevices(
  config: Pick<RunConfig, 'gpu' | 'gpuLayers'>,
  options: { needsTrainer: boolean; probe?: DeviceProbe },
): Promise<Devices> {
  const probe = options.probe ?? realProbe;
  const cpu: Devices = { sampling: false, samplingLayers: 0, trainer: 'cpu', trainerGpuLayers: 0, line: null };
  if (config.gpu === 'off') return cpu;
  const usable = (await probe.gpuTypes()).filter((t): t is string => typeof t === 'string');
  // node-llama-cpp calls a backend supported when its libraries load (Vulkan's loader finds Mesa's lavapipe on a
  // machine without a GPU): what counts as a GPU here is a backend with a hardware device behind it
  const hardware = await hardwareBackends(usable, probe);
  const usableText = hardware.length > 0 ? hardware.join(', ') : 'none';
  const layers = config.gpuLayers;
  const layersText = layers === 'max' ? 'all layers' : `${layers} layers`;
  if (config.gpu === 'auto') {
    const found = BEST_FIRST.find((t) => hardware.includes(t));
    if (!found) return { ...cpu, line: `--gpu auto: node-llama-cpp finds no usable GPU here; sampling${options.needsTrainer ? ' and training' : ''} on the CPU` };
    return {
      ...cpu,
      sampling: found,
      samplingLayers: layers,
      line: `--gpu auto: sampling on ${found} (${layersText} on the GPU)${options.needsTrainer ? '; the trainer runs on the CPU (--gpu cuda builds and uses the CUDA trainer)' : ''}`,
    };
  }
  if (!usable.includes(config.gpu)) {
    throw new UserError(
      `--gpu ${config.gpu}: node-llama-cpp cannot use ${config.gpu === 'cuda' ? 'CUDA' : 'Vulkan'} on this machine (no GPU, driver or matching prebuilt binary; usable GPU backends: ${usableText}); use --gpu auto or --gpu off`,
    );
  }
  if (config.gpu === 'vulkan') {
    return { ...cpu, sampling: 'vulkan', samplingLayers: layers, line: `--gpu vulkan: sampling on vulkan (${layersText} on the GPU)${options.needsTrainer ? '; the trainer runs on the CPU (only --gpu cuda has a GPU trainer)' : ''}` };
  }
  if (options.needsTrainer && !process.env.TTSD_TRAINER_EXE && probe.nvcc() === null) throw new UserError(`--gpu cuda: ${NO_NVCC_MESSAGE}`);
  return {
    sampling: 'cuda',
    samplingLayers: layers,
    trainer: options.needsTrainer ? 'cuda' : 'cpu',
    trainerGpuLayers: layers === 'max' ? -1 : layers,
    line: `--gpu cuda: sampling on cuda${options.needsTrainer ? ' and training with the CUDA trainer' : ''} (${layersText} on the GPU)`,
  };
}
