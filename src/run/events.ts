/**
 * The run store's event log (`events.jsonl`, one JSON object a line, append-only, flushed per
 * event) is the contract between `ttsd run`, `ttsd run --resume` and `ttsd report`: both of
 * the latter are pure functions of this file. Field names are snake_case and stable; new
 * fields may be added, existing ones never change meaning. Readers ignore unknown types.
 */
export const EVENTS_VERSION = 1;

export interface RunStartEvent {
  type: 'run';
  version: number;
  budget: number;
  strategies: string[];
  seeds: number[];
  tasks: string[];
  [config: string]: unknown; // every hyperparameter of the run
}

export interface AttemptEvent {
  type: 'attempt';
  task: string;
  strategy: string;
  seed: number;
  k: number; // 1-based generation index in sampling order (step s, position j → G·(s−1)+j)
  step: number; // 1-based sampling step (SDPO/multi-turn); best-of-K: batch index
  reward: 0 | 1; // all public tests passed
  private_reward: 0 | 1; // all private tests passed too; discovery ⇔ reward = private_reward = 1
  verdict: string;
  tokens: number;
  ms: number; // sampling wall time attributed to this attempt
  grade_ms?: number;
  finish_reason?: string;
  feedback?: string;
  code?: string | null;
}

export interface TrainStepEvent {
  type: 'train_step';
  task: string;
  seed: number;
  strategy?: string;
  step: number;
  loss: number;
  kl_before: number;
  kl_after: number;
  grad_norm: number;
  ms: number;
  skipped?: boolean;
  tokens?: number;
  masked?: number;
}

export type RunEvent = RunStartEvent | AttemptEvent | TrainStepEvent | { type: string; [k: string]: unknown };
