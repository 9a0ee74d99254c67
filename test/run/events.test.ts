/** The one event reader: what the writers produce reads back as typed events; anything else is refused with file:line. */
import { describe, expect, it } from 'vitest';
import { UserError } from '../../src/errors.js';
import { EventLineReader, parseEventBuffer, validateEvent, type RunEvent } from '../../src/run/events.js';
import { attemptEvent } from '../../src/run/history.js';

const outcome = {
  k: 3,
  step: 2,
  position: 1,
  text: 'print(1)',
  code: 'print(1)',
  finishReason: 'stop' as const,
  responseTokens: [5, 6],
  logprobs: [-0.5, Number.NaN],
  reward: 1 as const,
  privateReward: 0 as const,
  verdict: 'WA',
  feedback: 'f',
  ms: 12.4,
  gradeMs: 3.6,
};

const roundTrip = (event: RunEvent): RunEvent => validateEvent(JSON.parse(JSON.stringify(event)), 'x:1');

describe('events', () => {
  it('every event the writers produce reads back as itself (NaN written as null reads back as NaN)', () => {
    const attempt = attemptEvent('t', 'sdpo', 0, outcome, { adapter: 'trainer/a.gguf', keepTokens: true });
    expect(roundTrip(attempt)).toEqual(attempt);
    const step: RunEvent = { type: 'train_step', task: 't', strategy: 'grpo', seed: 0, step: 1, loss: 0, kl_before: Number.NaN, kl_after: Number.NaN, grad_norm: 0, ms: 4, skipped: false, tokens: 10, masked: 0, trainer_step: 1, adapter: null, is_weight_mean: 1, is_clipped: 0, signal: false, loss_kind: 'policy_gradient' };
    expect(roundTrip(step)).toEqual(step);
    const others: RunEvent[] = [
      { type: 'run', version: 1, budget: 4, strategies: ['a'], seeds: [0], tasks: ['t'], shard: { index: 2, count: 3 }, protocols: [], anything: 'settings' },
      { type: 'cell_done', task: 't', strategy: 'a', seed: 0, attempts: 4, discovery_k: null },
      { type: 'resume', at: 'now', repaired: true, threads: 2 },
      { type: 'utilisation', wall_ms: 1, sample_ms: 1, grade_ms: 0, grade_slot_ms: 0, train_ms: 0, sampler: 1, grader: 0, trainer: 0, grader_concurrency: 1 },
      { type: 'run_done', at: 'now', cells: 1, attempts: 4 },
    ];
    for (const event of others) expect(roundTrip(event)).toEqual(event);
  });

  it('refuses, with file:line and one line, what is not one of the events', () => {
    const bad: [unknown, RegExp][] = [
      [{ type: 'run', version: 1, budget: 4, strategies: ['a'], seeds: [0], tasks: ['t'], shard: { index: 3, count: 2 } }, /^f:7: run event's "shard" must be null or \{index, count\} with 1 ≤ index ≤ count, got \{"index":3,"count":2\}$/],
      [{ type: 'cell_done', task: 't', strategy: 'a', seed: 0, attempts: 4 }, /^f:7: cell_done event lacks "discovery_k"$/],
      [{ type: 'train_step', task: 't', seed: 0, step: 1, loss: 'x', kl_before: 0, kl_after: 0, grad_norm: 0, ms: 1 }, /^f:7: train_step event's "loss" must be a number or null, got "x"$/],
      [{ type: 'train_step', task: 't', seed: 0, step: 1, loss: 0, kl_before: 0, kl_after: 0, grad_norm: 0, ms: 1, signal: 'no' }, /"signal" must be a boolean/],
      [{ type: 'Attempt' }, /^f:7: unknown event type "Attempt"/],
      [{ kind: 'attempt' }, /^f:7: unknown event type undefined/],
      ['attempt', /^f:7: not an event object$/],
    ];
    for (const [value, message] of bad) expect(() => validateEvent(value, 'f:7')).toThrow(message);
    expect(() => validateEvent(null, 'f:7')).toThrow(UserError);
  });

  it('drops only a torn last line, counting lines from 1 including blank ones', () => {
    const seen: number[] = [];
    const reader = new EventLineReader('f', (_, line) => seen.push(line));
    for (const line of ['{"type":"resume","at":"a","repaired":false}', '', '{"type":"resume","at":"b","repaired":false}', '{"type":"res']) reader.line(line);
    reader.finish();
    expect(seen).toEqual([1, 3]);
    expect(reader.torn?.line).toBe(4);
    expect(parseEventBuffer(Buffer.from('')).events).toEqual([]);
    expect(() => parseEventBuffer(Buffer.from('{"type":"res\n\n{"type":"run_done","at":"x","cells":0,"attempts":0}\n'), 'f')).toThrow(/^f:1: not valid JSON .*only a torn last line is repaired$/);
  });
});
