import { describe, expect, it } from 'vitest';
import type { RunOutcome } from '../../src/metrics/runs.js';
import { baselineOf, compareVariant, generationsToReach, ratioPoints } from '../../src/report/comparison.js';
import type { StrategyProtocol } from '../../src/strategies/types.js';

const bootstrap = { resamples: 500, level: 0.9, seed: 3 };
const outcome = (strategy: string, task: string, seed: number, t: number): RunOutcome => ({ task, strategy, seed, attempts: 1, lastK: 1, discoveryT: t, publicT: t, publicOnlyAttempts: 0, incomplete: false });
const protocol = (variant: string, learns: boolean, independent: boolean): StrategyProtocol => ({ variant, strategy: variant, label: variant, learns, independent, loss: null, teacher: null, teacher_context: null, generations_per_step: 1, prompt: '', description: '', source: '', settings: {} });

describe('comparison against the baseline', () => {
  it('finds the baseline by trait alone, whatever its name', () => {
    const protocols = new Map([['plain', protocol('plain', false, true)], ['mt', protocol('mt', false, false)], ['learner', protocol('learner', true, false)]]);
    expect(baselineOf(protocols, ['mt', 'learner', 'plain'])).toEqual({ baseline: 'plain' });
    expect(baselineOf(protocols, ['mt', 'learner']).baseline).toBeNull();
    protocols.set('plain2', protocol('plain2', false, true));
    expect(baselineOf(protocols, ['plain', 'plain2']).note).toMatch(/several baselines/);
  });

  it('generations to reach a rate: the first k whose discovery@k reaches it', () => {
    expect(generationsToReach([2, 5, Infinity, 1], 8, 0.5)).toBe(2);
    expect(generationsToReach([2, 5, Infinity, 1], 8, 0.75)).toBe(5);
    expect(generationsToReach([Infinity, Infinity], 8, 0.5)).toBe(Infinity);
    expect(ratioPoints(64)).toEqual([16, 32, 64]);
    expect(ratioPoints(2)).toEqual([1, 2]);
  });

  it('an arm compared with itself: every ratio 1 with a degenerate interval (paired resampling)', () => {
    const times = [3, 9, Infinity, 1, 14, 6, Infinity, 2];
    const outcomes = times.flatMap((t, i) => [outcome('a', `t${i}`, 0, t), outcome('b', `t${i}`, 0, t)]);
    const c = compareVariant('a', 'b', outcomes, 16, bootstrap)!;
    expect(c.units).toBe(8);
    for (const r of c.ratios) expect([r.value, r.low, r.high]).toEqual([1, 1, 1]);
    expect([c.speedup.value, c.speedup.low, c.speedup.high]).toEqual([1, 1, 1]);
  });

  it('a variant three times faster needs a third of the generations; one that never solves is "not reached"', () => {
    const base = [3, 6, 9, 12, Infinity, Infinity];
    const outcomes = base.flatMap((t, i) => [outcome('base', `t${i}`, 0, t), outcome('fast', `t${i}`, 0, t / 3), outcome('never', `t${i}`, 0, Infinity)]);
    const fast = compareVariant('fast', 'base', outcomes, 12, bootstrap)!;
    expect(fast.target).toBeCloseTo(4 / 6, 12);
    expect([fast.generations.value, fast.baselineGenerations.value, fast.speedup.value]).toEqual([4, 12, 3]);
    expect(fast.speedup.low).toBeLessThanOrEqual(3);
    expect(fast.speedup.high).toBeGreaterThanOrEqual(3);
    const never = compareVariant('never', 'base', outcomes, 12, bootstrap)!;
    expect([never.generations.value, never.speedup.value]).toEqual([Infinity, 0]);
    expect(never.ratios.at(-1)!.value).toBe(0);
    // runs the baseline lacks are not compared
    expect(compareVariant('fast', 'base', outcomes.filter((o) => o.strategy !== 'base'), 12, bootstrap)).toBeNull();
  });
});
