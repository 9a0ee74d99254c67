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
  /** How each strategy runs under these settings (StrategyProtocol; absent in logs written before it existed). */
  protocols?: unknown;
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
  /** false = the step had no learning signal and made no update (e.g. GRPO with all-zero advantages); absent = true (contract C3) */
  signal?: boolean;
  /** the trainer loss of the step's variant: distill | policy_gradient | cross_entropy (C3) */
  loss_kind?: string;
}

export type RunEvent = RunStartEvent | AttemptEvent | TrainStepEvent | { type: string; [k: string]: unknown };

/*
 * Events written by `ttsd run` besides the three above (all optional for readers):
 * - attempt events also carry `position` (j in its step), `text` (the raw response, needed by
 *   SDPO sibling contexts after a resume), `response_tokens` (SDPO only: the trainer's input
 *   after a resume), `response_logprobs` (SDPO with --is-clip only: the sampler's log-prob of
 *   each response token, the importance weight's π_old) and `adapter` (the LoRA adapter sampled
 *   with; null = base model; relative to the run directory when inside it, like train_step's).
 * - train_step events also carry `trainer_step`, `adapter` (the new student adapter),
 *   `is_weight_mean` and `is_clipped` (mean importance weight and clipped fraction over the
 *   step's response tokens; 1 and 0 without --is-clip).
 * - `cell_done` closes a (task, strategy, seed) cell: nothing more is appended for it.
 * - `resume` marks where `ttsd run --resume` continued (repaired = a torn last line was cut).
 * - `utilisation` and `run_done` end the run.
 */
export type CellDoneEvent = {
  type: 'cell_done';
  task: string;
  strategy: string;
  seed: number;
  attempts: number; // generations recorded for the cell
  discovery_k: number | null; // first k with reward = private_reward = 1
};

export type ResumeEvent = {
  type: 'resume';
  at: string; // ISO time
  repaired: boolean;
};

/** Busy time of each component during this process's part of the run (ms; fraction of wall time). */
export type UtilisationEvent = {
  type: 'utilisation';
  wall_ms: number;
  sample_ms: number;
  grade_ms: number; // time with at least one grading in flight
  grade_slot_ms: number; // summed over parallel gradings
  train_ms: number;
  sampler: number; // sample_ms / wall_ms
  grader: number;
  trainer: number;
  grader_concurrency: number;
};

export type RunDoneEvent = {
  type: 'run_done';
  at: string;
  cells: number;
  attempts: number;
};
