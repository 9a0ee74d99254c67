/** `ttsd report` through the real CLI entry (bin/ttsd.js), on directories holding only events.jsonl. */
import { execFile } from 'node:child_process';
import { mkdtemp, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HAND_LOG, HAND_LOG_LINES } from './hand-log.js';

const run = promisify(execFile);
const BIN = path.resolve('bin/ttsd.js');
let root: string;

async function ttsd(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [BIN, ...args], { encoding: 'utf8' });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

async function runDir(name: string, contents?: string): Promise<string> {
  const dir = path.join(root, name);
  await mkdir(dir, { recursive: true });
  if (contents !== undefined) await writeFile(path.join(dir, 'events.jsonl'), contents);
  return dir;
}

beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'ttsd-report-cli-'));
});
afterAll(async () => rm(root, { recursive: true, force: true }));

describe('ttsd report', () => {
  it('--json prints exactly one JSON object with the hand-computed numbers', async () => {
    const dir = await runDir('json', HAND_LOG);
    const { code, stdout, stderr } = await ttsd('report', dir, '--json');
    expect(code).toBe(0);
    expect(stdout.trim().split('\n')).toHaveLength(1);
    const summary = JSON.parse(stdout);
    expect(summary.budget).toBe(4);
    expect(Object.keys(summary.strategies)).toEqual(['best-of-k', 'sdpo']);
    const best = summary.strategies['best-of-k'];
    expect(best).toMatchObject({ runs: 4, solved: 2, mean_min_T: 3.25 });
    expect(best.discovery.map((row: number[]) => [row[0], row[1]])).toEqual([[1, 0], [2, 0.25], [3, 0.5], [4, 0.5]]);
    for (const row of best.discovery) {
      expect(row).toHaveLength(4);
      expect(row[2]).toBeLessThanOrEqual(row[3]);
    }
    expect(best.pass_at_k[0][1]).toBeCloseTo(5 / 24, 12);
    expect(summary.strategies.sdpo).toMatchObject({ runs: 4, solved: 2, mean_min_T: 2.75 });
    expect(stderr).toMatch(/warning: ignored 2 duplicate attempt/);
    expect(await readdir(dir)).toEqual(['events.jsonl']); // --json alone writes nothing
  });

  it('writes report.html and prints a summary table', async () => {
    const dir = await runDir('html', HAND_LOG);
    const { code, stdout } = await ttsd('report', dir);
    expect(code).toBe(0);
    expect(stdout).toMatch(/^strategy\s+runs\s+solved/);
    expect(stdout).toMatch(/sdpo\s+4\s+2/);
    expect(stdout).toContain(path.join(dir, 'report.html'));
    const html = await readFile(path.join(dir, 'report.html'), 'utf8');
    expect(html).toMatch(/^<!DOCTYPE html>/);
    expect(html).not.toMatch(/<script|<link|@import|url\(|src=/i); // self-contained
  });

  it('handles a run that has not recorded any attempt yet', async () => {
    const dir = await runDir('fresh', `${HAND_LOG_LINES[0]}\n`);
    const json = await ttsd('report', dir, '--json');
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toMatchObject({ budget: 4, strategies: {} });
    const table = await ttsd('report', dir);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/no attempts recorded yet/);
    expect(await readFile(path.join(dir, 'report.html'), 'utf8')).toContain('No attempts recorded yet');
  });

  it('--out writes the page elsewhere', async () => {
    const dir = await runDir('out', HAND_LOG);
    const target = path.join(root, 'elsewhere.html');
    const { code } = await ttsd('report', dir, '--out', target);
    expect(code).toBe(0);
    expect(await readFile(target, 'utf8')).toContain('data-chart="discovery"');
  });

  it('ignores a truncated last line with a warning', async () => {
    const dir = await runDir('truncated', `${HAND_LOG}{"type":"attempt","task":"A","str`);
    const { code, stdout, stderr } = await ttsd('report', dir, '--json');
    expect(code).toBe(0);
    expect(JSON.parse(stdout).strategies.sdpo.runs).toBe(4);
    expect(stderr).toMatch(/truncated last line \(line \d+\)/);
  });

  it('fails with one clear line on bad input', async () => {
    const cases: Array<[string, RegExp]> = [
      [path.join(root, 'missing'), /run directory not found/],
      [await runDir('empty'), /no events\.jsonl in/],
      [await runDir('norun', `${HAND_LOG_LINES[1]}\n`), /events\.jsonl:1: the log must start with a run event/],
      [await runDir('malformed', `${HAND_LOG_LINES.slice(0, 3).join('\n')}\nnot json\n${HAND_LOG_LINES[3]}\n`), /malformed\/events\.jsonl:4: not valid JSON/],
    ];
    for (const [dir, message] of cases) {
      const { code, stdout, stderr } = await ttsd('report', dir, '--json');
      expect(code).not.toBe(0);
      expect(stdout).toBe('');
      expect(stderr).toMatch(message);
      expect(stderr.trim().split('\n')).toHaveLength(1);
      expect(stderr).toMatch(/^ttsd: /);
    }
  });
});
