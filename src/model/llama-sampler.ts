/**
 * The real Sampler: node-llama-cpp on the bundled llama.cpp. One model, one context with N
 * sequence slots; G rollouts of a prompt run as G sequences of that context, so every decode
 * step is one batch. Each rollout records the log-probabilities of its tokens under the raw
 * model distribution (temperature 1, full vocabulary, what the trainer's student sees): taken
 * during generation when that is the distribution sampled from, else by re-evaluating the
 * response on the same sequence (the prompt's KV is kept).
 *
 * Adapters: the base model stays loaded; setAdapter() builds a NEW context with the adapter and
 * disposes the old one, so no KV computed under an older adapter can ever be reused.
 */
import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import type { ControlledEvaluateInputItem, Llama, LlamaContext, LlamaContextSequence, LlamaModel, Token } from 'node-llama-cpp';
import { UserError } from '../errors.js';
import { readGguf } from '../gguf/reader.js';
import { ChatTemplate } from './chat-template.js';
import { extractCode } from '../feedback/index.js';
import { Rng } from './random.js';
import { firstLine, llamaLogMark, llamaLogsSince, loadLlamaModel, type LoadModelOptions } from './runtime.js';
import type { ChatMessage, Rollout, SampleOptions, Sampler, ScoredResponse } from './types.js';

export interface LlamaSamplerOptions extends LoadModelOptions {
  /** A local GGUF path or an `hf:` URI (downloaded once into the cache dir). */
  model: string;
  /**
   * CPU threads for evaluation (default: $TTSD_THREADS, else the cores Node sees). Not
   * node-llama-cpp's own default, which can exceed the cores (4 on a 2-core machine): llama.cpp's
   * threads spin-wait for each other, so one thread more than the cores made decoding ~100×
   * slower. On a CPU shared with other busy processes use fewer, for the same reason.
   */
  threads?: number;
  /** Tokens per sequence: prompt + response must fit (default 4096). */
  contextSize?: number;
  /** Sequence slots, i.e. the most rollouts decoded in one batch (default 8). */
  sequences?: number;
  batchSize?: number;
  /** llama.cpp flash attention (default off: see DEFAULT_FLASH_ATTENTION). */
  flashAttention?: boolean;
}

/**
 * Off by default: with it on, llama.cpp's CPU kernels round Q to f16 and pick different kernels
 * for single-token decode and multi-token batches, so the same tokens scored in differently
 * shaped batches disagree by ~1e-2 nats; off, they agree to ~1e-4 and match the trainer's
 * forward pass, which cannot use flash attention.
 */
export const DEFAULT_FLASH_ATTENTION = false;

/** The seed of rollout i of a sample() call: independent streams, reproducible from (seed, i). */
export function rolloutSeed(seed: number, index: number): number {
  return new Rng(seed >>> 0, `rollout-${index}`).nextU32();
}

export class LlamaSampler implements Sampler {
  private context!: LlamaContext;
  private pool!: SequencePool;
  private currentAdapter: string | null = null;
  private disposed = false;
  /** Set while setAdapter() swaps contexts: new work waits for it, in-flight work finishes first. */
  private switching: Promise<void> | null = null;

  private constructor(
    readonly llama: Llama,
    readonly model: LlamaModel,
    readonly modelPath: string,
    private readonly template: ChatTemplate,
    private readonly options: Required<Pick<LlamaSamplerOptions, 'contextSize' | 'sequences' | 'flashAttention' | 'threads'>> & Pick<LlamaSamplerOptions, 'batchSize'>,
  ) {}

  static async load(options: LlamaSamplerOptions): Promise<LlamaSampler> {
    const { llama, model, path } = await loadLlamaModel(options.model, options);
    try {
      const sampler = new LlamaSampler(llama, model, path, ChatTemplate.for(model), {
        contextSize: options.contextSize ?? 4096,
        sequences: options.sequences ?? 8,
        flashAttention: options.flashAttention ?? DEFAULT_FLASH_ATTENTION,
        threads: options.threads ?? threadsFromEnv() ?? availableParallelism(),
        batchSize: options.batchSize,
      });
      await sampler.openContext(null);
      return sampler;
    } catch (error) {
      await model.dispose();
      throw error;
    }
  }

  /** Tokens one sequence can hold (prompt + response). */
  get contextSize(): number {
    return this.context.contextSize;
  }
  /** CPU threads of the sampling context. */
  get threads(): number {
    return this.options.threads;
  }
  get sequences(): number {
    return this.options.sequences;
  }
  get adapter(): string | null {
    return this.currentAdapter;
  }
  /** True when prompts are rendered by the model file's own Jinja chat template. */
  get usesModelTemplate(): boolean {
    return this.template.fromModel;
  }

  async renderPrompt(messages: ChatMessage[]): Promise<number[]> {
    this.checkOpen();
    return this.template.render(messages);
  }

  async countTokens(text: string): Promise<number> {
    this.checkOpen();
    return this.model.tokenize(text).length;
  }

  detokenize(tokens: number[]): string {
    return this.model.detokenize(tokens as Token[]);
  }

  async sample(messages: ChatMessage[], options: SampleOptions): Promise<Rollout[]> {
    this.checkOpen();
    checkSampleOptions(options);
    const prompt = this.template.render(messages);
    this.checkFits(prompt.length, options.maxTokens, 'the prompt');
    // No await before the slots are requested (unless a switch is under way): work requested
    // before a setAdapter() call is queued on the old context ahead of the switch.
    const pool = this.switching ? await this.currentPool() : this.pool;
    return Promise.all(
      Array.from({ length: options.n }, async (_, i) => {
        const seq = await pool.acquire();
        try {
          return await this.rollout(seq, prompt, options, rolloutSeed(options.seed, i));
        } finally {
          pool.release(seq);
        }
      }),
    );
  }

  async score(promptTokens: number[], responseTokens: number[], options: { topK?: number } = {}): Promise<ScoredResponse> {
    this.checkOpen();
    if (promptTokens.length === 0) throw new UserError('score: the prompt must have at least one token');
    this.checkFits(promptTokens.length, responseTokens.length, 'prompt + response');
    const pool = this.switching ? await this.currentPool() : this.pool;
    const seq = await pool.acquire();
    try {
      await seq.clearHistory();
      if (promptTokens.length > 1) await seq.evaluateWithoutGeneratingNewTokens(promptTokens.slice(0, -1) as Token[]);
      return await this.scoreContinuation(seq, promptTokens.at(-1)!, responseTokens, options.topK ?? 0);
    } finally {
      pool.release(seq);
    }
  }

  async setAdapter(path: string | null): Promise<void> {
    this.checkOpen();
    const next = path === null ? null : resolve(path);
    if (next !== null) checkAdapterFile(next, this.model);
    while (this.switching) await this.switching;
    if (next === this.currentAdapter) return;
    const switched = this.switchContext(next);
    this.switching = switched.catch(() => {});
    try {
      await switched;
    } finally {
      this.switching = null;
    }
  }

  private async switchContext(next: string | null): Promise<void> {
    const oldPool = this.pool;
    await oldPool.drain(); // in-flight and already queued work finishes on the old context first
    const previous = { context: this.context, adapter: this.currentAdapter };
    try {
      await this.openContext(next);
    } catch (error) {
      oldPool.undrain();
      throw error;
    }
    await previous.context.dispose();
    if (previous.adapter !== null && previous.adapter !== next) await releaseAdapter(this.model, previous.adapter);
  }

  /** The sequence pool of the current context, once any adapter switch has finished. */
  private async currentPool(): Promise<SequencePool> {
    while (this.switching) await this.switching;
    return this.pool;
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    while (this.switching) await this.switching;
    await this.pool.drain();
    await this.context.dispose();
    await this.model.dispose(); // frees every adapter loaded into it too
  }

  private async openContext(adapter: string | null): Promise<void> {
    const logMark = llamaLogMark();
    let context: LlamaContext;
    try {
      context = await this.model.createContext({
        contextSize: this.options.contextSize,
        sequences: this.options.sequences,
        flashAttention: this.options.flashAttention,
        threads: this.options.threads,
        ...(this.options.batchSize !== undefined && { batchSize: this.options.batchSize }),
        ...(adapter !== null && { lora: { adapters: [{ filePath: adapter }] } }),
      });
    } catch (error) {
      const said = llamaLogsSince(logMark).filter((l) => /error|fail|invalid|mismatch/i.test(l)).at(-1);
      const what = adapter === null ? 'context' : `context with LoRA adapter ${adapter}`;
      throw new UserError(`cannot create the ${what}: ${(said ?? firstLine(error)).replace(/\s+/g, ' ')}`);
    }
    const slots = Array.from({ length: this.options.sequences }, () => context.getSequence());
    this.context = context;
    this.pool = new SequencePool(slots);
    this.currentAdapter = adapter;
  }

  /**
   * One rollout. With log-probs asked, each step also returns the probability llama.cpp's sampler
   * gave the token it drew (node-llama-cpp's `confidence`). When the sampling distribution IS
   * the raw model distribution (temperature 1, no top-k/top-p: the paper's setting and ttsd's
   * default), that is the token's probability under the model, so its log-prob costs nothing
   * (the evaluate-loop-plus-re-scoring it replaces cost ~20% of the sampling time). Otherwise
   * (tempered or truncated sampling) the raw log-probs come from a re-scoring pass.
   */
  private async rollout(seq: LlamaContextSequence, prompt: Token[], options: SampleOptions, seed: number): Promise<Rollout> {
    const started = performance.now();
    await seq.clearHistory();
    const wantLogprobs = options.logprobs !== false;
    const rawSampling = options.temperature === 1 && options.topK === 0 && options.topP >= 1;
    const capture = wantLogprobs && rawSampling;
    const tokens: Token[] = [];
    const captured: number[] = [];
    let finishReason: Rollout['finishReason'] = 'length';
    if (options.maxTokens > 0) {
      const generation = seq.evaluateWithMetadata(
        prompt,
        { confidence: capture },
        { temperature: options.temperature, topK: options.topK, topP: options.topP, seed, yieldEogToken: true },
      );
      for await (const output of generation) {
        tokens.push(output.token);
        if (capture) captured.push(Math.log((output as { confidence?: number }).confidence ?? Number.NaN));
        if (this.model.isEogToken(output.token)) {
          finishReason = 'stop';
          break;
        }
        if (tokens.length >= options.maxTokens) break;
      }
    }
    // A probability that underflowed float32 (or went missing) cannot give its log-prob: re-score then.
    const capturedAll = capture && captured.every(Number.isFinite);
    let logprobs: number[] = capturedAll ? captured : [];
    if (wantLogprobs && !capturedAll && tokens.length > 0) {
      // Keep the prompt's KV except its last token, whose logits predict the first response token.
      await seq.eraseContextTokenRanges([{ start: prompt.length - 1, end: seq.nextTokenIndex }]);
      logprobs = (await this.scoreContinuation(seq, prompt.at(-1)!, tokens, 0)).logprobs;
    }
    const visible = finishReason === 'stop' ? tokens.slice(0, -1) : tokens;
    const text = this.model.detokenize(visible);
    return {
      text,
      code: extractCode(text),
      promptTokens: [...prompt],
      responseTokens: [...tokens],
      logprobs,
      finishReason,
      ms: performance.now() - started,
    };
  }

  /**
   * Log-probs of `response` given a sequence whose KV holds the prompt minus its last token.
   * Under node-llama-cpp's default (greedy) sampler the candidate logits stay raw and the
   * greedy pick is the arg-max, so `includeSelected` yields the max logit without sorting the
   * vocabulary: log p(y) = logit(y) − max − ln Σ exp(logit − max).
   */
  private async scoreContinuation(seq: LlamaContextSequence, lastPromptToken: number, response: number[], topK: number): Promise<ScoredResponse> {
    if (response.length === 0) return topK > 0 ? { logprobs: [], top: [] } : { logprobs: [] };
    const inputs = [lastPromptToken, ...response.slice(0, -1)];
    const items: ControlledEvaluateInputItem[] = inputs.map((token, j) => [
      token as Token,
      {
        generateNext: {
          logits: { filter: { tokens: [response[j]! as Token], includeSelected: true, ...(topK > 0 && { includeTop: topK }) } },
          totalLogitWeight: true,
        },
      },
    ]);
    const results = await seq.controlledEvaluate(items);
    const logprobs: number[] = [];
    const top: { ids: number[]; logprobs: number[] }[] = [];
    results.forEach((result, j) => {
      const logits = result?.next.logits;
      const weight = result?.next.totalLogitWeight;
      if (!logits || weight === undefined) throw new Error(`no logits returned for response position ${j}`);
      let max = -Infinity;
      for (const value of logits.values()) max = Math.max(max, value);
      const logZ = max + Math.log(weight);
      logprobs.push(logits.get(response[j]! as Token)! - logZ);
      if (topK > 0) {
        const entries = [...logits.entries()].sort((a, b) => b[1] - a[1]).slice(0, topK);
        top.push({ ids: entries.map(([id]) => id), logprobs: entries.map(([, l]) => l - logZ) });
      }
    });
    return topK > 0 ? { logprobs, top } : { logprobs };
  }

  private checkFits(promptTokens: number, responseTokens: number, what: string): void {
    if (promptTokens + responseTokens > this.contextSize) {
      throw new UserError(
        `${what} (${promptTokens} tokens) + ${responseTokens} response tokens exceed the context size ${this.contextSize}; raise the context size or lower the max tokens`,
      );
    }
  }

  private checkOpen(): void {
    if (this.disposed) throw new Error('LlamaSampler used after dispose()');
  }
}

function threadsFromEnv(): number | undefined {
  const value = process.env.TTSD_THREADS;
  if (value === undefined || value === '') return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new UserError(`TTSD_THREADS must be a positive integer, got ${value}`);
  return n;
}

function checkSampleOptions(o: SampleOptions): void {
  const bad = (what: string) => {
    throw new UserError(`sample: ${what}`);
  };
  if (!Number.isInteger(o.n) || o.n < 1) bad(`n must be a positive integer, got ${o.n}`);
  if (!Number.isInteger(o.maxTokens) || o.maxTokens < 0) bad(`maxTokens must be a non-negative integer, got ${o.maxTokens}`);
  if (!(o.temperature >= 0)) bad(`temperature must be >= 0, got ${o.temperature}`);
  if (!(o.topP > 0 && o.topP <= 1)) bad(`topP must be in (0, 1], got ${o.topP}`);
  if (!Number.isInteger(o.topK) || o.topK < 0) bad(`topK must be a non-negative integer, got ${o.topK}`);
  if (!Number.isInteger(o.seed)) bad(`seed must be an integer, got ${o.seed}`);
}

function checkAdapterFile(path: string, model: LlamaModel): void {
  const file = readGguf(path); // UserError for missing / non-GGUF / truncated files
  if (file.get('general.type') !== 'adapter' || file.get('adapter.type') !== 'lora') {
    throw new UserError(`${path} is not a LoRA adapter GGUF (general.type=adapter, adapter.type=lora)`);
  }
  const arch = model.fileInfo.metadata.general.architecture;
  if (file.architecture !== arch) throw new UserError(`LoRA adapter ${path} is for ${file.architecture}, the model is ${arch}`);
}

/**
 * node-llama-cpp caches adapters by path inside the model and frees them only with the model;
 * with a new adapter every training step that is a leak. Free the old one explicitly (internal
 * API of the pinned node-llama-cpp 3.22.1; skipped if its shape ever changes).
 */
async function releaseAdapter(model: LlamaModel, path: string): Promise<void> {
  const cache = (model as unknown as { _loraAdapters?: Map<string, { dispose?: () => Promise<void> | void }> })._loraAdapters;
  const adapter = cache?.get(path);
  if (!cache || !adapter || typeof adapter.dispose !== 'function') return;
  cache.delete(path);
  await adapter.dispose();
}

/** The context's sequence slots, handed out one rollout at a time. */
class SequencePool {
  private readonly free: LlamaContextSequence[];
  private readonly waiters: ((seq: LlamaContextSequence) => void)[] = [];
  private drained: LlamaContextSequence[] = [];

  constructor(private readonly all: LlamaContextSequence[]) {
    this.free = [...all];
  }

  acquire(): Promise<LlamaContextSequence> {
    const seq = this.free.shift();
    if (seq) return Promise.resolve(seq);
    return new Promise((resolveSeq) => this.waiters.push(resolveSeq));
  }

  release(seq: LlamaContextSequence): void {
    const waiter = this.waiters.shift();
    if (waiter) waiter(seq);
    else this.free.push(seq);
  }

  /** Waits until every slot is back and keeps them (no more work on this context). */
  async drain(): Promise<void> {
    this.drained = await Promise.all(this.all.map(() => this.acquire()));
  }

  /** Gives drained slots back (a context switch failed; keep using this one). */
  undrain(): void {
    for (const seq of this.drained) this.release(seq);
    this.drained = [];
  }
}
