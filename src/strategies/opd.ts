import path from 'node:path';
import { generationMessages } from '../prompts/index.js';
import type { TeacherContext } from '../run/config.js';
import { adapterProtocolSettings, adapterSettings, ADAPTER_KEYS, distillExamples, runLearningCell, SAMPLING_KEYS } from './learning.js';
import type { CellContext, CellResult, Strategy, StrategySettings } from './types.js';

/** opd's default teacher context: the plain question (on-policy distillation as GKD runs it). */
const contextOf = (s: StrategySettings): TeacherContext => s.teacherContext ?? 'none';

/**
 * On-policy distillation from a second model (GKD; Thinking Machines' on-policy distillation):
 * each step samples G rollouts with the student's current adapter, and the student's top-K
 * distribution on them is pulled towards the teacher model's (the SDPO divergences; the teacher
 * model has no adapter and shares the student's vocabulary). Its context is the plain prompt by
 * default; with --teacher-context feedback it is SDPO with a bigger teacher.
 */
export const opd: Strategy = {
  name: 'opd',
  needsTrainer: true,
  promptLimited: false,
  settingKeys: ['rollouts', ...SAMPLING_KEYS, 'topK', 'divergence', 'jsdAlpha', 'teacherContext', 'teacherModel', 'isClip', ...ADAPTER_KEYS],
  generationsPerStep: (settings) => settings.rollouts,
  refuse: (s) => (s.teacherModel === null ? 'opd needs --teacher-model FILE|hf:URI (the bigger teacher)' : null),
  teacherContext: contextOf,
  trainerSettings: (s) => ({
    loss: 'distill',
    divergence: s.divergence,
    jsdAlpha: s.jsdAlpha,
    topK: s.topK,
    // The teacher model scores without an adapter: it never moves.
    teacher: 'frozen',
    ema: s.ema,
    teacherModel: s.teacherModel!,
    ...(s.isClip === null ? {} : { isClip: s.isClip }),
    ...adapterSettings(s),
  }),
  protocol: (settings, variant = 'opd') => ({
    variant,
    strategy: 'opd',
    label: variant,
    learns: true,
    independent: false,
    loss: 'distill',
    teacher: 'model',
    teacher_context: contextOf(settings),
    generations_per_step: settings.rollouts,
    prompt: `the question alone (the student); the teacher model sees ${contextOf(settings) === 'none' ? 'the same prompt' : contextOf(settings) === 'feedback' ? "also a correct sibling or the rollout's own feedback" : "also the task's reference solution"}`,
    description: `${settings.rollouts} rollouts per step with the current LoRA adapter, then one distillation step towards ${settings.teacherModel === null ? 'the teacher model' : path.basename(settings.teacherModel)} (${settings.divergence}, top-${settings.topK} + tail)`,
    source: 'GKD / on-policy distillation: student samples, teacher log-probs on them, per-token reverse KL; same loss family and defaults as sdpo',
    settings: { rollouts: settings.rollouts, temperature: settings.temperature, max_tokens: settings.maxTokens, teacher_model: settings.teacherModel, teacher_context: contextOf(settings), divergence: settings.divergence, top_k: settings.topK, is_clip: settings.isClip, ...adapterProtocolSettings(settings) },
  }),
  async run(cell: CellContext): Promise<CellResult> {
    const context = contextOf(cell.settings);
    return runLearningCell(cell, generationMessages(cell.task), (attempts, studentPrompt) => distillExamples(cell, studentPrompt, attempts, context));
  },
};
