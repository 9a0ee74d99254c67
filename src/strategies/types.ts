import type { ChatMessage, Rollout } from '../model/types.js';
import type { MultiTurnTemplate } from '../prompts/index.js';
import type { Grader } from '../sandbox/types.js';
import type { Task } from '../tasks/types.js';
import type { GrpoReward, TeacherContext } from '../run/config.js';
import type { Divergence, LossKind, TeacherKind, TrainerConfig, TrainExample, TrainStepResult } from '../trainer/types.js';

/** Sampling hyperparameters shared by every strategy (sdpo.md: temperature 1.0, top-K 20). */
export interface SamplingParams {
  temperature: number;
  topP: number;
  topK: number;
  maxTokens: number;
}

/**
 * The sampler as a cell sees it: one call samples `n` responses with a given adapter (null =
 * base model). The run loop serialises calls from interleaved cells and switches adapters, so
 * a strategy never has to care that another cell uses the same model.
 */
export interface CellSampler {
  sample(messages: ChatMessage[], n: number, seed: number, adapter: string | null): Promise<Rollout[]>;
  renderPrompt(messages: ChatMessage[]): Promise<number[]>;
}

/** The trainer as an SDPO cell sees it (one per cell: each cell adapts its own LoRA from the base). */
export interface CellTrainer {
  /** Optimizer steps already persisted in the trainer's state (0 for a fresh start). */
  readonly completedSteps: number;
  /** The result of step `completedSteps` as kept with the saved state (to log a step saved but not logged). */
  readonly lastResult: { result: TrainStepResult; masked: number } | null;
  step(batch: TrainExample[]): Promise<TrainStepResult>;
  save(): Promise<void>;
  close(): Promise<void>;
}

/** One graded generation: what the run store records and what strategies reason about. */
export interface AttemptOutcome {
  k: number; // 1-based generation index in sampling order
  step: number; // 1-based step
  position: number; // 1-based position j inside the step
  text: string;
  code: string | null;
  finishReason: 'stop' | 'length';
  responseTokens: number[];
  /** log π_old of each response token, when the sampler recorded them (the importance weight needs them). */
  logprobs?: number[];
  reward: 0 | 1; // public tests
  /** Public tests passed / run (grpo's fraction reward); absent in logs written before they were recorded. */
  publicPassed?: number;
  publicTotal?: number;
  privateReward: 0 | 1; // all private tests (only graded when reward = 1)
  verdict: string;
  feedback: string;
  ms: number;
  gradeMs: number;
}


/** What the run store already holds for a cell (empty for a fresh run). */
export interface CellHistory {
  attempts: Map<number, AttemptOutcome>; // by k
  /**
   * Learning strategies: train steps already logged, by step, with the adapter sampled after
   * them; signal false = a step without learning signal that made no trainer call (absent = true).
   */
  trainSteps: Map<number, { adapterPath: string | null; signal?: boolean }>;
}

/** Everything one (task, strategy, seed) cell needs; strategies get services only through here. */
export interface CellContext {
  task: Task;
  /** The variant label (the strategy's name when the run has no variants): keys the cell and its sampling seeds. */
  strategy: string;
  /** The variant's settings (the run's, overridden by the variant's own). */
  settings: StrategySettings;
  seed: number;
  budget: number; // generations
  rollouts: number; // generations per step: G for best-of-K and SDPO, generations per turn for multi-turn
  maxPromptTokens: number; // multi-turn prompt limit
  multiTurnTemplate: MultiTurnTemplate;
  maxTeacherPromptTokens: number;
  continueAfterSuccess: boolean;
  sampler: CellSampler;
  grader: Grader;
  trainer?: CellTrainer; // SDPO only
  history: CellHistory;
  /** Appends an attempt event. Called once per generation, never for an already recorded k. */
  recordAttempt(attempt: AttemptOutcome): void;
  recordTrainStep(step: number, result: TrainStepResult, masked: number): void;
  /** Logs a step that had no learning signal (e.g. grpo with all-zero advantages): no trainer call, the adapter stays. */
  recordNoSignalStep(step: number, adapter: string | null, examples: number): void;
}

export interface CellResult {
  attempts: number; // generations recorded for the cell (including those recorded before a resume)
  discoveryK: number | null;
}

/** The run settings a strategy's step size and protocol depend on (RunConfig has all of them). */
export interface StrategySettings {
  rollouts: number;
  multiTurnGenerations: number;
  multiTurnTemplate: MultiTurnTemplate;
  maxPromptTokens: number;
  maxTeacherPromptTokens: number;
  maxTokens: number;
  temperature: number;
  topP: number;
  sampleTopK: number;
  topK: number;
  divergence: Divergence;
  jsdAlpha: number;
  teacher: TeacherKind;
  teacherContext: TeacherContext | null;
  teacherModel: string | null;
  ema: number;
  isClip: number | null;
  lr: number;
  weightDecay: number;
  gradClip: number;
  loraRank: number;
  loraAlpha: number;
  loraTargets: string[];
  measureKlAfter: boolean;
  grpoReward: GrpoReward;
  grpoStd: boolean;
  pgClip: number;
  ssdTemperature: number | null;
  ssdTopP: number | null;
}

/** The part of a TrainerConfig a learning strategy decides (the run adds the model, state dir, threads, seed and lengths). */
export type LearnerSettings = Omit<TrainerConfig, 'model' | 'stateDir' | 'threads' | 'seed' | 'transposedWeights' | 'maxTokens' | 'device' | 'gpuLayers' | 'headBlockRows' | 'optimizer' | 'initAdapter'>;

/** Per-call sampling of a strategy (ssd samples hotter; grpo needs the sampler's log-probs for its ratio). */
export interface StrategySampling {
  temperature: number;
  topP: number;
  topK: number;
  /** Record each token's log-prob (π_old of an importance ratio). */
  logprobs: boolean;
}

/**
 * How a strategy runs under a run's settings, recorded in the run event (`protocols`) so the
 * report can say how each baseline was run from the log alone. Snake-case: it is log content.
 */
export interface StrategyProtocol {
  /** The variant label this protocol belongs to (the key of its cells; = strategy without variants). */
  variant: string;
  strategy: string; // the strategy kind
  label: string; // display name: the variant label, qualified where it departs from the paper's protocol
  learns: boolean; // updates weights between steps
  /** Every generation is an independent sample of the same (base) distribution: no feedback, no learning (best-of-K's trait). */
  independent: boolean;
  loss: LossKind | null; // what its trainer minimises (null: no trainer)
  teacher: string | null; // ema | trust_region | frozen | live | model (a second GGUF) | null
  teacher_context: TeacherContext | null; // what the teacher sees besides the question
  generations_per_step: number; // sampled from one prompt (and one adapter) per step / turn
  prompt: string; // what the prompt holds
  description: string; // one sentence: what a step does
  source: string; // where the defaults come from
  settings: Record<string, unknown>; // the settings that shape this strategy
}

export interface Strategy {
  readonly name: string;
  readonly needsTrainer: boolean;
  /** The settings it reads: a variant may only set these. */
  readonly settingKeys: readonly (keyof StrategySettings)[];
  /** Why these settings cannot work (refused at start), or null. */
  refuse?(settings: StrategySettings): string | null;
  /** What its teacher sees besides the question under these settings (strategies with a context-conditioned teacher). */
  teacherContext?(settings: StrategySettings): TeacherContext | null;
  /** Its trainer's loss, teacher and optimizer settings (learning strategies). */
  trainerSettings?(settings: StrategySettings): LearnerSettings;
  /** Its per-call sampling (default: the settings' temperature, top-p and sampler top-k; log-probs with --is-clip). */
  sampling?(settings: StrategySettings): StrategySampling;
  /** Its prompt grows during the search and is trimmed to --max-prompt-tokens. */
  readonly promptLimited: boolean;
  /** Generations sampled per step (one prompt, one adapter): the cell's `rollouts`. */
  generationsPerStep(settings: StrategySettings): number;
  /** How it runs under these settings; `variant` = its label in the run (default: its name). */
  protocol(settings: StrategySettings, variant?: string): StrategyProtocol;
  run(cell: CellContext): Promise<CellResult>;
}
