/**
 * Sharding on a real SLURM cluster: scripts/slurm/cluster.sh starts Debian's slurmctld +
 * slurmd + munge on this machine (one node), `sbatch --array=1-2` runs the shipped job script,
 * `ttsd merge` joins the shards and the merged run must hold exactly the attempts of the
 * unsharded run, cell by cell (sampling is seeded per cell; --threads 1 and --parallel-cells 1
 * keep llama.cpp's arithmetic identical in both). Real parts: tiny model, Docker grader, native
 * trainer (SDPO trains in both runs). Needs root and `scripts/setup.sh` (which installs SLURM).
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tinyModel } from '../helpers/models.js';

const exec = promisify(execFile);
const root = path.resolve(import.meta.dirname, '../..');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ttsd-slurm-'));
const cluster = path.join(tmp, 'cluster');
const env = { ...process.env, SLURM_CONF: path.join(cluster, 'slurm.conf') };
let model = '';

const SETTINGS = ['--tasks', 'tasks', '--ids', 'ttsd-01,ttsd-02', '--strategies', 'best-of-k,multi-turn,sdpo', '--budget', '4', '--seeds', '2', '--rollouts', '2', '--max-tokens', '16', '--context-size', '1024', '--threads', '1', '--concurrency', '1', '--lora-rank', '4', '--lora-alpha', '8', '--parallel-cells', '1', '--gpu', 'off'];

beforeAll(async () => {
  model = await tinyModel();
  await exec('bash', ['scripts/slurm/cluster.sh', 'start', cluster], { cwd: root });
}, 300_000);

afterAll(async () => {
  await exec('bash', ['scripts/slurm/cluster.sh', 'stop', cluster], { cwd: root }).catch(() => undefined);
  fs.rmSync(tmp, { recursive: true, force: true });
});

type Line = Record<string, unknown> & { type: string };
const events = (dir: string): Line[] =>
  fs.readFileSync(path.join(dir, 'events.jsonl'), 'utf8').split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as Line);

/** What an attempt is, independent of timing: cell, k, the response and its verdict. */
const attempts = (dir: string) =>
  events(dir)
    .filter((e) => e.type === 'attempt')
    .map((e) => `${e.task}|${e.strategy}|${e.seed}|${e.k}|${e.step}|${e.verdict}|${e.reward}|${e.private_reward}|${JSON.stringify(e.text)}`)
    .sort();

describe('ttsd on a one-node SLURM cluster', () => {
  it('an sbatch array of 2 shards, merged, equals the unsharded run', async () => {
    const whole = path.join(tmp, 'whole');
    const shards = path.join(tmp, 'shards');
    const merged = path.join(tmp, 'merged');
    await exec('node', ['bin/ttsd.js', 'run', '--model', model, '--out', whole, ...SETTINGS], { cwd: root, timeout: 900_000 });

    // --wait: sbatch returns when every array task has ended, non-zero if one failed.
    await exec('sbatch', ['--wait', '--array=1-2', '--cpus-per-task=1', `--output=${path.join(tmp, 'slurm-%a.out')}`, 'scripts/slurm/ttsd-array.sbatch', shards, '--model', model, ...SETTINGS], { cwd: root, env, timeout: 900_000 }).catch((error: unknown) => {
      const logs = fs.readdirSync(tmp).filter((f) => f.startsWith('slurm-')).map((f) => fs.readFileSync(path.join(tmp, f), 'utf8'));
      throw new Error(`sbatch failed: ${String(error)}\n${logs.join('\n')}`);
    });
    const dirs = fs.readdirSync(shards).sort().map((d) => path.join(shards, d));
    expect(dirs.map((d) => path.basename(d))).toEqual(['shard-1-of-2', 'shard-2-of-2']);
    // Each shard ran a disjoint, non-empty part of the grid and recorded which part.
    const shardOf = dirs.map((d) => events(d).find((e) => e.type === 'run')!.shard);
    expect(shardOf).toEqual([{ index: 1, count: 2 }, { index: 2, count: 2 }]);
    const cells = dirs.map((d) => new Set(events(d).filter((e) => e.type === 'cell_done').map((e) => `${e.task}|${e.strategy}|${e.seed}`)));
    expect(cells[0].size).toBeGreaterThan(0);
    expect(cells[1].size).toBeGreaterThan(0);
    expect([...cells[0]].filter((c) => cells[1].has(c))).toEqual([]);
    expect(cells[0].size + cells[1].size).toBe(2 * 3 * 2);

    // A shard alone is an incomplete run, and its report says so.
    const partial = await exec('node', ['bin/ttsd.js', 'report', dirs[0], '--json'], { cwd: root });
    expect(JSON.parse(partial.stdout).missing_cells.count).toBe(cells[1].size);
    expect(partial.stderr).toMatch(/missing/);

    await exec('node', ['bin/ttsd.js', 'merge', ...dirs, '--out', merged], { cwd: root });
    expect(attempts(merged)).toEqual(attempts(whole));
    expect(attempts(merged).length).toBeGreaterThan(0);

    // The shards read together and their merge report the same as the unsharded run.
    const report = async (...dirsToRead: string[]) => {
      const { stdout } = await exec('node', ['bin/ttsd.js', 'report', ...dirsToRead, '--json'], { cwd: root });
      const json = JSON.parse(stdout) as Record<string, unknown>;
      const runs = (json.runs as { task: string; strategy: string; seed: number }[]).map((r) => ({ ...r, key: `${r.task}|${r.strategy}|${r.seed}` })).sort((a, b) => a.key.localeCompare(b.key));
      return { strategies: json.strategies, runs, missing: json.missing_cells }; // not timings: per process; runs in a canonical order
    };
    const reference = await report(whole);
    expect(await report(merged)).toEqual(reference);
    expect(await report(...dirs)).toEqual(reference);
    expect((reference.missing as { count: number } | undefined)?.count ?? 0).toBe(0);
  }, 1_800_000);
});
