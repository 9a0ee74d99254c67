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
  /**
   * The LoRA adapter GGUF this call samples with (null = the base model). Per call, so calls
   * for different adapters may be in flight together; every adapter version must be a new path
   * (a path is taken to name fixed weights).
   */
  adapter: string | null;
  /**
   * The run's core budget (src/run/cores.ts): a sampler that computes on this machine's CPU runs
   * the call's computation inside it once it knows where the call decodes, naming that place as the
   * part (calls decoding in one batch name the same part and share its threads) and the CPU threads
   * it spins on there. Absent: the call computes at once. Samplers that compute elsewhere (a GPU with
   * every layer, a server) ignore it.
   */
  admit?: Admit;
}

/** Runs `operation` once `threads` CPU threads of `part` fit beside the other parts' (CoreBudget.use). */
export type Admit = <T>(part: string, threads: number, operation: () => Promise<T>) => Promise<T>;

/** One sampled response with everything the trainer and the report need. */
export interface Rollout {
  text: string;
  code: string | null; // last fenced block, as LiveCodeBench extracts it
  promptTokens: number[];
  responseTokens: number[];
  logprobs: number[]; // log π(y_t | x, y<t) of each sampled token, full-vocabulary normalised
  finishReason: 'stop' | 'length';
  ms: number;
  /** The adapter it was sampled with (null = base model), as given in SampleOptions.adapter. */
  adapter: string | null;
}

export interface ScoreOptions {
  /** Also return the top-K alternatives at each response position. */
  topK?: number;
  /** The LoRA adapter to score under (default null = base model). */
  adapter?: string | null;
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
  /** Calls may run concurrently, each with its own options.adapter whatever else is in flight. */
  sample(messages: ChatMessage[], options: SampleOptions): Promise<Rollout[]>;
  /** Log-probs of a fixed response under `adapter` (default null = base model). */
  score(promptTokens: number[], responseTokens: number[], options?: ScoreOptions): Promise<ScoredResponse>;
  dispose(): Promise<void>;
}
