// The shipped tasks: schema and counts (fast), then every reference solution graded through the
// real Docker grader on all its tests, and every hard task's naive solution timing out on its
// largest test. ~1–2 min on 2 busy cores (the 8 time-outs cost 6 s each, two at a time).
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DockerGrader } from '../../src/sandbox/docker-grader.js';
import { ownContainers } from '../../src/sandbox/engine.js';
import { SHIPPED_TASKS_DIR, loadTasks } from '../../src/tasks/index.js';
import type { Task } from '../../src/tasks/types.js';

const tasks = await loadTasks(SHIPPED_TASKS_DIR);
const hard = tasks.filter((t) => t.difficulty === 'hard');
const source = (kind: 'solutions' | 'naive', id: string) => readFileSync(join(SHIPPED_TASKS_DIR, kind, `${id}.py`), 'utf8');
const testSize = (t: { input: string; output: string }) => t.input.length + t.output.length;

describe('shipped task files', () => {
  it('hold at least 24 original tasks, half stdin and half functional, across all difficulties', () => {
    expect(tasks.length).toBeGreaterThanOrEqual(24);
    const functional = tasks.filter((t) => t.funcName);
    expect(functional.length * 2).toBe(tasks.length);
    for (const difficulty of ['easy', 'medium', 'hard'] as const) {
      const level = tasks.filter((t) => t.difficulty === difficulty);
      expect(level.length, difficulty).toBeGreaterThanOrEqual(6);
      expect(level.filter((t) => t.funcName).length * 2, `${difficulty} half functional`).toBe(level.length);
    }
    expect(new Set(tasks.map((t) => t.id)).size).toBe(tasks.length);
    expect(tasks.every((t) => t.platform === 'ttsd' && t.contestId === 'ttsd-v1')).toBe(true);
  });

  it('have statements, tests of the right type, and LeetCode-style starter code for functional tasks', () => {
    for (const task of tasks) {
      expect(task.title, task.id).not.toBe('');
      expect(task.content.length, task.id).toBeGreaterThan(150);
      expect(task.publicTests.length, task.id).toBeGreaterThanOrEqual(1);
      expect(task.privateTests.length, task.id).toBeGreaterThanOrEqual(3);
      if (task.funcName) {
        expect(task.starterCode, task.id).toMatch(new RegExp(`^class Solution:\\n    def ${task.funcName}\\(self, `));
        expect(task.metadata).toEqual({ func_name: task.funcName });
        expect(task.content, task.id).toContain('Example 1:');
        // Each input line is one JSON argument, as in LiveCodeBench's call-based tests.
        for (const test of [...task.publicTests, ...task.privateTests]) {
          for (const line of test.input.split('\n')) expect(() => JSON.parse(line), `${task.id} input`).not.toThrow();
          expect(() => JSON.parse(test.output), `${task.id} output`).not.toThrow();
        }
      } else {
        expect(task.starterCode).toBe('');
        expect(task.content, task.id).toContain('Sample Input 1');
      }
    }
  });

  it('ship a reference solution for every task and a naive solution for every hard task, in a file under 5 MB', () => {
    for (const task of tasks) expect(existsSync(join(SHIPPED_TASKS_DIR, 'solutions', `${task.id}.py`)), task.id).toBe(true);
    // the record carries it too: the privileged teacher context of --teacher-context reference
    for (const task of tasks) expect(task.referenceSolution, task.id).toBe(readFileSync(join(SHIPPED_TASKS_DIR, 'solutions', `${task.id}.py`), 'utf8'));
    expect(hard.length).toBeGreaterThanOrEqual(6);
    for (const task of hard) {
      expect(existsSync(join(SHIPPED_TASKS_DIR, 'naive', `${task.id}.py`)), task.id).toBe(true);
      // The naive check below runs only the last private test: it must be the largest.
      const sizes = task.privateTests.map(testSize);
      expect(sizes.at(-1), task.id).toBe(Math.max(...sizes));
    }
    expect(statSync(join(SHIPPED_TASKS_DIR, 'ttsd-v1.jsonl')).size).toBeLessThan(5 * 1024 * 1024);
  });
});

describe('shipped solutions through the real Docker grader', () => {
  let grader: DockerGrader;
  beforeAll(async () => {
    grader = await DockerGrader.create({ concurrency: 2 });
  });
  afterAll(async () => {
    await grader?.close();
    if (grader) expect(await ownContainers(grader.docker)).toEqual([]);
  });

  it(
    'every reference solution passes all public and private tests within the LCB time limit',
    async () => {
      const results = await Promise.all(
        tasks.map(async (task) => ({ task, result: await grader.grade(task, { code: source('solutions', task.id) }, { tests: 'all' }) })),
      );
      const failures = results
        .filter(({ result }) => result.verdict !== 'accepted')
        .map(({ task, result }) => `${task.id}: ${result.verdict} (${result.passed}/${result.total}) ${result.lcb.error_message}`);
      expect(failures).toEqual([]);
      for (const { task, result } of results) {
        expect(result.total, task.id).toBe(task.publicTests.length + task.privateTests.length);
        expect(result.passed, task.id).toBe(result.total);
      }
    },
    240_000,
  );

  it(
    'every naive solution is correct on the public tests but exceeds the time limit on the largest test',
    async () => {
      const largestOnly = (task: Task): Task => ({ ...task, publicTests: [], privateTests: [task.privateTests.at(-1)!] });
      const results = await Promise.all(
        hard.map(async (task) => {
          const code = source('naive', task.id);
          const [small, large] = await Promise.all([
            grader.grade(task, { code }, { tests: 'public' }),
            grader.grade(largestOnly(task), { code }, { tests: 'private' }),
          ]);
          return `${task.id}: public ${small.verdict}, largest ${large.verdict}`;
        }),
      );
      expect(results).toEqual(hard.map((t) => `${t.id}: public accepted, largest time_limit`));
    },
    240_000,
  );
});
