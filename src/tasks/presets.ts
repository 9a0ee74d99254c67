/**
 * Named task sets. The LCBv6 presets reproduce the SDPO paper's hard subsets from a user's own
 * LiveCodeBench release files; the paper gives only question indices, so each preset states
 * the reading it applies (docs/sdpo.md) and lists what it resolved to.
 */
import { UserError } from '../errors.js';
import { selectTasks } from './select.js';
import type { Task } from './types.js';

export type IndexBase = 0 | 1;

export interface PresetOptions {
  /** How the paper's question numbers count (default 0: Python's enumerate()). */
  indexBase?: IndexBase;
}

export interface ResolvedPreset {
  tasks: Task[];
  /** The reading applied, in one or two sentences, for the CLI to print. */
  reading: string;
  /** Anything the user should double-check (e.g. the window does not hold 131 problems). */
  warnings: string[];
}

export interface Preset {
  name: string;
  description: string;
  resolve(tasks: Task[], options?: PresetOptions): ResolvedPreset;
}

/** LCBv6 as the paper used it: contest dates in [2025-02-01, 2025-05-01), 131 problems. */
export const LCBV6_WINDOW = { from: '2025-02-01', to: '2025-05-01', expectedCount: 131 } as const;
/** The paper's hard set: pass@64 < 0.5 for Qwen3-8B (19 tasks). */
export const LCBV6_HARD_INDICES = [1, 3, 10, 43, 46, 59, 69, 74, 86, 91, 92, 95, 100, 103, 111, 120, 125, 127, 129] as const;
/** The paper's very hard set: pass@64 < 0.03 (9 tasks). */
export const LCBV6_VERY_HARD_INDICES = [3, 10, 46, 74, 91, 92, 95, 103, 125] as const;

export function lcbv6Reading(indexBase: IndexBase): string {
  return (
    `question N = the problem at ${indexBase}-based position N among the LCB code_generation_lite rows ` +
    `(files in natural order test.jsonl, test2.jsonl, …, test6.jsonl; rows in file order) whose contest_date ` +
    `is in [${LCBV6_WINDOW.from}, ${LCBV6_WINDOW.to}) — the paper's ${LCBV6_WINDOW.expectedCount}-problem LCBv6`
  );
}

/** Picks the paper's question indices out of the LCBv6 window of `tasks` (in their given order). */
export function resolveLcbv6(tasks: Task[], indices: readonly number[], indexBase: IndexBase = 0): ResolvedPreset {
  const window = selectTasks(tasks, { from: LCBV6_WINDOW.from, to: LCBV6_WINDOW.to });
  const reading = lcbv6Reading(indexBase);
  if (window.length === 0) {
    throw new UserError(
      `no task has a contest_date in [${LCBV6_WINDOW.from}, ${LCBV6_WINDOW.to}): pass your LiveCodeBench release_v6 files with --tasks DIR`,
    );
  }
  const warnings: string[] = [];
  if (window.length !== LCBV6_WINDOW.expectedCount) {
    warnings.push(
      `the date window holds ${window.length} problems, not the paper's ${LCBV6_WINDOW.expectedCount}: ` +
        'are these the release_v6 files (test.jsonl … test6.jsonl), all of them, in their original order?',
    );
  }
  const picked = indices.map((n) => {
    const task = window[n - indexBase];
    if (!task) {
      throw new UserError(`LCBv6 question ${n} is outside the ${window.length} problems of the date window (${indexBase}-based)`);
    }
    return task;
  });
  return { tasks: picked, reading, warnings };
}

function shippedSubset(name: string, description: string, pick: (tasks: Task[]) => Task[]): Preset {
  return {
    name,
    description,
    resolve(tasks) {
      const chosen = pick(tasks.filter((t) => t.platform === 'ttsd'));
      if (chosen.length === 0) throw new UserError(`preset ${name} matched no task: it needs the shipped tasks/ (platform ttsd)`);
      return { tasks: chosen, reading: description, warnings: [] };
    },
  };
}

export const PRESETS: readonly Preset[] = [
  {
    name: 'lcbv6-hard',
    description: 'SDPO paper hard set: 19 LCBv6 problems with Qwen3-8B pass@64 < 0.5 (needs your LCB release_v6 files)',
    resolve: (tasks, options) => resolveLcbv6(tasks, LCBV6_HARD_INDICES, options?.indexBase ?? 0),
  },
  {
    name: 'lcbv6-very-hard',
    description: 'SDPO paper very hard set: 9 LCBv6 problems with Qwen3-8B pass@64 < 0.03 (needs your LCB release_v6 files)',
    resolve: (tasks, options) => resolveLcbv6(tasks, LCBV6_VERY_HARD_INDICES, options?.indexBase ?? 0),
  },
  shippedSubset('ttsd-hard', 'shipped tasks of difficulty hard (a naive solution exceeds the 6 s limit)', (tasks) =>
    selectTasks(tasks, { difficulty: 'hard' }),
  ),
  shippedSubset('ttsd-medium', 'shipped tasks of difficulty medium', (tasks) => selectTasks(tasks, { difficulty: 'medium' })),
  shippedSubset('ttsd-smoke', 'two quick shipped easy tasks, one stdin and one functional (for smoke runs)', (tasks) => {
    const easy = selectTasks(tasks, { difficulty: 'easy' });
    return [easy.find((t) => !t.funcName), easy.find((t) => t.funcName)].filter((t): t is Task => t !== undefined);
  }),
];

export function findPreset(name: string): Preset {
  const preset = PRESETS.find((p) => p.name === name);
  if (!preset) throw new UserError(`unknown preset ${name} (known: ${PRESETS.map((p) => p.name).join(', ')})`);
  return preset;
}
