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

  it('names the line of a malformed middle line', () => {
    expect(messageOf(() => parseRunLog(`${run}\n${attempt(1)}\n{oops\n${attempt(2)}\n`))).toMatch(/line 3 is not valid JSON/);
    expect(messageOf(() => parseRunLog(`${run}\n[1,2]\n`))).toMatch(/line 2 is not an event object/);
  });

  it('requires a run event with a budget', () => {
    expect(messageOf(() => parseRunLog(`${attempt(1)}\n`))).toMatch(/no "run" event/);
    expect(messageOf(() => parseRunLog(''))).toMatch(/no "run" event/);
    expect(messageOf(() => parseRunLog(`{"type":"run","strategies":[]}\n`))).toMatch(/line 1: the run event needs a positive integer "budget"/);
  });

  it('skips unknown event types, blank lines and attempts missing required fields', () => {
    const log = parseRunLog(`${run}\n\n{"type":"future_thing","x":1}\n{"type":"attempt","task":"A"}\n${attempt(1)}\n`);
    expect(log.attempts).toHaveLength(1);
    expect(log.otherEvents).toEqual({ future_thing: 1 });
    expect(log.warnings.join(' ')).toMatch(/ignored 1 attempt event/);
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
