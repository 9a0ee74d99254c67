import { describe, expect, it } from 'vitest';
import { MESSAGE_CHAR_LIMIT, renderFeedback, truncateInput, truncateMessage, truncateOutput } from '../../src/feedback/index.js';

describe('truncation limits (inputs 250 chars / 8 lines, outputs 250 chars, message 2000)', () => {
  it('keeps short values intact', () => {
    expect(truncateInput('1 2\n3')).toBe('1 2\n3');
    expect(truncateOutput('42')).toBe('42');
  });

  it('cuts inputs to 8 lines, then to 250 chars, and marks the cut', () => {
    const lines = Array.from({ length: 20 }, (_, i) => `line${i}`).join('\n');
    expect(truncateInput(lines)).toBe(Array.from({ length: 8 }, (_, i) => `line${i}`).join('\n') + '...');
    const long = 'x'.repeat(1000);
    expect(truncateInput(long)).toBe('x'.repeat(250) + '...');
    expect(truncateOutput(long)).toBe('x'.repeat(250) + '...');
  });

  it('caps the whole message at 2000 chars', () => {
    const capped = truncateMessage('z'.repeat(5000));
    expect(capped.length).toBe(MESSAGE_CHAR_LIMIT);
    expect(capped.endsWith('(feedback truncated)')).toBe(true);
    expect(truncateMessage('short')).toBe('short');
    const cases = Array.from({ length: 2 }, (_, index) => ({ index, input: 'i'.repeat(5000), output: 'o'.repeat(5000), expected: 'e'.repeat(5000) }));
    expect(renderFeedback({ kind: 'wrong_answer', cases }).length).toBeLessThanOrEqual(MESSAGE_CHAR_LIMIT);
  });
});

describe('renderFeedback', () => {
  it('runtime error: type, message, up to 3 solution frames innermost first, last executed input', () => {
    const text = renderFeedback({
      kind: 'runtime_error',
      exception: {
        type: 'IndexError',
        message: 'list index out of range',
        frames: [
          { line: 1, name: '<module>' },
          { line: 9, name: 'solve' },
          { line: 4, name: 'helper' },
          { line: 2, name: 'inner' },
        ],
      },
      lastInput: '3\n1 2 3\n',
    });
    expect(text).toBe(
      [
        'Runtime Error',
        'IndexError: list index out of range',
        'Line 2 in inner (Solution.py)',
        'Line 4 in helper (Solution.py)',
        'Line 9 in solve (Solution.py)',
        'Last Executed Input',
        '3\n1 2 3',
      ].join('\n'),
    );
  });

  it('time limit and memory limit name the last executed input', () => {
    expect(renderFeedback({ kind: 'time_limit', lastInput: '5\n' })).toBe('Time Limit Exceeded\nLast Executed Input\n5');
    expect(renderFeedback({ kind: 'memory_limit', lastInput: '7' })).toBe('Memory Limit Exceeded\nLast Executed Input\n7');
  });

  it('wrong answer: at most two cases, shortest input first, numbered from 1', () => {
    const text = renderFeedback({
      kind: 'wrong_answer',
      cases: [
        { index: 0, input: 'long input', output: '1', expected: '2' },
        { index: 3, input: 'short', output: 'a\n', expected: 'b\n' },
        { index: 5, input: 'the longest input', output: '', expected: 'x' },
      ],
    });
    expect(text).toBe(
      'Test Case 4: Wrong Answer\nInput\nshort\nOutput\na\nExpected\nb\n\n' + 'Test Case 1: Wrong Answer\nInput\nlong input\nOutput\n1\nExpected\n2',
    );
  });

  it('format cases: no code block, and a response cut off by the token limit', () => {
    expect(renderFeedback({ kind: 'no_code', truncated: false })).toMatch(/did not contain a code block.*```python/);
    expect(renderFeedback({ kind: 'no_code', truncated: true })).toMatch(/cut off.*token limit/);
    expect(renderFeedback({ kind: 'time_limit', lastInput: '1', truncated: true })).toMatch(/^Note: your response was cut off.*\n\nTime Limit Exceeded/s);
  });
});
