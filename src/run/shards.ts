/**
 * Shards: `ttsd run --shard i/n` runs part i (1-based) of n of the grid, so that n machines
 * (a SLURM array, a Kubernetes Indexed Job) run it side by side with no scheduler of ours. The
 * partition is round-robin over cellsOf's order (cell j goes to shard j mod n + 1): deterministic,
 * disjoint, covering, and it spreads strategies and seeds across shards so shards take similar
 * time. Sampling is seeded per cell, so the shards' attempts are exactly the unsharded run's.
 */
import { UserError } from '../errors.js';
import type { Shard } from './events.js';

export type { Shard };

/** The cells of `shard` (all of them for null), in their order. */
export function shardCells<T>(cells: T[], shard: Shard | null | undefined): T[] {
  if (!shard) return cells;
  return cells.filter((_, j) => j % shard.count === shard.index - 1);
}

export const shardLabel = (shard: Shard): string => `${shard.index}/${shard.count}`;

type Env = Record<string, string | undefined>;

/**
 * The shard this process runs: `--shard i/n`; else from the scheduler's environment —
 * SLURM_ARRAY_TASK_ID − SLURM_ARRAY_TASK_MIN (+1) of SLURM_ARRAY_TASK_COUNT, or Kubernetes'
 * JOB_COMPLETION_INDEX (0-based) of `--shard-count n`; else null (the whole grid).
 */
export function resolveShard(flags: { shard?: unknown; shardCount?: unknown }, env: Env = process.env): Shard | null {
  const count = flags.shardCount === undefined ? undefined : positiveInteger(String(flags.shardCount), '--shard-count');
  if (flags.shard !== undefined) {
    if (count !== undefined) throw new UserError('--shard-count goes with JOB_COMPLETION_INDEX (Kubernetes Indexed Jobs); --shard i/n already says n');
    return parseShard(String(flags.shard));
  }
  if (env.SLURM_ARRAY_TASK_ID !== undefined && env.SLURM_ARRAY_TASK_ID !== '') {
    const id = integer(env.SLURM_ARRAY_TASK_ID, 'SLURM_ARRAY_TASK_ID');
    const min = integer(env.SLURM_ARRAY_TASK_MIN, 'SLURM_ARRAY_TASK_MIN');
    const total = positiveInteger(env.SLURM_ARRAY_TASK_COUNT, 'SLURM_ARRAY_TASK_COUNT');
    if (count !== undefined && count !== total) throw new UserError(`--shard-count ${count} disagrees with SLURM_ARRAY_TASK_COUNT=${total}`);
    const index = id - min + 1;
    if (index < 1 || index > total) {
      throw new UserError(`SLURM array task ${id} is not one of ${total} consecutive tasks from ${min}: submit the array as --array=0-${total - 1} (no step), or pass --shard i/n`);
    }
    return { index, count: total };
  }
  if (env.JOB_COMPLETION_INDEX !== undefined && env.JOB_COMPLETION_INDEX !== '') {
    const index = integer(env.JOB_COMPLETION_INDEX, 'JOB_COMPLETION_INDEX');
    if (count === undefined) throw new UserError('JOB_COMPLETION_INDEX is set: give the number of shards with --shard-count n (the Job\'s completions)');
    if (index < 0 || index >= count) throw new UserError(`JOB_COMPLETION_INDEX=${index} is outside 0..${count - 1} (--shard-count ${count})`);
    return { index: index + 1, count };
  }
  if (count !== undefined) throw new UserError('--shard-count needs JOB_COMPLETION_INDEX (a Kubernetes Indexed Job); on its own, use --shard i/n');
  return null;
}

export function parseShard(text: string): Shard {
  const match = /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(text);
  const index = match ? Number(match[1]) : NaN;
  const count = match ? Number(match[2]) : NaN;
  if (!match || count < 1 || index < 1 || index > count) throw new UserError(`--shard must be i/n with 1 ≤ i ≤ n (e.g. 2/8), got "${text}"`);
  return { index, count };
}

function integer(text: string | undefined, name: string): number {
  if (text === undefined || !/^\s*-?\d+\s*$/.test(text)) throw new UserError(`${name} must be an integer, got ${JSON.stringify(text ?? null)}`);
  return Number(text);
}

function positiveInteger(text: string | undefined, name: string): number {
  const n = integer(text, name);
  if (n < 1) throw new UserError(`${name} must be a positive integer, got ${text}`);
  return n;
}
