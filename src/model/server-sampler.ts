/**
 * A Sampler whose rollouts come from an inference server (llama-server or vLLM) instead of the
 * in-process node-llama-cpp context. Prompts are rendered and tokenized HERE, by the same chat
 * template code and vocabulary as the in-process sampler (a vocab-only load of the run's GGUF),
 * and sent as token ids, so both samplers see identical prompts.
 *
 * Adapters per call (contract C1): every call names its adapter; each adapter version is made
 * servable once (deduplicated while loading), requests select it by name, and concurrent calls
 * with different adapters run side by side. At most `capacity` adapters are loaded at once;
 * making room unloads the least recently used one that no call is using (waiting if all are).
 *
 * Adapters reach the server through a directory both machines see at the same path
 * (--adapter-dir): each version is copied there under a content-hash name (a fresh name per
 * version, as vLLM needs: reloading under one name can serve stale prefix-cache blocks).
 */
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readFileSync, renameSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { LlamaModel, Token } from 'node-llama-cpp';
import { UserError } from '../errors.js';
import { extractCode } from '../feedback/index.js';
import { ChatTemplate } from './chat-template.js';
import { rolloutSeed } from './llama-sampler.js';
import { llamaRuntime, resolveModelPath } from './runtime.js';
import type { ChatMessage, Rollout, SampleOptions, Sampler, ScoredResponse } from './types.js';

export type ServerKind = 'llama-server' | 'vllm';
export const SERVER_KINDS: readonly ServerKind[] = ['llama-server', 'vllm'];

/** One completion as a back end returns it. */
export interface Completion {
  tokens: number[]; // including the end-of-generation token when it stopped on one
  /** Raw-model log-probs of `tokens` (temperature 1, full vocabulary), or null when the server could not give all of them. */
  logprobs: number[] | null;
  finishReason: 'stop' | 'length';
}

export interface CompletionRequest {
  model: string; // the served name returned by load()
  prompt: number[];
  maxTokens: number;
  temperature: number;
  topP: number;
  topK: number;
  seed: number;
  logprobs: boolean;
}

/** What a kind of server must offer; everything else is shared. */
export interface ServerBackend {
  readonly kind: ServerKind;
  /** Most models the server keeps loaded at once (with `baseTakesSlot`, the base model is one of them). */
  capacity(): Promise<number>;
  /** Whether serving the base model uses one of those places (a child process in llama-server's router; nothing in vLLM). */
  readonly baseTakesSlot: boolean;
  /** Makes the base model (null) or an adapter (a file already in the adapter dir) servable; returns the name requests use. */
  load(adapter: { name: string; path: string } | null): Promise<string>;
  unload(name: string): Promise<void>;
  complete(request: CompletionRequest): Promise<Completion>;
  score(model: string, prompt: number[], response: number[], topK: number): Promise<ScoredResponse>;
  /** The file or directory the server loads for an adapter GGUF (a PEFT directory for vLLM). */
  stage(adapterGguf: string, dir: string, name: string): Promise<string>;
  dispose(): Promise<void>;
}

export interface ServerSamplerOptions {
  /** The run's GGUF: the vocabulary and chat template prompts are rendered with (and the base model for llama-server). */
  model: string;
  backend: (modelPath: string) => ServerBackend;
  /** Directory both ttsd and the server see at the same path; adapters are copied here. */
  adapterDir: string;
  /** Tokens a prompt + response may take (the server's per-slot context). */
  contextSize: number;
}

interface Loaded {
  name: Promise<string>;
  ready: boolean; // loaded on the server (not queued or loading)
  inflight: number;
  lastUsed: number;
}

export class ServerSampler implements Sampler {
  private readonly loaded = new Map<string | null, Loaded>();
  private useCounter = 0;
  private loadChain: Promise<unknown> = Promise.resolve();
  private capacityValue: Promise<number> | null = null;
  /** Wakes callers waiting for a loaded adapter to become idle (to unload it). */
  private idleWaiters: (() => void)[] = [];
  /** Load-time of each adapter version, for the closing figures (seconds). */
  readonly loadSeconds: number[] = [];
  private disposed = false;

  private constructor(
    readonly modelPath: string,
    private readonly vocab: LlamaModel,
    private readonly template: ChatTemplate,
    readonly backend: ServerBackend,
    private readonly options: ServerSamplerOptions,
  ) {}

  static async load(options: ServerSamplerOptions): Promise<ServerSampler> {
    const path = await resolveModelPath(options.model);
    if (!existsSync(options.adapterDir)) throw new UserError(`--adapter-dir ${options.adapterDir} does not exist (it must be a directory the server sees at the same path)`);
    const llama = await llamaRuntime(false);
    // the vocabulary and template only: no weights in this process
    const vocab = await llama.loadModel({ modelPath: path, vocabOnly: true });
    const backend = options.backend(path);
    const sampler = new ServerSampler(path, vocab, ChatTemplate.for(vocab), backend, { ...options, adapterDir: resolve(options.adapterDir) });
    try {
      // refused at start, not at the first rollout: a server that is down or in the wrong mode
      sampler.capacityValue = backend.capacity();
      await sampler.capacityValue;
    } catch (error) {
      await vocab.dispose();
      throw error;
    }
    return sampler;
  }

  get kind(): ServerKind {
    return this.backend.kind;
  }

  async renderPrompt(messages: ChatMessage[]): Promise<number[]> {
    return this.template.render(messages);
  }

  async countTokens(text: string): Promise<number> {
    return this.vocab.tokenize(text).length;
  }

  async sample(messages: ChatMessage[], options: SampleOptions): Promise<Rollout[]> {
    this.checkOpen();
    const adapter = options.adapter === null || options.adapter === undefined ? null : resolve(options.adapter);
    if (!Number.isInteger(options.n) || options.n < 1) throw new UserError(`sample: n must be a positive integer, got ${options.n}`);
    if (!Number.isInteger(options.maxTokens) || options.maxTokens < 0) throw new UserError(`sample: maxTokens must be a non-negative integer, got ${options.maxTokens}`);
    const prompt = this.template.render(messages);
    if (prompt.length + options.maxTokens > this.options.contextSize) {
      throw new UserError(`the prompt (${prompt.length} tokens) + ${options.maxTokens} response tokens exceed the context size ${this.options.contextSize}`);
    }
    return this.withAdapter(adapter, (model) =>
      Promise.all(
        Array.from({ length: options.n }, async (_, i): Promise<Rollout> => {
          const started = performance.now();
          const wantLogprobs = options.logprobs !== false;
          // servers read a limit of 0 differently (llama-server: no limit); nothing to generate is nothing to ask
          const c: Completion = options.maxTokens === 0 ? { tokens: [], logprobs: [], finishReason: 'length' } : await this.backend.complete({
            model,
            prompt,
            maxTokens: options.maxTokens,
            temperature: options.temperature,
            topP: options.topP,
            topK: options.topK,
            seed: rolloutSeed(options.seed, i),
            logprobs: wantLogprobs,
          });
          const stopped = c.finishReason === 'stop' && c.tokens.length > 0 && this.vocab.isEogToken(c.tokens.at(-1)! as Token);
          const visible = stopped ? c.tokens.slice(0, -1) : c.tokens;
          const text = this.vocab.detokenize(visible as Token[]);
          return {
            text,
            code: extractCode(text),
            promptTokens: [...prompt],
            responseTokens: c.tokens,
            // a server that could not give every token's log-prob gives none: the trainer then treats π_old as π_θ
            logprobs: wantLogprobs && c.logprobs ? c.logprobs : [],
            finishReason: c.finishReason,
            ms: performance.now() - started,
            adapter,
          };
        }),
      ),
    );
  }

  async score(promptTokens: number[], responseTokens: number[], options: { topK?: number; adapter?: string | null } = {}): Promise<ScoredResponse> {
    this.checkOpen();
    const adapter = options.adapter === null || options.adapter === undefined ? null : resolve(options.adapter);
    return this.withAdapter(adapter, (model) => this.backend.score(model, promptTokens, responseTokens, options.topK ?? 0));
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    // adapters this run loaded are its own: unload them (the server itself keeps running)
    await Promise.allSettled([...this.loaded.entries()].filter(([key]) => key !== null).map(async ([, l]) => this.backend.unload(await l.name)));
    await this.backend.dispose();
    await this.vocab.dispose();
  }

  /** Runs `work` with the adapter loaded and counted as in use, so it is not unloaded under the call. */
  private async withAdapter<T>(adapter: string | null, work: (model: string) => Promise<T>): Promise<T> {
    let entry = this.loaded.get(adapter);
    if (!entry) {
      const created: Loaded = { name: Promise.resolve(''), ready: false, inflight: 0, lastUsed: 0 };
      // one load at a time: each makes room among the adapters already loaded, whose calls can finish,
      // so several new adapters at once never wait on each other
      const loading = this.loadChain.then(() => this.makeServable(adapter));
      this.loadChain = loading.catch(() => {});
      created.name = loading.then((name) => ((created.ready = true), name));
      entry = created;
      this.loaded.set(adapter, entry);
      entry.name.catch(() => this.loaded.delete(adapter)); // a failed load is tried again by the next call
    }
    entry.inflight++;
    entry.lastUsed = ++this.useCounter;
    try {
      return await work(await entry.name);
    } finally {
      entry.inflight--;
      if (entry.inflight === 0) for (const wake of this.idleWaiters.splice(0)) wake();
    }
  }

  private async makeServable(adapter: string | null): Promise<string> {
    await this.makeRoom(adapter);
    if (adapter === null) return this.backend.load(null);
    if (!existsSync(adapter)) throw new UserError(`LoRA adapter ${adapter} does not exist`);
    const name = `ttsd-${createHash('sha256').update(readFileSync(adapter)).digest('hex').slice(0, 16)}`;
    const staged = await this.backend.stage(adapter, this.options.adapterDir, name);
    const started = performance.now();
    const served = await this.backend.load({ name, path: staged });
    this.loadSeconds.push((performance.now() - started) / 1000);
    return served;
  }

  /** Unloads least-recently-used idle adapters until one more fits. */
  private async makeRoom(incoming: string | null): Promise<void> {
    this.capacityValue ??= this.backend.capacity();
    const capacity = await this.capacityValue;
    for (;;) {
      if (incoming === null && !this.backend.baseTakesSlot) return;
      const others = [...this.loaded.entries()].filter(([key, l]) => key !== incoming && l.ready && (key !== null || this.backend.baseTakesSlot));
      if (others.length < capacity) return;
      const idle = others.filter(([, l]) => l.inflight === 0).sort((a, b) => a[1].lastUsed - b[1].lastUsed)[0];
      if (idle) {
        this.loaded.delete(idle[0]);
        const name = await idle[1].name.catch(() => null);
        if (name !== null) await this.backend.unload(name);
        continue;
      }
      await new Promise<void>((wake) => this.idleWaiters.push(wake));
    }
  }

  private checkOpen(): void {
    if (this.disposed) throw new Error('ServerSampler used after dispose()');
  }
}

/** Copies a file into `dir` under `name` (atomically: a reader never sees half a file); kept when already there. */
export function copyInto(file: string, dir: string, name: string): string {
  mkdirSync(dir, { recursive: true });
  const target = join(dir, name);
  if (existsSync(target)) return target; // content-hash names: the same name is the same bytes
  const tmp = `${target}.tmp-${process.pid}`;
  copyFileSync(file, tmp);
  renameSync(tmp, target);
  return target;
}
