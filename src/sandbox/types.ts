import type { Task, TestSelection } from '../tasks/types.js';

export type Verdict =
  | 'accepted'
  | 'wrong_answer'
  | 'time_limit'
  | 'runtime_error'
  | 'memory_limit'
  | 'format_error';

/** What lcb_runner's grader reports for a failed sample (strings truncated to 300 chars). */
export interface LcbMetadata {
  error_code: number; // 0 ok, -2 wrong answer, -3 time limit, -4 runtime/compile error
  error_message: string;
  inputs?: string;
  output?: string;
  expected?: string;
  error?: string;
}

/** A program to grade, as extracted from a model response. */
export interface Submission {
  /** The program; null when the response had no fenced code block. */
  code: string | null;
  /** The response was cut off by the token limit (finish reason "length"). */
  truncated?: boolean;
}

export interface GradeResult {
  verdict: Verdict;
  passed: number;
  total: number;
  lcb: LcbMetadata;
  /** The LeetCode-like feedback text the teacher sees ('' when accepted). */
  feedback: string;
  timingMs: number;
}

export interface GradeOptions {
  tests?: TestSelection; // default 'all'
  /** Per-test time limit in seconds (LiveCodeBench: 6). */
  timeoutSeconds?: number;
}

/** Grades submissions against a task's tests. The Docker implementation is the real one. */
export interface Grader {
  /** Containers at once over all its Docker hosts (absent: a grader without such slots). */
  readonly slots?: number;
  grade(task: Task, submission: Submission, options?: GradeOptions): Promise<GradeResult>;
  close(): Promise<void>;
}
