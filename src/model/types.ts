/** A chat message before the model's chat template is applied. */
export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

export interface SampleOptions {
  n: number; // sequences sampled in parallel from the same prompt
  seed: number;
  temperature: number;
  topP: number;
  topK: number;
  maxTokens: number;
  /** Record Rollout.logprobs (default true); false leaves them empty and skips their cost. */
  logprobs?: boolean;
}

/** One sampled response with everything the trainer and the report need. */
export interface Rollout {
  text: string;
  code: string | null; // last fenced block, as LiveCodeBench extracts it
  promptTokens: number[];
  responseTokens: number[];
  logprobs: number[]; // log π(y_t | x, y<t) of each sampled token, full-vocabulary normalised
  finishReason: 'stop' | 'length';
  ms: number;
}

/** Log-probabilities of a fixed response under a context. */
export interface ScoredResponse {
  logprobs: number[]; // of the response tokens
  top?: { ids: number[]; logprobs: number[] }[]; // per response position, when topK was asked
}

/**
 * The sampling side. Strategies only see this interface, so they are testable with a
 * scripted sampler; the node-llama-cpp implementation is the real one.
 */
export interface Sampler {
  /** Token ids of the messages rendered by the model's chat template, ready for generation. */
  renderPrompt(messages: ChatMessage[]): Promise<number[]>;
  countTokens(text: string): Promise<number>;
  sample(messages: ChatMessage[], options: SampleOptions): Promise<Rollout[]>;
  /** Use this LoRA adapter from now on (null = base model). Every version must be a new path. */
  setAdapter(path: string | null): Promise<void>;
  score(promptTokens: number[], responseTokens: number[], options?: { topK?: number }): Promise<ScoredResponse>;
  dispose(): Promise<void>;
}
