/**
 * Contract check between `ttsd run` and `ttsd report`: the run loop (with the run engineer's
 * scripted sampler/grader/trainer, no model or Docker) writes events.jsonl through its real store,
 * and the report must read it back with the same discovery times the loop itself recorded in its
 * cell_done events. The real-parts loop is covered by test/run/full-loop.test.ts.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { resolveConfig } from '../../src/run/config.js';
import { EVENTS_VERSION } from '../../src/run/events.js';
import { historyFromEvents } from '../../src/run/history.js';
import { runSearch } from '../../src/run/loop.js';
import type { Progress } from '../../src/run/progress.js';
import { RunStore } from '../../src/run/store.js';
import { STRATEGY_NAMES } from '../../src/strategies/index.js';
import type { Task } from '../../src/tasks/types.js';
import { analyse } from '../../src/report/analysis.js';
import { readRunDirectory } from '../../src/report/read-events.js';
import { jsonSummary } from '../../src/report/summary.js';
import { task } from '../strategies/scripted.js';
import { scriptedServices } from '../run/scripted-services.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ttsd-report-contract-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const quiet: Progress = { start() {}, attempt() {}, trainStep() {}, cellDone() {}, finish() {} };

describe('report on a log written by the run loop', () => {
  it('reproduces the loop’s own discovery times and counts every cell', async () => {
    const tasks: Task[] = [task, { ...task, id: 'toy2' }];
    const config = resolveConfig({ model: 'm.gguf', budget: 10, rollouts: 3, seeds: [0, 1], 'context-size': 512, 'max-tokens': 64 }, {}, STRATEGY_NAMES);
    const dir = path.join(tmp, 'run');
    const store = RunStore.create(dir);
    store.append({ type: 'run', version: EVENTS_VERSION, budget: config.budget, strategies: config.strategies, seeds: config.seeds, tasks: tasks.map((t) => t.id) });
    await runSearch({ config, tasks, runDir: dir, store, history: historyFromEvents([]), services: scriptedServices(), progress: quiet });
    store.close();

    const log = await readRunDirectory(dir);
    const analysis = analyse(log, { resamples: 200, level: 0.9, seed: 1 });
    const cellsDone = fs
      .readFileSync(path.join(dir, 'events.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .filter((e) => e.type === 'cell_done');
    expect(cellsDone).toHaveLength(tasks.length * config.strategies.length * config.seeds.length);
    expect(analysis.outcomes).toHaveLength(cellsDone.length);
    expect(cellsDone.some((cell) => cell.discovery_k !== null)).toBe(true); // the check below compares real numbers
    for (const cell of cellsDone) {
      const outcome = analysis.outcomes.find((o) => o.task === cell.task && o.strategy === cell.strategy && o.seed === cell.seed)!;
      expect(outcome.discoveryT).toBe(cell.discovery_k === null ? Infinity : cell.discovery_k);
      expect(outcome.attempts).toBe(cell.attempts);
      expect(outcome.incomplete).toBe(false);
    }
    expect(log.finished).toBe(true);
    expect(log.utilisation).toHaveLength(1);
    expect(analysis.training.length).toBeGreaterThan(0);
    expect(analysis.training.every((series) => series.strategy === 'sdpo')).toBe(true);

    const json = jsonSummary(analysis) as { budget: number; strategies: Record<string, { runs: number; discovery: unknown[] }> };
    expect(json.budget).toBe(10);
    expect(Object.keys(json.strategies).sort()).toEqual([...config.strategies].sort());
    for (const entry of Object.values(json.strategies)) {
      expect(entry.runs).toBe(tasks.length * config.seeds.length);
      expect(entry.discovery).toHaveLength(10);
    }
  });
});
