import fs from 'node:fs';
import path from 'node:path';
import { strategyByName } from '../strategies/index.js';
import type { AttemptOutcome, CellContext, CellHistory } from '../strategies/types.js';
import type { Task } from '../tasks/types.js';
import type { TrainStepResult } from '../trainer/types.js';
import type { RunConfig } from './config.js';
import type { CellDoneEvent, RunDoneEvent, TrainStepEvent, UtilisationEvent } from './events.js';
import { attemptEvent, cellKey, type RunHistory } from './history.js';
import { deriveLengths, type RunLengths } from './lengths.js';
import type { Progress } from './progress.js';
import { shardCells, type Shard } from './shards.js';
import { MeteredCellTrainer, MeteredGrader, SharedSampler, type RunServices } from './services.js';
import type { RunStore } from './store.js';
import { BusyMeter } from './utilisation.js';

export interface Cell {
  task: Task;
  strategy: string;
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
  const sampler = new SharedSampler(
    services.sampler,
    { temperature: config.temperature, topP: config.topP, topK: config.sampleTopK, maxTokens: config.maxTokens },
    config.isClip !== null,
  );
  const grader = new MeteredGrader(services.grader);
  const trainMeter = new BusyMeter();
  // Every trainer is told the longest sequence it will see; teacher prompts are cut to the bound it was derived from.
  const lengths = options.lengths ?? (await deriveLengths(config, options.tasks, services.sampler));
  const cells = shardCells(cellsOf(options.tasks, config.strategies, config.seeds), options.shard);
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
    const strategy = strategyByName(name)!;
    const key = cellKey(task.id, name, seed);
    const cellHistory: CellHistory = history.cells.get(key) ?? { attempts: new Map(), trainSteps: new Map() };
    history.cells.set(key, cellHistory);
    let adapter: string | null = null;
    let trainer: MeteredCellTrainer | undefined;
    if (strategy.needsTrainer) {
      const stateDir = path.join(options.runDir, 'trainer', `${safeName(task.id)}__seed${seed}`);
      fs.mkdirSync(stateDir, { recursive: true });
      const native = await trainMeter.time(() =>
        services.startTrainer({
          model: config.model,
          stateDir,
          loraRank: config.loraRank,
          loraAlpha: config.loraAlpha,
          loraTargets: config.loraTargets,
          lr: config.lr,
          weightDecay: config.weightDecay,
          gradClip: config.gradClip,
          divergence: config.divergence,
          jsdAlpha: config.jsdAlpha,
          topK: config.topK,
          teacher: config.teacher,
          ema: config.ema,
          ...(config.isClip === null ? {} : { isClip: config.isClip }),
          threads: config.threads,
          seed,
          transposedWeights: !config.trainerLowMemory,
          measureKlAfter: config.measureKlAfter,
          maxTokens: lengths.trainer,
        }),
      );
      trainer = new MeteredCellTrainer(native, stateDir, trainMeter);
    }
    const cellSampler = {
      renderPrompt: sampler.renderPrompt.bind(sampler),
      sample: (messages: Parameters<SharedSampler['sample']>[0], n: number, s: number, a: string | null) => {
        adapter = a;
        return sampler.sample(messages, n, s, a);
      },
    };
    const context: CellContext = {
      task,
      strategy: name,
      seed,
      budget: config.budget,
      rollouts: strategy.generationsPerStep(config),
      maxPromptTokens: config.maxPromptTokens,
      multiTurnTemplate: config.multiTurnTemplate,
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
        store.append(trainStepEvent(task.id, name, seed, step, { ...result, adapterPath: runRelative(options.runDir, result.adapterPath) }, masked));
        progress.trainStep(`${name} ${task.id} seed ${seed}`, step, result);
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
