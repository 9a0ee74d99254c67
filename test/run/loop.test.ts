import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { resolveConfig } from '../../src/run/config.js';
import type { RunEvent } from '../../src/run/events.js';
import { historyFromEvents } from '../../src/run/history.js';
import { cellsOf, runSearch, trainerStateDir } from '../../src/run/loop.js';
import type { Progress } from '../../src/run/progress.js';
import { RunStore } from '../../src/run/store.js';
import { STRATEGY_NAMES } from '../../src/strategies/index.js';
import type { Task } from '../../src/tasks/types.js';
import type { TrainerConfig } from '../../src/trainer/types.js';
import { task } from '../strategies/scripted.js';
import { CountingTrainer, DeterministicSampler, scriptedServices } from './scripted-services.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ttsd-loop-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const tasks: Task[] = [task, { ...task, id: 'toy2' }];
const config = resolveConfig({ model: 'm.gguf', budget: 10, rollouts: 3, seeds: [0, 1], 'context-size': 512, 'max-tokens': 64, 'parallel-cells': 3 }, {}, STRATEGY_NAMES);
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Ev = Record<string, any>;
const quiet: Progress = { start() {}, attempt() {}, trainStep() {}, cellDone() {}, finish() {} };

async function search(dir: string, events: Ev[] = []) {
  const store = events.length ? RunStore.open(dir).store : RunStore.create(dir);
  if (!events.length) store.append({ type: 'run', version: 1, budget: config.budget, strategies: config.strategies, seeds: config.seeds, tasks: tasks.map((t) => t.id) });
  const services = scriptedServices();
  await runSearch({ config, tasks, runDir: dir, store, history: historyFromEvents(events as RunEvent[], dir), services, progress: quiet });
  store.close();
  const reopened = RunStore.open(dir);
  reopened.store.close();
  return { events: reopened.events as Ev[], services };
}
const attemptKeys = (events: Ev[]) => events.filter((e) => e.type === 'attempt').map((e) => `${e.task}/${e.strategy}/${e.seed}/${e.k}`);

describe('run loop', () => {
  it('orders cells seed-major so neighbours are different strategies', () => {
    const cells = cellsOf(tasks, ['best-of-k', 'sdpo'], [0, 1]).map((c) => `${c.seed}:${c.task.id}:${c.strategy}`);
    expect(cells).toEqual(['0:toy:best-of-k', '0:toy:sdpo', '0:toy2:best-of-k', '0:toy2:sdpo', '1:toy:best-of-k', '1:toy:sdpo', '1:toy2:best-of-k', '1:toy2:sdpo']);
  });

  it('runs every cell, closes each with cell_done and ends with utilisation and run_done', async () => {
    const dir = path.join(tmp, 'full');
    const { events, services } = await search(dir);
    const done = events.filter((e) => e.type === 'cell_done');
    expect(done).toHaveLength(2 * 3 * 2);
    const keys = attemptKeys(events);
    expect(new Set(keys).size).toBe(keys.length);
    for (const cell of done) {
      const ks = events.filter((e) => e.type === 'attempt' && e.task === cell.task && e.strategy === cell.strategy && e.seed === cell.seed).map((e) => e.k as number).sort((a, b) => a - b);
      expect(ks).toEqual(Array.from({ length: cell.attempts as number }, (_, i) => i + 1));
      const discoveries = events.filter((e) => e.type === 'attempt' && e.task === cell.task && e.strategy === cell.strategy && e.seed === cell.seed && e.reward === 1 && e.private_reward === 1);
      expect(cell.discovery_k).toBe(discoveries.length ? Math.min(...discoveries.map((e) => e.k as number)) : null);
    }
    // Interleaved SDPO cells share one sampler: every attempt was sampled with its own cell's adapter.
    for (const e of events.filter((e) => e.type === 'attempt' && e.strategy === 'sdpo' && String(e.text).startsWith('FAIL'))) {
      expect(String(e.text).endsWith(`adapter ${e.adapter === null ? null : path.resolve(dir, e.adapter)}`)).toBe(true);
      const step = e.step as number;
      const trained = events.find((t) => t.type === 'train_step' && t.task === e.task && t.seed === e.seed && t.step === step - 1);
      expect(e.adapter ?? null).toBe(step === 1 ? null : trained?.adapter);
    }
    expect(services.sampler.adapterAtSample.some((a) => a !== null)).toBe(true);
    const [utilisation, runDone] = events.slice(-2);
    expect(utilisation.type).toBe('utilisation');
    expect(utilisation.sampler).toBeGreaterThan(0);
    expect(utilisation.grade_slot_ms).toBeGreaterThanOrEqual(utilisation.grade_ms as number);
    expect(runDone).toMatchObject({ type: 'run_done', cells: 12, attempts: keys.length });
  });

  it('resuming from any prefix of the log yields the same attempts, none twice', async () => {
    const reference = attemptKeys((await search(path.join(tmp, 'reference'))).events).sort();
    const full = (await search(path.join(tmp, 'again'))).events;
    expect(attemptKeys(full).sort()).toEqual(reference); // deterministic
    const cuts = [1, 2, 5, 17, Math.floor(full.length / 2), full.length - 3, full.length - 2];
    for (const cut of cuts) {
      const dir = path.join(tmp, `cut-${cut}`);
      fs.mkdirSync(dir);
      const prefix = full.slice(0, cut);
      fs.writeFileSync(path.join(dir, 'events.jsonl'), prefix.map((e) => JSON.stringify(e) + '\n').join('') + '{"type":"atte');
      // SDPO trainer state as it was at the cut: its step count = the train steps logged so far.
      for (const e of prefix.filter((e) => e.type === 'train_step')) {
        const stateDir = path.join(dir, 'trainer', `${e.task}__seed${e.seed}`);
        fs.mkdirSync(stateDir, { recursive: true });
        fs.writeFileSync(path.join(stateDir, 'count'), String(e.step));
      }
      const resumed = (await search(dir, prefix)).events;
      const keys = attemptKeys(resumed);
      expect(new Set(keys).size, `cut ${cut}`).toBe(keys.length);
      expect(keys.sort(), `cut ${cut}`).toEqual(reference);
      expect(resumed.filter((e) => e.type === 'cell_done')).toHaveLength(12);
      expect(resumed.filter((e) => e.type === 'train_step').map((e) => `${e.task}/${e.seed}/${e.step}`).sort()).toEqual(
        full.filter((e) => e.type === 'train_step').map((e) => `${e.task}/${e.seed}/${e.step}`).sort(),
      );
    }
  });
});

describe('run loop: the family and its variants', () => {
  const family = resolveConfig(
    {
      model: 'm.gguf', budget: 9, rollouts: 3, seeds: [0], 'context-size': 512, 'max-tokens': 64, 'parallel-cells': 3,
      strategies: 'best-of-k,sdpo,grpo,ssd,opd', 'teacher-model': '/models/teacher.gguf',
      variants: [{ label: 'sdpo-frozen', strategy: 'sdpo', teacher: 'frozen', lr: 3e-4 }, { label: 'ssd-hot', strategy: 'ssd', 'ssd-temperature': 1.7, 'ssd-top-p': 0.9 }],
    },
    {},
    STRATEGY_NAMES,
  );

  it('runs every variant as its own cells with its own trainer settings, state and sampling; grpo steps without signal are logged, untrained', async () => {
    const dir = path.join(tmp, 'family');
    const store = RunStore.create(dir);
    store.append({ type: 'run', version: 1, budget: family.budget, strategies: ['best-of-k', 'sdpo', 'grpo', 'ssd', 'opd', 'sdpo-frozen', 'ssd-hot'], seeds: family.seeds, tasks: [task.id] });
    // passEvery 1000: nothing passes, so every grpo group has equal rewards
    const services = scriptedServices(new DeterministicSampler(1000));
    CountingTrainer.started.length = 0;
    await runSearch({ config: family, tasks: [task], runDir: dir, store, history: historyFromEvents([], dir), services, progress: quiet });
    store.close();
    const events = RunStore.open(dir).events as Ev[];
    const labels = ['best-of-k', 'sdpo', 'grpo', 'ssd', 'opd', 'sdpo-frozen', 'ssd-hot'];
    expect(events.filter((e) => e.type === 'cell_done').map((e) => e.strategy).sort()).toEqual([...labels].sort());
    for (const label of labels) expect(events.filter((e) => e.type === 'attempt' && e.strategy === label)).toHaveLength(9);
    // trainers: one per learning variant, each in its own state directory, each with its strategy's loss
    const started = new Map(CountingTrainer.started.map((c) => [path.basename(c.stateDir), c]));
    expect([...started.keys()].sort()).toEqual(['grpo__toy__seed0', 'opd__toy__seed0', 'sdpo-frozen__toy__seed0', 'sdpo__toy__seed0', 'ssd-hot__toy__seed0', 'ssd__toy__seed0']);
    expect(started.get('sdpo__toy__seed0')).toMatchObject({ loss: 'distill', teacher: 'ema', lr: 1e-4 });
    expect(started.get('sdpo-frozen__toy__seed0')).toMatchObject({ loss: 'distill', teacher: 'frozen', lr: 3e-4 });
    expect(started.get('grpo__toy__seed0')).toMatchObject({ loss: 'policy_gradient', pgClip: 0.2 });
    expect(started.get('ssd__toy__seed0')).toMatchObject({ loss: 'cross_entropy' });
    expect(started.get('opd__toy__seed0')).toMatchObject({ loss: 'distill', teacherModel: '/models/teacher.gguf' });
    // train steps: 2 per learning cell (none after the last step); grpo's had no signal and no update
    const steps = events.filter((e) => e.type === 'train_step');
    for (const label of ['sdpo', 'ssd', 'opd', 'sdpo-frozen', 'ssd-hot']) {
      expect(steps.filter((e) => e.strategy === label).map((e) => [e.step, e.signal ?? true])).toEqual([[1, true], [2, true]]);
    }
    const grpoSteps = steps.filter((e) => e.strategy === 'grpo');
    // null in the log (no KL without a teacher); the reader gives metrics back as numbers: NaN
    expect(grpoSteps.map((e) => [e.step, e.signal, e.kl_before, e.adapter, e.loss_kind])).toEqual([[1, false, Number.NaN, null, 'policy_gradient'], [2, false, Number.NaN, null, 'policy_gradient']]);
    expect(fs.existsSync(path.join(dir, 'trainer', 'grpo__toy__seed0', 'count'))).toBe(false); // never stepped
    expect(steps.find((e) => e.strategy === 'ssd')!.loss_kind).toBe('cross_entropy');
    // sampling: ssd-hot at its own temperature/top-p; grpo records log-probs; the others at the run's
    const options = services.sampler.optionsAtSample;
    expect(options.filter((o) => o.temperature === 1.7 && o.topP === 0.9)).toHaveLength(3);
    expect(options.filter((o) => o.logprobs === true)).toHaveLength(3);
    expect(options.filter((o) => o.temperature === 1 && !o.logprobs)).toHaveLength(6 * 3 - 3);
  });

  it('keeps resuming a run logged before variants, whose trainer state lives in <task>__seed<n>', () => {
    const dir = path.join(tmp, 'legacy');
    fs.mkdirSync(path.join(dir, 'trainer', 'toy__seed0'), { recursive: true });
    expect(trainerStateDir(dir, 'sdpo', 'toy', 0, true)).toBe(path.join(dir, 'trainer', 'toy__seed0'));
    // with two learning variants the old directory cannot be told apart: each gets its own
    expect(trainerStateDir(dir, 'sdpo', 'toy', 0, false)).toBe(path.join(dir, 'trainer', 'sdpo__toy__seed0'));
    expect(trainerStateDir(dir, 'sdpo', 'toy', 1, true)).toBe(path.join(dir, 'trainer', 'sdpo__toy__seed1'));
  });

  it('keeps the sampler and the interleaved cells\' trainers within the cores: parts that each take every core never compute at once', async () => {
    // 2 cores; the sampler (per adapter's context) and every trainer declare 2 CPU threads; 3 SDPO
    // cells interleaved. Calls on one adapter share its context's threads, so parts are counted.
    const active = new Map<string, number>();
    let most = 0;
    let overlaps = 0;
    const compute = async <T>(part: string, work: () => Promise<T>) => {
      active.set(part, (active.get(part) ?? 0) + 1);
      if (active.size > 1) overlaps++;
      most = Math.max(most, active.size);
      try {
        return await work();
      } finally {
        const n = active.get(part)! - 1;
        if (n === 0) active.delete(part);
        else active.set(part, n);
      }
    };
    class CpuSampler extends DeterministicSampler {
      // computes inside the run's core budget, as LlamaSampler does, with 2 threads per adapter's context
      override sample(...args: Parameters<DeterministicSampler['sample']>) {
        const part = `sampler ${args[1].adapter}`;
        return args[1].admit!(part, 2, () => compute(part, () => super.sample(...args)));
      }
    }
    class CpuTrainer extends CountingTrainer {
      readonly cpuThreads = 2;
      constructor(private readonly stateDir: string, config: TrainerConfig) {
        super(config);
      }
      override step(batch: Parameters<CountingTrainer['step']>[0]) {
        return compute(`trainer ${this.stateDir}`, () => super.step(batch));
      }
    }
    const sdpoOnly = resolveConfig({ model: 'm.gguf', budget: 9, rollouts: 3, seeds: [0, 1, 2], 'context-size': 512, 'max-tokens': 64, 'parallel-cells': 3, strategies: 'sdpo' }, {}, STRATEGY_NAMES);
    const run = async (cores: number) => {
      const dir = path.join(tmp, `cores-${cores}`);
      const store = RunStore.create(dir);
      store.append({ type: 'run', version: 1, budget: sdpoOnly.budget, strategies: ['sdpo'], seeds: sdpoOnly.seeds, tasks: [task.id] });
      const services = { ...scriptedServices(new CpuSampler(1000)), startTrainer: async (c: TrainerConfig) => new CpuTrainer(c.stateDir, c), cores };
      active.clear();
      most = overlaps = 0;
      await runSearch({ config: sdpoOnly, tasks: [task], runDir: dir, store, history: historyFromEvents([], dir), services, progress: quiet });
      store.close();
      const events = RunStore.open(dir).events as Ev[];
      return { most, overlaps, steps: events.filter((e) => e.type === 'train_step').length, utilisation: events.find((e) => e.type === 'utilisation')! };
    };
    const two = await run(2);
    expect(two.steps).toBe(3 * 2);
    expect(two.most).toBe(1);
    expect(two.utilisation.core_wait_ms).toBeGreaterThan(0);
    // with cores for all three (6 threads) the same cells do compute side by side: the budget, not the loop, kept them apart
    const six = await run(6);
    expect(six.steps).toBe(3 * 2);
    expect(six.overlaps).toBeGreaterThan(0);
  });
});
