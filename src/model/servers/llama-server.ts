/**
 * llama-server (llama.cpp's tools/server, the version node-llama-cpp bundles) in ROUTER mode:
 * started without -m and with `--models-preset <adapter-dir>/models.ini`. A router forwards each
 * request to a child server chosen by the request's "model" field. A new LoRA file at run time
 * is a new preset section (`model = base`, `lora = file`): ttsd rewrites the preset,
 * `GET /models?reload=1` makes the router read it, `POST /models/load` starts the child (loading
 * is asynchronous: GET /models is polled until it says "loaded"), and `POST /models/unload` stops
 * the child of an old version. (The single-model server's /lora-adapters only changes the
 * scales of adapters given at start; it cannot load a new file.)
 *
 * Completions go to /completion with the prompt as token ids; `n_probs: 1` without
 * `post_sampling_probs` gives each sampled token's probability under the raw logits (softmax
 * over the full vocabulary at temperature 1: get_token_probabilities in server-common.cpp),
 * which is π_old.
 */
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../../errors.js';
import type { Completion, CompletionRequest, ServerBackend } from '../server-sampler.js';
import { copyInto } from '../server-sampler.js';
import type { ScoredResponse } from '../types.js';
import { callJson } from './http.js';

export const PRESET_FILE = 'models.ini';
export const BASE_MODEL_NAME = 'ttsd-base';

interface RouterModel {
  id: string;
  status?: { value?: string; failed?: boolean; exit_code?: number };
}

/** The preset the router reads: the base model and one section per adapter version. */
export function presetText(baseModel: string, adapters: Map<string, string>): string {
  const lines = ['version = 1', '', `[${BASE_MODEL_NAME}]`, `model = ${baseModel}`];
  for (const [name, path] of adapters) lines.push('', `[${name}]`, `model = ${baseModel}`, `lora = ${path}`);
  return `${lines.join('\n')}\n`;
}

/** Writes the preset atomically (the router may read it at any time). */
export function writePreset(dir: string, baseModel: string, adapters: Map<string, string> = new Map()): string {
  const path = join(dir, PRESET_FILE);
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, presetText(baseModel, adapters));
  renameSync(tmp, path);
  return path;
}

export class LlamaServerBackend implements ServerBackend {
  readonly kind = 'llama-server' as const;
  readonly baseTakesSlot = true;
  private readonly adapters = new Map<string, string>();
  /** Preset edits and reloads one at a time (each rewrite must contain every live section). */
  private presetChain: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly url: string,
    private readonly baseModel: string,
    private readonly adapterDir: string,
    private readonly pollMs = 100,
  ) {}

  async capacity(): Promise<number> {
    const props = (await callJson(this.url, 'GET', '/props')) as { role?: string; max_instances?: number };
    if (props.role !== undefined && props.role !== 'router') {
      throw new UserError(`${this.url} is a single-model llama-server; ttsd needs router mode (start it with --models-preset ${join(this.adapterDir, PRESET_FILE)} and no -m)`);
    }
    const max = props.max_instances ?? 4;
    if (max === 1) throw new UserError(`llama-server at ${this.url} runs with --models-max 1: ttsd needs at least 2 (the base model and one adapter)`);
    return max <= 0 ? Number.POSITIVE_INFINITY : max;
  }

  async stage(adapterGguf: string, dir: string, name: string): Promise<string> {
    return copyInto(adapterGguf, dir, `${name}.gguf`);
  }

  async load(adapter: { name: string; path: string } | null): Promise<string> {
    const name = adapter?.name ?? BASE_MODEL_NAME;
    await this.editPreset(() => {
      if (adapter) this.adapters.set(adapter.name, adapter.path);
    });
    const model = await this.model(name);
    if (model?.status?.value !== 'loaded' && model?.status?.value !== 'loading') {
      await callJson(this.url, 'POST', '/models/load', { model: name });
    }
    for (;;) {
      const m = await this.model(name);
      const status = m?.status?.value;
      if (status === 'loaded') return name;
      if (!m || m.status?.failed || status === 'unloaded') {
        throw new UserError(`llama-server could not load ${name}${adapter ? ` (LoRA ${adapter.path})` : ''}: status ${status ?? 'missing'}${m?.status?.exit_code !== undefined ? `, exit code ${m.status.exit_code}` : ''}; see the server's log`);
      }
      await new Promise((r) => setTimeout(r, this.pollMs));
    }
  }

  async unload(name: string): Promise<void> {
    const m = await this.model(name);
    if (m?.status?.value === 'loaded' || m?.status?.value === 'loading') {
      await callJson(this.url, 'POST', '/models/unload', { model: name });
      // Unloading is asynchronous (the child is asked to stop): wait, or the router would count it
      // as running and evict another model on its own (its LRU) to make room for the next load.
      for (;;) {
        const status = (await this.model(name))?.status?.value;
        if (status === undefined || status === 'unloaded') break;
        await new Promise((r) => setTimeout(r, this.pollMs));
      }
    }
    if (name !== BASE_MODEL_NAME) await this.editPreset(() => this.adapters.delete(name));
  }

  async complete(r: CompletionRequest): Promise<Completion> {
    const reply = (await callJson(this.url, 'POST', '/completion', {
      model: r.model,
      prompt: r.prompt,
      n_predict: r.maxTokens,
      temperature: r.temperature,
      top_k: r.topK,
      top_p: r.topP,
      // llama-server's sampler chain has more defaults than ttsd's settings: switch them off (min_p is 0.05 by default)
      min_p: 0,
      typical_p: 1,
      repeat_penalty: 1,
      // 0xFFFFFFFF is llama.cpp's "random seed" (LLAMA_DEFAULT_SEED): never send it
      seed: r.seed >>> 0 === 0xffffffff ? 0xfffffffe : r.seed >>> 0,
      n_probs: r.logprobs ? 1 : 0,
      post_sampling_probs: false,
      return_tokens: true,
      cache_prompt: true,
      stream: false,
    })) as { tokens?: number[]; stop_type?: string; completion_probabilities?: { id: number; logprob: number }[] };
    const tokens = reply.tokens;
    if (!Array.isArray(tokens)) throw new UserError('llama-server returned no "tokens" (a build without return_tokens?)');
    let logprobs: number[] | null = null;
    if (r.logprobs) {
      const probs = reply.completion_probabilities ?? [];
      // The server drops the probabilities of tokens that end inside a multi-byte UTF-8 character
      // (process_token in server-context.cpp); then the positions cannot be matched for certain.
      if (probs.length === tokens.length && probs.every((p, i) => p.id === tokens[i])) logprobs = probs.map((p) => p.logprob);
    }
    return { tokens, logprobs, finishReason: reply.stop_type === 'eos' ? 'stop' : 'length' };
  }

  async score(): Promise<ScoredResponse> {
    throw new UserError('llama-server cannot score a given response (it has no prompt log-probs); use --sampler local or a vLLM server for scoring');
  }

  async dispose(): Promise<void> {}

  private async model(name: string): Promise<RouterModel | undefined> {
    const list = (await callJson(this.url, 'GET', '/models')) as { data?: RouterModel[] };
    return list.data?.find((m) => m.id === name);
  }

  private async editPreset(change: () => void): Promise<void> {
    const run = this.presetChain.then(async () => {
      change();
      writePreset(this.adapterDir, this.baseModel, this.adapters);
      await callJson(this.url, 'GET', '/models?reload=1');
    });
    this.presetChain = run.catch(() => {});
    await run;
  }
}

/** True when `dir` holds a preset this backend wrote (a server can be started on it). */
export function hasPreset(dir: string): boolean {
  const path = join(dir, PRESET_FILE);
  return existsSync(path) && readFileSync(path, 'utf8').includes(`[${BASE_MODEL_NAME}]`);
}
