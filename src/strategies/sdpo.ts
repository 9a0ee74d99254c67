import { generationMessages } from '../prompts/index.js';
import type { TeacherContext } from '../run/config.js';
import { adapterProtocolSettings, adapterSettings, ADAPTER_KEYS, distillExamples, runLearningCell, SAMPLING_KEYS } from './learning.js';
import type { CellContext, CellResult, Strategy, StrategySettings } from './types.js';

/** sdpo's default teacher context: a correct sibling or the rollout's own feedback (sdpo.md). */
const contextOf = (s: StrategySettings): TeacherContext => s.teacherContext ?? 'feedback';

const CONTEXT_TEXT: Record<TeacherContext, string> = {
  feedback: "the teacher also sees a correct sibling or the rollout's own feedback",
  reference: "the teacher also sees the task's reference solution (privileged, OPSD/SDFT's oracle teacher)",
  none: 'the teacher sees the question alone',
};

/**
 * SDPO at test time (sdpo.md): each step samples G rollouts with the cell's current LoRA
 * adapter, grades them, builds one teacher context per rollout and takes one self-distillation
 * step (the student's top-K distribution pulled towards the teacher's on the student's own
 * rollouts) before the next step samples with the new adapter. The loop and its resume are
 * learning.ts's.
 */
export const sdpo: Strategy = {
  name: 'sdpo',
  needsTrainer: true,
  promptLimited: false,
  settingKeys: ['rollouts', ...SAMPLING_KEYS, 'topK', 'divergence', 'jsdAlpha', 'teacher', 'teacherContext', 'ema', 'isClip', ...ADAPTER_KEYS],
  generationsPerStep: (settings) => settings.rollouts,
  refuse: (s) =>
    contextOf(s) === 'none' && s.teacher === 'live'
      ? '--teacher live with --teacher-context none is the student distilled into itself: no signal (give the teacher feedback, a reference, or another teacher)'
      : null,
  teacherContext: contextOf,
  trainerSettings: (s) => ({
    loss: 'distill',
    divergence: s.divergence,
    jsdAlpha: s.jsdAlpha,
    topK: s.topK,
    teacher: s.teacher,
    ema: s.ema,
    ...(s.isClip === null ? {} : { isClip: s.isClip }),
    ...adapterSettings(s),
  }),
  protocol: (settings, variant = 'sdpo') => ({
    variant,
    strategy: 'sdpo',
    label: variant,
    learns: true,
    independent: false,
    loss: 'distill',
    teacher: settings.teacher,
    teacher_context: contextOf(settings),
    generations_per_step: settings.rollouts,
    prompt: `the question alone (the student); ${CONTEXT_TEXT[contextOf(settings)]}`,
    description: `${settings.rollouts} rollouts per step with the current LoRA adapter, then one self-distillation step (${settings.divergence}, top-${settings.topK} + tail, ${settings.teacher} teacher${settings.teacher === 'ema' || settings.teacher === 'trust_region' ? ` η ${settings.ema}` : ''}) before the next step`,
    source: 'sdpo.md: G 16, temperature 1.0, 8192 tokens, teacher prompts ≤ 10240 tokens, reverse KL on the student\'s top-20, EMA teacher 0.01',
    settings: {
      rollouts: settings.rollouts,
      temperature: settings.temperature,
      max_tokens: settings.maxTokens,
      max_teacher_prompt_tokens: settings.maxTeacherPromptTokens,
      divergence: settings.divergence,
      top_k: settings.topK,
      teacher: settings.teacher,
      teacher_context: contextOf(settings),
      ema: settings.ema,
      is_clip: settings.isClip,
      ...adapterProtocolSettings(settings),
    },
  }),
  async run(cell: CellContext): Promise<CellResult> {
    const context = contextOf(cell.settings);
    return runLearningCell(cell, generationMessages(cell.task), (attempts, studentPrompt) => distillExamples(cell, studentPrompt, attempts, context));
  },
};
