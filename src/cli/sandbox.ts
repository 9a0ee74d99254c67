/** `ttsd sandbox build|doctor`, `ttsd grade`, `ttsd bench sandbox`. */
import { readFile } from 'node:fs/promises';
import { Command, Option } from 'commander';
import { execa } from 'execa';
import { UserError } from '../errors.js';
import { submissionFromResponse } from '../feedback/extract.js';
import { benchSandbox } from '../sandbox/bench.js';
import { DockerGrader } from '../sandbox/docker-grader.js';
import { checkDaemon, connect, defaultImage, imageState, SETUP_SCRIPT } from '../sandbox/engine.js';
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
    .action(async (flags: { force?: boolean; registry?: boolean }) => {
      const args = [SETUP_SCRIPT, ...(flags.force ? ['--force'] : []), ...(flags.registry ? ['--registry'] : [])];
      const { exitCode } = await execa('bash', args, { stdio: 'inherit', reject: false });
      if (exitCode !== 0) throw new UserError(`sandbox build failed (exit ${exitCode}); see the lines above`);
    });

  sandbox
    .command('doctor')
    .description('check everything the sandbox needs and say how to fix what is missing')
    .action(async () => {
      const problems = await doctor();
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
    .option('--json', 'print one JSON object')
    .action(async (flags: { runs: string; attempts: string; json?: boolean }) => {
      const result = await benchSandbox(positiveInt(flags.runs, '--runs'), positiveInt(flags.attempts, '--attempts'));
      if (flags.json) process.stdout.write(JSON.stringify(result) + '\n');
      else for (const [key, value] of Object.entries(result)) process.stdout.write(`${key.padEnd(20)} ${value}\n`);
    });
}

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

async function doctor(): Promise<number> {
  let problems = 0;
  const report = (ok: boolean, what: string, fix: string) => {
    if (!ok) problems++;
    process.stdout.write(ok ? `ok       ${what}\n` : `MISSING  ${what}\n         fix: ${fix}\n`);
  };
  const has = async (cmd: string) => (await execa('sh', ['-c', `command -v ${cmd}`], { reject: false })).exitCode === 0;
  report(await has('docker'), 'docker CLI', 'apt-get install docker.io (or bash scripts/setup-docker.sh as root)');
  report(await has('dockerd'), 'Docker engine (dockerd)', 'apt-get install docker.io (or bash scripts/setup-docker.sh as root)');
  report(await has('mmdebstrap'), 'mmdebstrap (offline image build)', 'apt-get install mmdebstrap, or build with `ttsd sandbox build --registry`');
  const docker = connect();
  const running = await checkDaemon(docker).then(
    () => true,
    () => false,
  );
  report(running, 'Docker engine running', 'bash scripts/setup-docker.sh');
  if (!running) return problems;
  const imageName = defaultImage();
  const image = await imageState(docker, imageName);
  report(image.state === 'current', `sandbox image ${imageName} (${image.state})`, 'ttsd sandbox build');
  if (image.state !== 'current') return problems;
  const grader = await DockerGrader.create({ concurrency: 1 });
  try {
    const task = {
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
    const result = await grader.grade(task, { code: 'a, b = map(int, input().split())\nprint(a + b)' });
    report(result.verdict === 'accepted', `a sample program grades as accepted (${result.verdict}, ${result.timingMs} ms)`, 'ttsd sandbox build --force');
  } finally {
    await grader.close();
  }
  return problems;
}
