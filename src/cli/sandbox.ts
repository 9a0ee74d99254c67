/** `ttsd sandbox build|doctor`, `ttsd grade`, `ttsd bench sandbox`. */
import { readFile } from 'node:fs/promises';
import { Command, Option } from 'commander';
import { execa } from 'execa';
import { UserError } from '../errors.js';
import { submissionFromResponse } from '../feedback/extract.js';
import { benchHosts, benchSandbox } from '../sandbox/bench.js';
import { DockerGrader } from '../sandbox/docker-grader.js';
import { checkDaemon, defaultImage, hostFacts, imageState, SETUP_SCRIPT } from '../sandbox/engine.js';
import { hardeningProbe } from '../sandbox/hardening.js';
import { localHost, openEndpoint, parseHosts, type Endpoint, type HostSpec } from '../sandbox/hosts.js';
import type { GradeResult, Submission } from '../sandbox/types.js';
import { loadTask } from '../tasks/index.js';
import type { TestSelection } from '../tasks/types.js';

export function registerSandboxCommands(program: Command, bench: Command): void {
  const sandbox = program.command('sandbox').description('the Docker sandbox that grades programs');

  sandbox
    .command('build')
    .description('start the Docker engine if needed and build the sandbox image (offline by default)')
    .option('--force', 'rebuild the image even when it is current')
    .option('--registry', 'build FROM debian:bookworm-slim through a registry instead of an offline rootfs')
    .option('--docker-hosts <list>', 'build on these Docker hosts instead of the local engine (the rootfs is made here)')
    .action(async (flags: { force?: boolean; registry?: boolean; dockerHosts?: string }) => {
      const args = [SETUP_SCRIPT, ...(flags.force ? ['--force'] : []), ...(flags.registry ? ['--registry'] : [])];
      if (flags.dockerHosts === undefined) {
        const { exitCode } = await execa('bash', args, { stdio: 'inherit', reject: false });
        if (exitCode !== 0) throw new UserError(`sandbox build failed (exit ${exitCode}); see the lines above`);
        return;
      }
      const hosts = parseHosts(splitList(flags.dockerHosts));
      if (hosts.length === 0) throw new UserError('--docker-hosts lists no host');
      for (const spec of hosts) {
        const endpoint = await openEndpoint(spec);
        try {
          // The docker CLI reaches the host as ttsd does (tcp: TLS from DOCKER_CERT_PATH; ssh: through the tunnel).
          const env = { DOCKER_HOST: endpoint.dockerHost, ...(spec.kind === 'tcp' && { DOCKER_TLS_VERIFY: '1' }) };
          const { exitCode } = await execa('bash', args, { stdio: 'inherit', reject: false, env });
          if (exitCode !== 0) throw new UserError(`sandbox build on ${spec.endpoint} failed (exit ${exitCode}); see the lines above`);
        } finally {
          await endpoint.close();
        }
      }
    });

  sandbox
    .command('doctor')
    .description('check everything the sandbox needs on every Docker host and say how to fix what is missing')
    .option('--docker-hosts <list>', 'comma-separated endpoints to check (unix:///path, tcp://host:port with DOCKER_CERT_PATH, ssh://user@host; =N ignored); default: the local engine')
    .action(async (flags: { dockerHosts?: string }) => {
      const hosts = flags.dockerHosts === undefined ? null : parseHosts(splitList(flags.dockerHosts));
      if (hosts !== null && hosts.length === 0) throw new UserError('--docker-hosts lists no host');
      const problems = await doctor(hosts);
      if (problems > 0) throw new UserError(`${problems} problem(s) found`, 1);
    });

  program
    .command('grade')
    .description('grade one program against one task in the sandbox')
    .option('--tasks <path>', 'task .jsonl file or directory, LCB release files too (default: the shipped tasks/)')
    .requiredOption('--id <question_id>', 'the task')
    .option('--solution <file.py>', 'the program to grade')
    .option('--response <file>', 'a whole model response: its last fenced code block is graded')
    .addOption(new Option('--tests <which>', 'which tests').choices(['public', 'private', 'all']).default('all'))
    .option('--timeout <seconds>', 'per-test time limit', '6')
    .option('--json', 'print one JSON object')
    .action(async (flags: { tasks?: string; id: string; solution?: string; response?: string; tests: TestSelection; timeout: string; json?: boolean }) => {
      if (Boolean(flags.solution) === Boolean(flags.response)) throw new UserError('give exactly one of --solution FILE.py or --response FILE');
      const timeoutSeconds = Number(flags.timeout);
      if (!(timeoutSeconds > 0)) throw new UserError(`--timeout must be a positive number of seconds, got ${flags.timeout}`);
      const task = await loadTask(flags.id, flags.tasks);
      const submission = await readSubmission(flags.solution, flags.response);
      const grader = await DockerGrader.create();
      try {
        const result = await grader.grade(task, submission, { tests: flags.tests, timeoutSeconds });
        process.stdout.write(flags.json ? JSON.stringify(gradeJson(result)) + '\n' : summary(task.id, result));
      } finally {
        await grader.close();
      }
    });

  bench
    .command('sandbox')
    .description('sandbox latency vs bare python3, and attempts/s at concurrency 1 and 2')
    .option('--runs <n>', 'latency samples per side', '10')
    .option('--attempts <n>', 'attempts per throughput measurement', '12')
    .option('--docker-hosts <list>', 'instead: attempts/s spread over these Docker hosts vs the same slots on the first one alone')
    .option('--json', 'print one JSON object')
    .action(async (flags: { runs: string; attempts: string; dockerHosts?: string; json?: boolean }) => {
      const hosts = flags.dockerHosts === undefined ? null : splitList(flags.dockerHosts);
      if (hosts !== null) parseHosts(hosts);
      const result = hosts
        ? await benchHosts(hosts, positiveInt(flags.attempts, '--attempts'))
        : await benchSandbox(positiveInt(flags.runs, '--runs'), positiveInt(flags.attempts, '--attempts'));
      if (flags.json) process.stdout.write(JSON.stringify(result) + '\n');
      else for (const [key, value] of Object.entries(result)) process.stdout.write(`${key.padEnd(20)} ${value}\n`);
    });
}

const splitList = (text: string) =>
  text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');

function positiveInt(text: string, name: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new UserError(`${name} must be a positive integer, got ${text}`);
  return n;
}

async function readText(path: string): Promise<string> {
  return readFile(path, 'utf8').catch(() => {
    throw new UserError(`cannot read ${path}`);
  });
}

async function readSubmission(solution?: string, response?: string): Promise<Submission> {
  if (solution) return { code: await readText(solution) };
  return submissionFromResponse(await readText(response!), 'stop');
}

/** The `--json` shape: snake_case timing as the CLI contract says. */
export function gradeJson(result: GradeResult) {
  return {
    verdict: result.verdict,
    passed: result.passed,
    total: result.total,
    lcb: result.lcb,
    feedback: result.feedback,
    timing_ms: result.timingMs,
  };
}

function summary(id: string, result: GradeResult): string {
  const lines = [`${id}: ${result.verdict} (${result.passed}/${result.total} tests passed, ${result.timingMs} ms)`];
  if (result.feedback) lines.push('', result.feedback);
  return lines.join('\n') + '\n';
}

async function doctor(hosts: HostSpec[] | null): Promise<number> {
  let problems = 0;
  const report = (ok: boolean, what: string, fix: string) => {
    if (!ok) problems++;
    process.stdout.write(ok ? `ok       ${what}\n` : `MISSING  ${what}\n         fix: ${fix}\n`);
  };
  const has = async (cmd: string) => (await execa('sh', ['-c', `command -v ${cmd}`], { reject: false })).exitCode === 0;
  report(await has('docker'), 'docker CLI', 'apt-get install docker.io (or bash scripts/setup-docker.sh as root)');
  if (hosts === null) {
    // The local engine: it can be installed and built here.
    report(await has('dockerd'), 'Docker engine (dockerd)', 'apt-get install docker.io (or bash scripts/setup-docker.sh as root)');
    report(await has('mmdebstrap'), 'mmdebstrap (offline image build)', 'apt-get install mmdebstrap, or build with `ttsd sandbox build --registry`');
  }
  if (hosts?.some((h) => h.kind === 'ssh')) report(await has('ssh'), 'ssh client (ssh:// hosts)', 'apt-get install openssh-client');
  for (const spec of hosts ?? [localHost()]) {
    if (hosts !== null) process.stdout.write(`host     ${spec.endpoint}\n`);
    await doctorHost(spec, report);
  }
  return problems;
}

/** One host: reachable (version, CPUs), the image, the hardening probe, a sample grade, the time limit. */
async function doctorHost(spec: HostSpec, report: (ok: boolean, what: string, fix: string) => void): Promise<void> {
  let endpoint: Endpoint;
  try {
    endpoint = await openEndpoint(spec);
  } catch (error) {
    report(false, `${spec.endpoint} reachable (${(error as Error).message})`, spec.kind === 'ssh' ? 'check `ssh` to the host works without a password prompt' : 'check the endpoint and DOCKER_CERT_PATH');
    return;
  }
  try {
    const docker = endpoint.docker;
    const running = await checkDaemon(docker, spec.endpoint).then(
      () => null,
      (error: Error) => error.message,
    );
    if (running !== null) {
      report(false, spec.kind === 'unix' && spec.socketPath === localHost().socketPath ? 'Docker engine running' : `${spec.endpoint} reachable (${running})`, spec.kind === 'unix' ? 'bash scripts/setup-docker.sh' : 'start Docker on that host');
      return;
    }
    const facts = await hostFacts(docker);
    report(true, `Docker engine running: ${facts.version}, ${facts.cpus} CPUs, ${facts.driver}${spec.concurrency ? `, concurrency ${spec.concurrency}` : ''}`, '');
    const imageName = defaultImage();
    const image = await imageState(docker, imageName);
    report(
      image.state === 'current',
      `sandbox image ${imageName} (${image.state})`,
      spec.kind === 'unix' ? 'ttsd sandbox build' : 'a run with --docker-hosts loads it from a host that has it (docker save | docker load); or build it there',
    );
    if (image.state !== 'current') return;
    const grader = await DockerGrader.create({ hosts: [{ ...spec, concurrency: 1 }], log: () => {} });
    try {
      const probe = hardeningProbe(grader.limits);
      const hardened = await grader.grade(probe.task, { code: probe.code });
      report(
        hardened.verdict === 'accepted',
        `hardening: non-root, no capabilities, no-new-privileges, no network, read-only root, /tmp, memory/pids/cpu/file limits (${hardened.verdict === 'accepted' ? 'all hold' : (hardened.lcb.output ?? hardened.verdict)})`,
        'this engine ignores container limits: check its cgroup setup (docker info warnings)',
      );
      const sum = await grader.grade(SAMPLE_TASK, { code: 'a, b = map(int, input().split())\nprint(a + b)' });
      report(sum.verdict === 'accepted', `a sample program grades as accepted (${sum.verdict}, ${sum.timingMs} ms)`, 'ttsd sandbox build --force');
      const endless = await grader.grade(SAMPLE_TASK, { code: 'while True:\n    pass\n' }, { timeoutSeconds: 1 });
      report(endless.verdict === 'time_limit', `a program that never ends is stopped at the time limit (${endless.verdict})`, 'ttsd sandbox build --force');
    } finally {
      await grader.close();
    }
  } finally {
    await endpoint.close();
  }
}

const SAMPLE_TASK = {
  id: 'doctor',
  title: 'doctor',
  content: '',
  platform: 'ttsd',
  contestId: '',
  contestDate: '',
  difficulty: 'easy' as const,
  starterCode: '',
  publicTests: [{ input: '2 3\n', output: '5\n', testtype: 'stdin' as const }],
  privateTests: [],
  metadata: {},
};
