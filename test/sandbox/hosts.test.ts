// Endpoint specs, the --docker-hosts setting, and the ssh:// tunnel against a real local sshd
// (root@127.0.0.1 with a generated key) forwarding to the main Docker daemon. ~15–30 s.
import { readdirSync, readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UserError } from '../../src/errors.js';
import { resolveConfig } from '../../src/run/config.js';
import { DockerGrader } from '../../src/sandbox/docker-grader.js';
import { openEndpoint, parseHost, parseHosts, sshTunnelArgs } from '../../src/sandbox/hosts.js';
import { STRATEGY_NAMES } from '../../src/strategies/index.js';
import { SUM_OK, SUM_TASK } from './helpers.js';
import { startLocalSshd, type LocalSshd } from './local-sshd.js';

describe('endpoint specs', () => {
  it('parses unix, tcp and ssh endpoints with an optional =N', () => {
    expect(parseHost('unix:///var/run/docker.sock')).toEqual({ endpoint: 'unix:///var/run/docker.sock', kind: 'unix', concurrency: null, socketPath: '/var/run/docker.sock' });
    expect(parseHost(' tcp://10.0.0.7:2376=8 ')).toEqual({ endpoint: 'tcp://10.0.0.7:2376', kind: 'tcp', concurrency: 8, host: '10.0.0.7', port: 2376 });
    expect(parseHost('ssh://ci@build-3')).toEqual({ endpoint: 'ssh://ci@build-3', kind: 'ssh', concurrency: null, host: 'build-3', user: 'ci', socketPath: '/var/run/docker.sock' });
    expect(parseHost('ssh://root@10.1.1.1:2222/run/user/1000/docker.sock=3')).toEqual({
      endpoint: 'ssh://root@10.1.1.1:2222/run/user/1000/docker.sock',
      kind: 'ssh',
      concurrency: 3,
      host: '10.1.1.1',
      port: 2222,
      user: 'root',
      socketPath: '/run/user/1000/docker.sock',
    });
  });

  it('refuses what cannot work, in one line', () => {
    for (const [spec, message] of [
      ['http://x:2375', /has an unknown scheme http:/],
      ['tcp://host', /needs a host and a port/],
      ['unix://relative.sock', /needs an absolute socket path/],
      ['ssh://u:pw@h', /has a password/],
      ['unix:///a.sock=0', /concurrency .* must be an integer in \[1, 256\]/],
      ['docker.sock', /is not an endpoint/],
    ] as const) {
      const error = (() => {
        try {
          parseHost(spec);
        } catch (e) {
          return e;
        }
      })();
      expect(error, spec).toBeInstanceOf(UserError);
      expect((error as Error).message, spec).toMatch(message);
      expect((error as Error).message).not.toContain('\n');
    }
    expect(() => parseHosts(['unix:///a.sock=2', 'unix:///a.sock=3'])).toThrow('--docker-hosts lists unix:///a.sock twice');
  });

  it('is a run setting (flag and config file), checked at start', () => {
    const base = { model: 'm.gguf' };
    expect(resolveConfig(base, {}, STRATEGY_NAMES).dockerHosts).toEqual([]);
    expect(resolveConfig(base, { dockerHosts: 'unix:///a.sock=2, ssh://u@h' }, STRATEGY_NAMES).dockerHosts).toEqual(['unix:///a.sock=2', 'ssh://u@h']);
    expect(resolveConfig({ ...base, 'docker-hosts': ['tcp://h:2376'] }, {}, STRATEGY_NAMES).dockerHosts).toEqual(['tcp://h:2376']);
    expect(() => resolveConfig(base, { dockerHosts: 'ftp://h' }, STRATEGY_NAMES)).toThrow(/^--docker-hosts: "ftp:\/\/h" has an unknown scheme/);
  });

  it('tcp needs TLS certificates from DOCKER_CERT_PATH', async () => {
    await expect(openEndpoint(parseHost('tcp://127.0.0.1:1'), { certPath: undefined })).rejects.toThrow(/DOCKER_CERT_PATH|cannot read/);
    await expect(openEndpoint(parseHost('tcp://127.0.0.1:1'), { certPath: '/nonexistent' })).rejects.toThrow('tcp://127.0.0.1:1: cannot read /nonexistent/ca.pem (DOCKER_CERT_PATH must hold ca.pem, cert.pem and key.pem)');
  });

  it('an ssh tunnel is one `ssh -N -L local:remote` process that never prompts', () => {
    const args = sshTunnelArgs(parseHost('ssh://ci@build-3:2222/run/docker.sock'), '/tmp/x/docker.sock', ['-i', 'key']);
    expect(args.slice(0, 2)).toEqual(['-N', '-T']);
    expect(args).toContain('BatchMode=yes');
    expect(args).toContain('ExitOnForwardFailure=yes');
    expect(args.slice(-7)).toEqual(['-i', 'key', '-p', '2222', '-L', '/tmp/x/docker.sock:/run/docker.sock', 'ci@build-3']);
  });
});

describe('ssh:// through a real sshd', () => {
  let sshd: LocalSshd;
  beforeAll(async () => {
    sshd = await startLocalSshd();
  }, 30_000);
  afterAll(async () => {
    await sshd?.stop();
  });

  /** Our ssh processes forwarding to this sshd. */
  const tunnels = () =>
    readdirSync('/proc')
      .filter((p) => /^\d+$/.test(p))
      .filter((p) => {
        try {
          const cmd = readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0');
          return cmd[0] === 'ssh' && cmd.includes(String(sshd.port)) && readFileSync(`/proc/${p}/stat`, 'utf8').split(' ')[3] === String(process.pid);
        } catch {
          return false;
        }
      })
      .map(Number);

  it('grades through one persistent tunnel (one ssh connection for all requests), and reopens it when it dies', async () => {
    const lines: string[] = [];
    const endpoint = `ssh://root@127.0.0.1:${sshd.port}`;
    const grader = await DockerGrader.create({ hosts: [`${endpoint}=2`], endpoint: { sshArgs: sshd.clientArgs }, pingIntervalMs: 300, log: (l) => lines.push(l) });
    try {
      const results = await Promise.all(Array.from({ length: 6 }, () => grader.grade(SUM_TASK, { code: SUM_OK })));
      expect(results.map((r) => r.verdict)).toEqual(Array(6).fill('accepted'));
      // Every request of those six attempts (create, attach, start, wait, inspect, remove) went
      // through the one connection.
      expect(tunnels()).toHaveLength(1);
      expect(sshd.connections()).toBe(1);

      // The tunnel dies (a network drop): the host is down, then the tunnel is reopened and used.
      const [pid] = tunnels();
      const grading = grader.grade(SUM_TASK, { code: 'import time\ntime.sleep(1)\n' + SUM_OK });
      await new Promise((resolve) => setTimeout(resolve, 400));
      process.kill(pid, 'SIGKILL');
      expect((await grading).verdict).toBe('accepted');
      expect(lines.some((l) => l.startsWith(`grader: Docker host ${endpoint} is down`))).toBe(true);
      expect(lines).toContain(`grader: Docker host ${endpoint} is back (2 slots)`);
      expect(tunnels()).toHaveLength(1);
      expect(tunnels()[0]).not.toBe(pid);
    } finally {
      await grader.close();
    }
    expect(tunnels()).toEqual([]);
  }, 60_000);

  it('a host that refuses the key: one line at start', async () => {
    const error = await DockerGrader.create({ hosts: [`ssh://nobody@127.0.0.1:${sshd.port}`], endpoint: { sshArgs: sshd.clientArgs } }).catch((e) => e);
    expect(error).toBeInstanceOf(UserError);
    expect(error.message).toMatch(new RegExp(`^ssh://nobody@127.0.0.1:${sshd.port}: cannot open the ssh tunnel \\(.*Permission denied`));
    expect(tunnels()).toEqual([]);
  }, 30_000);
});
