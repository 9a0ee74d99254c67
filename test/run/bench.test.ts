import { describe, expect, it } from 'vitest';
import { extractCode } from '../../src/feedback/index.js';
import type { Rollout, Sampler } from '../../src/model/types.js';
import { benchGenerationCost, WRONG_PROGRAM, wrongPrograms } from '../../src/run/bench.js';
import { resolveConfig } from '../../src/run/config.js';
import { STRATEGY_NAMES } from '../../src/strategies/index.js';
import { task } from '../strategies/scripted.js';
import { scriptedServices } from './scripted-services.js';

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

describe('bench search --sdpo-cost', () => {
  it('runs one best-of-K and one SDPO cell alone, twice each, on the first task and seed, and divides their wall time per generation', async () => {
    const config = resolveConfig(
      { model: 'm.gguf', budget: 6, rollouts: 2, seeds: [3, 4], 'context-size': 512, 'max-tokens': 64, 'parallel-cells': 3, 'continue-after-success': true, strategies: 'multi-turn' },
      {},
      STRATEGY_NAMES,
    );
    const services = scriptedServices();
    const cost = await benchGenerationCost(config, [task, { ...task, id: 'toy2' }], services);
    expect([cost.task, cost.g, cost.budget, cost.max_tokens]).toEqual([task.id, 2, 6, 64]);
    // the whole budget of one cell per run (first seed only, first task only), averaged over its two runs
    expect([cost.best_of_k.generations, cost.sdpo.generations]).toEqual([6, 6]);
    // 4 runs × 6 generations, sampled one call of G = 2 at a time, all with the first seed's cell
    expect(services.sampler.adapterAtSample).toHaveLength(4 * 3);
    // SDPO trains between its steps (2 per run), best-of-K never does
    expect(cost.best_of_k.trainer).toBe(0);
    expect([cost.best_of_k.train_steps, cost.sdpo.train_steps]).toEqual([0, 2]);
    expect(cost.sdpo.trainer).toBeGreaterThan(0);
    expect(cost.sdpo.ms_per_generation).toBeCloseTo(cost.sdpo.wall_ms / cost.sdpo.generations, 0);
    expect(cost.ratio).toBeCloseTo(cost.sdpo.ms_per_generation / cost.best_of_k.ms_per_generation, 2);
    for (const side of [cost.best_of_k, cost.sdpo]) for (const f of [side.sampler, side.grader]) expect(f).toBeGreaterThan(0);
  });
});
