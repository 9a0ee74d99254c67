// The engine and image checks, orphan sweeping and a daemon that goes away mid-run, against the
// real engine (the "dead daemon" is a proxy socket in front of it that the test cuts). ~15–30 s.
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { UserError } from '../../src/errors.js';
import { containerOptions, DEFAULT_LIMITS, OWNER_PID_LABEL } from '../../src/sandbox/container.js';
import { DockerGrader } from '../../src/sandbox/docker-grader.js';
import { connect, defaultImage, GRADER_LABEL, ownContainers, sweepOrphans } from '../../src/sandbox/engine.js';
import { stdinTask } from './helpers.js';

const docker = connect();

afterAll(async () => {
  // Whatever a failing assertion left behind.
  await Promise.all((await ownContainers(docker)).map((id) => docker.getContainer(id).remove({ force: true }).catch(() => {})));
});

describe('clear errors when a part is missing', () => {
  it('Docker not running (a socket nobody listens on)', async () => {
    const started = performance.now();
    const error = await DockerGrader.create({ socketPath: '/nonexistent/docker.sock' }).catch((e) => e);
    expect(error).toBeInstanceOf(UserError);
    expect(error.message).toMatch(/^Docker is not running .*bash scripts\/setup-docker\.sh/);
    expect(performance.now() - started).toBeLessThan(6_000);
  });

  it('image missing', async () => {
    const error = await DockerGrader.create({ image: 'ttsd-no-such-image:never' }).catch((e) => e);
    expect(error).toBeInstanceOf(UserError);
    expect(error.message).toBe('the sandbox image ttsd-no-such-image:never is missing: build it with `ttsd sandbox build`');
  });

  it('image built from another grader.py', async () => {
    const container = await docker.createContainer({ Image: defaultImage(), Cmd: ['true'] });
    const tag = `stale-${process.pid}`;
    try {
      await container.commit({ repo: 'ttsd-test-stale', tag, changes: `LABEL ${GRADER_LABEL}=0000` });
      const error = await DockerGrader.create({ image: `ttsd-test-stale:${tag}` }).catch((e) => e);
      expect(error).toBeInstanceOf(UserError);
      expect(error.message).toMatch(/carries another grader .* rebuild it with `ttsd sandbox build`/);
    } finally {
      await container.remove({ force: true });
      await docker.getImage(`ttsd-test-stale:${tag}`).remove().catch(() => {});
    }
  });
});

describe('a Docker failure on a host that answers', () => {
  it('runs the attempt again, then reports the failure in one line once it keeps failing', async () => {
    const tag = `gone-${process.pid}`;
    await docker.getImage(defaultImage()).tag({ repo: 'ttsd-test-gone', tag });
    const lines: string[] = [];
    const grader = await DockerGrader.create({ image: `ttsd-test-gone:${tag}`, concurrency: 1, log: (l) => lines.push(l) });
    try {
      await docker.getImage(`ttsd-test-gone:${tag}`).remove(); // only the tag: the image stays
      const error = await grader.grade(stdinTask([['1\n', '1\n']]), { code: 'print(1)' }).catch((e) => e);
      expect(error).toBeInstanceOf(UserError);
      expect(error.message).toMatch(/^Docker failed while grading \(.*No such image.*\); is it still running\?/);
      expect(lines).toHaveLength(5);
      expect(lines[0]).toMatch(/^grader: Docker failed under an attempt on unix:\/\/\/var\/run\/docker\.sock \(.*No such image.*\); running it again$/);
    } finally {
      await grader.close();
      await docker.getImage(`ttsd-test-gone:${tag}`).remove().catch(() => {});
    }
  });
});

describe('orphaned containers', () => {
  it('containers of dead ttsd processes are swept, those of live ones are kept', async () => {
    const deadPid = spawnSync('true').pid!; // has exited by now
    const options = containerOptions(defaultImage(), DEFAULT_LIMITS);
    const orphan = await docker.createContainer({ ...options, Labels: { ...options.Labels, [OWNER_PID_LABEL]: String(deadPid) } });
    const mine = await docker.createContainer(options);
    try {
      expect(await sweepOrphans(docker)).toBeGreaterThanOrEqual(1);
      await expect(orphan.inspect()).rejects.toMatchObject({ statusCode: 404 });
      expect((await mine.inspect()).Id).toBe(mine.id);
    } finally {
      await mine.remove({ force: true });
    }
  });
});

describe('the daemon going away mid-run', () => {
  it('fails with a clear error after the bounded wait instead of hanging', async () => {
    const dir = mkdtempSync(join(os.tmpdir(), 'ttsd-proxy-'));
    const proxyPath = join(dir, 'docker.sock');
    const sockets = new Set<net.Socket>();
    const server = net.createServer((client) => {
      const upstream = net.connect('/var/run/docker.sock');
      sockets.add(client).add(upstream);
      client.pipe(upstream).pipe(client);
      const drop = () => {
        client.destroy();
        upstream.destroy();
      };
      client.on('error', drop).on('close', drop);
      upstream.on('error', drop).on('close', drop);
    });
    await new Promise<void>((resolve) => server.listen(proxyPath, resolve));
    try {
      const lines: string[] = [];
      const grader = await DockerGrader.create({ socketPath: proxyPath, concurrency: 1, hostDownWaitMs: 3_000, pingIntervalMs: 500, log: (l) => lines.push(l) });
      const task = stdinTask([['1\n', '1\n']]);
      const grading = grader.grade(task, { code: 'import time\ntime.sleep(30)\n' }, { timeoutSeconds: 20 });
      const outcome = grading.then(
        () => 'resolved',
        (e) => e,
      );
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      const cut = performance.now();
      server.close();
      for (const socket of sockets) socket.destroy();
      const error = await outcome;
      expect(error).toBeInstanceOf(UserError);
      expect(error.message).toMatch(new RegExp(`^lost every Docker host while grading \\(unix://${proxyPath}: .*\\) and none came back within 3 s`));
      expect(lines[0]).toMatch(new RegExp(`^grader: Docker host unix://${proxyPath} is down \\(.*\\); no other host is up`));
      expect(lines[1]).toMatch(/^grader: every Docker host is down; 1 attempt\(s\) waiting for one to come back, giving up in 3 s$/);
      expect(performance.now() - cut).toBeLessThan(15_000);
      await grader.close();
    } finally {
      server.close();
    }
  });
});
