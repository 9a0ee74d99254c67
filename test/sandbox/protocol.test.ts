// Pure logic, no engine: event framing and the verdict when the grader could not report. <1 s.
import { describe, expect, it } from 'vitest';
import type { ContainerRun } from '../../src/sandbox/container.js';
import { EventReader } from '../../src/sandbox/protocol.js';
import { gradeResultFrom, truncateLcb } from '../../src/sandbox/verdict.js';
import { stdinTask } from './helpers.js';

describe('EventReader', () => {
  it('reassembles frames split across chunks and ignores other lines and other nonces', () => {
    const reader = new EventReader('abc');
    const stream = 'junk\n@@ttsd:abc:{"t":"compile"}\n@@ttsd:zzz:{"t":"start","i":9}\n@@ttsd:abc:{"t":"sta' + 'rt","i":1}\n@@ttsd:abc:{broken\n';
    const events = [...reader.push(stream.slice(0, 30)), ...reader.push(stream.slice(30, 77)), ...reader.push(stream.slice(77))];
    expect(events).toEqual([{ t: 'compile' }, { t: 'start', i: 1 }]);
  });
});

describe('truncateLcb (lcb_runner truncatefn)', () => {
  it('keeps 150 chars of head and tail around a marker', () => {
    expect(truncateLcb('short')).toBe('short');
    const long = 'a'.repeat(200) + 'b'.repeat(200);
    expect(truncateLcb(long)).toBe('a'.repeat(150) + '...(truncated) ...' + 'b'.repeat(150));
  });
});

describe('verdict from the container’s fate when no result was reported', () => {
  const task = stdinTask([
    ['1\n', '1\n'],
    ['2\n', '2\n'],
  ]);
  const run = (over: Partial<ContainerRun>): ContainerRun => ({
    result: null,
    lastStarted: 1,
    timedOut: false,
    oomKilled: false,
    exitCode: 137,
    stderr: '',
    ms: 1234.4,
    ...over,
  });

  it('OOM kill → memory limit, watchdog kill → time limit, other deaths → runtime error', () => {
    const oom = gradeResultFrom(run({ oomKilled: true }), task.publicTests, false, false);
    expect(oom).toMatchObject({ verdict: 'memory_limit', passed: 1, total: 2, timingMs: 1234 });
    expect(oom.feedback).toBe('Memory Limit Exceeded\nLast Executed Input\n2');
    const slow = gradeResultFrom(run({ timedOut: true }), task.publicTests, false, false);
    expect(slow).toMatchObject({ verdict: 'time_limit', lcb: { error_code: -3, inputs: '2\n', expected: '2\n' } });
    const crash = gradeResultFrom(run({ exitCode: 139 }), task.publicTests, false, true);
    expect(crash.verdict).toBe('runtime_error');
    expect(crash.feedback).toMatch(/^Note: your response was cut off.*\n\nRuntime Error\nProcessExit: the process ended with exit code 139 \(segmentation fault\)\nLast Executed Input\n2$/s);
  });

  it('death before any test started has no last executed input', () => {
    const early = gradeResultFrom(run({ lastStarted: -1, exitCode: 1 }), task.publicTests, false, false);
    expect(early).toMatchObject({ verdict: 'runtime_error', passed: 0 });
    expect(early.feedback).not.toMatch(/Last Executed Input/);
  });
});
