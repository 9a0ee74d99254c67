/**
 * The trainer on a non-CPU ggml backend: the Vulkan build on Mesa's lavapipe (a conformant Vulkan device that runs on
 * the CPU; scripts/setup.sh installs it). It exercises the code paths a CUDA GPU takes (ggml-backend scheduler with a
 * device backend + the CPU, device buffers, the head on the output layer's device, transposed copies made by a
 * device graph) on a machine without a GPU. Same SDPO steps on the CPU trainer and on the Vulkan trainer: loss, KL,
 * gradient norm and the adapter after each step agree; the placement listing (cpuOps) is read from the schedulers.
 */
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readGguf } from '../../src/gguf/reader.js';
import { buildTrainer } from '../../src/trainer/build.js';
import { TrainerRequestError } from '../../src/trainer/errors.js';
import { NativeTrainer } from '../../src/trainer/native-trainer.js';
import type { TrainerAttention, TrainerConfig, TrainStepResult } from '../../src/trainer/types.js';
import { LAVAPIPE_ENV, useEnv } from '../helpers/lavapipe.js';
import { tinyModel } from '../helpers/models.js';
import { batchOf, tempStateDir, testConfig } from './helpers.js';

const dirs: string[] = [];
function stateDir(): string {
  const dir = tempStateDir();
  dirs.push(dir);
  return dir;
}

// ggml-vulkan hides CPU-type Vulkan devices unless GGML_VK_VISIBLE_DEVICES names them: lavapipe is device 0 here
useEnv(LAVAPIPE_ENV);
beforeAll(async () => {
  // scripts/setup.sh builds it (a cold build takes ~30 min on 2 busy cores); TTSD_TRAINER_EXE: a development build
  if (!process.env.TTSD_TRAINER_EXE) await buildTrainer({ vulkan: true });
}, 3_600_000);
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function adapterTensors(path: string): Map<string, Float64Array> {
  const file = readGguf(path);
  return new Map(file.tensors.map((t) => [t.name, file.readTensor(t.name)]));
}

/** max |a - b| / (max |b| + tiny) over every tensor: the adapter's relative deviation. */
function adapterDeviation(a: Map<string, Float64Array>, b: Map<string, Float64Array>): number {
  expect([...a.keys()].sort()).toEqual([...b.keys()].sort());
  let diff = 0;
  let scale = 0;
  for (const [name, x] of a) {
    const y = b.get(name)!;
    for (let i = 0; i < x.length; i++) {
      diff = Math.max(diff, Math.abs(x[i]! - y[i]!));
      scale = Math.max(scale, Math.abs(y[i]!));
    }
  }
  return diff / (scale + 1e-30);
}

async function run(config: TrainerConfig, steps: number): Promise<{ results: TrainStepResult[]; adapters: Map<string, Float64Array>[]; info: NativeTrainer['info'] }> {
  const trainer = await NativeTrainer.start(config);
  try {
    const results: TrainStepResult[] = [];
    const adapters: Map<string, Float64Array>[] = [];
    for (let s = 0; s < steps; s++) {
      const r = await trainer.step(batchOf(s + 1));
      results.push(r);
      adapters.push(adapterTensors(r.adapterPath));
    }
    return { results, adapters, info: trainer.info };
  } finally {
    await trainer.close();
  }
}

const relative = (a: number, b: number) => Math.abs(a - b) / Math.max(Math.abs(b), 1e-12);

/** The same two steps on the CPU trainer and on the Vulkan one; the largest deviations and the Vulkan side's listings. */
async function compare(type: 'f32' | 'f16' | 'q8_0', attention: TrainerAttention, margin: number, extra: Partial<TrainerConfig> = {}) {
  const model = await tinyModel({ type });
  // SGD: the adapter after a step is the start minus lr × gradient, so its deviation is the gradient's. (AdamW's
  // first update is lr × sign(g): components with g near 0 flip sign on any rounding difference.)
  const { gpuLayers = -1, ...rest } = extra; // the device side's only (the CPU trainer refuses gpuLayers)
  const base = { attention, optimizer: 'sgd' as const, ...rest };
  const cpu = await run(testConfig(model, stateDir(), base), 2);
  const gpu = await run(testConfig(model, stateDir(), { ...base, device: 'vulkan', gpuLayers }), 2);
  let scalars = 0;
  let adapter = 0;
  for (let s = 0; s < 2; s++) {
    const [c, g] = [cpu.results[s]!, gpu.results[s]!];
    expect(c.cpuOps).toEqual([]); // the CPU device: empty by definition
    expect(g.skipped).toBe(false);
    // one body forward per rollout on both: the Vulkan step took H, ran the head and wrote dL/dH from the scheduler's
    // callback inside the one training evaluation (a second forward, as a no-grad pass for H, would count 2 each)
    const rollouts = batchOf(s + 1).filter((e) => !e.masked).length;
    expect(c.forwards).toBe(rollouts);
    expect(g.forwards).toBe(rollouts);
    scalars = Math.max(scalars, relative(g.loss, c.loss), relative(g.klBefore, c.klBefore), relative(g.gradNorm, c.gradNorm));
    adapter = Math.max(adapter, adapterDeviation(gpu.adapters[s]!, cpu.adapters[s]!));
  }
  // the devices' gap is small next to what one step changes (steps that changed nothing would agree trivially):
  // measured step change / gap: F32 1500x, F16 33x, Q8_0 6x
  const change = adapterDeviation(cpu.adapters[1]!, cpu.adapters[0]!);
  console.log(`${type} ${attention}: loss/KL/grad-norm ${scalars.toExponential(2)}, adapter ${adapter.toExponential(2)} (one step changes it by ${change.toExponential(2)}); Vulkan cpuOps ${JSON.stringify(gpu.results.map((r) => r.cpuOps))}`);
  expect(change).toBeGreaterThan(margin * adapter);
  return { scalars, adapter, cpuOps: gpu.results.map((r) => r.cpuOps!) };
}

describe('trainer on a Vulkan device (lavapipe)', () => {
  // lavapipe advertises fp16 arithmetic, and ggml-vulkan then runs F32 matmuls through fp16 shader paths (1e-3
  // relative on the KL): GGML_VK_DISABLE_F16 keeps it in f32, so that the comparison is of the code paths, not of a
  // device's precision choice (a CUDA device computes F32 matmuls in f32).
  const savedF16 = process.env.GGML_VK_DISABLE_F16;
  beforeAll(() => {
    process.env.GGML_VK_DISABLE_F16 = '1';
  });
  afterAll(() => {
    if (savedF16 === undefined) delete process.env.GGML_VK_DISABLE_F16;
    else process.env.GGML_VK_DISABLE_F16 = savedF16;
  });

  // The only CPU node with the plain attention: the input embedding lookup. llama.cpp keeps the input layer
  // (token_embd) in host memory on every backend (its dev_input is the CPU), so its GET_ROWS runs there and the
  // n_tokens x n_embd rows are copied to the device; no gradient flows into it (a frozen weight).
  const INPUT_LOOKUP = 'GET_ROWS×1';

  it('F32, plain attention: the CPU trainer\'s steps, every other node of the training and head graphs on the device', async () => {
    // Tolerance: same model, data, seed and fresh adapter; the devices differ only in float32 reduction order. The
    // KL (~0.05) is a difference of entropy-sized terms (~12 nats over the 152k vocabulary), so 1e-7 relative on
    // those is ~1e-4 on it (measured: 1.2e-4 loss/KL, 2e-4 gradient norm, 7e-7 adapter). A wrong op, a missing
    // gradient path or a stale transposed copy moves them by O(1).
    const r = await compare('f32', 'plain', 100);
    expect(r.scalars).toBeLessThan(1e-3);
    expect(r.adapter).toBeLessThan(1e-5);
    for (const ops of r.cpuOps) expect(ops).toEqual([INPUT_LOOKUP]);
  }, 900_000);

  it('the blocked attention (the default), in several query blocks: standard ops only, every node but the input lookup on the device', async () => {
    // 8-row query blocks over the ~22-token sequences: 3 blocks per layer, so the backward override's per-block
    // recomputation, the causal key prefixes and the padding of dK/dV all run on the device. Same tolerance as plain.
    const r = await compare('f32', 'blocked', 100, { attentionBlockRows: 8 });
    for (const ops of r.cpuOps) expect(ops).toEqual([INPUT_LOOKUP]);
    expect(r.scalars).toBeLessThan(1e-3);
    expect(r.adapter).toBeLessThan(1e-5);
  }, 900_000);

  it('layers partly on the CPU (gpuLayers 2 of the tiny model\'s 2 + output: layer 0 on the CPU): CPU and device splits in one training evaluation, same steps', async () => {
    // llama.cpp offloads the last gpuLayers − 1 layers and the output layer: layer 0's forward and backward run in
    // CPU splits, layer 1, the output norm (H) and the start of the backward in device splits, and the gradient
    // crosses between them in both directions within the single evaluation. Same tolerance as the full offload.
    const r = await compare('f32', 'blocked', 100, { attentionBlockRows: 8, gpuLayers: 2 });
    for (const ops of r.cpuOps) {
      expect(ops).toContain(INPUT_LOOKUP);
      expect(ops.some((op) => op.startsWith('MUL_MAT×'))).toBe(true); // layer 0's projections
    }
    expect(r.scalars).toBeLessThan(1e-3);
    expect(r.adapter).toBeLessThan(1e-5);
  }, 900_000);

  it('the fused attention (CPU custom ops) is refused on the device in one line', async () => {
    await expect(NativeTrainer.start(testConfig(await tinyModel(), stateDir(), { attention: 'fused', device: 'vulkan', gpuLayers: -1 }))).rejects.toThrow(
      /^trainer: attention fused is a CPU kernel: on device vulkan use blocked \(the default\) or plain$/,
    );
  }, 120_000);

  it('F16 and Q8_0 bases: transposed copies made on the device (CPY of the transposed view; mul_mat by identity columns + CPY to Q8_0)', async () => {
    // Looser: the CPU rounds activations to the weight's dot type (F16, Q8_0) inside its matmuls, ggml-vulkan
    // dequantizes the weights and keeps activations in f32 (measured: F16 1.4e-3 on the loss, 3.5e-3 on the gradient
    // norm, 3e-5 on the adapter; Q8_0 6.4e-3, 5e-3 and 1.7e-4). An untransposed or misplaced copy gives O(1).
    const f16 = await compare('f16', 'plain', 10);
    expect(f16.scalars).toBeLessThan(2e-2);
    expect(f16.adapter).toBeLessThan(1e-3);
    for (const ops of f16.cpuOps) expect(ops).toEqual([INPUT_LOOKUP]);
    const q8 = await compare('q8_0', 'plain', 3);
    expect(q8.scalars).toBeLessThan(5e-2);
    expect(q8.adapter).toBeLessThan(2e-3);
    for (const ops of q8.cpuOps) expect(ops).toEqual([INPUT_LOOKUP]);
  }, 900_000);

  it('without GGML_VK_VISIBLE_DEVICES lavapipe is hidden: device vulkan is refused in one line', async () => {
    const saved = process.env.GGML_VK_VISIBLE_DEVICES;
    delete process.env.GGML_VK_VISIBLE_DEVICES;
    try {
      await expect(NativeTrainer.start(testConfig(await tinyModel(), stateDir(), { device: 'vulkan', gpuLayers: -1 }))).rejects.toThrow(
        /^trainer: device vulkan: no Vulkan device found \(ggml-vulkan lists CPU-type devices such as Mesa's lavapipe only when GGML_VK_VISIBLE_DEVICES names them\)$/,
      );
    } finally {
      process.env.GGML_VK_VISIBLE_DEVICES = saved;
    }
  }, 120_000);

  it('the CPU build refuses device vulkan in one line', async () => {
    const saved = process.env.TTSD_TRAINER_EXE;
    process.env.TTSD_TRAINER_EXE = await buildTrainer();
    try {
      const start = NativeTrainer.start(testConfig(await tinyModel(), stateDir(), { device: 'vulkan', gpuLayers: -1 }));
      await expect(start).rejects.toThrow(TrainerRequestError);
      await expect(start).rejects.toThrow(/^trainer: device vulkan: this trainer was built without Vulkan \(ttsd trainer build --vulkan builds one\)$/);
    } finally {
      if (saved === undefined) delete process.env.TTSD_TRAINER_EXE;
      else process.env.TTSD_TRAINER_EXE = saved;
    }
  }, 600_000);
});
