import { describe, expect, it } from 'vitest';
import { extractCode, submissionFromResponse } from '../../src/feedback/index.js';

describe('extractCode (LiveCodeBench: the last fenced block)', () => {
  it('takes the block between the last two fence lines, dropping the language tag line', () => {
    const text = 'Idea first.\n```python\nprint(1)\n```\nBetter:\n```python\nimport sys\nprint(2)\n```\nDone.';
    expect(extractCode(text)).toBe('import sys\nprint(2)');
  });

  it('returns null without two fence lines or with an empty block', () => {
    expect(extractCode('print(1)')).toBeNull();
    expect(extractCode('```python\nprint(1)')).toBeNull(); // cut off inside the block
    expect(extractCode('```python\n\n```')).toBeNull();
  });

  it('counts any line containing ``` as a fence, as LCB does', () => {
    expect(extractCode('```py\nx = 1\ny = "```"\nz = 3\n```')).toBe('z = 3');
  });

  it('a cut-off response takes the last complete block that precedes the cut', () => {
    const text = 'Draft:\n```python\nprint("draft")\n```\nFinal version:\n```python\nprint("fin';
    // LCB's rule pairs the last two fence lines: the draft's closing fence and the unfinished opener.
    expect(extractCode(text)).toBe('Final version:');
  });
});

describe('submissionFromResponse', () => {
  it('marks responses stopped by the token limit as truncated', () => {
    expect(submissionFromResponse('```python\nprint(1)\n```', 'stop')).toEqual({ code: 'print(1)', truncated: false });
    expect(submissionFromResponse('thinking...', 'length')).toEqual({ code: null, truncated: true });
  });
});
