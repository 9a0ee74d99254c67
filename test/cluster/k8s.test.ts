/**
 * The Kubernetes Indexed Job (deploy/k8s/ttsd-job.yaml) and its image recipe. No Kubernetes
 * runs here, so this checks what can be checked without one: the manifest parses, it is an
 * Indexed Job whose completions equal the --shard-count its pods pass, every argument is a
 * `ttsd run` option whose value the run accepts, the Docker-in-Docker sidecar and the ttsd
 * container agree on the TLS certificates, and the image's entry point, given the index
 * Kubernetes sets, runs its shard for real (tiny model, local Docker).
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { OPTION_SPECS, resolveConfig } from '../../src/run/config.js';
import { STRATEGY_NAMES } from '../../src/strategies/index.js';
import { tinyModel } from '../helpers/models.js';

const exec = promisify(execFile);
const root = path.resolve(import.meta.dirname, '../..');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ttsd-k8s-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
const documents = parseAllDocuments(fs.readFileSync(path.join(root, 'deploy/k8s/ttsd-job.yaml'), 'utf8'));
const job = documents[0].toJS() as Obj;
const pod = job.spec.template.spec as Obj;
const ttsd = (pod.containers as Obj[]).find((c) => c.name === 'ttsd')!;
const args = ttsd.args as string[];
const envOf = (container: Obj) => Object.fromEntries((container.env as Obj[]).map((e) => [e.name, e.value]));

/** Flag → value pairs of the container's arguments (a flag without a value is boolean). */
function flags(list: string[]): Map<string, string | true> {
  const out = new Map<string, string | true>();
  for (let i = 0; i < list.length; i++) {
    expect(list[i], `argument ${i} should be a flag`).toMatch(/^--[a-z-]+$/);
    if (i + 1 < list.length && !list[i + 1].startsWith('--')) out.set(list[i], list[++i]);
    else out.set(list[i], true);
  }
  return out;
}

describe('deploy/k8s: the Indexed Job', () => {
  it('parses as one batch/v1 Indexed Job whose completions are the shard count', () => {
    expect(documents.map((d) => d.errors)).toEqual([[]]);
    expect(job.apiVersion).toBe('batch/v1');
    expect(job.kind).toBe('Job');
    expect(job.spec.completionMode).toBe('Indexed');
    const given = flags(args);
    expect(Number(given.get('--shard-count'))).toBe(job.spec.completions);
    expect(job.spec.parallelism).toBeGreaterThanOrEqual(1);
    expect(job.spec.parallelism).toBeLessThanOrEqual(job.spec.completions);
    // backoffLimitPerIndex needs restartPolicy Never: a failed index is retried as a new pod, which resumes.
    expect(pod.restartPolicy).toBe('Never');
  });

  it('passes only options `ttsd run` has, with values it accepts', async () => {
    const given = flags(args);
    const { stdout: help } = await exec('node', ['bin/ttsd.js', 'run', '--help'], { cwd: root });
    for (const flag of given.keys()) expect(help, `ttsd run --help lists ${flag}`).toContain(`${flag} `);
    const settings: Record<string, unknown> = {};
    for (const spec of OPTION_SPECS) {
      const flag = spec.flag.split(' ')[0];
      if (given.has(flag)) settings[spec.key] = given.get(flag);
    }
    expect(() => resolveConfig({}, settings, STRATEGY_NAMES)).not.toThrow();
    expect(given.has('--shard')).toBe(false); // the index comes from JOB_COMPLETION_INDEX
    expect(given.has('--out')).toBe(false); // the entry point names the shard's directory
  });

  it('gives the ttsd container the sidecar engine and its client certificates', () => {
    const sidecar = (pod.initContainers as Obj[]).find((c) => c.name === 'dockerd')!;
    expect(sidecar.restartPolicy).toBe('Always'); // a native sidecar: up before ttsd starts, for its whole life
    expect(sidecar.securityContext.privileged).toBe(true);
    const certDir = envOf(sidecar).DOCKER_TLS_CERTDIR as string;
    const mountOf = (c: Obj, volume: string) => (c.volumeMounts as Obj[]).find((m) => m.name === volume)?.mountPath;
    expect(mountOf(sidecar, 'docker-certs')).toBe(certDir);
    expect(mountOf(ttsd, 'docker-certs')).toBe(certDir);
    expect(envOf(ttsd).DOCKER_CERT_PATH).toBe(`${certDir}/client`); // dind writes client certs there
    expect(String(flags(args).get('--docker-hosts'))).toMatch(/^tcp:\/\/localhost:2376(=\d+)?$/); // dind's TLS port
    expect(envOf(ttsd).RUN_ROOT).toMatch(new RegExp(`^${mountOf(ttsd, 'data')}/`)); // on the shared volume
  });

  it('runs from the image the recipe builds', () => {
    const dockerfile = fs.readFileSync(path.join(root, 'deploy/k8s/Dockerfile'), 'utf8');
    expect(dockerfile).toMatch(new RegExp(`^WORKDIR ${ttsd.workingDir}$`, 'm'));
    const entry = /^ENTRYPOINT \["bash", "([^"]+)"\]$/m.exec(dockerfile)?.[1];
    expect(entry && fs.existsSync(path.join(root, entry))).toBe(true);
    expect(dockerfile).toMatch(/trainer build/);
  });

  it('the entry point runs the shard of its index, and a retried pod resumes it', async () => {
    const model = await tinyModel();
    // The manifest's own arguments, with the grid shrunk to the tiny model and this machine's Docker.
    const local = new Map(flags(args));
    local.delete('--docker-hosts');
    local.delete('--preset');
    for (const [flag, value] of Object.entries({ '--model': model, '--ids': 'ttsd-01,ttsd-02', '--strategies': 'best-of-k', '--seeds': '1', '--budget': '2', '--rollouts': '2', '--max-tokens': '8', '--context-size': '1024', '--threads': '1', '--concurrency': '1', '--gpu': 'off' })) local.set(flag, value);
    const argv = [...local].flatMap(([flag, value]) => (value === true ? [flag] : [flag, value]));
    const env = { ...process.env, JOB_COMPLETION_INDEX: '1', RUN_ROOT: tmp };
    await exec('bash', ['scripts/k8s/run-shard.sh', ...argv], { cwd: root, env, timeout: 600_000 });
    const dir = path.join(tmp, `shard-2-of-${job.spec.completions}`);
    const lines = () => fs.readFileSync(path.join(dir, 'events.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Obj);
    expect(lines()[0]).toMatchObject({ type: 'run', shard: { index: 2, count: job.spec.completions } });
    // 2 cells, 8 shards: shard 2 runs the second cell only.
    expect(lines().filter((e) => e.type === 'cell_done').map((e) => e.task)).toEqual(['ttsd-02']);
    const attempts = lines().filter((e) => e.type === 'attempt').length;
    // A retried pod finds the finished shard: it resumes it, which has nothing left to do.
    await exec('bash', ['scripts/k8s/run-shard.sh', ...argv], { cwd: root, env, timeout: 600_000 });
    expect(lines().filter((e) => e.type === 'attempt')).toHaveLength(attempts); // nothing graded twice
    expect(lines().filter((e) => e.type === 'cell_done')).toHaveLength(1);
  }, 900_000);
});
