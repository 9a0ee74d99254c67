import { bestOfK } from './best-of-k.js';
import { multiTurn } from './multi-turn.js';
import { sdpo } from './sdpo.js';
import type { Strategy } from './types.js';

export const STRATEGIES: readonly Strategy[] = [bestOfK, multiTurn, sdpo];
export const STRATEGY_NAMES = STRATEGIES.map((s) => s.name);

export function strategyByName(name: string): Strategy | undefined {
  return STRATEGIES.find((s) => s.name === name);
}
