import type { Submission } from '../sandbox/types.js';

/**
 * The program in a model response, as LiveCodeBench extracts it: the text between the last two
 * lines that contain ``` (the language tag on the opening line is dropped with its line).
 * null when the response has fewer than two fence lines or the block is blank.
 */
export function extractCode(text: string): string | null {
  const lines = text.split('\n');
  const fences: number[] = [];
  lines.forEach((line, index) => {
    if (line.includes('```')) fences.push(index);
  });
  if (fences.length < 2) return null;
  const code = lines.slice(fences[fences.length - 2] + 1, fences[fences.length - 1]).join('\n');
  return code.trim() === '' ? null : code;
}

/** A model response as something to grade; `finishReason: 'length'` marks a cut-off response. */
export function submissionFromResponse(text: string, finishReason: 'stop' | 'length'): Submission {
  return { code: extractCode(text), truncated: finishReason === 'length' };
}
