/**
 * Pure prompt builders (text in, messages out), shared by the sampler, the strategies and the
 * trainer. Wording follows LiveCodeBench's generic generation prompt and the SDPO paper's
 * teacher / multi-turn templates (see ../shared/docs/sdpo.md).
 */
import type { ChatMessage } from '../model/types.js';
import type { Task } from '../tasks/types.js';

export const SYSTEM_MESSAGE =
  'You are an expert Python programmer. You will be given a question (problem specification) and will generate a correct Python program that matches the specification and passes all tests.';

const FORMAT_WITH_STARTER =
  'You will use the following starter code to write the solution to the problem and enclose your code within delimiters.';
const FORMAT_WITHOUT_STARTER =
  'Read the inputs from stdin solve the problem and write the answer to stdout (do not directly test on the sample inputs). Enclose your code within delimiters as follows. Ensure that when the python program runs, it reads the inputs, runs the algorithm and writes output to STDOUT.';

export const FEEDBACK_HEADER = '\nThe following is feedback from your unsuccessful earlier attempt:\n\n';
export const SOLUTION_HEADER = '\nCorrect solution:\n\n';
export const REPROMPT_TAIL = '\n\nCorrectly solve the original question.';

/** The question x: LiveCodeBench's user message for a task. */
export function questionText(task: Pick<Task, 'content' | 'starterCode'>): string {
  let text = `### Question:\n${task.content}\n\n`;
  if (task.starterCode) {
    text += `### Format: ${FORMAT_WITH_STARTER}\n\`\`\`python\n${task.starterCode}\n\`\`\`\n\n`;
  } else {
    text += `### Format: ${FORMAT_WITHOUT_STARTER}\n\`\`\`python\n# YOUR CODE HERE\n\`\`\`\n\n`;
  }
  text += '### Answer: (use the provided format with backticks)\n\n';
  return text;
}

/** The student's prompt π(·|x). */
export function generationMessages(task: Pick<Task, 'content' | 'starterCode'>): ChatMessage[] {
  return [
    { role: 'system', content: SYSTEM_MESSAGE },
    { role: 'user', content: questionText(task) },
  ];
}

/** Removes reasoning blocks so a sibling's solution shows only its answer. */
export function stripThinking(text: string): string {
  return text.replace(/<think>[\s\S]*?<\/think>\s*/g, '').replace(/^[\s\S]*?<\/think>\s*/, '');
}

export type TeacherSource =
  | { kind: 'solution'; text: string } // a sibling's correct response
  | { kind: 'feedback'; text: string }; // this attempt's own environment feedback

/** The teacher context c: question + sibling solution or feedback + the re-prompt. */
export function teacherMessages(task: Pick<Task, 'content' | 'starterCode'>, source: TeacherSource): ChatMessage[] {
  const x = questionText(task);
  const middle =
    source.kind === 'solution' ? SOLUTION_HEADER + stripThinking(source.text) : FEEDBACK_HEADER + source.text;
  return [
    { role: 'system', content: SYSTEM_MESSAGE },
    { role: 'user', content: x + middle + REPROMPT_TAIL },
  ];
}

/**
 * The multi-turn baseline's prompt: question + all past feedback (oldest first), dropping the
 * oldest feedback while the rendered prompt exceeds `maxPromptTokens`. Returns the messages
 * and how many feedback items were kept.
 */
export async function multiTurnMessages(
  task: Pick<Task, 'content' | 'starterCode'>,
  feedbacks: string[],
  countPromptTokens: (messages: ChatMessage[]) => Promise<number>,
  maxPromptTokens: number,
): Promise<{ messages: ChatMessage[]; kept: number }> {
  const build = (items: string[]): ChatMessage[] =>
    items.length === 0
      ? generationMessages(task)
      : [
          { role: 'system', content: SYSTEM_MESSAGE },
          { role: 'user', content: questionText(task) + FEEDBACK_HEADER + items.join('\n\n') + REPROMPT_TAIL },
        ];
  // Binary search on how many of the newest items fit: the token count grows with the number kept.
  let lo = 0;
  let hi = feedbacks.length;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    const tokens = await countPromptTokens(build(feedbacks.slice(feedbacks.length - mid)));
    if (tokens <= maxPromptTokens) lo = mid;
    else hi = mid - 1;
  }
  return { messages: build(feedbacks.slice(feedbacks.length - lo)), kept: lo };
}
