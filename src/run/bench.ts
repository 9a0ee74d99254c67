import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ChatMessage, Rollout, SampleOptions, Sampler, ScoreOptions } from '../model/types.js';
import { UserError } from '../errors.js';
import type { Task } from '../tasks/types.js';
import type { RunConfig } from './config.js';
import { EVENTS_VERSION, type UtilisationEvent } from './events.js';
import { historyFromEvents } from './history.js';
import type { RunLengths } from './lengths.js';
import { runSearch } from './loop.js';
import type { Progress } from './progress.js';
import type { RunServices } from './services.js';
import { RunStore } from './store.js';

export interface SearchBenchResult {
  parallelCells: number;
  wallMs: number;
  utilisation: UtilisationEvent;
  /** Generations sampled and graded (attempt events). */
  generations: number;
  /** Training steps taken (train_step events). */
  trainSteps: number;
}

const quiet: Progress = { start() {}, attempt() {}, trainStep() {}, cellDone() {}, finish() {} };

/** One search with these settings, into a throw-away run directory: its wall time, utilisation and generations. */
async function benchOnce(config: RunConfig, tasks: Task[], services: RunServices & { lengths?: RunLengths }): Promise<SearchBenchResult> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ttsd-bench-search-'));
  try {
    const store = RunStore.create(dir);
    store.append({ type: 'run', version: EVENTS_VERSION, budget: config.budget, strategies: config.strategies, seeds: config.seeds, tasks: tasks.map((t) => t.id), bench: true, parallel_cells: config.parallelCells });
    const started = performance.now();
    await runSearch({ config, tasks, runDir: dir, store, history: historyFromEvents([]), services, progress: quiet, ...(services.lengths && { lengths: services.lengths }) });
    const wallMs = performance.now() - started;
    store.close();
    const { events, store: reopened } = RunStore.open(dir);
    reopened.close();
    const utilisation = events.find((e) => e.type === 'utilisation') as UtilisationEvent;
    const generations = events.filter((e) => e.type === 'attempt').length;
    const trainSteps = events.filter((e) => e.type === 'train_step').length;
    return { parallelCells: config.parallelCells, wallMs: Math.round(wallMs), utilisation, generations, trainSteps };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Runs the same search once per `parallelCells` value, one after the other in one process with
 * the same loaded parts, into throw-away run directories: the wall times side by side show
 * what interleaving cells buys (sampling of one cell overlapping grading/training of another).
 */
export async function benchSearch(config: RunConfig, tasks: Task[], services: RunServices & { lengths?: RunLengths }, variants: number[]): Promise<SearchBenchResult[]> {
  const results: SearchBenchResult[] = [];
  for (const parallelCells of variants) results.push(await benchOnce({ ...config, parallelCells }, tasks, services));
  return results;
}

export interface GenerationCostSide {
  strategy: string;
  generations: number;
  /** Per run. SDPO trains after every step but the last: budget / G − 1 steps. */
  train_steps: number;
  wall_ms: number;
  ms_per_generation: number;
  /** Busy fractions of the sampler, grader and trainer over the side's wall time. */
  sampler: number;
  grader: number;
  trainer: number;
}

export interface GenerationCostResult {
  task: string;
  g: number;
  max_tokens: number;
  budget: number;
  best_of_k: GenerationCostSide;
  sdpo: GenerationCostSide;
  /** SDPO's wall time per generation / best-of-K's: what learning at test time costs per sample. */
  ratio: number;
}

/**
 * SDPO's wall time per generation against best-of-K's on the same model, task, seed, G
 * (--rollouts) and budget: one cell of each, alone (no interleaving hides either's cost), in
 * A-B-B-A order in one process with the same loaded parts, each side averaged, so warm-up and a
 * shared machine's drifting load hit both alike. Both sides grade every generation (with
 * --graded-programs every one is a program), so the ratio is what SDPO's teacher contexts and
 * training steps add to sampling and grading.
 */
export async function benchGenerationCost(config: RunConfig, tasks: Task[], services: RunServices & { lengths?: RunLengths }): Promise<GenerationCostResult> {
  const task = tasks[0];
  if (!task) throw new UserError('bench search --sdpo-cost: no task selected');
  const one = { ...config, parallelCells: 1, seeds: config.seeds.slice(0, 1) };
  const run = (strategy: string) => benchOnce({ ...one, strategies: [strategy] }, [task], services);
  const b1 = await run('best-of-k');
  const s1 = await run('sdpo');
  const s2 = await run('sdpo');
  const b2 = await run('best-of-k');
  const side = (strategy: string, x: SearchBenchResult, y: SearchBenchResult): GenerationCostSide => {
    const generations = x.generations + y.generations;
    const wall = x.wallMs + y.wallMs;
    // Busy fractions weighted by each run's wall time: the fraction of the two runs together.
    const busy = (key: 'sample_ms' | 'grade_ms' | 'train_ms') => round((x.utilisation[key] + y.utilisation[key]) / wall, 3);
    return {
      strategy,
      generations: generations / 2,
      train_steps: (x.trainSteps + y.trainSteps) / 2,
      wall_ms: Math.round(wall / 2),
      ms_per_generation: round(wall / generations, 1),
      sampler: busy('sample_ms'),
      grader: busy('grade_ms'),
      trainer: busy('train_ms'),
    };
  };
  const bestOfK = side('best-of-k', b1, b2);
  const sdpo = side('sdpo', s1, s2);
  if (bestOfK.generations === 0 || sdpo.generations === 0) throw new UserError('bench search --sdpo-cost: a side sampled no generation');
  return {
    task: task.id,
    g: config.rollouts,
    max_tokens: config.maxTokens,
    budget: config.budget,
    best_of_k: bestOfK,
    sdpo,
    ratio: round(sdpo.ms_per_generation / bestOfK.ms_per_generation, 3),
  };
}

const round = (x: number, digits: number) => Math.round(x * 10 ** digits) / 10 ** digits;

/**
 * A sampler whose rollouts are rewritten after sampling (the tokens stay the model's own):
 * the seam for benches and tests that need real programs from a random-weight model.
 */
export class RewritingSampler implements Sampler {
  constructor(
    private readonly inner: Sampler,
    private readonly rewrite: (rollouts: Rollout[], messages: ChatMessage[], options: SampleOptions) => Rollout[],
  ) {}
  async sample(messages: ChatMessage[], options: SampleOptions): Promise<Rollout[]> {
    return this.rewrite(await this.inner.sample(messages, options), messages, options);
  }
  renderPrompt(messages: ChatMessage[]) {
    return this.inner.renderPrompt(messages);
  }
  countTokens(text: string) {
    return this.inner.countTokens(text);
  }
  score(prompt: number[], response: number[], options?: ScoreOptions) {
    return this.inner.score(prompt, response, options);
  }
  dispose() {
    return this.inner.dispose();
  }
}

/** A rollout whose text is the fenced program `code` (as a model's answer would hold it). */
export const withProgram = (rollout: Rollout, code: string): Rollout => ({ ...rollout, text: `\`\`\`python\n${code}\n\`\`\``, code, finishReason: 'stop' });

/**
 * A random-weight model never writes a program, so in a bench search nothing reaches the
 * sandbox and grading costs nothing. `bench search --graded-programs` turns every rollout into
 * a fenced wrong program, so each attempt is really graded on the task's public tests and its
 * feedback flows into multi-turn prompts and SDPO teachers: the grading load a real search
 * has, whatever the model.
 */
export const WRONG_PROGRAM = 'print(-1)';
export const wrongPrograms = (inner: Sampler): Sampler => new RewritingSampler(inner, (rollouts) => rollouts.map((r) => withProgram(r, WRONG_PROGRAM)));
