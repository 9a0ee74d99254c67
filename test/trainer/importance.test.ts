/**
 * The optional importance weight (docs/sdpo.md: min(π_θ(y_t)/π_old(y_t), clip), stop-gradient)
 * against the float64 reference. The rollouts carry behaviour log-probs = the student's own
 * log-probs shifted per token by δ_t, so the ratios are exp(−δ_t): some above the clip (clipped),
 * some in (1, clip), some below 1. One plain-SGD step (lr 1) then gives
 *  - loss = (1/B) Σ_i (1/|y_i|) Σ_t w_t·D_t with w_t = min(exp(−δ_t), clip),
 *  - the gradient of that weighted loss (central finite differences on a few LoRA entries),
 *  - isWeightMean / isClipped over the response tokens;
 * and rollouts without behaviour log-probs keep weight 1. ~30 s.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NativeTrainer } from '../../src/trainer/native-trainer.js';
import type { TrainExample, TrainStepResult } from '../../src/trainer/types.js';
import { checkFixture, randomTokens as tokens, sgdConfig } from './check-fixture.js';
import { Rng } from './reference/fixtures.js';
import { LoraAdapter, type LoraEntry } from './reference/lora.js';
import type { ReferenceModel } from './reference/model.js';
import { studentLogSoftmax, teacherTargets, tokenDivergence, type LossSpec, type TeacherTargets } from './reference/sdpo.js';

const TOP_K = 5;
const CLIP = 2;
const FD_STEP = 1e-4;
const SPEC: LossSpec = { divergence: 'reverse_kl', jsdAlpha: 0.5 };
const SHIFTS = [-1.5, -0.3, 0.7, 0, -2.0, 0.2]; // ratios 4.48 (clipped), 1.35, 0.50, 1, 7.39 (clipped), 0.82

const dir = mkdtempSync(join(tmpdir(), 'ttsd-importance-'));
let reference: ReferenceModel;
let init: LoraAdapter;
let batch: TrainExample[];
let targets: TeacherTargets[];
let weights: number[][]; // w_t per rollout (1 where the rollout has no behaviour log-probs)
let result: TrainStepResult;
let stepped: LoraAdapter;

/** The importance-weighted batch loss of docs/sdpo.md for a given student adapter (targets fixed). */
function weightedLoss(adapter: LoraAdapter): number {
  let total = 0;
  batch.forEach((ex, i) => {
    const rows = studentLogSoftmax(reference, adapter, ex);
    let seq = 0;
    rows.forEach((row, t) => (seq += weights[i][t] * tokenDivergence(SPEC, row, targets[i], t, ex.response[t])));
    total += seq / rows.length;
  });
  return total / batch.length;
}

beforeAll(async () => {
  const fixture = await checkFixture(dir, 21);
  ({ init, reference } = fixture);
  const rng = new Rng(4242);
  const prompt = tokens(rng, 6);
  const withShifts: TrainExample = { studentPrompt: prompt, teacherPrompt: [...prompt, ...tokens(rng, 4)], response: tokens(rng, 12), masked: false };
  const without: TrainExample = { studentPrompt: tokens(rng, 5), teacherPrompt: tokens(rng, 8), response: tokens(rng, 7), masked: false };
  // behaviour log-probs: the student's own (float64 reference, which the trainer's F32 scores match to ~1e-6) + δ_t
  const own = studentLogSoftmax(reference, init, withShifts).map((row, t) => row[withShifts.response[t]]);
  const shifts = own.map((_, t) => SHIFTS[t % SHIFTS.length]);
  withShifts.behaviorLogprobs = own.map((l, t) => l + shifts[t]);
  batch = [withShifts, without];
  targets = batch.map((ex) => teacherTargets(reference, init, init, ex, TOP_K));
  weights = [shifts.map((d) => Math.min(Math.exp(-d), CLIP)), without.response.map(() => 1)];

  const config = sgdConfig(fixture, join(dir, 'state'), { topK: TOP_K, divergence: SPEC.divergence, isClip: CLIP, seed: 2 });
  const trainer = await NativeTrainer.start(config);
  try {
    result = await trainer.step(batch);
  } finally {
    await trainer.close();
  }
  stepped = LoraAdapter.read(result.adapterPath);
}, 300_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('importance weight min(π_θ/π_old, clip)', () => {
  it('weights each token of the loss by its clipped ratio; rollouts without behaviour log-probs by 1', () => {
    const want = weightedLoss(init);
    const unweighted = (() => {
      const saved = weights;
      weights = batch.map((ex) => ex.response.map(() => 1));
      const l = weightedLoss(init);
      weights = saved;
      return l;
    })();
    const rel = (x: number) => Math.abs(x - want) / want;
    const report = `trainer ${result.loss}, weighted ${want}, unweighted ${unweighted}`;
    expect(rel(result.loss), report).toBeLessThan(1e-4);
    expect(rel(unweighted), report).toBeGreaterThan(1e-2); // the weights matter on this batch
  });

  it('reports the mean weight and the clipped fraction over the response tokens', () => {
    const all = weights.flat();
    expect(result.tokens).toBe(all.length);
    expect(result.isWeightMean).toBeCloseTo(all.reduce((s, w) => s + w, 0) / all.length, 4);
    expect(result.isClipped).toBeCloseTo(SHIFTS.filter((d) => Math.exp(-d) > CLIP).length * 2 / all.length, 6);
  });

  it('takes the gradient of the weighted loss (weights are constants)', () => {
    const rng = new Rng(9);
    const pairs = [...init.pairs.values()];
    const entries: LoraEntry[] = [];
    for (const pick of [0, 5, 9, 13, 17, 20]) {
      const pair = pairs[pick % pairs.length];
      entries.push({ weight: pair.weight, matrix: 'a', index: rng.int(pair.a.length) });
      entries.push({ weight: pair.weight, matrix: 'b', index: rng.int(pair.b.length) });
    }
    const rows = entries.map((entry) => {
      const fd = (weightedLoss(init.perturbed(entry, FD_STEP)) - weightedLoss(init.perturbed(entry, -FD_STEP))) / (2 * FD_STEP);
      const trained = init.get(entry) - stepped.get(entry);
      return { entry, fd, trained };
    });
    const scale = Math.max(...rows.map((r) => Math.abs(r.fd)));
    expect(scale).toBeGreaterThan(0);
    for (const r of rows) {
      const err = Math.abs(r.trained - r.fd) / Math.max(Math.abs(r.fd), 1e-3 * scale);
      expect(err, `${r.entry.weight} ${r.entry.matrix}[${r.entry.index}]: fd ${r.fd} trainer ${r.trained}`).toBeLessThan(1e-2);
    }
  });
});
