/**
 * Docker hosts the grader may use: endpoint specs (`--docker-hosts`), and how each is reached.
 *   unix:///path/docker.sock[=N]       a local socket
 *   tcp://host:port[=N]                TLS with ca.pem, cert.pem, key.pem from DOCKER_CERT_PATH
 *   ssh://user@host[:port][/socket][=N] one persistent `ssh -N -L` tunnel per host to the remote
 *                                      socket (default /var/run/docker.sock); every request goes
 *                                      through that one connection, never a new ssh per request
 * N is the host's concurrency (containers at once); by default its CPU count from /info.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import Docker from 'dockerode';
import { UserError } from '../errors.js';

export type HostKind = 'unix' | 'tcp' | 'ssh';

export interface HostSpec {
  /** The endpoint as given, without `=N`. */
  endpoint: string;
  kind: HostKind;
  /** Containers at once on this host; null = its CPU count. */
  concurrency: number | null;
  /** unix: the socket path; ssh: the remote socket path. */
  socketPath?: string;
  host?: string;
  port?: number;
  user?: string;
}

export const DEFAULT_REMOTE_SOCKET = '/var/run/docker.sock';

const FORMS = 'unix:///path.sock, tcp://host:port (TLS from DOCKER_CERT_PATH) or ssh://user@host[:port][/socket], each optionally =N';

/** One endpoint spec; a one-line UserError names what is wrong. */
export function parseHost(text: string, name = '--docker-hosts'): HostSpec {
  const trimmed = text.trim();
  const match = /^(.*?)(?:=(\d+))?$/.exec(trimmed)!;
  const endpoint = match[1];
  let concurrency: number | null = null;
  if (match[2] !== undefined) {
    concurrency = Number(match[2]);
    if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 256) {
      throw new UserError(`${name}: the concurrency in ${JSON.stringify(trimmed)} must be an integer in [1, 256]`);
    }
  }
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    throw new UserError(`${name}: ${JSON.stringify(trimmed)} is not an endpoint; use ${FORMS}`);
  }
  const bad = (why: string) => new UserError(`${name}: ${JSON.stringify(trimmed)} ${why}; use ${FORMS}`);
  if (url.search || url.hash) throw bad('has a query or fragment');
  switch (url.protocol) {
    case 'unix:':
      if (url.host !== '' || !url.pathname.startsWith('/') || url.pathname === '/') throw bad('needs an absolute socket path (unix:///path)');
      return { endpoint, kind: 'unix', concurrency, socketPath: decodeURIComponent(url.pathname) };
    case 'tcp:': {
      if (!url.hostname || !url.port) throw bad('needs a host and a port');
      if (url.pathname !== '' && url.pathname !== '/') throw bad('has a path');
      if (url.username || url.password) throw bad('has a user (tcp uses TLS certificates)');
      return { endpoint, kind: 'tcp', concurrency, host: url.hostname.replace(/^\[|\]$/g, ''), port: Number(url.port) };
    }
    case 'ssh:':
      if (!url.hostname) throw bad('needs a host');
      if (url.password) throw bad('has a password (use an ssh key)');
      return {
        endpoint,
        kind: 'ssh',
        concurrency,
        host: url.hostname.replace(/^\[|\]$/g, ''),
        ...(url.port && { port: Number(url.port) }),
        ...(url.username && { user: decodeURIComponent(url.username) }),
        socketPath: url.pathname === '' || url.pathname === '/' ? DEFAULT_REMOTE_SOCKET : decodeURIComponent(url.pathname),
      };
    default:
      throw bad(`has an unknown scheme ${url.protocol}`);
  }
}

/** A list of specs; the same endpoint twice would double its slots, so it is refused. */
export function parseHosts(list: readonly string[], name = '--docker-hosts'): HostSpec[] {
  const specs = list.map((text) => parseHost(text, name));
  const seen = new Set<string>();
  for (const spec of specs) {
    if (seen.has(spec.endpoint)) throw new UserError(`${name} lists ${spec.endpoint} twice`);
    seen.add(spec.endpoint);
  }
  return specs;
}

/** The local engine (TTSD_DOCKER_SOCKET or the default socket) as a spec. */
export function localHost(socketPath?: string, concurrency: number | null = null): HostSpec {
  const path = socketPath ?? process.env.TTSD_DOCKER_SOCKET ?? DEFAULT_REMOTE_SOCKET;
  return { endpoint: `unix://${path}`, kind: 'unix', concurrency, socketPath: path };
}

export interface EndpointOptions {
  /** Directory with ca.pem, cert.pem, key.pem for tcp:// hosts (default DOCKER_CERT_PATH). */
  certPath?: string;
  /** Extra ssh arguments (e.g. -i key, -o UserKnownHostsFile=...); ~/.ssh/config applies too. */
  sshArgs?: string[];
}

/** A connection to one host; `reconnect` re-establishes the transport (the ssh tunnel) after it died. */
export interface Endpoint {
  readonly spec: HostSpec;
  readonly docker: Docker;
  /** DOCKER_HOST for the docker CLI to reach the same engine (ssh: the tunnel's local socket). */
  readonly dockerHost: string;
  reconnect(): Promise<void>;
  close(): Promise<void>;
}

export async function openEndpoint(spec: HostSpec, options: EndpointOptions = {}): Promise<Endpoint> {
  if (spec.kind === 'unix') {
    const docker = new Docker({ socketPath: spec.socketPath });
    return { spec, docker, dockerHost: `unix://${spec.socketPath}`, reconnect: async () => {}, close: async () => {} };
  }
  if (spec.kind === 'tcp') {
    const certPath = options.certPath ?? process.env.DOCKER_CERT_PATH;
    if (!certPath) throw new UserError(`${spec.endpoint}: tcp hosts need TLS; set DOCKER_CERT_PATH to a directory with ca.pem, cert.pem and key.pem`);
    const read = (file: string) => {
      try {
        return readFileSync(join(certPath, file));
      } catch {
        throw new UserError(`${spec.endpoint}: cannot read ${join(certPath, file)} (DOCKER_CERT_PATH must hold ca.pem, cert.pem and key.pem)`);
      }
    };
    const docker = new Docker({ host: spec.host, port: spec.port, protocol: 'https', ca: read('ca.pem'), cert: read('cert.pem'), key: read('key.pem') });
    return { spec, docker, dockerHost: `tcp://${spec.host}:${spec.port}`, reconnect: async () => {}, close: async () => {} };
  }
  const tunnel = new SshTunnel(spec, options.sshArgs ?? []);
  try {
    await tunnel.open();
  } catch (error) {
    await tunnel.close(); // its temp dir
    throw error;
  }
  const docker = new Docker({ socketPath: tunnel.localSocket });
  return { spec, docker, dockerHost: `unix://${tunnel.localSocket}`, reconnect: () => tunnel.open(), close: () => tunnel.close() };
}

const TUNNEL_START_MS = 20_000;

/** The ssh command line of a tunnel: no remote command, fail if the forward cannot be set up. */
export function sshTunnelArgs(spec: HostSpec, localSocket: string, extra: readonly string[] = []): string[] {
  return [
    '-N', // no remote command: only the forward
    '-T',
    '-o', 'BatchMode=yes', // never prompt (a run has no terminal to answer on)
    '-o', 'ExitOnForwardFailure=yes',
    '-o', 'ServerAliveInterval=5', // a dead host ends the tunnel within ~15 s instead of never
    '-o', 'ServerAliveCountMax=3',
    '-o', 'StreamLocalBindUnlink=yes',
    '-o', 'ControlMaster=no', // this process is the one connection; no shared master to outlive it
    '-o', 'ControlPath=none',
    ...extra,
    ...(spec.port ? ['-p', String(spec.port)] : []),
    '-L', `${localSocket}:${spec.socketPath ?? DEFAULT_REMOTE_SOCKET}`,
    spec.user ? `${spec.user}@${spec.host}` : spec.host!,
  ];
}

/**
 * One `ssh -N -L local.sock:remote.sock` process per host: all Docker requests to the host are
 * channels of that one connection. When it dies (host down), `open()` starts a new one.
 */
export class SshTunnel {
  readonly localSocket: string;
  private readonly dir: string;
  private child: ChildProcess | null = null;
  private stderr = '';

  constructor(
    readonly spec: HostSpec,
    private readonly extra: readonly string[],
  ) {
    this.dir = mkdtempSync(join(os.tmpdir(), 'ttsd-ssh-'));
    this.localSocket = join(this.dir, 'docker.sock');
  }

  get alive(): boolean {
    return this.child !== null && this.child.exitCode === null && this.child.signalCode === null;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  async open(): Promise<void> {
    if (this.alive && existsSync(this.localSocket)) return;
    this.stop();
    rmSync(this.localSocket, { force: true });
    this.stderr = '';
    const child = spawn('ssh', sshTunnelArgs(this.spec, this.localSocket, this.extra), { stdio: ['ignore', 'ignore', 'pipe'] });
    this.child = child;
    child.stderr!.on('data', (chunk: Buffer) => {
      if (this.stderr.length < 4096) this.stderr += chunk.toString('utf8');
    });
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.once('error', () => {}); // ENOENT (no ssh) shows as an exit below
    const started = Date.now();
    while (Date.now() - started < TUNNEL_START_MS) {
      if (existsSync(this.localSocket)) return;
      const done = await Promise.race([exited.then(() => true), new Promise<false>((resolve) => setTimeout(() => resolve(false), 50))]);
      if (done) break;
    }
    this.stop();
    const why = this.stderr.trim().split('\n').pop() || (child.exitCode === null ? `no tunnel within ${TUNNEL_START_MS / 1000} s` : `ssh exited with ${child.exitCode ?? child.signalCode}`);
    throw new UserError(`${this.spec.endpoint}: cannot open the ssh tunnel (${why})`);
  }

  private stop(): void {
    if (this.child && this.alive) this.child.kill('SIGTERM');
    this.child = null;
  }

  async close(): Promise<void> {
    const child = this.child;
    this.stop();
    if (child && child.exitCode === null && child.signalCode === null) {
      await Promise.race([new Promise((resolve) => child.once('exit', resolve)), new Promise((resolve) => setTimeout(resolve, 2_000))]);
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
