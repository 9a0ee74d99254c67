import { LlamaSampler } from '../model/llama-sampler.js';
import { strategyByName } from '../strategies/index.js';
import { DockerGrader } from '../sandbox/docker-grader.js';
import { buildTrainer } from '../trainer/build.js';
import { NativeTrainer } from '../trainer/native-trainer.js';
import type { RunConfig } from './config.js';
import type { RunServices } from './services.js';

/**
 * Starts the real parts: the Docker grader, the node-llama-cpp sampler and (per SDPO cell) the
 * native trainer.
 */
export async function startRealServices(config: RunConfig, options: { needsTrainer: boolean }): Promise<RunServices> {
  // Instant when the trainer is built (setup.sh builds it); otherwise build it now, before any
  // sampling, rather than in the middle of the first SDPO cell.
  // (TTSD_TRAINER_EXE: a development build NativeTrainer uses instead of the cached one.)
  if (options.needsTrainer && !process.env.TTSD_TRAINER_EXE) await buildTrainer({ log: (line) => process.stderr.write(`trainer build: ${line}\n`) });
  const grader = await DockerGrader.create({ concurrency: config.concurrency });
  let sampler: LlamaSampler;
  try {
    // Slots for the largest step of the run's strategies, or one per interleaved cell (their
    // calls on one adapter decode together), up to 8 (more queue for a slot): each slot holds a
    // full context's KV cache, so more slots trade memory for throughput.
    const perStep = Math.max(...config.strategies.map((name) => strategyByName(name)?.generationsPerStep(config) ?? config.rollouts));
    sampler = await LlamaSampler.load({ model: config.model, threads: config.threads, contextSize: config.contextSize, sequences: Math.min(Math.max(perStep, config.parallelCells), 8) });
  } catch (error) {
    await grader.close();
    throw error;
  }
  return {
    sampler,
    grader,
    // The trainer needs the local file an hf: URI resolved to (the sampler downloaded it).
    startTrainer: (trainerConfig) => NativeTrainer.start({ ...trainerConfig, model: sampler.modelPath }),
    close: async () => {
      await Promise.allSettled([sampler.dispose(), grader.close()]);
    },
  };
}
