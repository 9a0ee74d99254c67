import { describe, expect, it } from 'vitest';
import type { ChatMessage } from '../../src/model/types.js';
import {
  FEEDBACK_HEADER,
  MULTI_TURN_FEEDBACK_PREFIX,
  MULTI_TURN_FEEDBACK_SUFFIX,
  MULTI_TURN_TEMPLATES,
  REPROMPT_TAIL,
  SOLUTION_HEADER,
  SYSTEM_MESSAGE,
  generationMessages,
  multiTurnMessages,
  multiTurnPrompt,
  questionText,
  type EarlierTurn,
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

describe('multi-turn prompt (lasgroup/SDPO baseline_multiturn/multiturn.py)', () => {
  // A token counter that counts characters keeps the arithmetic checkable by hand.
  const countChars = async (messages: ChatMessage[]) => messages.reduce((n, m) => n + m.content.length, 0);
  const turn = (name: string): EarlierTurn => ({ response: `response ${name}`, feedback: `feedback ${name}` });
  const question = questionText(stdinTask).trimEnd();

  it('is the plain generation prompt when there is no earlier turn, for both templates', async () => {
    for (const template of MULTI_TURN_TEMPLATES) {
      const { messages, kept } = await multiTurnMessages(stdinTask, [], template, countChars, 10_000);
      expect(kept).toBe(0);
      expect(messages).toEqual(generationMessages(stdinTask));
    }
  });

  it('feedback-only: one user message, question + every feedback oldest first, in the paper\'s words', async () => {
    const { messages, kept } = await multiTurnMessages(stdinTask, [turn('1'), turn('2'), turn('3')], 'feedback-only', countChars, 10_000);
    expect(kept).toBe(3);
    expect(messages.map((m) => m.role)).toEqual(['system', 'user']);
    // multiturn.py: f"{question}\n\n{feedback_prefix}{all_feedback}{feedback_suffix}", feedback joined by "\n\n"
    expect(messages[1].content).toBe(
      `${question}\n\nThe following is feedback from your unsuccessful earlier attempt:\n\nfeedback 1\n\nfeedback 2\n\nfeedback 3\n\nCorrectly solve the original question.`,
    );
    expect(messages[1].content).not.toContain('response');
  });

  it('attempt-and-feedback: the question, then each earlier response as an assistant turn followed by its feedback as a user turn', async () => {
    const { messages, kept } = await multiTurnMessages(stdinTask, [turn('1'), turn('2')], 'attempt-and-feedback', countChars, 10_000);
    expect(kept).toBe(2);
    expect(messages).toEqual([
      { role: 'system', content: SYSTEM_MESSAGE },
      { role: 'user', content: questionText(stdinTask) },
      { role: 'assistant', content: 'response 1' },
      { role: 'user', content: `${MULTI_TURN_FEEDBACK_PREFIX}feedback 1${MULTI_TURN_FEEDBACK_SUFFIX}` },
      { role: 'assistant', content: 'response 2' },
      { role: 'user', content: `${MULTI_TURN_FEEDBACK_PREFIX}feedback 2${MULTI_TURN_FEEDBACK_SUFFIX}` },
    ]);
  });

  it('drops the oldest turns first until the prompt fits', async () => {
    const turns = ['a', 'b', 'c'].map((c) => ({ response: c.repeat(50), feedback: c.repeat(100) }));
    const base = SYSTEM_MESSAGE.length + question.length + 2 + MULTI_TURN_FEEDBACK_PREFIX.length + MULTI_TURN_FEEDBACK_SUFFIX.length;
    // Room for exactly two items plus one separator.
    const { messages, kept } = await multiTurnMessages(stdinTask, turns, 'feedback-only', countChars, base + 202);
    expect(kept).toBe(2);
    expect(messages[1].content).toContain('b'.repeat(100) + '\n\n' + 'c'.repeat(100));
    expect(messages[1].content).not.toContain('aaaa');
    expect(await countChars(messages)).toBe(base + 202);
    // One character less and only the newest survives.
    const tighter = await multiTurnMessages(stdinTask, turns, 'feedback-only', countChars, base + 201);
    expect(tighter.kept).toBe(1);
    // attempt-and-feedback drops a turn's response together with its feedback
    const pairs = await multiTurnMessages(stdinTask, turns, 'attempt-and-feedback', countChars, (await countChars(generationMessages(stdinTask))) + 2 * (150 + MULTI_TURN_FEEDBACK_PREFIX.length + MULTI_TURN_FEEDBACK_SUFFIX.length));
    expect(pairs.kept).toBe(2);
    expect(pairs.messages.slice(2).map((m) => m.content[m.role === 'assistant' ? 0 : MULTI_TURN_FEEDBACK_PREFIX.length])).toEqual(['b', 'b', 'c', 'c']);
  });

  it('keeps, turn after turn, exactly what the paper\'s pop-the-oldest loop keeps', async () => {
    // multiturn.py trims its history for good: while the prompt is too long it pops the oldest
    // feedback (and response). ttsd recomputes the longest fitting suffix each turn; replay both.
    let seed = 7;
    const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const limit = (await countChars(generationMessages(stdinTask))) + 900;
    for (const template of MULTI_TURN_TEMPLATES) {
      const all: EarlierTurn[] = [];
      const paper: EarlierTurn[] = [];
      let trimmedTurns = 0;
      for (let t = 0; t < 40; t++) {
        const kept = await multiTurnMessages(stdinTask, all, template, countChars, limit);
        if (kept.kept < all.length) trimmedTurns++;
        while (paper.length > 0 && (await countChars(multiTurnPrompt(stdinTask, paper, template))) > limit) paper.shift();
        expect(kept.messages).toEqual(multiTurnPrompt(stdinTask, paper, template));
        const item = { response: 'r'.repeat(Math.floor(next() * 300)), feedback: `f${t} ` + 'x'.repeat(Math.floor(next() * 300)) };
        all.push(item);
        paper.push(item);
      }
      expect(trimmedTurns).toBeGreaterThan(30);
    }
  });
});
