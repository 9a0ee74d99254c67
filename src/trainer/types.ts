export type Divergence = 'reverse_kl' | 'forward_kl' | 'jsd' | 'sampled_token';
/** Contract C2: what a step minimises. 'distill' = the SDPO divergences below (the default). */
export type LossKind = 'distill' | 'policy_gradient' | 'cross_entropy';
/** Contract C2: frozen = the base model without adapter; live = the current student before the step (no gradient through it). */
export type TeacherKind = 'ema' | 'trust_region' | 'frozen' | 'live';

export interface TrainerConfig {
  model: string; // base GGUF path
  stateDir: string; // adapters, optimizer + EMA teacher state live here
  loraRank: number;
  loraAlpha: number;
  loraTargets: string[]; // e.g. ['attn_q','attn_k','attn_v','attn_output','ffn_gate','ffn_up','ffn_down']
  lr: number;
  weightDecay: number;
  gradClip: number; // global grad-norm clip; 0 = off
  divergence: Divergence;
  jsdAlpha: number; // for 'jsd'
  topK: number; // student top-K (+ tail bucket)
  /** What a step minimises (default 'distill'). */
  loss?: LossKind;
  teacher: TeacherKind;
  ema: number; // η
  /** A second GGUF scoring the teacher side (no adapter; same vocabulary as the student). */
  teacherModel?: string;
  /** PPO clip ε for 'policy_gradient' (default 0.2). */
  pgClip?: number;
  isClip?: number; // importance weight min(π_θ/π_old, isClip) per token (stop-gradient); undefined = off
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
   * 'cuda': the trainer built with GGML_CUDA (`ttsd trainer build --cuda`, cached beside the CPU
   * one) runs the step; the process refuses at init when its build has no GPU backend. Default 'cpu'.
   */
  device?: 'cpu' | 'cuda';
  /** Model layers on the GPU for device 'cuda' (−1 = all of them; default 0 = none). */
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
  /** Per-rollout weight A_i: the advantage ('policy_gradient') or a weight ('cross_entropy', default 1). */
  advantage?: number;
  /** Optional per-token weights overriding A_i per token. */
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
  isWeightMean: number; // mean importance weight over the unmasked response tokens (1 when isClip is off)
  isClipped: number; // fraction of those tokens whose ratio exceeded isClip
}

export interface Trainer {
  /** Optimizer steps its saved state holds (0 for a fresh start): what a resumed cell continues from. */
  readonly completedSteps: number;
  step(batch: TrainExample[]): Promise<TrainStepResult>;
  /** Persist everything needed to resume (adapter, EMA teacher, AdamW moments, step count). */
  save(): Promise<void>;
  close(): Promise<void>;
}
