/** Filters a loaded task list by ids, contest dates, difficulty and platform. */
import { UserError } from '../errors.js';
import { dateMillis } from './load.js';
import type { Task } from './types.js';

export type Difficulty = Task['difficulty'];
const DIFFICULTIES: readonly Difficulty[] = ['easy', 'medium', 'hard'];

export interface TaskFilter {
  /** Keep exactly these question_ids, in this order; an unknown id is an error. */
  ids?: string[];
  /** Keep contest_date >= from (inclusive). ISO date or date-time; zone-less means UTC. */
  from?: string;
  /** Keep contest_date < to (exclusive), so consecutive windows never overlap. */
  to?: string;
  difficulty?: Difficulty | Difficulty[];
  platform?: string | string[];
}

export function selectTasks(tasks: Task[], filter: TaskFilter = {}): Task[] {
  const from = filter.from === undefined ? undefined : boundary('from', filter.from);
  const to = filter.to === undefined ? undefined : boundary('to', filter.to);
  const difficulties = list(filter.difficulty);
  for (const d of difficulties ?? []) {
    if (!DIFFICULTIES.includes(d)) throw new UserError(`unknown difficulty ${d} (easy, medium or hard)`);
  }
  const platforms = list(filter.platform)?.map((p) => p.toLowerCase());

  let pool = tasks;
  if (filter.ids && filter.ids.length > 0) {
    const byId = new Map(tasks.map((t) => [t.id, t]));
    const unknown = filter.ids.filter((id) => !byId.has(id));
    if (unknown.length > 0) throw new UserError(`unknown task id${unknown.length > 1 ? 's' : ''}: ${unknown.join(', ')}`);
    pool = [...new Set(filter.ids)].map((id) => byId.get(id)!);
  }
  return pool.filter((task) => {
    const date = dateMillis(task.contestDate);
    if (from !== undefined && !(date >= from)) return false;
    if (to !== undefined && !(date < to)) return false;
    if (difficulties && !difficulties.includes(task.difficulty)) return false;
    if (platforms && !platforms.includes(task.platform.toLowerCase())) return false;
    return true;
  });
}

function boundary(name: string, value: string): number {
  const millis = dateMillis(value);
  if (Number.isNaN(millis)) throw new UserError(`--${name} must be an ISO date such as 2025-02-01 (got ${value})`);
  return millis;
}

function list<T extends string>(value: T | T[] | undefined): T[] | undefined {
  if (value === undefined) return undefined;
  const items = (Array.isArray(value) ? value : [value]).filter((v) => v !== '');
  return items.length > 0 ? items : undefined;
}
