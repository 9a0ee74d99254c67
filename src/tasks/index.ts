/** The tasks component's public surface: load, select, presets, and the shipped task directory. */
import { fileURLToPath } from 'node:url';
import { UserError } from '../errors.js';
import { loadTasks } from './load.js';
import { findPreset, type IndexBase, type ResolvedPreset } from './presets.js';
import { selectTasks, type TaskFilter } from './select.js';
import type { Task } from './types.js';

export { loadTasks, parseTaskRecord, privateTestCount, privateTestsPending } from './load.js';
export { selectTasks, type TaskFilter, type Difficulty } from './select.js';
export { PRESETS, findPreset, resolveLcbv6, type Preset, type ResolvedPreset, type IndexBase } from './presets.js';
export { decodeLcbPrivateTests, unpickleString } from './pickle.js';

/** The tasks shipped with ttsd (tasks/*.jsonl at the repository root). */
export const SHIPPED_TASKS_DIR = fileURLToPath(new URL('../../tasks/', import.meta.url));

export interface TaskSetOptions extends TaskFilter {
  /** A .jsonl file or a directory of them; default: the shipped tasks. */
  tasks?: string;
  preset?: string;
  indexBase?: IndexBase;
}

/** Loads tasks, applies a preset (if any) and then the filter; an empty result is an error. */
export async function loadTaskSet(options: TaskSetOptions): Promise<{ tasks: Task[]; preset?: ResolvedPreset; source: string }> {
  const source = options.tasks ?? SHIPPED_TASKS_DIR;
  let tasks = await loadTasks(source);
  let preset: ResolvedPreset | undefined;
  if (options.preset) {
    preset = findPreset(options.preset).resolve(tasks, { indexBase: options.indexBase });
    tasks = preset.tasks;
  }
  const selected = selectTasks(tasks, options);
  if (selected.length === 0) throw new UserError(`no task matches the selection (${source})`);
  return { tasks: selected, preset, source };
}

/** One task by id from a file or directory (default: the shipped tasks). */
export async function loadTask(id: string, tasksPath?: string): Promise<Task> {
  const source = tasksPath ?? SHIPPED_TASKS_DIR;
  const task = (await loadTasks(source)).find((t) => t.id === id);
  if (!task) throw new UserError(`no task ${id} in ${source}`);
  return task;
}
