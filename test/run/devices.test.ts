// --gpu auto and software Vulkan devices: node-llama-cpp calls Vulkan "supported" wherever the Vulkan loader finds
// a driver, and CI installs Mesa's lavapipe (a CPU implementation) for the trainer's device test. `auto` must not
// take it; an explicit `--gpu vulkan` still may. The real probe runs against this machine's real node-llama-cpp.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isSoftwareDevice, realProbe, resolveDevices, type DeviceProbe } from '../../src/run/devices.js';
import { DEVICE_BUILDS, requireVulkanTools } from '../../src/trainer/build.js';
import type { TrainerDevice } from '../../src/trainer/types.js';
import { LAVAPIPE_ENV, lavapipeMissing } from '../helpers/lavapipe.js';
import { tinyModel } from '../helpers/models.js';

/** A probe with scripted answers (the decision alone); the real one is tested below. */
const scripted = (types: (string | false)[], names: Record<string, string[]>, missingTools: Partial<Record<TrainerDevice, string>> = {}): DeviceProbe => ({
  gpuTypes: async () => types,
  trainerTools: (device) => missingTools[device] ?? null,
  deviceNames: async (gpu) => names[gpu] ?? [],
});

describe('--gpu auto skips software devices', () => {
  it('tells software rasterizers from hardware by the name the backend reports', () => {
    for (const name of ['llvmpipe (LLVM 15.0.6, 256 bits)', 'Lavapipe', 'SwiftShader Device (Subzero)', 'softpipe']) expect(isSoftwareDevice(name)).toBe(true);
    for (const name of ['NVIDIA H100 80GB HBM3', 'AMD Radeon RX 7900 XTX (RADV NAVI31)', 'Intel(R) Arc(tm) A770 Graphics (DG2)', 'Apple M2']) expect(isSoftwareDevice(name)).toBe(false);
  });

  it('auto: a backend whose only device is llvmpipe (or none) falls back to the CPU with the usual line', async () => {
    for (const names of [{ vulkan: ['llvmpipe (LLVM 15.0.6, 256 bits)'] }, { vulkan: [] }]) {
      const d = await resolveDevices({ gpu: 'auto', gpuLayers: 'max' }, { needsTrainer: false, probe: scripted(['vulkan', false], names) });
      expect(d).toMatchObject({ sampling: false, trainer: 'cpu' });
      expect(d.line).toBe('--gpu auto: node-llama-cpp finds no usable GPU here; sampling on the CPU');
    }
  });

  it('auto takes a hardware device, also beside a software one', async () => {
    const d = await resolveDevices({ gpu: 'auto', gpuLayers: 'max' }, { needsTrainer: false, probe: scripted(['vulkan', false], { vulkan: ['llvmpipe (LLVM 15.0.6, 256 bits)', 'AMD Radeon RX 7900 XTX (RADV NAVI31)'] }) });
    expect(d.sampling).toBe('vulkan');
  });

  it('an explicit --gpu vulkan still uses a software device; --gpu cuda names no software backend as usable', async () => {
    const probe = scripted(['vulkan', false], { vulkan: ['llvmpipe (LLVM 15.0.6, 256 bits)'] });
    expect((await resolveDevices({ gpu: 'vulkan', gpuLayers: 'max' }, { needsTrainer: false, probe })).sampling).toBe('vulkan');
    await expect(resolveDevices({ gpu: 'cuda', gpuLayers: 'max' }, { needsTrainer: false, probe })).rejects.toThrow(/usable GPU backends: none\)/);
  });

  it('on this machine (no GPU; lavapipe installed by scripts/setup.sh): auto → CPU through the real probe', async () => {
    const supported = await realProbe.gpuTypes();
    expect(supported).toContain('vulkan'); // the loader finds lavapipe: the case this guards against
    // what the decision reads: node-llama-cpp's Vulkan binary lists no hardware device here (ggml-vulkan hides
    // CPU-type devices; were one listed through GGML_VK_VISIBLE_DEVICES, it is named llvmpipe)
    expect((await realProbe.deviceNames!('vulkan')).filter((name) => !isSoftwareDevice(name))).toEqual([]);
    const d = await resolveDevices({ gpu: 'auto', gpuLayers: 'max' }, { needsTrainer: true, probe: realProbe });
    expect(d).toMatchObject({ sampling: false, trainer: 'cpu' });
  }, 60_000);
});

describe('--gpu vulkan trains on the Vulkan trainer', () => {
  const RADEON = 'AMD Radeon RX 7900 XTX (RADV NAVI31)';
  const LLVMPIPE = 'llvmpipe (LLVM 15.0.6, 256 bits)';

  it('with a learning strategy: the Vulkan trainer with the model on the device, as --gpu cuda does; sampling alone: the CPU trainer', async () => {
    const probe = scripted(['vulkan', false], { vulkan: [RADEON] });
    const d = await resolveDevices({ gpu: 'vulkan', gpuLayers: 'max' }, { needsTrainer: true, probe });
    expect(d).toEqual({
      sampling: 'vulkan',
      samplingLayers: 'max',
      trainer: 'vulkan',
      trainerGpuLayers: -1,
      line: `--gpu vulkan: sampling on vulkan and training with the Vulkan trainer (all layers on the GPU: ${RADEON})`,
    });
    expect((await resolveDevices({ gpu: 'vulkan', gpuLayers: 12 }, { needsTrainer: true, probe })).trainerGpuLayers).toBe(12);
    expect(await resolveDevices({ gpu: 'vulkan', gpuLayers: 'max' }, { needsTrainer: false, probe })).toMatchObject({ sampling: 'vulkan', trainer: 'cpu', trainerGpuLayers: 0 });
    // the GPU trainers are declared in one place; the cuda path is the same decision
    const cuda = await resolveDevices({ gpu: 'cuda', gpuLayers: 'max' }, { needsTrainer: true, probe: scripted(['cuda', false], { cuda: ['NVIDIA H100 80GB HBM3'] }) });
    expect(cuda).toMatchObject({ sampling: 'cuda', trainer: 'cuda', trainerGpuLayers: -1 });
    expect(cuda.line).toBe('--gpu cuda: sampling on cuda and training with the CUDA trainer (all layers on the GPU: NVIDIA H100 80GB HBM3)');
  });

  it('a software device asked for by name is taken, and the line says it runs on the CPU', async () => {
    const d = await resolveDevices({ gpu: 'vulkan', gpuLayers: 'max' }, { needsTrainer: true, probe: scripted(['vulkan', false], { vulkan: [LLVMPIPE] }) });
    expect(d).toMatchObject({ trainer: 'vulkan' });
    expect(d.line).toBe(`--gpu vulkan: sampling on vulkan and training with the Vulkan trainer (all layers on the GPU: ${LLVMPIPE}, a software device that runs on the CPU)`);
  });

  it("without glslc or the Vulkan headers: refused at start in one line, the build's own message; sampling alone still runs", async () => {
    // the message the Vulkan build itself fails with on a machine without glslc (PATH empty)
    const missing = DEVICE_BUILDS.vulkan.missingTools({ PATH: '' })!;
    expect(() => requireVulkanTools({ PATH: '' })).toThrow(missing);
    const probe = scripted(['vulkan', false], { vulkan: [RADEON] }, { vulkan: missing });
    await expect(resolveDevices({ gpu: 'vulkan', gpuLayers: 'max' }, { needsTrainer: true, probe })).rejects.toThrow(
      /^--gpu vulkan: the Vulkan trainer needs glslc and the Vulkan headers \(.*\): no glslc on PATH$/,
    );
    await expect(resolveDevices({ gpu: 'vulkan', gpuLayers: 'max' }, { needsTrainer: false, probe })).resolves.toMatchObject({ sampling: 'vulkan', trainer: 'cpu' });
  });

  it('a backend that lists no device (lavapipe hidden by ggml-vulkan): refused at start rather than at the first training step', async () => {
    await expect(resolveDevices({ gpu: 'vulkan', gpuLayers: 'max' }, { needsTrainer: true, probe: scripted(['vulkan', false], { vulkan: [] }) })).rejects.toThrow(
      /^--gpu vulkan: node-llama-cpp's vulkan backend lists no device here, so the Vulkan trainer has none to train on \(ggml-vulkan lists CPU-type devices such as Mesa's lavapipe only when GGML_VK_VISIBLE_DEVICES names them\); use --gpu auto or --gpu off$/,
    );
  });

  it('auto keeps training on the CPU and names the flag that trains on the GPU it found', async () => {
    const d = await resolveDevices({ gpu: 'auto', gpuLayers: 'max' }, { needsTrainer: true, probe: scripted(['vulkan', false], { vulkan: [RADEON] }) });
    expect(d).toMatchObject({ sampling: 'vulkan', trainer: 'cpu', trainerGpuLayers: 0 });
    expect(d.line).toBe('--gpu auto: sampling on vulkan (all layers on the GPU); the trainer runs on the CPU (--gpu vulkan builds and uses the Vulkan trainer)');
    const metal = await resolveDevices({ gpu: 'auto', gpuLayers: 'max' }, { needsTrainer: true, probe: scripted(['metal', false], { metal: ['Apple M2'] }) });
    expect(metal.line).toBe('--gpu auto: sampling on metal (all layers on the GPU); the trainer runs on the CPU (the trainer has no Metal build)');
  });
});

/**
 * `ttsd run --gpu vulkan` as a user runs it, on Mesa's lavapipe (scripts/setup.sh installs it, glslc and the headers,
 * and builds the Vulkan trainer): SDPO on the tiny model samples with node-llama-cpp's Vulkan binary and trains with the
 * Vulkan trainer. Most of its time is lavapipe compiling ggml-vulkan's shaders, in both processes: measured 30 s with
 * Mesa's shader cache warm, 200 s cold (MESA_SHADER_CACHE_DISABLE=true) on 2 cores at load 7.
 */
describe('`ttsd run --gpu vulkan` on lavapipe, real parts', () => {
  const missing = lavapipeMissing();
  const skipped = missing ? ` (skipped: ${missing})` : '';
  const execFileAsync = promisify(execFile);
  const root = path.resolve(import.meta.dirname, '../..');
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ttsd-vulkan-run-'));
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
  let model: string;
  beforeAll(async () => {
    model = await tinyModel();
  }, 300_000);
  const SMALL = ['--rollouts', '2', '--max-tokens', '24', '--context-size', '1024', '--max-prompt-tokens', '900', '--threads', '1', '--concurrency', '2', '--lora-rank', '4', '--lora-alpha', '8'];
  const run = (out: string, env: NodeJS.ProcessEnv) =>
    execFileAsync(process.execPath, ['bin/ttsd.js', 'run', '--model', model, '--tasks', 'tasks', '--ids', 'ttsd-01', '--strategies', 'sdpo', '--budget', '4', '--seeds', '1', '--gpu', 'vulkan', '--out', out, ...SMALL], {
      cwd: root,
      env,
      timeout: 900_000,
    });
  /** This environment without GGML_VK_VISIBLE_DEVICES: ggml-vulkan then hides lavapipe. */
  const hidden = (): NodeJS.ProcessEnv => {
    const env = { ...process.env };
    delete env.GGML_VK_VISIBLE_DEVICES;
    return env;
  };

  it.skipIf(missing !== null)(`SDPO's training step runs on the Vulkan device and gives a finite loss${skipped}`, async () => {
    const out = path.join(tmp, 'run');
    const { stdout, stderr } = await run(out, { ...process.env, ...LAVAPIPE_ENV });
    expect(stdout).toContain(`${out}: 4 generations over 1 cells`);
    // what the run got, said at start (here: lavapipe, named llvmpipe; device 0 may be a real GPU elsewhere)
    expect(stderr).toMatch(/^note: --gpu vulkan: sampling on vulkan and training with the Vulkan trainer \(all layers on the GPU: .+\)$/m);
    const events = fs.readFileSync(path.join(out, 'events.jsonl'), 'utf8').trim().split('\n').map((line) => JSON.parse(line));
    expect(events[0].devices).toEqual({ sampling: 'vulkan', trainer: 'vulkan', trainer_gpu_layers: -1 });
    // G = 2: SDPO trains after step 1 (not after the last) and samples step 2 with the new adapter
    const steps = events.filter((e) => e.type === 'train_step');
    expect(steps.map((s) => s.step)).toEqual([1]);
    const step = steps[0];
    expect(step.skipped).toBe(false);
    expect(Number.isFinite(step.loss) && Number.isFinite(step.kl_before) && Number.isFinite(step.grad_norm)).toBe(true);
    expect(step.grad_norm).toBeGreaterThan(0);
    // The trainer's own report of where the step ran: the nodes its scheduler placed on the CPU. The CPU trainer has
    // none to report (one device); on a Vulkan device everything but the input embedding lookup runs there (llama.cpp
    // keeps the input layer in host memory on every backend; test/trainer/device.test.ts), and the trainer refuses
    // device vulkan at init when ggml-vulkan lists no device.
    expect(step.cpu_ops).toEqual(['GET_ROWS×1']);
    expect(fs.existsSync(path.join(out, step.adapter))).toBe(true);
    const secondStep = events.filter((e) => e.type === 'attempt' && e.step === 2);
    expect(secondStep).toHaveLength(2);
    for (const attempt of secondStep) expect(attempt.adapter).toBe(step.adapter);
  }, 900_000);

  it.skipIf(missing !== null)(`refused at start in one line, leaving nothing: lavapipe hidden from ggml-vulkan; no glslc on PATH${skipped}`, async () => {
    const refused = async (env: NodeJS.ProcessEnv) => {
      const out = path.join(tmp, `refused-${Math.random()}`);
      const error = await run(out, env).then(
        () => null,
        (e: { code: number; stderr: string }) => e,
      );
      expect(error).not.toBeNull();
      expect(error!.code).not.toBe(0);
      expect(fs.existsSync(out)).toBe(false);
      const lines = error!.stderr.split('\n').filter((line) => line.startsWith('ttsd: '));
      expect(lines).toHaveLength(1);
      return lines[0]!;
    };
    // the real probe of a machine without a GPU: ggml-vulkan lists no device unless GGML_VK_VISIBLE_DEVICES names lavapipe
    if ((await realProbe.deviceNames!('vulkan')).length === 0) {
      expect(await refused(hidden())).toMatch(/^ttsd: --gpu vulkan: node-llama-cpp's vulkan backend lists no device here, so the Vulkan trainer has none to train on \(.*GGML_VK_VISIBLE_DEVICES.*\); use --gpu auto or --gpu off$/);
    }
    // glslc gone from PATH (node is started by its path): the Vulkan build's own line, before anything is sampled
    expect(await refused({ ...process.env, ...LAVAPIPE_ENV, PATH: path.join(tmp, 'empty-path') })).toBe(`ttsd: --gpu vulkan: ${DEVICE_BUILDS.vulkan.missingTools({ PATH: '' })}`);
  }, 300_000);
});
