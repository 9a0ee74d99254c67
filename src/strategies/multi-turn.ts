import { multiTurnMessages } from '../prompts/index.js';
import { cellPlan, cellResult, gradeAndRecord, sampleMissing, stepAttempts, stopsAfter } from './attempt.js';
import type { AttemptOutcome, CellContext, CellResult, Strategy } from './types.js';

/**
 * Multi-turn baseline: every step samples G responses from one prompt holding the feedback of
 * all past failed attempts (oldest first, the oldest dropped first once the rendered prompt
 * passes --max-prompt-tokens). The history is a pure function of the recorded attempts, so a
 * resumed cell rebuilds it from the run store.
 */
export const multiTurn: Strategy = {
  name: 'multi-turn',
  needsTrainer: false,
  async run(cell: CellContext): Promise<CellResult> {
    const countPromptTokens = async (messages: Parameters<typeof cell.sampler.renderPrompt>[0]) =>
      (await cell.sampler.renderPrompt(messages)).length;
    const feedbacks: string[] = [];
    for (const planned of cellPlan(cell)) {
      const { messages } = await multiTurnMessages(cell.task, feedbacks, countPromptTokens, cell.maxPromptTokens);
      const sampled = await sampleMissing(cell, planned, messages, null);
      await gradeAndRecord(cell, planned, sampled);
      if (stopsAfter(cell, planned.firstK + planned.size - 1)) break;
      feedbacks.push(...feedbackOfFailures(stepAttempts(cell, planned)));
    }
    return cellResult(cell);
  },
};

/** Feedback worth showing the model again: failed attempts (in position order) that produced any. */
export function feedbackOfFailures(attempts: AttemptOutcome[]): string[] {
  return attempts.filter((a) => a.reward === 0 && a.feedback.trim() !== '').map((a) => a.feedback);
}
