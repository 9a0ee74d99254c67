/**
 * A thin client of vLLM's OpenAI-compatible server (started with --enable-lora and
 * VLLM_ALLOW_RUNTIME_LORA_UPDATING=True). Each adapter version is exported to a PEFT directory
 * in the adapter dir (vLLM does not read GGUF LoRA) and loaded with POST /v1/load_lora_adapter
 * under a fresh name (reloading under one name can serve prefix-cache blocks of the old
 * weights); old versions go with POST /v1/unload_lora_adapter. Requests select an adapter by
 * "model". Completions take the prompt as token ids; `logprobs: 1` returns each sampled
 * token's log-prob, which vLLM computes from the raw logits by default (logprobs_mode
 * raw_logprobs). Scoring uses vLLM's `prompt_logprobs`.
 *
 * Tested only against test/model/vllm-standin.ts, which speaks the protocol as read in vLLM's
 * source (entrypoints/openai/completion/protocol.py, models/serving.py); never against a real vLLM.
 */
import { UserError } from '../../errors.js';
import { exportPeft } from '../peft.js';
import type { Completion, CompletionRequest, ServerBackend } from '../server-sampler.js';
import type { ScoredResponse } from '../types.js';
import { callJson } from './http.js';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

interface ModelCard {
  id: string;
  parent?: string | null;
}

interface Choice {
  token_ids?: number[] | null;
  finish_reason?: string | null;
  logprobs?: { token_logprobs?: (number | null)[] } | null;
  prompt_logprobs?: (Record<string, { logprob: number; rank?: number | null }> | null)[] | null;
}

export class VllmBackend implements ServerBackend {
  readonly kind = 'vllm' as const;
  readonly baseTakesSlot = false;
  private baseName: Promise<string> | null = null;

  constructor(
    private readonly url: string,
    /** The run's GGUF (llama-architecture adapters need its head counts for the PEFT export). */
    private readonly baseModel: string,
    /** Adapter versions ttsd keeps loaded at once (vLLM's --max-cpu-loras bounds what it holds). */
    private readonly maxAdapters = 4,
  ) {}

  async capacity(): Promise<number> {
    await this.base(); // the server answers and serves a base model
    return this.maxAdapters;
  }

  async stage(adapterGguf: string, dir: string, name: string): Promise<string> {
    const out = join(dir, name);
    if (!existsSync(join(out, 'adapter_model.safetensors'))) exportPeft(adapterGguf, out, this.baseModel);
    return out;
  }

  async load(adapter: { name: string; path: string } | null): Promise<string> {
    if (adapter === null) return this.base();
    await callJson(this.url, 'POST', '/v1/load_lora_adapter', { lora_name: adapter.name, lora_path: adapter.path });
    return adapter.name;
  }

  async unload(name: string): Promise<void> {
    if (name === (await this.base())) return;
    await callJson(this.url, 'POST', '/v1/unload_lora_adapter', { lora_name: name });
  }

  async complete(r: CompletionRequest): Promise<Completion> {
    const reply = (await callJson(this.url, 'POST', '/v1/completions', {
      model: r.model,
      prompt: r.prompt,
      max_tokens: r.maxTokens,
      temperature: r.temperature,
      top_p: r.topP,
      top_k: r.topK, // 0 = off, as ttsd means it
      min_p: 0,
      seed: r.seed >>> 0,
      ...(r.logprobs && { logprobs: 1 }),
      return_token_ids: true,
      skip_special_tokens: false,
    })) as { choices?: Choice[] };
    const choice = reply.choices?.[0];
    if (!choice || !Array.isArray(choice.token_ids)) throw new UserError('vLLM returned no token_ids (a version without return_token_ids?)');
    const tokens = choice.token_ids;
    let logprobs: number[] | null = null;
    if (r.logprobs) {
      const given = choice.logprobs?.token_logprobs ?? [];
      if (given.length === tokens.length && given.every((x): x is number => typeof x === 'number')) logprobs = given;
    }
    return { tokens, logprobs, finishReason: choice.finish_reason === 'stop' ? 'stop' : 'length' };
  }

  async score(model: string, prompt: number[], response: number[], topK: number): Promise<ScoredResponse> {
    if (prompt.length === 0) throw new UserError('score: the prompt must have at least one token');
    const reply = (await callJson(this.url, 'POST', '/v1/completions', {
      model,
      prompt: [...prompt, ...response],
      max_tokens: 1,
      temperature: 0,
      prompt_logprobs: topK,
    })) as { choices?: Choice[] };
    const positions = reply.choices?.[0]?.prompt_logprobs;
    if (!Array.isArray(positions)) throw new UserError('vLLM returned no prompt_logprobs');
    const logprobs: number[] = [];
    const top: { ids: number[]; logprobs: number[] }[] = [];
    response.forEach((token, t) => {
      const entry = positions[prompt.length + t];
      const own = entry?.[String(token)];
      if (!entry || !own) throw new UserError(`vLLM gave no prompt log-prob for response position ${t}`);
      logprobs.push(own.logprob);
      if (topK > 0) {
        const best = Object.entries(entry)
          .filter(([, v]) => (v.rank ?? Infinity) <= topK)
          .sort((a, b) => b[1].logprob - a[1].logprob);
        top.push({ ids: best.map(([id]) => Number(id)), logprobs: best.map(([, v]) => v.logprob) });
      }
    });
    return topK > 0 ? { logprobs, top } : { logprobs };
  }

  async dispose(): Promise<void> {}

  /** The served base model's name (the /v1/models card without a parent). */
  private base(): Promise<string> {
    this.baseName ??= (async () => {
      const list = (await callJson(this.url, 'GET', '/v1/models')) as { data?: ModelCard[] };
      const base = list.data?.find((m) => !m.parent);
      if (!base) throw new UserError(`vLLM at ${this.url} lists no base model in /v1/models`);
      return base.id;
    })();
    return this.baseName;
  }
}
