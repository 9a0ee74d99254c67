/**
 * Everything the report shows, computed from a parsed run log: per-strategy discovery curves with
 * bootstrap intervals, pass@k for best-of-K, per-run discovery times, training curves and the
 * time breakdown. Pure: same log, same numbers.
 */
import { DEFAULT_BOOTSTRAP, discoveryWithIntervals, type BootstrapOptions, type DiscoveryCurve } from '../metrics/discovery.js';
import { meanPassAtK, type TaskSampleCount } from '../metrics/pass-at-k.js';
import { dedupeAttempts, isDiscovery, runOutcomes, type RunOutcome } from '../metrics/runs.js';
import type { AttemptEvent, RunStartEvent, TrainStepEvent } from '../run/events.js';
import type { StrategyProtocol } from '../strategies/types.js';
import { compareAll, type Comparison } from './comparison.js';
import { protocolsOf } from './protocols.js';
import type { RunLog, Utilisation } from './read-events.js';

export interface PassAtKSummary {
  perTask: TaskSampleCount[];
  /** mean over tasks, index k−1, k = 1..min(samples per task, budget) */
  curve: number[];
  /** why the estimate may be biased, if it may */
  caveat?: string;
}

export interface StrategySummary {
  name: string;
  /** the name, qualified where the run departed from the paper's protocol (e.g. "multi-turn (4/turn)") */
  label: string;
  attempts: number;
  /** discovery = public AND private tests pass */
  discovery: DiscoveryCurve;
  /** first attempt passing the public tests only, whatever the private tests said */
  publicDiscovery: DiscoveryCurve;
  publicOnlyAttempts: number;
  incompleteRuns: number;
  passAtK?: PassAtKSummary;
}

export interface TrainingSeries {
  strategy: string;
  task: string;
  seed: number;
  steps: TrainStepEvent[];
}

/** Train steps of one learning variant: with a learning signal (an update) and without (no update, e.g. GRPO's equal rewards). */
export interface SignalCount {
  strategy: string;
  withSignal: number;
  withoutSignal: number;
}

export interface TimeBreakdown {
  strategy: string;
  attempts: number;
  trainSteps: number;
  sampleMs: number;
  gradeMs: number;
  trainMs: number;
}

export interface Analysis {
  run: RunStartEvent;
  budget: number;
  bootstrap: BootstrapOptions;
  strategies: StrategySummary[];
  /** how each strategy ran, as the run event recorded it (empty for older logs) */
  protocols: Map<string, StrategyProtocol>;
  outcomes: RunOutcome[];
  tasks: string[];
  seeds: number[];
  training: TrainingSeries[];
  /** per learning variant (by trait, or with train steps logged) */
  signal: SignalCount[];
  /** each variant against the best-of-K baseline (found by trait) */
  comparison: Comparison;
  time: TimeBreakdown[];
  duplicates: number;
  utilisation: Utilisation[];
  resumes: number;
  finished: boolean;
  /** planned strategies with no attempt recorded */
  notStarted: string[];
  warnings: string[];
}


const orderedUnique = <T>(values: T[]): T[] => [...new Set(values)];

export function analyse(log: RunLog, bootstrap: BootstrapOptions = DEFAULT_BOOTSTRAP): Analysis {
  const budget = log.run.budget;
  const warnings = [...log.warnings];
  const { unique: attempts, duplicates } = dedupeAttempts(log.attempts);
  if (duplicates > 0) warnings.push(`ignored ${duplicates} duplicate attempt(s) with the same (task, strategy, seed, k); kept the first`);
  const beyondBudget = attempts.filter((a) => a.k > budget).length;
  if (beyondBudget > 0) warnings.push(`${beyondBudget} attempt(s) have k > budget ${budget}; they never count as discoveries`);

  const outcomes = runOutcomes(attempts, budget);
  // a cell the run closed is complete whatever its attempt count (e.g. stopped after a trainer failure)
  const closed = new Set(log.cellsDone.map((c) => JSON.stringify([c.task, c.strategy, c.seed])));
  for (const outcome of outcomes) {
    if (closed.has(JSON.stringify([outcome.task, outcome.strategy, outcome.seed]))) outcome.incomplete = false;
  }
  const strategyNames = orderedUnique([...log.run.strategies, ...attempts.map((a) => a.strategy)]);
  const strategies: StrategySummary[] = [];
  const protocols = protocolsOf(log.run);
  const notStarted: string[] = [];
  for (const name of strategyNames) {
    const runs = outcomes.filter((o) => o.strategy === name);
    if (runs.length === 0) {
      notStarted.push(name);
      continue;
    }
    const own = attempts.filter((a) => a.strategy === name);
    const incompleteRuns = runs.filter((r) => r.incomplete).length;
    strategies.push({
      name,
      label: protocols.get(name)?.label ?? name,
      attempts: own.length,
      discovery: discoveryWithIntervals(runs.map((r) => r.discoveryT), budget, name, bootstrap),
      publicDiscovery: discoveryWithIntervals(runs.map((r) => r.publicT), budget, `${name}/public`, bootstrap),
      publicOnlyAttempts: runs.reduce((sum, r) => sum + r.publicOnlyAttempts, 0),
      incompleteRuns,
      // pass@k is an estimate over i.i.d. samples: only for a variant whose traits say its generations are independent
      passAtK: protocols.get(name)?.independent ? passAtKFor(own, runs, budget) : undefined,
    });
    if (incompleteRuns > 0) {
      warnings.push(
        `${name}: ${incompleteRuns} unsolved run(s) stopped before the budget (run still going or killed); they count as never solved`,
      );
    }
  }
  if (notStarted.length > 0) warnings.push(`no attempts recorded for: ${notStarted.join(', ')}`);

  const tasks = orderedUnique([...log.run.tasks, ...outcomes.map((o) => o.task)]).filter((task) =>
    outcomes.some((o) => o.task === task),
  );
  const seeds = orderedUnique([...log.run.seeds, ...outcomes.map((o) => o.seed)]).filter((seed) =>
    outcomes.some((o) => o.seed === seed),
  );
  const trainOwner = trainingOwner(protocols);
  const training = trainingSeries(log.trainSteps, trainOwner);
  const signal = signalCounts(training, protocols);
  const comparison = compareAll(protocols, strategies.map((s) => s.name), outcomes, budget, bootstrap);
  return {
    run: log.run,
    budget,
    bootstrap,
    strategies,
    protocols,
    outcomes,
    tasks,
    seeds,
    training,
    signal,
    comparison,
    time: timeBreakdown(strategies.map((s) => s.name), attempts, log.trainSteps, trainOwner),
    duplicates,
    utilisation: log.utilisation,
    resumes: log.resumes,
    finished: log.finished,
    notStarted,
    warnings,
  };
}

/**
 * pass@k from all of best-of-K's samples per task (every seed pooled). Samples up to the budget
 * only; if runs stopped at their first success the sample is not i.i.d. of fixed size, so say so.
 */
function passAtKFor(attempts: AttemptEvent[], runs: RunOutcome[], budget: number): PassAtKSummary {
  const byTask = new Map<string, TaskSampleCount>();
  for (const attempt of attempts) {
    if (attempt.k > budget) continue;
    const count = byTask.get(attempt.task) ?? { task: attempt.task, samples: 0, correct: 0 };
    count.samples++;
    if (isDiscovery(attempt)) count.correct++;
    byTask.set(attempt.task, count);
  }
  const perTask = [...byTask.values()];
  const stoppedEarly = runs.some((r) => r.discoveryT < budget && r.lastK < budget);
  return {
    perTask,
    // capped at the budget so the curve sits on the same axis as discovery@k
    curve: meanPassAtK(perTask).slice(0, budget),
    caveat: stoppedEarly
      ? 'some best-of-K runs stopped at their first success, so the sample count depends on the outcome and pass@k is only approximately unbiased; run with continue-to-budget for an exact estimate'
      : undefined,
  };
}

/**
 * train_step events name their strategy optionally (logs written before they did); without one
 * they belong to the run's single learning variant, by its recorded trait.
 */
function trainingOwner(protocols: Map<string, StrategyProtocol>): string {
  const learners = [...protocols.values()].filter((p) => p.learns);
  return learners.length === 1 ? learners[0].variant : 'unattributed';
}

/** Steps with and without a learning signal, for every variant that learns (by trait) or logged train steps. */
function signalCounts(training: TrainingSeries[], protocols: Map<string, StrategyProtocol>): SignalCount[] {
  const counts = new Map<string, SignalCount>();
  for (const p of protocols.values()) if (p.learns) counts.set(p.variant, { strategy: p.variant, withSignal: 0, withoutSignal: 0 });
  for (const series of training) {
    const entry = counts.get(series.strategy) ?? { strategy: series.strategy, withSignal: 0, withoutSignal: 0 };
    for (const step of series.steps) {
      if (step.signal === false) entry.withoutSignal++;
      else entry.withSignal++;
    }
    counts.set(series.strategy, entry);
  }
  return [...counts.values()];
}

function trainingSeries(steps: TrainStepEvent[], defaultOwner: string): TrainingSeries[] {
  const series = new Map<string, TrainingSeries>();
  for (const step of steps) {
    const strategy = typeof step.strategy === 'string' ? step.strategy : defaultOwner;
    const key = JSON.stringify([strategy, step.task, step.seed]);
    let entry = series.get(key);
    if (!entry) {
      entry = { strategy, task: step.task, seed: step.seed, steps: [] };
      series.set(key, entry);
    }
    // a resumed run may repeat a step; keep the first like attempts
    if (!entry.steps.some((s) => s.step === step.step)) entry.steps.push(step);
  }
  for (const entry of series.values()) entry.steps.sort((a, b) => a.step - b.step);
  return [...series.values()];
}

const finiteOrZero = (value: unknown): number => (typeof value === 'number' && Number.isFinite(value) ? value : 0);

function timeBreakdown(
  strategies: string[],
  attempts: AttemptEvent[],
  steps: TrainStepEvent[],
  defaultOwner: string,
): TimeBreakdown[] {
  const rows = new Map<string, TimeBreakdown>(
    strategies.map((strategy) => [strategy, { strategy, attempts: 0, trainSteps: 0, sampleMs: 0, gradeMs: 0, trainMs: 0 }]),
  );
  const row = (strategy: string) => {
    let entry = rows.get(strategy);
    if (!entry) {
      entry = { strategy, attempts: 0, trainSteps: 0, sampleMs: 0, gradeMs: 0, trainMs: 0 };
      rows.set(strategy, entry);
    }
    return entry;
  };
  for (const attempt of attempts) {
    const entry = row(attempt.strategy);
    entry.attempts++;
    entry.sampleMs += finiteOrZero(attempt.ms);
    entry.gradeMs += finiteOrZero(attempt.grade_ms);
  }
  const seenSteps = new Set<string>();
  for (const step of steps) {
    const strategy = typeof step.strategy === 'string' ? step.strategy : defaultOwner;
    const key = JSON.stringify([strategy, step.task, step.seed, step.step]);
    if (seenSteps.has(key)) continue;
    seenSteps.add(key);
    const entry = row(strategy);
    entry.trainSteps++;
    entry.trainMs += finiteOrZero(step.ms);
  }
  return [...rows.values()];
}
