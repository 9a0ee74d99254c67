import type { TeacherSource } from '../prompts/index.js';
import type { TeacherContext } from '../run/config.js';
import type { Task } from '../tasks/types.js';
import type { AttemptOutcome } from './types.js';

/**
 * The teacher context of each attempt of one step, in sdpo.md's priority: a sibling j ≠ i with
 * public reward 1 (its response becomes the "Correct solution"), else the attempt's own
 * feedback, else null (masked: zero loss, still counted). A sample never teaches itself: an
 * attempt that is the step's only success has no sibling and, with no feedback, is masked.
 * Among several successful siblings the earliest position is used, so the choice is
 * deterministic and survives a resume.
 */
export function teacherSources(attempts: Pick<AttemptOutcome, 'reward' | 'feedback' | 'text'>[]): (TeacherSource | null)[] {
  const successes = attempts.map((a, i) => (a.reward === 1 ? i : -1)).filter((i) => i >= 0);
  return attempts.map((attempt, i) => {
    const sibling = successes.find((j) => j !== i);
    if (sibling !== undefined) return { kind: 'solution', text: attempts[sibling].text };
    if (attempt.feedback.trim() !== '') return { kind: 'feedback', text: attempt.feedback };
    return null;
  });
}

/** Keeps the last `max` tokens (left truncation, as verl truncates prompts): the re-prompt and the assistant header stay. */
export function truncateLeft(tokens: number[], max: number): number[] {
  return tokens.length <= max ? tokens : tokens.slice(tokens.length - max);
}

/**
 * What the teacher of each attempt sees under a teacher context:
 * - feedback: teacherSources (a correct sibling, else the own feedback, else masked);
 * - reference: the task's reference solution as the "Correct solution" (the privileged oracle
 *   teacher of OPSD / SDFT), for every attempt (never masked);
 * - none: the plain question, the student's own prompt ('plain'), for every attempt.
 */
export function teacherContextsOf(
  task: Pick<Task, 'id' | 'referenceSolution'>,
  attempts: Pick<AttemptOutcome, 'reward' | 'feedback' | 'text'>[],
  context: TeacherContext,
): (TeacherSource | 'plain' | null)[] {
  if (context === 'feedback') return teacherSources(attempts);
  if (context === 'none') return attempts.map(() => 'plain');
  if (task.referenceSolution === undefined) throw new Error(`task ${task.id} has no reference solution (refused at start)`);
  // Fenced like a response's code, so the teacher sees it as a sibling's solution would look.
  const reference: TeacherSource = { kind: 'solution', text: `\`\`\`python\n${task.referenceSolution.trimEnd()}\n\`\`\`` };
  return attempts.map(() => reference);
}
