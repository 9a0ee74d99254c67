/**
 * SDPO through `ttsd run` at a length the trainer's old default (2048) could not hold: responses of
 * 3000 tokens (the random-weight tiny model almost never ends a response, so they reach the
 * limit), trained on with the length the run derived at start. Also: `--gpu auto` says in one
 * line that it samples on the CPU here. ~2.5 min on 2 busy cores (--threads 1), most of it sampling 9000 tokens.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { tinyModel } from '../helpers/models.js';

const execFileAsync = promisify(execFile);
const root = path.resolve(import.meta.dirname, '../..');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ttsd-long-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Ev = Record<string, any>;

const MAX_TOKENS = 3000;

describe('long sequences', () => {
  it('`ttsd run --strategies sdpo` samples 3000-token responses and trains on them', async () => {
    const model = await tinyModel();
    const out = path.join(tmp, 'run');
    const flags = {
      tasks: 'tasks',
      ids: 'ttsd-01',
      strategies: 'sdpo',
      budget: 3, // step 1 (2 rollouts), its training step, step 2 (1 rollout)
      rollouts: 2,
      seeds: 1,
      'max-tokens': MAX_TOKENS,
      'context-size': 4096,
      // the teacher sees the question and the short feedback of a response without code
      'max-teacher-prompt-tokens': 768,
      threads: 1,
      concurrency: 2,
      'lora-rank': 4,
      'lora-alpha': 8,
      gpu: 'auto',
    };
    const args = ['bin/ttsd.js', 'run', '--model', model, '--out', out, ...Object.entries(flags).flatMap(([k, v]) => [`--${k}`, String(v)])];
    const { stdout, stderr } = await execFileAsync('node', args, { cwd: root, timeout: 900_000, maxBuffer: 64 << 20 });
    expect(stdout).toContain(`${out}: 3 generations over 1 cells`);
    // one line says where it samples: no GPU here
    expect(stderr.split('\n').filter((l) => l.includes('--gpu'))).toEqual(['note: --gpu auto: node-llama-cpp finds no usable GPU here; sampling and training on the CPU']);

    const events: Ev[] = fs.readFileSync(path.join(out, 'events.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    const run = events[0]!;
    expect(run).toMatchObject({ type: 'run', gpu: 'auto', gpu_layers: 'max', max_tokens: MAX_TOKENS, devices: { sampling: 'cpu', trainer: 'cpu' } });
    // the trainer's length: the longest prompt (student, or teacher cut to 768) + the response limit
    expect(run.lengths.trainer_max_tokens).toBe(Math.max(run.lengths.longest_prompt, 768) + MAX_TOKENS);
    expect(run.lengths.trainer_max_tokens).toBeGreaterThan(2048);

    // sampling is seeded: this task and seed give responses that all reach the limit
    const attempts = events.filter((e) => e.type === 'attempt');
    expect(attempts.map((a) => [a.step, a.tokens, a.finish_reason])).toEqual([
      [1, MAX_TOKENS, 'length'],
      [1, MAX_TOKENS, 'length'],
      [2, MAX_TOKENS, 'length'],
    ]);

    expect(events.some((e) => e.type === 'run_done')).toBe(true);
    const steps = events.filter((e) => e.type === 'train_step');
    expect(steps).toHaveLength(1); // after step 1; none follows the last step
    const step = steps[0]!;
    // both rollouts of step 1 carry feedback (no code), so both are trained on: 3000 tokens each
    expect(step.masked).toBe(0);
    expect(step.tokens).toBe(2 * MAX_TOKENS);
    expect(step.skipped).toBe(false);
    for (const key of ['loss', 'kl_before', 'grad_norm']) expect(Number.isFinite(step[key]), key).toBe(true);
  }, 900_000);
});
