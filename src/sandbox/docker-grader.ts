/**
 * The real Grader: every attempt runs all its selected tests inside one fresh container
 * (see container.ts), at most `concurrency` containers at a time.
 */
import os from 'node:os';
import type Docker from 'dockerode';
import PQueue from 'p-queue';
import { UserError } from '../errors.js';
import type { Task, TestCase, TestSelection } from '../tasks/types.js';
import { DEFAULT_LIMITS, runJob, type SandboxLimits } from './container.js';
import { checkDaemon, checkImage, connect, defaultImage, sweepOrphans } from './engine.js';
import { newNonce, type GraderJob } from './protocol.js';
import type { GradeOptions, GradeResult, Grader, Submission } from './types.js';
import { formatErrorResult, gradeResultFrom } from './verdict.js';

/** LiveCodeBench's per-test time limit. */
export const LCB_TIMEOUT_SECONDS = 6;

export interface DockerGraderOptions {
  image?: string;
  socketPath?: string;
  /** Containers at once (default: number of cores). */
  concurrency?: number;
  limits?: Partial<SandboxLimits>;
  /** Failing cases collected for the feedback (default 2). */
  feedbackCases?: number;
  /** Extra seconds spent looking for a second failing case after the first (default 2). */
  feedbackExtraSeconds?: number;
}

export function selectTests(task: Task, selection: TestSelection = 'all'): TestCase[] {
  if (selection === 'public') return task.publicTests;
  if (selection === 'private') return task.privateTests;
  return [...task.publicTests, ...task.privateTests];
}

export class DockerGrader implements Grader {
  private readonly queue: PQueue;
  private closed = false;

  private constructor(
    readonly docker: Docker,
    readonly image: string,
    readonly limits: SandboxLimits,
    concurrency: number,
    private readonly feedbackCases: number,
    private readonly feedbackExtraSeconds: number,
  ) {
    this.queue = new PQueue({ concurrency });
  }

  /** Checks the daemon and the image, sweeps orphaned containers of dead ttsd processes. */
  static async create(options: DockerGraderOptions = {}): Promise<DockerGrader> {
    const docker = connect(options.socketPath);
    const image = options.image ?? defaultImage();
    await checkDaemon(docker);
    await checkImage(docker, image);
    await sweepOrphans(docker);
    const concurrency = options.concurrency ?? os.availableParallelism();
    if (!Number.isInteger(concurrency) || concurrency < 1) throw new UserError(`concurrency must be a positive integer, got ${concurrency}`);
    return new DockerGrader(
      docker,
      image,
      { ...DEFAULT_LIMITS, ...options.limits },
      concurrency,
      options.feedbackCases ?? 2,
      options.feedbackExtraSeconds ?? 2,
    );
  }

  async grade(task: Task, submission: Submission, options: GradeOptions = {}): Promise<GradeResult> {
    if (this.closed) throw new Error('DockerGrader used after close()');
    const tests = selectTests(task, options.tests);
    // No tests (LCB rows whose private tests are "[]"): as in LCB, the program is still loaded,
    // and a program that loads passes vacuously.
    const truncated = Boolean(submission.truncated);
    if (submission.code === null || submission.code.trim() === '') return formatErrorResult(tests.length, truncated);
    const timeout = options.timeoutSeconds ?? LCB_TIMEOUT_SECONDS;
    const job: GraderJob = {
      nonce: newNonce(),
      code: submission.code,
      func_name: task.funcName ?? null,
      tests: tests.map(({ input, output }) => ({ input, output })),
      timeout,
      feedback_cases: this.feedbackCases,
      extra_seconds: this.feedbackExtraSeconds,
    };
    // Loading the program and every test may each use the full per-test limit.
    const wallMs = (tests.length + 1) * timeout * 1000 + this.limits.startupMs + this.limits.graceMs;
    // The slot is free once the program has ended; the grade still waits for the container's
    // removal, so nothing is left behind when it resolves.
    let removal: Promise<void> = Promise.resolve();
    const run = (await this.queue.add(() =>
      runJob(this.docker, this.image, this.limits, job, wallMs, (pending) => {
        removal = pending;
      }),
    ))!;
    await removal;
    return gradeResultFrom(run, tests, Boolean(task.funcName), truncated);
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.queue.onIdle();
  }
}
