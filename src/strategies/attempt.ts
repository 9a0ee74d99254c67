import { discovered } from '../metrics/runs.js';
import type { ChatMessage, Rollout } from '../model/types.js';
import type { Grader, Submission } from '../sandbox/types.js';
import type { Task } from '../tasks/types.js';
import { planSteps, missingPositions, stepSeed, type PlannedStep } from './steps.js';
import type { AttemptOutcome, CellContext } from './types.js';

/** The program the grader runs: the rollout's extracted code, flagged when cut off by the token limit. */
export function submissionOf(rollout: Pick<Rollout, 'code' | 'finishReason'>): Submission {
  return { code: rollout.code, truncated: rollout.finishReason === 'length' };
}

/**
 * Grades one generation: public tests give the reward and the feedback; an attempt that passes
 * them is also graded on all private tests (a discovery needs both).
 */
export async function gradeRollout(
  grader: Grader,
  task: Task,
  rollout: Rollout,
  where: { k: number; step: number; position: number },
): Promise<AttemptOutcome> {
  const started = Date.now();
  const submission = submissionOf(rollout);
  const publicResult = await grader.grade(task, submission, { tests: 'public' });
  const reward: 0 | 1 = publicResult.verdict === 'accepted' ? 1 : 0;
  let privateReward: 0 | 1 = 0;
  let verdict = publicResult.verdict as string;
  if (reward === 1) {
    const privateResult = await grader.grade(task, submission, { tests: 'private' });
    privateReward = privateResult.verdict === 'accepted' ? 1 : 0;
    if (privateReward === 0) verdict = `private_${privateResult.verdict}`;
  }
  return {
    ...where,
    text: rollout.text,
    code: rollout.code,
    finishReason: rollout.finishReason,
    responseTokens: rollout.responseTokens,
    ...(rollout.logprobs.length === rollout.responseTokens.length && rollout.logprobs.length > 0 ? { logprobs: rollout.logprobs } : {}),
    reward,
    publicPassed: publicResult.passed,
    publicTotal: publicResult.total,
    privateReward,
    verdict,
    feedback: publicResult.feedback,
    ms: rollout.ms,
    gradeMs: Date.now() - started,
  };
}

/** The steps a cell still has to run, given the budget and G. */
export function cellPlan(cell: Pick<CellContext, 'budget' | 'rollouts'>): PlannedStep[] {
  return planSteps(cell.budget, cell.rollouts);
}

/**
 * Samples the positions of a step the store does not hold yet. The whole step is always
 * sampled with the step's deterministic seed and the positions already recorded (before a
 * resume) are dropped: with a deterministic sampler the resumed run logs exactly the attempts
 * an uninterrupted run would, and nothing recorded is ever replaced or logged twice.
 */
export async function sampleMissing(
  cell: CellContext,
  planned: PlannedStep,
  messages: ChatMessage[],
  adapter: string | null,
): Promise<{ position: number; rollout: Rollout }[]> {
  const missing = missingPositions(planned, cell.history.attempts);
  if (missing.length === 0) return [];
  const seed = stepSeed(cell.task.id, cell.strategy, cell.seed, planned.step);
  const rollouts = await cell.sampler.sample(messages, planned.size, seed, adapter);
  if (rollouts.length !== planned.size) {
    throw new Error(`sampler returned ${rollouts.length} rollouts, asked for ${planned.size}`);
  }
  return missing.map((position) => ({ position, rollout: rollouts[position - 1] }));
}

/** Grades the sampled positions of a step and records each attempt as soon as it is graded. */
export async function gradeAndRecord(
  cell: CellContext,
  planned: PlannedStep,
  sampled: { position: number; rollout: Rollout }[],
): Promise<AttemptOutcome[]> {
  return Promise.all(
    sampled.map(async ({ position, rollout }) => {
      const k = planned.firstK + position - 1;
      const outcome = await gradeRollout(cell.grader, cell.task, rollout, { k, step: planned.step, position });
      cell.recordAttempt(outcome);
      cell.history.attempts.set(k, outcome);
      return outcome;
    }),
  );
}

/** All attempts of a step (recorded earlier or just now), in position order. */
export function stepAttempts(cell: CellContext, planned: PlannedStep): AttemptOutcome[] {
  const attempts: AttemptOutcome[] = [];
  for (let j = 1; j <= planned.size; j++) {
    const attempt = cell.history.attempts.get(planned.firstK + j - 1);
    if (!attempt) throw new Error(`attempt k=${planned.firstK + j - 1} of step ${planned.step} is missing`);
    attempts.push(attempt);
  }
  return attempts;
}

/** Smallest k ≤ upToK of a discovery among the cell's recorded attempts, or null. */
export function firstDiscovery(cell: Pick<CellContext, 'history'>, upToK = Infinity): number | null {
  let best: number | null = null;
  for (const [k, attempt] of cell.history.attempts) {
    if (k <= upToK && discovered(attempt.reward, attempt.privateReward) && (best === null || k < best)) best = k;
  }
  return best;
}

/** Whether the cell stops after the step ending at lastK: at its first discovery, unless told to continue. */
export function stopsAfter(cell: Pick<CellContext, 'history' | 'continueAfterSuccess'>, lastK: number): boolean {
  return !cell.continueAfterSuccess && firstDiscovery(cell, lastK) !== null;
}

export function cellResult(cell: Pick<CellContext, 'history'>): { attempts: number; discoveryK: number | null } {
  return { attempts: cell.history.attempts.size, discoveryK: firstDiscovery(cell) };
}
