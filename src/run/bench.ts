import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Task } from '../tasks/types.js';
import type { RunConfig } from './config.js';
import type { UtilisationEvent } from './events.js';
import { historyFromEvents } from './history.js';
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
export async function benchSearch(config: RunConfig, tasks: Task[], services: RunServices, variants: number[]): Promise<SearchBenchResult[]> {
  const results: SearchBenchResult[] = [];
  for (const parallelCells of variants) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ttsd-bench-search-'));
    try {
      const store = RunStore.create(dir);
      store.append({ type: 'run', bench: true, parallel_cells: parallelCells });
      const started = performance.now();
      await runSearch({ config: { ...config, parallelCells }, tasks, runDir: dir, store, history: historyFromEvents([]), services, progress: quiet });
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
