/**
 * kill -9 at several moments, then `ttsd run --resume`: the finished log must hold exactly the
 * attempts of an uninterrupted run — none lost, none twice — and SDPO's train steps once each,
 * the trainer continuing from its saved state. Real parts (tiny model, Docker, native trainer).
 * ~3 min on 2 busy cores. --threads 1: with the CPU oversubscribed, llama.cpp's
 * spinning worker threads make --threads 2 up to 20× slower.
 */
import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tinyModel } from '../helpers/models.js';

const execFileAsync = promisify(execFile);
const root = path.resolve(import.meta.dirname, '../..');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ttsd-resume-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Ev = Record<string, any>;

const SETTINGS = ['--tasks', 'tasks', '--ids', 'ttsd-01', '--strategies', 'best-of-k,multi-turn,sdpo', '--budget', '6', '--seeds', '1', '--rollouts', '2', '--max-tokens', '16', '--context-size', '1024', '--threads', '1', '--concurrency', '2', '--lora-rank', '4', '--lora-alpha', '8', '--parallel-cells', '2'];

let model: string;
beforeAll(async () => {
  model = await tinyModel();
}, 300_000);

function readLog(dir: string): Ev[] {
  const text = fs.readFileSync(path.join(dir, 'events.jsonl'), 'utf8');
  return text.split('\n').filter((line) => line.trim() !== '').map((line) => JSON.parse(line));
}
function readLines(dir: string): string[] {
  try {
    return fs.readFileSync(path.join(dir, 'events.jsonl'), 'utf8').split('\n').slice(0, -1);
  } catch {
    return [];
  }
}
const attemptKeys = (events: Ev[]) => events.filter((e) => e.type === 'attempt').map((e) => `${e.strategy}/${e.seed}/${e.k}`);

/** Starts a run and SIGKILLs it as soon as `when(complete lines)` holds; fails if the run ends first. */
async function runAndKill(out: string, when: (lines: string[]) => boolean): Promise<number> {
  const child = spawn('node', ['bin/ttsd.js', 'run', '--model', model, '--out', out, ...SETTINGS], { cwd: root, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  let killedAt = -1;
  const poll = setInterval(() => {
    const lines = readLines(out);
    if (killedAt < 0 && when(lines)) {
      killedAt = lines.length;
      child.kill('SIGKILL');
    }
  }, 5);
  const code = await exited;
  clearInterval(poll);
  if (killedAt < 0) throw new Error(`the run ended (exit ${code}) before the kill point: ${stderr.slice(-500)}`);
  return killedAt;
}

async function resume(out: string): Promise<string> {
  const { stdout } = await execFileAsync('node', ['bin/ttsd.js', 'run', '--resume', out], { cwd: root, timeout: 600_000 });
  return stdout;
}

describe('resume after kill -9', () => {
  let reference: string[];

  it('an uninterrupted run is the reference', async () => {
    const out = path.join(tmp, 'reference');
    await execFileAsync('node', ['bin/ttsd.js', 'run', '--model', model, '--out', out, ...SETTINGS], { cwd: root, timeout: 600_000 });
    const events = readLog(out);
    reference = attemptKeys(events).sort();
    expect(reference).toHaveLength(18);
    expect(events.filter((e) => e.type === 'train_step').map((e) => e.step)).toEqual([1, 2]);
  }, 600_000);

  const afterFirstTrainStep = (lines: string[]) => lines.some((l) => l.includes('"type":"train_step"'));
  const killPoints: [string, (lines: string[]) => boolean][] = [
    ['right after the run event', (lines) => lines.length >= 1],
    ['after 4 events', (lines) => lines.length >= 4],
    ['right after the first train step', afterFirstTrainStep],
    ['mid-way through SDPO step 2', (lines) => lines.some((l) => l.includes('"strategy":"sdpo"') && l.includes('"step":2'))],
    // adapter paths are logged relative to the run directory, so a moved directory resumes too
    ['right after the first train step, the run directory then moved', afterFirstTrainStep],
  ];

  it.each(killPoints)('killed %s, resumed: same attempts, none twice, train steps once', async (name, when) => {
    let out = path.join(tmp, `kill-${Math.random().toString(36).slice(2)}`);
    const killedAt = await runAndKill(out, when);
    expect(readLog(out).length).toBeGreaterThanOrEqual(killedAt);
    if (name.endsWith('moved')) {
      const moved = `${out}-moved`;
      fs.renameSync(out, moved);
      out = moved;
      const logged = readLog(out).filter((e) => e.type === 'train_step');
      expect(logged.every((e) => !path.isAbsolute(e.adapter) && fs.existsSync(path.join(out, e.adapter)))).toBe(true);
    }
    const stdout = await resume(out);
    expect(stdout).toContain('18 generations over 3 cells');
    const events = readLog(out);
    const keys = attemptKeys(events);
    expect(new Set(keys).size).toBe(keys.length);
    expect(keys.sort()).toEqual(reference);
    const steps = events.filter((e) => e.type === 'train_step');
    expect(steps.map((e) => e.step)).toEqual([1, 2]);
    // the trainer resumed from its saved state: its own step counter went on, it did not restart
    expect(steps.map((e) => e.trainer_step)).toEqual([1, 2]);
    expect(events.filter((e) => e.type === 'cell_done')).toHaveLength(3);
    expect(events.filter((e) => e.type === 'resume')).toHaveLength(1);
    expect(events.at(-1)).toMatchObject({ type: 'run_done', attempts: 18 });
  }, 600_000);
});

/**
 * The rest of the family: grpo, ssd and opd (opd's teacher a second tiny model with the
 * student's tokenizer), killed at two moments and resumed. A random-weight model never passes,
 * so every grpo step has equal rewards: its steps are logged without signal and its trainer never
 * steps, and resuming must neither repeat nor lose them.
 */
describe('resume after kill -9: grpo, ssd, opd', () => {
  let teacher: string;
  let reference: string[];
  const family = () => [...SETTINGS.map((arg) => (arg === 'best-of-k,multi-turn,sdpo' ? 'grpo,ssd,opd' : arg)), '--teacher-model', teacher];
  const trainSteps = (events: Ev[]) => events.filter((e) => e.type === 'train_step').map((e) => `${e.strategy}/${e.step}/${e.signal ?? true}`).sort();

  beforeAll(async () => {
    teacher = await tinyModel({ layers: 3, seed: 11 });
  }, 300_000);

  it('an uninterrupted run is the reference', async () => {
    const out = path.join(tmp, 'family-reference');
    await execFileAsync('node', ['bin/ttsd.js', 'run', '--model', model, '--out', out, ...family()], { cwd: root, timeout: 600_000 });
    const events = readLog(out);
    reference = attemptKeys(events).sort();
    expect(reference).toHaveLength(18);
    expect(trainSteps(events)).toEqual(['grpo/1/false', 'grpo/2/false', 'opd/1/true', 'opd/2/true', 'ssd/1/true', 'ssd/2/true']);
    expect(events.filter((e) => e.type === 'train_step' && e.strategy !== 'grpo').map((e) => e.loss_kind).sort()).toEqual(['cross_entropy', 'cross_entropy', 'distill', 'distill']);
    expect(fs.readdirSync(path.join(out, 'trainer')).sort()).toEqual(['grpo__ttsd-01__seed0', 'opd__ttsd-01__seed0', 'ssd__ttsd-01__seed0']);
  }, 600_000);

  it.each([
    ['right after the first train step', (lines: string[]) => lines.some((l) => l.includes('"type":"train_step"'))],
    ['mid-way through ssd step 2', (lines: string[]) => lines.some((l) => l.includes('"strategy":"ssd"') && l.includes('"type":"attempt"') && l.includes('"step":2'))],
  ])('killed %s, resumed: same attempts and train steps, none twice', async (_name, when) => {
    const out = path.join(tmp, `family-kill-${Math.random().toString(36).slice(2)}`);
    const child = spawn('node', ['bin/ttsd.js', 'run', '--model', model, '--out', out, ...family()], { cwd: root, stdio: ['ignore', 'ignore', 'pipe'] });
    const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
    let killed = false;
    const poll = setInterval(() => {
      if (!killed && when(readLines(out))) {
        killed = true;
        child.kill('SIGKILL');
      }
    }, 5);
    await exited;
    clearInterval(poll);
    expect(killed).toBe(true);
    const stdout = await resume(out);
    expect(stdout).toContain('18 generations over 3 cells');
    const events = readLog(out);
    const keys = attemptKeys(events);
    expect(new Set(keys).size).toBe(keys.length);
    expect(keys.sort()).toEqual(reference);
    expect(trainSteps(events)).toEqual(['grpo/1/false', 'grpo/2/false', 'opd/1/true', 'opd/2/true', 'ssd/1/true', 'ssd/2/true']);
    // the trainers resumed from their saved state; grpo's never stepped
    for (const label of ['ssd', 'opd']) expect(events.filter((e) => e.type === 'train_step' && e.strategy === label).map((e) => e.trainer_step)).toEqual([1, 2]);
    expect(events.filter((e) => e.type === 'train_step' && e.strategy === 'grpo').map((e) => e.trainer_step)).toEqual([0, 0]);
    expect(events.at(-1)).toMatchObject({ type: 'run_done', attempts: 18 });
  }, 600_000);
});

describe('a full disk during a run', () => {
  it('stops with one line and a non-zero exit, every event written before intact, and resumes once there is room', async () => {
    const mount = path.join(tmp, 'small-disk');
    fs.mkdirSync(mount);
    // Two pages: the run event (every setting and each variant's protocol with its traits) fits, the attempts do not.
    await execFileAsync('mount', ['-t', 'tmpfs', '-o', 'size=8k', 'tmpfs', mount]);
    const out = path.join(mount, 'run');
    try {
      let failure: { code: number; stderr: string } | undefined;
      try {
        // Without SDPO, so the event log (not the trainer's adapter files) is what fills the disk.
        const settings = SETTINGS.map((arg) => (arg === 'best-of-k,multi-turn,sdpo' ? 'best-of-k,multi-turn' : arg));
        await execFileAsync('node', ['bin/ttsd.js', 'run', '--model', model, '--out', out, ...settings], { cwd: root, timeout: 600_000 });
      } catch (error) {
        failure = error as { code: number; stderr: string };
      }
      expect(failure?.code).toBe(28);
      // progress lines, then exactly one error line, no stack trace
      const errorLines = failure!.stderr.split('\n').filter((line) => line.startsWith('ttsd:') || /^\s+at /.test(line));
      expect(errorLines).toHaveLength(1);
      // the default multi-turn prompt limit (the paper's 32,000) did not fit --context-size 1024, and
      // --gpu auto found no GPU: each said once, at start
      expect(failure!.stderr.split('\n').filter((line) => line.startsWith('note: '))).toEqual([
        "note: multi-turn prompt limit clamped to 1008 tokens (the paper's is 32000): --context-size 1024 − --max-tokens 16; --context-size 32016 gives the paper's",
        'note: --gpu auto: node-llama-cpp finds no usable GPU here; sampling on the CPU', // no learning strategy in this run
      ]);
      expect(failure!.stderr.trimEnd().split('\n').at(-1)).toMatch(/^ttsd: no space left on device while writing .*events\.jsonl; the events written before are intact/);
      const text = fs.readFileSync(path.join(out, 'events.jsonl'), 'utf8');
      expect(text.endsWith('\n')).toBe(true);
      const events = readLog(out);
      expect(events[0].type).toBe('run');
      expect(events.filter((e) => e.type === 'attempt').length).toBeGreaterThan(0);
      // Room again (the file system grows): the same run finishes in place.
      await execFileAsync('mount', ['-o', 'remount,size=64m', mount]);
      await resume(out);
      const finished = readLog(out);
      expect(finished.slice(0, events.length)).toEqual(events);
      const keys = attemptKeys(finished);
      expect(new Set(keys).size).toBe(keys.length);
      expect(keys).toHaveLength(12);
    } finally {
      await execFileAsync('umount', [mount]);
    }
  }, 600_000);
});
