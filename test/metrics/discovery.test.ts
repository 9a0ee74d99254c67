import { describe, expect, it } from 'vitest';
import { discoveryAt, discoveryWithIntervals, meanMinT, quantile, type BootstrapOptions } from '../../src/metrics/discovery.js';
import { hashString, seededRandom } from '../../src/metrics/random.js';

const options: BootstrapOptions = { resamples: 2000, level: 0.9, seed: 12345 };

describe('discovery@k and mean min(T, budget)', () => {
  it('matches hand-computed values', () => {
    const times = [3, Infinity, 1, 5];
    expect(discoveryAt(times, 5)).toEqual([0.25, 0.25, 0.5, 0.5, 0.75]);
    expect(meanMinT(times, 5)).toBe((3 + 5 + 1 + 5) / 4);
    const curve = discoveryWithIntervals(times, 5, 'x', options);
    expect(curve.runs).toBe(4);
    expect(curve.solved).toBe(3);
    expect(curve.discovery.map((p) => p.k)).toEqual([1, 2, 3, 4, 5]);
    expect(curve.discovery.map((p) => p.value)).toEqual([0.25, 0.25, 0.5, 0.5, 0.75]);
    expect(curve.meanMinT.value).toBe(3.5);
  });

  it('treats a discovery time beyond the budget as unsolved', () => {
    const curve = discoveryWithIntervals([2, 9], 4, 'x', options);
    expect(curve.solved).toBe(1);
    expect(curve.discovery.map((p) => p.value)).toEqual([0, 0.5, 0.5, 0.5]);
    expect(curve.meanMinT.value).toBe(3); // (2 + 4) / 2
  });
});

describe('bootstrap intervals', () => {
  it('collapse to the point with a single run', () => {
    const curve = discoveryWithIntervals([2], 3, 'one', options);
    expect(curve.discovery).toEqual([
      { k: 1, value: 0, low: 0, high: 0 },
      { k: 2, value: 1, low: 1, high: 1 },
      { k: 3, value: 1, low: 1, high: 1 },
    ]);
    expect(curve.meanMinT).toEqual({ value: 2, low: 2, high: 2 });
  });

  it('collapse when every run is solved at the same k, or none is', () => {
    const all = discoveryWithIntervals([1, 1, 1, 1, 1], 3, 'all', options);
    for (const point of all.discovery) expect(point).toMatchObject({ value: 1, low: 1, high: 1 });
    expect(all.meanMinT).toEqual({ value: 1, low: 1, high: 1 });

    const none = discoveryWithIntervals([Infinity, Infinity, Infinity], 3, 'none', options);
    for (const point of none.discovery) expect(point).toMatchObject({ value: 0, low: 0, high: 0 });
    expect(none.meanMinT).toEqual({ value: 3, low: 3, high: 3 });
  });

  it('spans [0, 1] for two runs, one solved at k = 1 (hand-computed resampling distribution)', () => {
    // resampled discovery@1 is 0, 1/2 or 1 with probabilities 1/4, 1/2, 1/4: the 5% and 95%
    // percentiles are 0 and 1; min(T, 2) means are 1, 1.5, 2 likewise.
    const curve = discoveryWithIntervals([1, Infinity], 2, 'two', options);
    expect(curve.discovery[0]).toEqual({ k: 1, value: 0.5, low: 0, high: 1 });
    expect(curve.meanMinT).toEqual({ value: 1.5, low: 1, high: 2 });
  });

  it('is close to the normal approximation of a binomial proportion for many runs', () => {
    // 30 of 100 runs solved: 0.3 ± 1.645·sqrt(0.3·0.7/100) ≈ [0.2246, 0.3754]
    const times = Array.from({ length: 100 }, (_, i) => (i < 30 ? 1 : Infinity));
    const point = discoveryWithIntervals(times, 1, 'many', options).discovery[0];
    const halfWidth = 1.6448536269514722 * Math.sqrt((0.3 * 0.7) / 100);
    expect(point.value).toBe(0.3);
    expect(Math.abs(point.low - (0.3 - halfWidth))).toBeLessThan(0.02);
    expect(Math.abs(point.high - (0.3 + halfWidth))).toBeLessThan(0.02);
  });

  it('equals a naive full-curve bootstrap with the same random stream', () => {
    const times = [4, 1, Infinity, 7, 4, Infinity, 2, 9, Infinity, 3];
    const budget = 8;
    const curve = discoveryWithIntervals(times, budget, 'naive', options);
    // reference: materialise every resampled curve, then take type-7 percentiles per k
    const random = seededRandom(options.seed ^ hashString('naive'));
    const perK: number[][] = Array.from({ length: budget }, () => []);
    const means: number[] = [];
    for (let r = 0; r < options.resamples; r++) {
      const sample = times.map(() => times[Math.floor(random() * times.length)]);
      for (let k = 1; k <= budget; k++) perK[k - 1].push(sample.filter((t) => t <= k).length / sample.length);
      means.push(sample.reduce((s, t) => s + Math.min(t, budget), 0) / sample.length);
    }
    const percentile = (values: number[], q: number) => {
      const sorted = [...values].sort((a, b) => a - b);
      const h = (sorted.length - 1) * q;
      return sorted[Math.floor(h)] + (h - Math.floor(h)) * (sorted[Math.ceil(h)] - sorted[Math.floor(h)]);
    };
    for (let k = 1; k <= budget; k++) {
      expect(curve.discovery[k - 1].low).toBeCloseTo(percentile(perK[k - 1], 0.05), 12);
      expect(curve.discovery[k - 1].high).toBeCloseTo(percentile(perK[k - 1], 0.95), 12);
    }
    expect(curve.meanMinT.low).toBeCloseTo(percentile(means, 0.05), 12);
    expect(curve.meanMinT.high).toBeCloseTo(percentile(means, 0.95), 12);
  });

  it('is reproducible and keeps intervals ordered', () => {
    const times = [5, Infinity, 2, 8, Infinity, 1];
    const first = discoveryWithIntervals(times, 10, 'sdpo', options);
    expect(discoveryWithIntervals(times, 10, 'sdpo', options)).toEqual(first);
    for (const point of first.discovery) {
      expect(point.low).toBeLessThanOrEqual(point.high);
      expect(point.low).toBeGreaterThanOrEqual(0);
      expect(point.high).toBeLessThanOrEqual(1);
    }
    // intervals never shrink below zero width nor go backwards along k
    for (let k = 1; k < 10; k++) expect(first.discovery[k].high).toBeGreaterThanOrEqual(first.discovery[k - 1].high);
  });

  it('rejects an empty set of runs', () => {
    expect(() => discoveryWithIntervals([], 3, 'x', options)).toThrow(RangeError);
  });

  it('uses numpy-style linear interpolation for percentiles', () => {
    expect(quantile([1, 2, 3, 4], 0.05)).toBeCloseTo(1.15, 15);
    expect(quantile([1, 2, 3, 4], 0.95)).toBeCloseTo(3.85, 15);
    expect(quantile([7], 0.5)).toBe(7);
  });
});
