import os from 'node:os';
import { LlamaSampler } from '../model/llama-sampler.js';
import { ServerSampler } from '../model/server-sampler.js';
import { LlamaServerBackend } from '../model/servers/llama-server.js';
import { VllmBackend } from '../model/servers/vllm.js';
import { llamaRuntime, resolveModelPath } from '../model/runtime.js';
import { strategyByName } from '../strategies/index.js';
import { DockerGrader } from '../sandbox/docker-grader.js';
import type { Task } from '../tasks/types.js';
import { buildTrainer, DEVICE_BUILDS } from '../trainer/build.js';
import { NativeTrainer } from '../trainer/native-trainer.js';
import { checkSameVocabulary } from '../gguf/vocabulary.js';
import { runVariants, type RunConfig } from './config.js';
import { resolveDevices, type Devices } from './devices.js';
import { checkContext, checkTrainerMemory, deriveLengths, modelShape, samplerPlan, type RunLengths } from './lengths.js';
import type { RunServices } from './services.js';

export interface RealServicesOptions {
  needsTrainer: boolean;
  /** Resolved by the caller (resolveDevices) when it reports them; resolved here otherwise. */
  devices?: Devices;
  /** The selected tasks: their lengths are derived and the run's settings checked against them. */
  tasks?: Task[];
  /** Receives start-up lines (sampler slots fewer than wanted). */
  notes?: string[];
}

/**
 * Starts the real parts: the node-llama-cpp sampler (on the device `--gpu` resolved to), then —
 * with the tasks given — the lengths of the run, refusing settings that cannot work; then the
 * native trainer's build (CPU, or the CUDA / Vulkan one with `--gpu cuda` / `vulkan`) and the Docker grader.
 */
export async function startRealServices(config: RunConfig, options: RealServicesOptions): Promise<RunServices & { lengths?: RunLengths; devices: Devices }> {
  const devices = options.devices ?? (await resolveDevices(config, { needsTrainer: options.needsTrainer }));
  const modelPath = await resolveModelPath(config.model);
  const shape = modelShape(modelPath);
  const llama = await llamaRuntime(devices.sampling);
  const vram = devices.sampling === false ? null : await llama.getVramState();
  // Slots for the largest step of the run's strategies (G = 16 decodes as one batch), or one per
  // interleaved cell (their calls on one adapter decode together): as many as the memory holds,
  // each slot holding a full context's KV cache.
  const perStep = Math.max(...runVariants(config).map((v) => strategyByName(v.strategy)?.generationsPerStep(v.settings) ?? config.rollouts));
  // Teacher models (opd): resolved to local files and checked against the student's vocabulary before anything loads.
  const teacherFiles = new Map<string, string>();
  for (const v of runVariants(config)) {
    const teacher = strategyByName(v.strategy)?.trainerSettings?.(v.settings).teacherModel;
    if (teacher === undefined || teacherFiles.has(teacher)) continue;
    const file = await resolveModelPath(teacher);
    checkSameVocabulary(modelPath, file);
    teacherFiles.set(teacher, file);
  }
  // one context per interleaved cell's adapter, plus the base model's (best-of-K, multi-turn, SDPO's first step)
  const plan = samplerPlan(
    { slots: Math.max(perStep, config.parallelCells), contexts: config.parallelCells + 1 },
    config.contextSize,
    shape,
    vram ? vram.free : os.freemem(),
    vram ? `on the ${devices.sampling} device` : 'in memory',
  );
  options.notes?.push(...plan.notes);
  const sampler = config.sampler === 'server' ? await startServerSampler(config, modelPath) : await LlamaSampler.load({
    model: modelPath,
    threads: config.threads,
    contextSize: config.contextSize,
    sequences: plan.slots,
    maxContexts: plan.contexts,
    gpu: devices.sampling,
    gpuLayers: devices.samplingLayers,
  });
  let lengths: RunLengths | undefined;
  let grader: DockerGrader;
  try {
    if (options.tasks) {
      lengths = await deriveLengths(config, options.tasks, sampler);
      checkContext(config, lengths);
      if (options.needsTrainer) {
        const available =
          // a GPU trainer holds the model and its activations in the device's memory (the one node-llama-cpp samples on)
          devices.trainer !== 'cpu' && vram
            ? { bytes: vram.total, what: `GPU memory (${devices.sampling})` }
            : { bytes: os.totalmem(), what: "this machine's memory" };
        checkTrainerMemory(lengths, shape, available);
      }
    }
    // Instant when the trainer is built (setup.sh builds the CPU one); otherwise build it now,
    // before any sampling, rather than in the middle of the first SDPO cell.
    // (TTSD_TRAINER_EXE: a development build NativeTrainer uses instead of the cached one.)
    if (options.needsTrainer && !process.env.TTSD_TRAINER_EXE) {
      await buildTrainer({ ...DEVICE_BUILDS[devices.trainer].options, log: (line) => process.stderr.write(`trainer build: ${line}\n`) });
    }
    // --docker-hosts: each host's own concurrency; otherwise the local engine with --concurrency.
    grader = await DockerGrader.create(config.dockerHosts.length > 0 ? { hosts: config.dockerHosts } : { concurrency: config.concurrency });
  } catch (error) {
    await sampler.dispose();
    throw error;
  }
  return {
    sampler,
    grader,
    lengths,
    devices,
    // The trainer needs the local file an hf: URI resolved to (the sampler downloaded it), and the run's device.
    startTrainer: (trainerConfig) =>
      NativeTrainer.start({
        ...trainerConfig,
        model: sampler.modelPath,
        ...(trainerConfig.teacherModel !== undefined && { teacherModel: teacherFiles.get(trainerConfig.teacherModel) ?? trainerConfig.teacherModel }),
        ...(devices.trainer !== 'cpu' && { device: devices.trainer, gpuLayers: devices.trainerGpuLayers }),
      }),
    close: async () => {
      await Promise.allSettled([sampler.dispose(), grader.close()]);
    },
  };
}

/** --sampler server: rollouts from llama-server (router mode) or vLLM; adapters travel through --adapter-dir. */
function startServerSampler(config: RunConfig, modelPath: string): Promise<ServerSampler> {
  const url = config.server!;
  const adapterDir = config.adapterDir!;
  return ServerSampler.load({
    model: modelPath,
    adapterDir,
    contextSize: config.contextSize,
    backend: (path) => (config.serverKind === 'vllm' ? new VllmBackend(url, path) : new LlamaServerBackend(url, path, adapterDir)),
  });
}
