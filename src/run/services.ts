import fs from 'node:fs';
import path from 'node:path';
import type { Admit, ChatMessage, Rollout, Sampler } from '../model/types.js';
import type { GradeOptions, GradeResult, Grader, Submission } from '../sandbox/types.js';
import type { CellSampler, CellTrainer } from '../strategies/types.js';
import type { Task } from '../tasks/types.js';
import type { Trainer, TrainerConfig, TrainExample, TrainStepResult } from '../trainer/types.js';
import type { SamplingParams } from '../strategies/types.js';
import { CoreBudget } from './cores.js';
import { BusyMeter } from './utilisation.js';

/** The real (or, in unit tests, scripted) parts a run drives. */
export interface RunServices {
  sampler: Sampler;
  grader: Grader;
  /** Starts a trainer on `config.stateDir`, resuming from the state saved there if any. */
  startTrainer(config: TrainerConfig): Promise<Trainer>;
  close(): Promise<void>;
  /** CPU threads the sampler and trainers together may compute with (cores.ts; default: the cores Node sees). */
  cores?: number;
}

/**
 * One model serves every interleaved cell. Each call carries its cell's adapter to the sampler,
 * which keeps that adapter's weights for the call whatever else is in flight (contract C1), so
 * calls simply run side by side: calls on one adapter decode together in its context's batch,
 * calls on different adapters in their own contexts at the same time. Busy time is metered
 * (overlapping calls count once in busyMs). The sampler computes a call once the threads of the
 * context it decodes in fit the run's core budget (SampleOptions.admit): calls joining one context's
 * batch share one grant. Time waiting for cores counts as busy here (the call is in flight) and is
 * also summed apart in the budget's waitMs.
 */
export class SharedSampler implements CellSampler {
  readonly meter = new BusyMeter();

  constructor(
    private readonly sampler: Sampler,
    private readonly params: SamplingParams,
    /** Record each token's log-prob: the behaviour policy of the importance weight (only with --is-clip). */
    private readonly logprobs = false,
    private readonly cores = new CoreBudget(1),
  ) {}

  /** The sampler computes a call once its threads fit the core budget (SampleOptions.admit). */
  private readonly admit: Admit = (part, threads, operation) => this.cores.use(part, threads, operation);

  /**
   * `sampling`: this call's own temperature / top-p / top-k and whether to record log-probs (a
   * variant's or a strategy's, e.g. ssd's hotter sampling); the run's otherwise.
   */
  sample(messages: ChatMessage[], n: number, seed: number, adapter: string | null, sampling?: Omit<SamplingParams, 'maxTokens'> & { logprobs: boolean }): Promise<Rollout[]> {
    // Only the importance weight uses the sampler's log-probs (the trainer scores tokens itself): skip their cost otherwise.
    return this.meter.time(() => this.sampler.sample(messages, { n, seed, ...this.params, logprobs: this.logprobs, ...sampling, adapter, admit: this.admit }));
  }

  renderPrompt(messages: ChatMessage[]): Promise<number[]> {
    return this.sampler.renderPrompt(messages);
  }
}

/** Grader wrapper that meters busy time (the sandbox's own queue bounds the concurrency). */
export class MeteredGrader implements Grader {
  readonly meter = new BusyMeter();
  constructor(private readonly grader: Grader) {}
  grade(task: Task, submission: Submission, options?: GradeOptions): Promise<GradeResult> {
    return this.meter.time(() => this.grader.grade(task, submission, options));
  }
  close(): Promise<void> {
    return this.grader.close();
  }
}

const LAST_STEP_FILE = 'ttsd-last-step.json';

/**
 * The trainer as an SDPO cell uses it. After each optimizer step the result is written next to
 * the trainer's state BEFORE the state is saved, so a step that was saved but whose train_step
 * event never made it to the log (kill -9 in between) can still be logged on resume.
 * The persisted step count is the trainer's own (Trainer.completedSteps).
 */
export class MeteredCellTrainer implements CellTrainer {
  readonly completedSteps: number;
  readonly lastResult: { result: TrainStepResult; masked: number } | null;

  constructor(
    private readonly trainer: Trainer,
    private readonly stateDir: string,
    private readonly meter: BusyMeter,
    private readonly cores = new CoreBudget(1),
  ) {
    this.lastResult = readLastStep(stateDir);
    this.completedSteps = trainer.completedSteps;
  }

  /** Runs once the trainer's CPU threads fit the run's core budget (its own part: each cell's trainer is a process). */
  step(batch: TrainExample[]): Promise<TrainStepResult> {
    return this.cores.use(`trainer ${this.stateDir}`, this.trainer.cpuThreads ?? 0, () => this.timedStep(batch));
  }

  private timedStep(batch: TrainExample[]): Promise<TrainStepResult> {
    return this.meter.time(async () => {
      const result = await this.trainer.step(batch);
      const record = { result, masked: batch.filter((e) => e.masked).length };
      const file = path.join(this.stateDir, LAST_STEP_FILE);
      fs.writeFileSync(`${file}.tmp`, JSON.stringify(record));
      fs.renameSync(`${file}.tmp`, file);
      return result;
    });
  }

  save(): Promise<void> {
    return this.meter.time(() => this.trainer.save());
  }

  close(): Promise<void> {
    return this.trainer.close();
  }
}

function readLastStep(stateDir: string): { result: TrainStepResult; masked: number } | null {
  try {
    return JSON.parse(fs.readFileSync(path.join(stateDir, LAST_STEP_FILE), 'utf8'));
  } catch {
    return null;
  }
}

