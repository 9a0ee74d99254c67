import { bestOfK } from './best-of-k.js';
import { grpo } from './grpo.js';
import { multiTurn } from './multi-turn.js';
import { opd } from './opd.js';
import { sdpo } from './sdpo.js';
import { ssd } from './ssd.js';
import type { Strategy } from './types.js';

export const STRATEGIES: readonly Strategy[] = [bestOfK, multiTurn, sdpo, grpo, ssd, opd];
export const STRATEGY_NAMES = STRATEGIES.map((s) => s.name);

export function strategyByName(name: string): Strategy | undefined {
  return STRATEGIES.find((s) => s.name === name);
}
