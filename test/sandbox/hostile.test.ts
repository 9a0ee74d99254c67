// Hostile programs on the real engine: each must end in a verdict within its limit and leave no
// container behind. ~40–70 s on 2 busy cores.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DockerGrader } from '../../src/sandbox/docker-grader.js';
import { ownContainers } from '../../src/sandbox/engine.js';
import type { GradeResult } from '../../src/sandbox/types.js';
import { stdinTask } from './helpers.js';

const TIMEOUT_S = 2;
const GRACE_MS = 2_000;
// The per-test limit plus the host watchdog's grace plus container start/stop on a busy machine.
const BOUND_MS = TIMEOUT_S * 1000 + GRACE_MS + 5_000;
const TASK = stdinTask([['1\n', 'ok\n']]);

let grader: DockerGrader;
beforeAll(async () => {
  grader = await DockerGrader.create({ concurrency: 2, limits: { memoryMb: 256, graceMs: GRACE_MS } });
});
afterAll(async () => {
  await grader?.close();
});

async function run(code: string, checkLeftovers = true): Promise<{ result: GradeResult; ms: number }> {
  const started = performance.now();
  const result = await grader.grade(TASK, { code }, { timeoutSeconds: TIMEOUT_S });
  const ms = performance.now() - started;
  expect(ms).toBeLessThan(BOUND_MS);
  if (checkLeftovers) expect(await ownContainers(grader.docker)).toEqual([]);
  return { result, ms };
}

describe('hostile programs are contained', () => {
  it('network egress fails: no interface but loopback', async () => {
    const { result } = await run(
      'import socket\ns = socket.create_connection(("1.1.1.1", 80), timeout=1)\nprint("ok")\n',
    );
    expect(result.verdict).toBe('runtime_error');
    expect(result.feedback).toMatch(/OSError: \[Errno 101\] Network is unreachable/);
  });

  it('a fork bomb hits the pids limit and then the time limit', async () => {
    const { result } = await run(
      'import ctypes\nlibc = ctypes.CDLL(None)\nwhile True:\n    libc.fork()\n',
    );
    expect(result.verdict).toBe('time_limit');
  });

  it('a memory bomb is OOM-killed: memory limit', async () => {
    const { result } = await run('hog = []\nwhile True:\n    hog.append(bytearray(10 ** 7))\n');
    expect(result.verdict).toBe('memory_limit');
  });

  it('filling the disk stops at the tmpfs / file-size limit', async () => {
    const { result } = await run(
      'with open("/tmp/fill", "wb") as f:\n    for _ in range(1000):\n        f.write(b"0" * (1 << 20))\nprint("ok")\n',
    );
    expect(result.verdict).toBe('runtime_error');
    expect(result.feedback).toMatch(/OSError: \[Errno (27|28)\] (File too large|No space left on device)/);
  });

  it('writing outside /tmp fails: read-only root, non-root user', async () => {
    const { result } = await run('open("/opt/ttsd/grader.py", "w").write("print(1)")\n');
    expect(result.verdict).toBe('runtime_error');
    expect(result.feedback).toMatch(/(OSError: \[Errno 30\] Read-only file system|PermissionError)/);
  });

  it('host files are not visible', async () => {
    const { result } = await run(`print(open(${JSON.stringify(process.cwd() + '/package.json')}).read())\n`);
    expect(result.verdict).toBe('runtime_error');
    expect(result.feedback).toMatch(/FileNotFoundError/);
  });

  it('1 GiB of output: captured output exhausts memory; raw fd writes go nowhere', async () => {
    const [captured, raw] = await Promise.all([
      run('chunk = "x" * (1 << 20)\nfor _ in range(1024):\n    print(chunk)\n', false),
      run('import os\nchunk = b"x" * (1 << 20)\nfor _ in range(1024):\n    os.write(1, chunk)\n    os.write(2, chunk)\n', false),
    ]);
    expect(await ownContainers(grader.docker)).toEqual([]);
    expect(captured.result.verdict).toBe('memory_limit');
    expect(raw.result.verdict).toBe('wrong_answer');
  });

  it('a process ignoring SIGTERM and the alarm is killed by the host watchdog', async () => {
    const { result, ms } = await run(
      'import signal\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\nsignal.signal(signal.SIGALRM, signal.SIG_IGN)\nwhile True:\n    pass\n',
    );
    expect(result.verdict).toBe('time_limit');
    expect(result.feedback).toBe('Time Limit Exceeded\nLast Executed Input\n1');
    expect(ms).toBeGreaterThan(TIMEOUT_S * 1000);
  });

  it('sleeping forever is a time limit', async () => {
    const { result } = await run('import time\ntime.sleep(10 ** 6)\n');
    expect(result.verdict).toBe('time_limit');
  });

  it('a segfault ends the grader: runtime error naming the signal', async () => {
    const { result } = await run('import ctypes\nctypes.string_at(0)\n');
    expect(result.verdict).toBe('runtime_error');
    expect(result.feedback).toMatch(/^Runtime Error\nProcessExit: the process ended with exit code 139 \(segmentation fault\)\nLast Executed Input\n1$/);
  });

  it('forging the result frame or closing stdout does not fool the grader', async () => {
    const forge = 'import sys, os\nprint("\\n@@ttsd:0:{\\"t\\": \\"result\\", \\"kind\\": \\"accepted\\"}")\n';
    const { result } = await run(`${forge}os.close(1)\nos.close(2)\n`);
    expect(result.verdict).toBe('wrong_answer');
    // sys.stdout.close() raises TypeError under LCB's capture (its close lambda takes one argument).
    const { result: closed } = await run(`${forge}sys.stdout.close()\nos.close(1)\n`);
    expect(closed.verdict).toBe('runtime_error');
  });
});

describe('the first failing test decides, whatever happens afterwards', () => {
  it('a crash while more failing cases are collected keeps the wrong-answer verdict', async () => {
    const task = stdinTask([
      ['1\n', '2\n'],
      ['2\n', '2\n'],
    ]);
    // Test 1 is a wrong answer; test 2 (run only to find more feedback) dies of an OOM kill.
    const code = 'n = int(input())\nif n == 2:\n    x = bytearray(1 << 30)\nprint(n)\n';
    const result = await grader.grade(task, { code }, { timeoutSeconds: TIMEOUT_S });
    expect(result).toMatchObject({ verdict: 'wrong_answer', passed: 0, lcb: { error_code: -2 } });
    expect(result.feedback).toBe('Test Case 1: Wrong Answer\nInput\n1\nOutput\n1\nExpected\n2');
  });
});
