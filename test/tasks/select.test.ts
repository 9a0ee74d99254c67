import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadTasks } from '../../src/tasks/load.js';
import { findPreset, LCBV6_HARD_INDICES, LCBV6_VERY_HARD_INDICES, resolveLcbv6 } from '../../src/tasks/presets.js';
import { selectTasks } from '../../src/tasks/select.js';
import type { Task } from '../../src/tasks/types.js';

function task(id: string, contestDate: string, extra: Partial<Task> = {}): Task {
  return {
    id,
    title: id,
    content: '',
    platform: 'atcoder',
    contestId: '',
    contestDate,
    difficulty: 'easy',
    starterCode: '',
    publicTests: [{ input: '', output: '', testtype: 'stdin' }],
    privateTests: [],
    metadata: {},
    ...extra,
  };
}

describe('selectTasks', () => {
  const tasks = [
    task('a', '2025-01-31T23:59:59', { difficulty: 'hard', platform: 'leetcode' }),
    task('b', '2025-02-01T00:00:00', { difficulty: 'medium' }),
    task('c', '2025-04-30T12:00:00', { difficulty: 'hard', platform: 'codeforces' }),
    task('d', '2025-05-01T00:00:00'),
  ];
  const ids = (filter: Parameters<typeof selectTasks>[1]) => selectTasks(tasks, filter).map((t) => t.id);

  it('filters by a half-open date window [from, to)', () => {
    expect(ids({ from: '2025-02-01', to: '2025-05-01' })).toEqual(['b', 'c']);
    expect(ids({ from: '2025-02-01T00:00:01' })).toEqual(['c', 'd']);
    expect(ids({ to: '2025-02-01' })).toEqual(['a']);
  });

  it('filters by difficulty and platform (one or several, platform case-insensitive)', () => {
    expect(ids({ difficulty: 'hard' })).toEqual(['a', 'c']);
    expect(ids({ difficulty: ['easy', 'medium'] })).toEqual(['b', 'd']);
    expect(ids({ platform: ['LeetCode', 'codeforces'] })).toEqual(['a', 'c']);
    expect(ids({ platform: 'atcoder', difficulty: 'medium' })).toEqual(['b']);
    expect(ids({})).toEqual(['a', 'b', 'c', 'd']);
  });

  it('keeps the order of --ids, combines with other filters, and names unknown ids', () => {
    expect(ids({ ids: ['d', 'a', 'd'] })).toEqual(['d', 'a']);
    expect(ids({ ids: ['d', 'a'], difficulty: 'hard' })).toEqual(['a']);
    expect(() => ids({ ids: ['a', 'x', 'y'] })).toThrow('unknown task ids: x, y');
    expect(() => ids({ difficulty: 'insane' as never })).toThrow('unknown difficulty insane');
    expect(() => ids({ from: 'last week' })).toThrow('--from must be an ISO date');
  });
});

/**
 * Synthetic release rows: three files whose natural order is test.jsonl, test2.jsonl, test10.jsonl
 * (lexical order would put test10 before test2), with rows outside the window interleaved.
 * Window rows are named w0, w1, … in dataset order.
 */
async function syntheticRelease(windowCount: number): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'ttsd-lcbv6-'));
  const row = (id: string, date: string) =>
    JSON.stringify({
      question_title: id,
      question_content: 'q',
      platform: 'atcoder',
      question_id: id,
      contest_id: 'x',
      contest_date: date,
      starter_code: '',
      difficulty: 'hard',
      public_test_cases: '[{"input": "1\\n", "output": "1\\n", "testtype": "stdin"}]',
      private_test_cases: '[]',
      metadata: '{}',
    });
  const files: string[][] = [[row('old1', '2024-08-01T00:00:00'), row('old2', '2025-01-31T00:00:00')], [], []];
  for (let i = 0; i < windowCount; i++) {
    const day = new Date(Date.UTC(2025, 1, 1) + Math.floor((i * 88) / windowCount) * 86_400_000);
    const file = i < 50 ? 1 : 2;
    files[file].push(row(`w${i}`, day.toISOString().slice(0, 19)));
    if (i === 60) files[2].push(row('late', '2025-05-01T00:00:00'));
  }
  await writeFile(join(dir, 'test.jsonl'), files[0].join('\n') + '\n');
  await writeFile(join(dir, 'test2.jsonl'), files[1].join('\n') + '\n');
  await writeFile(join(dir, 'test10.jsonl'), files[2].join('\n') + '\n');
  return dir;
}

describe('LCBv6 presets', () => {
  it('resolve the paper indices 0-based by default, in dataset order across files', async () => {
    const tasks = await loadTasks(await syntheticRelease(131));
    const hard = findPreset('lcbv6-hard').resolve(tasks);
    expect(hard.tasks.map((t) => t.id)).toEqual(LCBV6_HARD_INDICES.map((n) => `w${n}`));
    expect(hard.warnings).toEqual([]);
    expect(hard.reading).toContain('0-based');
    expect(hard.reading).toContain('[2025-02-01, 2025-05-01)');
    const veryHard = findPreset('lcbv6-very-hard').resolve(tasks);
    expect(veryHard.tasks.map((t) => t.id)).toEqual(['w3', 'w10', 'w46', 'w74', 'w91', 'w92', 'w95', 'w103', 'w125']);
    expect(LCBV6_VERY_HARD_INDICES.every((n) => (LCBV6_HARD_INDICES as readonly number[]).includes(n))).toBe(true);
  });

  it('resolve 1-based when asked', async () => {
    const tasks = await loadTasks(await syntheticRelease(131));
    const hard = resolveLcbv6(tasks, LCBV6_HARD_INDICES, 1);
    expect(hard.tasks.map((t) => t.id)).toEqual(LCBV6_HARD_INDICES.map((n) => `w${n - 1}`));
    expect(hard.reading).toContain('1-based');
    expect(findPreset('lcbv6-very-hard').resolve(tasks, { indexBase: 1 }).tasks[0].id).toBe('w2');
  });

  it('warn when the window does not hold 131 problems and fail clearly when an index falls outside', async () => {
    const tasks = await loadTasks(await syntheticRelease(129));
    const hard = resolveLcbv6(tasks, LCBV6_HARD_INDICES, 1);
    expect(hard.warnings[0]).toMatch(/holds 129 problems, not the paper's 131/);
    expect(() => resolveLcbv6(tasks, LCBV6_HARD_INDICES, 0)).toThrow('LCBv6 question 129 is outside the 129 problems of the date window (0-based)');
    expect(() => findPreset('lcbv6-hard').resolve([task('a', '2023-01-01')])).toThrow(/no task has a contest_date in \[2025-02-01, 2025-05-01\)/);
    expect(() => findPreset('nope')).toThrow(/unknown preset nope \(known: lcbv6-hard, lcbv6-very-hard, ttsd-hard/);
  });
});
