/**
 * The distill loss's teachers beyond 'ema' / 'trust_region', against the float64 reference:
 *  - teacherModel (on-policy distillation from a second model): a wider qwen2 with the student's
 *    vocabulary scores the teacher prompts with no adapter; for every divergence one plain-SGD step
 *    gives the loss of the definition and a gradient equal to central finite differences of the
 *    reference loss (one A and one B entry of every LoRA pair);
 *  - 'frozen': the student's base model without any adapter scores the teacher side (step 1
 *    already differs from the EMA teacher, which starts at the student's adapter);
 *  - 'live': the student before the step (step 2's teacher is step 1's adapter, not an EMA of it);
 *  - refusals at init, one line each: a teacher model with another vocabulary, teacherModel with a
 *    teacher other than 'frozen' or with a loss that has no teacher; and at the step: a
 *    policy-gradient example without an advantage.
 * ~3 min on 2 busy cores.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NativeTrainer } from '../../src/trainer/native-trainer.js';
import type { TrainerConfig, TrainExample, TrainStepResult } from '../../src/trainer/types.js';
import { tinyModel, tinyTeacherModel } from '../helpers/models.js';
import { checkFixture, compareGradients, entriesOfEveryPair, finiteDifferences, randomTokens as tokens, sgdConfig, type CheckFixture } from './check-fixture.js';
import { Rng } from './reference/fixtures.js';
import { LoraAdapter, type LoraEntry } from './reference/lora.js';
import { ReferenceModel } from './reference/model.js';
import { batchLosses, responseRows, studentLogSoftmax, targetsFromRows, type LossSpec, type TeacherTargets } from './reference/sdpo.js';

const TOP_K = 5;
const SPECS: LossSpec[] = [
  { divergence: 'reverse_kl', jsdAlpha: 0.5 },
  { divergence: 'forward_kl', jsdAlpha: 0.5 },
  { divergence: 'jsd', jsdAlpha: 0.5 },
  { divergence: 'sampled_token', jsdAlpha: 0.5 },
];

const dir = mkdtempSync(join(tmpdir(), 'ttsd-teachers-'));
let fixture: CheckFixture;
let teacherPath: string;
let batch: TrainExample[];

beforeAll(async () => {
  fixture = await checkFixture(dir, 41);
  teacherPath = await tinyTeacherModel();
  const rng = new Rng(515);
  const prompt = tokens(rng, 6);
  batch = [
    { studentPrompt: prompt, teacherPrompt: [...prompt.slice(0, 3), ...tokens(rng, 4), ...prompt.slice(3)], response: tokens(rng, 8), masked: false },
    { studentPrompt: tokens(rng, 4), teacherPrompt: tokens(rng, 6), response: tokens(rng, 5), masked: true },
    { studentPrompt: tokens(rng, 5), teacherPrompt: tokens(rng, 7), response: tokens(rng, 7), masked: false },
  ];
}, 300_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Teacher rows of every unmasked rollout on its teacher prompt, from `model` + `adapter`. */
function teacherRows(model: ReferenceModel, adapter: LoraAdapter | undefined, ex: TrainExample): Float64Array[] {
  return model.logSoftmaxRows([...ex.teacherPrompt, ...ex.response], responseRows(ex.teacherPrompt.length, ex.response.length), adapter);
}

function targetsWith(student: LoraAdapter, teacher: (ex: TrainExample) => Float64Array[]): (TeacherTargets | undefined)[] {
  return batch.map((ex) => {
    if (ex.masked) return undefined;
    const t = targetsFromRows(studentLogSoftmax(fixture.reference, student, ex), teacher(ex), ex.response, TOP_K);
    // the trainer picks its own top-K ids in f32: no near ties at the K-th place
    expect(Math.min(...t.topKGap)).toBeGreaterThan(1e-4);
    return t;
  });
}

function relative(got: number, want: number): number {
  return Math.abs(got - want) / Math.abs(want);
}

async function steps(overrides: Partial<TrainerConfig>, name: string, n: number): Promise<TrainStepResult[]> {
  const trainer = await NativeTrainer.start(sgdConfig(fixture, join(dir, name), { topK: TOP_K, seed: 6, ...overrides }));
  try {
    const out: TrainStepResult[] = [];
    for (let i = 0; i < n; i++) out.push(await trainer.step(batch));
    return out;
  } finally {
    await trainer.close();
  }
}

describe('distillation from a second model (teacherModel)', () => {
  let entries: LoraEntry[];
  let loss: number[];
  let fd: number[][];

  beforeAll(() => {
    const teacher = ReferenceModel.load(teacherPath);
    expect(teacher.config.embd).not.toBe(fixture.reference.config.embd); // really another model
    const targets = targetsWith(fixture.init, (ex) => teacherRows(teacher, undefined, ex));
    entries = entriesOfEveryPair(fixture.init, new Rng(12));
    loss = batchLosses(fixture.reference, fixture.init, batch, targets, SPECS);
    fd = finiteDifferences(fixture.init, entries, (adapter) => batchLosses(fixture.reference, adapter, batch, targets, SPECS));
  }, 600_000);

  it.each(SPECS.map((spec, index) => ({ ...spec, index })))('$divergence: the loss and the gradient of the definition with the teacher model', async (spec) => {
    const [result] = await steps({ divergence: spec.divergence, jsdAlpha: spec.jsdAlpha, teacher: 'frozen', teacherModel: teacherPath }, `opd-${spec.divergence}`, 1);
    expect(result!.skipped).toBe(false);
    const want = loss[spec.index]!;
    expect(want).toBeGreaterThan(1e-3);
    const c = compareGradients(fixture.init, LoraAdapter.read(result!.adapterPath), entries, fd[spec.index]!);
    console.log(
      `gradcheck teacherModel ${spec.divergence}: loss rel ${relative(result!.loss, want).toExponential(2)}; ${entries.length} entries, ` +
        `|g| max ${c.scale.toExponential(2)}, median rel ${c.median.toExponential(2)}, worst ${c.worst.toExponential(2)}\n${c.report}`,
    );
    expect(relative(result!.loss, want), `trainer ${result!.loss}, reference ${want}`).toBeLessThan(1e-4);
    expect(c.median, c.report).toBeLessThanOrEqual(1e-3);
    expect(c.worst, c.report).toBeLessThanOrEqual(1e-2);
  }, 300_000);
});

describe('teacher kinds frozen and live', () => {
  const SPEC = SPECS[0]!;

  it('frozen: the base model without an adapter is the teacher', async () => {
    const [result] = await steps({ teacher: 'frozen' }, 'frozen', 1);
    const [want] = batchLosses(fixture.reference, fixture.init, batch, targetsWith(fixture.init, (ex) => teacherRows(fixture.reference, undefined, ex)), [SPEC]);
    const [withAdapter] = batchLosses(fixture.reference, fixture.init, batch, targetsWith(fixture.init, (ex) => teacherRows(fixture.reference, fixture.init, ex)), [SPEC]);
    const report = `trainer ${result!.loss}, frozen ${want}, teacher with the student's adapter ${withAdapter}`;
    console.log(`teacher frozen: ${report}, rel ${relative(result!.loss, want!).toExponential(2)}`);
    expect(relative(result!.loss, want!), report).toBeLessThan(1e-4);
    expect(relative(withAdapter!, want!), report).toBeGreaterThan(1e-2); // the check tells the teachers apart
  });

  it('live: the student before the step is the teacher (step 2 scores with step 1 adapter)', async () => {
    const [step1, step2] = await steps({ teacher: 'live', lr: 2 }, 'live', 2);
    const student1 = LoraAdapter.read(step1!.adapterPath);
    const [want] = batchLosses(fixture.reference, student1, batch, targetsWith(student1, (ex) => teacherRows(fixture.reference, student1, ex)), [SPEC]);
    // what an EMA teacher (η 0.01 from the starting adapter) would have given instead
    const [initTeacher] = batchLosses(fixture.reference, student1, batch, targetsWith(student1, (ex) => teacherRows(fixture.reference, fixture.init, ex)), [SPEC]);
    const report = `trainer ${step2!.loss}, live ${want}, starting-adapter teacher ${initTeacher}`;
    console.log(`teacher live: ${report}, rel ${relative(step2!.loss, want!).toExponential(2)}`);
    expect(relative(step2!.loss, want!), report).toBeLessThan(1e-4);
    expect(relative(initTeacher!, want!), report).toBeGreaterThan(1e-3);
  });
});

describe('refusals', () => {
  const start = (overrides: Partial<TrainerConfig>) => NativeTrainer.start(sgdConfig(fixture, join(dir, `refused-${Math.random().toString(36).slice(2)}`), overrides));

  it('refuses a teacher model with another vocabulary, in one line', async () => {
    const other = await tinyModel({ arch: 'llama' });
    const error = await start({ teacher: 'frozen', teacherModel: other }).catch((e: Error) => e);
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toMatch(/does not share the student's vocabulary/);
    expect((error as Error).message).not.toContain('\n');
  });

  it('refuses teacherModel with a teacher other than frozen, or with a loss that has no teacher', async () => {
    await expect(start({ teacher: 'ema', teacherModel: teacherPath })).rejects.toThrow(/needs teacher frozen/);
    await expect(start({ loss: 'policy_gradient', teacher: 'frozen', teacherModel: teacherPath })).rejects.toThrow(/teacherModel needs loss distill/);
    await expect(start({ loss: 'cross_entropy', isClip: 2 })).rejects.toThrow(/isClip weights the distill loss only/);
    await expect(start({ teacher: 'stale' as never })).rejects.toThrow(/unknown teacher stale/);
  });

  it('refuses a policy-gradient example without an advantage', async () => {
    const trainer = await start({ loss: 'policy_gradient' });
    try {
      await expect(trainer.step([{ ...batch[0]!, teacherPrompt: [] }])).rejects.toThrow(/needs an advantage or token weights/);
    } finally {
      await trainer.close();
    }
  });
});
