import { generationMessages, teacherMessages } from '../prompts/index.js';
import type { TrainExample } from '../trainer/types.js';
import { cellPlan, cellResult, gradeAndRecord, sampleMissing, stepAttempts, stopsAfter } from './attempt.js';
import { teacherSources, truncateLeft } from './teacher.js';
import type { AttemptOutcome, CellContext, CellResult, CellTrainer, Strategy } from './types.js';

/**
 * SDPO at test time (sdpo.md): each step samples G rollouts with the cell's current LoRA
 * adapter, grades them, builds one teacher context per rollout, takes one trainer step and
 * samples the next step with the new adapter. No training follows the last step (the budget is
 * spent) or a discovery (unless --continue-after-success).
 *
 * Resume: the trainer's persisted step count decides which step is next. The trainer is saved
 * after every step before its train_step event is written; a step saved but not yet logged is
 * logged from the result the trainer client kept next to its state.
 */
export const sdpo: Strategy = {
  name: 'sdpo',
  needsTrainer: true,
  promptLimited: false,
  generationsPerStep: (settings) => settings.rollouts,
  protocol: (settings) => ({
    strategy: 'sdpo',
    label: 'sdpo',
    learns: true,
    generations_per_step: settings.rollouts,
    prompt: 'the question alone (the student); the teacher also sees a correct sibling or the rollout\'s own feedback',
    description: `${settings.rollouts} rollouts per step with the current LoRA adapter, then one self-distillation step (${settings.divergence}, top-${settings.topK} + tail, ${settings.teacher} teacher η ${settings.ema}) before the next step`,
    source: 'sdpo.md: G 16, temperature 1.0, 8192 tokens, teacher prompts ≤ 10240 tokens, reverse KL on the student\'s top-20, EMA teacher 0.01',
    settings: {
      rollouts: settings.rollouts,
      temperature: settings.temperature,
      max_tokens: settings.maxTokens,
      max_teacher_prompt_tokens: settings.maxTeacherPromptTokens,
      divergence: settings.divergence,
      top_k: settings.topK,
      teacher: settings.teacher,
      ema: settings.ema,
      is_clip: settings.isClip,
      lr: settings.lr,
      lora_rank: settings.loraRank,
      lora_alpha: settings.loraAlpha,
    },
  }),
  async run(cell: CellContext): Promise<CellResult> {
    const trainer = cell.trainer;
    if (!trainer) throw new Error('sdpo needs a trainer');
    const studentMessages = generationMessages(cell.task);
    const studentPrompt = await cell.sampler.renderPrompt(studentMessages);
    const completed = trainer.completedSteps;
    let adapter = recoverAdapter(cell, trainer);
    for (const planned of cellPlan(cell)) {
      if (planned.step <= completed) continue; // sampled, graded and trained before the resume
      const sampled = await sampleMissing(cell, planned, studentMessages, adapter);
      await gradeAndRecord(cell, planned, sampled);
      const lastK = planned.firstK + planned.size - 1;
      if (stopsAfter(cell, lastK) || lastK >= cell.budget) break;
      const attempts = stepAttempts(cell, planned);
      const examples = await trainExamples(cell, studentPrompt, attempts);
      const result = await trainer.step(examples);
      await trainer.save();
      const masked = examples.filter((e) => e.masked).length;
      cell.recordTrainStep(planned.step, result, masked);
      cell.history.trainSteps.set(planned.step, { adapterPath: result.adapterPath });
      adapter = result.adapterPath;
    }
    return cellResult(cell);
  },
};

/** The adapter to sample with after a resume; logs a step the trainer saved but the store missed. */
function recoverAdapter(cell: CellContext, trainer: CellTrainer): string | null {
  const completed = trainer.completedSteps;
  if (completed === 0) return null;
  const logged = cell.history.trainSteps.get(completed);
  if (logged) return logged.adapterPath;
  const last = trainer.lastResult;
  if (last && last.result.step === completed) {
    cell.recordTrainStep(completed, last.result, last.masked);
    cell.history.trainSteps.set(completed, { adapterPath: last.result.adapterPath });
    return last.result.adapterPath;
  }
  throw new Error(`trainer state has ${completed} steps but step ${completed} was never logged and its result is gone`);
}

export async function trainExamples(
  cell: Pick<CellContext, 'task' | 'sampler' | 'maxTeacherPromptTokens'>,
  studentPrompt: number[],
  attempts: AttemptOutcome[],
): Promise<TrainExample[]> {
  const sources = teacherSources(attempts);
  return Promise.all(
    attempts.map(async (attempt, i) => {
      const source = sources[i];
      if (source === null) {
        return { studentPrompt, teacherPrompt: studentPrompt, response: attempt.responseTokens, masked: true };
      }
      const rendered = await cell.sampler.renderPrompt(teacherMessages(cell.task, source));
      return {
        studentPrompt,
        teacherPrompt: truncateLeft(rendered, cell.maxTeacherPromptTokens),
        response: attempt.responseTokens,
        masked: false,
        ...(attempt.logprobs ? { behaviorLogprobs: attempt.logprobs } : {}),
      };
    }),
  );
}
