/**
 * What the trainer's checks against the float64 reference share: the tiny F32 qwen2 (3 layers),
 * an initial rank-4 LoRA adapter on every projection with nonzero B (so that gradients reach A),
 * the reference model, random token ids, and a plain-SGD trainer config.
 */
import { join } from 'node:path';
import type { TrainerConfig } from '../../src/trainer/types.js';
import { tinyModel } from '../helpers/models.js';
import { ALL_LORA_TARGETS, Rng, writeLoraFixture } from './reference/fixtures.js';
import { LoraAdapter } from './reference/lora.js';
import { ReferenceModel } from './reference/model.js';

export const CHECK_RANK = 4;
export const CHECK_ALPHA = 8;

export interface CheckFixture {
  modelPath: string;
  initAdapter: string;
  init: LoraAdapter;
  reference: ReferenceModel;
}

export async function checkFixture(dir: string, adapterSeed: number): Promise<CheckFixture> {
  const modelPath = await tinyModel({ arch: 'qwen2', layers: 3 });
  const initAdapter = join(dir, 'init.gguf');
  writeLoraFixture(modelPath, initAdapter, { rank: CHECK_RANK, alpha: CHECK_ALPHA, targets: ALL_LORA_TARGETS, seed: adapterSeed, bStd: 0.2 });
  return { modelPath, initAdapter, init: LoraAdapter.read(initAdapter), reference: ReferenceModel.load(modelPath) };
}

/** Token ids from the ordinary part of the real 151936-token vocabulary. */
export function randomTokens(rng: Rng, n: number): number[] {
  return Array.from({ length: n }, () => 1000 + rng.int(150_000));
}

/** Plain SGD (x ← x − lr·g, no weight decay, no clip) from the fixture's adapter: the step shows the gradient. */
export function sgdConfig(f: CheckFixture, stateDir: string, overrides: Partial<TrainerConfig>): TrainerConfig {
  return {
    model: f.modelPath,
    stateDir,
    loraRank: CHECK_RANK,
    loraAlpha: CHECK_ALPHA,
    loraTargets: ALL_LORA_TARGETS,
    lr: 1,
    weightDecay: 0,
    gradClip: 0,
    divergence: 'reverse_kl',
    jsdAlpha: 0.5,
    topK: 5,
    teacher: 'ema',
    ema: 0.01,
    threads: 2,
    seed: 1,
    optimizer: 'sgd',
    initAdapter: f.initAdapter,
    ...overrides,
  };
}
