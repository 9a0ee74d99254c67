/**
 * From attempt records to per-run outcomes. A run is one (task, strategy, seed) search; its
 * discovery time T is the smallest generation index k whose attempt passed the public tests
 * AND the private ones. Runs that never discover within the budget have T = ∞ (censored).
 */

/** The fields of an `attempt` event that the metrics need. */
export interface AttemptRecord {
  task: string;
  strategy: string;
  seed: number;
  k: number;
  reward: number;
  private_reward: number;
}

export interface RunOutcome {
  task: string;
  strategy: string;
  seed: number;
  /** attempts recorded for this run (after dedupe), including any beyond the budget */
  attempts: number;
  /** largest k recorded */
  lastK: number;
  /** smallest k ≤ budget with reward 1 and private_reward 1; Infinity if none */
  discoveryT: number;
  /** smallest k ≤ budget with reward 1 (public tests only); Infinity if none */
  publicT: number;
  /** attempts that passed the public tests but failed the private ones */
  publicOnlyAttempts: number;
  /** unsolved and stopped before the budget: T is only known to exceed lastK */
  incomplete: boolean;
}

/** A discovery: the public tests pass and so do all private ones (sdpo.md, "Metric"). The one definition of it. */
export function discovered(reward: number, privateReward: number | undefined): boolean {
  return reward === 1 && privateReward === 1;
}

export function isDiscovery(attempt: AttemptRecord): boolean {
  return discovered(attempt.reward, attempt.private_reward);
}

function attemptKey(attempt: AttemptRecord): string {
  return JSON.stringify([attempt.task, attempt.strategy, attempt.seed, attempt.k]);
}

/**
 * Drops repeated (task, strategy, seed, k) attempts, keeping the first: a resumed run may
 * re-record an attempt whose event was written just before a kill.
 */
export function dedupeAttempts<A extends AttemptRecord>(attempts: A[]): { unique: A[]; duplicates: number } {
  const seen = new Set<string>();
  const unique: A[] = [];
  for (const attempt of attempts) {
    const key = attemptKey(attempt);
    if (seen.has(key)) continue;
    seen.add(key);
    unique.push(attempt);
  }
  return { unique, duplicates: attempts.length - unique.length };
}

function runKey(task: string, strategy: string, seed: number): string {
  return JSON.stringify([task, strategy, seed]);
}

/** Outcomes of every run that has at least one attempt, in first-seen order. Expects deduped input. */
export function runOutcomes(attempts: AttemptRecord[], budget: number): RunOutcome[] {
  const runs = new Map<string, RunOutcome>();
  for (const attempt of attempts) {
    const key = runKey(attempt.task, attempt.strategy, attempt.seed);
    let run = runs.get(key);
    if (!run) {
      run = {
        task: attempt.task,
        strategy: attempt.strategy,
        seed: attempt.seed,
        attempts: 0,
        lastK: 0,
        discoveryT: Infinity,
        publicT: Infinity,
        publicOnlyAttempts: 0,
        incomplete: false,
      };
      runs.set(key, run);
    }
    run.attempts++;
    run.lastK = Math.max(run.lastK, attempt.k);
    if (attempt.reward === 1 && attempt.private_reward !== 1) run.publicOnlyAttempts++;
    if (attempt.k > budget) continue; // beyond the budget: censored, never a discovery
    if (attempt.reward === 1) run.publicT = Math.min(run.publicT, attempt.k);
    if (isDiscovery(attempt)) run.discoveryT = Math.min(run.discoveryT, attempt.k);
  }
  for (const run of runs.values()) {
    run.incomplete = run.discoveryT === Infinity && run.lastK < budget;
  }
  return [...runs.values()];
}
