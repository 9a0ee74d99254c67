/**
 * What the trainer's checks against the float64 reference share: the tiny F32 qwen2 (3 layers),
 * an initial rank-4 LoRA adapter on every projection with nonzero B (so that gradients reach A),
 * the reference model, random token ids, and a plain-SGD trainer config.
 */
import { join } from 'node:path';
import type { TrainerConfig } from '../../src/trainer/types.js';
import { tinyModel } from '../helpers/models.js';
import { ALL_LORA_TARGETS, Rng, writeLoraFixture } from './reference/fixtures.js';
import { LoraAdapter, type LoraEntry } from './reference/lora.js';
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

/** One A and one B entry of every LoRA pair, at seeded positions. */
export function entriesOfEveryPair(init: LoraAdapter, rng: Rng): LoraEntry[] {
  const entries: LoraEntry[] = [];
  for (const pair of init.pairs.values()) {
    entries.push({ weight: pair.weight, matrix: 'a', index: rng.int(pair.a.length) });
    entries.push({ weight: pair.weight, matrix: 'b', index: rng.int(pair.b.length) });
  }
  return entries;
}

/** Central finite differences of `loss` at the fixture's adapter, entry by entry. */
export function finiteDifferences(init: LoraAdapter, entries: LoraEntry[], loss: (adapter: LoraAdapter) => number[], step = 1e-4): number[][] {
  const columns: number[][] = [];
  for (const entry of entries) {
    const plus = loss(init.perturbed(entry, step));
    const minus = loss(init.perturbed(entry, -step));
    plus.forEach((p, k) => (columns[k] ??= []).push((p - minus[k]) / (2 * step)));
  }
  return columns;
}

export interface GradientComparison {
  median: number;
  worst: number;
  scale: number;
  report: string;
}

/**
 * A plain-SGD step's gradient (init − new, lr 1) against finite differences, relative to
 * max(|fd|, 1e-3·max|fd|): the new adapter is f32, so init − new carries ~1e-8 absolute rounding.
 */
export function compareGradients(init: LoraAdapter, stepped: LoraAdapter, entries: LoraEntry[], fd: number[]): GradientComparison {
  const scale = Math.max(...fd.map(Math.abs));
  const floor = Math.max(1e-3 * scale, 1e-7);
  const rows = entries.map((entry, i) => {
    const trained = init.get(entry) - stepped.get(entry);
    return { entry, fd: fd[i], trained, rel: Math.abs(trained - fd[i]) / Math.max(Math.abs(fd[i]), floor) };
  });
  const rels = rows.map((r) => r.rel).sort((a, b) => a - b);
  const report = [...rows]
    .sort((a, b) => b.rel - a.rel)
    .slice(0, 6)
    .map((r) => `  ${r.entry.weight} ${r.entry.matrix.toUpperCase()}[${r.entry.index}]: fd ${r.fd.toExponential(4)} trainer ${r.trained.toExponential(4)} rel ${r.rel.toExponential(2)}`)
    .join('\n');
  return { median: rels[Math.floor(rels.length / 2)], worst: rels[rels.length - 1], scale, report };
}
