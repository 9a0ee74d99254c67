import type { Task, TestCase } from '../../src/tasks/types.js';

function task(id: string, tests: TestCase[], funcName?: string): Task {
  return {
    id,
    title: id,
    content: '',
    platform: 'ttsd',
    contestId: 'test',
    contestDate: '2025-01-01T00:00:00',
    difficulty: 'easy',
    starterCode: '',
    publicTests: tests,
    privateTests: [],
    funcName,
    metadata: funcName ? { func_name: funcName } : {},
  };
}

/** A stdin task from [input, expected output] pairs. */
export function stdinTask(pairs: [string, string][], id = 'stdin-task'): Task {
  return task(id, pairs.map(([input, output]) => ({ input, output, testtype: 'stdin' })));
}

/** A call-based task: each input line is one JSON argument, the output is JSON. */
export function functionalTask(funcName: string, pairs: [string, string][], id = 'functional-task'): Task {
  return task(
    id,
    pairs.map(([input, output]) => ({ input, output, testtype: 'functional' })),
    funcName,
  );
}

/** a + b, three tests. */
export const SUM_TASK = stdinTask([
  ['1 2\n', '3\n'],
  ['10 -4\n', '6\n'],
  ['100000000000000000000 1\n', '100000000000000000001\n'],
]);

/** Solution().add(a, b), three tests. */
export const ADD_TASK = functionalTask('add', [
  ['1\n2', '3'],
  ['-5\n5', '0'],
  ['7\n8', '15'],
]);

export const SUM_OK = 'a, b = map(int, input().split())\nprint(a + b)\n';
export const ADD_OK = 'class Solution:\n    def add(self, a: int, b: int) -> int:\n        return a + b\n';
