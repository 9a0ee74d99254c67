import { describe, expect, it } from 'vitest';
import type { ChatMessage } from '../../src/model/types.js';
import {
  FEEDBACK_HEADER,
  REPROMPT_TAIL,
  SOLUTION_HEADER,
  SYSTEM_MESSAGE,
  generationMessages,
  multiTurnMessages,
  questionText,
  stripThinking,
  teacherMessages,
} from '../../src/prompts/index.js';

const stdinTask = { content: 'Add two numbers.', starterCode: '' };
const functionalTask = { content: 'Return the sum.', starterCode: 'class Solution:\n    def add(self, a: int, b: int) -> int:\n        ' };

describe('LiveCodeBench generation prompt', () => {
  it('asks a stdin task to read stdin and write stdout', () => {
    expect(questionText(stdinTask)).toBe(
      '### Question:\nAdd two numbers.\n\n' +
        '### Format: Read the inputs from stdin solve the problem and write the answer to stdout (do not directly test on the sample inputs). Enclose your code within delimiters as follows. Ensure that when the python program runs, it reads the inputs, runs the algorithm and writes output to STDOUT.\n' +
        '```python\n# YOUR CODE HERE\n```\n\n' +
        '### Answer: (use the provided format with backticks)\n\n',
    );
  });

  it('shows a functional task its starter code', () => {
    const text = questionText(functionalTask);
    expect(text).toContain('### Format: You will use the following starter code');
    expect(text).toContain('```python\nclass Solution:\n    def add(self, a: int, b: int) -> int:\n        \n```\n\n');
    expect(text).not.toContain('# YOUR CODE HERE');
  });

  it('pairs the generic system message with the question', () => {
    expect(generationMessages(stdinTask)).toEqual([
      { role: 'system', content: SYSTEM_MESSAGE },
      { role: 'user', content: questionText(stdinTask) },
    ]);
  });
});

describe('teacher context', () => {
  it('puts the feedback between the question and the re-prompt', () => {
    const [system, user] = teacherMessages(stdinTask, { kind: 'feedback', text: 'Runtime Error\nZeroDivisionError' });
    expect(system.content).toBe(SYSTEM_MESSAGE);
    expect(user.content).toBe(questionText(stdinTask) + FEEDBACK_HEADER + 'Runtime Error\nZeroDivisionError' + REPROMPT_TAIL);
    expect(user.content).toContain('\nThe following is feedback from your unsuccessful earlier attempt:\n\nRuntime Error');
    expect(user.content.endsWith('\n\nCorrectly solve the original question.')).toBe(true);
  });

  it("shows a sibling's solution without its reasoning", () => {
    const sibling = '<think>try a loop</think>\n```python\nprint(3)\n```';
    const [, user] = teacherMessages(stdinTask, { kind: 'solution', text: sibling });
    expect(user.content).toBe(questionText(stdinTask) + SOLUTION_HEADER + '```python\nprint(3)\n```' + REPROMPT_TAIL);
    expect(user.content).not.toContain('try a loop');
  });

  it('strips an unterminated-open reasoning prefix and keeps plain text', () => {
    expect(stripThinking('plain')).toBe('plain');
    expect(stripThinking('reasoning without opening tag</think>\nanswer')).toBe('answer');
  });
});

describe('multi-turn prompt', () => {
  // A token counter that counts characters keeps the arithmetic checkable by hand.
  const countChars = async (messages: ChatMessage[]) => messages.reduce((n, m) => n + m.content.length, 0);

  it('is the plain generation prompt when there is no feedback', async () => {
    const { messages, kept } = await multiTurnMessages(stdinTask, [], countChars, 10_000);
    expect(kept).toBe(0);
    expect(messages).toEqual(generationMessages(stdinTask));
  });

  it('joins all feedback oldest first with blank lines', async () => {
    const { messages, kept } = await multiTurnMessages(stdinTask, ['first', 'second', 'third'], countChars, 10_000);
    expect(kept).toBe(3);
    expect(messages[1].content).toBe(questionText(stdinTask) + FEEDBACK_HEADER + 'first\n\nsecond\n\nthird' + REPROMPT_TAIL);
  });

  it('drops the oldest feedback first until the prompt fits', async () => {
    const feedbacks = ['a'.repeat(100), 'b'.repeat(100), 'c'.repeat(100)];
    const base = SYSTEM_MESSAGE.length + questionText(stdinTask).length + FEEDBACK_HEADER.length + REPROMPT_TAIL.length;
    // Room for exactly two items plus one separator.
    const { messages, kept } = await multiTurnMessages(stdinTask, feedbacks, countChars, base + 202);
    expect(kept).toBe(2);
    expect(messages[1].content).toContain('b'.repeat(100) + '\n\n' + 'c'.repeat(100));
    expect(messages[1].content).not.toContain('aaaa');
    expect(await countChars(messages)).toBe(base + 202);
    // One character less and only the newest survives.
    const tighter = await multiTurnMessages(stdinTask, feedbacks, countChars, base + 201);
    expect(tighter.kept).toBe(1);
  });
});
