import { describe, expect, it } from 'vitest';
import { dedupeAttempts, runOutcomes, type AttemptRecord } from '../../src/metrics/runs.js';

const attempt = (task: string, strategy: string, seed: number, k: number, reward: number, privateReward: number): AttemptRecord => ({
  task,
  strategy,
  seed,
  k,
  reward,
  private_reward: privateReward,
});

describe('run outcomes', () => {
  it('needs public and private tests for a discovery and reports public-only successes', () => {
    const [run] = runOutcomes(
      [attempt('A', 's', 1, 1, 1, 0), attempt('A', 's', 1, 2, 0, 0), attempt('A', 's', 1, 3, 1, 1)],
      4,
    );
    expect(run).toMatchObject({ discoveryT: 3, publicT: 1, publicOnlyAttempts: 1, attempts: 3, lastK: 3, incomplete: false });
  });

  it('keeps the first of duplicated (task, strategy, seed, k) attempts', () => {
    const attempts = [attempt('A', 's', 1, 1, 0, 0), attempt('A', 's', 1, 2, 1, 1), attempt('A', 's', 1, 1, 1, 1), attempt('A', 's', 1, 2, 0, 0)];
    const { unique, duplicates } = dedupeAttempts(attempts);
    expect(duplicates).toBe(2);
    expect(unique).toEqual([attempts[0], attempts[1]]);
    expect(runOutcomes(unique, 4)[0].discoveryT).toBe(2); // the later k=1 success was a duplicate
  });

  it('does not mix up runs that differ only by seed or strategy', () => {
    const outcomes = runOutcomes([attempt('A', 's', 1, 1, 1, 1), attempt('A', 's', 2, 1, 0, 0), attempt('A', 't', 1, 2, 1, 1)], 2);
    expect(outcomes.map((o) => [o.strategy, o.seed, o.discoveryT])).toEqual([
      ['s', 1, 1],
      ['s', 2, Infinity],
      ['t', 1, 2],
    ]);
    expect(outcomes[1].incomplete).toBe(true); // unsolved after 1 of 2 generations
  });

  it('censors successes beyond the budget', () => {
    const [run] = runOutcomes([attempt('A', 's', 1, 1, 0, 0), attempt('A', 's', 1, 3, 1, 1)], 2);
    expect(run.discoveryT).toBe(Infinity);
    expect(run.publicT).toBe(Infinity);
    expect(run.incomplete).toBe(false);
  });
});
