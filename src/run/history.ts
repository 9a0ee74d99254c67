import path from 'node:path';
import type { AttemptOutcome, CellHistory } from '../strategies/types.js';
import { cellOf as cellOfEvent, type AttemptEvent, type RunEvent } from './events.js';

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
      const cell = cellOf(cellKey(event.task, event.strategy, event.seed));
      if (cell.attempts.has(event.k)) throw new Error(`events.jsonl logs attempt k=${event.k} of ${event.task}/${event.strategy}/${event.seed} twice`);
      cell.attempts.set(event.k, outcomeFromEvent(event));
    } else if (event.type === 'train_step') {
      const id = cellOfEvent(event)!;
      const cell = cellOf(cellKey(id.task, id.strategy, id.seed));
      const adapter = event.adapter ?? null;
      cell.trainSteps.set(event.step, { adapterPath: adapter === null ? null : path.resolve(runDir, adapter), ...(event.signal === false ? { signal: false } : {}) });
    } else if (event.type === 'cell_done') {
      done.add(cellKey(event.task, event.strategy, event.seed));
    }
  }
  return { cells, done };
}

export function attemptEvent(task: string, strategy: string, seed: number, a: AttemptOutcome, extra: { adapter: string | null; keepTokens: boolean }): AttemptEvent {
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

function outcomeFromEvent(e: AttemptEvent): AttemptOutcome {
  return {
    k: e.k,
    step: e.step,
    position: e.position ?? 0,
    text: e.text ?? '',
    code: e.code ?? null,
    finishReason: e.finish_reason === 'length' ? 'length' : 'stop',
    responseTokens: e.response_tokens ?? [],
    ...(e.response_logprobs ? { logprobs: e.response_logprobs } : {}),
    reward: e.reward,
    ...(typeof e.public_total === 'number' && typeof e.public_passed === 'number' ? { publicPassed: e.public_passed, publicTotal: e.public_total } : {}),
    privateReward: e.private_reward,
    verdict: e.verdict,
    feedback: e.feedback ?? '',
    ms: e.ms,
    gradeMs: e.grade_ms ?? 0,
  };
}
