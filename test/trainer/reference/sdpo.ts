/**
 * The SDPO losses in float64, exactly as shared/docs/sdpo.md defines them, on top of the
 * reference model:
 *  - student top-K ids S_t from the student's full-vocabulary log-softmax at response position t
 *    (fixed at the unperturbed student: finite differences hold them constant), tail
 *    p(⊥) = 1 − Σ_{S_t} p;
 *  - teacher q at the same ids (same base + teacher adapter, on the teacher context), tail
 *    q(⊥) = 1 − Σ q computed as log1p(−Σq); no gradient through the teacher;
 *  - reverse KL(p‖q), forward KL(q‖p), JSD(α) with m = (1−α)p + αq:
 *    (1−α)·KL(p‖m) + α·KL(q‖m), each over S_t ∪ {⊥};
 *  - sampled-token estimator ½(log p(y_t) − log q(y_t))² (gradient −sg[log q − log p]·∇log p);
 *  - L = (1/N) Σ_i [mask_i · (1/|y_i|) Σ_t D_t]: masked rollouts count in N but add nothing.
 */
import type { Divergence, TrainExample } from '../../../src/trainer/types.js';
import { type LoraAdapter } from './lora.js';
import { type ReferenceModel } from './model.js';

export interface LossSpec {
  divergence: Divergence;
  jsdAlpha: number;
}

/** What the teacher and the unperturbed student fix for one rollout. */
export interface TeacherTargets {
  /** Student top-K ids per response position, best first. */
  ids: number[][];
  /** Teacher log-probs at those ids. */
  lq: number[][];
  /** log q(⊥) per position. */
  lqTail: number[];
  /** Teacher log q(y_t) of the response token. */
  lqToken: number[];
  /** Student log-prob gap between the K-th and (K+1)-th token per position (top-K stability). */
  topKGap: number[];
}

/** Rows of a prompt ++ response sequence whose outputs predict the response tokens. */
export function responseRows(promptLength: number, responseLength: number): number[] {
  return Array.from({ length: responseLength }, (_, t) => promptLength - 1 + t);
}

export function studentLogSoftmax(model: ReferenceModel, lora: LoraAdapter | undefined, ex: TrainExample): Float64Array[] {
  return model.logSoftmaxRows([...ex.studentPrompt, ...ex.response], responseRows(ex.studentPrompt.length, ex.response.length), lora);
}

export function teacherTargets(
  model: ReferenceModel,
  student: LoraAdapter | undefined,
  teacher: LoraAdapter | undefined,
  ex: TrainExample,
  topK: number,
): TeacherTargets {
  const ls = studentLogSoftmax(model, student, ex);
  const lt = model.logSoftmaxRows([...ex.teacherPrompt, ...ex.response], responseRows(ex.teacherPrompt.length, ex.response.length), teacher);
  return targetsFromRows(ls, lt, ex.response, topK);
}

/**
 * Teacher targets from full-vocabulary log-softmax rows of the student (which fix the top-K ids)
 * and of the teacher (whatever computed them: the reference, or llama.cpp to emulate a trainer).
 */
export function targetsFromRows(student: Float64Array[], teacher: Float64Array[], response: number[], topK: number): TeacherTargets {
  const ids: number[][] = [];
  const lq: number[][] = [];
  const lqTail: number[] = [];
  const lqToken: number[] = [];
  const topKGap: number[] = [];
  student.forEach((row, t) => {
    const top = topIds(row, topK + 1);
    const rowIds = top.slice(0, topK);
    ids.push(rowIds);
    topKGap.push(row[top[topK - 1]] - row[top[topK]]);
    const q = rowIds.map((id) => teacher[t][id]);
    lq.push(q);
    lqTail.push(Math.log1p(-q.reduce((sum, l) => sum + Math.exp(l), 0)));
    lqToken.push(teacher[t][response[t]]);
  });
  return { ids, lq, lqTail, lqToken, topKGap };
}

/** Indices of the k largest entries, largest first. */
export function topIds(row: Float64Array, k: number): number[] {
  const best: number[] = [];
  for (let i = 0; i < row.length; i++) {
    if (best.length === k) {
      if (row[i] <= row[best[k - 1]]) continue;
      best.pop();
    }
    let j = best.length;
    best.push(i);
    while (j > 0 && row[best[j - 1]] < row[i]) {
      best[j] = best[j - 1];
      j--;
    }
    best[j] = i;
  }
  return best;
}

/** Σ_v a(v)·(log a(v) − log b(v)) over S_t ∪ {⊥}, from log-probabilities. */
function kl(la: number[], lb: number[]): number {
  let s = 0;
  for (let i = 0; i < la.length; i++) s += Math.exp(la[i]) * (la[i] - lb[i]);
  return s;
}

/** D_t for one response position given the student's full log-softmax row. */
export function tokenDivergence(spec: LossSpec, row: Float64Array, targets: TeacherTargets, t: number, token: number): number {
  if (spec.divergence === 'sampled_token') {
    const d = row[token] - targets.lqToken[t];
    return 0.5 * d * d;
  }
  const lp = targets.ids[t].map((id) => row[id]);
  lp.push(Math.log1p(-lp.reduce((s, l) => s + Math.exp(l), 0)));
  const lq = [...targets.lq[t], targets.lqTail[t]];
  switch (spec.divergence) {
    case 'reverse_kl':
      return kl(lp, lq);
    case 'forward_kl':
      return kl(lq, lp);
    case 'jsd': {
      const a = spec.jsdAlpha;
      const lm = lp.map((l, i) => Math.log((1 - a) * Math.exp(l) + a * Math.exp(lq[i])));
      return (1 - a) * kl(lp, lm) + a * kl(lq, lm);
    }
  }
}

/** (1/|y|) Σ_t D_t for one unmasked rollout. */
export function sequenceLoss(spec: LossSpec, rows: Float64Array[], targets: TeacherTargets, response: number[]): number {
  let s = 0;
  rows.forEach((row, t) => (s += tokenDivergence(spec, row, targets, t, response[t])));
  return s / rows.length;
}

/**
 * The batch loss for several loss specs at once (one student forward per unmasked rollout):
 * L = (1/N) Σ_i mask_i · sequenceLoss_i.
 */
export function batchLosses(
  model: ReferenceModel,
  student: LoraAdapter,
  batch: TrainExample[],
  targets: (TeacherTargets | undefined)[],
  specs: LossSpec[],
): number[] {
  const totals = specs.map(() => 0);
  batch.forEach((ex, i) => {
    if (ex.masked) return;
    const rows = studentLogSoftmax(model, student, ex);
    specs.forEach((spec, s) => (totals[s] += sequenceLoss(spec, rows, targets[i]!, ex.response)));
  });
  return totals.map((t) => t / batch.length);
}
