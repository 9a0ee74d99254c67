import { generationMessages } from '../prompts/index.js';
import { SAMPLING_KEYS } from './learning.js';
import { cellPlan, cellResult, gradeRollout, sampleMissing, stopsAfter } from './attempt.js';
import type { AttemptOutcome, CellContext, CellResult, Strategy } from './types.js';

/**
 * Best-of-K: independent samples from the base model, G per sampling call for throughput.
 * Sampling is pipelined: step s+1 is sampled while step s is still being graded. Attempts are
 * recorded in step order (a later step's grades wait until every earlier step is recorded), so
 * the recorded set is the same as an unpipelined run's and stopping at the first discovery
 * never leaves a later step's attempts in the log.
 */
export const bestOfK: Strategy = {
  name: 'best-of-k',
  needsTrainer: false,
  promptLimited: false,
  settingKeys: ['rollouts', ...SAMPLING_KEYS],
  generationsPerStep: (settings) => settings.rollouts,
  protocol: (settings, variant = 'best-of-k') => ({
    variant,
    strategy: 'best-of-k',
    label: variant,
    learns: false,
    // Fresh independent samples of the base model: the baseline the report compares against.
    independent: true,
    loss: null,
    teacher: null,
    teacher_context: null,
    generations_per_step: settings.rollouts,
    prompt: 'the question alone',
    description: `independent samples from the base model, ${settings.rollouts} per sampling call for throughput (the batch size does not change what is sampled)`,
    source: 'sdpo.md: independent samples at temperature 1.0; discovery@k over the sampling order',
    settings: { batch: settings.rollouts, temperature: settings.temperature, top_p: settings.topP, sample_top_k: settings.sampleTopK, max_tokens: settings.maxTokens },
  }),
  async run(cell: CellContext): Promise<CellResult> {
    const messages = generationMessages(cell.task);
    // Steps whose grading may still be running while the next one is sampled.
    const lookahead = 1;
    const releases: Promise<boolean>[] = [];
    let previous: Promise<boolean> = Promise.resolve(true);
    let stopped = false;
    for (const planned of cellPlan(cell)) {
      if (releases.length > lookahead) {
        const go = await releases[releases.length - 1 - lookahead];
        if (!go) break;
      }
      if (stopped) break;
      const sampled = await sampleMissing(cell, planned, messages, null);
      const prior = previous;
      const graded = sampled.map(({ position, rollout }) => {
        const k = planned.firstK + position - 1;
        return gradeRollout(cell.grader, cell.task, rollout, { k, step: planned.step, position }).then(
          async (outcome: AttemptOutcome) => {
            if (await prior) record(cell, outcome);
            return outcome;
          },
        );
      });
      const release = prior.then(async (go) => {
        await Promise.all(graded);
        if (!go) return false;
        const lastK = planned.firstK + planned.size - 1;
        if (stopsAfter(cell, lastK)) {
          stopped = true;
          return false;
        }
        return true;
      });
      // A failed grading surfaces through `release`; keep the individual promises from
      // reporting the same rejection as unhandled.
      for (const promise of graded) promise.catch(() => undefined);
      release.catch(() => undefined);
      releases.push(release);
      previous = release;
    }
    await Promise.all(releases);
    return cellResult(cell);
  },
};

function record(cell: CellContext, outcome: AttemptOutcome): void {
  cell.recordAttempt(outcome);
  cell.history.attempts.set(outcome.k, outcome);
}
