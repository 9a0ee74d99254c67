/**
 * discovery@k = fraction of runs whose discovery time T ≤ k, and the mean of min(T, budget),
 * each with a percentile-bootstrap confidence interval that resamples runs with replacement.
 *
 * discovery@k is a step function of k that only changes at the distinct finite T values, so the
 * bootstrap records, per resample, the count of runs at or below each distinct T instead of the
 * whole curve: exact, and independent of the budget's size.
 */
import { hashString, seededRandom } from './random.js';

export interface BootstrapOptions {
  /** number of bootstrap resamples */
  resamples: number;
  /** two-sided confidence level, e.g. 0.9 for a 90% interval */
  level: number;
  /** base seed; each strategy mixes in its name so streams are independent of order */
  seed: number;
}

export const DEFAULT_BOOTSTRAP: BootstrapOptions = { resamples: 2000, level: 0.9, seed: 20250601 };

export interface Estimate {
  value: number;
  low: number;
  high: number;
}

export interface DiscoveryPoint extends Estimate {
  k: number;
}

export interface DiscoveryCurve {
  runs: number;
  solved: number;
  /** points for k = 1..budget */
  discovery: DiscoveryPoint[];
  meanMinT: Estimate;
}

/** discovery@k for k = 1..budget without intervals (index k−1). */
export function discoveryAt(times: number[], budget: number): number[] {
  const curve: number[] = [];
  for (let k = 1; k <= budget; k++) {
    curve.push(times.filter((t) => t <= k).length / times.length);
  }
  return curve;
}

/** mean of min(T, budget); unsolved runs count as the full budget. */
export function meanMinT(times: number[], budget: number): number {
  return times.reduce((sum, t) => sum + Math.min(t, budget), 0) / times.length;
}

/** Quantile with linear interpolation between order statistics (Hyndman–Fan type 7, numpy's default). */
export function quantile(sorted: ArrayLike<number>, q: number): number {
  const position = (sorted.length - 1) * q;
  const below = Math.floor(position);
  const above = Math.min(below + 1, sorted.length - 1);
  const fraction = position - below;
  return sorted[below] + (sorted[above] - sorted[below]) * fraction;
}

function interval(samples: Float64Array, level: number): { low: number; high: number } {
  const sorted = Float64Array.from(samples).sort();
  const tail = (1 - level) / 2;
  return { low: quantile(sorted, tail), high: quantile(sorted, 1 - tail) };
}

/**
 * discovery@k for k = 1..budget and mean min(T, budget) with percentile-bootstrap intervals.
 * `stream` names the RNG stream (the strategy name) so each strategy's intervals are reproducible
 * on their own.
 */
export function discoveryWithIntervals(
  times: number[],
  budget: number,
  stream: string,
  options: BootstrapOptions = DEFAULT_BOOTSTRAP,
): DiscoveryCurve {
  const n = times.length;
  if (n === 0) throw new RangeError('discovery@k needs at least one run');
  if (!Number.isInteger(budget) || budget < 1) throw new RangeError(`budget must be a positive integer, got ${budget}`);
  const breakpoints = [...new Set(times.filter((t) => t <= budget))].sort((a, b) => a - b);
  const breakpointIndex = new Map(breakpoints.map((t, i) => [t, i]));

  const random = seededRandom(options.seed ^ hashString(stream));
  // atOrBelow[b][r]: fraction of resample r's runs with T ≤ breakpoints[b]
  const atOrBelow = breakpoints.map(() => new Float64Array(options.resamples));
  const resampledMeans = new Float64Array(options.resamples);
  const hits = new Float64Array(breakpoints.length);
  for (let r = 0; r < options.resamples; r++) {
    hits.fill(0);
    let sumMin = 0;
    for (let i = 0; i < n; i++) {
      const t = times[Math.floor(random() * n)];
      sumMin += Math.min(t, budget);
      const b = breakpointIndex.get(t);
      if (b !== undefined) hits[b]++;
    }
    let cumulative = 0;
    for (let b = 0; b < breakpoints.length; b++) {
      cumulative += hits[b];
      atOrBelow[b][r] = cumulative / n;
    }
    resampledMeans[r] = sumMin / n;
  }

  const breakpointIntervals = atOrBelow.map((samples) => interval(samples, options.level));
  const values = discoveryAt(times, budget);
  const discovery: DiscoveryPoint[] = [];
  let b = -1;
  for (let k = 1; k <= budget; k++) {
    while (b + 1 < breakpoints.length && breakpoints[b + 1] <= k) b++;
    const ci = b < 0 ? { low: 0, high: 0 } : breakpointIntervals[b];
    discovery.push({ k, value: values[k - 1], low: ci.low, high: ci.high });
  }
  return {
    runs: n,
    solved: times.filter((t) => t <= budget).length,
    discovery,
    meanMinT: { value: meanMinT(times, budget), ...interval(resampledMeans, options.level) },
  };
}
