import { multiTurnMessages, type EarlierTurn } from '../prompts/index.js';
import { SAMPLING_KEYS } from './learning.js';
import { cellPlan, cellResult, gradeAndRecord, sampleMissing, stepAttempts, stopsAfter } from './attempt.js';
import type { AttemptOutcome, CellContext, CellResult, Strategy, StrategySettings } from './types.js';

/**
 * Multi-turn baseline, as the paper runs it (lasgroup/SDPO `baseline_multiturn/multiturn.py`):
 * sequential turns; each turn samples `--multi-turn-generations` responses (paper: 1) from the
 * base model with a prompt holding every earlier failed turn (template `feedback-only`: the
 * question and all feedback in one user message; `attempt-and-feedback`: each earlier response
 * replayed as an assistant turn followed by its feedback). The oldest turns are dropped first
 * while the rendered prompt is longer than `--max-prompt-tokens` (paper: 32,000). The history is
 * a pure function of the recorded attempts, so a resumed cell rebuilds it from the run store and
 * continues with the same prompts.
 */
export const multiTurn: Strategy = {
  name: 'multi-turn',
  needsTrainer: false,
  promptLimited: true,
  settingKeys: ['multiTurnGenerations', 'multiTurnTemplate', ...SAMPLING_KEYS],
  generationsPerStep: (settings) => settings.multiTurnGenerations,
  protocol: (settings: StrategySettings, variant = 'multi-turn') => {
    const g = settings.multiTurnGenerations;
    return {
      variant,
      strategy: 'multi-turn',
      label: g === 1 ? variant : `${variant} (${g}/turn)`,
      learns: false,
      independent: false,
      loss: null,
      teacher: null,
      teacher_context: null,
      generations_per_step: g,
      prompt: `${settings.multiTurnTemplate}: question + every earlier failed turn's ${settings.multiTurnTemplate === 'feedback-only' ? 'feedback in one user message' : 'response (assistant) and feedback (user)'}, oldest dropped first past ${settings.maxPromptTokens} prompt tokens`,
      description:
        g === 1
          ? 'sequential turns of one generation each from the base model; every turn sees the feedback of all earlier turns (the paper\'s baseline)'
          : `turns of ${g} generations from one prompt; a turn sees the feedback of all earlier turns, so new feedback arrives only every ${g} generations (the paper uses 1 per turn)`,
      source: 'lasgroup/SDPO baseline_multiturn/multiturn.py: 1 generation per turn, template feedback_only, temperature 1.0, 8192 tokens, prompt limit 32,000 tokens',
      settings: {
        generations_per_turn: g,
        template: settings.multiTurnTemplate,
        max_prompt_tokens: settings.maxPromptTokens,
        temperature: settings.temperature,
        top_p: settings.topP,
        max_tokens: settings.maxTokens,
      },
    };
  },
  async run(cell: CellContext): Promise<CellResult> {
    const countPromptTokens = async (messages: Parameters<typeof cell.sampler.renderPrompt>[0]) =>
      (await cell.sampler.renderPrompt(messages)).length;
    const turns: EarlierTurn[] = [];
    for (const planned of cellPlan(cell)) {
      const { messages } = await multiTurnMessages(cell.task, turns, cell.multiTurnTemplate, countPromptTokens, cell.maxPromptTokens);
      const sampled = await sampleMissing(cell, planned, messages, null);
      await gradeAndRecord(cell, planned, sampled);
      if (stopsAfter(cell, planned.firstK + planned.size - 1)) break;
      turns.push(...failedTurns(stepAttempts(cell, planned)));
    }
    return cellResult(cell);
  },
};

/**
 * The earlier turns a step adds to the history: its failed attempts (public tests not passed),
 * in position order, that got any feedback. (multiturn.py appends every turn's feedback; ttsd's
 * grader gives every failure a message, so an empty one only comes from a broken grading and
 * would show the model an empty entry.)
 */
export function failedTurns(attempts: AttemptOutcome[]): EarlierTurn[] {
  return attempts.filter((a) => a.reward === 0 && a.feedback.trim() !== '').map((a) => ({ response: a.text, feedback: a.feedback }));
}
