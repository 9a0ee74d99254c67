import type { TrainerConfig } from './types.js';

/** Every projection of a dense qwen2/qwen3/llama block. */
import { ALL_LORA_TARGETS } from '../model/lora.js';

/**
 * The project's defaults for a trainer config: the paper's test-time recipe (reverse KL over
 * top-20 + tail, EMA teacher η 0.01, grad clip 1, weight decay 0.01) with a LoRA learning rate
 * (LoRA needs a much higher lr than the paper's full fine-tuning 1e-6).
 */
export function defaultTrainerConfig(model: string, stateDir: string, overrides: Partial<TrainerConfig> = {}): TrainerConfig {
  return {
    model,
    stateDir,
    loraRank: 16,
    loraAlpha: 32,
    loraTargets: ALL_LORA_TARGETS,
    lr: 1e-4,
    weightDecay: 0.01,
    gradClip: 1,
    divergence: 'reverse_kl',
    jsdAlpha: 0.5,
    topK: 20,
    teacher: 'ema',
    ema: 0.01,
    threads: 2,
    seed: 0,
    ...overrides,
  };
}
