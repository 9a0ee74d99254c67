/**
 * The full search loop with the real parts: a tiny random-weight model through node-llama-cpp,
 * the Docker sandbox and the native SDPO trainer, on a shipped task. ~1 min on 2 busy cores (--threads 1, see resume.test.ts).
 *
 * 1. `ttsd run` end to end as a user runs it (the random model never writes a program).
 * 2. In process, with the real sampler's responses rewritten at chosen generations into a wrong
 *    and a correct program (tokens stay the model's own), so the real sandbox grades real
 *    programs: wrong answers give feedback the strategies use, the correct one is a discovery
 *    that is re-graded on the private tests and stops its cell.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChatMessage, Sampler } from '../../src/model/types.js';
import { RewritingSampler, withProgram } from '../../src/run/bench.js';
import { MULTI_TURN_FEEDBACK_PREFIX, MULTI_TURN_FEEDBACK_SUFFIX } from '../../src/prompts/index.js';
import { resolveConfig } from '../../src/run/config.js';
import { historyFromEvents } from '../../src/run/history.js';
import { runSearch } from '../../src/run/loop.js';
import type { Progress } from '../../src/run/progress.js';
import type { RunServices } from '../../src/run/services.js';
import { RunStore } from '../../src/run/store.js';
import { STRATEGY_NAMES } from '../../src/strategies/index.js';
import { stepSeed } from '../../src/strategies/steps.js';
import { loadTasks } from '../../src/tasks/load.js';
import { selectTasks } from '../../src/tasks/select.js';
import { tinyModel } from '../helpers/models.js';
import { realServices } from './real-parts.js';

const execFileAsync = promisify(execFile);
const root = path.resolve(import.meta.dirname, '../..');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ttsd-full-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Ev = Record<string, any>;
const readLog = (dir: string): Ev[] => fs.readFileSync(path.join(dir, 'events.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
const SMALL = { rollouts: 2, 'max-tokens': 24, 'context-size': 1024, 'max-prompt-tokens': 900, threads: 1, concurrency: 2, 'lora-rank': 4, 'lora-alpha': 8 };

let model: string;
beforeAll(async () => {
  model = await tinyModel();
}, 300_000);

describe('full loop, real parts', () => {
  it('`ttsd run` searches a shipped task with all three strategies and logs the contract events', async () => {
    const out = path.join(tmp, 'cli-run');
    const args = ['bin/ttsd.js', 'run', '--model', model, '--tasks', 'tasks', '--ids', 'ttsd-01', '--strategies', 'best-of-k,multi-turn,sdpo', '--budget', '4', '--seeds', '1', '--out', out];
    for (const [key, value] of Object.entries(SMALL)) args.push(`--${key}`, String(value));
    const { stdout } = await execFileAsync('node', args, { cwd: root, timeout: 600_000 });
    expect(stdout).toContain(`${out}: 12 generations over 3 cells`);
    const events = readLog(out);
    expect(events[0]).toMatchObject({ type: 'run', budget: 4, strategies: ['best-of-k', 'multi-turn', 'sdpo'], seeds: [0], tasks: ['ttsd-01'], rollouts: 2, multi_turn_generations: 1, multi_turn_template: 'feedback-only', lr: 1e-4 });
    expect(events[0].protocols.map((p: Ev) => [p.strategy, p.label, p.generations_per_step, p.learns])).toEqual([
      ['best-of-k', 'best-of-k', 2, false],
      ['multi-turn', 'multi-turn', 1, false],
      ['sdpo', 'sdpo', 2, true],
    ]);
    for (const strategy of ['best-of-k', 'multi-turn', 'sdpo']) {
      const attempts = events.filter((e) => e.type === 'attempt' && e.strategy === strategy);
      expect(attempts.map((a) => a.k).sort((a, b) => a - b)).toEqual([1, 2, 3, 4]);
      for (const a of attempts) {
        // G = 2 per step for best-of-K and SDPO; multi-turn takes one generation per turn
        expect(a).toMatchObject({ task: 'ttsd-01', seed: 0, step: strategy === 'multi-turn' ? a.k : Math.ceil(a.k / 2), private_reward: 0 });
        expect(a.tokens).toBeGreaterThan(0);
        expect(a.tokens).toBeLessThanOrEqual(24);
        expect(typeof a.verdict).toBe('string');
      }
    }
    // SDPO trains after step 1 (not after the last) and samples step 2 with the new adapter.
    const steps = events.filter((e) => e.type === 'train_step');
    expect(steps.map((s) => s.step)).toEqual([1]);
    for (const s of steps) {
      // kl_after is only measured with the trainer's measureKlAfter (off by default: NaN, null in JSON)
      expect(Number.isFinite(s.loss) && Number.isFinite(s.kl_before) && Number.isFinite(s.grad_norm)).toBe(true);
      expect(path.isAbsolute(s.adapter)).toBe(false); // relative to the run directory
      expect(fs.existsSync(path.join(out, s.adapter))).toBe(true);
    }
    const sdpoAdapters = events.filter((e) => e.type === 'attempt' && e.strategy === 'sdpo').map((a) => [a.step, a.adapter]);
    for (const [step, adapter] of sdpoAdapters) expect(adapter).toBe(step === 1 ? null : steps[step - 2].adapter);
    expect(events.filter((e) => e.type === 'cell_done')).toHaveLength(3);
    expect(events.at(-2)).toMatchObject({ type: 'utilisation' });
    expect(events.at(-2)!.sampler).toBeGreaterThan(0);
    expect(events.at(-2)!.trainer).toBeGreaterThan(0);
    expect(events.at(-1)).toMatchObject({ type: 'run_done', attempts: 12 });
  }, 600_000);

  it('real programs through the real sandbox: feedback drives multi-turn and SDPO, a correct program is a discovery that stops its cell', async () => {
    const tasks = selectTasks(await loadTasks(path.join(root, 'tasks')), { ids: ['ttsd-01'] });
    const correct = fs.readFileSync(path.join(root, 'tasks/solutions/ttsd-01.py'), 'utf8');
    const wrong = 'print(-1)\n';
    // Which generation gets the correct program, per strategy: (step, position).
    const solvedAt: Record<string, [number, number]> = { 'best-of-k': [2, 1], 'multi-turn': [5, 1], sdpo: [2, 2] };
    const config = resolveConfig({ model, ...SMALL, budget: 8, seeds: [0], 'parallel-cells': 3 }, {}, STRATEGY_NAMES);
    const real = await realServices(model, SMALL);
    const rewriting = rewritingSampler(real.sampler, (seed) => {
      for (const [strategy, [step, position]] of Object.entries(solvedAt)) {
        for (let s = 1; s <= 8; s++) if (stepSeed('ttsd-01', strategy, 0, s) === seed) return (j: number) => (s === step && j === position ? correct : wrong);
      }
      throw new Error(`unexpected seed ${seed}`);
    });
    const services: RunServices = { ...real, sampler: rewriting };
    const dir = path.join(tmp, 'in-process');
    const store = RunStore.create(dir);
    store.append({ type: 'run', version: 1, budget: config.budget, strategies: config.strategies, seeds: config.seeds, tasks: tasks.map((t) => t.id) });
    const quiet: Progress = { start() {}, attempt() {}, trainStep() {}, cellDone() {}, finish() {} };
    try {
      await runSearch({ config, tasks, runDir: dir, store, history: historyFromEvents([]), services, progress: quiet });
    } finally {
      store.close();
      await real.close();
    }
    const events = readLog(dir);
    const done = Object.fromEntries(events.filter((e) => e.type === 'cell_done').map((e) => [e.strategy, e]));
    expect(done['best-of-k']).toMatchObject({ discovery_k: 3, attempts: 4 });
    expect(done['multi-turn']).toMatchObject({ discovery_k: 5, attempts: 5 });
    expect(done.sdpo).toMatchObject({ discovery_k: 4, attempts: 4 });
    const attempts = events.filter((e) => e.type === 'attempt');
    for (const a of attempts) {
      const [step, position] = solvedAt[a.strategy];
      if (a.step === step && a.position === position) {
        expect(a).toMatchObject({ reward: 1, private_reward: 1, verdict: 'accepted', feedback: '' });
      } else {
        expect(a).toMatchObject({ reward: 0, private_reward: 0, verdict: 'wrong_answer' });
        expect(a.feedback).toMatch(/Wrong Answer/);
      }
    }
    // Multi-turn's fifth turn (one generation each) carries the sandbox's feedback of the four failed turns.
    const multiTurnPrompts = rewriting.calls.filter((c) => c.seed === stepSeed('ttsd-01', 'multi-turn', 0, 5));
    expect(multiTurnPrompts).toHaveLength(1);
    const lastUser = multiTurnPrompts[0].messages.at(-1)!.content;
    const earlier = attempts.filter((a) => a.strategy === 'multi-turn' && a.step < 5).sort((a, b) => a.k - b.k);
    expect(earlier).toHaveLength(4);
    expect(lastUser).toContain(MULTI_TURN_FEEDBACK_PREFIX + earlier.map((a) => a.feedback).join('\n\n') + MULTI_TURN_FEEDBACK_SUFFIX);
    // SDPO trained once, on feedback teacher contexts, and sampled step 2 with the new adapter.
    const trained = events.filter((e) => e.type === 'train_step');
    expect(trained).toHaveLength(1);
    expect(trained[0]).toMatchObject({ strategy: 'sdpo', step: 1, masked: 0 });
    expect(attempts.filter((a) => a.strategy === 'sdpo' && a.step === 2).every((a) => a.adapter === trained[0].adapter)).toBe(true);
  }, 600_000);
});

describe('the whole family, real parts', () => {
  it('`ttsd run --strategies best-of-k,sdpo,grpo,ssd,opd --teacher-model T`: every attempt, train steps for the four that learn, a report row for each', async () => {
    const teacher = await tinyModel({ layers: 3, seed: 11 });
    const out = path.join(tmp, 'family');
    const args = ['bin/ttsd.js', 'run', '--model', model, '--teacher-model', teacher, '--tasks', 'tasks', '--ids', 'ttsd-01', '--strategies', 'best-of-k,sdpo,grpo,ssd,opd', '--budget', '4', '--seeds', '1', '--out', out];
    for (const [key, value] of Object.entries(SMALL)) args.push(`--${key}`, String(value));
    const { stdout } = await execFileAsync('node', args, { cwd: root, timeout: 600_000 });
    expect(stdout).toContain(`${out}: 20 generations over 5 cells`);
    const events = readLog(out);
    expect(events[0].protocols.map((p: Ev) => [p.variant, p.learns, p.independent, p.loss])).toEqual([
      ['best-of-k', false, true, null],
      ['sdpo', true, false, 'distill'],
      ['grpo', true, false, 'policy_gradient'],
      ['ssd', true, false, 'cross_entropy'],
      ['opd', true, false, 'distill'],
    ]);
    for (const strategy of ['best-of-k', 'sdpo', 'grpo', 'ssd', 'opd']) {
      expect(events.filter((e) => e.type === 'attempt' && e.strategy === strategy).map((a) => a.k).sort()).toEqual([1, 2, 3, 4]);
    }
    // grpo samples with log-probs (its ratio's π_old) and keeps them for a resume
    expect(events.filter((e) => e.type === 'attempt' && e.strategy === 'grpo').every((a) => a.response_logprobs?.length === a.tokens)).toBe(true);
    const steps = events.filter((e) => e.type === 'train_step');
    expect(steps.map((e) => [e.strategy, e.step, e.loss_kind, e.signal ?? true])).toEqual(
      expect.arrayContaining([
        ['sdpo', 1, 'distill', true],
        ['ssd', 1, 'cross_entropy', true],
        ['opd', 1, 'distill', true],
        // a random model fails every attempt: equal rewards, no signal, no update
        ['grpo', 1, 'policy_gradient', false],
      ]),
    );
    expect(steps).toHaveLength(4);
    const { stdout: json } = await execFileAsync('node', ['bin/ttsd.js', 'report', out, '--json', '--out', path.join(out, 'report.html')], { cwd: root, timeout: 120_000 });
    const summary = JSON.parse(json) as { strategies: Record<string, Ev> };
    expect(Object.keys(summary.strategies)).toEqual(['best-of-k', 'sdpo', 'grpo', 'ssd', 'opd']);
    for (const learner of ['sdpo', 'grpo', 'ssd', 'opd']) expect(summary.strategies[learner].vs_baseline).toMatchObject({ baseline: 'best-of-k', runs: 1 });
    expect(summary.strategies.grpo.train_steps).toEqual({ with_signal: 0, without_signal: 1 });
    expect(fs.readFileSync(path.join(out, 'report.html'), 'utf8')).toContain('Against best-of-K');
  }, 600_000);

  it('refuses at start, in one line: a teacher with another vocabulary; a reference context for a task without a reference solution', async () => {
    const other = await tinyModel({ arch: 'llama' });
    const refusal = async (args: string[]) => {
      try {
        await execFileAsync('node', ['bin/ttsd.js', 'run', '--model', model, '--ids', 'ttsd-01', '--budget', '2', '--seeds', '1', '--gpu', 'off', '--threads', '1', '--out', path.join(tmp, `refused-${Math.random()}`), ...args], { cwd: root, timeout: 120_000 });
      } catch (error) {
        return error as { code: number; stderr: string };
      }
      throw new Error('the run was not refused');
    };
    const vocabulary = await refusal(['--tasks', 'tasks', '--strategies', 'opd', '--teacher-model', other]);
    expect(vocabulary.code).not.toBe(0);
    expect(vocabulary.stderr).toMatch(/^ttsd: --teacher-model .*the teacher must share the student's vocabulary\)\n$/);
    const tasksFile = path.join(tmp, 'no-reference.jsonl');
    const record = JSON.parse(fs.readFileSync(path.join(root, 'tasks/ttsd-v1.jsonl'), 'utf8').split('\n')[0]);
    delete record.reference_solution;
    fs.writeFileSync(tasksFile, JSON.stringify(record) + '\n');
    const reference = await refusal(['--tasks', tasksFile, '--strategies', 'sdpo', '--teacher-context', 'reference']);
    expect(reference.code).not.toBe(0);
    expect(reference.stderr).toBe('ttsd: sdpo: --teacher-context reference needs a reference solution, and task ttsd-01 has none\n');
  }, 600_000);
});

/** The real sampler, with each response's text replaced by a fenced program chosen per generation; records each call. */
function rewritingSampler(inner: Sampler, programFor: (seed: number) => (position: number) => string) {
  const calls: { messages: ChatMessage[]; seed: number }[] = [];
  const sampler = new RewritingSampler(inner, (rollouts, messages, options) => {
    calls.push({ messages, seed: options.seed });
    const program = programFor(options.seed);
    return rollouts.map((r, i) => withProgram(r, program(i + 1)));
  });
  return Object.assign(sampler, { calls });
}
