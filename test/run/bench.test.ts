import { describe, expect, it } from 'vitest';
import { extractCode } from '../../src/feedback/index.js';
import type { Rollout, Sampler } from '../../src/model/types.js';
import { WRONG_PROGRAM, wrongPrograms } from '../../src/run/bench.js';

describe('bench search --graded-programs', () => {
  it('turns every rollout into a fenced wrong program, keeping the model\'s tokens', async () => {
    const rollout: Rollout = { text: 'no code here', code: null, promptTokens: [1, 2], responseTokens: [3, 4, 5], logprobs: [-1, -2, -3], finishReason: 'length', ms: 7, adapter: null };
    const inner = { sample: async () => [rollout, rollout] } as unknown as Sampler;
    const rewritten = await wrongPrograms(inner).sample([], { n: 2, seed: 1, temperature: 1, topP: 1, topK: 0, maxTokens: 8, adapter: null });
    expect(rewritten).toHaveLength(2);
    for (const r of rewritten) {
      // what the grader runs is what code extraction finds in the text, as for a real response
      expect(extractCode(r.text)).toBe(WRONG_PROGRAM);
      expect(r.code).toBe(WRONG_PROGRAM);
      expect([r.responseTokens, r.logprobs, r.promptTokens, r.finishReason]).toEqual([[3, 4, 5], [-1, -2, -3], [1, 2], 'stop']);
    }
  });
});
