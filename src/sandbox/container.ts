/**
 * One grading job in one fresh, locked-down container: create (labelled), attach before start,
 * send the job on stdin, read framed events from stdout, kill on a watchdog that the grader's
 * events re-arm per test, inspect (to tell OOM from timeout), remove. Never hangs: when the
 * daemon stops answering, the run fails with a UserError.
 */
import os from 'node:os';
import { PassThrough } from 'node:stream';
import type Docker from 'dockerode';
import { UserError } from '../errors.js';
import { EventReader, type GraderJob, type GraderResult } from './protocol.js';

export const SANDBOX_LABEL = 'ttsd.sandbox';
export const OWNER_PID_LABEL = 'ttsd.sandbox.pid';
export const OWNER_HOST_LABEL = 'ttsd.sandbox.host';

export interface SandboxLimits {
  memoryMb: number; // memory = memory+swap: no swap
  pids: number;
  cpus: number;
  tmpfsMb: number;
  fileSizeMb: number;
  openFiles: number;
  /** Time allowed from start until the grader reports in (container start + Python start). */
  startupMs: number;
  /** Slack over the grader's own per-test alarm before the host kills the container. */
  graceMs: number;
}

export const DEFAULT_LIMITS: SandboxLimits = {
  memoryMb: 1024, // LCB sets no memory limit of its own; large private tests arrive as one JSON job
  pids: 64,
  cpus: 1,
  tmpfsMb: 16,
  fileSizeMb: 16,
  openFiles: 256,
  startupMs: 15_000,
  graceMs: 2_000,
};

const STDOUT_CAP = 4 << 20; // events only; the solution's own fds 1/2 are /dev/null
const STDERR_CAP = 16 << 10;

export interface ContainerRun {
  result: GraderResult | null;
  /** Index of the last test the grader started (-1: none yet). */
  lastStarted: number;
  /** Killed by the host's watchdog / wall clock. */
  timedOut: boolean;
  oomKilled: boolean;
  exitCode: number | null;
  stderr: string;
  ms: number;
}

export function containerOptions(image: string, limits: SandboxLimits): Docker.ContainerCreateOptions {
  const mib = 1024 * 1024;
  return {
    Image: image,
    Cmd: ['python3', '/opt/ttsd/grader.py'],
    User: '65534:65534',
    WorkingDir: '/tmp',
    Labels: {
      [SANDBOX_LABEL]: '1',
      [OWNER_PID_LABEL]: String(process.pid),
      [OWNER_HOST_LABEL]: os.hostname(),
    },
    OpenStdin: true,
    StdinOnce: true,
    AttachStdin: true,
    AttachStdout: true,
    AttachStderr: true,
    Tty: false,
    NetworkDisabled: true,
    HostConfig: {
      NetworkMode: 'none',
      Memory: limits.memoryMb * mib,
      MemorySwap: limits.memoryMb * mib,
      PidsLimit: limits.pids,
      NanoCpus: Math.round(limits.cpus * 1e9),
      ReadonlyRootfs: true,
      Tmpfs: { '/tmp': `rw,nosuid,nodev,size=${limits.tmpfsMb}m` },
      ShmSize: 16 * mib,
      CapDrop: ['ALL'],
      SecurityOpt: ['no-new-privileges'],
      Ulimits: [
        { Name: 'nofile', Soft: limits.openFiles, Hard: limits.openFiles },
        { Name: 'fsize', Soft: limits.fileSizeMb * mib, Hard: limits.fileSizeMb * mib },
      ],
      LogConfig: { Type: 'none', Config: {} },
      AutoRemove: false, // removed explicitly: AutoRemove races with wait/inspect
    },
  };
}

export async function pingWithin(docker: Docker, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      docker.ping(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer to a ping within ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

function daemonLost(error: unknown): UserError {
  const detail = error instanceof Error ? error.message : String(error);
  return new UserError(`Docker failed while grading (${detail}); is it still running? (bash scripts/setup-docker.sh)`);
}

/**
 * Runs the job; `perTestMs` is the grader's own per-test limit, `wallMs` the cap for the whole
 * attempt. Resolves with whatever happened; rejects only when Docker itself fails.
 */
export async function runJob(
  docker: Docker,
  image: string,
  limits: SandboxLimits,
  job: GraderJob,
  wallMs: number,
  /** Receives the container's removal instead of awaiting it (frees a concurrency slot sooner). */
  deferRemoval?: (removal: Promise<void>) => void,
): Promise<ContainerRun> {
  const started = performance.now();
  let container: Docker.Container;
  try {
    container = await docker.createContainer(containerOptions(image, limits));
  } catch (error) {
    throw daemonLost(error);
  }
  const reader = new EventReader(job.nonce);
  let result: GraderResult | null = null;
  let lastStarted = -1;
  let timedOut = false;
  let stdoutBytes = 0;
  let stderr = '';
  const timers: NodeJS.Timeout[] = [];
  let watchdog: NodeJS.Timeout | undefined;
  const kill = () => {
    timedOut = true;
    container.kill({ signal: 'SIGKILL' }).catch(() => {});
  };
  const rearm = (ms: number) => {
    clearTimeout(watchdog);
    watchdog = setTimeout(kill, ms);
  };

  try {
    const stream = await container.attach({ stream: true, hijack: true, stdin: true, stdout: true, stderr: true });
    stream.on('error', () => {}); // EPIPE when the program dies before reading its stdin
    const out = new PassThrough();
    const err = new PassThrough();
    container.modem.demuxStream(stream, out, err);
    out.on('data', (chunk: Buffer) => {
      if (stdoutBytes > STDOUT_CAP) return; // keep draining so the program never blocks on a full pipe
      stdoutBytes += chunk.length;
      for (const event of reader.push(chunk.toString('latin1'))) {
        if (event.t === 'start') {
          lastStarted = event.i;
          rearm(job.timeout * 1000 + limits.graceMs);
        } else if (event.t === 'compile') {
          rearm(job.timeout * 1000 + limits.graceMs);
        } else if (event.t === 'result') {
          result = event; // the latest one: a final result supersedes a provisional one
          if (event.final) rearm(limits.graceMs); // the grader exits right after it
        }
      }
    });
    err.on('data', (chunk: Buffer) => {
      if (stderr.length < STDERR_CAP) stderr += chunk.toString('utf8').slice(0, STDERR_CAP - stderr.length);
    });
    const streamEnded = new Promise<void>((resolve) => {
      stream.on('end', resolve);
      stream.on('close', resolve);
    });
    // After start() the default wait condition would be fine too; 'next-exit' is safe either way.
    const exited = container.wait({ condition: 'next-exit' });
    exited.catch(() => {});
    await container.start();
    rearm(limits.startupMs);
    timers.push(setTimeout(kill, wallMs));
    stream.end(JSON.stringify(job));

    // If the daemon stops answering, neither the kill nor the wait ever completes: give up
    // a while after the wall clock instead of hanging.
    let giveUp: NodeJS.Timeout | undefined;
    let exitSeen = false;
    const unresponsive = new Promise<never>((_, reject) => {
      giveUp = setTimeout(() => reject(new Error('no exit reported within the wall clock')), wallMs + 15_000);
      // The attach stream also ends when the connection to the daemon drops, and then the
      // long-polling wait may never return: if no exit follows soon, ask the daemon directly.
      void streamEnded.then(() => {
        const check = setTimeout(() => {
          if (exitSeen) return;
          pingWithin(docker, 10_000).catch((error) => reject(error));
        }, 2_000);
        timers.push(check);
      });
    });
    unresponsive.catch(() => {});
    timers.push(giveUp!);
    const status = (await Promise.race([exited, unresponsive])) as { StatusCode?: number };
    exitSeen = true;
    clearTimeout(watchdog);
    // Let the last frames through the demuxer (they are in flight when the exit is reported).
    await Promise.race([streamEnded, new Promise((resolve) => setTimeout(resolve, 500))]);
    // OOM or not only matters when the grader could not report (saves a round trip otherwise).
    const oomKilled = result === null ? Boolean((await container.inspect()).State?.OOMKilled) : false;
    return {
      result,
      lastStarted,
      timedOut: timedOut && result === null,
      oomKilled,
      exitCode: typeof status?.StatusCode === 'number' ? status.StatusCode : null,
      stderr,
      ms: performance.now() - started,
    };
  } catch (error) {
    throw error instanceof UserError ? error : daemonLost(error);
  } finally {
    clearTimeout(watchdog);
    for (const timer of timers) clearTimeout(timer);
    const removal = container.remove({ force: true }).then(
      () => {},
      () => {},
    );
    if (deferRemoval) deferRemoval(removal);
    else await removal;
  }
}
