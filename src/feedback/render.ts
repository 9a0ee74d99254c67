/**
 * The feedback text a teacher sees after a failed attempt, rendered the way the SDPO paper's
 * environment does (LeetCode-like): runtime error with the solution's own frames and the last
 * executed input; time limit with the last executed input; up to two wrong-answer cases,
 * shortest input first; the format cases (no code block, cut-off response). Inputs are cut to
 * 250 chars / 8 lines, outputs to 250 chars, the whole message to 2000 chars.
 */

export const INPUT_CHAR_LIMIT = 250;
export const INPUT_LINE_LIMIT = 8;
export const OUTPUT_CHAR_LIMIT = 250;
export const MESSAGE_CHAR_LIMIT = 2000;
export const MAX_WRONG_CASES = 2;
const FRAME_LIMIT = 3;

export interface ExceptionReport {
  type: string;
  message: string;
  /** Frames of the solution itself, innermost last (line numbers in the submitted code). */
  frames: { line: number; name: string }[];
}

export interface FailingCase {
  /** 0-based index of the test among the graded ones. */
  index: number;
  input: string;
  output?: string;
  expected?: string;
}

export type FailureKind = 'wrong_answer' | 'runtime_error' | 'time_limit' | 'memory_limit';

export type FeedbackInput =
  | { kind: 'no_code'; truncated: boolean }
  | {
      kind: FailureKind;
      exception?: ExceptionReport;
      /** Input of the test that was running when the program failed (runtime/time/memory). */
      lastInput?: string;
      /** Failing wrong-answer cases (at most MAX_WRONG_CASES are shown). */
      cases?: FailingCase[];
      /** The response was cut off by the token limit (but still had a code block). */
      truncated?: boolean;
    };

const CUT_MARK = '...';

export function truncateInput(input: string): string {
  const lines = input.split('\n');
  let text = lines.slice(0, INPUT_LINE_LIMIT).join('\n');
  let cut = lines.length > INPUT_LINE_LIMIT;
  if (text.length > INPUT_CHAR_LIMIT) {
    text = text.slice(0, INPUT_CHAR_LIMIT);
    cut = true;
  }
  return cut ? text + CUT_MARK : text;
}

export function truncateOutput(output: string): string {
  return output.length > OUTPUT_CHAR_LIMIT ? output.slice(0, OUTPUT_CHAR_LIMIT) + CUT_MARK : output;
}

export function truncateMessage(message: string): string {
  const note = '\n... (feedback truncated)';
  return message.length > MESSAGE_CHAR_LIMIT ? message.slice(0, MESSAGE_CHAR_LIMIT - note.length) + note : message;
}

/** Test inputs and outputs end in a newline; the rendering shows them without it. */
function trimEnd(text: string): string {
  return text.replace(/\s+$/, '');
}

function lastInputSection(input: string | undefined): string[] {
  return input === undefined ? [] : ['Last Executed Input', truncateInput(trimEnd(input))];
}

export function renderFeedback(input: FeedbackInput): string {
  if (input.kind === 'no_code') {
    return input.truncated
      ? 'Your response was cut off (it reached the token limit) before it contained a complete code block. ' +
          'Keep the reasoning shorter and end with the full solution in a single ```python code block.'
      : 'Your response did not contain a code block. Write the complete solution in a single ```python code block.';
  }
  const parts: string[] = [];
  if (input.truncated) {
    parts.push('Note: your response was cut off (it reached the token limit); the last code block in it was graded.');
  }
  switch (input.kind) {
    case 'runtime_error': {
      const lines = ['Runtime Error'];
      if (input.exception) {
        const { type, message, frames } = input.exception;
        lines.push(message ? `${type}: ${truncateOutput(message)}` : type);
        // Innermost frame first, as LeetCode prints them.
        for (const frame of frames.slice(-FRAME_LIMIT).reverse()) lines.push(`Line ${frame.line} in ${frame.name} (Solution.py)`);
      }
      lines.push(...lastInputSection(input.lastInput));
      parts.push(lines.join('\n'));
      break;
    }
    case 'time_limit':
      parts.push(['Time Limit Exceeded', ...lastInputSection(input.lastInput)].join('\n'));
      break;
    case 'memory_limit':
      parts.push(['Memory Limit Exceeded', ...lastInputSection(input.lastInput)].join('\n'));
      break;
    case 'wrong_answer': {
      const cases = [...(input.cases ?? [])]
        .sort((a, b) => a.input.length - b.input.length || a.index - b.index)
        .slice(0, MAX_WRONG_CASES);
      if (cases.length === 0) parts.push('Wrong Answer');
      for (const c of cases) {
        parts.push(
          [
            `Test Case ${c.index + 1}: Wrong Answer`,
            'Input',
            truncateInput(trimEnd(c.input)),
            'Output',
            truncateOutput(trimEnd(c.output ?? '')),
            'Expected',
            truncateOutput(trimEnd(c.expected ?? '')),
          ].join('\n'),
        );
      }
      break;
    }
  }
  return truncateMessage(parts.join('\n\n'));
}
