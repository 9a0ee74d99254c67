import { describe, expect, it } from 'vitest';
import { kOf, missingPositions, planSteps, stepSeed } from '../../src/strategies/steps.js';
import { teacherSources, truncateLeft } from '../../src/strategies/teacher.js';

describe('budget and k accounting', () => {
  it('splits the budget into steps of G with a truncated last step', () => {
    expect(planSteps(10, 4)).toEqual([
      { step: 1, firstK: 1, size: 4 },
      { step: 2, firstK: 5, size: 4 },
      { step: 3, firstK: 9, size: 2 },
    ]);
    expect(planSteps(8, 4).map((s) => s.size)).toEqual([4, 4]);
    expect(planSteps(3, 16)).toEqual([{ step: 1, firstK: 1, size: 3 }]);
    expect(() => planSteps(0, 4)).toThrow(RangeError);
  });

  it('numbers generations k = G·(s−1) + j', () => {
    expect(kOf(1, 1, 16)).toBe(1);
    expect(kOf(3, 5, 16)).toBe(37);
    for (const planned of planSteps(50, 7)) {
      for (let j = 1; j <= planned.size; j++) expect(kOf(planned.step, j, 7)).toBe(planned.firstK + j - 1);
    }
  });

  it('finds the positions of a step the store lacks', () => {
    const planned = { step: 2, firstK: 5, size: 4 };
    expect(missingPositions(planned, new Map([[5, 1], [7, 1]]))).toEqual([2, 4]);
    expect(missingPositions(planned, new Map())).toEqual([1, 2, 3, 4]);
  });

  it('seeds each step deterministically and differently', () => {
    expect(stepSeed('t', 'sdpo', 0, 1)).toBe(stepSeed('t', 'sdpo', 0, 1));
    const seeds = new Set([stepSeed('t', 'sdpo', 0, 1), stepSeed('t', 'sdpo', 0, 2), stepSeed('t', 'sdpo', 1, 1), stepSeed('t', 'best-of-k', 0, 1), stepSeed('u', 'sdpo', 0, 1)]);
    expect(seeds.size).toBe(5);
    for (const s of seeds) expect(s).toBeGreaterThanOrEqual(0), expect(s).toBeLessThan(2 ** 31);
  });
});

describe('teacher contexts', () => {
  const a = (reward: 0 | 1, feedback: string, text = `text-${feedback}`) => ({ reward, feedback, text });

  it('prefers a sibling solution, then own feedback, else masks', () => {
    const sources = teacherSources([a(0, 'fb1'), a(1, '', 'good'), a(0, ''), a(0, 'fb4')]);
    expect(sources).toEqual([
      { kind: 'solution', text: 'good' },
      null, // the only success: never its own sibling, no feedback → masked
      { kind: 'solution', text: 'good' },
      { kind: 'solution', text: 'good' },
    ]);
  });

  it('uses feedback when no sibling succeeded and masks silent failures', () => {
    expect(teacherSources([a(0, 'boom'), a(0, '')])).toEqual([{ kind: 'feedback', text: 'boom' }, null]);
  });

  it('never uses a sample as its own sibling; picks the earliest other success', () => {
    const sources = teacherSources([a(1, '', 'first'), a(0, 'x'), a(1, '', 'second')]);
    expect(sources[0]).toEqual({ kind: 'solution', text: 'second' });
    expect(sources[1]).toEqual({ kind: 'solution', text: 'first' });
    expect(sources[2]).toEqual({ kind: 'solution', text: 'first' });
  });

  it('left-truncates teacher prompts', () => {
    expect(truncateLeft([1, 2, 3, 4, 5], 3)).toEqual([3, 4, 5]);
    expect(truncateLeft([1, 2], 3)).toEqual([1, 2]);
  });
});
