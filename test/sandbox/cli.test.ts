// `ttsd grade`, `ttsd sandbox doctor` and the Docker-down message, as a user runs them. ~10–20 s.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { cacheDir } from '../../src/llama/source.js';

const ttsd = (args: string[], env: Record<string, string> = {}) =>
  execa('node', ['bin/ttsd.js', ...args], { reject: false, env: { ...process.env, ...env } });
const PROBLEMS = 'test/tasks/fixtures/lcb-sample-problems.jsonl';
const GENERATIONS = 'test/sandbox/fixtures/lcb-generations';

describe('ttsd grade', () => {
  it('grades a shipped task’s reference solution: one JSON object', async () => {
    const { stdout, exitCode } = await ttsd(['grade', '--tasks', 'tasks', '--id', 'ttsd-01', '--solution', 'tasks/solutions/ttsd-01.py', '--json']);
    expect(exitCode).toBe(0);
    const result = JSON.parse(stdout);
    expect(Object.keys(result)).toEqual(['verdict', 'passed', 'total', 'lcb', 'feedback', 'timing_ms']);
    expect(result.verdict).toBe('accepted');
    expect(result.passed).toBe(result.total);
  });

  it('grades a real LCB generation from a release file, with a readable summary', async () => {
    const { stdout, exitCode } = await ttsd([
      'grade',
      '--tasks',
      PROBLEMS,
      '--id',
      '2833',
      '--solution',
      `${GENERATIONS}/2833/02.py`,
      '--tests',
      'public',
    ]);
    expect(exitCode).toBe(0);
    expect(stdout).toMatch(/^2833: wrong_answer \(0\/2 tests passed, \d+ ms\)\n\nTest Case 1: Wrong Answer\nInput\n/);
  });

  it('accepts a correct program that reads sys.stdin.buffer.read().split(), as LCB does', async () => {
    const dir = mkdtempSync(join(os.tmpdir(), 'ttsd-grade-'));
    const solution = join(dir, 'buffer.py');
    // 1873_A (Short Sort): YES unless all three letters are out of place.
    writeFileSync(
      solution,
      'import sys\ndata = sys.stdin.buffer.read().split()\nt = int(data[0])\n' +
        'print("\\n".join("NO" if all(a != b for a, b in zip(s.decode(), "abc")) else "YES" for s in data[1 : 1 + t]))\n',
    );
    const { stdout, exitCode } = await ttsd(['grade', '--tasks', PROBLEMS, '--id', '1873_A', '--solution', solution, '--json']);
    expect(exitCode).toBe(0);
    const result = JSON.parse(stdout);
    expect(result.verdict).toBe('accepted');
    expect(result.passed).toBe(result.total);
  });

  it('grades the last code block of a whole model response; refuses ambiguous input', async () => {
    const dir = mkdtempSync(join(os.tmpdir(), 'ttsd-grade-'));
    const response = join(dir, 'response.md');
    writeFileSync(response, 'First try:\n```python\nprint(0)\n```\nFixed:\n```python\n' + readFileSync('tasks/solutions/ttsd-01.py', 'utf8') + '\n```\n');
    const graded = await ttsd(['grade', '--tasks', 'tasks', '--id', 'ttsd-01', '--response', response, '--json']);
    expect(JSON.parse(graded.stdout).verdict).toBe('accepted');
    const both = await ttsd(['grade', '--tasks', 'tasks', '--id', 'ttsd-01', '--response', response, '--solution', response]);
    expect(both.exitCode).toBe(2);
    expect(both.stderr).toBe('ttsd: give exactly one of --solution FILE.py or --response FILE');
  });

  it('Docker not running: one clear line, non-zero exit', async () => {
    const { stderr, exitCode } = await ttsd(
      ['grade', '--tasks', 'tasks', '--id', 'ttsd-01', '--solution', 'tasks/solutions/ttsd-01.py'],
      { TTSD_DOCKER_SOCKET: '/nonexistent/docker.sock' },
    );
    expect(exitCode).toBe(2);
    expect(stderr.trim().split('\n')).toHaveLength(1);
    expect(stderr).toMatch(/^ttsd: Docker is not running .*bash scripts\/setup-docker\.sh/);
  });
});

describe('ttsd sandbox build', () => {
  it('leaves the setup lock free once setup is done (the daemon it started must not inherit it)', async () => {
    const lock = join(cacheDir(), 'sandbox', '.setup.lock');
    const { exitCode } = await execa('flock', ['-n', lock, 'true'], { reject: false });
    expect(exitCode, `${lock} is held by another process`).toBe(0);
  });

  it('is a no-op when engine and image are current (setup-docker.sh skips finished work)', async () => {
    const { stdout, exitCode } = await ttsd(['sandbox', 'build']);
    expect(exitCode).toBe(0);
    expect(stdout).toMatch(/setup-docker: image ttsd-sandbox-python:g[0-9a-f]{12} is current/);
  });
});

describe('ttsd sandbox doctor', () => {
  it('reports everything ok on a set-up machine', async () => {
    const { stdout, exitCode } = await ttsd(['sandbox', 'doctor']);
    expect(stdout).not.toMatch(/MISSING/);
    expect(stdout).toMatch(/ok {7}a sample program grades as accepted/);
    expect(exitCode).toBe(0);
  });

  it('says what is missing and how to fix it', async () => {
    const { stdout, exitCode } = await ttsd(['sandbox', 'doctor'], { TTSD_DOCKER_SOCKET: '/nonexistent/docker.sock' });
    expect(stdout).toMatch(/MISSING  Docker engine running\n {9}fix: bash scripts\/setup-docker\.sh/);
    expect(exitCode).toBe(1);
  });
});

describe('ttsd bench sandbox', () => {
  it('prints one JSON object with the side-by-side figures (values are not judged here)', async () => {
    const { stdout, exitCode } = await ttsd(['bench', 'sandbox', '--json', '--runs', '1', '--attempts', '2']);
    expect(exitCode).toBe(0);
    const bench = JSON.parse(stdout);
    for (const key of ['sandbox_ms_median', 'bare_ms_median', 'overhead_ms', 'attempts_per_s_c1', 'attempts_per_s_c2']) {
      expect(typeof bench[key], key).toBe('number');
    }
    expect(bench.overhead_ms).toBeCloseTo(bench.sandbox_ms_median - bench.bare_ms_median, 0);
    expect(bench.all_accepted).toBe(true);
  });
});
