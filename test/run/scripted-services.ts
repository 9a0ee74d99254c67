/**
 * Scripted parts for unit-testing the run loop's bookkeeping (interleaving, resume, utilisation)
 * without a model or Docker. Deterministic in the sampling seed, like the real sampler is meant
 * to be. The real parts are exercised by test/run/full-loop.test.ts and resume.test.ts.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { ChatMessage, Rollout, Sampler, SampleOptions, ScoredResponse } from '../../src/model/types.js';
import type { RunServices } from '../../src/run/services.js';
import type { Trainer, TrainerConfig, TrainExample, TrainStepResult } from '../../src/trainer/types.js';
import { ScriptedGrader, renderTokens, tokensOf } from '../strategies/scripted.js';

export class DeterministicSampler implements Sampler {
  readonly adapterAtSample: (string | null)[] = [];
  /** The options of every call (a variant's own temperature / top-p / log-probs reach the sampler). */
  readonly optionsAtSample: SampleOptions[] = [];
  constructor(private readonly passEvery = 11) {}
  async renderPrompt(messages: ChatMessage[]): Promise<number[]> {
    return renderTokens(messages);
  }
  async countTokens(text: string): Promise<number> {
    return text.length;
  }
  async sample(messages: ChatMessage[], options: SampleOptions): Promise<Rollout[]> {
    this.adapterAtSample.push(options.adapter);
    this.optionsAtSample.push(options);
    await new Promise((r) => setTimeout(r, 2));
    return Array.from({ length: options.n }, (_, i) => {
      const text = (options.seed + i * 7) % this.passEvery === 0 ? 'PASS' : `FAIL seed ${options.seed} #${i} adapter ${options.adapter}`;
      return { text, code: text, promptTokens: renderTokens(messages), responseTokens: tokensOf(text), logprobs: [], finishReason: 'stop' as const, ms: 1, adapter: options.adapter };
    });
  }
  async score(): Promise<ScoredResponse> {
    return { logprobs: [] };
  }
  async dispose(): Promise<void> {}
}

/** Persists its step count in stateDir on save(), as the native trainer does; every config it was started with is kept. */
export class CountingTrainer implements Trainer {
  static readonly started: TrainerConfig[] = [];
  private steps: number;
  constructor(private readonly config: TrainerConfig) {
    CountingTrainer.started.push(config);
    const file = path.join(config.stateDir, 'count');
    this.steps = fs.existsSync(file) ? Number(fs.readFileSync(file, 'utf8')) : 0;
  }
  get completedSteps(): number {
    return Number(fs.existsSync(path.join(this.config.stateDir, 'count')) ? fs.readFileSync(path.join(this.config.stateDir, 'count'), 'utf8') : 0);
  }
  async step(batch: TrainExample[]): Promise<TrainStepResult> {
    this.steps++;
    await new Promise((r) => setTimeout(r, 3));
    return { step: this.steps, loss: batch.length, klBefore: 1, klAfter: 0.5, gradNorm: 1, tokens: 1, ms: 3, skipped: false, adapterPath: path.join(this.config.stateDir, `adapter-${this.steps}.gguf`), isWeightMean: 1, isClipped: 0 };
  }
  async save(): Promise<void> {
    fs.writeFileSync(path.join(this.config.stateDir, 'count'), String(this.steps));
  }
  async close(): Promise<void> {}
}

export function scriptedServices(sampler = new DeterministicSampler()): RunServices & { sampler: DeterministicSampler } {
  return {
    sampler,
    grader: new ScriptedGrader(1),
    startTrainer: async (config) => new CountingTrainer(config),
    close: async () => {},
  };
}
