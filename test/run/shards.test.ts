/**
 * Shards: the partition itself, where the index comes from (flag, SLURM array, Kubernetes
 * Indexed Job), and — through the real CLI with the tiny model, Docker and the native trainer —
 * that two shards merged are exactly the unsharded run (same attempts k, text and verdict in
 * every cell), that the merged directory is accepted by report and --resume, and that a shard
 * resumes on its own. --parallel-cells 1 so that the run is deterministic; --threads 1 as in
 * resume.test.ts (oversubscribed cores).
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UserError } from '../../src/errors.js';
import { resolveShard, shardCells } from '../../src/run/shards.js';
import { tinyModel } from '../helpers/models.js';

describe('the partition', () => {
  it('is disjoint, covers every cell once, keeps the order and is round-robin', () => {
    const cells = Array.from({ length: 23 }, (_, j) => j);
    for (const count of [1, 2, 3, 5, 23, 30]) {
      const parts = Array.from({ length: count }, (_, i) => shardCells(cells, { index: i + 1, count }));
      expect(parts.flat().sort((a, b) => a - b)).toEqual(cells);
      for (const part of parts) expect(part).toEqual([...part].sort((a, b) => a - b));
      parts.forEach((part, i) => expect(part.every((j) => j % count === i)).toBe(true));
    }
    expect(shardCells(cells, null)).toBe(cells);
  });
});

describe('where the shard comes from', () => {
  const refuses = (fn: () => unknown, message: RegExp) => {
    let error: unknown;
    try {
      fn();
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(UserError);
    expect((error as Error).message).not.toContain('\n');
    expect((error as Error).message).toMatch(message);
  };

  it('--shard i/n, 1-based', () => {
    expect(resolveShard({ shard: '2/8' }, {})).toEqual({ index: 2, count: 8 });
    expect(resolveShard({ shard: '1/1' }, {})).toEqual({ index: 1, count: 1 });
    expect(resolveShard({}, {})).toBeNull();
    for (const bad of ['0/2', '3/2', '2', 'a/b', '1/0', '-1/2', '1.5/2']) refuses(() => resolveShard({ shard: bad }, {}), /^--shard must be i\/n with 1 ≤ i ≤ n \(e\.g\. 2\/8\), got "/);
    refuses(() => resolveShard({ shard: '1/2', shardCount: '2' }, {}), /--shard-count goes with JOB_COMPLETION_INDEX/);
  });

  it('a SLURM array: task id − min of count, whatever the first id', () => {
    expect(resolveShard({}, { SLURM_ARRAY_TASK_ID: '0', SLURM_ARRAY_TASK_MIN: '0', SLURM_ARRAY_TASK_COUNT: '4' })).toEqual({ index: 1, count: 4 });
    expect(resolveShard({}, { SLURM_ARRAY_TASK_ID: '7', SLURM_ARRAY_TASK_MIN: '4', SLURM_ARRAY_TASK_COUNT: '4' })).toEqual({ index: 4, count: 4 });
    // the flag wins over the environment
    expect(resolveShard({ shard: '1/3' }, { SLURM_ARRAY_TASK_ID: '2', SLURM_ARRAY_TASK_MIN: '0', SLURM_ARRAY_TASK_COUNT: '3' })).toEqual({ index: 1, count: 3 });
    refuses(() => resolveShard({}, { SLURM_ARRAY_TASK_ID: '6', SLURM_ARRAY_TASK_MIN: '0', SLURM_ARRAY_TASK_COUNT: '4' }), /SLURM array task 6 is not one of 4 consecutive tasks from 0: submit the array as --array=0-3 \(no step\)/);
    refuses(() => resolveShard({}, { SLURM_ARRAY_TASK_ID: '1', SLURM_ARRAY_TASK_COUNT: '4' }), /SLURM_ARRAY_TASK_MIN must be an integer, got null/);
    refuses(() => resolveShard({ shardCount: '3' }, { SLURM_ARRAY_TASK_ID: '1', SLURM_ARRAY_TASK_MIN: '0', SLURM_ARRAY_TASK_COUNT: '4' }), /--shard-count 3 disagrees with SLURM_ARRAY_TASK_COUNT=4/);
  });

  it('a Kubernetes Indexed Job: JOB_COMPLETION_INDEX (0-based) of --shard-count', () => {
    expect(resolveShard({ shardCount: '3' }, { JOB_COMPLETION_INDEX: '0' })).toEqual({ index: 1, count: 3 });
    expect(resolveShard({ shardCount: '3' }, { JOB_COMPLETION_INDEX: '2' })).toEqual({ index: 3, count: 3 });
    refuses(() => resolveShard({}, { JOB_COMPLETION_INDEX: '2' }), /give the number of shards with --shard-count n/);
    refuses(() => resolveShard({ shardCount: '3' }, { JOB_COMPLETION_INDEX: '3' }), /JOB_COMPLETION_INDEX=3 is outside 0\.\.2/);
    refuses(() => resolveShard({ shardCount: '0' }, { JOB_COMPLETION_INDEX: '0' }), /--shard-count must be a positive integer/);
    refuses(() => resolveShard({ shardCount: '3' }, {}), /--shard-count needs JOB_COMPLETION_INDEX/);
  });
});

// ---------------------------------------------------------------------------------------------

const execFileAsync = promisify(execFile);
const root = path.resolve(import.meta.dirname, '../..');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ttsd-shards-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Ev = Record<string, any>;

// 3 cells in cellsOf order: best-of-k, multi-turn, sdpo → shard 1/2 = best-of-k + sdpo, shard 2/2 = multi-turn
const SETTINGS = ['--tasks', 'tasks', '--ids', 'ttsd-01', '--strategies', 'best-of-k,multi-turn,sdpo', '--budget', '4', '--seeds', '1', '--rollouts', '2', '--max-tokens', '16', '--context-size', '1024', '--threads', '1', '--concurrency', '2', '--lora-rank', '4', '--lora-alpha', '8', '--parallel-cells', '1'];
const NO_SCHEDULER = { SLURM_ARRAY_TASK_ID: '', JOB_COMPLETION_INDEX: '' };

async function ttsd(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await execFileAsync('node', ['bin/ttsd.js', ...args], { cwd: root, timeout: 600_000, env: { ...process.env, ...NO_SCHEDULER, ...env } });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}
async function ok(args: string[], env: Record<string, string> = {}): Promise<string> {
  const result = await ttsd(args, env);
  if (result.code !== 0) throw new Error(`ttsd ${args.join(' ')} failed (${result.code}): ${result.stderr.slice(-800)}`);
  return result.stdout;
}
const readLog = (dir: string): Ev[] =>
  fs
    .readFileSync(path.join(dir, 'events.jsonl'), 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l));
/** Each cell's attempts as (k, text, verdict, reward), in k order. */
function attemptsByCell(events: Ev[]): Record<string, string[]> {
  const cells: Record<string, Ev[]> = {};
  for (const e of events) if (e.type === 'attempt') (cells[`${e.task}/${e.strategy}/${e.seed}`] ??= []).push(e);
  return Object.fromEntries(
    Object.entries(cells)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([key, list]) => [key, list.sort((a, b) => a.k - b.k).map((a) => JSON.stringify([a.k, a.text, a.verdict, a.reward, a.private_reward]))]),
  );
}
const trainSteps = (events: Ev[]) => events.filter((e) => e.type === 'train_step').map((e) => `${e.strategy}/${e.step}`);

describe('two shards merged = the unsharded run (real model, grader and trainer)', () => {
  let model: string;
  const dir = (name: string) => path.join(tmp, name);
  beforeAll(async () => {
    model = await tinyModel();
  }, 300_000);

  it('runs the whole grid, then shard 1/2 by flag and shard 2/2 from a SLURM array environment', async () => {
    await ok(['run', '--model', model, '--out', dir('whole'), ...SETTINGS]);
    const s1 = await ttsd(['run', '--model', model, '--out', dir('s1'), ...SETTINGS, '--shard', '1/2']);
    expect(s1.code).toBe(0);
    expect(s1.stderr).toMatch(/note: shard 1\/2: 2 of the grid's 3 cells/);
    await ok(['run', '--model', model, '--out', dir('s2'), ...SETTINGS], { SLURM_ARRAY_TASK_ID: '5', SLURM_ARRAY_TASK_MIN: '4', SLURM_ARRAY_TASK_COUNT: '2' });

    const whole = readLog(dir('whole'));
    const [one, two] = [readLog(dir('s1')), readLog(dir('s2'))];
    expect(whole[0].shard).toBeNull();
    expect(one[0].shard).toEqual({ index: 1, count: 2 });
    expect(two[0].shard).toEqual({ index: 2, count: 2 });
    const cellsOf = (events: Ev[]) => events.filter((e) => e.type === 'cell_done').map((e) => e.strategy);
    expect(cellsOf(one).sort()).toEqual(['best-of-k', 'sdpo']);
    expect(cellsOf(two)).toEqual(['multi-turn']);
    expect(one.at(-1)).toMatchObject({ type: 'run_done', cells: 2 });

    const reference = attemptsByCell(whole);
    expect(Object.keys(reference)).toHaveLength(3);
    expect(Object.values(reference).flat()).toHaveLength(12);
    expect({ ...attemptsByCell(one), ...attemptsByCell(two) }).toEqual(reference);
    expect(trainSteps(one)).toEqual(trainSteps(whole));
  }, 900_000);

  it('ttsd report of both shards = report of the merged run = report of the whole run; one shard alone names the missing cell', async () => {
    const merged = await ok(['merge', dir('s1'), dir('s2'), '--out', dir('merged')]);
    expect(merged).toMatch(/3 cells, 12 attempts from 2 run directories, .*complete; report with/);
    const events = readLog(dir('merged'));
    expect(events.filter((e) => e.type === 'run')).toHaveLength(1);
    expect(events[0]).toMatchObject({ shard: null, merged_from: [dir('s1'), dir('s2')] });
    expect(events.at(-1)).toMatchObject({ type: 'run_done', cells: 3, attempts: 12 });
    expect(attemptsByCell(events)).toEqual(attemptsByCell(readLog(dir('whole'))));
    // adapters logged relative to the shard directory exist in the merged one too
    const adapters = events.filter((e) => e.type === 'train_step').map((e) => e.adapter);
    expect(adapters.length).toBeGreaterThan(0);
    for (const adapter of adapters) expect(fs.existsSync(path.resolve(dir('merged'), adapter))).toBe(true);

    const report = async (...dirs: string[]) => {
      const { code, stdout, stderr } = await ttsd(['report', ...dirs, '--json']);
      expect(code).toBe(0);
      return { json: JSON.parse(stdout), stderr };
    };
    const whole = await report(dir('whole'));
    const shards = await report(dir('s1'), dir('s2'));
    const fromMerged = await report(dir('merged'));
    const results = (r: Ev) => ({ strategies: r.strategies, runs: [...r.runs].sort((a: Ev, b: Ev) => a.strategy.localeCompare(b.strategy)), missing: r.missing_cells });
    expect(results(shards.json)).toEqual(results(whole.json));
    expect(results(fromMerged.json)).toEqual(results(whole.json));
    expect(whole.json.missing_cells).toEqual({ count: 0, planned: 3, cells: [] });
    // the same shard given twice counts once
    expect(results((await report(dir('s1'), dir('s2'), dir('s1'))).json)).toEqual(results(whole.json));

    const alone = await report(dir('s1'));
    expect(alone.json.missing_cells).toEqual({ count: 1, planned: 3, cells: [{ task: 'ttsd-01', strategy: 'multi-turn', seed: 0 }] }); // --seeds 1 = one seed, 0
    expect(alone.stderr.split('\n').filter((l) => /planned cells/.test(l))).toEqual(['ttsd: warning: 1 of 3 planned cells have no events (not run, or a shard missing): cell ttsd-01/multi-turn/seed 0; they are not in the results']);

    const resumed = await ttsd(['run', '--resume', dir('merged')]);
    expect(resumed.stderr).toMatch(/is already complete/);
  }, 300_000);

  it('a merge missing a shard resumes like any run: only the missing cells run, with the same attempts', async () => {
    const merged = await ttsd(['merge', dir('s1'), '--out', dir('partial')]);
    expect(merged.code).toBe(0);
    expect(merged.stderr).toMatch(/^ttsd: warning: 1 planned cell\(s\) are in none of the inputs; finish them with: ttsd run --resume /);
    expect(readLog(dir('partial')).some((e) => e.type === 'run_done')).toBe(false);
    await ok(['run', '--resume', dir('partial')]);
    const events = readLog(dir('partial'));
    expect(attemptsByCell(events)).toEqual(attemptsByCell(readLog(dir('whole'))));
    expect(events.filter((e) => e.type === 'cell_done')).toHaveLength(3);
  }, 600_000);

  it('a shard resumes on its own: its own cells only, and not as another shard', async () => {
    // shard 1/2 cut back to just after its first cell (best-of-k) closed: SDPO not started yet
    const cut = dir('s1-cut');
    fs.mkdirSync(cut);
    const lines = fs.readFileSync(path.join(dir('s1'), 'events.jsonl'), 'utf8').split('\n');
    const firstDone = lines.findIndex((l) => l.includes('"type":"cell_done"'));
    fs.writeFileSync(path.join(cut, 'events.jsonl'), lines.slice(0, firstDone + 1).join('\n') + '\n');
    const wrong = await ttsd(['run', '--resume', cut, '--shard', '2/2']);
    expect(wrong.code).not.toBe(0);
    expect(wrong.stderr).toMatch(/^ttsd: .*s1-cut holds shard 1\/2; it cannot be resumed as shard 2\/2\n$/);
    // resubmitted alone as a one-task array: the environment says 1/1, the log says 1/2 and holds
    await ok(['run', '--resume', cut], { SLURM_ARRAY_TASK_ID: '3', SLURM_ARRAY_TASK_MIN: '3', SLURM_ARRAY_TASK_COUNT: '1' });
    const events = readLog(cut);
    expect(events.filter((e) => e.type === 'cell_done').map((e) => e.strategy)).toEqual(['best-of-k', 'sdpo']);
    expect(attemptsByCell(events)).toEqual(attemptsByCell(readLog(dir('s1'))));
  }, 600_000);
});
