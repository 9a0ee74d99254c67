/**
 * scripts/device-check.sh without a GPU: the bundle step (here, with Node), then the whole flow
 * from the unpacked bundle in --cpu-only mode (the cached CPU trainer twice, tiny shapes) with
 * Node, npm, npx, tsx and git replaced by stubs that record any call, proving the GPU machine
 * needs none of them. Step 1 of the comparison is replayed through the TypeScript client on the
 * model the script wrote, and must give the same numbers: the Python driver speaks the same
 * protocol. The comparison's verdict is checked on perturbed runs, and bad setups fail in one line.
 * About 2 minutes on 2 busy cores (two tiny-model trainer runs, one tiny bench).
 */
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTrainer, cmakeFlags } from '../../src/trainer/build.js';
import { defaultTrainerConfig } from '../../src/trainer/defaults.js';
import { trainerMemoryBytes, type ModelShape } from '../../src/run/lengths.js';
import { NativeTrainer } from '../../src/trainer/native-trainer.js';
import type { TrainerConfig } from '../../src/trainer/types.js';

const repo = fileURLToPath(new URL('../../', import.meta.url));
const work = mkdtempSync(join(tmpdir(), 'ttsd-device-check-'));
const bin = join(work, 'bin');
const calls = join(work, 'forbidden-calls');
let trainer = '';
let python = '';

/** A python3 with numpy: the one on PATH, else the system's (scripts/setup.sh installs python3-numpy). */
async function pythonWithNumpy(): Promise<string> {
  for (const candidate of ['python3', '/usr/bin/python3']) {
    const r = await execa(candidate, ['-c', 'import numpy, sys; print(sys.executable)'], { reject: false });
    if (r.exitCode === 0) return r.stdout.trim();
  }
  throw new Error('no python3 with numpy (scripts/setup.sh installs python3-numpy)');
}

/** PATH for the GPU-machine side: stubs for the tools it must not use, first. */
function bundlePath(): string {
  return [bin, process.env.PATH ?? ''].join(delimiter);
}

function runBundle(args: string[], options: { env?: Record<string, string> } = {}) {
  return execa('bash', [join(work, 'ttsd-device-check', 'device-check.sh'), ...args], {
    cwd: work,
    reject: false,
    env: { PATH: bundlePath(), ...options.env },
    timeout: 600_000,
  });
}

beforeAll(async () => {
  trainer = await buildTrainer();
  python = await pythonWithNumpy();
  mkdirSync(bin);
  for (const tool of ['node', 'npm', 'npx', 'tsx', 'git']) {
    writeFileSync(join(bin, tool), `#!/bin/sh\necho "${tool} $*" >> '${calls}'\nexit 127\n`);
    chmodSync(join(bin, tool), 0o755);
  }
  symlinkSync(python, join(bin, 'python3'));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('scripts/device-check.sh', () => {
  it('bundles the patched llama.cpp source, the trainer sources, the driver and the build recipe', async () => {
    const bundle = join(work, 'bundle.tar.gz');
    const r = await execa('bash', [join(repo, 'scripts', 'device-check.sh'), '--bundle', bundle], { cwd: repo, reject: false });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout.split('\n').every((line) => line.startsWith('device-check: '))).toBe(true);
    expect(statSync(bundle).size).toBeLessThan(64 * 2 ** 20);
    await execa('tar', ['-xzf', bundle], { cwd: work });
    const root = join(work, 'ttsd-device-check');
    for (const file of ['device-check.sh', 'driver/check.py', 'trainer/CMakeLists.txt', 'trainer/main.cpp', 'trainer/ttsd-llama.patch', 'llama.cpp/CMakeLists.txt', 'llama.cpp/gguf-py/gguf/__init__.py', 'llama.cpp/models/ggml-vocab-qwen2.gguf']) {
      expect(existsSync(join(root, file)), file).toBe(true);
    }
    expect(existsSync(join(root, 'llama.cpp', '.git'))).toBe(false);
    // the flags and defaults are the project's own, not copies
    const manifest = JSON.parse(readFileSync(join(root, 'manifest.json'), 'utf8'));
    expect(manifest.cmakeFlags.cuda).toEqual(cmakeFlags({ cuda: true }));
    expect(manifest.cmakeFlags.cpu).toEqual(cmakeFlags({ cuda: false }));
    expect(manifest.cmakeFlags.cuda).toContain('-DGGML_CUDA=ON');
    const { model: _m, stateDir: _s, ...defaults } = defaultTrainerConfig('', '');
    expect(manifest.trainerDefaults).toEqual(defaults);
  });

  it('runs the whole flow CPU-only from the bundle without Node or git, and writes the JSON and summary', async () => {
    const r = await runBundle(['--cpu-only', '--trainer', trainer, '--threads', '2', '--out', 'out', '--keep-models']);
    expect(r.exitCode, `${r.stdout}\n${r.stderr}`).toBe(0);
    expect(existsSync(calls) ? readFileSync(calls, 'utf8') : '').toBe('');
    const lines = r.stdout.split('\n').filter(Boolean);
    expect(lines.every((line) => line.startsWith('device-check: '))).toBe(true);
    expect(lines.some((line) => /compare step 2: .* ok$/.test(line))).toBe(true);

    const report = JSON.parse(readFileSync(join(work, 'out', 'device-check.json'), 'utf8'));
    expect(report.ok).toBe(true);
    expect(report.mode).toBe('cpu,cpu');
    expect(report.builds.cpu).toMatchObject({ trainer, reused: true });
    const compare = report.compare;
    expect(compare.ok).toBe(true);
    expect(compare.tolerance).toEqual({ scalars_rel: 0, adapter_rel: 0 }); // the same build twice: bit for bit
    expect(compare.model).toMatchObject({ shape: 'tiny', arch: 'qwen2', type: 'f32', vocab: 151936 });
    expect(compare.steps).toHaveLength(2);
    for (const step of compare.steps) {
      expect(step.ok).toBe(true);
      expect(step.adapter_rel_diff).toBe(0);
      expect(Object.values(step.rel_diff)).toEqual([0, 0, 0, 0]);
      for (const key of ['loss', 'klBefore', 'klAfter', 'gradNorm']) {
        expect(step.cpu[key]).toBeGreaterThan(0);
        expect(step['cpu#2'][key]).toBe(step.cpu[key]);
      }
    }
    // each update went downhill on its batch (klAfter: the same batch scored after the update)
    for (const step of compare.steps) expect(step.cpu.klAfter).toBeLessThan(step.cpu.klBefore);
    expect(report.bench).toHaveLength(1);
    expect(report.bench[0]).toMatchObject({ ok: true, shape: 'tiny', requested_tokens: 128, tokens: 128, device: 'cpu', peak_gpu_mb: null });
    expect(report.bench[0].attempts).toEqual([{ tokens: 128, error: null }]);
    for (const key of ['step_ms', 'forward_ms', 'tokens_per_s', 'peak_rss_mb']) expect(report.bench[0][key]).toBeGreaterThan(0);
    const summary = readFileSync(join(work, 'out', 'summary.txt'), 'utf8');
    expect(summary).toMatch(/^ttsd device check \(cpu,cpu\): PASSED/);
    expect(summary).toMatch(/bench tiny f32 at 128 tokens on cpu: step \d+ ms/);

    // replay step 1 through the TypeScript client: the same numbers, so both speak one protocol
    const { stateDir: _stateDir, ...config } = compare.config as TrainerConfig;
    const replay = await NativeTrainer.start({ ...config, model: compare.model.path, stateDir: join(work, 'replay') });
    try {
      const batch = (compare.batches[0] as { student: number[]; teacher: number[]; response: number[]; masked: boolean }[]).map((e) => ({
        studentPrompt: e.student,
        teacherPrompt: e.teacher,
        response: e.response,
        masked: e.masked,
      }));
      const step = await replay.step(batch);
      expect({ loss: step.loss, klBefore: step.klBefore, klAfter: step.klAfter, gradNorm: step.gradNorm }).toEqual({
        loss: compare.steps[0].cpu.loss,
        klBefore: compare.steps[0].cpu.klBefore,
        klAfter: compare.steps[0].cpu.klAfter,
        gradNorm: compare.steps[0].cpu.gradNorm,
      });
    } finally {
      await replay.close();
    }
  });

  it('flags runs that differ beyond the tolerance or in forward passes, and passes f32-rounding-sized differences across devices', async () => {
    const script = `
import sys, json, numpy as np
sys.path.insert(0, sys.argv[1])
import check
def run(loss, b, forwards=1):
    return [{"loss": loss, "klBefore": 0.5, "klAfter": 0.4, "gradNorm": 2.0, "skipped": False, "ms": 1, "forwards": forwards,
             "adapter": {"a": np.ones(4), "b": np.array(b)}}]
base = run(0.5, [1.0, -2.0, 3.0, 0.5])
out = {}
out["same"] = check.compare_runs([base, run(0.5, [1.0, -2.0, 3.0, 0.5])], ["cpu", "cpu"], check.SAME_DEVICE_TOLERANCE)[1]
out["ulp"] = check.compare_runs([base, run(0.5 * (1 + 1e-6), [1.0, -2.0, 3.0 * (1 + 1e-6), 0.5])], ["cpu", "cuda"], check.CROSS_DEVICE_TOLERANCE)[1]
out["ulp_same_device"] = check.compare_runs([base, run(0.5 * (1 + 1e-6), [1.0, -2.0, 3.0, 0.5])], ["cpu", "cpu"], check.SAME_DEVICE_TOLERANCE)[1]
out["adapter"] = check.compare_runs([base, run(0.5, [1.0, -2.0, 3.2, 0.5])], ["cpu", "cuda"], check.CROSS_DEVICE_TOLERANCE)[1]
out["loss"] = check.compare_runs([base, run(0.51, [1.0, -2.0, 3.0, 0.5])], ["cpu", "cuda"], check.CROSS_DEVICE_TOLERANCE)[1]
out["nan"] = check.compare_runs([base, run(None, [1.0, -2.0, 3.0, 0.5])], ["cpu", "cuda"], check.CROSS_DEVICE_TOLERANCE)[1]
# the same numbers, but the GPU step recomputed its forward (two body passes where the CPU's took one)
out["forwards"] = check.compare_runs([base, run(0.5, [1.0, -2.0, 3.0, 0.5], forwards=2)], ["cpu", "cuda"], check.CROSS_DEVICE_TOLERANCE)[1]
print(json.dumps(out))
`;
    const r = await execa(python, ['-c', script, join(work, 'ttsd-device-check', 'driver')]);
    expect(JSON.parse(r.stdout)).toEqual({ same: true, ulp: true, ulp_same_device: false, adapter: false, loss: false, nan: false, forwards: false });
  });

  it("estimates a bench's memory with the run's own lower bound (src/run/lengths.ts), and steps the length down to what fits", async () => {
    const script = `
import sys, json, types
sys.path.insert(0, sys.argv[1])
import check, models
out = {"bounds": {}, "fits": {}}
for name in ("tiny", "qwen2.5-0.5b", "qwen3-8b"):
    s = models.SHAPES[name]
    out["bounds"][name] = [check.trainer_memory_bytes(s, t, 123456789) for t in (100, 2048, 8192)]
    file_bytes = models.n_params(s, 151936) * 2
    out["fits"][name] = check.bench_lengths(types.SimpleNamespace(bench_tokens=8192), s, file_bytes, 80 * 2**30)[0]
    out.setdefault("fits40", {})[name] = check.bench_lengths(types.SimpleNamespace(bench_tokens=8192), s, file_bytes, 40 * 2**30)[0]
print(json.dumps(out))
`;
    const r = await execa(python, ['-c', script, join(work, 'ttsd-device-check', 'driver')]);
    const out = JSON.parse(r.stdout);
    const shapes: Record<string, ModelShape> = {
      tiny: { layers: 2, embd: 64, ff: 128, heads: 4, kvHeads: 2, headDim: 16, fileBytes: 123456789 },
      'qwen2.5-0.5b': { layers: 24, embd: 896, ff: 4864, heads: 14, kvHeads: 2, headDim: 64, fileBytes: 123456789 },
      'qwen3-8b': { layers: 36, embd: 4096, ff: 12288, heads: 32, kvHeads: 8, headDim: 128, fileBytes: 123456789 },
    };
    for (const [name, shape] of Object.entries(shapes)) {
      expect(out.bounds[name], name).toEqual([100, 2048, 8192].map((t) => trainerMemoryBytes(shape, t, 'blocked')));
    }
    // 80 GiB: with the blocked attention (memory linear in the tokens) every shape takes 8192 tokens (Qwen3-8B's
    // F16 lower bound is 73.9 GiB); 40 GiB steps Qwen3-8B down to the longest halving that fits
    expect(out.fits.tiny[0]).toBe(8192);
    expect(out.fits['qwen2.5-0.5b'][0]).toBe(8192);
    expect(out.fits['qwen3-8b'][0]).toBe(8192);
    expect(out.fits40['qwen3-8b'][0]).toBe(2048);
  });

  it('fails in one line with a non-zero exit on setups that cannot work', async () => {
    const outside = await execa('bash', [join(repo, 'scripts', 'device-check.sh')], { cwd: work, reject: false });
    const noNvcc = await runBundle(['--out', 'out-nvcc'], { env: { CUDACXX: '/nonexistent/nvcc' } });
    const badTrainer = await runBundle(['--cpu-only', '--trainer', '/nonexistent/ttsd-trainer', '--out', 'out-bad']);
    expect(JSON.parse(readFileSync(join(work, 'out-bad', 'device-check.json'), 'utf8'))).toEqual({
      version: 1,
      ok: false,
      error: '--trainer /nonexistent/ttsd-trainer is not an executable',
    });
    const badOption = await runBundle(['--cpu-only', '--bogus']);
    // the GPU flow as far as a CPU-only machine can take it: the CPU trainer passed as the CUDA one
    // is refused at init, after the CPU run of the comparison
    const gpuFlow = await runBundle(['--trainer', trainer, '--cuda-trainer', trainer, '--compare-shape', 'tiny', '--threads', '2', '--out', 'out-gpu']);
    expect(gpuFlow.stdout).toMatch(/compare run 1\/2 on cpu: 2 steps/);
    const gpuReport = JSON.parse(readFileSync(join(work, 'out-gpu', 'device-check.json'), 'utf8'));
    expect(gpuReport).toMatchObject({ ok: false, mode: 'cpu,cuda' });
    expect(gpuReport.compare.tolerance).toEqual({ scalars_rel: 1e-3, adapter_rel: 1e-2 });
    for (const [r, pattern] of [
      [gpuFlow, /device cuda: this trainer was built without CUDA \(ttsd trainer build --cuda builds one\)/],
      [outside, /not inside an unpacked bundle/],
      [noNvcc, /no nvcc .*--cpu-only/],
      [badTrainer, /--trainer \/nonexistent\/ttsd-trainer is not an executable/],
      [badOption, /unknown option --bogus/],
    ] as const) {
      expect(r.exitCode).not.toBe(0);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(pattern);
      expect(r.stderr).toMatch(/^device-check: FAILED: /);
    }
  });
});
