// The run's lengths and the start-up refusals (lengths.ts, devices.ts), with scripted prompts and
// probes: no model, no GPU.
import { describe, expect, it } from 'vitest';
import { UserError } from '../../src/errors.js';
import type { ChatMessage } from '../../src/model/types.js';
import { generationMessages, teacherMessages } from '../../src/prompts/index.js';
import { resolveDevices, type DeviceProbe } from '../../src/run/devices.js';
import {
  checkContext,
  checkTrainerMemory,
  deriveLengths,
  FEEDBACK_TOKENS,
  JOIN_SLACK_TOKENS,
  kvBytesPerToken,
  samplerPlan,
  trainerMemoryBytes,
  blockedAttentionRows,
  type ModelShape,
} from '../../src/run/lengths.js';
import { runSearch } from '../../src/run/loop.js';
import type { Progress } from '../../src/run/progress.js';
import { RunStore } from '../../src/run/store.js';
import { resolveConfig } from '../../src/run/config.js';
import { STRATEGY_NAMES } from '../../src/strategies/index.js';
import type { Task } from '../../src/tasks/types.js';
import { NO_NVCC_MESSAGE } from '../../src/trainer/build.js';
import type { TrainerConfig } from '../../src/trainer/types.js';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { task as toyTask } from '../strategies/scripted.js';
import { scriptedServices, CountingTrainer } from './scripted-services.js';

/** One token per character: lengths are easy to predict. */
const charSampler = { renderPrompt: async (messages: ChatMessage[]) => Array.from(messages.map((m) => m.content).join(''), () => 1) };
const task = (id: string, content: string): Task => ({ ...toyTask, id, content, starterCode: '' });
const chars = (messages: ChatMessage[]) => messages.map((m) => m.content).join('').length;

describe('run lengths', () => {
  const short = task('short', 'q'.repeat(100));
  const long = task('long', 'q'.repeat(900));

  it('the trainer length is the longest of student and teacher prompt, plus --max-tokens', async () => {
    const settings = { maxTokens: 3000, maxTeacherPromptTokens: 10240, contextSize: 16384 };
    const lengths = await deriveLengths(settings, [short, long], charSampler);
    expect(lengths.studentPrompt).toBe(chars(generationMessages(long)));
    expect(lengths.studentTask).toBe('long');
    // a sibling's response (≤ --max-tokens) is the longest teacher source here
    const withSolution = chars(teacherMessages(long, { kind: 'solution', text: '' })) + 3000 + JOIN_SLACK_TOKENS;
    expect(lengths.teacherPrompt).toBe(withSolution);
    expect(lengths.trainer).toBe(withSolution + 3000);
  });

  it('feedback bounds the teacher prompt when responses are short; --max-teacher-prompt-tokens caps it', async () => {
    const small = await deriveLengths({ maxTokens: 100, maxTeacherPromptTokens: 10240, contextSize: 4096 }, [short], charSampler);
    expect(small.teacherPrompt).toBe(chars(teacherMessages(short, { kind: 'feedback', text: '' })) + FEEDBACK_TOKENS + JOIN_SLACK_TOKENS);
    expect(FEEDBACK_TOKENS).toBe(1000); // 2000 characters
    const capped = await deriveLengths({ maxTokens: 3000, maxTeacherPromptTokens: 768, contextSize: 16384 }, [long], charSampler);
    expect(capped.teacherPrompt).toBe(768);
    expect(capped.trainer).toBe(Math.max(capped.studentPrompt, 768) + 3000);
  });

  it('refuses a context that cannot hold the longest prompt + --max-tokens, naming the task', async () => {
    const settings = { maxTokens: 3000, maxTeacherPromptTokens: 768, contextSize: 3500 };
    const lengths = await deriveLengths(settings, [short, long], charSampler);
    expect(() => checkContext(settings, lengths)).toThrow(UserError);
    expect(() => checkContext(settings, lengths)).toThrow(
      new RegExp(`^--context-size 3500 cannot hold the longest prompt \\(${lengths.studentPrompt} tokens, task long\\) \\+ --max-tokens 3000 = ${lengths.studentPrompt + 3000}; raise --context-size or lower --max-tokens$`),
    );
    expect(() => checkContext({ ...settings, contextSize: lengths.studentPrompt + 3000 }, lengths)).not.toThrow();
  });

  it('every trainer of a run is configured with the derived length, and teacher prompts are cut to its bound', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ttsd-lengths-'));
    try {
      const config = resolveConfig({ model: 'm.gguf', strategies: 'sdpo', budget: 4, rollouts: 2, seeds: 1, 'max-tokens': 50, 'context-size': 4096 }, {}, STRATEGY_NAMES);
      const services = scriptedServices();
      const configs: TrainerConfig[] = [];
      services.startTrainer = async (c) => {
        configs.push(c);
        return new CountingTrainer(c);
      };
      const tasks = [short, long];
      const expected = await deriveLengths(config, tasks, services.sampler);
      const store = RunStore.create(dir);
      const progress: Progress = { start() {}, attempt() {}, trainStep() {}, cellDone() {}, finish() {} };
      await runSearch({ config, tasks, runDir: dir, store, history: { cells: new Map(), done: new Set() }, services, progress });
      store.close();
      expect(configs).toHaveLength(2);
      for (const c of configs) expect(c.maxTokens).toBe(expected.trainer);
      // the KL after each update is opt-in (--measure-kl-after): one student pass fewer per step
      for (const c of configs) expect(c.measureKlAfter).toBe(false);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

// Qwen3-8B's shape (36 layers, 4096 wide, FFN 12288, 32/8 heads of 128) with a Q4_K_M-sized file.
const qwen3_8b: ModelShape = { layers: 36, embd: 4096, ff: 12288, heads: 32, kvHeads: 8, headDim: 128, fileBytes: 5.0e9 };
// The tiny test model: 2 layers, 64 wide, FFN 128, 4/2 heads of 16, 78 MB of F32.
const tiny: ModelShape = { layers: 2, embd: 64, ff: 128, heads: 4, kvHeads: 2, headDim: 16, fileBytes: 78e6 };
const GiB = 2 ** 30;

describe('trainer memory (a lower bound)', () => {
  it('plain attention: grows with the square of the length and stays below what a step measured', () => {
    // measured (`ttsd bench trainer --tokens 2048`, 2 layers, 256 wide, 305 MiB of F32): 1.24 GB peak RSS
    // with 4 heads, 4.20 GB with 64 heads — the softmax of every layer is kept (+2.0 GB predicted, +3.0 measured)
    const h4: ModelShape = { layers: 2, embd: 256, ff: 256, heads: 4, kvHeads: 4, headDim: 64, fileBytes: 305 * 2 ** 20 };
    const h64: ModelShape = { ...h4, heads: 64, headDim: 4 };
    expect(trainerMemoryBytes(h4, 2048, 'plain')).toBeLessThan(1.24e9);
    expect(trainerMemoryBytes(h64, 2048, 'plain')).toBeLessThan(4.2e9);
    expect(trainerMemoryBytes(h64, 2048, 'plain') - trainerMemoryBytes(h4, 2048, 'plain')).toBeCloseTo(2 * 60 * 2048 * 2048 * 4, -3);
    const a = trainerMemoryBytes({ ...tiny, fileBytes: 0 }, 2048, 'plain');
    const b = trainerMemoryBytes({ ...tiny, fileBytes: 0 }, 4096, 'plain');
    expect(b / a).toBeGreaterThan(2.5);
    expect(b / a).toBeLessThan(4);
  });

  it('fused attention: grows linearly, keeping one log-sum-exp per row and head', () => {
    const a = trainerMemoryBytes({ ...tiny, fileBytes: 0 }, 4096, 'fused');
    const b = trainerMemoryBytes({ ...tiny, fileBytes: 0 }, 16384, 'fused');
    expect(b / a).toBeCloseTo(4, 6);
    expect(a).toBe(2 * 4096 * (4 * 64 + 3 * 128) * 4 + 2 * 4 * 4096 * 4);
    // Qwen2.5-0.5B at 8192 tokens: ~98 GiB with the plain softmax, ~14 GiB fused (the body's activations)
    const qwen05b: ModelShape = { layers: 24, embd: 896, ff: 4864, heads: 14, kvHeads: 2, headDim: 64, fileBytes: 531e6 };
    expect(trainerMemoryBytes(qwen05b, 8192, 'plain') / GiB).toBeGreaterThan(90);
    expect(trainerMemoryBytes(qwen05b, 8192, 'fused') / GiB).toBeCloseTo(13.8, 1);
  });

  it('blocked attention (the default): one query block of probabilities and their gradient at a time', () => {
    expect(trainerMemoryBytes(tiny, 4096)).toBe(trainerMemoryBytes(tiny, 4096, 'blocked'));
    // blocks of at most 64 MiB of scores (multiples of 16 rows, at least 16), or the configured rows
    expect(blockedAttentionRows(4096, 4)).toBe(1024);
    expect(blockedAttentionRows(16384, 4)).toBe(256);
    expect(blockedAttentionRows(8192, 14)).toBe(144);
    expect(blockedAttentionRows(100, 4)).toBe(100);
    expect(blockedAttentionRows(1 << 20, 64)).toBe(16);
    expect(blockedAttentionRows(4096, 4, 32)).toBe(32);
    const body = (rows: number) => 2 * rows * (4 * 64 + 3 * 128) * 4;
    expect(trainerMemoryBytes({ ...tiny, fileBytes: 0 }, 4096)).toBe(body(4096) + 2 * 4096 * 1024 * 4 * 4);
    expect(trainerMemoryBytes({ ...tiny, fileBytes: 0 }, 4096, 'blocked', 64)).toBe(body(4096) + 2 * 4096 * 64 * 4 * 4);
    // past the first few thousand tokens the blocks hold a constant 2 x 64 MiB: linear in the length
    const qwen05b: ModelShape = { layers: 24, embd: 896, ff: 4864, heads: 14, kvHeads: 2, headDim: 64, fileBytes: 531e6 };
    expect(trainerMemoryBytes(qwen05b, 8192) - trainerMemoryBytes(qwen05b, 8192, 'fused')).toBeLessThan(128 * 2 ** 20);
  });

  it('refuses a length the machine cannot hold, in one line, and lets small runs through', () => {
    const lengths = { studentPrompt: 500, studentTask: 't', teacherPrompt: 10240, trainer: 18432 };
    const machine = { bytes: 24 * GiB, what: "this machine's memory" };
    expect(() => checkTrainerMemory(lengths, qwen3_8b, machine)).toThrow(
      /^the trainer's longest sequence \(18432 tokens: prompt 10240 \+ --max-tokens\) needs at least [\d.]+ GiB \(weights, activations and 36 layers × 32 heads of attention over 18432 tokens\), more than the 24\.0 GiB of this machine's memory; lower --max-tokens or --max-teacher-prompt-tokens$/,
    );
    expect(() => checkTrainerMemory({ ...lengths, teacherPrompt: 768, trainer: 3768 }, tiny, machine)).not.toThrow();
    // the main job's small settings (128 tokens) on a 0.5B-shaped model: ~15 GiB with the plain softmax
    // (10.7 of them attention), 4.4 GiB fused
    const qwen05b: ModelShape = { layers: 24, embd: 896, ff: 4864, heads: 14, kvHeads: 2, headDim: 64, fileBytes: 531e6 };
    expect(trainerMemoryBytes(qwen05b, 2728, 'plain') / GiB).toBeCloseTo(15.0, 0);
    expect(() => checkTrainerMemory({ ...lengths, teacherPrompt: 2600, trainer: 2728 }, qwen05b, machine)).not.toThrow();
    // a length the plain softmax cannot hold in 24 GiB, which the fused attention fits
    const long = { ...lengths, teacherPrompt: 8000, trainer: 12000 };
    expect(() => checkTrainerMemory(long, qwen05b, machine)).not.toThrow();
    expect(() => checkTrainerMemory(long, qwen05b, machine, 'plain')).toThrow(/needs at least [\d.]+ GiB/);
    expect(() => checkTrainerMemory(lengths, null, machine)).not.toThrow(); // no shape: no estimate
  });
});

describe('sampler slots', () => {
  it('KV cache per token: layers × kv heads × head width × 2 × 2 bytes', () => {
    expect(kvBytesPerToken(qwen3_8b)).toBe(36 * 8 * 128 * 2 * 2); // 147,456 B: 16384 × 16 sequences = 36 GiB
    expect((kvBytesPerToken(qwen3_8b) * 16384 * 16) / GiB).toBeCloseTo(36, 5);
  });

  it('G slots when they fit (not capped at 8); fewer, with one note, when they do not', () => {
    const one = { slots: 16, contexts: 1 };
    expect(samplerPlan(one, 16384, tiny, 20 * GiB, 'in memory')).toEqual({ slots: 16, contexts: 1, notes: [] });
    const tight = samplerPlan(one, 16384, qwen3_8b, 40 * GiB, 'on the cuda device');
    expect(tight.slots).toBe(Math.floor((40 * GiB * 0.75 - 5.0e9) / (kvBytesPerToken(qwen3_8b) * 16384)));
    expect(tight.slots).toBeLessThan(16);
    expect(tight.notes).toHaveLength(1);
    expect(tight.notes[0]).toMatch(/^sampler: \d+ sequence slots instead of 16 \(each holds 2\.3 GiB of KV cache for --context-size 16384; 40\.0 GiB free on the cuda device\)/);
    expect(samplerPlan(one, 16384, qwen3_8b, 1 * GiB, 'in memory').slots).toBe(1);
  });

  it('one context per interleaved adapter when they fit; contexts give way before slots', () => {
    const perContext = kvBytesPerToken(qwen3_8b) * 8192 * 16; // 18 GiB: 16 sequences of 8192 tokens
    // an H100's 80 GB: 3 contexts wanted (2 interleaved cells + the base model's), 3 fit at 18 GiB each
    const roomy = samplerPlan({ slots: 16, contexts: 3 }, 8192, qwen3_8b, 80 * GiB, 'on the cuda device');
    expect(roomy).toEqual({ slots: 16, contexts: 3, notes: [] });
    // 48 GiB free: room for 36 GiB − 5 GB of weights = one context of 16 slots; all 16 slots are kept
    const tight = samplerPlan({ slots: 16, contexts: 3 }, 8192, qwen3_8b, 48 * GiB, 'on the cuda device');
    expect(tight.contexts).toBe(Math.floor((48 * GiB * 0.75 - 5.0e9) / perContext));
    expect(tight).toMatchObject({ slots: 16, contexts: 1 });
    expect(tight.notes).toEqual([expect.stringMatching(/^sampler: 1 context instead of 3 \(.*each holds 18\.0 GiB of KV cache for 16 sequences of --context-size 8192; 48\.0 GiB free on the cuda device\): cells beyond that rebuild a context when they sample$/)]);
    // less still: one context, fewer slots, two notes
    const small = samplerPlan({ slots: 16, contexts: 3 }, 8192, qwen3_8b, 20 * GiB, 'on the cuda device');
    expect(small.contexts).toBe(1);
    expect(small.slots).toBeLessThan(16);
    expect(small.notes).toHaveLength(2);
    // no shape (a model the GGUF reader cannot size): as wanted
    expect(samplerPlan({ slots: 4, contexts: 3 }, 8192, null, 1, 'in memory')).toEqual({ slots: 4, contexts: 3, notes: [] });
  });
});

describe('devices', () => {
  // nvcc null: the CUDA trainer's build tools are missing (its build's own line)
  const probe = (types: (string | false)[], nvcc: string | null = '/usr/local/cuda/bin/nvcc'): DeviceProbe => ({
    gpuTypes: async () => types,
    trainerTools: (device) => (device === 'cuda' && nvcc === null ? NO_NVCC_MESSAGE : null),
  });
  const settings = (gpu: 'auto' | 'cuda' | 'vulkan' | 'off', gpuLayers: number | 'max' = 'max') => ({ gpu, gpuLayers });

  it('auto: the CPU, said in one line, when node-llama-cpp finds no GPU', async () => {
    const d = await resolveDevices(settings('auto'), { needsTrainer: true, probe: probe([false]) });
    expect(d).toMatchObject({ sampling: false, trainer: 'cpu', trainerGpuLayers: 0 });
    expect(d.line).toBe('--gpu auto: node-llama-cpp finds no usable GPU here; sampling and training on the CPU');
    expect((await resolveDevices(settings('auto'), { needsTrainer: false, probe: probe([false]) })).line).toBe('--gpu auto: node-llama-cpp finds no usable GPU here; sampling on the CPU');
  });

  it('auto: the best GPU found for sampling; the trainer stays on the CPU', async () => {
    const d = await resolveDevices(settings('auto', 20), { needsTrainer: true, probe: probe(['vulkan', 'cuda', false]) });
    expect(d).toMatchObject({ sampling: 'cuda', samplingLayers: 20, trainer: 'cpu' });
    expect(d.line).toMatch(/^--gpu auto: sampling on cuda \(20 layers on the GPU\); the trainer runs on the CPU/);
  });

  it('cuda: refused in one line where node-llama-cpp cannot use CUDA, or the CUDA trainer has no nvcc', async () => {
    await expect(resolveDevices(settings('cuda'), { needsTrainer: false, probe: probe([false]) })).rejects.toThrow(
      /^--gpu cuda: node-llama-cpp cannot use CUDA on this machine \(.*usable GPU backends: none\); use --gpu auto or --gpu off$/,
    );
    await expect(resolveDevices(settings('cuda'), { needsTrainer: true, probe: probe(['cuda', false], null) })).rejects.toThrow(/^--gpu cuda: the CUDA trainer needs nvcc/);
    // sampling alone needs no nvcc
    await expect(resolveDevices(settings('cuda'), { needsTrainer: false, probe: probe(['cuda', false], null) })).resolves.toMatchObject({ sampling: 'cuda', trainer: 'cpu' });
  });

  it('cuda: sampling and training on the GPU, every layer with max', async () => {
    const d = await resolveDevices(settings('cuda'), { needsTrainer: true, probe: probe(['cuda', false]) });
    expect(d).toMatchObject({ sampling: 'cuda', samplingLayers: 'max', trainer: 'cuda', trainerGpuLayers: -1 });
    expect(d.line).toBe('--gpu cuda: sampling on cuda and training with the CUDA trainer (all layers on the GPU)');
    expect((await resolveDevices(settings('cuda', 12), { needsTrainer: true, probe: probe(['cuda']) })).trainerGpuLayers).toBe(12);
  });

  it('vulkan: refused where unusable; samples and trains on it (test/run/devices.test.ts); off: nothing said', async () => {
    await expect(resolveDevices(settings('vulkan'), { needsTrainer: true, probe: probe(['cuda', false]) })).rejects.toThrow(/^--gpu vulkan: node-llama-cpp cannot use Vulkan/);
    expect(await resolveDevices(settings('vulkan'), { needsTrainer: true, probe: probe(['vulkan']) })).toMatchObject({ sampling: 'vulkan', trainer: 'vulkan' });
    expect(await resolveDevices(settings('off'), { needsTrainer: true, probe: probe(['cuda']) })).toEqual({ sampling: false, samplingLayers: 0, trainer: 'cpu', trainerGpuLayers: 0, line: null });
  });
});
