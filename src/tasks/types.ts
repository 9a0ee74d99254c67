/** One test of a task, in LiveCodeBench's own shape. */
export interface TestCase {
  input: string;
  output: string;
  testtype: 'stdin' | 'functional';
}

/**
 * A coding task in LiveCodeBench's record format (code_generation_lite), decoded:
 * tests are parsed arrays, metadata is an object. `funcName` set ⇔ call-based (functional)
 * grading of `class Solution` methods; otherwise the program reads stdin.
 */
export interface Task {
  id: string; // question_id
  title: string; // question_title
  content: string; // question_content
  platform: string; // leetcode | codeforces | atcoder | ttsd
  contestId: string;
  contestDate: string; // ISO date-time
  difficulty: 'easy' | 'medium' | 'hard';
  starterCode: string;
  publicTests: TestCase[];
  privateTests: TestCase[];
  funcName?: string; // metadata.func_name
  /** A correct program (record field `reference_solution`, ttsd's own extension): the privileged teacher context of --teacher-context reference. */
  referenceSolution?: string;
  metadata: Record<string, unknown>;
}

export type TestSelection = 'public' | 'private' | 'all';
