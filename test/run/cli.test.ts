import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { tinyModel } from '../helpers/models.js';

const run = promisify(execFile);
const root = path.resolve(import.meta.dirname, '../..');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ttsd-cli-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
const model = path.join(tmp, 'model.gguf');
fs.writeFileSync(model, 'not loaded: every case fails before anything starts');

async function ttsd(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return ttsdWith({}, ...args);
}

async function ttsdWith(env: Record<string, string>, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run('node', ['bin/ttsd.js', ...args], { cwd: root, env: { ...process.env, SLURM_ARRAY_TASK_ID: '', JOB_COMPLETION_INDEX: '', ...env } });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

/** One `ttsd: ...` line, a non-zero exit and no run directory left behind. */
async function refuses(args: string[], message: RegExp): Promise<void> {
  const out = path.join(tmp, `run-${Math.random().toString(36).slice(2)}`);
  const result = await ttsd('run', '--tasks', 'tasks', '--model', model, '--out', out, ...args);
  expect(result.code).not.toBe(0);
  expect(result.stderr).toMatch(/^ttsd: [^\n]+\n$/);
  expect(result.stderr).toMatch(message);
  expect(fs.existsSync(out)).toBe(false);
}

describe('ttsd run refuses bad input up front', () => {
  it('bad flag values', async () => {
    await refuses(['--budget', 'many'], /--budget must be an integer/);
    await refuses(['--strategies', 'best-of-k,beam'], /--strategies must list some of best-of-k, multi-turn, sdpo/);
    await refuses(['--divergence', 'l2'], /--divergence must be one of/);
  });

  it('bad shards, from the flag or from the scheduler\'s environment', async () => {
    await refuses(['--shard', '3/2'], /^ttsd: --shard must be i\/n with 1 ≤ i ≤ n \(e\.g\. 2\/8\), got "3\/2"\n$/);
    await refuses(['--shard-count', '4'], /^ttsd: --shard-count needs JOB_COMPLETION_INDEX \(a Kubernetes Indexed Job\); on its own, use --shard i\/n\n$/);
    const out = path.join(tmp, 'run-env-shard');
    let result = await ttsdWith({ JOB_COMPLETION_INDEX: '4' }, 'run', '--tasks', 'tasks', '--model', model, '--out', out, '--shard-count', '4');
    expect(result.stderr).toMatch(/^ttsd: JOB_COMPLETION_INDEX=4 is outside 0\.\.3 \(--shard-count 4\)\n$/);
    result = await ttsdWith({ SLURM_ARRAY_TASK_ID: '9', SLURM_ARRAY_TASK_MIN: '0', SLURM_ARRAY_TASK_COUNT: '4' }, 'run', '--tasks', 'tasks', '--model', model, '--out', out);
    expect(result.stderr).toMatch(/^ttsd: SLURM array task 9 is not one of 4 consecutive tasks from 0/);
    expect(result.code).not.toBe(0);
    expect(fs.existsSync(out)).toBe(false);
  });

  it('a missing model, unknown task ids, a missing task file', async () => {
    await refuses(['--model', path.join(tmp, 'nope.gguf')], /model file not found/);
    await refuses(['--ids', 'ttsd-01,no-such-task'], /unknown task id: no-such-task/);
    await refuses(['--tasks', path.join(tmp, 'none.jsonl')], /task file or directory not found/);
  });

  it('a broken or wrong config file', async () => {
    const broken = path.join(tmp, 'broken.json');
    fs.writeFileSync(broken, '{"budget": 4,');
    await refuses(['--config', broken], /config file .*broken\.json is not valid JSON/);
    const wrong = path.join(tmp, 'wrong.json');
    fs.writeFileSync(wrong, JSON.stringify({ budget: 4, 'lora-rnak': 8 }));
    await refuses(['--config', wrong], /config file: unknown setting "lora-rnak"/);
  });

  it('an unwritable results directory', async () => {
    const file = path.join(tmp, 'a-file');
    fs.writeFileSync(file, '');
    const result = await ttsd('run', '--tasks', 'tasks', '--ids', 'ttsd-01', '--model', model, '--out', path.join(file, 'run'));
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/^ttsd: cannot create the run store in .*a-file\/run: ENOTDIR[^\n]*\n$/);
  });

  it('resuming something that is not a run, or changing its settings', async () => {
    const empty = path.join(tmp, 'empty');
    fs.mkdirSync(empty);
    let result = await ttsd('run', '--resume', empty);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/^ttsd: .*holds no run \(no events\.jsonl\)\n$/);
    result = await ttsd('run', '--resume', empty, '--budget', '9');
    expect(result.stderr).toMatch(/^ttsd: --resume continues a run with its recorded settings; only --threads, --concurrency, --parallel-cells, --gpu, --gpu-layers, --docker-hosts, --sampler, --server, --server-kind, --adapter-dir may change\n$/);
    // the device may change on resume: past the settings check, to the missing run
    result = await ttsd('run', '--resume', empty, '--gpu', 'off', '--gpu-layers', '8');
    expect(result.stderr).toMatch(/^ttsd: .*holds no run \(no events\.jsonl\)\n$/);
  });

  it('--gpu cuda where node-llama-cpp finds no CUDA (this machine), and bad --gpu values', async () => {
    await refuses(['--gpu', 'cuda'], /^ttsd: --gpu cuda: node-llama-cpp cannot use CUDA on this machine \(no GPU, driver or matching prebuilt binary; usable GPU backends: none\); use --gpu auto or --gpu off\n$/);
    await refuses(['--gpu', 'rocm'], /--gpu must be one of auto, cuda, vulkan, off/);
    await refuses(['--gpu-layers', 'all'], /--gpu-layers must be a layer count/);
  });

  it('a context that cannot hold the longest prompt + --max-tokens (the prompts rendered by the model)', async () => {
    const tiny = await tinyModel();
    await refuses(['--model', tiny, '--ids', 'ttsd-01', '--strategies', 'best-of-k', '--max-tokens', '4000', '--context-size', '4096', '--gpu', 'off', '--threads', '1'], /^ttsd: --context-size 4096 cannot hold the longest prompt \(\d+ tokens, task ttsd-01\) \+ --max-tokens 4000 = \d+; raise --context-size or lower --max-tokens\n$/);
  }, 120_000);
});
