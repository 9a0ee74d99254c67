/**
 * A second, real Docker daemon for the multi-host tests: its own socket, data root and exec root
 * (and so its own containerd) under a temp dir, no bridge and no iptables so it leaves the main
 * daemon alone; optionally also on tcp://127.0.0.1 with TLS (certificates made here by openssl).
 * Started and stopped by the test; `kill()` is a kill -9 of dockerd (a host dying mid-run).
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import { join } from 'node:path';
import Docker from 'dockerode';
import { freePort } from '../helpers/net.js';

export interface SecondDaemon {
  dir: string;
  socket: string;
  /** unix:///…/docker.sock */
  endpoint: string;
  /** tcp://127.0.0.1:PORT (TLS) when started with tls. */
  tcpEndpoint?: string;
  /** ca.pem, cert.pem, key.pem for the client (DOCKER_CERT_PATH). */
  certPath?: string;
  docker: Docker;
  kill(): void;
  start(): Promise<void>;
  cleanup(): Promise<void>;
}


function makeCerts(dir: string): void {
  const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  ssl('req', '-x509', ...ec, '-keyout', 'ca-key.pem', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=ttsd-test-ca');
  for (const [name, usage, cn] of [['server', 'serverAuth', '127.0.0.1'], ['client', 'clientAuth', 'ttsd-client']]) {
    writeFileSync(join(dir, `${name}.ext`), `${usage === 'serverAuth' ? 'subjectAltName=IP:127.0.0.1\n' : ''}extendedKeyUsage=${usage}\n`);
    ssl('req', ...ec, '-keyout', `${name}-key.pem`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`);
    ssl('x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca-key.pem', '-CAcreateserial', '-out', `${name}-cert.pem`, '-days', '2', '-extfile', `${name}.ext`);
  }
}

/** Alive and not a zombie. */
function running(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

/** Processes started under the daemon's directories (its containerd and shims) by command line. */
function processesUnder(dir: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(dir)) pids.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

export async function startSecondDaemon(options: { tls?: boolean } = {}): Promise<SecondDaemon> {
  const dir = mkdtempSync(join(os.tmpdir(), 'ttsd-d2-'));
  const socket = join(dir, 'docker.sock');
  const args = [
    '--host', `unix://${socket}`,
    '--data-root', join(dir, 'data'),
    '--exec-root', join(dir, 'exec'),
    '--pidfile', join(dir, 'docker.pid'),
    '--bridge=none', '--iptables=false', '--ip-masq=false',
  ];
  let tcpEndpoint: string | undefined;
  let certPath: string | undefined;
  if (options.tls) {
    const certs = join(dir, 'certs');
    execFileSync('mkdir', ['-p', certs]);
    makeCerts(certs);
    const port = await freePort();
    tcpEndpoint = `tcp://127.0.0.1:${port}`;
    args.push('--host', `tcp://127.0.0.1:${port}`, '--tlsverify', '--tlscacert', join(certs, 'ca.pem'), '--tlscert', join(certs, 'server-cert.pem'), '--tlskey', join(certs, 'server-key.pem'));
    // What a client's DOCKER_CERT_PATH holds.
    certPath = join(dir, 'client');
    execFileSync('mkdir', ['-p', certPath]);
    writeFileSync(join(certPath, 'ca.pem'), readFileSync(join(certs, 'ca.pem')));
    writeFileSync(join(certPath, 'cert.pem'), readFileSync(join(certs, 'client-cert.pem')));
    writeFileSync(join(certPath, 'key.pem'), readFileSync(join(certs, 'client-key.pem')));
  }
  const docker = new Docker({ socketPath: socket });
  let child: ChildProcess | null = null;

  const start = async () => {
    const log = join(dir, 'dockerd.log');
    // After a kill -9 its containerd is a zombie (this machine's PID 1 does not reap orphans):
    // its pid file would make the new dockerd wait on a containerd that is not there.
    for (const pidFile of [join(dir, 'docker.pid'), join(dir, 'exec', 'containerd', 'containerd.pid')]) {
      const pid = existsSync(pidFile) ? Number(readFileSync(pidFile, 'utf8').trim()) : 0;
      if (pid > 0 && !running(pid)) rmSync(pidFile, { force: true });
    }
    const fd = openSync(log, 'a');
    child = spawn('dockerd', args, { detached: true, stdio: ['ignore', fd, fd] });
    closeSync(fd);
    child.unref();
    const begun = Date.now();
    while (Date.now() - begun < 30_000) {
      if (child.exitCode !== null) break;
      if (await docker.ping().then(() => true, () => false)) return;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const tail = existsSync(log) ? readFileSync(log, 'utf8').trim().split('\n').slice(-3).join(' | ') : '';
    throw new Error(`the second dockerd did not come up within 30 s: ${tail}`);
  };
  const kill = () => {
    if (child?.pid && child.exitCode === null) {
      try {
        process.kill(child.pid, 'SIGKILL');
      } catch {
        // exited, not yet reaped
      }
    }
  };
  const cleanup = async () => {
    kill();
    await new Promise((resolve) => setTimeout(resolve, 300));
    // Its containerd ends with it; the shims of containers still running outlive it.
    for (const pid of processesUnder(dir)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 300));
    const mounts = readFileSync('/proc/mounts', 'utf8')
      .split('\n')
      .map((line) => line.split(' ')[1])
      .filter((m) => m && m.startsWith(dir))
      .sort()
      .reverse();
    for (const mount of mounts) execFileSync('umount', ['-l', mount], { stdio: 'ignore' });
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await start();
  } catch (error) {
    await cleanup();
    throw error;
  }
  return { dir, socket, endpoint: `unix://${socket}`, tcpEndpoint, certPath, docker, kill, start, cleanup };
}
