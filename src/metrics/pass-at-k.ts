/**
 * The unbiased pass@k estimator (Chen et al. 2021): with n samples of which c are correct,
 * pass@k = 1 − C(n−c, k) / C(n, k). The binomials overflow float64 for realistic n (C(2750, 64)
 * ≈ 10^140 and beyond), so the ratio is evaluated as the product ∏_{i=n−c+1}^{n} (1 − k/i),
 * every factor of which lies in [0, 1).
 */
export function passAtK(n: number, c: number, k: number): number {
  if (!Number.isInteger(n) || !Number.isInteger(c) || !Number.isInteger(k)) {
    throw new RangeError(`pass@k needs integers, got n=${n} c=${c} k=${k}`);
  }
  if (n < 0 || c < 0 || c > n) throw new RangeError(`pass@k needs 0 ≤ c ≤ n, got n=${n} c=${c}`);
  if (k < 1 || k > n) throw new RangeError(`pass@k needs 1 ≤ k ≤ n, got k=${k} n=${n}`);
  // Fewer than k failures: every k-subset contains a correct sample.
  if (n - c < k) return 1;
  let allFail = 1;
  for (let i = n - c + 1; i <= n; i++) allFail *= 1 - k / i;
  return 1 - allFail;
}

export interface TaskSampleCount {
  task: string;
  samples: number; // n
  correct: number; // c
}

/**
 * Mean pass@k over tasks for k = 1..K where K is the smallest sample count among the tasks, so
 * every point of the curve averages the same tasks. Index k−1 holds pass@k.
 */
export function meanPassAtK(counts: TaskSampleCount[]): number[] {
  if (counts.length === 0) return [];
  const maxK = Math.min(...counts.map((count) => count.samples));
  const curve: number[] = [];
  for (let k = 1; k <= maxK; k++) {
    let sum = 0;
    for (const count of counts) sum += passAtK(count.samples, count.correct, k);
    curve.push(sum / counts.length);
  }
  return curve;
}
