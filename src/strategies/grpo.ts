import { generationMessages } from '../prompts/index.js';
import type { GrpoReward } from '../run/config.js';
import type { TrainExample } from '../trainer/types.js';
import { adapterProtocolSettings, adapterSettings, ADAPTER_KEYS, runLearningCell, SAMPLING_KEYS, teacherless } from './learning.js';
import type { AttemptOutcome, CellContext, CellResult, Strategy } from './types.js';

/** Added to the group's std before dividing (as verl's GRPO): a group of equal rewards has std 0. */
export const GRPO_STD_EPS = 1e-6;

/**
 * The reward of an attempt from its public tests: binary = all passed (its `reward`); fraction =
 * the share passed (an attempt graded before the counts were logged falls back to binary).
 */
export function grpoReward(attempt: Pick<AttemptOutcome, 'reward' | 'publicPassed' | 'publicTotal'>, kind: GrpoReward): number {
  if (kind === 'binary' || attempt.publicTotal === undefined || attempt.publicPassed === undefined || attempt.publicTotal === 0) return attempt.reward;
  return attempt.publicPassed / attempt.publicTotal;
}

/**
 * Group-normalised advantages A_i = (r_i − mean r) / (std r + 1e-6), std the sample standard
 * deviation (n − 1, as torch.std in verl); `std` false gives Dr. GRPO's A_i = r_i − mean r.
 * Returns null when every advantage is zero (no learning signal: all rewards equal).
 */
export function grpoAdvantages(rewards: number[], std: boolean): number[] | null {
  const n = rewards.length;
  const mean = rewards.reduce((a, b) => a + b, 0) / n;
  const centred = rewards.map((r) => r - mean);
  if (centred.every((a) => Math.abs(a) < 1e-12)) return null;
  if (!std) return centred;
  const sd = n > 1 ? Math.sqrt(centred.reduce((a, c) => a + c * c, 0) / (n - 1)) : 0;
  return centred.map((c) => c / (sd + GRPO_STD_EPS));
}

/**
 * GRPO at test time: each step samples G rollouts with the current adapter, rewards them by the
 * public tests, and takes one token-level policy-gradient step with the PPO clip on the
 * group-normalised advantages (trainer loss 'policy_gradient', π_old = the sampler's log-probs).
 * A step whose rewards are all equal has zero advantages: no update, logged with signal false.
 */
export const grpo: Strategy = {
  name: 'grpo',
  needsTrainer: true,
  promptLimited: false,
  settingKeys: ['rollouts', ...SAMPLING_KEYS, 'grpoReward', 'grpoStd', 'pgClip', ...ADAPTER_KEYS],
  generationsPerStep: (settings) => settings.rollouts,
  // Its ratio π_θ/π_old needs the behaviour policy's log-prob of every sampled token.
  sampling: (s) => ({ temperature: s.temperature, topP: s.topP, topK: s.sampleTopK, logprobs: true }),
  trainerSettings: (s) => ({
    loss: 'policy_gradient',
    pgClip: s.pgClip,
    ...teacherless(s),
    ...adapterSettings(s),
  }),
  protocol: (settings, variant = 'grpo') => ({
    variant,
    strategy: 'grpo',
    label: variant,
    learns: true,
    independent: false,
    loss: 'policy_gradient',
    teacher: null,
    teacher_context: null,
    generations_per_step: settings.rollouts,
    prompt: 'the question alone',
    description: `${settings.rollouts} rollouts per step with the current LoRA adapter, rewarded by the public tests (${settings.grpoReward}), then one policy-gradient step on ${settings.grpoStd ? '(r − mean)/(std + 1e-6)' : 'r − mean (Dr. GRPO)'} with the PPO clip ε ${settings.pgClip}; a group of equal rewards makes no update`,
    source: 'GRPO (DeepSeekMath) as verl runs it: group-normalised outcome advantages, token-level PPO clip 0.2; Dr. GRPO drops the std',
    settings: { rollouts: settings.rollouts, temperature: settings.temperature, max_tokens: settings.maxTokens, reward: settings.grpoReward, std: settings.grpoStd, pg_clip: settings.pgClip, ...adapterProtocolSettings(settings) },
  }),
  async run(cell: CellContext): Promise<CellResult> {
    const { grpoReward: kind, grpoStd } = cell.settings;
    return runLearningCell(cell, generationMessages(cell.task), async (attempts, studentPrompt) => {
      const advantages = grpoAdvantages(attempts.map((a) => grpoReward(a, kind)), grpoStd);
      if (advantages === null) return null;
      return attempts.map(
        (attempt, i): TrainExample => ({
          studentPrompt,
          teacherPrompt: studentPrompt,
          response: attempt.responseTokens,
          masked: false,
          advantage: advantages[i],
          ...(attempt.logprobs ? { behaviorLogprobs: attempt.logprobs } : {}),
        }),
      );
    });
  },
};
