// `ttsd bench trainer` as a user runs it: one JSON object with the keys, measured side
// by side in one run (values are not judged here: speed is the benchmark's business, not a
// test's), with and without the transposed-weight backward. ~20 s.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { UserError } from '../../src/errors.js';
import { buildTrainer, cmakeFlags, findNvcc, libraryBuildKey, missingVulkanTools, NO_NVCC_MESSAGE, NO_VULKAN_TOOLS_MESSAGE, requireNvcc, trainerBuildKey } from '../../src/trainer/build.js';
import { defaultTrainerConfig } from '../../src/trainer/defaults.js';
import { NativeTrainer } from '../../src/trainer/native-trainer.js';
import { tinyModel } from '../helpers/models.js';

const ttsd = (args: string[]) => execa('node', ['bin/ttsd.js', ...args], { reject: false });

describe('ttsd bench trainer', () => {
  it.each([[[] as string[]], [['--low-memory']], [['--attention', 'plain']], [['--attention', 'fused']]])('prints one JSON object with step, forward, their ratio, teacher scoring and memory %j', async (extra) => {
    const model = await tinyModel({ arch: 'qwen2', layers: 2 });
    const { stdout, stderr, exitCode } = await ttsd(['bench', 'trainer', '--model', model, '--tokens', '32', '--threads', '1', '--rank', '4', '--json', ...extra]);
    expect(exitCode, stderr).toBe(0);
    expect(stdout.trim().split('\n')).toHaveLength(1);
    const bench = JSON.parse(stdout);
    for (const key of ['tokens', 'step_ms', 'forward_ms', 'ratio', 'peak_rss_mb', 'tokens_per_s', 'teacher_score_ms', 'prefill_ms', 'teacher_ratio', 'first_backward_ms', 'prefill_rows_ms', 'teacher_host_ms', 'teacher_ratio_rows']) {
      expect(typeof bench[key], key).toBe('number');
      expect(bench[key], key).toBeGreaterThan(0);
    }
    expect(bench.tokens).toBe(32);
    expect(bench.attention).toBe(extra[1] === 'plain' || extra[1] === 'fused' ? extra[1] : 'blocked'); // blocked: the default
    expect(bench.ratio).toBeCloseTo(bench.step_ms / bench.forward_ms, 6);
    expect(bench.teacher_ratio).toBeCloseTo(bench.teacher_score_ms / bench.prefill_ms, 6);
    // the teacher's fair baseline is the same decode with logits at the same rows; its host work is part of it
    expect(bench.teacher_ratio_rows).toBeCloseTo(bench.teacher_score_ms / bench.prefill_rows_ms, 6);
    expect(bench.teacher_host_ms).toBeLessThan(bench.teacher_score_ms);
    expect(Number.isInteger(bench.full_step_minor_faults) && bench.full_step_minor_faults >= 0).toBe(true);
    expect(bench.forwards).toBe(1); // the full step's one rollout: forward, head and backward in one evaluation
  }, 300_000);

  it('refuses an unknown --attention in one line', async () => {
    const { stderr, exitCode } = await ttsd(['bench', 'trainer', '--model', '/nonexistent/model.gguf', '--attention', 'flash', '--json']);
    expect(exitCode).not.toBe(0);
    expect(stderr.trim().split('\n')).toHaveLength(1);
    expect(stderr).toMatch(/--attention must be blocked, fused, plain, got flash/);
    // the fused attention's custom ops are CPU kernels: refused with a GPU trainer before anything is built
    const fused = await ttsd(['bench', 'trainer', '--model', '/nonexistent/model.gguf', '--attention', 'fused', '--gpu', 'vulkan', '--json']);
    expect(fused.exitCode).not.toBe(0);
    expect(fused.stderr.trim().split('\n')).toHaveLength(1);
    expect(fused.stderr).toMatch(/--attention fused is a CPU kernel; with --gpu vulkan use blocked or plain/);
  });

  it('fails with one line on a missing model', async () => {
    const { stderr, exitCode } = await ttsd(['bench', 'trainer', '--model', '/nonexistent/model.gguf', '--json']);
    expect(exitCode).not.toBe(0);
    expect(stderr.trim().split('\n')).toHaveLength(1);
    expect(stderr).toMatch(/^ttsd: .*model.gguf/);
  });
});

// The CUDA trainer's build decision, without compiling it (far too slow for a 2-core CI).
describe('trainer build: CPU or CUDA', () => {
  const fakeToolkit = () => {
    const dir = mkdtempSync(join(tmpdir(), 'ttsd-nvcc-'));
    writeFileSync(join(dir, 'nvcc'), '#!/bin/sh\necho "Cuda compilation tools, release 99.9"\n', { mode: 0o755 });
    return dir;
  };

  it('cmake flags: GGML_CUDA off for the CPU trainer; on, with the found nvcc, for the CUDA one', () => {
    expect(cmakeFlags({})).toEqual(['-DCMAKE_BUILD_TYPE=Release', '-DGGML_NATIVE=ON', '-DGGML_CUDA=OFF']);
    expect(cmakeFlags({ cuda: true, nvcc: '/opt/cuda/bin/nvcc' })).toEqual([
      '-DCMAKE_BUILD_TYPE=Release',
      '-DGGML_NATIVE=ON',
      '-DGGML_CUDA=ON',
      '-DCMAKE_CUDA_COMPILER=/opt/cuda/bin/nvcc',
    ]);
    expect(cmakeFlags({ vulkan: true })).toEqual(['-DCMAKE_BUILD_TYPE=Release', '-DGGML_NATIVE=ON', '-DGGML_CUDA=OFF', '-DGGML_VULKAN=ON']);
    expect(() => cmakeFlags({ vulkan: true, cuda: true })).toThrow(/either --cuda or --vulkan/);
  });

  it('vulkan: glslc on PATH and vulkan/vulkan.h, else one line naming what is missing', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ttsd-vulkan-'));
    try {
      writeFileSync(join(dir, 'glslc'), '#!/bin/sh\n', { mode: 0o755 });
      mkdirSync(join(dir, 'include', 'vulkan'), { recursive: true });
      expect(missingVulkanTools({ PATH: '/nonexistent' }, [join(dir, 'include')])).toBe('glslc');
      expect(missingVulkanTools({ PATH: dir }, [join(dir, 'include')])).toBe('headers');
      writeFileSync(join(dir, 'include', 'vulkan', 'vulkan.h'), '');
      expect(missingVulkanTools({ PATH: dir }, [join(dir, 'include')])).toBeNull();
      expect(missingVulkanTools({ PATH: dir, VULKAN_SDK: dir }, [])).toBeNull(); // $VULKAN_SDK/include
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    // this machine: scripts/setup.sh installs them, and the Vulkan trainer has its own cache key
    expect(missingVulkanTools()).toBeNull();
    expect(await libraryBuildKey({ vulkan: true })).not.toBe(await libraryBuildKey());
  });

  it('nvcc: $CUDACXX first, then PATH, then the toolkit fallbacks; none → one clear line', () => {
    const dir = fakeToolkit();
    try {
      expect(findNvcc({ PATH: `/nonexistent:${dir}` }, [])).toBe(join(dir, 'nvcc'));
      expect(findNvcc({ PATH: '/nonexistent', CUDACXX: join(dir, 'nvcc') }, [])).toBe(join(dir, 'nvcc'));
      expect(findNvcc({ PATH: dir, CUDACXX: '/nonexistent/nvcc' }, [])).toBeNull(); // CMake would use CUDACXX: so do we
      expect(findNvcc({ PATH: '/nonexistent' }, [join(dir, 'nvcc')])).toBe(join(dir, 'nvcc'));
      expect(findNvcc({ PATH: '/nonexistent' }, [])).toBeNull();
      expect(() => requireNvcc({ PATH: '/nonexistent' }, [])).toThrow(UserError);
      expect(() => requireNvcc({ PATH: '/nonexistent' }, [])).toThrow(NO_NVCC_MESSAGE);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it.skipIf(findNvcc() === null)('the CUDA trainer is cached under its own key', async () => {
    const cpu = await trainerBuildKey();
    const cuda = await trainerBuildKey({ cuda: true });
    expect(cuda).toMatch(/^[0-9a-f]{16}$/);
    expect(cuda).not.toBe(cpu);
    expect(await trainerBuildKey({ cuda: true })).toBe(cuda);
    expect(await libraryBuildKey({ cuda: true })).not.toBe(await libraryBuildKey());
  });

  it('`ttsd trainer build --cuda` and `ttsd bench trainer --gpu cuda` without nvcc: one line, non-zero exit', async () => {
    const env = { CUDACXX: '/nonexistent/nvcc' };
    for (const args of [['trainer', 'build', '--cuda'], ['bench', 'trainer', '--model', 'm.gguf', '--gpu', 'cuda']]) {
      const { stderr, exitCode } = await execa('node', ['bin/ttsd.js', ...args], { reject: false, env });
      expect(exitCode, args.join(' ')).not.toBe(0);
      expect(stderr).toBe(`ttsd: ${NO_NVCC_MESSAGE}`);
    }
    // without glslc (node by its full path: PATH holds nothing)
    for (const args of [['trainer', 'build', '--vulkan'], ['bench', 'trainer', '--model', 'm.gguf', '--gpu', 'vulkan']]) {
      const { stderr, exitCode } = await execa(process.execPath, ['bin/ttsd.js', ...args], { reject: false, env: { PATH: '/nonexistent' }, extendEnv: false });
      expect(exitCode, args.join(' ')).not.toBe(0);
      expect(stderr).toBe(`ttsd: ${NO_VULKAN_TOOLS_MESSAGE}: no glslc on PATH`);
    }
    const metal = await execa('node', ['bin/ttsd.js', 'bench', 'trainer', '--model', 'm.gguf', '--gpu', 'auto'], { reject: false });
    expect(metal.exitCode).not.toBe(0);
    expect(metal.stderr).toBe('ttsd: bench trainer: --gpu must be cuda, vulkan or off (the trainer has no auto build), got auto');
  });
});

describe('trainer device', () => {
  it('a trainer built without a GPU backend refuses device cuda at init, in one line', async () => {
    const executable = await buildTrainer();
    const model = await tinyModel({ arch: 'qwen2', layers: 2 });
    const stateDir = mkdtempSync(join(tmpdir(), 'ttsd-device-'));
    const saved = process.env.TTSD_TRAINER_EXE;
    process.env.TTSD_TRAINER_EXE = executable; // the CPU build (a device 'cuda' config would otherwise build the CUDA one)
    try {
      await expect(NativeTrainer.start(defaultTrainerConfig(model, stateDir, { device: 'cuda', gpuLayers: -1 }))).rejects.toThrow(
        /device cuda: this trainer was built without CUDA \(ttsd trainer build --cuda builds one\)/,
      );
      await expect(NativeTrainer.start(defaultTrainerConfig(model, stateDir, { gpuLayers: 4 }))).rejects.toThrow(/gpuLayers needs device cuda/);
    } finally {
      if (saved === undefined) delete process.env.TTSD_TRAINER_EXE;
      else process.env.TTSD_TRAINER_EXE = saved;
      rmSync(stateDir, { recursive: true, force: true });
    }
  }, 600_000);
});
