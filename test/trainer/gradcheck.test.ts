/**
 * Gradient check of the REAL native SDPO trainer against the independent float64 reference
 * (test/trainer/reference/): for every divergence, one plain-SGD step (lr 1, no weight decay, no
 * clip) from a known adapter with nonzero A and B on an F32 tiny qwen2 (3 layers, LoRA on
 * attn_q/k/v/output and ffn_gate/up/down in every layer), a batch whose teacher prompts differ
 * from the student prompts and which holds one masked rollout. Then
 *  (a) the trainer's loss equals the reference loss,
 *  (b) grad = init − new equals central finite differences of the reference loss on one A and one
 *      B entry of EVERY LoRA pair (42 entries: all projections, all layers, attn_k/attn_v included),
 *  (c) a batch where every rollout is masked moves nothing: gradient exactly zero.
 * Both backward paths are checked: the default one (input gradients of frozen weights through
 * their transposed copies, a rewritten graph) and ggml's own OUT_PROD (reverse KL only).
 * And, to tell a wrong backward pass from imprecise teacher scoring: (d) the trainer's loss and
 * gradient equal the reference's for the teacher log-probs it actually used, either exact (F32
 * scoring) or as llama.cpp computes them with its default F16 KV cache (emulated through
 * node-llama-cpp). (a)/(b) fail and (d) passes when only the teacher scoring is imprecise.
 * ~2–3 min on 2 busy cores (finite differences ~1 min, then one trainer process per
 * divergence); the trainer build itself is done by setup (`ttsd trainer build`) and cached.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NativeTrainer } from '../../src/trainer/native-trainer.js';
import type { TrainerConfig, TrainExample, TrainStepResult } from '../../src/trainer/types.js';
import { tinyModel } from '../helpers/models.js';
import { ALL_LORA_TARGETS, Rng, writeLoraFixture } from './reference/fixtures.js';
import { LoraAdapter, type LoraEntry } from './reference/lora.js';
import { ReferenceModel } from './reference/model.js';
import { llamaLogSoftmaxRows, loadLlamaModel } from './reference/llama-scores.js';
import { batchLosses, responseRows, studentLogSoftmax, targetsFromRows, teacherTargets, type LossSpec, type TeacherTargets } from './reference/sdpo.js';

const RANK = 4;
const ALPHA = 8;
const TOP_K = 5;
const FD_STEP = 1e-4;
const SPECS: LossSpec[] = [
  { divergence: 'reverse_kl', jsdAlpha: 0.5 },
  { divergence: 'forward_kl', jsdAlpha: 0.5 },
  { divergence: 'jsd', jsdAlpha: 0.5 },
  { divergence: 'sampled_token', jsdAlpha: 0.5 },
];

const dir = mkdtempSync(join(tmpdir(), 'ttsd-gradcheck-'));
const initAdapter = join(dir, 'init.gguf');
let modelPath: string;
let init: LoraAdapter;
let entries: LoraEntry[];
let batch: TrainExample[];
/** Reference loss per spec and finite-difference gradients [spec][entry], for one teacher scoring. */
interface ReferenceResult {
  teacher: string;
  loss: number[];
  grad: number[][];
}
let exact: ReferenceResult;
let f16Teacher: ReferenceResult;

function tokens(rng: Rng, n: number): number[] {
  return Array.from({ length: n }, () => 1000 + rng.int(150_000));
}

beforeAll(async () => {
  modelPath = await tinyModel({ arch: 'qwen2', layers: 3 });
  writeLoraFixture(modelPath, initAdapter, { rank: RANK, alpha: ALPHA, targets: ALL_LORA_TARGETS, seed: 5, bStd: 0.2 });
  init = LoraAdapter.read(initAdapter);
  expect(init.pairs.size).toBe(3 * ALL_LORA_TARGETS.length);

  const rng = new Rng(2024);
  const studentA = tokens(rng, 6);
  const studentB = tokens(rng, 5);
  batch = [
    // Teacher contexts: the student prompt with "feedback" inserted, as the real teacher context is built.
    { studentPrompt: studentA, teacherPrompt: [...studentA.slice(0, 4), ...tokens(rng, 4), ...studentA.slice(4)], response: tokens(rng, 8), masked: false },
    { studentPrompt: tokens(rng, 4), teacherPrompt: tokens(rng, 7), response: tokens(rng, 6), masked: true },
    { studentPrompt: studentB, teacherPrompt: [...studentB, ...tokens(rng, 3)], response: tokens(rng, 7), masked: false },
  ];

  // One A and one B entry of every LoRA pair, at seeded positions.
  entries = [];
  for (const pair of init.pairs.values()) {
    entries.push({ weight: pair.weight, matrix: 'a', index: rng.int(pair.a.length) });
    entries.push({ weight: pair.weight, matrix: 'b', index: rng.int(pair.b.length) });
  }

  const reference = ReferenceModel.load(modelPath);
  // Teacher = the same base + the teacher adapter, which equals the student's at the first step.
  const targets: (TeacherTargets | undefined)[] = batch.map((ex) => (ex.masked ? undefined : teacherTargets(reference, init, init, ex, TOP_K)));
  for (const t of targets) {
    // The trainer picks its own top-K ids (f32, possibly through an F16 KV cache, whose logit
    // errors reach ~5e-3 here): the test needs no near ties at the K-th place.
    if (t) expect(Math.min(...t.topKGap)).toBeGreaterThan(5e-3);
  }
  exact = referenceResult('exact float64', reference, targets);

  // The same teacher as llama.cpp scores it with an F16 KV cache (llama.cpp's default).
  const llamaModel = await loadLlamaModel(modelPath);
  try {
    const emulated: (TeacherTargets | undefined)[] = [];
    for (const [i, ex] of batch.entries()) {
      if (ex.masked) {
        emulated.push(undefined);
        continue;
      }
      const rows = responseRows(ex.teacherPrompt.length, ex.response.length);
      const teacherRows = await llamaLogSoftmaxRows(llamaModel, initAdapter, [...ex.teacherPrompt, ...ex.response], rows, 'F16');
      const emulatedTargets = targetsFromRows(studentLogSoftmax(reference, init, ex), teacherRows, ex.response, TOP_K);
      expect(emulatedTargets.ids).toEqual(targets[i]!.ids);
      emulated.push(emulatedTargets);
    }
    f16Teacher = referenceResult('teacher scored with an F16 KV cache', reference, emulated);
  } finally {
    await llamaModel.dispose();
  }
}, 600_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

function referenceResult(
  teacher: string,
  reference: ReferenceModel,
  targets: (TeacherTargets | undefined)[],
  examples = batch,
  specs = SPECS,
  base = init,
  list = entries,
): ReferenceResult {
  const grad: number[][] = specs.map(() => []);
  for (const entry of list) {
    const plus = batchLosses(reference, base.perturbed(entry, FD_STEP), examples, targets, specs);
    const minus = batchLosses(reference, base.perturbed(entry, -FD_STEP), examples, targets, specs);
    specs.forEach((_, s) => grad[s].push((plus[s] - minus[s]) / (2 * FD_STEP)));
  }
  return { teacher, loss: batchLosses(reference, base, examples, targets, specs), grad };
}

interface GradientComparison {
  median: number;
  worst: number;
  scale: number;
  report: string;
  rows: { entry: LoraEntry; fd: number; trained: number; rel: number }[];
}

/** The trainer's gradient (init − new, lr 1) against finite differences, entry by entry. */
function compareGradients(fd: number[], stepped: LoraAdapter, base = init, list = entries): GradientComparison {
  const scale = Math.max(...fd.map(Math.abs));
  // Relative to max(|g|, floor): the new adapter is f32, so init − new carries ~1e-8 absolute
  // rounding, which the floor keeps from dominating the smallest gradients.
  const floor = Math.max(1e-3 * scale, 1e-7);
  const rows = list.map((entry, i) => {
    const trained = base.get(entry) - stepped.get(entry);
    return { entry, fd: fd[i], trained, rel: Math.abs(trained - fd[i]) / Math.max(Math.abs(fd[i]), floor) };
  });
  const rels = rows.map((r) => r.rel).sort((a, b) => a - b);
  const report = [...rows]
    .sort((a, b) => b.rel - a.rel)
    .slice(0, 8)
    .map((r) => `  ${describeEntry(r.entry)}: fd ${r.fd.toExponential(4)} trainer ${r.trained.toExponential(4)} rel ${r.rel.toExponential(2)}`)
    .join('\n');
  return { median: rels[Math.floor(rels.length / 2)], worst: rels[rels.length - 1], scale, report, rows };
}

function relative(got: number, want: number): number {
  return Math.abs(got - want) / Math.abs(want);
}

function describeEntry(e: LoraEntry): string {
  return `${e.weight.replace('.weight', '')} ${e.matrix.toUpperCase()}[${e.index}]`;
}

// Every divergence through the default backward (input gradients via transposed copies of the frozen
// weights), and reverse KL once more through ggml's own OUT_PROD backward (transposedWeights: false).
// The head (logits, log-softmax, top-K, loss, dL/dH) runs in blocks of headBlockRows rows: the default
// (256) holds each response in one block; blocks of 3 rows split the 8- and 7-row responses into 3 blocks
// each, with a boundary inside every response (a wrong row offset at a boundary shows up there).
// Attention: the blocked causal attention (the default: its backward recomputes each query block's softmax)
// everywhere, in one block per sequence (automatic block rows) and, with JSD, in blocks of 4 query rows (the
// 14- and 15-token sequences span 4 blocks, each against its causal key prefix); reverse KL once more through
// the fused attention (CPU custom ops) and the plain, materialised softmax.
const RUNS = [
  ...SPECS.map((spec, index) => ({ ...spec, index, transposedWeights: true, headBlockRows: 256, attention: 'blocked' as const, attentionBlockRows: 0 })),
  { ...SPECS[0]!, index: 0, transposedWeights: false, headBlockRows: 256, attention: 'blocked' as const, attentionBlockRows: 0 },
  { ...SPECS[2]!, index: 2, transposedWeights: true, headBlockRows: 3, attention: 'blocked' as const, attentionBlockRows: 4 },
  { ...SPECS[0]!, index: 0, transposedWeights: false, headBlockRows: 3, attention: 'fused' as const, attentionBlockRows: 0 },
  { ...SPECS[0]!, index: 0, transposedWeights: true, headBlockRows: 256, attention: 'plain' as const, attentionBlockRows: 0 },
];

describe.each(RUNS)('native trainer vs float64 reference: $divergence ($attention attention, query blocks of $attentionBlockRows rows (0: automatic), transposed weights: $transposedWeights, head blocks of $headBlockRows rows)', (spec) => {
  let trainer: NativeTrainer;
  let result: TrainStepResult;
  let stepped: LoraAdapter;

  beforeAll(async () => {
    const config = plainSgd(join(dir, `state-${spec.divergence}-${spec.transposedWeights}-${spec.headBlockRows}-${spec.attention}-${spec.attentionBlockRows}`), {
      loraRank: RANK,
      loraAlpha: ALPHA,
      divergence: spec.divergence,
      jsdAlpha: spec.jsdAlpha,
      initAdapter,
      transposedWeights: spec.transposedWeights,
      headBlockRows: spec.headBlockRows,
      attention: spec.attention,
      attentionBlockRows: spec.attentionBlockRows,
    });
    trainer = await NativeTrainer.start(config);
    expect(trainer.info.attention).toBe(spec.attention);
    result = await trainer.step(batch);
    stepped = LoraAdapter.read(result.adapterPath);
  }, 300_000);

  afterAll(async () => {
    await trainer?.close();
  });

  it('reports the loss of the SDPO definition (rel. error ≤ 1e-4)', () => {
    expect(result.skipped).toBe(false);
    const want = exact.loss[spec.index];
    expect(want).toBeGreaterThan(1e-3);
    expect(relative(result.loss, want), `trainer ${result.loss}, reference ${want}`).toBeLessThan(1e-4);
  });

  it('takes the gradient of the SDPO definition on every projection of every layer (median ≤ 1e-3, worst ≤ 1e-2)', () => {
    const c = compareGradients(exact.grad[spec.index], stepped);
    console.log(
      `gradcheck ${spec.divergence} vs ${exact.teacher}: loss rel ${relative(result.loss, exact.loss[spec.index]).toExponential(2)}; ` +
        `${c.rows.length} entries, |g| max ${c.scale.toExponential(2)}, median rel ${c.median.toExponential(2)}, worst ${c.worst.toExponential(2)}\n${c.report}`,
    );
    // Not vacuous: the gradient reaches every projection (the K/V bug left attn_k/attn_v at 0).
    for (const proj of ALL_LORA_TARGETS) {
      const inProj = c.rows.filter((r) => r.entry.weight.includes(`.${proj}.`));
      expect(Math.max(...inProj.map((r) => Math.abs(r.fd))), proj).toBeGreaterThan(1e-3 * c.scale);
      expect(Math.max(...inProj.map((r) => Math.abs(r.trained))), proj).toBeGreaterThan(1e-3 * c.scale);
    }
    expect(c.median, c.report).toBeLessThanOrEqual(1e-3);
    expect(c.worst, c.report).toBeLessThanOrEqual(1e-2);
  });

  it('has an exact backward pass for the teacher log-probs it used (F32- or F16-KV-scored)', () => {
    // Whichever teacher scoring the trainer's loss matches, its gradient must match that one tightly.
    const candidates = [exact, f16Teacher].map((ref) => ({ ref, lossRel: relative(result.loss, ref.loss[spec.index]) }));
    const { ref, lossRel } = candidates.reduce((a, b) => (b.lossRel < a.lossRel ? b : a));
    const c = compareGradients(ref.grad[spec.index], stepped);
    console.log(
      `gradcheck ${spec.divergence} vs ${ref.teacher}: loss rel ${lossRel.toExponential(2)}; median rel ${c.median.toExponential(2)}, worst ${c.worst.toExponential(2)}`,
    );
    expect(lossRel, `closest teacher scoring: ${ref.teacher}`).toBeLessThan(2e-5);
    expect(c.median, `${ref.teacher}\n${c.report}`).toBeLessThanOrEqual(2e-4);
    expect(c.worst, `${ref.teacher}\n${c.report}`).toBeLessThanOrEqual(1e-2);
  });

  it('gives exactly zero gradient when every rollout is masked', async () => {
    const allMasked = batch.map((ex) => ({ ...ex, masked: true }));
    const next = await trainer.step(allMasked);
    const after = LoraAdapter.read(next.adapterPath);
    expect(next.loss).toBe(0);
    for (const [weight, pair] of stepped.pairs) {
      const moved = after.pairs.get(weight)!;
      expect(Buffer.from(moved.a.buffer).equals(Buffer.from(pair.a.buffer)), `${weight} A`).toBe(true);
      expect(Buffer.from(moved.b.buffer).equals(Buffer.from(pair.b.buffer)), `${weight} B`).toBe(true);
    }
  });
});

// A rollout long enough to span several attention blocks: a 150-token student prompt (teacher prompt: it
// with 4 tokens of "feedback" inserted) and an 8-token response, so rows see up to 158 keys: the blocked
// attention in blocks of 32 query rows (5 blocks, the last one partial, each against its key prefix), the
// fused attention's forward over three blocks of 64 keys; and a short rollout beside it. Reverse KL, blocked,
// fused and plain, against the float64 reference (exact teacher: the trainer scores the teacher on an F32
// inference context here, as the short batch shows).
/** One plain SGD step (no decay, no clip; reverse KL unless overridden), so the adapter after the step shows the gradient. */
function plainSgd(stateDir: string, overrides: Pick<TrainerConfig, 'loraRank' | 'loraAlpha'> & Partial<TrainerConfig>): TrainerConfig {
  return {
    model: modelPath,
    stateDir,
    loraTargets: ALL_LORA_TARGETS,
    lr: 1,
    weightDecay: 0,
    gradClip: 0,
    divergence: 'reverse_kl',
    jsdAlpha: 0.5,
    topK: TOP_K,
    teacher: 'ema',
    ema: 0.01,
    threads: 2,
    seed: 1,
    optimizer: 'sgd',
    ...overrides,
  };
}

describe('a sequence spanning several attention blocks', () => {
  const LONG_SPECS = [SPECS[0]!];
  let longBatch: TrainExample[];
  let longExact: ReferenceResult;

  beforeAll(() => {
    const rng = new Rng(88); // a seed without near ties at the K-th place (see the short batch)
    const prompt = tokens(rng, 150);
    longBatch = [
      { studentPrompt: prompt, teacherPrompt: [...prompt.slice(0, 140), ...tokens(rng, 4), ...prompt.slice(140)], response: tokens(rng, 8), masked: false },
      { studentPrompt: tokens(rng, 5), teacherPrompt: tokens(rng, 9), response: tokens(rng, 6), masked: false },
    ];
    const reference = ReferenceModel.load(modelPath);
    const targets = longBatch.map((ex) => teacherTargets(reference, init, init, ex, TOP_K));
    for (const t of targets) expect(Math.min(...t.topKGap)).toBeGreaterThan(5e-3);
    longExact = referenceResult('exact float64', reference, targets, longBatch, LONG_SPECS);
  }, 600_000);

  it.each([
    { attention: 'blocked' as const, attentionBlockRows: 32 },
    { attention: 'fused' as const, attentionBlockRows: 0 },
    { attention: 'plain' as const, attentionBlockRows: 0 },
  ])('$attention attention: loss (rel. ≤ 1e-4) and gradient (median ≤ 1e-3, worst ≤ 1e-2) of reverse KL', async ({ attention, attentionBlockRows }) => {
    const trainer = await NativeTrainer.start(
      plainSgd(join(dir, `state-long-${attention}`), { loraRank: RANK, loraAlpha: ALPHA, initAdapter, attention, attentionBlockRows }),
    );
    try {
      const result = await trainer.step(longBatch);
      const c = compareGradients(longExact.grad[0]!, LoraAdapter.read(result.adapterPath));
      const lossRel = relative(result.loss, longExact.loss[0]!);
      console.log(
        `gradcheck long sequence, ${attention} attention: loss rel ${lossRel.toExponential(2)}; ${c.rows.length} entries, median rel ${c.median.toExponential(2)}, worst ${c.worst.toExponential(2)}\n${c.report}`,
      );
      expect(lossRel).toBeLessThan(1e-4);
      expect(c.median, c.report).toBeLessThanOrEqual(1e-3);
      expect(c.worst, c.report).toBeLessThanOrEqual(1e-2);
    } finally {
      await trainer.close();
    }
  }, 300_000);
});

// Rank 16: the LoRA gradients (dA = x dy_a^T, dB = u dy^T) and the input gradients through A and B are OUT_PRODs
// whose CPU kernel (ttsd-llama.patch, ops.cpp) runs full tiles of one SIMD vector x 8 rows and scalar edge tiles.
// At rank 4 (above) every A/B gradient lies in edge tiles; at rank 16 dA, dB and du fill whole tiles.
describe('rank 16: every LoRA gradient through the full SIMD tiles of the CPU OUT_PROD', () => {
  const R16 = 16;
  const path16 = join(dir, 'init-rank16.gguf');
  let init16: LoraAdapter;
  let entries16: LoraEntry[];
  let exact16: ReferenceResult;

  beforeAll(() => {
    writeLoraFixture(modelPath, path16, { rank: R16, alpha: 2 * R16, targets: ALL_LORA_TARGETS, seed: 17, bStd: 0.2 });
    init16 = LoraAdapter.read(path16);
    const rng = new Rng(1616);
    entries16 = [];
    for (const pair of init16.pairs.values()) {
      entries16.push({ weight: pair.weight, matrix: 'a', index: rng.int(pair.a.length) });
      entries16.push({ weight: pair.weight, matrix: 'b', index: rng.int(pair.b.length) });
    }
    const reference = ReferenceModel.load(modelPath);
    const targets = batch.map((ex) => (ex.masked ? undefined : teacherTargets(reference, init16, init16, ex, TOP_K)));
    for (const t of targets) if (t) expect(Math.min(...t.topKGap)).toBeGreaterThan(5e-3);
    exact16 = referenceResult('exact float64', reference, targets, batch, [SPECS[0]!], init16, entries16);
  }, 600_000);

  it('reverse KL: loss (rel. ≤ 1e-4) and gradient (median ≤ 1e-3, worst ≤ 1e-2)', async () => {
    const trainer = await NativeTrainer.start(plainSgd(join(dir, 'state-rank16'), { loraRank: R16, loraAlpha: 2 * R16, initAdapter: path16 }));
    try {
      const result = await trainer.step(batch);
      const c = compareGradients(exact16.grad[0]!, LoraAdapter.read(result.adapterPath), init16, entries16);
      const lossRel = relative(result.loss, exact16.loss[0]!);
      console.log(
        `gradcheck rank 16: loss rel ${lossRel.toExponential(2)}; ${c.rows.length} entries, median rel ${c.median.toExponential(2)}, worst ${c.worst.toExponential(2)}\n${c.report}`,
      );
      expect(lossRel).toBeLessThan(1e-4);
      for (const proj of ALL_LORA_TARGETS) {
        const inProj = c.rows.filter((r) => r.entry.weight.includes(`.${proj}.`));
        expect(Math.max(...inProj.map((r) => Math.abs(r.trained))), proj).toBeGreaterThan(1e-3 * c.scale);
      }
      expect(c.median, c.report).toBeLessThanOrEqual(1e-3);
      expect(c.worst, c.report).toBeLessThanOrEqual(1e-2);
    } finally {
      await trainer.close();
    }
  }, 300_000);
});
