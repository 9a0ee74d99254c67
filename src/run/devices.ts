/**
 * Where a run samples and trains, decided at start from `--gpu` / `--gpu-layers`:
 *   off    → CPU sampler, CPU trainer;
 *   auto   → the best GPU backend node-llama-cpp finds usable here (cuda, vulkan, metal) with a
 *            hardware device behind it, else the CPU; a backend whose only devices are software
 *            rasterizers that run on the CPU (Mesa's llvmpipe/lavapipe, SwiftShader) does not count:
 *            it is slower than the CPU backend itself. The trainer stays on the CPU: auto is the
 *            default and must start on any machine, while a GPU trainer needs its toolkit (nvcc;
 *            glslc + the Vulkan headers) and a long first build (the Vulkan shaders take ~30 min on
 *            2 cores), which an explicit `--gpu cuda|vulkan` opts into;
 *   cuda / vulkan → node-llama-cpp's CUDA / Vulkan binary for sampling, and with a learning strategy
 *            the CUDA / Vulkan trainer (built once, cached beside the CPU one) with the model's layers
 *            on the GPU; refused at start when node-llama-cpp cannot use the backend here, or, for a
 *            learning strategy, when the trainer's build tools are missing (the build's own line) or
 *            the backend lists no device to train on. An explicit choice takes a software device
 *            (llvmpipe) when that is what the backend lists.
 * `line` says in one line what the run got (printed as a note at start).
 */
import { getLlama, getLlamaGpuTypes, LlamaLogLevel } from 'node-llama-cpp';
import { UserError } from '../errors.js';
import type { GpuChoice } from '../model/runtime.js';
import { DEVICE_BUILDS } from '../trainer/build.js';
import type { TrainerDevice } from '../trainer/types.js';
import type { RunConfig } from './config.js';

export interface Devices {
  /** The backend node-llama-cpp samples with (false = CPU). */
  sampling: Exclude<GpuChoice, 'auto'>;
  /** Layers the sampler puts on the GPU (node-llama-cpp's gpuLayers; 0 on the CPU). */
  samplingLayers: number | 'max';
  trainer: TrainerDevice;
  /** The trainer's n_gpu_layers: −1 = all, 0 on the CPU. */
  trainerGpuLayers: number;
  line: string | null;
}

export interface DeviceProbe {
  /** GPU types node-llama-cpp can use on this machine (its getLlamaGpuTypes('supported')). */
  gpuTypes(): Promise<(string | false)[]>;
  /** What this machine lacks to build the trainer for `device`, as the build's one-line message, or null. */
  trainerTools(device: TrainerDevice): string | null;
  /**
   * Names of the devices node-llama-cpp's binary for `gpu` reports (its getGpuDeviceNames()); a probe without it
   * (a scripted one) counts every supported backend as hardware.
   */
  deviceNames?(gpu: string): Promise<string[]>;
}

export const realProbe: DeviceProbe = {
  gpuTypes: () => getLlamaGpuTypes('supported'),
  trainerTools: (device) => DEVICE_BUILDS[device].missingTools(),
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

/**
 * The devices each backend of `supported` lists (null: the probe cannot tell), and those with at least one hardware
 * device (what `auto` may take).
 */
async function listDevices(supported: string[], probe: DeviceProbe): Promise<{ names: Map<string, string[] | null>; hardware: string[] }> {
  const names = new Map<string, string[] | null>();
  for (const gpu of supported) names.set(gpu, probe.deviceNames ? await probe.deviceNames(gpu) : null);
  const hardware = supported.filter((gpu) => names.get(gpu)?.some((name) => !isSoftwareDevice(name)) ?? true);
  return { names, hardware };
}

const BEST_FIRST = ['cuda', 'vulkan', 'metal'] as const;
type GpuBackend = (typeof BEST_FIRST)[number];

/**
 * Each GPU backend of node-llama-cpp: its name in lines, the trainer device a learning strategy trains on with
 * `--gpu <backend>` (metal has no trainer build: the CPU), and why its trainer may find no device.
 */
const GPU_BACKENDS: Record<GpuBackend, { name: string; trainer: TrainerDevice; noDeviceHint?: string }> = {
  cuda: { name: 'CUDA', trainer: 'cuda' },
  vulkan: {
    name: 'Vulkan',
    trainer: 'vulkan',
    noDeviceHint: "ggml-vulkan lists CPU-type devices such as Mesa's lavapipe only when GGML_VK_VISIBLE_DEVICES names them",
  },
  metal: { name: 'Metal', trainer: 'cpu' },
};

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
  const { names: listedBy, hardware } = await listDevices(usable, probe);
  const usableText = hardware.length > 0 ? hardware.join(', ') : 'none';
  const layers = config.gpuLayers;
  const layersText = layers === 'max' ? 'all layers' : `${layers} layers`;
  if (config.gpu === 'auto') {
    const found = BEST_FIRST.find((t) => hardware.includes(t));
    if (!found) return { ...cpu, line: `--gpu auto: node-llama-cpp finds no usable GPU here; sampling${options.needsTrainer ? ' and training' : ''} on the CPU` };
    const { name, trainer } = GPU_BACKENDS[found];
    const why = trainer === 'cpu' ? `the trainer has no ${name} build` : `--gpu ${found} builds and uses the ${DEVICE_BUILDS[trainer].name} trainer`;
    return {
      ...cpu,
      sampling: found,
      samplingLayers: layers,
      line: `--gpu auto: sampling on ${found} (${layersText} on the GPU)${options.needsTrainer ? `; the trainer runs on the CPU (${why})` : ''}`,
    };
  }
  const gpu = config.gpu;
  const backend = GPU_BACKENDS[gpu];
  if (!usable.includes(gpu)) {
    throw new UserError(
      `--gpu ${gpu}: node-llama-cpp cannot use ${backend.name} on this machine (no GPU, driver or matching prebuilt binary; usable GPU backends: ${usableText}); use --gpu auto or --gpu off`,
    );
  }
  const trainer = options.needsTrainer ? backend.trainer : 'cpu';
  const names = listedBy.get(gpu) ?? null;
  if (trainer !== 'cpu') {
    const missing = process.env.TTSD_TRAINER_EXE ? null : probe.trainerTools(trainer);
    if (missing) throw new UserError(`--gpu ${gpu}: ${missing}`);
    // the trainer refuses at init a backend without a device: say so now rather than at the first training step
    if (names?.length === 0) {
      throw new UserError(
        `--gpu ${gpu}: node-llama-cpp's ${gpu} backend lists no device here, so the ${DEVICE_BUILDS[trainer].name} trainer has none to train on${backend.noDeviceHint ? ` (${backend.noDeviceHint})` : ''}; use --gpu auto or --gpu off`,
      );
    }
  }
  const training = trainer === 'cpu' ? '' : ` and training with the ${DEVICE_BUILDS[trainer].name} trainer`;
  const listed = names?.map((name) => (isSoftwareDevice(name) ? `${name}, a software device that runs on the CPU` : name)).join('; ');
  return {
    sampling: gpu,
    samplingLayers: layers,
    trainer,
    trainerGpuLayers: trainer === 'cpu' ? 0 : layers === 'max' ? -1 : layers,
    line: `--gpu ${gpu}: sampling on ${gpu}${training} (${layersText} on the GPU${listed ? `: ${listed}` : ''})`,
  };
}
