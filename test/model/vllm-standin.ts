/**
 * A local stand-in for vLLM's OpenAI-compatible server, for testing ttsd's vLLM client where no
 * vLLM can run. It speaks the protocol as read in vLLM's source (vllm/entrypoints/openai/
 * completion/protocol.py: CompletionRequest, its validators and CompletionResponse;
 * models/serving.py: /v1/models, /v1/load_lora_adapter, /v1/unload_lora_adapter and their
 * checks and messages) and answers with a REAL model: the tiny GGUF through
 * node-llama-cpp. A PEFT adapter is loaded the way vLLM needs it (adapter_config.json +
 * adapter_model.safetensors, r ≤ max_lora_rank) and turned back into a llama.cpp LoRA GGUF by an
 * inverse conversion written here (names, torch → ggml shapes, llama's q/k row permutation), so
 * a request for an adapter really runs with that adapter's weights.
 *
 * What it does not do like vLLM: requests run one at a time (vLLM batches them), and
 * sampling uses llama.cpp's samplers (vLLM's draw differently for the same seed).
 */
import { existsSync, readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { TensorType } from '../../src/gguf/constants.js';
import { readGguf } from '../../src/gguf/reader.js';
import { GgufMetadata, writeGguf, type TensorSpec } from '../../src/gguf/writer.js';
import type { LlamaContext, LlamaContextSequence, Token } from 'node-llama-cpp';
import { llamaRuntime } from '../../src/model/runtime.js';

/** The k most probable tokens of a distribution, best first (one pass; all of them sorted when k is infinite). */
function topOf(dist: Map<Token, number>, k: number): [Token, number][] {
  if (!Number.isFinite(k)) return [...dist.entries()].sort((a, b) => b[1] - a[1]);
  const best: [Token, number][] = [];
  for (const e of dist) {
    if (best.length === k && e[1] <= best[k - 1]![1]) continue;
    let i = best.length;
    while (i > 0 && best[i - 1]![1] < e[1]) i--;
    best.splice(i, 0, e);
    if (best.length > k) best.pop();
  }
  return best;
}

/** Full-vocabulary next-token distributions after each of tokens[from-1 .. end-2] (a fresh evaluation). */
async function distributions(seq: LlamaContextSequence, tokens: number[], from: number): Promise<Map<Token, number>[]> {
  await seq.clearHistory();
  if (tokens.length <= from) return [];
  const items = tokens.slice(0, -1).map((t, i) => (i >= from - 1 ? ([t, { generateNext: { probabilities: true } }] as const) : t));
  const out = await seq.controlledEvaluate(items as never);
  return tokens.slice(from).map((_, j) => out[from - 1 + j]!.next.probabilities!);
}

export interface StandinOptions {
  model: string; // GGUF the stand-in serves
  servedName?: string; // --served-model-name (default: the model path, as vLLM does)
  maxLoraRank?: number; // --max-lora-rank (vLLM's default 16)
  workDir: string; // where loaded adapters are turned into GGUFs
}

export interface Standin {
  url: string;
  /** Every request as received: the tests check what the client sent. */
  requests: { path: string; body: unknown }[];
  loaded: () => string[];
  close: () => Promise<void>;
}

const HF_TO_GGUF: Record<string, string> = {
  'self_attn.q_proj': 'attn_q',
  'self_attn.k_proj': 'attn_k',
  'self_attn.v_proj': 'attn_v',
  'self_attn.o_proj': 'attn_output',
  'mlp.gate_proj': 'ffn_gate',
  'mlp.up_proj': 'ffn_up',
  'mlp.down_proj': 'ffn_down',
};

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly type: string,
    message: string,
    readonly param: string | null = null,
  ) {
    super(message);
  }
}

function readSafetensors(file: string): Map<string, { shape: number[]; data: Float32Array }> {
  const buf = readFileSync(file);
  const n = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.subarray(8, 8 + n).toString('utf8')) as Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
  const out = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const [name, t] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    if (t.dtype !== 'F32') throw new Error(`stand-in reads F32 only, ${name} is ${t.dtype}`);
    const bytes = buf.subarray(8 + n + t.data_offsets[0], 8 + n + t.data_offsets[1]);
    out.set(name, { shape: t.shape, data: new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength)) });
  }
  return out;
}

/** convert_hf_to_gguf.py's LlamaModel.permute on the rows of a [rows, cols] matrix. */
function permuteRows(data: Float32Array, rows: number, cols: number, heads: number): Float32Array {
  const d = rows / heads;
  const out = new Float32Array(data.length);
  for (let h = 0; h < heads; h++)
    for (let a = 0; a < 2; a++)
      for (let b = 0; b < d / 2; b++) {
        const src = h * d + a * (d / 2) + b;
        const dst = h * d + b * 2 + a;
        out.set(data.subarray(src * cols, (src + 1) * cols), dst * cols);
      }
  return out;
}

/** PEFT directory → llama.cpp LoRA GGUF (what convert_lora_to_gguf.py does, for the modules ttsd adapts). */
function peftToGguf(dir: string, base: string, out: string, maxRank: number): void {
  const config = JSON.parse(readFileSync(join(dir, 'adapter_config.json'), 'utf8')) as { r: number; lora_alpha: number; peft_type?: string };
  if (config.peft_type !== undefined && config.peft_type !== 'LORA') throw new HttpError(400, 'BadRequestError', `peft_type ${config.peft_type} is not LORA`);
  if (config.r > maxRank) {
    throw new HttpError(400, 'BadRequestError', `LoRA rank ${config.r} is greater than max_lora_rank ${maxRank}.`);
  }
  const model = readGguf(base);
  const arch = model.architecture!;
  const heads = { q: model.number(`${arch}.attention.head_count`), kv: model.number(`${arch}.attention.head_count_kv`) };
  const tensors: TensorSpec[] = [];
  for (const [name, t] of readSafetensors(join(dir, 'adapter_model.safetensors'))) {
    const m = /^base_model\.model\.model\.layers\.(\d+)\.(self_attn\.[a-z_]+|mlp\.[a-z_]+)\.lora_(A|B)\.weight$/.exec(name);
    if (!m || !HF_TO_GGUF[m[2]!]) throw new HttpError(400, 'BadRequestError', `unexpected tensor ${name} in the adapter`);
    const weight = HF_TO_GGUF[m[2]!]!;
    let data = t.data;
    if (arch === 'llama' && m[3] === 'B' && (weight === 'attn_q' || weight === 'attn_k')) data = permuteRows(data, t.shape[0]!, t.shape[1]!, weight === 'attn_q' ? heads.q : heads.kv);
    tensors.push({ name: `blk.${m[1]}.${weight}.weight.lora_${m[3]!.toLowerCase()}`, shape: [...t.shape].reverse(), type: TensorType.F32, data });
  }
  const meta = new GgufMetadata().string('general.architecture', arch).string('general.type', 'adapter').string('adapter.type', 'lora').f32('adapter.lora.alpha', config.lora_alpha);
  writeGguf(out, meta, tensors);
}

export async function startVllmStandin(options: StandinOptions): Promise<Standin> {
  const llama = await llamaRuntime(false);
  const model = await llama.loadModel({ modelPath: options.model });
  const contextSize = 1024;
  let current: { adapter: string | null; context: LlamaContext; seq: LlamaContextSequence } | null = null;
  /** One context per adapter, rebuilt when the adapter changes (requests run one at a time). */
  const sequenceFor = async (adapter: string | null): Promise<LlamaContextSequence> => {
    if (current?.adapter === adapter) return current.seq;
    await current?.context.dispose();
    const context = await model.createContext({ contextSize, sequences: 1, threads: 1, flashAttention: false, ...(adapter && { lora: { adapters: [{ filePath: adapter }] } }) });
    current = { adapter, context, seq: context.getSequence() };
    return current.seq;
  };
  const served = options.servedName ?? options.model;
  const maxRank = options.maxLoraRank ?? 16;
  const loras = new Map<string, { path: string; gguf: string }>();
  let nextId = 1;
  const requests: Standin['requests'] = [];
  let queue: Promise<unknown> = Promise.resolve();
  const serial = <T>(work: () => Promise<T>): Promise<T> => {
    const run = queue.then(work);
    queue = run.catch(() => {});
    return run;
  };

  const models = () => ({
    object: 'list',
    data: [
      { id: served, object: 'model', owned_by: 'vllm', root: options.model, parent: null, max_model_len: contextSize },
      ...[...loras].map(([name, l]) => ({ id: name, object: 'model', owned_by: 'vllm', root: l.path, parent: served })),
    ],
  });

  const load = (body: Record<string, unknown>): string => {
    const name = body.lora_name as string | undefined;
    const path = body.lora_path as string | undefined;
    if (!name || !path) throw new HttpError(400, 'InvalidUserInput', "Both 'lora_name' and 'lora_path' must be provided.");
    if (loras.has(name) && body.load_inplace !== true) {
      throw new HttpError(400, 'InvalidUserInput', `The lora adapter '${name}' has already been loaded. If you want to load the adapter in place, set 'load_inplace' to True.`);
    }
    if (!existsSync(join(path, 'adapter_config.json'))) throw new HttpError(404, 'NotFoundError', `Loading lora ${name} failed: No adapter found for ${path}`);
    const gguf = join(options.workDir, `standin-lora-${nextId++}.gguf`);
    peftToGguf(path, options.model, gguf, maxRank);
    loras.set(name, { path, gguf });
    return `Success: LoRA adapter '${name}' added successfully.`;
  };

  const unload = (body: Record<string, unknown>): string => {
    const name = body.lora_name as string | undefined;
    if (!name) throw new HttpError(400, 'InvalidUserInput', "'lora_name' needs to be provided to unload a LoRA adapter.");
    if (!loras.has(name)) throw new HttpError(404, 'NotFoundError', `The lora adapter '${name}' cannot be found.`);
    loras.delete(name);
    return `Success: LoRA adapter '${name}' removed successfully.`;
  };

  const completions = async (body: Record<string, unknown>) => {
    const model_ = body.model as string | undefined;
    const adapter = model_ === undefined || model_ === served ? null : loras.get(model_);
    if (adapter === undefined) throw new HttpError(404, 'NotFoundError', `The model \`${model_}\` does not exist.`, 'model');
    const prompt = body.prompt;
    if (prompt === undefined || prompt === null || prompt === '') throw new HttpError(400, 'BadRequestError', 'Either prompt or prompt_embeds must be provided and non-empty.', 'prompt');
    if (!Array.isArray(prompt) || !prompt.every((t) => Number.isInteger(t) && t >= 0)) {
      throw new HttpError(400, 'BadRequestError', 'the stand-in takes prompts as token ids (list[int], each >= 0)', 'prompt');
    }
    for (const field of ['logprobs', 'prompt_logprobs'] as const) {
      const v = body[field];
      if (v !== undefined && v !== null && (typeof v !== 'number' || (v < 0 && v !== -1))) throw new HttpError(400, 'BadRequestError', `\`${field}\` must be a positive value or -1.`, field);
    }
    if ((body.n ?? 1) !== 1) throw new HttpError(400, 'BadRequestError', 'the stand-in serves n = 1', 'n');
    const maxTokens = (body.max_tokens as number | null | undefined) ?? 16;
    if (prompt.length + maxTokens > contextSize) {
      throw new HttpError(400, 'BadRequestError', `This model's maximum context length is ${contextSize} tokens. However, you requested ${prompt.length + maxTokens} tokens.`);
    }
    return serial(async () => {
      const seq = await sequenceFor(adapter?.gguf ?? null);
      const choice: Record<string, unknown> = { index: 0, stop_reason: null, prompt_token_ids: body.return_token_ids ? prompt : null };
      await seq.clearHistory();
      const tokens: number[] = [];
      let finish = 'length';
      if (maxTokens > 0) {
        const generation = seq.evaluateWithMetadata(prompt as Token[], {}, {
          temperature: (body.temperature as number | undefined) ?? 1,
          topP: (body.top_p as number | undefined) ?? 1,
          topK: Math.max(0, (body.top_k as number | undefined) ?? 0),
          seed: Number(body.seed ?? 0),
          yieldEogToken: true,
        });
        for await (const out of generation) {
          tokens.push(out.token);
          if (model.isEogToken(out.token)) {
            finish = 'stop';
            break;
          }
          if (tokens.length >= maxTokens) break;
        }
      }
      // raw log-probs (vLLM's default logprobs_mode raw_logprobs): full-vocabulary softmax of the logits, re-evaluated
      const all = [...(prompt as number[]), ...tokens];
      const wantPrompt = typeof body.prompt_logprobs === 'number';
      const from = wantPrompt ? 1 : prompt.length;
      const dists = await distributions(seq, all, from);
      if (wantPrompt) {
        const k = body.prompt_logprobs === -1 ? Number.POSITIVE_INFINITY : (body.prompt_logprobs as number);
        choice.prompt_logprobs = [
          null,
          ...prompt.slice(1).map((own: number, j) => {
            const dist = dists[j]!;
            const p = dist.get(own as Token) ?? 0;
            let rank = 1;
            for (const q of dist.values()) if (q > p) rank++;
            const entry: Record<string, { logprob: number; rank: number; decoded_token: string }> = {};
            entry[String(own)] = { logprob: Math.log(p), rank, decoded_token: model.detokenize([own as Token]) };
            topOf(dist, k).forEach(([id, q], r) => (entry[String(id)] = { logprob: Math.log(q), rank: r + 1, decoded_token: model.detokenize([id]) }));
            return entry;
          }),
        ];
      }
      const generated = dists.slice(prompt.length - from);
      const logprobs = tokens.map((t, i) => Math.log(generated[i]!.get(t as Token) ?? 0));
      const text = model.detokenize((finish === 'stop' ? tokens.slice(0, -1) : tokens) as Token[]);
      choice.text = text;
      choice.finish_reason = finish;
      choice.token_ids = body.return_token_ids ? tokens : null;
      choice.logprobs =
        typeof body.logprobs === 'number'
          ? {
              text_offset: [],
              token_logprobs: logprobs,
              tokens: tokens.map((t) => (body.return_tokens_as_token_ids ? `token_id:${t}` : model.detokenize([t as Token]))),
              top_logprobs: tokens.map((t, i) => ({ [model.detokenize([t as Token])]: logprobs[i]! })),
            }
          : null;
      return {
        id: `cmpl-${Date.now()}`,
        object: 'text_completion',
        created: Math.floor(Date.now() / 1000),
        model: model_ ?? served,
        choices: [choice],
        usage: { prompt_tokens: prompt.length, completion_tokens: tokens.length, total_tokens: prompt.length + tokens.length },
      };
    });
  };

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      const path = new URL(req.url ?? '/', 'http://x').pathname;
      let body: Record<string, unknown> = {};
      try {
        if (chunks.length) body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch {
        body = {};
      }
      requests.push({ path, body });
      try {
        let result: unknown;
        if (req.method === 'GET' && path === '/v1/models') result = models();
        else if (req.method === 'POST' && path === '/v1/load_lora_adapter') result = load(body);
        else if (req.method === 'POST' && path === '/v1/unload_lora_adapter') result = unload(body);
        else if (req.method === 'POST' && path === '/v1/completions') result = await completions(body);
        else throw new HttpError(404, 'NotFoundError', 'Not Found');
        if (typeof result === 'string') {
          res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' }).end(result);
        } else {
          res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(result));
        }
      } catch (error) {
        const e = error instanceof HttpError ? error : new HttpError(500, 'InternalServerError', String((error as Error).message ?? error));
        res.writeHead(e.status, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { message: e.message, type: e.type, param: e.param, code: e.status } }));
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    loaded: () => [...loras.keys()],
    close: async () => {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await queue;
      await current?.context.dispose();
      await model.dispose();
    },
  };
}
