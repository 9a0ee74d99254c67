import path from 'node:path';
import type { AttemptOutcome, CellHistory } from '../strategies/types.js';
import type { AttemptEvent, RunEvent } from './events.js';

export const cellKey = (task: string, strategy: string, seed: number): string => `${task}\u0000${strategy}\u0000${seed}`;

/** What a run's log says about each cell: the state `--resume` continues from. */
export interface RunHistory {
  cells: Map<string, CellHistory>;
  done: Set<string>;
}

/**
 * Rebuilds every cell's attempts, train steps and completion from the log. An attempt k logged
 * twice would be a bug in the writer; it is refused rather than silently counted once. Adapter
 * paths logged relative to the run directory are resolved against `runDir`.
 */
export function historyFromEvents(events: RunEvent[], runDir = '.'): RunHistory {
  const cells = new Map<string, CellHistory>();
  const done = new Set<string>();
  const cellOf = (key: string): CellHistory => {
    let cell = cells.get(key);
    if (!cell) cells.set(key, (cell = { attempts: new Map(), trainSteps: new Map() }));
    return cell;
  };
  for (const event of events) {
    if (event.type === 'attempt') {
      const a = event as AttemptEvent & Record<string, unknown>;
      const cell = cellOf(cellKey(a.task, a.strategy, a.seed));
      if (cell.attempts.has(a.k)) throw new Error(`events.jsonl logs attempt k=${a.k} of ${a.task}/${a.strategy}/${a.seed} twice`);
      cell.attempts.set(a.k, outcomeFromEvent(a));
    } else if (event.type === 'train_step') {
      const e = event as Record<string, unknown>;
      const cell = cellOf(cellKey(String(e.task), String(e.strategy ?? 'sdpo'), Number(e.seed)));
      const adapter = (e.adapter as string | null | undefined) ?? null;
      cell.trainSteps.set(Number(e.step), { adapterPath: adapter === null ? null : path.resolve(runDir, adapter), ...(e.signal === false ? { signal: false } : {}) });
    } else if (event.type === 'cell_done') {
      const e = event as Record<string, unknown>;
      done.add(cellKey(String(e.task), String(e.strategy), Number(e.seed)));
    }
  }
  return { cells, done };
}

export function attemptEvent(task: string, strategy: string, seed: number, a: AttemptOutcome, extra: { adapter: string | null; keepTokens: boolean }): AttemptEvent & Record<string, unknown> {
  return {
    type: 'attempt',
    task,
    strategy,
    seed,
    k: a.k,
    step: a.step,
    position: a.position,
    reward: a.reward,
    private_reward: a.privateReward,
    ...(a.publicTotal !== undefined ? { public_passed: a.publicPassed, public_total: a.publicTotal } : {}),
    verdict: a.verdict,
    tokens: a.responseTokens.length,
    ms: Math.round(a.ms),
    grade_ms: Math.round(a.gradeMs),
    finish_reason: a.finishReason,
    feedback: a.feedback,
    code: a.code,
    text: a.text,
    adapter: extra.adapter,
    ...(extra.keepTokens ? { response_tokens: a.responseTokens } : {}),
    ...(extra.keepTokens && a.logprobs ? { response_logprobs: a.logprobs } : {}),
  };
}

function outcomeFromEvent(e: AttemptEvent & Record<string, unknown>): AttemptOutcome {
  return {
    k: e.k,
    step: e.step,
    position: Number(e.position ?? 0),
    text: String(e.text ?? ''),
    code: (e.code as string | null | undefined) ?? null,
    finishReason: e.finish_reason === 'length' ? 'length' : 'stop',
    responseTokens: Array.isArray(e.response_tokens) ? (e.response_tokens as number[]) : [],
    ...(Array.isArray(e.response_logprobs) ? { logprobs: e.response_logprobs as number[] } : {}),
    reward: e.reward === 1 ? 1 : 0,
    ...(typeof e.public_total === 'number' && typeof e.public_passed === 'number' ? { publicPassed: e.public_passed, publicTotal: e.public_total } : {}),
    privateReward: e.private_reward === 1 ? 1 : 0,
    verdict: e.verdict,
    feedback: String(e.feedback ?? ''),
    ms: e.ms,
    gradeMs: Number(e.grade_ms ?? 0),
  };
}
