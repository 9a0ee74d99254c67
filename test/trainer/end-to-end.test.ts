/**
 * End to end: a few real trainer steps, then node-llama-cpp (the sampler's runtime) loads the
 * adapters the trainer wrote and measures KL(student ‖ teacher) on the same rollouts itself.
 * The drop it measures must equal the drop the trainer reported, so the sampler really sees the
 * new weights. The teacher is frozen (ema 0) so both sides use the same teacher. ~1 min.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { getLlama, type LlamaModel } from 'node-llama-cpp';
import { afterAll, describe, expect, it } from 'vitest';
import { NativeTrainer } from '../../src/trainer/native-trainer.js';
import type { TrainExample } from '../../src/trainer/types.js';
import { tinyModel } from '../helpers/models.js';
import { batchOf, tempStateDir, testConfig } from './helpers.js';

const TOP_K = 20;
const TAIL_EPS = 1e-7;
const dir = tempStateDir();
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Row {
  ids: number[];
  logp: number[];
}

/** Full-vocabulary log-probs at response positions, as node-llama-cpp computes them. */
async function scoreRows(
  model: LlamaModel,
  adapter: string,
  prompt: number[],
  response: number[],
  idsOf: (row: number) => number[] | null, // null: take the top K
): Promise<Row[]> {
  const context = await model.createContext({ contextSize: 256, batchSize: 256, threads: 2, lora: { adapters: [{ filePath: adapter }] } });
  try {
    const sequence = context.getSequence();
    const tokens = [...prompt, ...response.slice(0, -1)];
    const first = prompt.length - 1;
    const input = tokens.map((token, i) => {
      if (i < first) return token;
      const ids = idsOf(i - first);
      const filter = ids === null ? { tokens: [], includeTop: TOP_K } : { tokens: ids, includeTop: 1 };
      return [token, { generateNext: { logits: { filter }, totalLogitWeight: true } }] as const;
    });
    const results = await sequence.controlledEvaluate(input as never);
    const rows: Row[] = [];
    for (let i = first; i < tokens.length; i++) {
      const next = (results[i] as { next: { logits: Map<number, number>; totalLogitWeight: number } }).next;
      const max = Math.max(...next.logits.values());
      const lse = max + Math.log(next.totalLogitWeight);
      const ids = idsOf(i - first) ?? [...next.logits.keys()].slice(0, TOP_K);
      rows.push({ ids, logp: ids.map((id) => next.logits.get(id)! - lse) });
    }
    return rows;
  } finally {
    await context.dispose();
  }
}

/** Reverse KL over the student's top-K + tail bucket, mean per rollout, mean over the batch (float64). */
async function measuredKl(model: LlamaModel, student: string, teacher: string, batch: TrainExample[]): Promise<number> {
  let total = 0;
  for (const example of batch) {
    const p = await scoreRows(model, student, example.studentPrompt, example.response, () => null);
    const q = await scoreRows(model, teacher, example.teacherPrompt, example.response, (row) => p[row]!.ids);
    let sequence = 0;
    for (let row = 0; row < p.length; row++) {
      const lp = p[row]!.logp;
      const lq = q[row]!.logp;
      const sumP = lp.reduce((s, x) => s + Math.exp(x), 0);
      const sumQ = lq.reduce((s, x) => s + Math.exp(x), 0);
      const tailP = TAIL_EPS + Math.max(0, 1 - TAIL_EPS - sumP);
      const logTailQ = sumQ < 1 - TAIL_EPS ? Math.log1p(-sumQ) : Math.log(TAIL_EPS);
      let kl = tailP * (Math.log(tailP) - logTailQ);
      for (let a = 0; a < lp.length; a++) kl += Math.exp(lp[a]!) * (lp[a]! - lq[a]!);
      sequence += kl;
    }
    total += sequence / p.length / batch.length;
  }
  return total;
}

describe('trainer → node-llama-cpp', () => {
  it('lowers KL(student‖teacher) as measured by node-llama-cpp by the amount the trainer reported', async () => {
    const modelPath = await tinyModel();
    const batch = batchOf(11, 2);
    const trainer = await NativeTrainer.start(testConfig(modelPath, dir, { ema: 0, topK: TOP_K, lr: 1e-2, weightDecay: 0 }));
    const results = [];
    try {
      // the 5th step's klBefore measures the 4th step's adapter with its own top-K ids: the same definition
      // node-llama-cpp measures below (klAfter reuses the pre-update ids)
      for (let i = 0; i < 5; i++) results.push(await trainer.step(batch));
    } finally {
      await trainer.close();
    }
    const first = results[0]!;
    const last = results[3]!;
    const probe = results[4]!;
    expect(probe.klBefore).toBeLessThan(0.7 * first.klBefore);

    const llama = await getLlama({ gpu: false, build: 'never' });
    const model = await llama.loadModel({ modelPath });
    try {
      const initial = join(dir, 'adapter-000000.gguf'); // the fresh adapter: B = 0, also the frozen teacher
      const before = await measuredKl(model, initial, initial, batch);
      const after = await measuredKl(model, last.adapterPath, initial, batch);
      expect(before).toBeGreaterThan(0);
      expect(Math.abs(before - first.klBefore)).toBeLessThan(2e-3 * first.klBefore + 1e-6);
      expect(Math.abs(after - probe.klBefore)).toBeLessThan(2e-3 * first.klBefore + 1e-6);
      const reportedDrop = first.klBefore - probe.klBefore;
      expect(Math.abs(before - after - reportedDrop)).toBeLessThan(0.02 * reportedDrop);
    } finally {
      await model.dispose();
    }
  });
});
