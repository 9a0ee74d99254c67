/**
 * A real sshd on 127.0.0.1 for the ssh:// tests: its own host key, config, authorized key and
 * pid file under a temp dir (root's ~/.ssh is left alone). Needs openssh-server (setup-docker.sh).
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import { join } from 'node:path';
import { freePort } from '../helpers/net.js';

export const SSHD = '/usr/sbin/sshd';

export interface LocalSshd {
  port: number;
  /** What the client passes to ssh: its key and a known_hosts holding only this server's key. */
  clientArgs: string[];
  /** Established TCP connections to this sshd right now. */
  connections(): number;
  stop(): Promise<void>;
}


export async function startLocalSshd(): Promise<LocalSshd> {
  const dir = mkdtempSync(join(os.tmpdir(), 'ttsd-sshd-'));
  const keygen = (file: string) => execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, file)]);
  keygen('host_key');
  keygen('client_key');
  writeFileSync(join(dir, 'authorized_keys'), readFileSync(join(dir, 'client_key.pub')));
  const port = await freePort();
  writeFileSync(join(dir, 'known_hosts'), `[127.0.0.1]:${port} ${readFileSync(join(dir, 'host_key.pub'), 'utf8')}`);
  writeFileSync(
    join(dir, 'sshd_config'),
    [
      `Port ${port}`,
      'ListenAddress 127.0.0.1',
      `HostKey ${join(dir, 'host_key')}`,
      `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
      `PidFile ${join(dir, 'sshd.pid')}`,
      'StrictModes no',
      'PermitRootLogin prohibit-password',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'UsePAM no',
      'AllowStreamLocalForwarding yes',
      '',
    ].join('\n'),
  );
  mkdirSync('/run/sshd', { recursive: true }); // its privilege-separation directory
  const child: ChildProcess = spawn(SSHD, ['-D', '-e', '-f', join(dir, 'sshd_config')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const started = Date.now();
  for (;;) {
    const up = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, '127.0.0.1', () => {
        socket.destroy();
        resolve(true);
      });
      socket.on('error', () => resolve(false));
    });
    if (up) break;
    if (child.exitCode !== null || Date.now() - started > 10_000) {
      child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
      throw new Error(`sshd did not start: ${stderr.trim()}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const portHex = port.toString(16).toUpperCase().padStart(4, '0');
  return {
    port,
    clientArgs: ['-i', join(dir, 'client_key'), '-o', `UserKnownHostsFile=${join(dir, 'known_hosts')}`, '-o', 'StrictHostKeyChecking=yes', '-o', 'IdentitiesOnly=yes'],
    connections: () =>
      readFileSync('/proc/net/tcp', 'utf8')
        .split('\n')
        .slice(1)
        .map((line) => line.trim().split(/\s+/))
        // local address 0100007F:PORT, state 01 = ESTABLISHED (the server's side of each connection)
        .filter((f) => f.length > 3 && f[1] === `0100007F:${portHex}` && f[3] === '01').length,
    stop: async () => {
      child.kill('SIGTERM');
      await new Promise((resolve) => setTimeout(resolve, 200));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
