/**
 * The losses without a teacher (policy_gradient, cross_entropy) of the REAL native trainer against
 * the float64 reference (test/trainer/reference/policy.ts): one plain-SGD step (lr 1) from the
 * fixture's adapter on the F32 tiny qwen2, then
 *  - the trainer's loss equals the reference loss;
 *  - grad = init − new equals central finite differences of the reference loss on one A and one
 *    B entry of every LoRA pair;
 *  - policy_gradient: isWeightMean = the mean ratio, isClipped = the fraction where the clip binds;
 *    klBefore/klAfter are NaN (no teacher).
 * The policy-gradient batch has ratios ≠ 1 from behaviour log-probs (the student's own shifted per
 * token), clipped tokens on both sides (A > 0 with r > 1+ε, A < 0 with r < 1−ε), unclipped tokens
 * outside the range on the other sides, negative and positive advantages (per rollout and per
 * token), a rollout without behaviour log-probs (r = 1) and a masked one. The cross-entropy batch
 * has token weights, a rollout weight and a default-weight rollout. No teacher prompt is read: the
 * examples' teacher prompts are empty. ~2 min on 2 busy cores.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NativeTrainer } from '../../src/trainer/native-trainer.js';
import type { TrainExample, TrainStepResult } from '../../src/trainer/types.js';
import { checkFixture, compareGradients, entriesOfEveryPair, finiteDifferences, randomTokens as tokens, sgdConfig, type CheckFixture } from './check-fixture.js';
import { Rng } from './reference/fixtures.js';
import { LoraAdapter, type LoraEntry } from './reference/lora.js';
import { policyLoss, ppoTerm, responseLogprobs, tokenAdvantages, type PolicyLoss } from './reference/policy.js';

const CLIP = 0.2;
const PG: PolicyLoss = { loss: 'policy_gradient', clip: CLIP };
const CE: PolicyLoss = { loss: 'cross_entropy' };
// log π_old − log π_θ per token: ratios exp(−δ) = 1.65, 0.61, 0.90, 1.11, 2.46, 0.45, 1
const SHIFTS = [-0.5, 0.5, 0.1, -0.1, -0.9, 0.8, 0];

const dir = mkdtempSync(join(tmpdir(), 'ttsd-policy-'));
let fixture: CheckFixture;
let entries: LoraEntry[];

beforeAll(async () => {
  fixture = await checkFixture(dir, 31);
  entries = entriesOfEveryPair(fixture.init, new Rng(8));
}, 300_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function oneStep(loss: 'policy_gradient' | 'cross_entropy', batch: TrainExample[], name: string): Promise<TrainStepResult> {
  const trainer = await NativeTrainer.start(sgdConfig(fixture, join(dir, name), { loss, ...(loss === 'policy_gradient' ? { pgClip: CLIP } : {}), seed: 4 }));
  try {
    return await trainer.step(batch);
  } finally {
    await trainer.close();
  }
}

function relative(got: number, want: number): number {
  return Math.abs(got - want) / Math.abs(want);
}

describe('policy_gradient (PPO clip) vs float64 reference', () => {
  let batch: TrainExample[];
  let heldOld: (number[] | undefined)[];
  let result: TrainStepResult;
  let stepped: LoraAdapter;

  beforeAll(async () => {
    const rng = new Rng(606);
    const shifted = (ex: TrainExample, offset: number) => {
      const own = responseLogprobs(fixture.reference, fixture.init, ex);
      return own.map((l, t) => l + SHIFTS[(t + offset) % SHIFTS.length]!);
    };
    const a: TrainExample = { studentPrompt: tokens(rng, 6), teacherPrompt: [], response: tokens(rng, 7), masked: false, advantage: 1.3 };
    a.behaviorLogprobs = shifted(a, 0);
    const b: TrainExample = { studentPrompt: tokens(rng, 5), teacherPrompt: [], response: tokens(rng, 7), masked: false, advantage: 5 };
    b.behaviorLogprobs = shifted(b, 0);
    b.tokenWeights = [-0.8, -1.1, -1.5, 0.4, -0.6, -0.9, 0.7]; // override the rollout's advantage token by token
    const noBehaviour: TrainExample = { studentPrompt: tokens(rng, 4), teacherPrompt: [], response: tokens(rng, 5), masked: false, advantage: -0.7 };
    const masked: TrainExample = { studentPrompt: tokens(rng, 4), teacherPrompt: [], response: tokens(rng, 3), masked: true, advantage: 2 };
    batch = [a, masked, b, noBehaviour];
    heldOld = batch.map((ex) => (ex === noBehaviour ? responseLogprobs(fixture.reference, fixture.init, ex) : undefined));
    result = await oneStep('policy_gradient', batch, 'pg');
    stepped = LoraAdapter.read(result.adapterPath);
  }, 300_000);

  it('has clipped tokens on both sides, and unclipped ones outside the range (the batch exercises every branch)', () => {
    const cases = new Set<string>();
    for (const ex of batch.filter((e) => !e.masked && e.behaviorLogprobs)) {
      const own = responseLogprobs(fixture.reference, fixture.init, ex);
      const adv = tokenAdvantages(PG, ex);
      own.forEach((l, t) => {
        const term = ppoTerm(l, ex.behaviorLogprobs![t]!, adv[t]!, CLIP);
        const side = term.ratio > 1 + CLIP ? 'above' : term.ratio < 1 - CLIP ? 'below' : 'inside';
        cases.add(`${adv[t]! > 0 ? 'A>0' : 'A<0'} ${side} ${term.clipped ? 'clipped' : 'unclipped'}`);
      });
    }
    for (const c of ['A>0 above clipped', 'A<0 below clipped', 'A>0 below unclipped', 'A<0 above unclipped', 'A>0 inside unclipped', 'A<0 inside unclipped']) {
      expect(cases, c).toContain(c);
    }
  });

  it('reports the loss of the definition, NaN KLs, the mean ratio and the clipped fraction', () => {
    const want = policyLoss(fixture.reference, fixture.init, batch, PG, heldOld);
    expect(result.skipped).toBe(false);
    expect(Math.abs(want)).toBeGreaterThan(1e-2);
    console.log(`policy_gradient loss: trainer ${result.loss}, reference ${want}, rel ${relative(result.loss, want).toExponential(2)}`);
    expect(relative(result.loss, want), `trainer ${result.loss}, reference ${want}`).toBeLessThan(1e-4);
    expect(result.klBefore).toBeNaN();
    expect(result.klAfter).toBeNaN();
    const terms = batch.flatMap((ex, i) => {
      if (ex.masked) return [];
      const own = responseLogprobs(fixture.reference, fixture.init, ex);
      const old = ex.behaviorLogprobs ?? heldOld[i]!;
      const adv = tokenAdvantages(PG, ex);
      return own.map((l, t) => ppoTerm(l, old[t]!, adv[t]!, CLIP));
    });
    expect(result.tokens).toBe(terms.length);
    expect(result.isWeightMean).toBeCloseTo(terms.reduce((s, t) => s + t.ratio, 0) / terms.length, 4);
    expect(result.isClipped).toBeCloseTo(terms.filter((t) => t.clipped).length / terms.length, 6);
  });

  it('takes the gradient of the PPO-clipped loss on every projection of every layer (median ≤ 1e-3, worst ≤ 1e-2)', () => {
    const [fd] = finiteDifferences(fixture.init, entries, (adapter) => [policyLoss(fixture.reference, adapter, batch, PG, heldOld)]);
    const c = compareGradients(fixture.init, stepped, entries, fd!);
    console.log(`gradcheck policy_gradient: ${entries.length} entries, |g| max ${c.scale.toExponential(2)}, median rel ${c.median.toExponential(2)}, worst ${c.worst.toExponential(2)}\n${c.report}`);
    expect(c.scale).toBeGreaterThan(1e-4);
    expect(c.median, c.report).toBeLessThanOrEqual(1e-3);
    expect(c.worst, c.report).toBeLessThanOrEqual(1e-2);
  });
});

describe('cross_entropy (weighted NLL) vs float64 reference', () => {
  let batch: TrainExample[];
  let result: TrainStepResult;
  let stepped: LoraAdapter;

  beforeAll(async () => {
    const rng = new Rng(707);
    batch = [
      { studentPrompt: tokens(rng, 6), teacherPrompt: [], response: tokens(rng, 6), masked: false, advantage: 9, tokenWeights: [1, 0.25, 0, 2, -0.5, 1.5] },
      { studentPrompt: tokens(rng, 5), teacherPrompt: [], response: tokens(rng, 4), masked: true },
      { studentPrompt: tokens(rng, 5), teacherPrompt: [], response: tokens(rng, 5), masked: false, advantage: 0.5 },
      { studentPrompt: tokens(rng, 4), teacherPrompt: [], response: tokens(rng, 5), masked: false }, // weight 1
    ];
    result = await oneStep('cross_entropy', batch, 'ce');
    stepped = LoraAdapter.read(result.adapterPath);
  }, 300_000);

  it('reports the loss of the definition and NaN KLs', () => {
    const want = policyLoss(fixture.reference, fixture.init, batch, CE);
    expect(result.skipped).toBe(false);
    console.log(`cross_entropy loss: trainer ${result.loss}, reference ${want}, rel ${relative(result.loss, want).toExponential(2)}`);
    expect(relative(result.loss, want), `trainer ${result.loss}, reference ${want}`).toBeLessThan(1e-4);
    // the weights matter: the unweighted NLL is far from it
    const plain = policyLoss(fixture.reference, fixture.init, batch.map((ex) => ({ ...ex, advantage: undefined, tokenWeights: undefined })), CE);
    expect(relative(plain, want)).toBeGreaterThan(1e-2);
    expect(result.klBefore).toBeNaN();
    expect(result.isWeightMean).toBe(1);
    expect(result.isClipped).toBe(0);
  });

  it('takes the gradient of the weighted NLL on every projection of every layer (median ≤ 1e-3, worst ≤ 1e-2)', () => {
    const [fd] = finiteDifferences(fixture.init, entries, (adapter) => [policyLoss(fixture.reference, adapter, batch, CE)]);
    const c = compareGradients(fixture.init, stepped, entries, fd!);
    console.log(`gradcheck cross_entropy: ${entries.length} entries, |g| max ${c.scale.toExponential(2)}, median rel ${c.median.toExponential(2)}, worst ${c.worst.toExponential(2)}\n${c.report}`);
    expect(c.scale).toBeGreaterThan(1e-4);
    expect(c.median, c.report).toBeLessThanOrEqual(1e-3);
    expect(c.worst, c.report).toBeLessThanOrEqual(1e-2);
  });
});
