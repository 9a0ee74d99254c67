// `ttsd tasks ...` run as a user would (node bin/ttsd.js). ~10 s: each call starts tsx.
import { execa } from 'execa';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const BIN = new URL('../../bin/ttsd.js', import.meta.url).pathname;
const SAMPLE = new URL('./fixtures/lcb-sample-problems.jsonl', import.meta.url).pathname;
const ttsd = (...args: string[]) => execa('node', [BIN, 'tasks', ...args], { reject: false });

describe('ttsd tasks', () => {
  it('list --json shows the shipped tasks by default, with filters applied', async () => {
    const all = await ttsd('list', '--json');
    expect(all.exitCode).toBe(0);
    const rows = JSON.parse(all.stdout) as { id: string; testtype: string; difficulty: string; private_tests: number }[];
    expect(rows.length).toBeGreaterThanOrEqual(24);
    expect(rows[0]).toMatchObject({ id: 'ttsd-01', platform: 'ttsd', testtype: 'stdin' });

    const some = JSON.parse((await ttsd('list', '--json', '--difficulty', 'hard', '--from', '2026-01-25')).stdout) as typeof rows;
    expect(some.map((r) => r.id)).toEqual(['ttsd-21', 'ttsd-22', 'ttsd-23', 'ttsd-24']);
    expect(some.every((r) => r.testtype === 'functional')).toBe(true);
  });

  it('list reads LCB release files and prints a table', async () => {
    const r = await ttsd('list', '--tasks', SAMPLE, '--platform', 'codeforces', '--ids', '1873_A,1899_C');
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toMatch(/^ID\s+PLATFORM\s+DIFFICULTY\s+TYPE\s+DATE\s+TESTS\s+TITLE$/m);
    expect(r.stdout).toMatch(/^1873_A\s+codeforces\s+easy\s+stdin\s+2023-08-21\s+1\+4\s+A\. Short Sort$/m);
    expect(r.stdout).toContain('2 tasks');
  });

  it('show prints the statement, starter code and public tests; --json the decoded task', async () => {
    const text = await ttsd('show', 'ttsd-21');
    expect(text.exitCode).toBe(0);
    expect(text.stdout).toContain('ttsd-21 — Sparse Windows');
    expect(text.stdout).toContain('def countSparseWindows(self, nums: List[int]) -> int:');
    const task = JSON.parse((await ttsd('show', '1873_A', '--tasks', SAMPLE, '--json')).stdout);
    expect(task.privateTests).toHaveLength(4);
  });

  it('presets and show-preset state their reading', async () => {
    const list = await ttsd('presets');
    expect(list.stdout).toMatch(/^lcbv6-hard\s/m);
    expect(list.stdout).toMatch(/^ttsd-hard\s/m);
    const hard = JSON.parse((await ttsd('show-preset', 'ttsd-hard', '--json')).stdout);
    expect(hard.ids).toEqual(['ttsd-17', 'ttsd-18', 'ttsd-19', 'ttsd-20', 'ttsd-21', 'ttsd-22', 'ttsd-23', 'ttsd-24']);
    const listed = await ttsd('list', '--preset', 'ttsd-smoke');
    expect(listed.stdout).toContain('preset ttsd-smoke:');
    expect(listed.stdout).toContain('2 tasks');
  });

  it('user errors are one line and a non-zero exit', async () => {
    const unknown = await ttsd('show', 'nope');
    expect(unknown.exitCode).toBe(2);
    expect(unknown.stderr.trim()).toMatch(/^ttsd: no task nope in .*tasks\/?$/);
    const dir = await mkdtemp(join(tmpdir(), 'ttsd-cli-'));
    await writeFile(join(dir, 'bad.jsonl'), '{"question_id": "x"}\n');
    const bad = await ttsd('list', '--tasks', join(dir, 'bad.jsonl'));
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr.trim()).toBe(`ttsd: ${join(dir, 'bad.jsonl')}:1: missing field difficulty`);
    const noWindow = await ttsd('list', '--tasks', SAMPLE, '--preset', 'lcbv6-hard');
    expect(noWindow.exitCode).toBe(2);
    expect(noWindow.stderr).toContain('pass your LiveCodeBench release_v6 files with --tasks DIR');
    const badDate = await ttsd('list', '--from', 'tomorrow');
    expect(badDate.stderr.trim()).toBe('ttsd: --from must be an ISO date such as 2025-02-01 (got tomorrow)');
  });
});
