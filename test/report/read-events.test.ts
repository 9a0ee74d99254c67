import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { UserError } from '../../src/errors.js';
import { parseRunLog, readRunDirectory } from '../../src/report/read-events.js';

const run = JSON.stringify({ type: 'run', version: 1, budget: 3, strategies: ['sdpo'], seeds: [1], tasks: ['A'] });
const attempt = (k: number) => JSON.stringify({ type: 'attempt', task: 'A', strategy: 'sdpo', seed: 1, k, step: k, reward: 0, private_reward: 0, verdict: 'WA', tokens: 5, ms: 10 });

const messageOf = (fn: () => unknown): string => {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(UserError);
    expect((error as Error).message).not.toContain('\n');
    return (error as Error).message;
  }
  throw new Error('expected a UserError');
};

describe('reading events.jsonl', () => {
  it('ignores a truncated last line with a warning', () => {
    const log = parseRunLog(`${run}\n${attempt(1)}\n{"type":"attempt","task":"A","stra`);
    expect(log.attempts).toHaveLength(1);
    expect(log.warnings.join(' ')).toMatch(/truncated last line \(line 3\)/);
  });

  it('also treats an unparsable last line followed by a newline as torn, like the run store', () => {
    const log = parseRunLog(`${run}\n${attempt(1)}\n{"type":"attempt","ta\n\n`);
    expect(log.attempts).toHaveLength(1);
    expect(log.warnings.join(' ')).toMatch(/truncated last line \(line 3\)/);
  });

  it('collects cell_done, utilisation, resume and run_done events', () => {
    const log = parseRunLog(
      [
        run,
        attempt(1),
        '{"type":"resume","at":"x","repaired":true}',
        '{"type":"cell_done","task":"A","strategy":"sdpo","seed":1,"attempts":1,"discovery_k":null}',
        '{"type":"utilisation","wall_ms":1000,"sampler":0.5,"grader":0.25,"trainer":0.1}',
        '{"type":"run_done","at":"y","cells":1,"attempts":1}',
      ].join('\n') + '\n',
    );
    expect(log.cellsDone).toEqual([{ task: 'A', strategy: 'sdpo', seed: 1 }]);
    expect(log.utilisation).toHaveLength(1);
    expect(log.resumes).toBe(1);
    expect(log.finished).toBe(true);
    expect(parseRunLog(`${run}\n`).finished).toBe(false);
  });

  it('keeps a complete last line that lacks its newline', () => {
    expect(parseRunLog(`${run}\n${attempt(1)}\n${attempt(2)}`).attempts).toHaveLength(2);
  });

  it('names file:line of a malformed middle line', () => {
    expect(messageOf(() => parseRunLog(`${run}\n${attempt(1)}\n{oops\n${attempt(2)}\n`, 'r/events.jsonl'))).toMatch(/^r\/events\.jsonl:3: not valid JSON/);
    expect(messageOf(() => parseRunLog(`${run}\n[1,2]\n`))).toMatch(/^events\.jsonl:2: not an event object$/);
  });

  it('requires the log to start with one run event with a budget', () => {
    expect(messageOf(() => parseRunLog(`${attempt(1)}\n`))).toMatch(/^events\.jsonl:1: the log must start with a run event, found a attempt event$/);
    expect(messageOf(() => parseRunLog(''))).toMatch(/no "run" event/);
    expect(messageOf(() => parseRunLog(`{"type":"run","version":1,"strategies":[],"seeds":[],"tasks":[]}\n`))).toMatch(/^events\.jsonl:1: run event lacks "budget"$/);
    expect(messageOf(() => parseRunLog(`${run}\n${attempt(1)}\n${run}\n`))).toMatch(/^events\.jsonl:3: a second run event/);
  });

  it('refuses unknown event types and events missing or mistyping a field, even on the last line; skips blank lines', () => {
    expect(messageOf(() => parseRunLog(`${run}\n\n{"type":"future_thing","x":1}\n${attempt(1)}\n`))).toMatch(/^events\.jsonl:3: unknown event type "future_thing" \(known: run, attempt, train_step, cell_done, resume, utilisation, run_done\)$/);
    expect(messageOf(() => parseRunLog(`${run}\n${attempt(1)}\n{"type":"attempt","task":"A"}\n`))).toMatch(/^events\.jsonl:3: attempt event lacks "strategy"$/);
    const badSeed = JSON.stringify({ ...JSON.parse(attempt(2)), seed: '1' });
    expect(messageOf(() => parseRunLog(`${run}\n${badSeed}\n${attempt(1)}\n`))).toMatch(/^events\.jsonl:2: attempt event's "seed" must be an integer, got "1"$/);
    expect(parseRunLog(`${run}\n\n\n${attempt(1)}\n`).attempts).toHaveLength(1);
  });

  it('reads null metrics of a train step (NaN written by JSON.stringify) back as NaN', () => {
    const step = JSON.stringify({ type: 'train_step', task: 'A', strategy: 'sdpo', seed: 1, step: 1, loss: 0.5, kl_before: Number.NaN, kl_after: null, grad_norm: 1, ms: 3, signal: false, loss_kind: 'policy_gradient' });
    const [parsed] = parseRunLog(`${run}\n${step}\n`).trainSteps;
    expect(parsed.loss).toBe(0.5);
    expect(parsed.kl_before).toBeNaN();
    expect(parsed.kl_after).toBeNaN();
    expect(parsed.signal).toBe(false);
  });

  it('reports planned cells that have no events as missing', () => {
    const two = JSON.stringify({ type: 'run', version: 1, budget: 3, strategies: ['sdpo'], seeds: [1, 2], tasks: ['A'] });
    const log = parseRunLog(`${two}\n${attempt(1)}\n`);
    expect(log.plannedCells).toBe(2);
    expect(log.missingCells).toEqual([{ task: 'A', strategy: 'sdpo', seed: 2 }]);
    expect(log.finished).toBe(false);
    expect(log.warnings.join(' ')).toMatch(/1 of 2 planned cells have no events .*: cell A\/sdpo\/seed 2; they are not in the results/);
  });

  const tmp = mkdtemp(path.join(os.tmpdir(), 'ttsd-read-'));
  afterAll(async () => rm(await tmp, { recursive: true, force: true }));

  it('reports a missing directory or a missing events.jsonl as user errors', async () => {
    const dir = await tmp;
    await expect(readRunDirectory(path.join(dir, 'nope'))).rejects.toThrow(/run directory not found/);
    await expect(readRunDirectory(dir)).rejects.toThrow(/no events\.jsonl in/);
    await writeFile(path.join(dir, 'events.jsonl'), `${run}\n${attempt(1)}\n`);
    const log = await readRunDirectory(dir);
    expect(log.run.budget).toBe(3);
  });
});
