/**
 * Budget and k accounting shared by all strategies (sdpo.md, "Metric"): step s holds G
 * generations, position j of step s is generation k = G·(s−1) + j, and the last step is
 * truncated so the cell never spends more than the budget.
 */
export interface PlannedStep {
  step: number; // 1-based
  firstK: number; // k of position 1
  size: number; // generations in this step (G, or less for the truncated last step)
}

export function planSteps(budget: number, rollouts: number): PlannedStep[] {
  if (!Number.isInteger(budget) || budget < 1) throw new RangeError(`budget must be a positive integer, got ${budget}`);
  if (!Number.isInteger(rollouts) || rollouts < 1) throw new RangeError(`rollouts must be a positive integer, got ${rollouts}`);
  const steps: PlannedStep[] = [];
  for (let firstK = 1, step = 1; firstK <= budget; firstK += rollouts, step++) {
    steps.push({ step, firstK, size: Math.min(rollouts, budget - firstK + 1) });
  }
  return steps;
}

export function kOf(step: number, position: number, rollouts: number): number {
  return rollouts * (step - 1) + position;
}

/** Positions (1-based) of a step that the run store does not hold yet. */
export function missingPositions(planned: PlannedStep, recorded: ReadonlyMap<number, unknown>): number[] {
  const missing: number[] = [];
  for (let j = 1; j <= planned.size; j++) if (!recorded.has(planned.firstK + j - 1)) missing.push(j);
  return missing;
}

/**
 * Deterministic 31-bit sampling seed for one step of one cell (FNV-1a over the cell and step):
 * an interrupted step is re-sampled with the same seed after a resume.
 */
export function stepSeed(task: string, strategy: string, seed: number, step: number): number {
  let hash = 0x811c9dc5;
  for (const ch of `${task}\u0000${strategy}\u0000${seed}\u0000${step}`) {
    hash ^= ch.codePointAt(0)!;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash & 0x7fffffff;
}
