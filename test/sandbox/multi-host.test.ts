// Grading across two real Docker daemons: the main one and a second dockerd this file starts on
// its own socket (and on tcp://127.0.0.1 with TLS), including killing it (kill -9) mid-run.
// ~60–120 s on 2 busy cores.
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UserError } from '../../src/errors.js';
import { DockerGrader } from '../../src/sandbox/docker-grader.js';
import { connect, defaultImage, imageState, ownContainers } from '../../src/sandbox/engine.js';
import { hardeningProbe } from '../../src/sandbox/hardening.js';
import { localHost } from '../../src/sandbox/hosts.js';
import type { GradeResult, Submission } from '../../src/sandbox/types.js';
import type { Task } from '../../src/tasks/types.js';
import { ADD_OK, ADD_TASK, stdinTask, SUM_OK, SUM_TASK } from './helpers.js';
import { startSecondDaemon, type SecondDaemon } from './second-dockerd.js';

const MAIN = localHost().endpoint;
let second: SecondDaemon;

beforeAll(async () => {
  second = await startSecondDaemon({ tls: true });
}, 60_000);

afterAll(async () => {
  await second?.cleanup();
}, 30_000);

const until = async (what: string, ok: () => boolean | Promise<boolean>, ms: number) => {
  const started = Date.now();
  while (!(await ok())) {
    if (Date.now() - started > ms) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
};

// Each program sleeps first so that several are in flight on a host when it is killed.
const NAP = 'import time\ntime.sleep(1.2)\n';
const WORK: { task: Task; submission: Submission; timeoutSeconds?: number }[] = [
  { task: SUM_TASK, submission: { code: NAP + SUM_OK } },
  { task: SUM_TASK, submission: { code: NAP + 'print(0)\n' } },
  { task: SUM_TASK, submission: { code: NAP + 'a, b = map(int, input().split())\nprint(a - b)\n' } },
  { task: SUM_TASK, submission: { code: NAP + 'raise ValueError("no")\n' } },
  { task: ADD_TASK, submission: { code: NAP + ADD_OK } },
  { task: ADD_TASK, submission: { code: NAP + 'class Solution:\n    def add(self, a, b):\n        return a * b\n' } },
  { task: SUM_TASK, submission: { code: 'while True:\n    pass\n' }, timeoutSeconds: 1 },
  { task: SUM_TASK, submission: { code: NAP + 'a, b = map(int, input().split())\nprint(a + b + 1)\n' } },
];
const BATCH = [...WORK, ...WORK]; // 16 attempts

/** What must not depend on where an attempt ran (timing does). */
const essence = (r: GradeResult) => ({ verdict: r.verdict, passed: r.passed, total: r.total, lcb: r.lcb, feedback: r.feedback });

const gradeAll = (grader: DockerGrader, work = BATCH) =>
  Promise.all(work.map((w) => grader.grade(w.task, w.submission, w.timeoutSeconds ? { timeoutSeconds: w.timeoutSeconds } : {})));

let reference: ReturnType<typeof essence>[];

describe('several Docker hosts', () => {
  it('loads the image into a host that lacks it (docker save | load), and grades on both hosts like on one', async () => {
    expect((await imageState(second.docker, defaultImage())).state).toBe('missing');
    const lines: string[] = [];
    const both = await DockerGrader.create({ hosts: [`${MAIN}=2`, `${second.endpoint}=2`], log: (l) => lines.push(l) });
    const one = await DockerGrader.create({ concurrency: 4 }); // as many slots as the two hosts together
    try {
      expect(lines).toEqual([`grader: loading the sandbox image ${defaultImage()} into ${second.endpoint} from ${MAIN}`]);
      expect((await imageState(second.docker, defaultImage())).state).toBe('current');
      // Throughput, one daemon vs two (the same 2-core machine, so no speed-up is expected).
      let started = performance.now();
      reference = (await gradeAll(one)).map(essence);
      const oneRate = BATCH.length / ((performance.now() - started) / 1000);
      started = performance.now();
      const spread = (await gradeAll(both)).map(essence);
      const twoRate = BATCH.length / ((performance.now() - started) / 1000);
      console.log(`attempts/s (${BATCH.length} attempts, ~1.2 s each, 4 slots in all): one daemon ${oneRate.toFixed(2)}, two daemons ${twoRate.toFixed(2)}`);
      expect(spread).toEqual(reference);
      expect(reference.map((r) => r.verdict)).toEqual(
        [['accepted', 'wrong_answer', 'wrong_answer', 'runtime_error', 'accepted', 'wrong_answer', 'time_limit', 'wrong_answer']].flat().concat(
          ['accepted', 'wrong_answer', 'wrong_answer', 'runtime_error', 'accepted', 'wrong_answer', 'time_limit', 'wrong_answer'],
        ),
      );
      const stats = both.hostStats();
      expect(stats.map((s) => s.slots)).toEqual([2, 2]);
      for (const s of stats) expect(s.graded, s.endpoint).toBeGreaterThan(0);
      expect(stats[0].graded + stats[1].graded).toBe(BATCH.length);
    } finally {
      await Promise.all([both.close(), one.close()]);
    }
    expect(await ownContainers(second.docker)).toEqual([]);
  }, 180_000);

  it('the second daemon (over tcp with TLS) enforces the same hardening', async () => {
    const grader = await DockerGrader.create({
      hosts: [`${second.tcpEndpoint}=2`],
      endpoint: { certPath: second.certPath },
      limits: { memoryMb: 256 },
      log: () => {},
    });
    try {
      const probe = hardeningProbe(grader.limits);
      const task = stdinTask([['1\n', 'ok\n']]);
      const run = (code: string) => grader.grade(task, { code }, { timeoutSeconds: 2 });
      const [hardened, network, forkBomb, memoryBomb, rootWrite, flood, sleeper] = await Promise.all([
        grader.grade(probe.task, { code: probe.code }),
        run('import socket\nsocket.create_connection(("1.1.1.1", 80), timeout=1)\nprint("ok")\n'),
        run('import ctypes\nlibc = ctypes.CDLL(None)\nwhile True:\n    libc.fork()\n'),
        run('hog = []\nwhile True:\n    hog.append(bytearray(10 ** 7))\n'),
        run('open("/opt/ttsd/grader.py", "w").write("print(1)")\n'),
        run('chunk = "x" * (1 << 20)\nfor _ in range(1024):\n    print(chunk)\n'),
        run('import time\ntime.sleep(10 ** 6)\n'),
      ]);
      expect(hardened.feedback).toBe('');
      expect(hardened.verdict).toBe('accepted');
      expect(network.feedback).toMatch(/Network is unreachable/);
      expect(forkBomb.verdict).toBe('time_limit');
      expect(memoryBomb.verdict).toBe('memory_limit');
      expect(rootWrite.feedback).toMatch(/(Read-only file system|PermissionError)/);
      expect(flood.verdict).toBe('memory_limit');
      expect(sleeper.verdict).toBe('time_limit');
      // The probe can fail: it notices a limit that differs from what was asked.
      const loose = hardeningProbe({ ...grader.limits, memoryMb: 512, pids: 1000 });
      const caught = await grader.grade(loose.task, { code: loose.code });
      expect(caught.lcb.output?.trim()).toBe('not hardened: memory limit 268435456; pids limit 64');
    } finally {
      await grader.close();
    }
  }, 120_000);

  it('a host killed mid-run (kill -9): its attempts are graded elsewhere, each exactly once; it is used again once back', async () => {
    expect(reference).toBeDefined();
    const lines: string[] = [];
    const grader = await DockerGrader.create({ hosts: [`${MAIN}=2`, `${second.endpoint}=2`], pingIntervalMs: 300, log: (l) => lines.push(l) });
    try {
      const grading = gradeAll(grader);
      await until('both slots of the second daemon busy', () => grader.hostStats()[1].active === 2, 20_000);
      await new Promise((resolve) => setTimeout(resolve, 400)); // its containers are running
      second.kill();
      const results = (await grading).map(essence);
      expect(results).toHaveLength(BATCH.length);
      expect(results).toEqual(reference);
      const [main, dead] = grader.hostStats();
      expect(dead.up).toBe(false);
      expect(dead.rerouted).toBeGreaterThanOrEqual(2);
      // Each attempt ran to its end on exactly one host.
      expect(main.graded + dead.graded).toBe(BATCH.length);
      expect(lines.some((l) => l.startsWith(`grader: Docker host ${second.endpoint} is down (`) && l.includes(`its attempts go to ${MAIN}`))).toBe(true);

      await second.start();
      await until('the second daemon back in use', () => grader.hostStats()[1].up, 20_000);
      expect(lines).toContain(`grader: Docker host ${second.endpoint} is back (2 slots)`);
      const before = grader.hostStats()[1].graded;
      const again = (await gradeAll(grader, WORK)).map(essence);
      expect(again).toEqual(reference.slice(0, WORK.length));
      expect(grader.hostStats()[1].graded).toBeGreaterThan(before);
    } finally {
      await grader.close();
    }
    expect(await ownContainers(second.docker)).toEqual([]);
  }, 180_000);

  it('every host down: attempts wait with a progress line, resume when one comes back, fail with one line after the bound', async () => {
    const lines: string[] = [];
    // A bound well above a daemon restart on a busy machine: the attempt waits, then is graded.
    const patient = await DockerGrader.create({ hosts: [second.endpoint], pingIntervalMs: 300, hostDownWaitMs: 60_000, log: (l) => lines.push(l) });
    try {
      second.kill();
      const waiting = patient.grade(SUM_TASK, { code: SUM_OK });
      waiting.catch(() => {}); // awaited below
      await until('the progress line', () => lines.some((l) => l.startsWith('grader: every Docker host is down; 1 attempt(s) waiting for one to come back, giving up in')), 15_000);
      await second.start();
      expect((await waiting).verdict).toBe('accepted');
    } finally {
      await patient.close();
    }

    // A short bound: one line once it has passed.
    const grader = await DockerGrader.create({ hosts: [second.endpoint], pingIntervalMs: 300, hostDownWaitMs: 4_000, log: () => {} });
    try {
      second.kill();
      const started = performance.now();
      const error = await grader.grade(SUM_TASK, { code: SUM_OK }).catch((e) => e);
      expect(error).toBeInstanceOf(UserError);
      expect(error.message).toMatch(new RegExp(`^lost every Docker host while grading \\(${second.endpoint}: .*\\) and none came back within 4 s`));
      expect(error.message).not.toContain('\n');
      expect(performance.now() - started).toBeGreaterThan(4_000);
      expect(performance.now() - started).toBeLessThan(20_000);
      // Later attempts fail at once while every host is still down.
      await expect(grader.grade(SUM_TASK, { code: SUM_OK })).rejects.toBe(error);
    } finally {
      await grader.close();
    }
    await second.start(); // for the doctor below
  }, 120_000);

  it('`ttsd sandbox doctor --docker-hosts` reports every host', async () => {
    const { stdout, exitCode } = await execa('node', ['bin/ttsd.js', 'sandbox', 'doctor', '--docker-hosts', `${MAIN},${second.tcpEndpoint}=3`], {
      reject: false,
      env: { ...process.env, DOCKER_CERT_PATH: second.certPath },
    });
    expect(stdout).not.toMatch(/MISSING/);
    for (const host of [MAIN, `${second.tcpEndpoint}`]) {
      const section = stdout.split(`host     ${host}\n`)[1]?.split('host     ')[0] ?? '';
      expect(section, host).toMatch(/^ok {7}Docker engine running: [\d.]+\S*, \d+ CPUs/m);
      expect(section, host).toMatch(/^ok {7}sandbox image .* \(current\)$/m);
      expect(section, host).toMatch(/^ok {7}hardening: .*\(all hold\)$/m);
      expect(section, host).toMatch(/^ok {7}a program that never ends is stopped at the time limit/m);
    }
    expect(exitCode).toBe(0);
  }, 120_000);

  it('`ttsd sandbox build --docker-hosts` builds the image on that host from the offline rootfs', async () => {
    await second.docker.getImage(defaultImage()).remove({ force: true }).catch(() => {});
    expect((await imageState(second.docker, defaultImage())).state).toBe('missing');
    const { stdout, exitCode } = await execa('node', ['bin/ttsd.js', 'sandbox', 'build', '--docker-hosts', second.endpoint], { reject: false, all: true });
    expect(exitCode, stdout).toBe(0);
    expect(stdout).toMatch(/setup-docker: docker build ttsd-sandbox-python:g[0-9a-f]{12} FROM /);
    expect((await imageState(second.docker, defaultImage())).state).toBe('current');
    // The local engine was left as it was: only the second one was built on.
    expect((await imageState(connect(), defaultImage())).state).toBe('current');
  }, 180_000);
});
