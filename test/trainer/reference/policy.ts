/**
 * The losses without a teacher in float64 (src/trainer/types.ts, TrainStepResult), on top of the
 * reference model, written from their definitions and independent of the trainer's code:
 *  - l_t = log π_θ(y_t), the student's full-vocabulary log-softmax at the response token;
 *  - A_t = tokenWeights[t] ?? advantage (cross_entropy: ?? 1);
 *  - policy_gradient: r_t = exp(l_t − log π_old(y_t)), L_t = −min(r_t·A_t, clip(r_t, 1−ε, 1+ε)·A_t);
 *    π_old = the behaviour log-probs, or, for a rollout without them, the unperturbed student's own
 *    log-probs held fixed (what a stop-gradient π_θ is as a function of the parameters);
 *  - cross_entropy: L_t = −A_t·l_t;
 *  - L = (1/N) Σ_i mask_i (1/|y_i|) Σ_t L_t: masked rollouts count in N but add nothing.
 * Finite differences of these functions are the gradients the trainer must take.
 */
import type { TrainExample } from '../../../src/trainer/types.js';
import type { LoraAdapter } from './lora.js';
import type { ReferenceModel } from './model.js';
import { studentLogSoftmax } from './sdpo.js';

export type PolicyLoss = { loss: 'policy_gradient'; clip: number } | { loss: 'cross_entropy' };

/** log π(y_t) of each response token of a rollout. */
export function responseLogprobs(model: ReferenceModel, adapter: LoraAdapter, ex: TrainExample): number[] {
  return studentLogSoftmax(model, adapter, ex).map((row, t) => row[ex.response[t]]);
}

/** A_t of one rollout. */
export function tokenAdvantages(spec: PolicyLoss, ex: TrainExample): number[] {
  return ex.response.map((_, t) => ex.tokenWeights?.[t] ?? ex.advantage ?? (spec.loss === 'cross_entropy' ? 1 : Number.NaN));
}

/** r_t and whether the clip binds, for a policy_gradient token. */
export function ppoTerm(logp: number, oldLogp: number, advantage: number, clip: number): { loss: number; ratio: number; clipped: boolean } {
  const ratio = Math.exp(logp - oldLogp);
  const unclipped = ratio * advantage;
  const clipped = Math.min(Math.max(ratio, 1 - clip), 1 + clip) * advantage;
  return { loss: -Math.min(unclipped, clipped), ratio, clipped: clipped < unclipped };
}

/**
 * The batch loss at `student`. `heldOld[i]` is π_old of rollout i when it has no behaviour
 * log-probs: the unperturbed student's log-probs, held constant under finite differences (what
 * the trainer's stop-gradient π_θ is as a function of the parameters).
 */
export function policyLoss(model: ReferenceModel, student: LoraAdapter, batch: TrainExample[], spec: PolicyLoss, heldOld: (number[] | undefined)[] = []): number {
  let total = 0;
  batch.forEach((ex, i) => {
    if (ex.masked) return;
    const logp = responseLogprobs(model, student, ex);
    const a = tokenAdvantages(spec, ex);
    let seq = 0;
    if (spec.loss === 'cross_entropy') {
      logp.forEach((l, t) => (seq += -a[t] * l));
    } else {
      const old = ex.behaviorLogprobs ?? heldOld[i];
      if (!old) throw new Error(`reference: rollout ${i} has neither behaviour log-probs nor a held π_old`);
      logp.forEach((l, t) => (seq += ppoTerm(l, old[t], a[t], spec.clip).loss));
    }
    total += seq / ex.response.length;
  });
  return total / batch.length;
}
