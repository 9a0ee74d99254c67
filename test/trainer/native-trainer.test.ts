/**
 * The real trainer process on the tiny F32 qwen2 model (about 1-2 minutes on 2 busy cores):
 * build lookup, a step writes a loadable adapter, masked rollouts give zero gradient, save →
 * resume is bit-identical, a killed or refusing trainer is reported (never a hang).
 */
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readGguf } from '../../src/gguf/reader.js';
import { buildTrainer } from '../../src/trainer/build.js';
import { TrainerDiedError, TrainerRequestError } from '../../src/trainer/errors.js';
import { NativeTrainer } from '../../src/trainer/native-trainer.js';
import { UserError } from '../../src/errors.js';
import type { TrainerConfig, TrainExample } from '../../src/trainer/types.js';
import { tinyModel, tinyTeacherModel } from '../helpers/models.js';
import { batchOf, tempStateDir, testConfig } from './helpers.js';

const dirs: string[] = [];
function stateDir(): string {
  const dir = tempStateDir();
  dirs.push(dir);
  return dir;
}
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function adapterTensors(path: string): Map<string, Float64Array> {
  const file = readGguf(path);
  return new Map(file.tensors.map((t) => [t.name, file.readTensor(t.name)]));
}

describe('NativeTrainer', () => {
  it('finds the built trainer instantly (setup.sh builds it)', async () => {
    const started = performance.now();
    const exe = await buildTrainer();
    expect(existsSync(exe)).toBe(true);
    expect(performance.now() - started).toBeLessThan(5000);
  });

  it('steps, writes a new versioned adapter per step, and lowers the KL on the batch', async () => {
    const model = await tinyModel();
    const trainer = await NativeTrainer.start(testConfig(model, stateDir(), { measureKlAfter: true }));
    try {
      expect(trainer.info).toMatchObject({ arch: 'qwen2', step: 0, resumed: false });
      expect(trainer.info.nTensors).toBe(2 * 7 * 2); // 2 layers × 7 projections × (A, B)
      const batch = batchOf(1);
      const first = await trainer.step(batch);
      expect(first.step).toBe(1);
      expect(first.skipped).toBe(false);
      expect(first.tokens).toBe(10 + 11);
      expect(first.gradNorm).toBeGreaterThan(0);
      // the loss graph (training forward, f32) and the host's reverse KL (inference forward, f64) agree
      expect(Math.abs(first.loss - first.klBefore)).toBeLessThan(1e-4 * first.klBefore);
      expect(first.klAfter).toBeLessThan(first.klBefore);
      const second = await trainer.step(batch);
      expect(second.adapterPath).not.toBe(first.adapterPath);
      expect(second.adapterPath).toMatch(/adapter-000002\.gguf$/);
      const tensors = adapterTensors(second.adapterPath);
      expect(tensors.size).toBe(trainer.info.nTensors);
      // B starts at zero; after two steps it has moved
      const b = tensors.get('blk.0.attn_k.weight.lora_b')!;
      expect(b.some((x) => x !== 0)).toBe(true);
    } finally {
      await trainer.close();
    }
  });

  it('gives exactly zero gradient for masked rollouts: an all-masked batch leaves the adapter unchanged', async () => {
    const model = await tinyModel();
    const dir = stateDir();
    const trainer = await NativeTrainer.start(testConfig(model, dir));
    try {
      const batch = batchOf(2).map((e) => ({ ...e, masked: true }));
      const result = await trainer.step(batch);
      expect(result.gradNorm).toBe(0);
      expect(result.loss).toBe(0);
      expect(result.tokens).toBe(0);
      const before = adapterTensors(join(dir, 'adapter-000000.gguf'));
      const after = adapterTensors(result.adapterPath);
      for (const [name, values] of before) expect(after.get(name)).toEqual(values);

      // a masked rollout next to a real one changes nothing: same result as the real one alone at half weight
      const mixed = await trainer.step([batchOf(3, 1)[0]!, { ...batchOf(4, 1)[0]!, masked: true }]);
      expect(mixed.tokens).toBe(10);
      expect(mixed.gradNorm).toBeGreaterThan(0);
      // the KL after the update is measured only on request (measureKlAfter): NaN by default
      expect(mixed.klBefore).toBeGreaterThan(0);
      expect(mixed.klAfter).toBeNaN();
    } finally {
      await trainer.close();
    }
  });

  // every loss and the teachers that are not saved adapters (live: the student; teacherModel: a second file)
  const RESUMED: { name: string; overrides: Partial<TrainerConfig>; advantages?: boolean; withTeacherModel?: boolean }[] = [
    { name: 'distill, EMA teacher', overrides: { ema: 0.2 } },
    { name: 'distill, live teacher', overrides: { teacher: 'live' } },
    { name: 'distill from a teacher model', overrides: { teacher: 'frozen' }, withTeacherModel: true },
    { name: 'policy_gradient', overrides: { loss: 'policy_gradient' }, advantages: true },
    { name: 'cross_entropy', overrides: { loss: 'cross_entropy' } },
  ];
  it.each(RESUMED)('resumes from saved state bit-identically to an uninterrupted run: $name', async ({ overrides, advantages, withTeacherModel }) => {
    const model = await tinyModel();
    const teacherModel = withTeacherModel ? { teacherModel: await tinyTeacherModel() } : {};
    const config = (dir: string) => testConfig(model, dir, { weightDecay: 0.01, measureKlAfter: true, ...overrides, ...teacherModel });
    const withAdvantages = (batch: TrainExample[]) => (advantages ? batch.map((ex, i) => ({ ...ex, advantage: i % 2 ? -0.6 : 1.1 })) : batch);
    const [b1, b2, b3] = [batchOf(5), batchOf(6), batchOf(7)].map(withAdvantages);

    const straightDir = stateDir();
    const straight = await NativeTrainer.start(config(straightDir));
    let straightLast;
    try {
      await straight.step(b1);
      await straight.step(b2);
      straightLast = await straight.step(b3);
    } finally {
      await straight.close();
    }

    const resumedDir = stateDir();
    const first = await NativeTrainer.start(config(resumedDir));
    try {
      await first.step(b1);
      await first.step(b2);
      await first.save();
    } finally {
      await first.close();
    }
    const second = await NativeTrainer.start(config(resumedDir));
    let resumedLast;
    try {
      expect(second.info).toMatchObject({ resumed: true, step: 2 });
      resumedLast = await second.step(b3);
    } finally {
      await second.close();
    }
    expect(resumedLast.step).toBe(3);
    expect(resumedLast.loss).toBe(straightLast.loss);
    expect(Object.is(resumedLast.klAfter, straightLast.klAfter)).toBe(true); // NaN for the losses without a teacher
    expect(resumedLast.gradNorm).toBe(straightLast.gradNorm);
    expect(readFileSync(resumedLast.adapterPath)).toEqual(readFileSync(straightLast.adapterPath));
  });

  it('reports a trainer killed mid-step as TrainerDiedError with its stderr, not a hang', async () => {
    const model = await tinyModel();
    const trainer = await NativeTrainer.start(testConfig(model, stateDir()));
    const step = trainer.step(batchOf(8, 4));
    // Killed while the step request is in flight: a timer would race a fast step on a quiet machine.
    process.kill(trainer.pid!, 'SIGKILL');
    const error = await step.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TrainerDiedError);
    expect(error).toBeInstanceOf(UserError);
    expect((error as Error).message).toMatch(/killed by SIGKILL/);
    // later calls fail fast with the same error
    await expect(trainer.step(batchOf(9))).rejects.toBeInstanceOf(TrainerDiedError);
    await trainer.close();
  });

  it('refuses unsupported architectures up front with a clear error', async () => {
    const dir = stateDir();
    const gemma = join(dir, 'gemma.gguf');
    writeFileSync(gemma, metadataOnlyGguf([['general.architecture', 'gemma']]));
    await expect(NativeTrainer.start(testConfig(gemma, dir))).rejects.toThrow(/unsupported architecture 'gemma'/);
    const moe = join(dir, 'moe.gguf');
    writeFileSync(moe, metadataOnlyGguf([['general.architecture', 'qwen2'], ['qwen2.expert_count', 8]]));
    const error = await NativeTrainer.start(testConfig(moe, dir)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TrainerRequestError);
    expect((error as Error).message).toMatch(/mixture-of-experts/);
  });

  it('rejects a bad request without dying', async () => {
    const model = await tinyModel();
    const trainer = await NativeTrainer.start(testConfig(model, stateDir(), { maxTokens: 32 }));
    try {
      const long = { studentPrompt: Array(30).fill(100), teacherPrompt: [100], response: Array(10).fill(101), masked: false };
      await expect(trainer.step([long])).rejects.toThrow(/exceeds maxTokens 32/);
      const ex = { studentPrompt: [100, 200], teacherPrompt: [300], response: [101, 102], masked: false };
      await expect(trainer.step([{ ...ex, tokenWeights: [1] }])).rejects.toThrow(/tokenWeights must hold one finite number per response token/);
      await expect(trainer.step([{ ...ex, advantage: Number.NaN }])).rejects.toThrow(/advantage must be a finite number/);
      const ok = await trainer.step([ex]);
      expect(ok.step).toBe(1);
    } finally {
      await trainer.close();
    }
  });

  it('computes with its configured threads: at 1 thread a step never runs a second thread (the training graph once took ggml\'s default of 4)', async () => {
    const model = await tinyModel();
    const trainer = await NativeTrainer.start(testConfig(model, stateDir(), { threads: 1, maxTokens: 2048 }));
    // long sequences, so that each body graph computes for a while (the vocabulary's head runs apart)
    const batch = batchOf(13, 2).map((e) => ({ ...e, studentPrompt: Array.from({ length: 900 }, (_, i) => e.studentPrompt[i % 12]!), response: [...e.response, ...e.response, ...e.response] }));
    let most = 0;
    let polls = 0;
    let poll: NodeJS.Timeout | undefined;
    try {
      // the first step also makes the transposed copies of the frozen weights, a one-off with threads of its own
      expect((await trainer.step(batch)).skipped).toBe(false);
      poll = setInterval(() => {
        most = Math.max(most, readdirSync(`/proc/${trainer.pid}/task`).length);
        polls++;
      }, 1);
      for (let i = 0; i < 2; i++) expect((await trainer.step(batch)).skipped).toBe(false);
    } finally {
      clearInterval(poll);
      await trainer.close();
    }
    expect(polls).toBeGreaterThan(10);
    expect(most).toBe(1);
  });

  it("accepts the paper's lengths as maxTokens (teacher prompt 10240 + response 8192), past the old INT32_MAX / vocab limit", async () => {
    // 18432 × 151936 > 2^31: the old flat gather indices refused this at init
    const model = await tinyModel();
    const trainer = await NativeTrainer.start(testConfig(model, stateDir(), { maxTokens: 18432 }));
    try {
      const result = await trainer.step(batchOf(12, 1));
      expect(result.skipped).toBe(false);
      expect(result.gradNorm).toBeGreaterThan(0);
    } finally {
      await trainer.close();
    }
  });
});

/** A GGUF v3 file with only metadata (strings and u32), enough for the trainer's architecture check. */
function metadataOnlyGguf(entries: [string, string | number][]): Buffer {
  const parts: Buffer[] = [];
  const u32 = (v: number) => { const b = Buffer.alloc(4); b.writeUInt32LE(v); return b; };
  const u64 = (v: number) => { const b = Buffer.alloc(8); b.writeBigUInt64LE(BigInt(v)); return b; };
  const str = (s: string) => Buffer.concat([u64(Buffer.byteLength(s)), Buffer.from(s)]);
  parts.push(Buffer.from('GGUF'), u32(3), u64(0), u64(entries.length));
  for (const [key, value] of entries) {
    parts.push(str(key));
    parts.push(typeof value === 'string' ? Buffer.concat([u32(8), str(value)]) : Buffer.concat([u32(4), u32(value)]));
  }
  return Buffer.concat(parts);
}
