// `ttsd tasks fetch lcb` against a local HTTP server on 127.0.0.1 that serves release files made
// from the project's real LCB sample rows; the real network is never touched.
import { execa } from 'execa';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { UserError } from '../../src/errors.js';
import { fetchLcb, LCB_RELEASE_FILES, lcbFileUrl, normaliseRelease, resolveEndpoint } from '../../src/tasks/fetch.js';
import { loadTasks } from '../../src/tasks/load.js';
import { findPreset } from '../../src/tasks/presets.js';

const BIN = new URL('../../bin/ttsd.js', import.meta.url).pathname;
const SAMPLE = new URL('./fixtures/lcb-sample-problems.jsonl', import.meta.url).pathname;
const PREFIX = '/datasets/livecodebench/code_generation_lite/resolve/main/';

/**
 * Six release files from the 30 real sample rows (5 per file, in their order); test6.jsonl also
 * gets 131 copies of a real row dated inside the paper's LCBv6 window, so lcbv6-hard resolves.
 */
async function releaseFixtures(): Promise<Map<string, Buffer>> {
  const lines = (await readFile(SAMPLE, 'utf8')).split('\n').filter((l) => l.trim() !== '');
  const files = new Map<string, Buffer>();
  LCB_RELEASE_FILES.release_v6!.forEach((name, i) => {
    const rows = lines.slice(5 * i, 5 * i + 5);
    if (name === 'test6.jsonl') {
      const base = JSON.parse(lines.find((l) => l.includes('"1873_B"'))!) as Record<string, unknown>;
      for (let n = 0; n < 131; n++) {
        const day = new Date(Date.UTC(2025, 1, 1) + Math.floor((n * 88) / 131) * 86_400_000).toISOString().slice(0, 19);
        rows.push(JSON.stringify({ ...base, question_id: `v6q${String(n).padStart(3, '0')}`, contest_date: day }));
      }
    }
    files.set(name, Buffer.from(rows.join('\n') + '\n'));
  });
  return files;
}

type Mode = 'ok' | '404' | 'truncate' | 'garbage' | 'hang';
interface Served {
  url: string;
  range?: string;
  ifRange?: string;
  status: number;
}

let fixtures: Map<string, Buffer>;
let server: Server;
let endpoint: string;
const modes = new Map<string, Mode>();
const overrides = new Map<string, Buffer>();
let served: Served[] = [];

const etagOf = (body: Buffer) => `"${createHash('sha256').update(body).digest('hex').slice(0, 16)}"`;

function handle(req: IncomingMessage, res: ServerResponse): void {
  const url = req.url ?? '';
  // Like huggingface.co: /resolve/ redirects to a content server.
  if (url.startsWith(PREFIX)) {
    res.writeHead(302, { location: `/cdn/${url.slice(PREFIX.length)}` }).end();
    return;
  }
  const name = decodeURIComponent(url.replace(/^\/cdn\//, ''));
  const body = overrides.get(name) ?? fixtures.get(name);
  const mode = modes.get(name) ?? 'ok';
  const record = (status: number) =>
    served.push({ url: name, status, range: req.headers.range, ifRange: req.headers['if-range'] as string | undefined });
  if (!url.startsWith('/cdn/') || !body || mode === '404') {
    record(404);
    res.writeHead(404, { 'content-type': 'text/plain' }).end('Entry not found');
    return;
  }
  if (mode === 'hang') {
    record(200);
    res.writeHead(200, { 'content-length': body.length });
    res.write(body.subarray(0, 10)); // then nothing: the client's stall timer must fire
    return;
  }
  const payload = mode === 'garbage' ? Buffer.from('<html>this is not a task file</html>\n'.repeat(20)) : body;
  const etag = etagOf(payload);
  const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
  const ifRange = req.headers['if-range'];
  if (range && (ifRange === undefined || ifRange === etag)) {
    const start = Number(range[1]);
    if (start >= payload.length) {
      record(416);
      res.writeHead(416, { 'content-range': `bytes */${payload.length}` }).end();
      return;
    }
    record(206);
    res.writeHead(206, { etag, 'content-length': payload.length - start, 'content-range': `bytes ${start}-${payload.length - 1}/${payload.length}` });
    res.end(payload.subarray(start));
    return;
  }
  record(200);
  res.writeHead(200, { etag, 'content-length': payload.length });
  if (mode === 'truncate') {
    // Half the bytes, a pause (so they reach the client), then the connection drops.
    res.write(payload.subarray(0, Math.floor(payload.length / 2)), () => setTimeout(() => res.destroy(), 200));
    return;
  }
  res.end(payload);
}

beforeAll(async () => {
  fixtures = await releaseFixtures();
  server = createServer(handle);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => {
  server.closeAllConnections();
  server.close();
});
beforeEach(() => {
  modes.clear();
  overrides.clear();
  served = [];
});

const tmp = () => mkdtemp(join(tmpdir(), 'ttsd-fetch-'));
const noEnv = {} as NodeJS.ProcessEnv;
async function rejection(promise: Promise<unknown>): Promise<UserError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(UserError);
  return error as UserError;
}

describe('release names and URLs', () => {
  it("follow LiveCodeBench's loading script: release_vN = test.jsonl … testN.jsonl", () => {
    expect(LCB_RELEASE_FILES.release_v1).toEqual(['test.jsonl']);
    expect(LCB_RELEASE_FILES.release_v2).toEqual(['test.jsonl', 'test2.jsonl']);
    expect(LCB_RELEASE_FILES.release_v6).toEqual(['test.jsonl', 'test2.jsonl', 'test3.jsonl', 'test4.jsonl', 'test5.jsonl', 'test6.jsonl']);
    expect(['v6', '6', 'release_v6', 'release_latest', 'V6'].map(normaliseRelease)).toEqual(Array(5).fill('release_v6'));
    expect(() => normaliseRelease('v7')).toThrow(/unknown LiveCodeBench release v7/);
    expect(lcbFileUrl('https://huggingface.co/', 'test2.jsonl')).toBe(
      'https://huggingface.co/datasets/livecodebench/code_generation_lite/resolve/main/test2.jsonl',
    );
    expect(resolveEndpoint(undefined, noEnv)).toBe('https://huggingface.co');
    expect(resolveEndpoint(undefined, { HF_ENDPOINT: 'https://hf-mirror.example/' })).toBe('https://hf-mirror.example');
    expect(resolveEndpoint('http://127.0.0.1:9', { HF_ENDPOINT: 'https://ignored' })).toBe('http://127.0.0.1:9');
    expect(() => resolveEndpoint('ftp://x', noEnv)).toThrow(/not an http\(s\) URL/);
  });
});

describe('fetchLcb', () => {
  it('downloads release_v6, checks every file with the loader, and lcbv6-hard resolves on the result', async () => {
    const out = join(await tmp(), 'lcb');
    const report = await fetchLcb({ out, endpoint, env: noEnv });
    expect(report.release).toBe('release_v6');
    expect(report.files.map((f) => [f.file, f.rows, f.how])).toEqual([
      ['test.jsonl', 5, 'downloaded'],
      ['test2.jsonl', 5, 'downloaded'],
      ['test3.jsonl', 5, 'downloaded'],
      ['test4.jsonl', 5, 'downloaded'],
      ['test5.jsonl', 5, 'downloaded'],
      ['test6.jsonl', 136, 'downloaded'],
    ]);
    expect(report.rows).toBe(161);
    expect(report.lcbv6Window).toBe(131);
    expect(report.warnings.join()).toContain('LiveCodeBench publishes 1055');
    expect((await readdir(out)).sort()).toEqual([...LCB_RELEASE_FILES.release_v6!].sort()); // no .part left
    for (const [name, body] of fixtures) expect(await readFile(join(out, name))).toEqual(body);

    const tasks = await loadTasks(out);
    expect(tasks).toHaveLength(161);
    const hard = findPreset('lcbv6-hard').resolve(tasks);
    expect(hard.tasks).toHaveLength(19);
    expect(hard.warnings).toEqual([]);
    expect(hard.tasks[0]!.id).toBe('v6q001');

    // Run again: everything is there and loads, nothing is downloaded.
    served = [];
    const again = await fetchLcb({ out, endpoint, env: noEnv });
    expect(again.files.every((f) => f.how === 'kept')).toBe(true);
    expect(served).toEqual([]);
    // --force downloads again.
    const forced = await fetchLcb({ out, endpoint, env: noEnv, force: true, release: 'v1' });
    expect(forced.files.map((f) => f.how)).toEqual(['downloaded']);
  });

  it('honours HF_ENDPOINT', async () => {
    const out = await tmp();
    const report = await fetchLcb({ out, release: 'release_v2', env: { HF_ENDPOINT: `${endpoint}/` } });
    expect(report.files.map((f) => f.file)).toEqual(['test.jsonl', 'test2.jsonl']);
    expect(served.map((s) => s.url)).toEqual(['test.jsonl', 'test2.jsonl']);
  });

  it('HTTP 404: one clear error, earlier files kept, nothing under the missing name', async () => {
    const out = await tmp();
    modes.set('test3.jsonl', '404');
    const error = await rejection(fetchLcb({ out, endpoint, env: noEnv }));
    expect(error.message).toBe(`${lcbFileUrl(endpoint, 'test3.jsonl')}: HTTP 404 Not Found (no such file on this endpoint)`);
    expect((await readdir(out)).sort()).toEqual(['test.jsonl', 'test2.jsonl']);
  });

  it('a download cut short leaves only a .part, and the next run resumes it with a Range request', async () => {
    const out = await tmp();
    modes.set('test.jsonl', 'truncate');
    const error = await rejection(fetchLcb({ out, endpoint, env: noEnv, release: 'v1' }));
    expect(error.message).toMatch(/^download of test\.jsonl (broke off after \d+ bytes|is truncated).*run the command again to resume$/);
    expect(existsSync(join(out, 'test.jsonl'))).toBe(false);
    const part = await readFile(join(out, 'test.jsonl.part'));
    expect(part.length).toBeGreaterThan(0);
    expect(part.length).toBeLessThan(fixtures.get('test.jsonl')!.length);

    modes.clear();
    served = [];
    const report = await fetchLcb({ out, endpoint, env: noEnv, release: 'v1' });
    expect(report.files[0]).toMatchObject({ file: 'test.jsonl', how: 'resumed', rows: 5 });
    expect(served).toEqual([{ url: 'test.jsonl', status: 206, range: `bytes=${part.length}-`, ifRange: etagOf(fixtures.get('test.jsonl')!) }]);
    expect(await readFile(join(out, 'test.jsonl'))).toEqual(fixtures.get('test.jsonl'));
    expect(await readdir(out)).toEqual(['test.jsonl']);
  });

  it('a .part of a file that changed on the server since is downloaded again from the start', async () => {
    const out = await tmp();
    const old = fixtures.get('test.jsonl')!;
    await writeFile(join(out, 'test.jsonl.part'), old.subarray(0, 100));
    await writeFile(join(out, 'test.jsonl.part.json'), JSON.stringify({ url: lcbFileUrl(endpoint, 'test.jsonl'), validator: '"old-version"' }));
    const changed = Buffer.from(fixtures.get('test2.jsonl')!);
    overrides.set('test.jsonl', changed);
    const report = await fetchLcb({ out, endpoint, env: noEnv, release: 'v1' });
    expect(report.files[0]!.how).toBe('downloaded');
    expect(served[0]).toMatchObject({ status: 200, ifRange: '"old-version"' });
    expect(await readFile(join(out, 'test.jsonl'))).toEqual(changed);
  });

  it('a file that does not load is reported, and neither it nor its .part is kept', async () => {
    const out = await tmp();
    modes.set('test2.jsonl', 'garbage');
    const error = await rejection(fetchLcb({ out, endpoint, env: noEnv, release: 'v2' }));
    expect(error.message).toMatch(/^test2\.jsonl is damaged \(test2\.jsonl:1: not a JSON object .*\); run the command again to download it anew$/);
    expect(await readdir(out)).toEqual(['test.jsonl']);
  });

  it('a damaged file already under its final name is downloaded again', async () => {
    const out = await tmp();
    await writeFile(join(out, 'test.jsonl'), fixtures.get('test.jsonl')!.subarray(0, 700));
    const report = await fetchLcb({ out, endpoint, env: noEnv, release: 'v1' });
    expect(report.files[0]).toMatchObject({ how: 'downloaded', rows: 5 });
    expect(await readFile(join(out, 'test.jsonl'))).toEqual(fixtures.get('test.jsonl'));
  });

  it('a full disk: one error, the partial file removed', async () => {
    const out = await tmp();
    await symlink('/dev/full', join(out, 'test.jsonl.part'));
    const error = await rejection(fetchLcb({ out, endpoint, env: noEnv, release: 'v1' }));
    expect(error.message).toBe('no space left on device while writing test.jsonl; the partial file was removed');
    expect(await readdir(out)).toEqual([]);
  });

  it('offline (nothing listening) and a stalled server give one error each', async () => {
    const probe = createServer();
    probe.listen(0, '127.0.0.1');
    await once(probe, 'listening');
    const closedPort = (probe.address() as AddressInfo).port;
    probe.close();
    const out = await tmp();
    const offline = await rejection(fetchLcb({ out, endpoint: `http://127.0.0.1:${closedPort}`, env: noEnv }));
    expect(offline.message).toBe(
      `cannot reach 127.0.0.1:${closedPort} for test.jsonl: ECONNREFUSED (offline? set HF_ENDPOINT or --endpoint for a mirror)`,
    );
    modes.set('test.jsonl', 'hang');
    const stalled = await rejection(fetchLcb({ out, endpoint, env: noEnv, stallMs: 300 }));
    expect(stalled.message).toMatch(/^download of test\.jsonl stalled: no data for 0 s from 127\.0\.0\.1:\d+; run the command again to resume$/);
    expect(existsSync(join(out, 'test.jsonl'))).toBe(false);
  });
});

describe('ttsd tasks fetch lcb (CLI)', () => {
  it('downloads, prints a summary, and show-preset lcbv6-hard works on the directory', async () => {
    const out = join(await tmp(), 'lcb');
    const r = await execa('node', [BIN, 'tasks', 'fetch', 'lcb', '--endpoint', endpoint, '--out', out], { reject: false });
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toContain(`release_v6: 6 files, 161 problems in ${out}; 131 in the LCBv6 window [2025-02-01, 2025-05-01) (the paper's 131)`);
    // Not a terminal: plain lines, no carriage returns.
    expect(r.stderr).toContain('downloading test6.jsonl');
    expect(r.stderr).toMatch(/^test6\.jsonl: downloaded, [\d.]+ MB, 136 problems, loads$/m);
    expect(r.stderr).not.toContain('\r');
    expect(r.stderr).toContain('ttsd: warning: release_v6 has 161 problems here; LiveCodeBench publishes 1055');

    const preset = await execa('node', [BIN, 'tasks', 'show-preset', 'lcbv6-hard', '--tasks', out, '--json'], { reject: false });
    expect(preset.exitCode).toBe(0);
    const ids = (JSON.parse(preset.stdout) as { ids: string[] }).ids;
    expect(ids).toHaveLength(19);
    expect(ids[0]).toBe('v6q001');
  });

  it('HF_ENDPOINT works, and an error is one line ttsd: … with a non-zero exit', async () => {
    const out = await tmp();
    modes.set('test2.jsonl', '404');
    const r = await execa('node', [BIN, 'tasks', 'fetch', 'lcb', '--release', 'v2', '--out', out], {
      reject: false,
      env: { HF_ENDPOINT: endpoint },
    });
    expect(r.exitCode).toBe(2);
    expect(r.stderr.trim().split('\n').at(-1)).toBe(`ttsd: ${lcbFileUrl(endpoint, 'test2.jsonl')}: HTTP 404 Not Found (no such file on this endpoint)`);
    expect(r.stderr.match(/^ttsd:/gm)).toHaveLength(1);
    expect(await readdir(out)).toEqual(['test.jsonl']);
    const unknown = await execa('node', [BIN, 'tasks', 'fetch', 'squad'], { reject: false });
    expect(unknown.exitCode).toBe(2);
    expect(unknown.stderr.trim()).toBe('ttsd: unknown dataset squad (known: lcb)');
  });
});

describe('scripts/paper.sh DRY_RUN=1', () => {
  it('fetches the LCB files when LCB_DIR is unset, resolves the preset, and prints the plan and its cost', async () => {
    const cache = await tmp();
    const r = await execa('bash', [new URL('../../scripts/paper.sh', import.meta.url).pathname, 'some-model.gguf'], {
      reject: false,
      env: { SKIP_SETUP: '1', DRY_RUN: '1', TTSD_CACHE: cache, HF_ENDPOINT: endpoint, TOK_S: '100', TOK_S_1: '50', OUT: join(cache, 'run') },
    });
    expect(r.exitCode).toBe(0);
    const lcb = join(cache, 'lcb', 'code_generation_lite');
    expect(r.stdout).toContain(`paper: LCB_DIR not set: fetching LiveCodeBench release_v6 into ${lcb}`);
    expect(r.stdout).toContain('paper: cost, at most: 19 tasks x 3 strategies x 5 seeds x 2750 generations = 783,750 generations');
    // 261,250 generations per strategy x 8192 tokens: two strategies at 100 tokens/s, multi-turn at 50.
    expect(r.stdout).toContain('= 23,779.6 hours of sampling (990.8 days)');
    expect(r.stdout).toContain('paper: tasks (lcbv6-hard): v6q001,v6q003,v6q010,');
    expect(r.stdout).toMatch(
      new RegExp(
        `^paper: command: node bin/ttsd.js run --model some-model.gguf --tasks ${lcb} --preset lcbv6-hard --strategies best-of-k,multi-turn,sdpo ` +
          '--seeds 5 --budget 2750 --rollouts 16 --max-tokens 8192 --context-size 10240 .*--out ',
        'm',
      ),
    );
    expect(r.stdout.trim().split('\n').at(-1)).toBe('paper: DRY_RUN=1: nothing run');
    expect(existsSync(join(cache, 'run'))).toBe(false);
  });
});
