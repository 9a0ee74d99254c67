import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ChatMessage, Rollout, SampleOptions, Sampler, ScoreOptions } from '../model/types.js';
import type { Task } from '../tasks/types.js';
import type { RunConfig } from './config.js';
import type { UtilisationEvent } from './events.js';
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
}

const quiet: Progress = { start() {}, attempt() {}, trainStep() {}, cellDone() {}, finish() {} };

/**
 * Runs the same search once per `parallelCells` value, one after the other in one process with
 * the same loaded parts, into throw-away run directories: the wall times side by side show
 * what interleaving cells buys (sampling of one cell overlapping grading/training of another).
 */
export async function benchSearch(config: RunConfig, tasks: Task[], services: RunServices & { lengths?: RunLengths }, variants: number[]): Promise<SearchBenchResult[]> {
  const results: SearchBenchResult[] = [];
  for (const parallelCells of variants) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ttsd-bench-search-'));
    try {
      const store = RunStore.create(dir);
      store.append({ type: 'run', bench: true, parallel_cells: parallelCells });
      const started = performance.now();
      await runSearch({ config: { ...config, parallelCells }, tasks, runDir: dir, store, history: historyFromEvents([]), services, progress: quiet, ...(services.lengths && { lengths: services.lengths }) });
      const wallMs = performance.now() - started;
      store.close();
      const { events, store: reopened } = RunStore.open(dir);
      reopened.close();
      const utilisation = events.find((e) => e.type === 'utilisation') as UtilisationEvent;
      results.push({ parallelCells, wallMs: Math.round(wallMs), utilisation });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }
  return results;
}

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
