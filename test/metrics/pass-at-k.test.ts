import { describe, expect, it } from 'vitest';
import { meanPassAtK, passAtK } from '../../src/metrics/pass-at-k.js';

/** Independent reference: the exact ratio C(n−c, k)/C(n, k) with BigInt binomials, then 1 − ratio. */
function binomial(n: number, k: number): bigint {
  if (k < 0 || k > n) return 0n;
  let result = 1n;
  for (let i = 1; i <= k; i++) result = (result * BigInt(n - k + i)) / BigInt(i);
  return result;
}
function exactPassAtK(n: number, c: number, k: number): number {
  const scale = 10n ** 40n;
  const ratio = Number((binomial(n - c, k) * scale) / binomial(n, k)) / 1e40;
  return 1 - ratio;
}

describe('unbiased pass@k', () => {
  it('matches hand-computed values', () => {
    expect(passAtK(10, 1, 1)).toBeCloseTo(0.1, 15);
    // 1 − C(3,2)/C(5,2) = 1 − 3/10
    expect(passAtK(5, 2, 2)).toBeCloseTo(0.7, 15);
    // 1 − C(6,2)/C(8,2) = 1 − 15/28
    expect(passAtK(8, 2, 2)).toBeCloseTo(13 / 28, 15);
  });

  it('is 1 when fewer than k samples failed (n − c < k)', () => {
    expect(passAtK(4, 3, 2)).toBe(1);
    expect(passAtK(10, 8, 3)).toBe(1);
    expect(passAtK(5, 5, 5)).toBe(1);
  });

  it('is 0 with no correct sample and 1 when all are correct', () => {
    expect(passAtK(64, 0, 1)).toBe(0);
    expect(passAtK(2750, 0, 2750)).toBe(0);
    expect(passAtK(64, 64, 1)).toBe(1);
  });

  it('stays accurate for large n where the binomials overflow float64', () => {
    // C(2749,64)/C(2750,64) = (2750−64)/2750, so pass@64 = 64/2750
    expect(passAtK(2750, 1, 64)).toBeCloseTo(64 / 2750, 13);
    for (const [n, c, k] of [
      [2750, 3, 64],
      [2750, 17, 1000],
      [5000, 1, 2500],
      [2750, 2700, 40],
      [1000, 500, 400],
    ]) {
      const value = passAtK(n, c, k);
      expect(Number.isFinite(value)).toBe(true);
      expect(value).toBeCloseTo(exactPassAtK(n, c, k), 12);
    }
  });

  it('agrees with the exact reference on every (n, c, k) for small n', () => {
    for (let n = 1; n <= 12; n++) {
      for (let c = 0; c <= n; c++) {
        for (let k = 1; k <= n; k++) expect(passAtK(n, c, k)).toBeCloseTo(exactPassAtK(n, c, k), 13);
      }
    }
  });

  it('rejects impossible arguments', () => {
    expect(() => passAtK(5, 6, 1)).toThrow(RangeError);
    expect(() => passAtK(5, 1, 0)).toThrow(RangeError);
    expect(() => passAtK(5, 1, 6)).toThrow(RangeError);
    expect(() => passAtK(5, 1.5, 1)).toThrow(RangeError);
  });

  it('averages over tasks up to the smallest sample count', () => {
    const curve = meanPassAtK([
      { task: 'A', samples: 6, correct: 1 },
      { task: 'B', samples: 8, correct: 2 },
    ]);
    expect(curve).toHaveLength(6);
    expect(curve[0]).toBeCloseTo((1 / 6 + 2 / 8) / 2, 15); // 5/24
    expect(curve[1]).toBeCloseTo((1 / 3 + 13 / 28) / 2, 15); // 67/168
    expect(meanPassAtK([])).toEqual([]);
  });
});
