/**
 * The trust-region teacher (docs/sdpo.md: teacher logits = lerp(reference logits, student
 * logits, η), both on the teacher context) against the float64 reference. At step 1 the student
 * is the reference adapter, so the teacher is indistinguishable from an EMA one; the check is at
 * step 2, after the student has moved:
 *  - the trainer's loss equals the reference loss with lerp(ref, student-after-step-1, η) targets;
 *  - it does NOT equal the loss with the EMA teacher ((1−η)·init + η·student adapter), so the
 *    test tells the two teachers apart;
 *  - the saved teacher adapter is still the reference (init) adapter, bit for bit.
 * ~20 s.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NativeTrainer } from '../../src/trainer/native-trainer.js';
import type { TrainExample, TrainStepResult } from '../../src/trainer/types.js';
import { checkFixture, randomTokens as tokens, sgdConfig } from './check-fixture.js';
import { Rng } from './reference/fixtures.js';
import { LoraAdapter, type LoraPair } from './reference/lora.js';
import type { ReferenceModel } from './reference/model.js';
import { batchLosses, responseRows, studentLogSoftmax, targetsFromRows, type LossSpec, type TeacherTargets } from './reference/sdpo.js';

const TOP_K = 5;
const ETA = 0.3; // large, so that the trust-region and EMA teachers differ clearly after one step
const SPEC: LossSpec = { divergence: 'reverse_kl', jsdAlpha: 0.5 };

const dir = mkdtempSync(join(tmpdir(), 'ttsd-trust-region-'));
let reference: ReferenceModel;
let init: LoraAdapter;
let batch: TrainExample[];
let trainer: NativeTrainer;
let step1: TrainStepResult;
let step2: TrainStepResult;

/** Per-row log-softmax of the lerp of two log-softmax rows (a per-row shift does not change it). */
function lerpRows(from: Float64Array[], to: Float64Array[], eta: number): Float64Array[] {
  return from.map((row, t) => {
    const mixed = row.map((x, v) => x + eta * (to[t][v] - x));
    let max = -Infinity;
    for (const x of mixed) max = Math.max(max, x);
    let sum = 0;
    for (const x of mixed) sum += Math.exp(x - max);
    const lse = max + Math.log(sum);
    return mixed.map((x) => x - lse);
  });
}

function teacherRows(adapter: LoraAdapter, ex: TrainExample): Float64Array[] {
  return reference.logSoftmaxRows([...ex.teacherPrompt, ...ex.response], responseRows(ex.teacherPrompt.length, ex.response.length), adapter);
}

function emaOf(a: LoraAdapter, b: LoraAdapter, eta: number): LoraAdapter {
  const pairs = new Map<string, LoraPair>();
  for (const [weight, pa] of a.pairs) {
    const pb = b.pairs.get(weight)!;
    const mix = (x: Float64Array, y: Float64Array) => x.map((v, i) => (1 - eta) * v + eta * y[i]);
    pairs.set(weight, { ...pa, a: mix(pa.a, pb.a), b: mix(pa.b, pb.b) });
  }
  return new LoraAdapter(a.alpha, pairs);
}

beforeAll(async () => {
  const fixture = await checkFixture(dir, 11);
  ({ init, reference } = fixture);
  const rng = new Rng(77);
  const prompt = tokens(rng, 6);
  batch = [
    { studentPrompt: prompt, teacherPrompt: [...prompt.slice(0, 3), ...tokens(rng, 5), ...prompt.slice(3)], response: tokens(rng, 8), masked: false },
    { studentPrompt: tokens(rng, 5), teacherPrompt: tokens(rng, 9), response: tokens(rng, 6), masked: false },
  ];
  const config = sgdConfig(fixture, join(dir, 'state'), { lr: 2, topK: TOP_K, divergence: SPEC.divergence, teacher: 'trust_region', ema: ETA, seed: 3 });
  trainer = await NativeTrainer.start(config);
  step1 = await trainer.step(batch);
  step2 = await trainer.step(batch);
  await trainer.save();
}, 300_000);

afterAll(async () => {
  await trainer?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('trust-region teacher', () => {
  it('scores step 2 with lerp(reference, student, η) logits on the teacher context, not with an EMA adapter', () => {
    const student1 = LoraAdapter.read(step1.adapterPath);
    const trustTargets: TeacherTargets[] = batch.map((ex) =>
      targetsFromRows(studentLogSoftmax(reference, student1, ex), lerpRows(teacherRows(init, ex), teacherRows(student1, ex), ETA), ex.response, TOP_K),
    );
    for (const t of trustTargets) expect(Math.min(...t.topKGap)).toBeGreaterThan(1e-4); // no near ties at the K-th id (the trainer scores in F32)
    const ema = emaOf(init, student1, ETA);
    const emaTargets = batch.map((ex) =>
      targetsFromRows(studentLogSoftmax(reference, student1, ex), teacherRows(ema, ex), ex.response, TOP_K),
    );
    const [want] = batchLosses(reference, student1, batch, trustTargets, [SPEC]);
    const [emaLoss] = batchLosses(reference, student1, batch, emaTargets, [SPEC]);
    const rel = (x: number) => Math.abs(x - want) / Math.abs(want);
    expect(step2.skipped).toBe(false);
    const report = `trainer ${step2.loss}, trust region ${want} (rel ${rel(step2.loss).toExponential(2)}), EMA ${emaLoss} (rel ${rel(emaLoss).toExponential(2)})`;
    console.log(report);
    expect(rel(step2.loss), report).toBeLessThan(1e-4);
    // the EMA teacher's loss is at least 10× farther away than the tolerance: the check tells them apart
    expect(rel(emaLoss), report).toBeGreaterThan(1e-3);
  });

  it('keeps the teacher adapter at the reference adapter', () => {
    const teacher = LoraAdapter.read(join(dir, 'state', 'state', 'teacher.gguf'));
    for (const [weight, pair] of init.pairs) {
      const saved = teacher.pairs.get(weight)!;
      expect(Array.from(saved.a), `${weight} A`).toEqual(Array.from(pair.a.map(Math.fround)));
      expect(Array.from(saved.b), `${weight} B`).toEqual(Array.from(pair.b.map(Math.fround)));
    }
    // and the student did move
    const student2 = LoraAdapter.read(step2.adapterPath);
    const moved = [...init.pairs].some(([weight, pair]) => student2.pairs.get(weight)!.b.some((v, i) => v !== Math.fround(pair.b[i])));
    expect(moved).toBe(true);
  });
});
