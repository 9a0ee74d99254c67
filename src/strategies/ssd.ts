import { generationMessages } from '../prompts/index.js';
import type { TrainExample } from '../trainer/types.js';
import { adapterProtocolSettings, adapterSettings, ADAPTER_KEYS, runLearningCell, SAMPLING_KEYS, teacherless } from './learning.js';
import type { CellContext, CellResult, Strategy, StrategySettings } from './types.js';

const temperatureOf = (s: StrategySettings) => s.ssdTemperature ?? s.temperature;
const topPOf = (s: StrategySettings) => s.ssdTopP ?? s.topP;

/**
 * Simple self-distillation (Apple's "Embarrassingly Simple Self-Distillation"): each step
 * samples G rollouts with the current adapter at the ssd temperature / top-p and fine-tunes on
 * all of them with cross-entropy, unverified (weight 1 each; the grades are not used). Its
 * attempts are graded and counted like any other strategy's: the budget is the same.
 */
export const ssd: Strategy = {
  name: 'ssd',
  needsTrainer: true,
  promptLimited: false,
  settingKeys: ['rollouts', ...SAMPLING_KEYS, 'ssdTemperature', 'ssdTopP', ...ADAPTER_KEYS],
  generationsPerStep: (settings) => settings.rollouts,
  sampling: (s) => ({ temperature: temperatureOf(s), topP: topPOf(s), topK: s.sampleTopK, logprobs: false }),
  trainerSettings: (s) => ({
    loss: 'cross_entropy',
    ...teacherless(s),
    ...adapterSettings(s),
  }),
  protocol: (settings, variant = 'ssd') => ({
    variant,
    strategy: 'ssd',
    label: variant,
    learns: true,
    independent: false,
    loss: 'cross_entropy',
    teacher: null,
    teacher_context: null,
    generations_per_step: settings.rollouts,
    prompt: 'the question alone',
    description: `${settings.rollouts} rollouts per step with the current LoRA adapter at temperature ${temperatureOf(settings)}, top-p ${topPOf(settings)}, then one cross-entropy step on all of them, unverified`,
    source: 'Embarrassingly Simple Self-Distillation (Apple): SFT on the model\'s own unverified samples; temperature and top-p default to the run\'s',
    settings: { rollouts: settings.rollouts, temperature: temperatureOf(settings), top_p: topPOf(settings), max_tokens: settings.maxTokens, ...adapterProtocolSettings(settings) },
  }),
  async run(cell: CellContext): Promise<CellResult> {
    return runLearningCell(cell, generationMessages(cell.task), async (attempts, studentPrompt) =>
      attempts.map((attempt): TrainExample => ({ studentPrompt, teacherPrompt: studentPrompt, response: attempt.responseTokens, masked: false, advantage: 1 })),
    );
  },
};
