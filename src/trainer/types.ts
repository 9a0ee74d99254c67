export type Divergence = 'reverse_kl' | 'forward_kl' | 'jsd' | 'sampled_token';

/**
 * What a step minimises (formulas at TrainStepResult): 'distill' = a divergence to a teacher's
 * distribution (SDPO; OPD with teacherModel); 'policy_gradient' = PPO-clipped policy gradient with
 * per-token advantages (GRPO); 'cross_entropy' = weighted NLL of the sampled tokens (SSD). The last
 * two have no teacher: no teacher context, no teacher scoring pass, klBefore/klAfter NaN.
 */
export type LossKind = 'distill' | 'policy_gradient' | 'cross_entropy';

/**
 * Whose distribution the distill loss pulls towards: 'ema' = the base + an EMA of the student's
 * adapter (rate `ema`); 'trust_region' = lerp(reference logits, student logits, `ema`) with the
 * reference = the starting adapter; 'frozen' = the base model without any adapter (or teacherModel);
 * 'live' = the current student before the step (stop-gradient: it scores with the student's own
 * adapter before the update). Only 'frozen' goes with teacherModel.
 */
export type TeacherKind = 'ema' | 'trust_region' | 'frozen' | 'live';

/** Where the trainer computes: TrainerConfig.device (each GPU kind is its own build of the trainer). */
export type TrainerDevice = 'cpu' | 'cuda' | 'vulkan';

/** How the trainer's training graph attends: TrainerConfig.attention (the first is the trainer's default). */
export const TRAINER_ATTENTIONS = ['blocked', 'fused', 'plain'] as const;
export type TrainerAttention = (typeof TRAINER_ATTENTIONS)[number];

export function isTrainerAttention(value: unknown): value is TrainerAttention {
  return (TRAINER_ATTENTIONS as readonly unknown[]).includes(value);
}

export interface TrainerConfig {
  model: string; // base GGUF path
  stateDir: string; // adapters, optimizer + EMA teacher state live here
  loraRank: number;
  loraAlpha: number;
  loraTargets: string[]; // e.g. ['attn_q','attn_k','attn_v','attn_output','ffn_gate','ffn_up','ffn_down']
  lr: number;
  weightDecay: number;
  gradClip: number; // global grad-norm clip; 0 = off
  /** Default 'distill' (the divergences below). */
  loss?: LossKind;
  divergence: Divergence; // distill only
  jsdAlpha: number; // for 'jsd'
  topK: number; // student top-K (+ tail bucket); distill only
  teacher: TeacherKind; // distill only
  /**
   * A second GGUF that scores the teacher side (on-policy distillation from another model), with
   * no adapter: needs loss 'distill' and teacher 'frozen'. Its vocabulary must be the student's
   * (same tokens, same ids): refused at init with one line otherwise. Nothing of it is saved.
   */
  teacherModel?: string;
  ema: number; // η
  /** PPO clip ε of 'policy_gradient' (default 0.2), in (0, 1). */
  pgClip?: number;
  isClip?: number; // importance weight min(π_θ/π_old, isClip) per token (stop-gradient); undefined = off; distill only
  threads: number;
  seed: number;
  /** 'adamw' (default) or plain 'sgd' (x ← x − lr·grad; the gradient check uses lr 1, weightDecay 0). */
  optimizer?: 'adamw' | 'sgd';
  /** Start the student (and the EMA teacher) from this LoRA GGUF instead of a fresh one (A random, B = 0). */
  initAdapter?: string;
  /** Longest student/teacher prompt + response the trainer accepts (default 2048); bounds its memory. */
  maxTokens?: number;
  /**
   * Backward through transposed copies of the frozen weights (default true): step time ~2.4× a
   * forward instead of ~4–6×, for about the base model's size in extra memory (quantized weights
   * are copied as Q8_0). false keeps memory at its minimum.
   */
  transposedWeights?: boolean;
  /**
   * How the training graph attends (default 'blocked'): 'blocked' computes queries in blocks against
   * the causal prefix of the keys from standard ggml ops (matmul, softmax: every backend runs it) and
   * its backward recomputes each block's softmax (memory O(n_tokens × block) per layer); 'fused' is a
   * CPU custom op whose backward recomputes the softmax row by row from each row's log-sum-exp (O(n_tokens);
   * with layers on a GPU the trainer attends blocked instead); 'plain' materialises the
   * n_tokens² × heads softmax of every layer for the backward (kept for comparison). Layers these
   * cannot express (ALiBi, soft-capping, sinks, sliding windows) stay plain.
   */
  attention?: TrainerAttention;
  /**
   * Query rows per block of the 'blocked' attention (default 0 = automatic: the most rows, a
   * multiple of 16, whose scores, n_tokens × rows × heads floats, fit in 64 MiB).
   */
  attentionBlockRows?: number;
  /**
   * 'cuda' / 'vulkan': the trainer built with GGML_CUDA / GGML_VULKAN (`ttsd trainer build --cuda`
   * / `--vulkan`, cached beside the CPU one) runs the step with the model's layers (gpuLayers) and
   * the output head on that device; the process refuses at init when its build has no such device,
   * and refuses attention 'fused' (CPU custom ops) there. ggml-vulkan lists CPU-type Vulkan devices
   * (Mesa's lavapipe) only when GGML_VK_VISIBLE_DEVICES names them. Default 'cpu'.
   */
  device?: TrainerDevice;
  /** Model layers on the GPU for device 'cuda' / 'vulkan' (−1 = all of them; default 0 = none). */
  gpuLayers?: number;
  /**
   * Rows of logits the trainer holds at a time (default 256): the output projection, log-softmax,
   * top-K, teacher values, loss and dL/dH run block by block, so memory grows with
   * headBlockRows × vocabulary, not with the sequence length × vocabulary.
   */
  headBlockRows?: number;
  /**
   * Score the student once more after the update for klAfter (default false: klAfter is NaN,
   * and a step costs one student forward pass less).
   */
  measureKlAfter?: boolean;
}

/** One rollout as the trainer sees it: token ids only (tokenised once, in Node). */
export interface TrainExample {
  studentPrompt: number[];
  teacherPrompt: number[]; // question + feedback or sibling solution, through the chat template
  response: number[];
  masked: boolean; // no teacher signal: contributes zero loss, still counted in the mean
  /**
   * log π_old(y_t) of each response token under the policy that sampled it (the sampler's
   * log-probs), for the importance weight min(π_θ(y_t)/π_old(y_t), isClip); absent = ratio 1.
   */
  behaviorLogprobs?: number[];
  /**
   * A_i: 'policy_gradient': the rollout's advantage (this or tokenWeights is required);
   * 'cross_entropy': its weight (default 1). Unused by 'distill'.
   */
  advantage?: number;
  /** Per-token A_t (one per response token), overriding `advantage` token by token. */
  tokenWeights?: number[];
}

/**
 * What one step computes (src/trainer/native, docs/sdpo.md). For each unmasked rollout i with
 * response y (|y| tokens) and each response position t:
 *   S_t = the student's top-K ids (full-vocabulary log-softmax, K = topK; 'sampled_token': {y_t});
 *   log p = student log-probs at S_t, p⊥ = 1e-7 + max(0, 1 − 1e-7 − Σ p)   (in the loss graph, f32);
 *   log q = teacher log-probs at S_t, log q⊥ = log1p(−Σ q), or log 1e-7 when Σ q ≥ 1 − 1e-7 (host, f64);
 *   D_t = reverse_kl: Σ p (log p − log q) + p⊥ (log p⊥ − log q⊥); forward_kl: Σ q (log q − log p) + tail;
 *         jsd(α): m = (1−α)p + αq, (1−α) KL(p‖m) + α KL(q‖m) over S_t + tail; sampled_token: ½ (log p − log q)².
 *   loss = Σ_i (1/B) (1/|y_i|) Σ_t w_t D_t with B = batch size including masked rollouts (they add 0);
 *   w_t = 1, or with isClip: min(π_θ(y_t)/π_old(y_t), isClip), π_θ = the student before the step (F32),
 *   π_old from behaviorLogprobs (ratio 1 for a rollout without them); w_t is a constant (no gradient).
 * The update uses the gradient of that loss w.r.t. the student's LoRA tensors (teacher constant).
 * klBefore/klAfter are the reverse-KL value of that loss before and after the update, at the same
 * ids and teacher values (f64 on the host); klAfter is NaN unless the config sets measureKlAfter.
 * The student's top-K ids come from the training forward pass itself (no gradient through the
 * selection); the head (logits, log-softmax, loss, dL/dlogits) runs in blocks of headBlockRows rows.
 * The teacher q above: 'ema' / 'trust_region' / 'frozen' / 'live' (TeacherKind), or teacherModel.
 *
 * Losses without a teacher (no teacher pass; teacherPrompt unused; klBefore/klAfter NaN), with
 * l_t = log π_θ(y_t) (full-vocabulary log-softmax, f64 on the host) and A_t = tokenWeights[t] ?? advantage:
 *   policy_gradient: r_t = exp(l_t − log π_old(y_t)), π_old from behaviorLogprobs (absent: π_old =
 *     stop-gradient π_θ, so r_t = 1 and the gradient is −A_t ∇l_t);
 *     L_t = −min(r_t·A_t, clip(r_t, 1−ε, 1+ε)·A_t), ε = pgClip; ∂L_t/∂l_t = −r_t·A_t where the
 *     unclipped term is the minimum, 0 where the clip binds;
 *     isWeightMean = the mean r_t, isClipped = the fraction of tokens where the clip binds.
 *   cross_entropy: L_t = −A_t·l_t (A_t default 1); isWeightMean 1, isClipped 0.
 *   loss = Σ_i (1/B)(1/|y_i|) Σ_t L_t, B counting masked rollouts (they add 0). No top-K: the
 *   gradient w.r.t. the logits is (1/B)(1/|y_i|)·∂L_t/∂l_t·(onehot(y_t) − p_t), over the full vocabulary.
 */
export interface TrainStepResult {
  step: number; // 1-based optimizer step count
  loss: number;
  klBefore: number;
  klAfter: number; // NaN unless measureKlAfter
  gradNorm: number;
  tokens: number;
  ms: number;
  skipped: boolean; // non-finite gradient: no update
  adapterPath: string; // the new student adapter (a new versioned file each step)
  isWeightMean: number; // mean importance weight over the unmasked response tokens (1 when isClip is off; policy_gradient: mean ratio r_t)
  isClipped: number; // fraction of those tokens whose ratio exceeded isClip (policy_gradient: where the PPO clip binds)
  /** Nodes of this step's training and head graphs the scheduler placed on the CPU while the model is on a GPU ("OP×n"); [] on the CPU device. */
  cpuOps?: string[];
  /**
   * Forward passes of the student's body (training graph evaluations) in this step: one per unmasked rollout (its
   * forward, the head from the scheduler's callback and its backward in one evaluation, on the CPU and on GPU
   * devices alike), plus one per rollout for the trust region's student pass at the teacher prompt and one for
   * measureKlAfter's pass after the update.
   */
  forwards?: number;
}

export interface Trainer {
  /** Optimizer steps its saved state holds (0 for a fresh start): what a resumed cell continues from. */
  readonly completedSteps: number;
  step(batch: TrainExample[]): Promise<TrainStepResult>;
  /** Persist everything needed to resume (adapter, EMA teacher, AdamW moments, step count). */
  save(): Promise<void>;
  close(): Promise<void>;
  /** CPU threads a step spins on (ggml's graph threads), for the run's CoreBudget; 0 or absent on a GPU device. */
  readonly cpuThreads?: number;
}
