import fs from 'node:fs';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { strategyByName } from '../strategies/index.js';
import type { AttemptOutcome, CellContext, CellHistory } from '../strategies/types.js';
import type { Task } from '../tasks/types.js';
import type { TrainStepResult } from '../trainer/types.js';
import { runVariants, type RunConfig, type RunVariant } from './config.js';
import type { CellDoneEvent, RunDoneEvent, TrainStepEvent, UtilisationEvent } from './events.js';
import { attemptEvent, cellKey, type RunHistory } from './history.js';
import { deriveLengths, type RunLengths } from './lengths.js';
import type { Progress } from './progress.js';
import { shardCells, type Shard } from './shards.js';
import { MeteredCellTrainer, MeteredGrader, SharedSampler, type RunServices } from './services.js';
import type { RunStore } from './store.js';
import { CoreBudget } from './cores.js';
import { BusyMeter } from './utilisation.js';

export interface Cell {
  task: Task;
  strategy: string; // the variant label
  seed: number;
}

/**
 * Cells in the order they are started: seed-major, then task, then strategy, so cells running
 * side by side are different strategies/tasks whose sampling, grading and training overlap.
 */
export function cellsOf(tasks: Task[], strategies: string[], seeds: number[]): Cell[] {
  const cells: Cell[] = [];
  for (const seed of seeds) for (const task of tasks) for (const strategy of strategies) cells.push({ task, strategy, seed });
  return cells;
}

export interface SearchOptions {
  config: RunConfig;
  tasks: Task[];
  runDir: string;
  store: RunStore;
  history: RunHistory;
  services: RunServices;
  progress: Progress;
  /** The run's lengths, derived and checked at start (lengths.ts); derived here when absent. */
  lengths?: RunLengths;
  /** The part of the grid this process runs (shards.ts); null/absent = every cell. */
  shard?: Shard | null;
}

/**
 * Runs every cell not yet done, `parallelCells` at a time, appending each attempt, train step
 * and cell completion to the store as it happens; ends with a utilisation and a run_done event.
 */
export async function runSearch(options: SearchOptions): Promise<{ cells: number; attempts: number }> {
  const { config, store, history, services, progress } = options;
  const started = performance.now();
  // The sampler's and the interleaved cells' trainers' CPU threads together never exceed the cores (cores.ts).
  const cores = new CoreBudget(services.cores ?? availableParallelism());
  const sampler = new SharedSampler(
    services.sampler,
    { temperature: config.temperature, topP: config.topP, topK: config.sampleTopK, maxTokens: config.maxTokens },
    config.isClip !== null,
    cores,
  );
  const grader = new MeteredGrader(services.grader);
  const trainMeter = new BusyMeter();
  // Every trainer is told the longest sequence it will see; teacher prompts are cut to the bound it was derived from.
  const lengths = options.lengths ?? (await deriveLengths(config, options.tasks, services.sampler));
  const variants = new Map<string, RunVariant>(runVariants(config).map((v) => [v.label, v]));
  const learners = [...variants.values()].filter((v) => strategyByName(v.strategy)!.needsTrainer).length;
  const cells = shardCells(cellsOf(options.tasks, [...variants.keys()], config.seeds), options.shard);
  const todo = cells.filter((c) => !history.done.has(cellKey(c.task.id, c.strategy, c.seed)));
  progress.start(cells.length, cells.length * config.budget, countRecorded(history));
  for (const cell of cells) if (history.done.has(cellKey(cell.task.id, cell.strategy, cell.seed))) progress.cellDone();

  let failed = false;
  const worker = async () => {
    while (!failed && todo.length > 0) {
      const cell = todo.shift()!;
      try {
        await runCell(cell);
      } catch (error) {
        failed = true;
        throw error;
      }
    }
  };

  const runCell = async ({ task, strategy: name, seed }: Cell) => {
    const variant = variants.get(name)!;
    const strategy = strategyByName(variant.strategy)!;
    const settings = variant.settings;
    const key = cellKey(task.id, name, seed);
    const cellHistory: CellHistory = history.cells.get(key) ?? { attempts: new Map(), trainSteps: new Map() };
    history.cells.set(key, cellHistory);
    let adapter: string | null = null;
    let trainer: MeteredCellTrainer | undefined;
    // Each strategy builds its own trainer settings; the run adds the machine and the lengths.
    const learner = strategy.trainerSettings?.(settings);
    if (strategy.needsTrainer) {
      if (!learner) throw new Error(`${variant.strategy} needs a trainer but builds no trainer settings`);
      const stateDir = trainerStateDir(options.runDir, name, task.id, seed, learners === 1);
      fs.mkdirSync(stateDir, { recursive: true });
      const native = await trainMeter.time(() =>
        services.startTrainer({
          ...learner,
          model: config.model,
          stateDir,
          threads: config.threads,
          seed,
          transposedWeights: !config.trainerLowMemory,
          maxTokens: lengths.trainer,
        }),
      );
      trainer = new MeteredCellTrainer(native, stateDir, trainMeter, cores);
    }
    // The trainer's own update count, logged with every step (a signal-less step keeps the last one).
    let trainerStep = trainer?.completedSteps ?? 0;
    const sampling = strategy.sampling?.(settings) ?? { temperature: settings.temperature, topP: settings.topP, topK: settings.sampleTopK, logprobs: settings.isClip !== null };
    const cellSampler = {
      renderPrompt: sampler.renderPrompt.bind(sampler),
      sample: (messages: Parameters<SharedSampler['sample']>[0], n: number, s: number, a: string | null) => {
        adapter = a;
        return sampler.sample(messages, n, s, a, sampling);
      },
    };
    const context: CellContext = {
      task,
      strategy: name,
      settings,
      seed,
      budget: config.budget,
      rollouts: strategy.generationsPerStep(settings),
      maxPromptTokens: config.maxPromptTokens,
      multiTurnTemplate: settings.multiTurnTemplate,
      maxTeacherPromptTokens: lengths.teacherPrompt,
      continueAfterSuccess: config.continueAfterSuccess,
      sampler: cellSampler,
      grader,
      trainer,
      history: cellHistory,
      recordAttempt: (attempt: AttemptOutcome) => {
        store.append(attemptEvent(task.id, name, seed, attempt, { adapter: runRelative(options.runDir, adapter), keepTokens: strategy.needsTrainer }));
        progress.attempt(`${name} ${task.id} seed ${seed}`, attempt);
      },
      recordTrainStep: (step: number, result: TrainStepResult, masked: number) => {
        trainerStep = result.step;
        store.append({ ...trainStepEvent(task.id, name, seed, step, { ...result, adapterPath: runRelative(options.runDir, result.adapterPath) }, masked), ...(learner?.loss ? { loss_kind: learner.loss } : {}) });
        progress.trainStep(`${name} ${task.id} seed ${seed}`, step, result);
      },
      recordNoSignalStep: (step: number, current: string | null, examples: number) => {
        // No update: nothing was computed (loss 0, KL unmeasured), the adapter stays.
        const event: TrainStepEvent & Record<string, unknown> = {
          type: 'train_step',
          task: task.id,
          strategy: name,
          seed,
          step,
          loss: 0,
          kl_before: Number.NaN, // written as null: no KL was measured
          kl_after: Number.NaN,
          grad_norm: 0,
          ms: 0,
          tokens: 0,
          masked: 0,
          examples,
          signal: false,
          trainer_step: trainerStep,
          adapter: runRelative(options.runDir, current),
          ...(learner?.loss ? { loss_kind: learner.loss } : {}),
        };
        store.append(event);
        progress.noSignalStep?.(`${name} ${task.id} seed ${seed}`, step);
      },
    };
    try {
      const result = await strategy.run(context);
      const done: CellDoneEvent = { type: 'cell_done', task: task.id, strategy: name, seed, attempts: result.attempts, discovery_k: result.discoveryK };
      store.append(done);
      progress.cellDone();
    } finally {
      await trainer?.close();
    }
  };

  await Promise.all(Array.from({ length: Math.min(config.parallelCells, Math.max(1, todo.length)) }, worker));

  const wall = performance.now() - started;
  const utilisation: UtilisationEvent = {
    type: 'utilisation',
    wall_ms: Math.round(wall),
    sample_ms: Math.round(sampler.meter.busyMs),
    grade_ms: Math.round(grader.meter.busyMs),
    grade_slot_ms: Math.round(grader.meter.slotMs),
    train_ms: Math.round(trainMeter.busyMs),
    sampler: ratio(sampler.meter.busyMs, wall),
    grader: ratio(grader.meter.busyMs, wall),
    trainer: ratio(trainMeter.busyMs, wall),
    grader_concurrency: services.grader.slots ?? config.concurrency, // over every --docker-hosts host
    core_wait_ms: Math.round(cores.waitMs),
  };
  store.append(utilisation);
  const attempts = countRecorded(history);
  const done: RunDoneEvent = { type: 'run_done', at: new Date().toISOString(), cells: cells.length, attempts };
  store.append(done);
  progress.finish(utilisation);
  return { cells: cells.length, attempts };
}

function trainStepEvent(task: string, strategy: string, seed: number, step: number, r: TrainStepResult, masked: number): TrainStepEvent & Record<string, unknown> {
  return {
    type: 'train_step',
    task,
    strategy,
    seed,
    step,
    loss: r.loss,
    kl_before: r.klBefore,
    kl_after: r.klAfter,
    grad_norm: r.gradNorm,
    ms: Math.round(r.ms),
    skipped: r.skipped,
    tokens: r.tokens,
    masked,
    trainer_step: r.step,
    adapter: r.adapterPath,
    is_weight_mean: r.isWeightMean,
    is_clipped: r.isClipped,
    // where a GPU trainer's step fell back to the CPU, as the trainer reports it (always empty on the CPU trainer)
    ...(r.cpuOps && r.cpuOps.length > 0 && { cpu_ops: r.cpuOps }),
  };
}

/**
 * Adapter paths inside the run directory are logged relative to it (historyFromEvents resolves
 * them), so that a run directory moved or copied elsewhere still resumes.
 */
function runRelative(runDir: string, file: string): string;
function runRelative(runDir: string, file: string | null): string | null;
function runRelative(runDir: string, file: string | null): string | null {
  if (file === null) return null;
  const relative = path.relative(path.resolve(runDir), path.resolve(file));
  return relative.startsWith('..') || path.isAbsolute(relative) ? path.resolve(file) : relative;
}

function countRecorded(history: RunHistory): number {
  let n = 0;
  for (const cell of history.cells.values()) n += cell.attempts.size;
  return n;
}

const ratio = (part: number, whole: number) => (whole > 0 ? Math.round((part / whole) * 1000) / 1000 : 0);
const safeName = (id: string) => id.replace(/[^A-Za-z0-9._-]/g, '_');

/**
 * A learning cell's trainer state: `trainer/<label>__<task>__seed<n>`, so two learning variants
 * on one task never share state. Runs logged before variants kept it in `trainer/<task>__seed<n>`
 * (they had one learning strategy): such a directory is still used when the run has a single
 * learning variant and the new one does not exist yet.
 */
export function trainerStateDir(runDir: string, label: string, task: string, seed: number, singleLearner: boolean): string {
  const dir = path.join(runDir, 'trainer', `${safeName(label)}__${safeName(task)}__seed${seed}`);
  const legacy = path.join(runDir, 'trainer', `${safeName(task)}__seed${seed}`);
  return singleLearner && !fs.existsSync(dir) && fs.existsSync(legacy) ? legacy : dir;
}
