/**
 * A deterministic, realistic-looking events.jsonl for the page tests: three strategies, several
 * tasks and seeds, SDPO training steps, a public-only success and an unsolved run. The numbers
 * are made up; the page tests check structure, not values.
 */
import { seededRandom } from '../../src/metrics/random.js';
import { resolveConfig } from '../../src/run/config.js';
import { STRATEGY_NAMES, strategyByName } from '../../src/strategies/index.js';
import type { StrategySettings } from '../../src/strategies/types.js';

export interface SyntheticOptions {
  budget?: number;
  tasks?: string[];
  seeds?: number[];
  strategies?: string[];
  rolloutsPerStep?: number;
}

/** The settings the synthetic run's protocols describe: the defaults, multi-turn at 4 per turn to show its label. */
export const SYNTHETIC_SETTINGS: StrategySettings = { ...resolveConfig({ model: 'tiny.gguf' }, {}, STRATEGY_NAMES), multiTurnGenerations: 4, maxPromptTokens: 8192, lr: 1e-5, loraRank: 8, loraAlpha: 16 };

export function syntheticEvents(options: SyntheticOptions = {}): object[] {
  const budget = options.budget ?? 64;
  const tasks = options.tasks ?? ['abc387_f', 'arc190_c', 'abc392_g', 'arc191_d'];
  const seeds = options.seeds ?? [1, 2, 3];
  const strategies = options.strategies ?? ['best-of-k', 'multi-turn', 'sdpo'];
  const rollouts = options.rolloutsPerStep ?? 4;
  const random = seededRandom(7);
  const events: object[] = [
    {
      type: 'run',
      version: 1,
      started_at: '2026-11-24T20:30:00Z',
      budget,
      strategies,
      seeds,
      tasks,
      protocols: strategies.flatMap((name) => strategyByName(name)?.protocol({ ...SYNTHETIC_SETTINGS, rollouts }) ?? []),
      model: 'tiny.gguf',
      rollouts,
      temperature: 1,
      lr: 1e-5,
      lora_rank: 8,
      continue_after_success: false,
    },
  ];
  // per-strategy chance that one generation solves the task; SDPO improves as it trains
  const baseRate: Record<string, number> = { 'best-of-k': 0.015, 'multi-turn': 0.02, sdpo: 0.02 };
  for (const [taskIndex, task] of tasks.entries()) {
    for (const seed of seeds) {
      for (const strategy of strategies) {
        const difficulty = 1 + taskIndex; // later tasks are harder
        for (let k = 1; k <= budget; k++) {
          const step = Math.ceil(k / rollouts);
          const boost = strategy === 'sdpo' ? 1 + step * 0.15 : 1;
          const pass = random() < ((baseRate[strategy] ?? 0.02) * boost) / difficulty;
          const fooled = !pass && random() < 0.004;
          events.push({
            type: 'attempt',
            task,
            strategy,
            seed,
            k,
            step,
            reward: pass || fooled ? 1 : 0,
            private_reward: pass ? 1 : 0,
            verdict: pass ? 'AC' : fooled ? 'WA_PRIVATE' : 'WA',
            tokens: 300 + Math.floor(random() * 700),
            ms: 2000 + Math.floor(random() * 3000),
            grade_ms: 300 + Math.floor(random() * 400),
          });
          if (strategy === 'sdpo' && k % rollouts === 0 && !pass) {
            const loss = 1.2 * Math.exp(-step / 8) + 0.1 * random();
            events.push({
              type: 'train_step',
              task,
              seed,
              strategy,
              step,
              loss,
              kl_before: loss * 0.8,
              kl_after: loss * 0.55,
              grad_norm: 2 * Math.exp(-step / 10) + 0.3 * random(),
              ms: 4000 + Math.floor(random() * 2000),
            });
          }
          if (pass) break; // stop at the first discovery
        }
      }
    }
  }
  events.push({ type: 'utilisation', wall_ms: 1_830_000, sample_ms: 1_700_000, grade_ms: 400_000, grade_slot_ms: 600_000, train_ms: 650_000, sampler: 0.929, grader: 0.219, trainer: 0.355, grader_concurrency: 2 });
  events.push({ type: 'run_done', at: '2026-11-24T21:00:00Z', cells: tasks.length * seeds.length * strategies.length, attempts: 0 });
  return events;
}

export const toJsonl = (events: object[]): string => events.map((e) => JSON.stringify(e)).join('\n') + '\n';
