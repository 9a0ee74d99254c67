/**
 * Checks of the float64 reference itself (test/trainer/reference/), before it is used to judge
 * the native trainer: its log-probabilities against llama.cpp's (node-llama-cpp) on F32 tiny
 * qwen2, qwen3, llama and tied-head qwen2 models, with and without a LoRA adapter on every
 * projection; its SDPO divergences against their definitions; the stability of its finite
 * differences. ~25 s on 2 busy cores (+ ~15 s the first time tinyModel() writes its models).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LlamaModel } from 'node-llama-cpp';
import type { TrainExample } from '../../src/trainer/types.js';
import { tinyModel } from '../helpers/models.js';
import { ALL_LORA_TARGETS, Rng, TINY_QWEN2, writeLoraFixture, writeTinyQwen2 } from './reference/fixtures.js';
import { llamaRows, loadLlamaModel } from './reference/llama-scores.js';
import { LoraAdapter, type LoraEntry } from './reference/lora.js';
import { ReferenceModel } from './reference/model.js';
import { ppoTerm, tokenAdvantages } from './reference/policy.js';
import { batchLosses, teacherTargets, tokenDivergence, topIds, type LossSpec, type TeacherTargets } from './reference/sdpo.js';

const ALL_SPECS: LossSpec[] = [
  { divergence: 'reverse_kl', jsdAlpha: 0.5 },
  { divergence: 'forward_kl', jsdAlpha: 0.5 },
  { divergence: 'jsd', jsdAlpha: 0.5 },
  { divergence: 'jsd', jsdAlpha: 0.2 },
  { divergence: 'sampled_token', jsdAlpha: 0.5 },
];

const dir = mkdtempSync(join(tmpdir(), 'ttsd-reference-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// Qwen2 / Llama-3 ids of ordinary text pieces; any ids work for a random-weight model.
const TOKENS = [9707, 11, 1879, 0, 576, 1156, 374, 264, 1273, 315, 279, 13, 4710, 17, 18, 19, 20, 21];
const TOP_K = 5;

interface Case {
  name: string;
  model: () => Promise<string>;
}

const CASES: Case[] = [
  { name: 'qwen2 (3 layers, Q/K/V biases, NEOX RoPE)', model: () => tinyModel({ arch: 'qwen2', layers: 3 }) },
  { name: 'qwen3 (Q/K norms)', model: () => tinyModel({ arch: 'qwen3' }) },
  { name: 'llama (normal RoPE)', model: () => tinyModel({ arch: 'llama' }) },
  {
    name: 'qwen2 with a tied output head',
    model: async () => {
      const path = join(dir, 'tied-qwen2.gguf');
      await writeTinyQwen2(path, { ...TINY_QWEN2, layers: 2, tied: true });
      return path;
    },
  },
];

describe.each(CASES)('reference forward pass vs llama.cpp: $name, F32', ({ model }) => {
  let modelPath: string;
  let adapterPath: string;
  let reference: ReferenceModel;
  let adapter: LoraAdapter;
  let llamaModel: LlamaModel;

  beforeAll(async () => {
    modelPath = await model();
    adapterPath = join(dir, `lora-${Math.random().toString(36).slice(2)}.gguf`);
    writeLoraFixture(modelPath, adapterPath, { rank: 4, alpha: 8, targets: ALL_LORA_TARGETS, seed: 3, bStd: 0.2 });
    reference = ReferenceModel.load(modelPath);
    adapter = LoraAdapter.read(adapterPath);
    llamaModel = await loadLlamaModel(modelPath);
  });
  afterAll(async () => {
    await llamaModel?.dispose();
  });

  for (const withAdapter of [false, true]) {
    it(`agrees with node-llama-cpp ${withAdapter ? 'with' : 'without'} a LoRA adapter on every projection`, async () => {
      const rows = TOKENS.slice(0, -1).map((_, i) => i);
      const ours = reference.logSoftmaxRows(TOKENS, rows, withAdapter ? adapter : undefined);
      const ids = ours.map((row, r) => [...topIds(row, TOP_K), TOKENS[rows[r] + 1]]);
      const theirs = await llamaRows(llamaModel, withAdapter ? adapterPath : undefined, TOKENS, rows, ids, TOP_K);
      let worstWithinRow = 0;
      let worstAbsolute = 0;
      theirs.forEach((row, r) => {
        expect(row.topIds).toEqual(ids[r].slice(0, TOP_K));
        // Differences of log-probs within a row are logit differences: they test the whole
        // forward pass. The row's normaliser adds node-llama-cpp's own f32 sum over the vocab.
        const anchor = ids[r][0];
        for (const id of ids[r]) {
          const mine = ours[r][id] - ours[r][anchor];
          const llama = row.logProbs.get(id)! - row.logProbs.get(anchor)!;
          worstWithinRow = Math.max(worstWithinRow, Math.abs(mine - llama));
          worstAbsolute = Math.max(worstAbsolute, Math.abs(ours[r][id] - row.logProbs.get(id)!));
        }
      });
      expect(worstWithinRow).toBeLessThan(2e-5);
      expect(worstAbsolute).toBeLessThan(4e-4);
    });
  }

  it('is changed by the adapter (so the LoRA comparison is not vacuous)', () => {
    const rows = [4, 10, 16];
    const base = reference.logSoftmaxRows(TOKENS, rows);
    const adapted = reference.logSoftmaxRows(TOKENS, rows, adapter);
    const moved = Math.max(...rows.map((_, r) => Math.abs(base[r][TOKENS[rows[r] + 1]] - adapted[r][TOKENS[rows[r] + 1]])));
    expect(moved).toBeGreaterThan(0.05);
  });
});

describe('SDPO divergences', () => {
  // Four-token vocabulary, K = 2: p = (.5, .3 | .15, .05), teacher q at S = (.25, .25), q(⊥) = .5.
  const row = Float64Array.from([0.5, 0.3, 0.15, 0.05].map(Math.log));
  const targets: TeacherTargets = { ids: [[0, 1]], lq: [[Math.log(0.25), Math.log(0.25)]], lqTail: [Math.log(0.5)], lqToken: [Math.log(0.1)], topKGap: [0] };
  const d = (divergence: LossSpec['divergence'], jsdAlpha = 0.5, token = 2) => tokenDivergence({ divergence, jsdAlpha }, row, targets, 0, token);
  const p = [0.5, 0.3, 0.2];
  const q = [0.25, 0.25, 0.5];
  const klOf = (a: number[], b: number[]) => a.reduce((s, ai, i) => s + ai * Math.log(ai / b[i]), 0);

  it('reverse and forward KL include the tail bucket', () => {
    expect(d('reverse_kl')).toBeCloseTo(klOf(p, q), 14);
    expect(d('forward_kl')).toBeCloseTo(klOf(q, p), 14);
  });

  it('JSD(α) mixes with m = (1−α)p + αq and is symmetric at α = 0.5', () => {
    for (const a of [0.5, 0.2]) {
      const m = p.map((pi, i) => (1 - a) * pi + a * q[i]);
      expect(d('jsd', a)).toBeCloseTo((1 - a) * klOf(p, m) + a * klOf(q, m), 14);
    }
    const swapped = tokenDivergence(
      { divergence: 'jsd', jsdAlpha: 0.5 },
      Float64Array.from([0.25, 0.25, 0.25, 0.25].map(Math.log)),
      { ids: [[0, 1]], lq: [[Math.log(0.5), Math.log(0.3)]], lqTail: [Math.log(0.2)], lqToken: [0], topKGap: [0] },
      0,
      0,
    );
    const pq = [0.25, 0.25, 0.5];
    const mm = pq.map((x, i) => 0.5 * x + 0.5 * p[i]);
    expect(swapped).toBeCloseTo(0.5 * klOf(pq, mm) + 0.5 * klOf(p, mm), 14);
    expect(d('jsd', 0.5)).toBeCloseTo(swapped, 14);
  });

  it('the sampled-token estimator is ½(log p(y) − log q(y))²', () => {
    expect(d('sampled_token', 0.5, 2)).toBeCloseTo(0.5 * Math.log(0.15 / 0.1) ** 2, 14);
    expect(d('sampled_token', 0.5, 3)).toBeCloseTo(0.5 * Math.log(0.05 / 0.1) ** 2, 14);
  });

  it('topIds matches a full sort', () => {
    const rng = new Rng(11);
    const r = Float64Array.from({ length: 5000 }, () => rng.normal());
    const sorted = [...r.keys()].sort((a, b) => r[b] - r[a]);
    expect(topIds(r, 20)).toEqual(sorted.slice(0, 20));
  });
});

describe('SDPO batch loss on the tiny model', () => {
  let reference: ReferenceModel;
  let adapter: LoraAdapter;
  beforeAll(async () => {
    const modelPath = await tinyModel({ arch: 'qwen2', layers: 3 });
    const adapterPath = join(dir, 'lora-batch.gguf');
    writeLoraFixture(modelPath, adapterPath, { rank: 4, alpha: 8, targets: ALL_LORA_TARGETS, seed: 3, bStd: 0.2 });
    reference = ReferenceModel.load(modelPath);
    adapter = LoraAdapter.read(adapterPath);
  });

  const example = (prompt: number[], teacherPrompt: number[], response: number[], masked = false): TrainExample => ({
    studentPrompt: prompt,
    teacherPrompt,
    response,
    masked,
  });

  it('is zero for every divergence when the teacher sees what the student sees', () => {
    const ex = example(TOKENS.slice(0, 5), TOKENS.slice(0, 5), TOKENS.slice(5, 11));
    const targets = teacherTargets(reference, adapter, adapter, ex, TOP_K);
    for (const loss of batchLosses(reference, adapter, [ex], [targets], ALL_SPECS)) expect(Math.abs(loss)).toBeLessThan(1e-12);
  });

  it('counts masked rollouts in the mean, and has stable finite differences (incl. attn_k, attn_v)', () => {
    const ex = example(TOKENS.slice(0, 5), [TOKENS[0], 42, 43, 44, ...TOKENS.slice(1, 5)], TOKENS.slice(5, 11));
    const masked = example(TOKENS.slice(2, 6), TOKENS.slice(0, 6), TOKENS.slice(6, 12), true);
    const targets = teacherTargets(reference, adapter, adapter, ex, TOP_K);
    expect(Math.min(...targets.topKGap)).toBeGreaterThan(1e-4);
    const single = batchLosses(reference, adapter, [ex], [targets], ALL_SPECS);
    const withMasked = batchLosses(reference, adapter, [ex, masked], [targets, undefined], ALL_SPECS);
    single.forEach((l, s) => {
      expect(l).toBeGreaterThan(1e-4);
      expect(withMasked[s]).toBeCloseTo(l / 2, 14);
    });
    const entries: LoraEntry[] = [
      { weight: 'blk.0.attn_k.weight', matrix: 'a', index: 5 },
      { weight: 'blk.1.attn_v.weight', matrix: 'b', index: 7 },
      { weight: 'blk.2.ffn_down.weight', matrix: 'a', index: 100 },
    ];
    for (const entry of entries) {
      const fd = (h: number) => {
        const plus = batchLosses(reference, adapter.perturbed(entry, h), [ex], [targets], ALL_SPECS);
        const minus = batchLosses(reference, adapter.perturbed(entry, -h), [ex], [targets], ALL_SPECS);
        return plus.map((lp, s) => (lp - minus[s]) / (2 * h));
      };
      const coarse = fd(1e-4);
      const fine = fd(2.5e-5);
      coarse.forEach((g, s) => {
        expect(Math.abs(g)).toBeGreaterThan(1e-6);
        expect(Math.abs(g - fine[s]) / Math.abs(g)).toBeLessThan(1e-5);
      });
    }
  });
});

describe('reference policy losses against their definitions', () => {
  it('ppoTerm: −min(r·A, clip(r, 1−ε, 1+ε)·A) on every side of the clip', () => {
    const at = (ratio: number, advantage: number) => ppoTerm(Math.log(ratio) - 3, -3, advantage, 0.2);
    // A > 0: above the range the clip binds (constant), below it the ratio term is the minimum
    expect(at(1.5, 2)).toMatchObject({ clipped: true });
    expect(at(1.5, 2).loss).toBeCloseTo(-2.4, 12);
    expect(at(0.5, 2)).toMatchObject({ clipped: false });
    expect(at(0.5, 2).loss).toBeCloseTo(-1, 12);
    // A < 0: the other way round
    expect(at(0.5, -1)).toMatchObject({ clipped: true });
    expect(at(0.5, -1).loss).toBeCloseTo(0.8, 12);
    expect(at(1.5, -1)).toMatchObject({ clipped: false });
    expect(at(1.5, -1).loss).toBeCloseTo(1.5, 12);
    expect(at(1.1, 3)).toMatchObject({ clipped: false, ratio: expect.closeTo(1.1, 12) });
    expect(at(1.1, 3).loss).toBeCloseTo(-3.3, 12);
  });

  it('token weights override the advantage; cross_entropy defaults to 1; policy_gradient has no default', () => {
    const ex: TrainExample = { studentPrompt: [1], teacherPrompt: [], response: [2, 3], masked: false };
    expect(tokenAdvantages({ loss: 'cross_entropy' }, ex)).toEqual([1, 1]);
    expect(tokenAdvantages({ loss: 'cross_entropy' }, { ...ex, advantage: 0.5 })).toEqual([0.5, 0.5]);
    expect(tokenAdvantages({ loss: 'policy_gradient', clip: 0.2 }, { ...ex, advantage: 0.5, tokenWeights: [2, -1] })).toEqual([2, -1]);
    expect(tokenAdvantages({ loss: 'policy_gradient', clip: 0.2 }, ex).every(Number.isNaN)).toBe(true);
  });
});
