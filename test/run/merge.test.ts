/**
 * `ttsd merge DIR... --out DIR` and `ttsd report DIR...` through the real CLI entry on small
 * hand-written logs: which settings must agree, cells counted once, conflicts refused with one
 * line, files carried over, missing cells named. (The real-parts check that merged shards equal
 * the unsharded run is in shards.test.ts.)
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

const execFileAsync = promisify(execFile);
const root = path.resolve(import.meta.dirname, '../..');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ttsd-merge-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Ev = Record<string, any>;

async function ttsd(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await execFileAsync('node', ['bin/ttsd.js', ...args], { cwd: root });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}
async function refuses(args: string[], message: RegExp): Promise<void> {
  const { code, stdout, stderr } = await ttsd(...args);
  expect(code).not.toBe(0);
  expect(stdout).toBe('');
  expect(stderr).toMatch(/^ttsd: [^\n]+\n$/);
  expect(stderr).toMatch(message);
}

const CONFIG = { strategies: ['best-of-k', 'sdpo'], budget: 2, seeds: [1], model: '/m.gguf', lr: 1e-5, threads: 4, parallelCells: 1, gpu: 'auto', tasks: '/data/tasks' };
const run = (shard: { index: number; count: number } | null, config: Ev = {}) => ({
  type: 'run',
  version: 1,
  budget: 2,
  strategies: ['best-of-k', 'sdpo'],
  seeds: [1],
  tasks: ['A', 'B'],
  shard,
  config: { ...CONFIG, ...config },
});
const attempt = (task: string, strategy: string, k: number, reward: 0 | 1, extra: Ev = {}) => ({ type: 'attempt', task, strategy, seed: 1, k, step: k, reward, private_reward: reward, verdict: reward ? 'AC' : 'WA', tokens: 3, ms: 10 + k, text: `answer ${k}`, ...extra });
const done = (task: string, strategy: string, attempts: number, k: number | null) => ({ type: 'cell_done', task, strategy, seed: 1, attempts, discovery_k: k });
const cell = (task: string, strategy: string, rewards: (0 | 1)[]) => {
  const k = rewards.indexOf(1) + 1;
  return [...rewards.map((r, i) => attempt(task, strategy, i + 1, r)), done(task, strategy, rewards.length, k > 0 ? k : null)];
};
const finish = (cells: number, attempts: number) => [{ type: 'utilisation', wall_ms: 100, sample_ms: 50, grade_ms: 20, grade_slot_ms: 20, train_ms: 0, sampler: 0.5, grader: 0.2, trainer: 0, grader_concurrency: 2 }, { type: 'run_done', at: 'now', cells, attempts }];

// cellsOf order: (A, best-of-k), (A, sdpo), (B, best-of-k), (B, sdpo): shard 1/2 = A/best-of-k, B/best-of-k
const SHARD1: Ev[] = [run({ index: 1, count: 2 }), ...cell('A', 'best-of-k', [0, 1]), ...cell('B', 'best-of-k', [0, 0]), ...finish(2, 4)];
const SHARD2: Ev[] = [run({ index: 2, count: 2 }, { threads: 16, parallelCells: 3, gpu: 'off' }), attempt('A', 'sdpo', 1, 1), { type: 'train_step', task: 'A', strategy: 'sdpo', seed: 1, step: 1, loss: 0.5, kl_before: null, kl_after: null, grad_norm: 1, ms: 5, adapter: 'trainer/A__seed1/adapter-1.gguf' }, done('A', 'sdpo', 1, 1), ...cell('B', 'sdpo', [0, 0]), ...finish(2, 3)];

function runDir(name: string, events: Ev[], files: Record<string, string> = {}): string {
  const dir = path.join(tmp, name);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'events.jsonl'), events.map((e) => JSON.stringify(e) + '\n').join(''));
  for (const [file, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
    fs.writeFileSync(path.join(dir, file), text);
  }
  return dir;
}
const readLog = (dir: string): Ev[] =>
  fs
    .readFileSync(path.join(dir, 'events.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));

describe('ttsd merge', () => {
  const s1 = runDir('s1', SHARD1, { 'notes/a.txt': 'from shard 1' });
  const s2 = runDir('s2', SHARD2, { 'trainer/A__seed1/adapter-1.gguf': 'adapter bytes', 'report.html': 'old page' });

  it('writes one run event (shard null), every cell once, the files, and run_done when complete', async () => {
    const out = path.join(tmp, 'merged');
    const { code, stdout, stderr } = await ttsd('merge', s1, s2, '--out', out);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(stdout).toBe(`${out}: 4 cells, 7 attempts from 2 run directories, 2 other files copied; complete; report with: ttsd report ${out}\n`);
    const events = readLog(out);
    expect(events[0]).toEqual({ ...run(null), merged_from: [s1, s2] });
    expect(events.filter((e) => e.type === 'run')).toHaveLength(1);
    expect(events.filter((e) => e.type === 'attempt')).toHaveLength(7);
    expect(events.filter((e) => e.type === 'cell_done')).toHaveLength(4);
    expect(events.filter((e) => e.type === 'utilisation')).toHaveLength(2);
    expect(events.filter((e) => e.type === 'run_done')).toEqual([expect.objectContaining({ cells: 4, attempts: 7 })]);
    // a null metric stays null (NaN in memory)
    expect(events.find((e) => e.type === 'train_step')).toMatchObject({ kl_before: null, kl_after: null, loss: 0.5 });
    expect(fs.readFileSync(path.join(out, 'trainer/A__seed1/adapter-1.gguf'), 'utf8')).toBe('adapter bytes');
    expect(fs.readFileSync(path.join(out, 'notes/a.txt'), 'utf8')).toBe('from shard 1');
    expect(fs.existsSync(path.join(out, 'report.html'))).toBe(false);
    // a copy, not a hard link: a resumed trainer rewriting its state must not touch the shard
    expect(fs.statSync(path.join(out, 'trainer/A__seed1/adapter-1.gguf')).ino).not.toBe(fs.statSync(path.join(s2, 'trainer/A__seed1/adapter-1.gguf')).ino);

    const report = await ttsd('report', out, '--json');
    expect(report.code).toBe(0);
    const json = JSON.parse(report.stdout);
    expect(json.missing_cells).toEqual({ count: 0, planned: 4, cells: [] });
    expect(json.runs).toHaveLength(4);
    const again = await ttsd('report', s1, s2, '--json');
    expect(JSON.parse(again.stdout)).toEqual(json);
  });

  it('counts a cell held by two inputs once when it is identical there (timings aside), refuses it otherwise', async () => {
    const slower = SHARD1.map((e) => (e.type === 'attempt' ? { ...e, ms: e.ms * 10, grade_ms: 99 } : e));
    const copy = runDir('s1-slower', slower);
    const out = path.join(tmp, 'merged-overlap');
    const { code, stdout } = await ttsd('merge', s1, copy, s2, '--out', out);
    expect(code).toBe(0);
    expect(stdout).toMatch(/4 cells, 7 attempts from 3 run directories/);
    expect(readLog(out).filter((e) => e.type === 'attempt')).toHaveLength(7);

    const changed = runDir('s1-changed', SHARD1.map((e) => (e.type === 'attempt' && e.task === 'B' && e.k === 2 ? { ...e, text: 'other' } : e)));
    await refuses(['merge', s1, changed, '--out', path.join(tmp, 'no')], /^ttsd: cell B\/best-of-k\/seed 1 is in both .*s1 and .*s1-changed with different events; a cell may be in several inputs only if it is identical there\n$/);
    await refuses(['report', s1, changed, '--json'], /cell B\/best-of-k\/seed 1 is in both/);
    const unfinished = runDir('s1-unfinished', SHARD1.filter((e) => !(e.type === 'cell_done' && e.task === 'B')));
    await refuses(['merge', s1, unfinished, '--out', path.join(tmp, 'no')], /cell B\/best-of-k\/seed 1 is in both/);
    expect(fs.existsSync(path.join(tmp, 'no'))).toBe(false);
  });

  it('ignores machine settings but refuses different experiments, naming the settings', async () => {
    const other = runDir('other-lr', [run({ index: 2, count: 2 }, { lr: 1e-4 }), ...SHARD2.slice(1)]);
    await refuses(['merge', s1, other, '--out', path.join(tmp, 'no')], /^ttsd: .*other-lr is not the same experiment as .*s1: --lr 0\.00001 vs 0\.0001\n$/);
    await refuses(['report', s1, other, '--json'], /other-lr is not the same experiment as .*s1: --lr/);
    const budget = runDir('other-budget', [{ ...run({ index: 2, count: 2 }), budget: 3, seeds: [1, 2] }, ...SHARD2.slice(1)]);
    await refuses(['merge', s1, budget, '--out', path.join(tmp, 'no')], /not the same experiment as .*: budget 2 vs 3, seeds \[1\] vs \[1,2\]/);
    const partition = runDir('other-partition', [run({ index: 2, count: 3 }), ...SHARD2.slice(1)]);
    await refuses(['merge', s1, partition, '--out', path.join(tmp, 'no')], /is shard 1\/2 but .* is shard 2\/3: shards of different partitions overlap/);
    // machine settings (threads, parallel cells, gpu) and the tasks path may differ
    const elsewhere = runDir('elsewhere', [run({ index: 2, count: 2 }, { threads: 1, gpu: 'cuda', tasks: '/other/tasks' }), ...SHARD2.slice(1)]);
    expect((await ttsd('report', s1, elsewhere, '--json')).code).toBe(0);
  });

  it('refuses an output that holds a run or is an input, conflicting files, and malformed inputs (file:line)', async () => {
    await refuses(['merge', s1, s2, '--out', s2], /events\.jsonl already holds a run; merge into a new directory/);
    const empty = path.join(tmp, 'empty-out');
    fs.mkdirSync(empty);
    await refuses(['merge', s1, empty, '--out', path.join(tmp, 'no')], /no events\.jsonl in .*empty-out/);
    const clash = runDir('s1-clash', SHARD1, { 'notes/a.txt': 'something else' });
    await refuses(['merge', s1, clash, '--out', path.join(tmp, 'no')], /notes\/a\.txt and .*s1-clash\/notes\/a\.txt differ; both would become/);
    const bad = runDir('bad', [...SHARD1.slice(0, 2), { type: 'attempt', task: 'A' }, ...SHARD1.slice(2)]);
    await refuses(['merge', s1, bad, '--out', path.join(tmp, 'no')], /bad\/events\.jsonl:3: attempt event lacks "strategy"\n$/);
    expect(fs.existsSync(path.join(tmp, 'no'))).toBe(false);
    const noOut = await ttsd('merge', s1);
    expect(noOut.code).not.toBe(0);
    expect(noOut.stderr).toMatch(/required option '--out <dir>' not specified/);
  });

  it('a merge missing cells says so, writes no run_done, and report lists the missing cells', async () => {
    const out = path.join(tmp, 'merged-half');
    const { code, stderr } = await ttsd('merge', s1, '--out', out);
    expect(code).toBe(0);
    expect(stderr).toBe(`ttsd: warning: 2 planned cell(s) are in none of the inputs; finish them with: ttsd run --resume ${out}\n`);
    expect(readLog(out).some((e) => e.type === 'run_done')).toBe(false);
    const report = await ttsd('report', out, '--json');
    expect(report.code).toBe(0);
    expect(JSON.parse(report.stdout).missing_cells).toEqual({
      count: 2,
      planned: 4,
      cells: [
        { task: 'A', strategy: 'sdpo', seed: 1 },
        { task: 'B', strategy: 'sdpo', seed: 1 },
      ],
    });
    expect(report.stderr).toMatch(/^ttsd: warning: 2 of 4 planned cells have no events \(not run, or a shard missing\): cell A\/sdpo\/seed 1, cell B\/sdpo\/seed 1; they are not in the results$/m);
  });
});

describe('ttsd report with several directories', () => {
  it('writes the HTML where --out says, says in it which cells are missing, and refuses without --out', async () => {
    const a = runDir('html-1', SHARD1);
    const b = runDir('html-2', [run({ index: 2, count: 2 }), ...cell('A', 'sdpo', [1]), ...finish(1, 1)]);
    await refuses(['report', a, b], /several run directories: say where the HTML page goes with --out FILE/);
    const page = path.join(tmp, 'both.html');
    const { code, stdout } = await ttsd('report', a, b, '--out', page);
    expect(code).toBe(0);
    expect(stdout).toMatch(new RegExp(`report: ${page}`));
    expect(fs.readFileSync(page, 'utf8')).toContain('1 of 4 planned cells have no events (not run, or a shard missing): cell B/sdpo/seed 1');
  });
});
