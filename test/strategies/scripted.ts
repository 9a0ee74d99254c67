/**
 * Scripted parts for unit-testing strategy logic (no model, no Docker): a response's text says
 * how the grader treats it.
 *   "PASS"           all public and private tests pass (a discovery)
 *   "PUBLIC"         public tests pass, a private test fails
 *   "FAIL <text>"    wrong answer; the feedback is <text>
 *   "SILENT"         wrong answer with empty feedback (→ masked in SDPO)
 */
import type { ChatMessage, Rollout } from '../../src/model/types.js';
import type { GradeOptions, GradeResult, Grader, Submission } from '../../src/sandbox/types.js';
import { resolveConfig } from '../../src/run/config.js';
import { STRATEGY_NAMES } from '../../src/strategies/index.js';
import type { AttemptOutcome, CellContext, CellSampler, CellTrainer, StrategySettings } from '../../src/strategies/types.js';

/** The run's default settings (a cell's own unless a test overrides them). */
export const defaultSettings: StrategySettings = resolveConfig({ model: 'm.gguf' }, {}, STRATEGY_NAMES);
import type { Task } from '../../src/tasks/types.js';
import type { TrainExample, TrainStepResult } from '../../src/trainer/types.js';

export const task: Task = {
  id: 'toy',
  title: 'Toy',
  content: 'Print 42.',
  platform: 'ttsd',
  contestId: 'c',
  contestDate: '2025-01-01T00:00:00',
  difficulty: 'hard',
  starterCode: '',
  publicTests: [{ input: '', output: '42', testtype: 'stdin' }],
  privateTests: [{ input: '', output: '42', testtype: 'stdin' }],
  metadata: {},
};

export interface SampleCall {
  messages: ChatMessage[];
  n: number;
  seed: number;
  adapter: string | null;
}

/** Tokens are characters: prompts are measurable and responses carry their text. */
export const tokensOf = (text: string) => [...text].map((c) => c.codePointAt(0)!);
export const renderTokens = (messages: ChatMessage[]) => tokensOf(messages.map((m) => `<${m.role}>${m.content}`).join(''));

export class ScriptedSampler implements CellSampler {
  readonly calls: SampleCall[] = [];
  /** `script(callIndex, n)` returns the n texts of that call. */
  constructor(
    private readonly script: (call: number, n: number, messages: ChatMessage[]) => string[],
    /** Record log-probs (−0.01·(t+1) for token t), as the real sampler does when asked. */
    private readonly withLogprobs = false,
  ) {}
  async sample(messages: ChatMessage[], n: number, seed: number, adapter: string | null): Promise<Rollout[]> {
    const texts = this.script(this.calls.length, n, messages);
    this.calls.push({ messages, n, seed, adapter });
    await new Promise((r) => setTimeout(r, 1));
    return texts.map((text) => ({
      text,
      code: text,
      promptTokens: renderTokens(messages),
      responseTokens: tokensOf(text),
      logprobs: this.withLogprobs ? tokensOf(text).map((_, t) => -0.01 * (t + 1)) : [],
      finishReason: 'stop' as const,
      ms: 5,
      adapter,
    }));
  }
  async renderPrompt(messages: ChatMessage[]): Promise<number[]> {
    return renderTokens(messages);
  }
}

export class ScriptedGrader implements Grader {
  readonly calls: { code: string | null; tests: string }[] = [];
  constructor(private readonly delayMs = 2) {}
  async grade(_task: Task, submission: Submission, options?: GradeOptions): Promise<GradeResult> {
    const code = submission.code ?? '';
    const tests = options?.tests ?? 'all';
    this.calls.push({ code, tests });
    await new Promise((r) => setTimeout(r, this.delayMs));
    const pass = code === 'PASS' || (code === 'PUBLIC' && tests === 'public');
    const feedback = code.startsWith('FAIL ') ? code.slice(5) : code === 'PUBLIC' ? 'hidden test failed' : '';
    return {
      verdict: pass ? 'accepted' : 'wrong_answer',
      passed: pass ? 1 : 0,
      total: 1,
      lcb: { error_code: pass ? 0 : -2, error_message: pass ? '' : 'Wrong Answer' },
      feedback: pass ? '' : feedback,
      timingMs: this.delayMs,
    };
  }
  async close(): Promise<void> {}
}

export class ScriptedTrainer implements CellTrainer {
  readonly batches: TrainExample[][] = [];
  readonly log: string[] = [];
  constructor(
    public completedSteps = 0,
    public lastResult: { result: TrainStepResult; masked: number } | null = null,
  ) {}
  async step(batch: TrainExample[]): Promise<TrainStepResult> {
    this.batches.push(batch);
    const step = this.completedSteps + this.batches.length;
    this.log.push(`step ${step}`);
    return { step, loss: 0.5, klBefore: 0.2, klAfter: 0.1, gradNorm: 1, tokens: 10, ms: 3, skipped: false, adapterPath: `/adapters/a${step}.gguf`, isWeightMean: 1, isClipped: 0 };
  }
  async save(): Promise<void> {
    this.log.push('save');
  }
  async close(): Promise<void> {}
}

export interface CellRecorder {
  attempts: AttemptOutcome[];
  trainSteps: { step: number; result: TrainStepResult; masked: number }[];
  noSignal: { step: number; adapter: string | null }[];
  order: string[];
}

export function cellContext(
  overrides: Partial<CellContext> & Pick<CellContext, 'sampler' | 'strategy'>,
  trainerLog?: string[],
): { cell: CellContext; recorded: CellRecorder } {
  const recorded: CellRecorder = { attempts: [], trainSteps: [], noSignal: [], order: [] };
  const cell: CellContext = {
    task,
    settings: defaultSettings,
    seed: 0,
    budget: 8,
    rollouts: 4,
    maxPromptTokens: 100_000,
    multiTurnTemplate: 'feedback-only',
    maxTeacherPromptTokens: 100_000,
    continueAfterSuccess: false,
    grader: new ScriptedGrader(),
    history: { attempts: new Map(), trainSteps: new Map() },
    recordAttempt: (a) => {
      recorded.attempts.push(a);
      recorded.order.push(`attempt ${a.k}`);
    },
    recordTrainStep: (step, result, masked) => {
      recorded.trainSteps.push({ step, result, masked });
      recorded.order.push(`train_step ${step}`);
      trainerLog?.push(`event ${step}`);
    },
    recordNoSignalStep: (step, adapter) => {
      recorded.noSignal.push({ step, adapter });
      recorded.order.push(`no_signal ${step}`);
    },
    ...overrides,
  };
  return { cell, recorded };
}

export const ks = (attempts: AttemptOutcome[]) => attempts.map((a) => a.k).sort((a, b) => a - b);
export const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);
