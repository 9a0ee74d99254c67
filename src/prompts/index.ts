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

/** The multi-turn baseline's two prompt templates (lasgroup/SDPO `baseline_multiturn/multiturn.py`). */
export const MULTI_TURN_TEMPLATES = ['feedback-only', 'attempt-and-feedback'] as const;
export type MultiTurnTemplate = (typeof MULTI_TURN_TEMPLATES)[number];

/** The paper's multi-turn wording, verbatim from multiturn.py's `_build_prompt`. */
export const MULTI_TURN_FEEDBACK_PREFIX = 'The following is feedback from your unsuccessful earlier attempt:\n\n';
export const MULTI_TURN_FEEDBACK_SUFFIX = '\n\nCorrectly solve the original question.';

/** One failed earlier turn as the multi-turn prompt replays it. */
export interface EarlierTurn {
  response: string; // the model's whole response (attempt-and-feedback replays it as an assistant turn)
  feedback: string; // the grader's feedback on it
}

/**
 * The multi-turn prompt for a template and the failed earlier turns (oldest first):
 * - no earlier turn: the plain generation prompt (turn 1 is exactly a best-of-K sample's prompt);
 * - `feedback-only`: ONE user message, question + "\n\n" + prefix + every feedback joined by blank
 *   lines + suffix (multiturn.py: f"{question}\n\n{feedback_prefix}{all_feedback}{feedback_suffix}");
 * - `attempt-and-feedback`: the question, then for each earlier turn its response as an assistant
 *   message followed by a user message prefix + feedback + suffix.
 * ttsd's question is LiveCodeBench's (it ends with a blank line, trimmed here so the separator is
 * the paper's "\n\n") after ttsd's system message, the same for every strategy.
 */
export function multiTurnPrompt(task: Pick<Task, 'content' | 'starterCode'>, turns: readonly EarlierTurn[], template: MultiTurnTemplate): ChatMessage[] {
  if (turns.length === 0) return generationMessages(task);
  const system: ChatMessage = { role: 'system', content: SYSTEM_MESSAGE };
  if (template === 'feedback-only') {
    const all = turns.map((t) => t.feedback).join('\n\n');
    return [system, { role: 'user', content: `${questionText(task).trimEnd()}\n\n${MULTI_TURN_FEEDBACK_PREFIX}${all}${MULTI_TURN_FEEDBACK_SUFFIX}` }];
  }
  const messages: ChatMessage[] = [system, { role: 'user', content: questionText(task) }];
  for (const turn of turns) {
    messages.push({ role: 'assistant', content: turn.response });
    messages.push({ role: 'user', content: `${MULTI_TURN_FEEDBACK_PREFIX}${turn.feedback}${MULTI_TURN_FEEDBACK_SUFFIX}` });
  }
  return messages;
}

/**
 * The multi-turn prompt within `maxPromptTokens`: the oldest earlier turns are dropped first
 * while the rendered prompt is longer (multiturn.py pops the oldest feedback, and with
 * attempt-and-feedback its response, until the prompt fits). The kept turns are the longest
 * suffix that fits, found by binary search (the rendered length grows with every turn kept);
 * since the full history only grows, this equals the paper's permanent, turn-by-turn trimming.
 * Returns the messages and how many of the newest turns were kept.
 */
export async function multiTurnMessages(
  task: Pick<Task, 'content' | 'starterCode'>,
  turns: readonly EarlierTurn[],
  template: MultiTurnTemplate,
  countPromptTokens: (messages: ChatMessage[]) => Promise<number>,
  maxPromptTokens: number,
): Promise<{ messages: ChatMessage[]; kept: number }> {
  const build = (kept: number) => multiTurnPrompt(task, turns.slice(turns.length - kept), template);
  if ((await countPromptTokens(build(turns.length))) <= maxPromptTokens) return { messages: build(turns.length), kept: turns.length };
  let lo = 0;
  let hi = turns.length - 1;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if ((await countPromptTokens(build(mid))) <= maxPromptTokens) lo = mid;
    else hi = mid - 1;
  }
  return { messages: build(lo), kept: lo };
}
