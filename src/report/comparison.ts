/**
 * Each variant against the best-of-K baseline (found by trait: the one variant that does not
 * learn and draws fresh independent samples), on the (task, seed) runs both have:
 * - discovery@k ratios variant / baseline at a few k;
 * - the paper's headline: the generations the variant needs to reach the baseline's final
 *   discovery rate (discovery@budget), next to the generations the baseline itself needs, and
 *   their ratio ("× fewer generations");
 * each with a paired percentile-bootstrap interval that resamples (task, seed) units with
 * replacement (both arms of a unit move together, so task difficulty cancels). Pure.
 */
import { discoveryAt, quantile, type BootstrapOptions, type Estimate } from '../metrics/discovery.js';
import { hashString, seededRandom } from '../metrics/random.js';
import type { RunOutcome } from '../metrics/runs.js';
import type { StrategyProtocol } from '../strategies/types.js';

export interface RatioAt extends Estimate {
  k: number;
}

export interface VariantComparison {
  variant: string;
  baseline: string;
  /** (task, seed) units both ran */
  units: number;
  /** discovery@k of the variant / of the baseline; Infinity where the baseline has 0 and the variant more; NaN where both are 0 */
  ratios: RatioAt[];
  /** the baseline's discovery@budget on these units: the rate to reach */
  target: number;
  /** smallest k with discovery@k ≥ target; Infinity = not reached within the budget */
  generations: Estimate;
  baselineGenerations: Estimate;
  /** baselineGenerations / generations (> 1: the variant needs fewer) */
  speedup: Estimate;
}

export interface Comparison {
  baseline: string | null;
  /** why there is no comparison (no baseline by trait, or more than one) */
  note?: string;
  variants: VariantComparison[];
}

/** The variant whose protocol says: does not learn, every generation a fresh independent sample. */
export function baselineOf(protocols: Map<string, StrategyProtocol>, present: string[]): { baseline: string | null; note?: string } {
  const candidates = present.filter((name) => {
    const p = protocols.get(name);
    return p !== undefined && !p.learns && p.independent;
  });
  if (candidates.length === 1) return { baseline: candidates[0] };
  if (candidates.length === 0) return { baseline: null, note: 'no variant of this run is a baseline of fresh independent samples from the base model (best-of-K), as recorded in its traits' };
  return { baseline: null, note: `several baselines of independent samples (${candidates.join(', ')}): compare against one by running only one` };
}

/** Smallest k with discovery@k ≥ target (Infinity if never within the budget; callers never ask for target 0). */
export function generationsToReach(times: number[], budget: number, target: number): number {
  const curve = discoveryAt(times, budget);
  const k = curve.findIndex((d) => d >= target - 1e-12);
  return k < 0 ? Infinity : k + 1;
}

function ratio(a: number, b: number): number {
  if (b === 0) return a === 0 ? NaN : Infinity;
  return a / b;
}

/** Percentile interval over the resamples where the statistic is defined (NaN dropped; ±Infinity kept, ordered). */
function interval(samples: number[], level: number): { low: number; high: number } {
  const defined = samples.filter((x) => !Number.isNaN(x)).sort((a, b) => a - b);
  if (defined.length === 0) return { low: NaN, high: NaN };
  const tail = (1 - level) / 2;
  const at = (q: number) => {
    const position = (defined.length - 1) * q;
    const below = defined[Math.floor(position)];
    const above = defined[Math.min(Math.floor(position) + 1, defined.length - 1)];
    // interpolation between an infinite and a finite order statistic is the infinite one's side
    return Number.isFinite(below) && Number.isFinite(above) ? quantile(defined, q) : position % 1 === 0 ? below : above;
  };
  return { low: at(tail), high: at(1 - tail) };
}

/** k at which the ratios are shown: a quarter, half and all of the budget. */
export function ratioPoints(budget: number): number[] {
  return [...new Set([Math.max(1, Math.round(budget / 4)), Math.max(1, Math.round(budget / 2)), budget])];
}

export function compareVariant(
  variant: string,
  baseline: string,
  outcomes: RunOutcome[],
  budget: number,
  options: BootstrapOptions,
): VariantComparison | null {
  const unitOf = (o: RunOutcome) => JSON.stringify([o.task, o.seed]);
  const base = new Map(outcomes.filter((o) => o.strategy === baseline).map((o) => [unitOf(o), o.discoveryT]));
  const pairs: [number, number][] = [];
  for (const o of outcomes) {
    if (o.strategy !== variant) continue;
    const b = base.get(unitOf(o));
    if (b !== undefined) pairs.push([o.discoveryT, b]);
  }
  if (pairs.length === 0) return null;
  const points = ratioPoints(budget);
  const stats = (sample: [number, number][]) => {
    const v = sample.map((p) => p[0]);
    const b = sample.map((p) => p[1]);
    const dv = discoveryAt(v, budget);
    const db = discoveryAt(b, budget);
    const target = db[budget - 1];
    const generations = target === 0 ? NaN : generationsToReach(v, budget, target);
    const baselineGenerations = target === 0 ? NaN : generationsToReach(b, budget, target);
    return {
      ratios: points.map((k) => ratio(dv[k - 1], db[k - 1])),
      target,
      generations,
      baselineGenerations,
      speedup: Number.isNaN(generations) ? NaN : generations === Infinity ? 0 : baselineGenerations / generations,
    };
  };
  const point = stats(pairs);
  const random = seededRandom(options.seed ^ hashString(`compare\u0000${variant}\u0000${baseline}`));
  const resampled: ReturnType<typeof stats>[] = [];
  for (let r = 0; r < options.resamples; r++) {
    const sample = Array.from({ length: pairs.length }, () => pairs[Math.floor(random() * pairs.length)]);
    resampled.push(stats(sample));
  }
  const estimate = (value: number, pick: (s: ReturnType<typeof stats>) => number): Estimate => ({ value, ...interval(resampled.map(pick), options.level) });
  return {
    variant,
    baseline,
    units: pairs.length,
    ratios: points.map((k, i) => ({ k, ...estimate(point.ratios[i], (s) => s.ratios[i]) })),
    target: point.target,
    generations: estimate(point.generations, (s) => s.generations),
    baselineGenerations: estimate(point.baselineGenerations, (s) => s.baselineGenerations),
    speedup: estimate(point.speedup, (s) => s.speedup),
  };
}

export function compareAll(
  protocols: Map<string, StrategyProtocol>,
  present: string[],
  outcomes: RunOutcome[],
  budget: number,
  options: BootstrapOptions,
): Comparison {
  const { baseline, note } = baselineOf(protocols, present);
  if (baseline === null) return { baseline, note, variants: [] };
  const variants = present
    .filter((name) => name !== baseline)
    .map((name) => compareVariant(name, baseline, outcomes, budget, options))
    .filter((c): c is VariantComparison => c !== null);
  return { baseline, variants };
}
