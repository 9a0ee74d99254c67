export type Divergence = 'reverse_kl' | 'forward_kl' | 'jsd' | 'sampled_token';

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
  teacher: 'ema' | 'trust_region';
  ema: number; // η
  isClip?: number; // importance-weight clip (stop-gradient); undefined = off
  threads: number;
  seed: number;
  /** 'adamw' (default) or plain 'sgd' (x ← x − lr·grad; the gradient check uses lr 1, weightDecay 0). */
  optimizer?: 'adamw' | 'sgd';
  /** Start the student (and the EMA teacher) from this LoRA GGUF instead of a fresh one (A random, B = 0). */
  initAdapter?: string;
  /** Longest student/teacher prompt + response the trainer accepts (default 2048); bounds its memory. */
  maxTokens?: number;
}

/** One rollout as the trainer sees it: token ids only (tokenised once, in Node). */
export interface TrainExample {
  studentPrompt: number[];
  teacherPrompt: number[]; // question + feedback or sibling solution, through the chat template
  response: number[];
  masked: boolean; // no teacher signal: contributes zero loss, still counted in the mean
}

export interface TrainStepResult {
  step: number; // 1-based optimizer step count
  loss: number;
  klBefore: number;
  klAfter: number;
  gradNorm: number;
  tokens: number;
  ms: number;
  skipped: boolean; // non-finite gradient: no update
  adapterPath: string; // the new student adapter (a new versioned file each step)
}

export interface Trainer {
  step(batch: TrainExample[]): Promise<TrainStepResult>;
  /** Persist everything needed to resume (adapter, EMA teacher, AdamW moments, step count). */
  save(): Promise<void>;
  close(): Promise<void>;
}
