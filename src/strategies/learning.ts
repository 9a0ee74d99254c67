import type { ChatMessage } from '../model/types.js';
import { teacherMessages } from '../prompts/index.js';
import type { TrainExample } from '../trainer/types.js';
import { cellPlan, cellResult, gradeAndRecord, sampleMissing, stepAttempts, stopsAfter } from './attempt.js';
import type { PlannedStep } from './steps.js';
import { teacherContextsOf, truncateLeft } from './teacher.js';
import type { TeacherContext } from '../run/config.js';
import type { AttemptOutcome, CellContext, CellResult, CellTrainer, LearnerSettings, StrategySettings } from './types.js';

/**
 * The batch of one step's update, or null when the step has no learning signal (no trainer
 * call; the step is still logged, with signal false, and the adapter stays).
 */
export type BuildBatch = (attempts: AttemptOutcome[], studentPrompt: number[], planned: PlannedStep) => Promise<TrainExample[] | null>;

/**
 * The loop every learning strategy shares (sdpo.md): each step samples G rollouts with the
 * cell's current LoRA adapter, grades them, builds the step's batch and takes one trainer step;
 * the next step samples with the new adapter. No training follows the last step (the budget is
 * spent) or a discovery (unless --continue-after-success).
 *
 * Resume: the steps logged in the store (with or without signal) are done. The trainer is saved
 * after every update before its train_step event is written, so its persisted step count is
 * either the number of updates logged or one more: that one is the step after the last logged
 * one, logged from the result the trainer client kept next to its state.
 */
export async function runLearningCell(cell: CellContext, studentMessages: ChatMessage[], build: BuildBatch): Promise<CellResult> {
  const trainer = cell.trainer;
  if (!trainer) throw new Error(`${cell.strategy} needs a trainer`);
  const studentPrompt = await cell.sampler.renderPrompt(studentMessages);
  const recovered = recoverLearning(cell, trainer);
  const done = recovered.done;
  let adapter = recovered.adapter;
  for (const planned of cellPlan(cell)) {
    if (planned.step <= done) continue; // sampled, graded and trained before the resume
    const sampled = await sampleMissing(cell, planned, studentMessages, adapter);
    await gradeAndRecord(cell, planned, sampled);
    const lastK = planned.firstK + planned.size - 1;
    if (stopsAfter(cell, lastK) || lastK >= cell.budget) break;
    const examples = await build(stepAttempts(cell, planned), studentPrompt, planned);
    if (examples === null) {
      cell.recordNoSignalStep(planned.step, adapter, planned.size);
      cell.history.trainSteps.set(planned.step, { adapterPath: adapter, signal: false });
      continue;
    }
    const result = await trainer.step(examples);
    await trainer.save();
    cell.recordTrainStep(planned.step, result, examples.filter((e) => e.masked).length);
    cell.history.trainSteps.set(planned.step, { adapterPath: result.adapterPath });
    adapter = result.adapterPath;
  }
  return cellResult(cell);
}

/** The last step done and the adapter to sample with after a resume; logs an update the trainer saved but the store missed. */
export function recoverLearning(cell: Pick<CellContext, 'history' | 'recordTrainStep'>, trainer: Pick<CellTrainer, 'completedSteps' | 'lastResult'>): { done: number; adapter: string | null } {
  const logged = cell.history.trainSteps;
  const lastLogged = logged.size === 0 ? 0 : Math.max(...logged.keys());
  const updatesLogged = [...logged.values()].filter((s) => s.signal !== false).length;
  const adapterAfter = lastLogged === 0 ? null : logged.get(lastLogged)!.adapterPath;
  const completed = trainer.completedSteps;
  if (completed === updatesLogged) return { done: lastLogged, adapter: adapterAfter };
  const last = trainer.lastResult;
  if (completed === updatesLogged + 1 && last && last.result.step === completed) {
    const step = lastLogged + 1;
    cell.recordTrainStep(step, last.result, last.masked);
    logged.set(step, { adapterPath: last.result.adapterPath });
    return { done: step, adapter: last.result.adapterPath };
  }
  throw new Error(`trainer state has ${completed} updates but the log holds ${updatesLogged} and the result of update ${completed} is gone`);
}

/**
 * Distillation batches (sdpo, opd): one teacher prompt per rollout from the teacher context
 * (masked where it gives the teacher nothing), left-truncated to the teacher prompt limit.
 */
export async function distillExamples(
  cell: Pick<CellContext, 'task' | 'sampler' | 'maxTeacherPromptTokens'>,
  studentPrompt: number[],
  attempts: AttemptOutcome[],
  context: TeacherContext,
): Promise<TrainExample[]> {
  const sources = teacherContextsOf(cell.task, attempts, context);
  return Promise.all(
    attempts.map(async (attempt, i) => {
      const source = sources[i];
      if (source === null) {
        return { studentPrompt, teacherPrompt: studentPrompt, response: attempt.responseTokens, masked: true };
      }
      const teacherPrompt = source === 'plain' ? studentPrompt : truncateLeft(await cell.sampler.renderPrompt(teacherMessages(cell.task, source)), cell.maxTeacherPromptTokens);
      return {
        studentPrompt,
        teacherPrompt,
        response: attempt.responseTokens,
        masked: false,
        ...(attempt.logprobs ? { behaviorLogprobs: attempt.logprobs } : {}),
      };
    }),
  );
}

/** LoRA, optimizer and measurement settings every learning strategy passes on as they are. */
export function adapterSettings(s: StrategySettings): Pick<LearnerSettings, 'loraRank' | 'loraAlpha' | 'loraTargets' | 'lr' | 'weightDecay' | 'gradClip' | 'measureKlAfter'> {
  return { loraRank: s.loraRank, loraAlpha: s.loraAlpha, loraTargets: s.loraTargets, lr: s.lr, weightDecay: s.weightDecay, gradClip: s.gradClip, measureKlAfter: s.measureKlAfter };
}

/**
 * The distill fields of the trainer's config, for a loss without a teacher (policy gradient,
 * cross-entropy): required by the config, unused by the step (no teacher context, no teacher pass).
 */
export function teacherless(s: StrategySettings): Pick<LearnerSettings, 'divergence' | 'jsdAlpha' | 'topK' | 'teacher' | 'ema'> {
  return { divergence: s.divergence, jsdAlpha: s.jsdAlpha, topK: s.topK, teacher: 'frozen', ema: s.ema };
}

/** The settings keys of adapterSettings (a variant may set them on any learning strategy). */
export const ADAPTER_KEYS = ['lr', 'weightDecay', 'gradClip', 'loraRank', 'loraAlpha'] as const satisfies readonly (keyof StrategySettings)[];
/** Sampling keys every strategy reads. */
export const SAMPLING_KEYS = ['temperature', 'topP', 'sampleTopK'] as const satisfies readonly (keyof StrategySettings)[];

/** Protocol settings common to the learning strategies. */
export function adapterProtocolSettings(s: StrategySettings): Record<string, unknown> {
  return { lr: s.lr, weight_decay: s.weightDecay, grad_clip: s.gradClip, lora_rank: s.loraRank, lora_alpha: s.loraAlpha };
}
