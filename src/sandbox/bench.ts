/**
 * `ttsd bench sandbox`: the cost of the sandbox, measured side by side in one run. The same
 * grading job (the same grader program, the same solution and tests) runs through bare
 * `python3` on the host and through DockerGrader; then attempts/second at concurrency 1 and 2.
 */
import os from 'node:os';
import { execa } from 'execa';
import { UserError } from '../errors.js';
import type { Task } from '../tasks/types.js';
import { DockerGrader } from './docker-grader.js';
import { SANDBOX_DIR } from './engine.js';
import { parseHost } from './hosts.js';
import { EventReader, newNonce, type GraderJob } from './protocol.js';

export interface SandboxBench {
  sandbox_ms_median: number;
  bare_ms_median: number;
  overhead_ms: number;
  attempts_per_s_c1: number;
  attempts_per_s_c2: number;
  runs: number;
  throughput_attempts: number;
  tests_per_attempt: number;
  all_accepted: boolean;
  /** Context for the figures: the machine's load while they were measured. */
  cores: number;
  load_avg_1m_before: number;
  load_avg_1m_after: number;
}

const BENCH_TASK: Task = {
  id: 'bench-sum',
  title: 'Sum of a list',
  content: 'Print the sum of the numbers.',
  platform: 'ttsd',
  contestId: 'bench',
  contestDate: '2025-01-01T00:00:00',
  difficulty: 'easy',
  starterCode: '',
  publicTests: [1, 2, 3].map((n) => ({
    input: `${n}\n${Array.from({ length: n * 10 }, (_, i) => i).join(' ')}\n`,
    output: `${(n * 10 * (n * 10 - 1)) / 2}\n`,
    testtype: 'stdin' as const,
  })),
  privateTests: [],
  metadata: {},
};
const BENCH_CODE = 'n = int(input())\nprint(sum(map(int, input().split())))\n';

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

async function bareAttemptMs(): Promise<{ ms: number; accepted: boolean }> {
  const job: GraderJob = {
    nonce: newNonce(),
    code: BENCH_CODE,
    func_name: null,
    tests: BENCH_TASK.publicTests.map(({ input, output }) => ({ input, output })),
    timeout: 6,
    feedback_cases: 2,
    extra_seconds: 2,
  };
  const started = performance.now();
  const { stdout, failed, exitCode } = await execa('python3', [`${SANDBOX_DIR}grader.py`], { input: JSON.stringify(job), reject: false });
  if (failed && exitCode === undefined) throw new UserError('the bench needs python3 on the host (apt-get install python3)');
  const ms = performance.now() - started;
  const result = new EventReader(job.nonce).push(stdout + '\n').find((e) => e.t === 'result');
  return { ms, accepted: result?.t === 'result' && result.kind === 'accepted' };
}

async function throughput(concurrency: number, attempts: number): Promise<{ perSecond: number; accepted: boolean }> {
  const grader = await DockerGrader.create({ concurrency });
  try {
    const started = performance.now();
    const results = await Promise.all(Array.from({ length: attempts }, () => grader.grade(BENCH_TASK, { code: BENCH_CODE })));
    const seconds = (performance.now() - started) / 1000;
    return { perSecond: attempts / seconds, accepted: results.every((r) => r.verdict === 'accepted') };
  } finally {
    await grader.close();
  }
}

export async function benchSandbox(runs = 10, throughputAttempts = 12): Promise<SandboxBench> {
  const loadBefore = os.loadavg()[0];
  const grader = await DockerGrader.create({ concurrency: 1 });
  const sandboxMs: number[] = [];
  const bareMs: number[] = [];
  let allAccepted = true;
  try {
    await grader.grade(BENCH_TASK, { code: BENCH_CODE }); // warm-up: first container start is slower
    await bareAttemptMs();
    // Interleaved, so that background load hits both sides alike.
    for (let i = 0; i < runs; i++) {
      const started = performance.now();
      const result = await grader.grade(BENCH_TASK, { code: BENCH_CODE });
      sandboxMs.push(performance.now() - started);
      const bare = await bareAttemptMs();
      bareMs.push(bare.ms);
      allAccepted &&= result.verdict === 'accepted' && bare.accepted;
    }
  } finally {
    await grader.close();
  }
  const c1 = await throughput(1, throughputAttempts);
  const c2 = await throughput(2, throughputAttempts);
  const round = (x: number, digits = 1) => Number(x.toFixed(digits));
  return {
    sandbox_ms_median: round(median(sandboxMs)),
    bare_ms_median: round(median(bareMs)),
    overhead_ms: round(median(sandboxMs) - median(bareMs)),
    attempts_per_s_c1: round(c1.perSecond, 2),
    attempts_per_s_c2: round(c2.perSecond, 2),
    runs,
    throughput_attempts: throughputAttempts,
    tests_per_attempt: BENCH_TASK.publicTests.length,
    all_accepted: allAccepted && c1.accepted && c2.accepted,
    cores: os.availableParallelism(),
    load_avg_1m_before: round(loadBefore, 2),
    load_avg_1m_after: round(os.loadavg()[0], 2),
  };
}

export interface HostsBench {
  hosts: string[];
  /** Slots per host; the one-host side gets their sum on the first host. */
  slots: number[];
  attempts: number;
  attempts_per_s_first_host: number;
  attempts_per_s_all_hosts: number;
  all_accepted: boolean;
  cores: number;
  load_avg_1m_before: number;
  load_avg_1m_after: number;
}

/**
 * `ttsd bench sandbox --docker-hosts A,B,...`: attempts/s spread over the hosts vs the same
 * number of slots on the first host alone, in A-B-B-A order (each side averaged) so drift in
 * the machine's load hits both alike.
 */
export async function benchHosts(hosts: string[], attempts: number): Promise<HostsBench> {
  const loadBefore = os.loadavg()[0];
  const all = await DockerGrader.create({ hosts, log: () => {} });
  const slots = all.hostStats().map((h) => h.slots);
  const first = await DockerGrader.create({ hosts: [{ ...parseHost(hosts[0]), concurrency: slots.reduce((a, b) => a + b, 0) }], log: () => {} });
  let accepted = true;
  const rate = async (grader: DockerGrader) => {
    const started = performance.now();
    const results = await Promise.all(Array.from({ length: attempts }, () => grader.grade(BENCH_TASK, { code: BENCH_CODE })));
    accepted &&= results.every((r) => r.verdict === 'accepted');
    return attempts / ((performance.now() - started) / 1000);
  };
  try {
    await rate(all); // warm-up: the first container start on each host is slower
    const a1 = await rate(first);
    const b1 = await rate(all);
    const b2 = await rate(all);
    const a2 = await rate(first);
    const round = (x: number, digits = 2) => Number(x.toFixed(digits));
    return {
      hosts,
      slots,
      attempts,
      attempts_per_s_first_host: round((a1 + a2) / 2),
      attempts_per_s_all_hosts: round((b1 + b2) / 2),
      all_accepted: accepted,
      cores: os.availableParallelism(),
      load_avg_1m_before: round(loadBefore),
      load_avg_1m_after: round(os.loadavg()[0]),
    };
  } finally {
    await Promise.all([all.close(), first.close()]);
  }
}
