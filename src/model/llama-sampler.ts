/**
 * The real Sampler: node-llama-cpp on the bundled llama.cpp. One model, one context with N
 * sequence slots; G rollouts of a prompt run as G sequences of that context, so every decode
 * step is one batch. Each rollout records the log-probabilities of its tokens under the raw
 * model distribution (temperature 1, full vocabulary, what the trainer's student sees): taken
 * during generation when that is the distribution sampled from, else by re-evaluating the
 * response on the same sequence (the prompt's KV is kept).
 *
 * Adapters: the base model stays loaded once; each call names its adapter (SampleOptions.adapter)
 * and runs on a context created with that adapter (llama.cpp applies LoRA per context, so
 * sequences of different adapters cannot share one). Contexts are kept per live adapter, so
 * interleaved SDPO cells (and best-of-K cells on the base model) do not rebuild a context on
 * every switch, and calls for different adapters run concurrently. A call joins a context of its
 * adapter whose free slots hold all its sequences (one batch), else it gets another context of the
 * same adapter (see acquireContext): two cells' whole steps on the base model decode side by side
 * rather than one waiting for the other's slots. A context never outlives its
 * adapter path's weights being fixed (every adapter version is a new path), so no KV computed
 * under older weights is ever reused. The contexts are bounded (see maxContexts): when a new
 * adapter needs one and the bound is reached, the least recently used IDLE context is disposed
 * (with its adapter, which node-llama-cpp would otherwise keep until the model dies); if every
 * context is busy, the call waits until one is idle.
 *
 * Threads: each context computes with the sampler's `threads` (node-llama-cpp's thread splitter
 * gets `threads` × the live contexts as its limit). Which contexts may compute at once is the run's
 * business: llama.cpp's threads spin-wait, so contexts together taking more than the cores would be
 * many times slower than one; the run's core budget (src/run/cores.ts) admits a call only when its
 * context's threads fit (SampleOptions.admit, with the context as the part), so with `threads` at
 * half the cores two cells' contexts decode side by side, and with every core they take turns.
 */
import { availableParallelism, freemem } from 'node:os';
import { resolve } from 'node:path';
import type { ControlledEvaluateInputItem, Llama, LlamaContext, LlamaContextSequence, LlamaModel, Token } from 'node-llama-cpp';
import { UserError } from '../errors.js';
import { readGguf } from '../gguf/reader.js';
import { ChatTemplate } from './chat-template.js';
import { extractCode } from '../feedback/index.js';
import { Rng } from './random.js';
import { firstLine, llamaLogMark, llamaLogsSince, loadLlamaModel, type LoadModelOptions } from './runtime.js';
import type { ChatMessage, Rollout, SampleOptions, Sampler, ScoredResponse, ScoreOptions } from './types.js';

export interface LlamaSamplerOptions extends LoadModelOptions {
  /** A local GGUF path or an `hf:` URI (downloaded once into the cache dir). */
  model: string;
  /**
   * CPU threads for evaluation (default: $TTSD_THREADS, else the cores Node sees). Not
   * node-llama-cpp's own default, which can exceed the cores (4 on a 2-core machine): llama.cpp's
   * threads spin-wait for each other, so one thread more than the cores made decoding ~100×
   * slower. On a CPU shared with other busy processes use fewer, for the same reason. Shared by
   * all the sampler's contexts.
   */
  threads?: number;
  /** Tokens per sequence: prompt + response must fit (default 4096). */
  contextSize?: number;
  /** Sequence slots of each context, i.e. the most rollouts decoded in one batch (default 8). */
  sequences?: number;
  batchSize?: number;
  /** llama.cpp flash attention (default off: see DEFAULT_FLASH_ATTENTION). */
  flashAttention?: boolean;
  /**
   * The most contexts (one per adapter) kept at once (default DEFAULT_MAX_CONTEXTS). Lowered at
   * load to what CONTEXT_MEMORY_SHARE of the free memory holds (each context's size is
   * estimated by node-llama-cpp from the model, context size and sequences); at least 1.
   */
  maxContexts?: number;
}

/**
 * Off by default: with it on, llama.cpp's CPU kernels round Q to f16 and pick different kernels
 * for single-token decode and multi-token batches, so the same tokens scored in differently
 * shaped batches disagree by ~1e-2 nats; off, they agree to ~1e-4 and match the trainer's
 * forward pass, which cannot use flash attention.
 */
export const DEFAULT_FLASH_ATTENTION = false;

/** Enough for 2–3 interleaved SDPO cells plus the base model's cells (callers pass parallel cells + 1). */
export const DEFAULT_MAX_CONTEXTS = 4;
/**
 * Extra contexts may take at most this share of the memory free once the first context is
 * open (RAM, or the GPU's free memory when offloading): the trainer and the sandboxes need
 * the rest.
 */
export const CONTEXT_MEMORY_SHARE = 0.5;

/** The seed of rollout i of a sample() call: independent streams, reproducible from (seed, i). */
export function rolloutSeed(seed: number, index: number): number {
  return new Rng(seed >>> 0, `rollout-${index}`).nextU32();
}

/** One context with one adapter (or none), and the calls using it. */
interface AdapterContext {
  readonly adapter: string | null;
  readonly context: LlamaContext;
  readonly pool: SequencePool;
  /** Calls holding it: it is evicted only at 0. */
  users: number;
  /** Sequence slots those calls take together (each call's n, at most the slots): a call joins only where its n still fit. */
  claimed: number;
  /** Names it in the run's core budget (SampleOptions.admit): calls on one context share its threads. */
  readonly id: number;
  /** A tick of the sampler's clock at its last acquisition or release (LRU order). */
  lastUsed: number;
}

export class LlamaSampler implements Sampler {
  /** Open contexts, several per adapter when calls on it came together (see acquireContext). */
  private live: AdapterContext[] = [];
  /** Contexts being created (after evicting one where needed): a call for the same adapter waits on it and looks again. */
  private readonly opening = new Map<string | null, Promise<AdapterContext>>();
  /** Creations and disposals run one at a time: an adapter freed by an eviction is never one a concurrent creation just took from node-llama-cpp's cache. */
  private lifecycle: Promise<unknown> = Promise.resolve();
  /** Calls waiting for a context to become idle (every context busy at the bound). */
  private idleWaiters: (() => void)[] = [];
  private tick = 0;
  private disposed = false;
  private createdCount = 0;
  private disposedCount = 0;
  private maxLive = 1;
  private perContextBytes = 0;
  private tokensPerSequence = 0;

  private constructor(
    readonly llama: Llama,
    readonly model: LlamaModel,
    readonly modelPath: string,
    private readonly template: ChatTemplate,
    private readonly options: Required<Pick<LlamaSamplerOptions, 'contextSize' | 'sequences' | 'flashAttention' | 'threads' | 'maxContexts'>> & Pick<LlamaSamplerOptions, 'batchSize'>,
  ) {}

  static async load(options: LlamaSamplerOptions): Promise<LlamaSampler> {
    const maxContexts = options.maxContexts ?? DEFAULT_MAX_CONTEXTS;
    if (!Number.isInteger(maxContexts) || maxContexts < 1) throw new UserError(`maxContexts must be a positive integer, got ${maxContexts}`);
    const { llama, model, path } = await loadLlamaModel(options.model, options);
    try {
      const sampler = new LlamaSampler(llama, model, path, ChatTemplate.for(model), {
        contextSize: options.contextSize ?? 4096,
        sequences: options.sequences ?? 8,
        flashAttention: options.flashAttention ?? DEFAULT_FLASH_ATTENTION,
        threads: options.threads ?? threadsFromEnv() ?? availableParallelism(),
        batchSize: options.batchSize,
        maxContexts,
      });
      // On the CPU each context computes with `threads` (see the header); the runtime is one per
      // process. On a GPU the threads barely matter and the limit stays node-llama-cpp's (none).
      if (llama.gpu === false) llama.maxThreads = sampler.options.threads;
      // The base model's context opens now: bad settings fail at load, not at the first call.
      const base = await sampler.createContext(null);
      sampler.live.push(base);
      sampler.tokensPerSequence = base.context.contextSize;
      await sampler.sizeContexts();
      if (llama.gpu === false) llama.maxThreads = sampler.options.threads * sampler.maxLive;
      return sampler;
    } catch (error) {
      await model.dispose();
      throw error;
    }
  }

  /** Tokens one sequence can hold (prompt + response). */
  get contextSize(): number {
    return this.tokensPerSequence;
  }
  /** CPU threads each sampling context computes with. */
  get threads(): number {
    return this.options.threads;
  }
  /**
   * The CPU threads a context spins on while it decodes (what a call asks of the core budget through
   * SampleOptions.admit; calls in one context's batch share them), 0 when every layer of the model is on a GPU.
   */
  get cpuThreads(): number {
    return this.llama.gpu !== false && this.model.gpuLayers >= this.model.fileInsights.totalLayers ? 0 : this.options.threads;
  }
  get sequences(): number {
    return this.options.sequences;
  }
  /** The most contexts (adapters) kept at once: the option, lowered to what the memory holds. */
  get maxContexts(): number {
    return this.maxLive;
  }
  /** node-llama-cpp's estimate of one context's memory (bytes), from which maxContexts was bounded. */
  get contextBytes(): number {
    return this.perContextBytes;
  }
  /** Contexts now open, with their adapters (least recently used first); for tests and diagnostics. */
  get contexts(): { adapter: string | null; users: number }[] {
    return [...this.live].sort((a, b) => a.lastUsed - b.lastUsed).map((c) => ({ adapter: c.adapter, users: c.users }));
  }
  /** Contexts created and disposed so far (a leak shows as created − disposed > open contexts). */
  get contextCounts(): { created: number; disposed: number } {
    return { created: this.createdCount, disposed: this.disposedCount };
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
    const all = ({ pool }: AdapterContext) =>
      Promise.all(
        Array.from({ length: options.n }, async (_, i) => {
          const seq = await pool.acquire();
          try {
            return await this.rollout(seq, prompt, options, rolloutSeed(options.seed, i));
          } finally {
            pool.release(seq);
          }
        }),
      );
    const { admit } = options;
    return this.withContext(options.adapter, options.n, (entry) => (admit ? admit(`sampler context ${entry.id}`, this.cpuThreads, () => all(entry)) : all(entry)));
  }

  async score(promptTokens: number[], responseTokens: number[], options: ScoreOptions = {}): Promise<ScoredResponse> {
    this.checkOpen();
    if (promptTokens.length === 0) throw new UserError('score: the prompt must have at least one token');
    this.checkFits(promptTokens.length, responseTokens.length, 'prompt + response');
    return this.withContext(options.adapter ?? null, 1, async ({ pool }) => {
      const seq = await pool.acquire();
      try {
        await seq.clearHistory();
        if (promptTokens.length > 1) await seq.evaluateWithoutGeneratingNewTokens(promptTokens.slice(0, -1) as Token[]);
        return await this.scoreContinuation(seq, promptTokens.at(-1)!, responseTokens, options.topK ?? 0);
      } finally {
        pool.release(seq);
      }
    });
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    this.wakeIdleWaiters(); // they see the sampler disposed and fail
    await Promise.allSettled([...this.opening.values()]);
    await this.lifecycle.catch(() => undefined);
    for (const entry of [...this.live]) {
      await entry.pool.drain(); // calls in flight finish first
      await this.disposeContext(entry);
    }
    this.live = [];
    await this.model.dispose(); // frees every adapter loaded into it too
  }

  /** Runs `work` (of `n` sequences) on a context of `adapter` (null = base), holding it so it is not evicted meanwhile. */
  private async withContext<T>(adapter: string | null, n: number, work: (entry: AdapterContext) => Promise<T>): Promise<T> {
    const claim = Math.min(n, this.options.sequences);
    const entry = await this.acquireContext(adapter === null ? null : resolve(adapter), claim);
    try {
      return await work(entry);
    } finally {
      entry.users--;
      entry.claimed -= claim;
      entry.lastUsed = ++this.tick;
      if (entry.users === 0) this.wakeIdleWaiters();
    }
  }

  /**
   * A context of `adapter` for a call of `claim` sequences. It joins a context of the adapter whose
   * free slots hold the whole call (one batch); otherwise, while the bound allows (evicting the
   * least recently used idle context if needed), it opens ANOTHER context for the adapter, so two
   * cells' whole steps on one adapter (best-of-K cells on the base model, every SDPO cell's first
   * step) decode side by side, each with the sampler's threads, instead of one waiting for the
   * other's slots. At the bound with nothing idle it shares the adapter's least loaded context (its
   * sequences wait for slots) or, with none, waits for a context to become idle.
   */
  private async acquireContext(adapter: string | null, claim: number): Promise<AdapterContext> {
    const take = (entry: AdapterContext) => {
      entry.users++;
      entry.claimed += claim;
      entry.lastUsed = ++this.tick;
      return entry;
    };
    for (;;) {
      this.checkOpen();
      const mine = this.live.filter((c) => c.adapter === adapter);
      const room = mine.filter((c) => c.claimed + claim <= this.options.sequences).sort((a, b) => b.lastUsed - a.lastUsed)[0];
      if (room) return take(room);
      const pending = this.opening.get(adapter);
      if (pending) {
        await pending; // its failure is this call's failure too
        continue;
      }
      if (adapter !== null && mine.length === 0) checkAdapterFile(adapter, this.model); // before anything is evicted for it
      let evict: AdapterContext | null = null;
      if (this.live.length + this.opening.size >= this.maxLive) {
        evict = this.live.filter((c) => c.users === 0).sort((a, b) => a.lastUsed - b.lastUsed)[0] ?? null;
        if (!evict) {
          const least = mine.sort((a, b) => a.claimed - b.claimed)[0];
          if (least) return take(least);
          await new Promise<void>((wake) => this.idleWaiters.push(wake));
          continue;
        }
        this.live = this.live.filter((c) => c !== evict); // from now on no call can acquire it
      }
      const victim = evict;
      const open = this.serialised(async () => {
        if (victim) await this.disposeContext(victim);
        return this.createContext(adapter);
      });
      this.opening.set(adapter, open);
      try {
        const entry = await open;
        this.live.push(entry);
        return take(entry);
      } finally {
        this.opening.delete(adapter);
        this.wakeIdleWaiters(); // a failed creation frees its place under the bound
      }
    }
  }

  private serialised<T>(step: () => Promise<T>): Promise<T> {
    const run = this.lifecycle.then(step, step);
    this.lifecycle = run.catch(() => undefined);
    return run;
  }

  private wakeIdleWaiters(): void {
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const wake of waiters) wake();
  }

  /**
   * Bounds the contexts by memory: node-llama-cpp's estimate of one context (KV cache of every
   * sequence plus compute buffers) against CONTEXT_MEMORY_SHARE of what is free now that the
   * first one is open.
   */
  private async sizeContexts(): Promise<void> {
    const estimate = await this.model.fileInsights.estimateContextResourceRequirementsV2({
      contextSize: this.tokensPerSequence,
      sequences: this.options.sequences,
      modelGpuLayers: this.model.gpuLayers,
      flashAttention: this.options.flashAttention,
      ...(this.options.batchSize !== undefined && { batchSize: this.options.batchSize }),
    });
    const onGpu = this.llama.gpu !== false && this.model.gpuLayers > 0;
    this.perContextBytes = onGpu ? estimate.gpuVram : estimate.cpuRam;
    const free = onGpu ? (await this.llama.getVramState()).free : freemem();
    const extra = this.perContextBytes > 0 ? Math.floor((free * CONTEXT_MEMORY_SHARE) / this.perContextBytes) : Infinity;
    this.maxLive = Math.max(1, Math.min(this.options.maxContexts, 1 + extra));
  }

  private async createContext(adapter: string | null): Promise<AdapterContext> {
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
      if (adapter !== null && !this.live.some((c) => c.adapter === adapter)) await releaseAdapter(this.model, adapter);
      const said = llamaLogsSince(logMark).filter((l) => /error|fail|invalid|mismatch/i.test(l)).at(-1);
      const what = adapter === null ? 'context' : `context with LoRA adapter ${adapter}`;
      throw new UserError(`cannot create the ${what}: ${(said ?? firstLine(error)).replace(/\s+/g, ' ')}`);
    }
    this.createdCount++;
    const slots = Array.from({ length: this.options.sequences }, () => context.getSequence());
    return { adapter, context, pool: new SequencePool(slots), users: 0, claimed: 0, id: this.createdCount, lastUsed: ++this.tick };
  }

  private async disposeContext(entry: AdapterContext): Promise<void> {
    await entry.context.dispose();
    this.disposedCount++;
    // node-llama-cpp holds one copy of an adapter per path, shared by its contexts: free it with the last of them.
    if (entry.adapter !== null && !this.live.some((c) => c.adapter === entry.adapter) && !this.opening.has(entry.adapter)) await releaseAdapter(this.model, entry.adapter);
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
      adapter: options.adapter,
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
  if (o.adapter !== null && typeof o.adapter !== 'string') bad(`adapter must be a file path or null, got ${String(o.adapter)}`);
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
    await Promise.all(this.all.map(() => this.acquire()));
  }
}
