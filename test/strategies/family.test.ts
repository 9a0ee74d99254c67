import { describe, expect, it } from 'vitest';
import { generationMessages, SOLUTION_HEADER } from '../../src/prompts/index.js';
import { bestOfK } from '../../src/strategies/best-of-k.js';
import { grpo, grpoAdvantages, grpoReward, GRPO_STD_EPS } from '../../src/strategies/grpo.js';
import { STRATEGIES } from '../../src/strategies/index.js';
import { recoverLearning } from '../../src/strategies/learning.js';
import { multiTurn } from '../../src/strategies/multi-turn.js';
import { opd } from '../../src/strategies/opd.js';
import { sdpo } from '../../src/strategies/sdpo.js';
import { ssd } from '../../src/strategies/ssd.js';
import type { TrainStepResult } from '../../src/trainer/types.js';
import { cellContext, defaultSettings, renderTokens, ScriptedSampler, ScriptedTrainer, task } from './scripted.js';

const byCall = (script: string[][]) => (call: number, n: number) => (script[call] ?? Array.from({ length: n }, (_, j) => `FAIL c${call}p${j}`)).slice(0, n);
const studentPrompt = renderTokens(generationMessages(task));
const withReference = { ...task, referenceSolution: 'print(42)\n' };

/** Float64 reference of the group advantages, written out independently of grpoAdvantages. */
function referenceAdvantages(r: number[], std: boolean): number[] {
  let sum = 0;
  for (const x of r) sum += x;
  const mean = sum / r.length;
  let ss = 0;
  for (const x of r) ss += (x - mean) ** 2;
  const sd = Math.sqrt(ss / (r.length - 1));
  return r.map((x) => (std ? (x - mean) / (sd + 1e-6) : x - mean));
}

describe('grpo', () => {
  it('advantages: group-normalised (sample std + 1e-6), Dr. GRPO without the std, null when all rewards are equal', () => {
    for (const rewards of [[1, 0, 0, 0], [0.5, 0.25, 1, 0], [1, 1, 0]]) {
      const got = grpoAdvantages(rewards, true)!;
      referenceAdvantages(rewards, true).forEach((want, i) => expect(got[i]).toBeCloseTo(want, 12));
      expect(grpoAdvantages(rewards, false)).toEqual(referenceAdvantages(rewards, false));
    }
    // one success in four: mean 0.25, sample std 0.5 → (1 − 0.25)/0.5 = 1.5, −0.5 for the failures
    expect(grpoAdvantages([1, 0, 0, 0], true)![0]).toBeCloseTo(0.75 / (0.5 + GRPO_STD_EPS), 12);
    expect(grpoAdvantages([0, 0, 0, 0], true)).toBeNull();
    expect(grpoAdvantages([1, 1], false)).toBeNull();
    expect(grpoAdvantages([0.5, 0.5, 0.5], true)).toBeNull();
  });

  it('reward: binary = all public tests; fraction = share passed (binary when the counts were not logged)', () => {
    expect(grpoReward({ reward: 0, publicPassed: 3, publicTotal: 4 }, 'binary')).toBe(0);
    expect(grpoReward({ reward: 0, publicPassed: 3, publicTotal: 4 }, 'fraction')).toBe(0.75);
    expect(grpoReward({ reward: 1 }, 'fraction')).toBe(1);
  });

  it('a step whose rewards are all equal makes no trainer call and is logged without signal; the adapter stays', async () => {
    // step 1: all fail (no signal); step 2: one public-only pass (signal); step 3: all fail again
    const sampler = new ScriptedSampler(byCall([['FAIL w', 'FAIL x', 'FAIL y', 'FAIL z'], ['PUBLIC', 'FAIL a', 'FAIL b', 'FAIL c']]), true);
    const trainer = new ScriptedTrainer();
    const { cell, recorded } = cellContext({ strategy: 'grpo', sampler, trainer, budget: 16, rollouts: 4 });
    await grpo.run(cell);
    expect(recorded.order.filter((o) => !o.startsWith('attempt'))).toEqual(['no_signal 1', 'train_step 2', 'no_signal 3']);
    expect(recorded.noSignal).toEqual([
      { step: 1, adapter: null },
      { step: 3, adapter: '/adapters/a1.gguf' },
    ]);
    expect(trainer.batches).toHaveLength(1);
    const batch = trainer.batches[0];
    expect(batch.map((e) => e.advantage)).toEqual(referenceAdvantages([1, 0, 0, 0], true).map((a) => expect.closeTo(a, 12)));
    // the importance ratio's π_old: the sampler's log-probs of each response token
    expect(batch.every((e) => !e.masked && e.behaviorLogprobs?.length === e.response.length)).toBe(true);
    expect(batch.every((e) => e.teacherPrompt === e.studentPrompt)).toBe(true);
    expect(sampler.calls.map((c) => c.adapter)).toEqual([null, null, '/adapters/a1.gguf', '/adapters/a1.gguf']);
    expect(trainer.batches.length + recorded.noSignal.length).toBe(3); // no training after the last step
  });

  it('Dr. GRPO (--grpo-std off) and the fraction reward reach the trainer', async () => {
    const sampler = new ScriptedSampler(byCall([['PUBLIC', 'FAIL a']]));
    const trainer = new ScriptedTrainer();
    const { cell } = cellContext({ strategy: 'grpo', sampler, trainer, budget: 4, rollouts: 2, settings: { ...defaultSettings, grpoStd: false } });
    await grpo.run(cell);
    expect(trainer.batches[0].map((e) => e.advantage)).toEqual([0.5, -0.5]);
    expect(grpo.trainerSettings!({ ...defaultSettings, pgClip: 0.3 })).toMatchObject({ loss: 'policy_gradient', pgClip: 0.3 });
    expect(grpo.sampling!(defaultSettings).logprobs).toBe(true);
  });

  it('resume: no-signal steps count as done, the trainer\'s update count decides the rest', () => {
    const trainSteps = new Map<number, { adapterPath: string | null; signal?: boolean }>([
      [1, { adapterPath: null, signal: false }],
      [2, { adapterPath: '/a1.gguf' }],
      [3, { adapterPath: '/a1.gguf', signal: false }],
    ]);
    const logged: number[] = [];
    const cell = { history: { attempts: new Map(), trainSteps }, recordTrainStep: (step: number) => void logged.push(step) };
    expect(recoverLearning(cell, { completedSteps: 1, lastResult: null })).toEqual({ done: 3, adapter: '/a1.gguf' });
    const result = { step: 2, adapterPath: '/a2.gguf' } as TrainStepResult;
    // saved but never logged: it was the step after the last logged one
    expect(recoverLearning(cell, { completedSteps: 2, lastResult: { result, masked: 0 } })).toEqual({ done: 4, adapter: '/a2.gguf' });
    expect(logged).toEqual([4]);
    expect(() => recoverLearning({ ...cell, history: { attempts: new Map(), trainSteps: new Map() } }, { completedSteps: 3, lastResult: null })).toThrow(/3 updates but the log holds 0/);
  });
});

describe('ssd', () => {
  it('fine-tunes with cross-entropy on every attempt of the step, unverified, weight 1', async () => {
    const sampler = new ScriptedSampler(byCall([['PUBLIC', 'FAIL a', 'SILENT']]));
    const trainer = new ScriptedTrainer();
    const { cell, recorded } = cellContext({ strategy: 'ssd', sampler, trainer, budget: 6, rollouts: 3 });
    await ssd.run(cell);
    expect(trainer.batches).toHaveLength(1);
    expect(trainer.batches[0].map((e) => [e.masked, e.advantage])).toEqual([[false, 1], [false, 1], [false, 1]]);
    expect(trainer.batches[0].map((e) => e.response.length)).toEqual([6, 6, 6]);
    expect(recorded.attempts).toHaveLength(6); // graded and counted like any other
    expect(ssd.trainerSettings!(defaultSettings).loss).toBe('cross_entropy');
  });

  it('samples at its own temperature and top-p (the run\'s by default)', () => {
    expect(ssd.sampling!(defaultSettings)).toMatchObject({ temperature: defaultSettings.temperature, topP: defaultSettings.topP });
    expect(ssd.sampling!({ ...defaultSettings, ssdTemperature: 1.6, ssdTopP: 0.8 })).toMatchObject({ temperature: 1.6, topP: 0.8, logprobs: false });
    expect(ssd.protocol({ ...defaultSettings, ssdTemperature: 1.6 }).settings).toMatchObject({ temperature: 1.6 });
  });
});

describe('opd and teacher contexts', () => {
  const teacherModel = '/models/teacher.gguf';
  const opdSettings = { ...defaultSettings, teacherModel };

  it('opd: the teacher model sees the plain prompt by default; nothing is masked', async () => {
    const sampler = new ScriptedSampler(byCall([['SILENT', 'FAIL a']]));
    const trainer = new ScriptedTrainer();
    const { cell } = cellContext({ strategy: 'opd', sampler, trainer, budget: 4, rollouts: 2, settings: opdSettings });
    await opd.run(cell);
    expect(trainer.batches[0].every((e) => !e.masked && e.teacherPrompt.join() === studentPrompt.join())).toBe(true);
    expect(opd.trainerSettings!(opdSettings)).toMatchObject({ loss: 'distill', teacherModel, teacher: 'frozen' });
    expect(opd.refuse!(defaultSettings)).toMatch(/opd needs --teacher-model/);
    expect(opd.refuse!(opdSettings)).toBeNull();
  });

  it('opd with --teacher-context feedback is SDPO with a bigger teacher (masked where there is nothing to see)', async () => {
    const sampler = new ScriptedSampler(byCall([['SILENT', 'FAIL boom']]));
    const trainer = new ScriptedTrainer();
    const { cell } = cellContext({ strategy: 'opd', sampler, trainer, budget: 4, rollouts: 2, settings: { ...opdSettings, teacherContext: 'feedback' } });
    await opd.run(cell);
    expect(trainer.batches[0].map((e) => e.masked)).toEqual([true, false]);
    expect(String.fromCodePoint(...trainer.batches[0][1].teacherPrompt)).toContain('boom');
  });

  it('--teacher-context reference: every teacher sees the task\'s reference solution; none: the question alone', async () => {
    for (const strategy of [sdpo, opd]) {
      const sampler = new ScriptedSampler(byCall([['SILENT', 'FAIL boom']]));
      const trainer = new ScriptedTrainer();
      const { cell } = cellContext({ strategy: strategy.name, sampler, trainer, budget: 4, rollouts: 2, task: withReference, settings: { ...opdSettings, teacherContext: 'reference' } });
      await strategy.run(cell);
      for (const example of trainer.batches[0]) {
        expect(example.masked).toBe(false);
        const text = String.fromCodePoint(...example.teacherPrompt);
        expect(text).toContain(`${SOLUTION_HEADER}\`\`\`python\nprint(42)\n\`\`\``);
        expect(text).not.toContain('boom');
      }
    }
    const sampler = new ScriptedSampler(byCall([['SILENT', 'FAIL boom']]));
    const trainer = new ScriptedTrainer();
    const { cell } = cellContext({ strategy: 'sdpo', sampler, trainer, budget: 4, rollouts: 2, settings: { ...defaultSettings, teacherContext: 'none', teacher: 'frozen' } });
    await sdpo.run(cell);
    expect(trainer.batches[0].every((e) => !e.masked && e.teacherPrompt.join() === studentPrompt.join())).toBe(true);
  });

  it('sdpo refuses a live teacher that sees nothing more than the student', () => {
    expect(sdpo.refuse!({ ...defaultSettings, teacher: 'live', teacherContext: 'none' })).toMatch(/no signal/);
    expect(sdpo.refuse!({ ...defaultSettings, teacher: 'live' })).toBeNull();
    expect(sdpo.trainerSettings!({ ...defaultSettings, teacher: 'frozen' })).toMatchObject({ loss: 'distill', teacher: 'frozen' });
  });
});

describe('traits', () => {
  it('every strategy records its traits; only best-of-k is a baseline of independent samples; learners build trainer settings', () => {
    const settings = { ...defaultSettings, teacherModel: '/t.gguf' };
    for (const strategy of STRATEGIES) {
      const p = strategy.protocol(settings, `${strategy.name}-v`);
      expect(p.variant).toBe(`${strategy.name}-v`);
      expect(p.strategy).toBe(strategy.name);
      expect(p.learns).toBe(strategy.needsTrainer);
      expect(strategy.trainerSettings !== undefined).toBe(strategy.needsTrainer);
      if (p.learns) expect(p.loss).toBe(strategy.trainerSettings!(settings).loss);
      else expect(p.loss).toBeNull();
    }
    expect(STRATEGIES.filter((s) => s.protocol(settings).independent)).toEqual([bestOfK]);
    expect(multiTurn.protocol(settings).independent).toBe(false);
    expect(sdpo.protocol(settings)).toMatchObject({ teacher: 'ema', teacher_context: 'feedback' });
    expect(opd.protocol(settings)).toMatchObject({ teacher: 'model', teacher_context: 'none' });
    expect(grpo.protocol(settings)).toMatchObject({ loss: 'policy_gradient', teacher: null });
  });
});
