/**
 * The real Grader: every attempt runs all its selected tests inside one fresh container
 * (see container.ts), on one or more Docker hosts (hosts.ts), at most each host's concurrency
 * containers at a time on it. An attempt goes to the up host with the most free slots. When a
 * host stops answering mid-run it is taken out and the attempts that were in flight on it are
 * queued again (first in line) for the other hosts: each grade() still resolves exactly once.
 * Down hosts are pinged periodically and used again once they answer. When every host is down,
 * waiting attempts wait (with a progress line) up to a bound, then fail with one line.
 */
import os from 'node:os';
import type Docker from 'dockerode';
import { UserError } from '../errors.js';
import type { Task, TestCase, TestSelection } from '../tasks/types.js';
import { DEFAULT_LIMITS, pingWithin, runJob, type ContainerRun, type SandboxLimits } from './container.js';
import { checkDaemon, checkImage, connect, copyImage, defaultImage, imageState, ownContainers, sweepOrphans } from './engine.js';
import { localHost, openEndpoint, parseHost, type Endpoint, type EndpointOptions, type HostSpec } from './hosts.js';
import { newNonce, type GraderJob } from './protocol.js';
import type { GradeOptions, GradeResult, Grader, Submission } from './types.js';
import { formatErrorResult, gradeResultFrom } from './verdict.js';

/** LiveCodeBench's per-test time limit. */
export const LCB_TIMEOUT_SECONDS = 6;
const DEFAULT_HOST_DOWN_WAIT_MS = 120_000;
const DEFAULT_PING_INTERVAL_MS = 5_000;
const PROGRESS_EVERY_MS = 10_000;
const HEALTH_PING_MS = 5_000;
/** Beyond this many Docker failures under one attempt, the failure is the attempt's own. */
const MAX_FAILURES_PER_ATTEMPT = 5;

export interface DockerGraderOptions {
  image?: string;
  /** The local engine's socket when `hosts` is not given (default TTSD_DOCKER_SOCKET, then /var/run/docker.sock). */
  socketPath?: string;
  /** Containers at once on the local engine (default: number of cores). With `hosts`, each host's own `=N` or CPU count applies. */
  concurrency?: number;
  /** Docker hosts, as `--docker-hosts` entries or parsed; default: the local engine. */
  hosts?: readonly (string | HostSpec)[];
  /** TLS certificates (tcp://) and ssh arguments (ssh://). */
  endpoint?: EndpointOptions;
  limits?: Partial<SandboxLimits>;
  /** Failing cases collected for the feedback (default 2). */
  feedbackCases?: number;
  /** Extra seconds spent looking for a second failing case after the first (default 2). */
  feedbackExtraSeconds?: number;
  /** With every host down, how long attempts wait for one to come back before failing (default 120 s). */
  hostDownWaitMs?: number;
  /** How often a down host is pinged (default 5 s). */
  pingIntervalMs?: number;
  /** Lines about hosts going down and coming back (default: stderr). */
  log?: (line: string) => void;
}

export function selectTests(task: Task, selection: TestSelection = 'all'): TestCase[] {
  if (selection === 'public') return task.publicTests;
  if (selection === 'private') return task.privateTests;
  return [...task.publicTests, ...task.privateTests];
}

export interface HostStats {
  endpoint: string;
  up: boolean;
  slots: number;
  active: number;
  /** Attempts whose container ran to its end on this host. */
  graded: number;
  /** Attempts that were in flight here when the host went down, and were queued again. */
  rerouted: number;
}

class Host {
  up = true;
  active = 0;
  graded = 0;
  rerouted = 0;
  probing = false;
  downReason = '';

  constructor(
    readonly endpoint: Endpoint,
    readonly slots: number,
  ) {}

  get docker(): Docker {
    return this.endpoint.docker;
  }

  get name(): string {
    return this.endpoint.spec.endpoint;
  }
}

interface Waiting {
  job: GraderJob;
  /** Docker failures under this attempt so far (host deaths included). */
  failures: number;
  wallMs: number;
  resolve: (value: { run: ContainerRun; removal: Promise<void> }) => void;
  reject: (error: unknown) => void;
}

const firstLine = (error: unknown) => (error instanceof Error ? error.message : String(error)).split('\n')[0];

export class DockerGrader implements Grader {
  private closed = false;
  private readonly waiting: Waiting[] = [];
  private readonly inFlight = new Set<Promise<unknown>>();
  private pinger: NodeJS.Timeout | undefined;
  private allDown: { since: number; giveUp: NodeJS.Timeout; progress: NodeJS.Timeout } | null = null;
  /** Set when grading gave up with every host down; cleared when one comes back. */
  private failure: UserError | null = null;

  private constructor(
    private readonly hosts: Host[],
    readonly image: string,
    readonly limits: SandboxLimits,
    private readonly feedbackCases: number,
    private readonly feedbackExtraSeconds: number,
    private readonly hostDownWaitMs: number,
    private readonly pingIntervalMs: number,
    private readonly log: (line: string) => void,
  ) {}

  /**
   * Connects to every host (each must answer), makes sure each carries the current sandbox image
   * (loading it from a host that has it: docker save | docker load), sweeps orphaned containers
   * of dead ttsd processes and takes each host's concurrency (its CPU count unless given).
   */
  static async create(options: DockerGraderOptions = {}): Promise<DockerGrader> {
    const image = options.image ?? defaultImage();
    const log = options.log ?? ((line: string) => void process.stderr.write(`${line}\n`));
    let specs: HostSpec[];
    if (options.hosts) {
      specs = options.hosts.map((h) => (typeof h === 'string' ? parseHost(h) : h));
      if (specs.length === 0) throw new UserError('--docker-hosts lists no host');
    } else {
      const concurrency = options.concurrency ?? os.availableParallelism();
      if (!Number.isInteger(concurrency) || concurrency < 1) throw new UserError(`concurrency must be a positive integer, got ${concurrency}`);
      specs = [localHost(options.socketPath, concurrency)];
    }
    const endpoints: Endpoint[] = [];
    try {
      for (const spec of specs) endpoints.push(await openEndpoint(spec, options.endpoint));
      await Promise.all(endpoints.map((e) => checkDaemon(e.docker, e.spec.endpoint)));
      await ensureImage(endpoints, image, log);
      await Promise.all(endpoints.map((e) => sweepOrphans(e.docker)));
      const slots = await Promise.all(endpoints.map(async (e) => e.spec.concurrency ?? (await e.docker.info()).NCPU));
      return new DockerGrader(
        endpoints.map((e, i) => new Host(e, slots[i])),
        image,
        { ...DEFAULT_LIMITS, ...options.limits },
        options.feedbackCases ?? 2,
        options.feedbackExtraSeconds ?? 2,
        options.hostDownWaitMs ?? DEFAULT_HOST_DOWN_WAIT_MS,
        options.pingIntervalMs ?? DEFAULT_PING_INTERVAL_MS,
        log,
      );
    } catch (error) {
      await Promise.all(endpoints.map((e) => e.close()));
      throw error;
    }
  }

  /** The first host's engine (with one host: the engine). */
  get docker(): Docker {
    return this.hosts[0].docker;
  }

  get slots(): number {
    return this.hosts.reduce((sum, h) => sum + h.slots, 0);
  }

  hostStats(): HostStats[] {
    return this.hosts.map((h) => ({ endpoint: h.name, up: h.up, slots: h.slots, active: h.active, graded: h.graded, rerouted: h.rerouted }));
  }

  async grade(task: Task, submission: Submission, options: GradeOptions = {}): Promise<GradeResult> {
    if (this.closed) throw new Error('DockerGrader used after close()');
    const tests = selectTests(task, options.tests);
    // No tests (LCB rows whose private tests are "[]"): as in LCB, the program is still loaded,
    // and a program that loads passes vacuously.
    const truncated = Boolean(submission.truncated);
    if (submission.code === null || submission.code.trim() === '') return formatErrorResult(tests.length, truncated);
    const timeout = options.timeoutSeconds ?? LCB_TIMEOUT_SECONDS;
    const job: GraderJob = {
      nonce: newNonce(),
      code: submission.code,
      func_name: task.funcName ?? null,
      tests: tests.map(({ input, output }) => ({ input, output })),
      timeout,
      feedback_cases: this.feedbackCases,
      extra_seconds: this.feedbackExtraSeconds,
    };
    // Loading the program and every test may each use the full per-test limit.
    const wallMs = (tests.length + 1) * timeout * 1000 + this.limits.startupMs + this.limits.graceMs;
    const running = this.submit(job, wallMs);
    this.inFlight.add(running);
    try {
      // The slot is free once the program has ended; the grade still waits for the container's
      // removal, so nothing is left behind when it resolves.
      const { run, removal } = await running;
      await removal;
      return gradeResultFrom(run, tests, Boolean(task.funcName), truncated);
    } finally {
      this.inFlight.delete(running);
    }
  }

  private submit(job: GraderJob, wallMs: number): Promise<{ run: ContainerRun; removal: Promise<void> }> {
    if (this.failure && !this.hosts.some((h) => h.up)) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.waiting.push({ job, wallMs, failures: 0, resolve, reject });
      this.pump();
    });
  }

  /** Starts waiting attempts on hosts with free slots, the freest first. */
  private pump(): void {
    while (this.waiting.length > 0) {
      let best: Host | undefined;
      for (const h of this.hosts) {
        if (h.up && h.active < h.slots && (!best || h.slots - h.active > best.slots - best.active)) best = h;
      }
      if (!best) break;
      this.start(best, this.waiting.shift()!);
    }
    this.watchAllDown();
  }

  private start(host: Host, item: Waiting): void {
    host.active++;
    let removal: Promise<void> = Promise.resolve();
    runJob(host.docker, this.image, this.limits, item.job, item.wallMs, (pending) => {
      removal = pending;
    }).then(
      (run) => {
        host.active--;
        host.graded++;
        item.resolve({ run, removal });
        this.pump();
      },
      async (error: unknown) => {
        // Docker failed under this attempt. If its host no longer answers, the host is taken out.
        // Either way the attempt runs again (first in line: it has waited longest): a daemon
        // restarted quickly answers pings yet dropped the attempt's connections. Only an attempt
        // that keeps failing is a real error.
        const pingError = host.up ? await pingWithin(host.docker, HEALTH_PING_MS).then(() => null, (e: unknown) => e) : null;
        host.active--;
        item.failures++;
        const gone = !host.up || pingError !== null;
        if (gone) {
          host.rerouted++;
          this.markDown(host, pingError === null ? host.downReason : firstLine(pingError));
        }
        if (item.failures > MAX_FAILURES_PER_ATTEMPT) {
          item.reject(error);
        } else {
          if (!gone) this.log(`grader: Docker failed under an attempt on ${host.name} (${firstLine(error)}); running it again`);
          this.waiting.unshift(item);
        }
        this.pump();
      },
    );
  }

  private markDown(host: Host, reason: string): void {
    if (!host.up) return;
    host.up = false;
    host.downReason = reason;
    const others = this.hosts.filter((h) => h.up).map((h) => h.name);
    this.log(
      `grader: Docker host ${host.name} is down (${reason}); ${others.length > 0 ? `its attempts go to ${others.join(', ')}` : 'no other host is up'}; pinging it every ${this.pingIntervalMs / 1000} s`,
    );
    if (!this.pinger) {
      this.pinger = setInterval(() => {
        for (const h of this.hosts) if (!h.up && !h.probing) void this.probe(h);
      }, this.pingIntervalMs);
      this.pinger.unref();
    }
  }

  /** A down host that answers again is prepared (tunnel, image, leftovers) and used again. */
  private async probe(host: Host): Promise<void> {
    host.probing = true;
    try {
      await host.endpoint.reconnect();
      await pingWithin(host.docker, HEALTH_PING_MS);
      if ((await imageState(host.docker, this.image)).state !== 'current') {
        const source = this.hosts.find((h) => h.up);
        if (!source) return; // nothing to load it from yet
        this.log(`grader: loading the sandbox image ${this.image} into ${host.name} from ${source.name}`);
        await copyImage(source.docker, host.docker, this.image);
        await checkImage(host.docker, this.image);
      }
      // Containers this process left there when the host went away: their attempts were queued
      // again, so the containers only take space (an attempt still hanging on them fails now and
      // is queued again too, since the host is not up yet).
      await Promise.all((await ownContainers(host.docker)).map((id) => host.docker.getContainer(id).remove({ force: true }).catch(() => {})));
      if (this.closed) return;
      host.up = true;
      this.failure = null;
      this.log(`grader: Docker host ${host.name} is back (${host.slots} slots)`);
      if (this.hosts.every((h) => h.up)) {
        clearInterval(this.pinger);
        this.pinger = undefined;
      }
      this.pump();
    } catch {
      // still down: the next ping tries again
    } finally {
      host.probing = false;
    }
  }

  /** With every host down and attempts waiting: one progress line now and every 10 s, then give up. */
  private watchAllDown(): void {
    if (this.hosts.some((h) => h.up) || this.waiting.length === 0) {
      if (this.allDown) {
        clearTimeout(this.allDown.giveUp);
        clearInterval(this.allDown.progress);
        this.allDown = null;
      }
      return;
    }
    if (this.allDown) return;
    const since = Date.now();
    const say = () =>
      this.log(
        `grader: every Docker host is down; ${this.waiting.length} attempt(s) waiting for one to come back, giving up in ${Math.max(0, Math.round((since + this.hostDownWaitMs - Date.now()) / 1000))} s`,
      );
    say();
    const progress = setInterval(say, PROGRESS_EVERY_MS);
    const giveUp = setTimeout(() => {
      clearInterval(progress);
      this.allDown = null;
      const reasons = this.hosts.map((h) => `${h.name}: ${h.downReason}`).join('; ');
      this.failure = new UserError(
        `lost every Docker host while grading (${reasons}) and none came back within ${Math.round(this.hostDownWaitMs / 1000)} s; is Docker still running? (bash scripts/setup-docker.sh)`,
      );
      for (const item of this.waiting.splice(0)) item.reject(this.failure);
    }, this.hostDownWaitMs);
    progress.unref();
    this.allDown = { since, giveUp, progress };
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.allSettled([...this.inFlight]);
    clearInterval(this.pinger);
    this.pinger = undefined;
    if (this.allDown) {
      clearTimeout(this.allDown.giveUp);
      clearInterval(this.allDown.progress);
      this.allDown = null;
    }
    await Promise.all(this.hosts.map((h) => h.endpoint.close()));
  }
}

/**
 * Every host must carry the current image. Hosts without it get it from one that has it (or from
 * the local engine, where `ttsd sandbox build` puts it); with no source anywhere, the one-line
 * error says how to build it.
 */
async function ensureImage(endpoints: Endpoint[], image: string, log: (line: string) => void): Promise<void> {
  const states = await Promise.all(endpoints.map((e) => imageState(e.docker, image)));
  const lacking = endpoints.filter((_, i) => states[i].state !== 'current');
  if (lacking.length === 0) return;
  let source: { docker: Docker; name: string } | undefined;
  const holder = endpoints.find((_, i) => states[i].state === 'current');
  if (holder) source = { docker: holder.docker, name: holder.spec.endpoint };
  else {
    const local = connect();
    const state = await imageState(local, image).catch(() => null);
    if (state?.state === 'current') source = { docker: local, name: 'the local engine' };
  }
  if (!source) {
    await checkImage(lacking[0].docker, image); // throws: missing, or built from another grader
    return;
  }
  for (const e of lacking) {
    log(`grader: loading the sandbox image ${image} into ${e.spec.endpoint} from ${source.name}`);
    try {
      await copyImage(source.docker, e.docker, image);
    } catch (error) {
      throw new UserError(`cannot load the sandbox image ${image} into ${e.spec.endpoint}: ${firstLine(error)}`);
    }
    await checkImage(e.docker, image);
  }
}
