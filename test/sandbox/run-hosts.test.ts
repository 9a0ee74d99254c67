// `ttsd run --docker-hosts` as a user runs it, with the tiny model: the grader is built on the
// hosts given (their slots are the run's grader concurrency), a host that does not answer
// refuses the run at start in one line, and --resume may move the run to other hosts. ~20–40 s.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { beforeAll, describe, expect, it } from 'vitest';
import { tinyModel } from '../helpers/models.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ttsd-run-hosts-'));
const SMALL = ['--strategies', 'best-of-k', '--budget', '2', '--seeds', '1', '--rollouts', '2', '--max-tokens', '16', '--context-size', '512', '--max-prompt-tokens', '400', '--threads', '1', '--ids', 'ttsd-01', '--tasks', 'tasks'];
let model: string;
beforeAll(async () => {
  model = await tinyModel();
}, 300_000);

const ttsd = (args: string[]) => execa('node', ['bin/ttsd.js', ...args], { reject: false });
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const readLog = (dir: string): Record<string, any>[] => fs.readFileSync(path.join(dir, 'events.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));

describe('ttsd run --docker-hosts', () => {
  it('grades on the hosts given: their slots are the grader concurrency; a dead host refuses the run in one line', async () => {
    const out = path.join(tmp, 'run');
    const ok = await ttsd(['run', '--model', model, ...SMALL, '--docker-hosts', 'unix:///var/run/docker.sock=3', '--out', out]);
    expect(ok.stderr).not.toMatch(/ttsd: /);
    expect(ok.exitCode).toBe(0);
    const events = readLog(out);
    expect(events[0]).toMatchObject({ type: 'run', docker_hosts: ['unix:///var/run/docker.sock=3'] });
    expect(events.find((e) => e.type === 'utilisation')).toMatchObject({ grader_concurrency: 3 });

    const refused = path.join(tmp, 'refused');
    const dead = await ttsd(['run', '--model', model, ...SMALL, '--docker-hosts', 'unix:///var/run/docker.sock,unix:///nonexistent/docker.sock', '--out', refused]);
    expect(dead.exitCode).toBe(2);
    expect(dead.stderr.trim().split('\n').filter((l) => l.startsWith('ttsd: '))).toEqual([
      expect.stringMatching(/^ttsd: Docker is not running \(unix:\/\/\/nonexistent\/docker\.sock: /),
    ]);
    expect(fs.existsSync(refused)).toBe(false);

    const bad = await ttsd(['run', '--model', model, ...SMALL, '--docker-hosts', 'tcp://nohost', '--out', refused]);
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr.trim()).toMatch(/^ttsd: --docker-hosts: "tcp:\/\/nohost" needs a host and a port; use /);
  }, 240_000);

  it('--resume may change the hosts (a machine setting)', async () => {
    const out = path.join(tmp, 'run');
    const again = await ttsd(['run', '--resume', out, '--docker-hosts', 'unix:///var/run/docker.sock=1']);
    expect(again.exitCode).toBe(0);
    expect(again.stderr).toMatch(/is already complete/);
    const fixed = await ttsd(['run', '--resume', out, '--budget', '3']);
    expect(fixed.stderr).toMatch(/--docker-hosts/);
  }, 60_000);
});
