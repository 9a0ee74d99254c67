import type { TeacherSource } from '../prompts/index.js';
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
