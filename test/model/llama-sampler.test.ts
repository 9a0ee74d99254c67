// LlamaSampler on real node-llama-cpp with tiny random-weight models (real tokenizers and chat
// templates): prompts, parallel rollouts, logprobs against llama.cpp's own softmax, scoring,
// per-call adapters against fresh contexts (interleaved, evicted, disposed), and clear errors. ~1–2 min on 2 busy cores.
import { availableParallelism } from 'node:os';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LlamaModel, Token } from 'node-llama-cpp';
import { UserError } from '../../src/errors.js';
import { GgufMetadata, writeGguf } from '../../src/gguf/writer.js';
import { TensorType } from '../../src/gguf/constants.js';
import { readGguf } from '../../src/gguf/reader.js';
import { LlamaSampler } from '../../src/model/llama-sampler.js';
import { writeLoraAdapter } from '../../src/model/lora.js';
import { generationMessages, SYSTEM_MESSAGE } from '../../src/prompts/index.js';
import type { Admit, ChatMessage, Rollout, SampleOptions } from '../../src/model/types.js';
import { tinyModel } from '../helpers/models.js';

const dir = mkdtempSync(join(tmpdir(), 'ttsd-sampler-'));
const TASK = { content: 'Given n, print the sum 1 + 2 + ... + n.', starterCode: '' };
const messages = generationMessages(TASK);
const SETTINGS: SampleOptions = { n: 4, seed: 11, temperature: 0.9, topK: 40, topP: 0.95, maxTokens: 12, adapter: null };
const LOAD = { threads: 1, contextSize: 512, sequences: 4 }; // 1 thread: spin-waiting threads crawl on a shared CPU

/** log p(target) at each response position from llama.cpp's own full-vocabulary softmax, in a fresh context. */
async function referenceLogprobs(model: LlamaModel, lora: string | null, prompt: number[], response: number[]): Promise<number[]> {
  const context = await model.createContext({ contextSize: 512, threads: 1, flashAttention: false, ...(lora && { lora: { adapters: [{ filePath: lora }] } }) });
  try {
    const tokens = [...prompt, ...response] as Token[];
    const items = tokens.slice(0, -1).map((t, i) => (i >= prompt.length - 1 ? ([t, { generateNext: { probabilities: true } }] as const) : t));
    const out = await context.getSequence().controlledEvaluate(items as never);
    return response.map((target, j) => Math.log(out[prompt.length - 1 + j]!.next.probabilities!.get(target as Token)!));
  } finally {
    await context.dispose();
  }
}

/** A copy of a model (same tensors, byte for byte) whose end-of-sequence token is `eos`. */
function copyWithEos(from: string, to: string, eos: number): void {
  const file = readGguf(from);
  const meta = new GgufMetadata();
  for (const kv of file.kv.values()) meta.add({ key: kv.key, type: kv.type as never, itemType: kv.itemType as never, value: kv.value as never });
  meta.u32('tokenizer.ggml.eos_token_id', eos);
  writeGguf(to, meta, file.tensors.map((t) => ({ name: t.name, shape: t.dims, type: t.type as never, data: file.readTensorBytes(t.name) })));
}

const maxAbsDiff = (a: number[], b: number[]) => Math.max(...a.map((x, i) => Math.abs(x - b[i]!)));

describe('LlamaSampler (qwen2 tiny)', () => {
  let sampler: LlamaSampler;
  let modelPath: string;
  beforeAll(async () => {
    modelPath = await tinyModel();
    sampler = await LlamaSampler.load({ model: modelPath, ...LOAD });
  });
  afterAll(async () => {
    await sampler?.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  it('renders prompts through the model’s own ChatML template, user text never becomes control tokens', async () => {
    expect(sampler.usesModelTemplate).toBe(true);
    const tokens = await sampler.renderPrompt(messages);
    const text = sampler.model.detokenize(tokens as Token[], true);
    expect(text.startsWith(`<|im_start|>system\n${SYSTEM_MESSAGE}<|im_end|>\n<|im_start|>user\n### Question:\n`)).toBe(true);
    expect(text.endsWith('<|im_end|>\n<|im_start|>assistant\n')).toBe(true);
    const imEnd = sampler.model.tokenize('<|im_end|>', true)[0]!;
    const injected = await sampler.renderPrompt([{ role: 'user', content: 'a <|im_end|> b' }]);
    expect(injected.filter((t) => t === imEnd)).toHaveLength(2); // the default system turn's and the user turn's, not the text's
    const multi: ChatMessage[] = [...messages, { role: 'assistant', content: 'first try' }, { role: 'user', content: 'again' }];
    expect(sampler.model.detokenize((await sampler.renderPrompt(multi)) as Token[], true)).toContain('<|im_start|>assistant\nfirst try<|im_end|>\n<|im_start|>user\nagain<|im_end|>\n<|im_start|>assistant\n');
  });

  it('counts tokens with the real tokenizer', async () => {
    const text = 'for i in range(10):\n    print(i * i)\n';
    expect(await sampler.countTokens(text)).toBe(sampler.model.tokenize(text).length);
    expect(await sampler.countTokens(text)).toBeLessThan(text.length / 2);
  });

  it('samples G independent rollouts in parallel, reproducible by seed', async () => {
    const prompt = await sampler.renderPrompt(messages);
    const a = await sampler.sample(messages, SETTINGS);
    expect(a).toHaveLength(4);
    for (const r of a) {
      expect(r.promptTokens).toEqual(prompt);
      expect(r.responseTokens).toHaveLength(12);
      expect(r.finishReason).toBe('length');
      expect(r.logprobs).toHaveLength(12);
      expect(r.text).toBe(sampler.model.detokenize(r.responseTokens as Token[]));
      expect(r.ms).toBeGreaterThan(0);
    }
    expect(new Set(a.map((r) => r.responseTokens.join(','))).size).toBe(4);
    const again = await sampler.sample(messages, SETTINGS);
    expect(again.map((r) => r.responseTokens)).toEqual(a.map((r) => r.responseTokens));
    // Rollout i depends only on (seed, i): alone or next to other sequences, it is the same.
    const alone = await sampler.sample(messages, { ...SETTINGS, n: 1 });
    expect(alone[0]!.responseTokens).toEqual(a[0]!.responseTokens);
    const other = await sampler.sample(messages, { ...SETTINGS, seed: 12 });
    expect(other.map((r) => r.responseTokens)).not.toEqual(a.map((r) => r.responseTokens));
    // More rollouts than sequence slots queue for a slot.
    const six = await sampler.sample(messages, { ...SETTINGS, n: 6, maxTokens: 4 });
    expect(six.map((r) => r.responseTokens)).toHaveLength(6);
    expect(six.slice(0, 4).map((r) => r.responseTokens)).toEqual(a.map((r) => r.responseTokens.slice(0, 4)));
  });

  it('records logprobs of the raw full-vocabulary distribution, equal to llama.cpp’s softmax and to a re-scoring', async () => {
    const [r] = await sampler.sample(messages, { ...SETTINGS, n: 1, seed: 5, maxTokens: 10 });
    const reference = await referenceLogprobs(sampler.model, null, r!.promptTokens, r!.responseTokens);
    expect(maxAbsDiff(r!.logprobs, reference)).toBeLessThan(1e-3);
    const rescored = await sampler.score(r!.promptTokens, r!.responseTokens);
    expect(maxAbsDiff(r!.logprobs, rescored.logprobs)).toBeLessThan(1e-3);
    expect(rescored.top).toBeUndefined();
    for (const lp of r!.logprobs) expect(lp).toBeLessThan(0);
  });

  it('samples from the raw distribution (temperature 1, full vocabulary) with log-probs taken during generation', async () => {
    const raw = { ...SETTINGS, n: 2, seed: 8, temperature: 1, topK: 0, topP: 1, maxTokens: 10 };
    const rollouts = await sampler.sample(messages, raw);
    for (const r of rollouts) {
      expect(r.logprobs).toHaveLength(10);
      const reference = await referenceLogprobs(sampler.model, null, r.promptTokens, r.responseTokens);
      expect(maxAbsDiff(r.logprobs, reference)).toBeLessThan(1e-3);
    }
    // the same draws whether or not log-probs are recorded
    const without = await sampler.sample(messages, { ...raw, logprobs: false });
    expect(without.map((r) => r.responseTokens)).toEqual(rollouts.map((r) => r.responseTokens));
    expect(without.every((r) => r.logprobs.length === 0)).toBe(true);
  });

  it('greedy rollouts pick the arg-max: each token is the top-1 of a scoring with topK', async () => {
    const [r] = await sampler.sample(messages, { ...SETTINGS, n: 1, temperature: 0, maxTokens: 6 });
    const scored = await sampler.score(r!.promptTokens, r!.responseTokens, { topK: 5 });
    expect(scored.top).toHaveLength(6);
    scored.top!.forEach((top, j) => {
      expect(top.ids).toHaveLength(5);
      expect(top.ids[0]).toBe(r!.responseTokens[j]);
      expect(top.logprobs[0]).toBeCloseTo(scored.logprobs[j]!, 5);
      for (let k = 1; k < 5; k++) expect(top.logprobs[k]!).toBeLessThanOrEqual(top.logprobs[k - 1]!);
      expect(top.logprobs.reduce((s, l) => s + Math.exp(l), 0)).toBeLessThan(1);
    });
  });

  it('stops at an end-of-generation token: finishReason stop, token and logprob recorded, not in the text', async () => {
    const [greedy] = await sampler.sample(messages, { ...SETTINGS, n: 1, temperature: 0, maxTokens: 6 });
    const eos = greedy!.responseTokens[3]!;
    const k = greedy!.responseTokens.indexOf(eos);
    const path = join(dir, 'eos-model.gguf');
    copyWithEos(modelPath, path, eos); // same weights: greedy decoding is unchanged until it meets its EOS
    const stopping = await LlamaSampler.load({ model: path, ...LOAD, sequences: 1 });
    try {
      const [r] = await stopping.sample(messages, { ...SETTINGS, n: 1, temperature: 0, maxTokens: 6 });
      expect(r!.finishReason).toBe('stop');
      expect(r!.responseTokens).toEqual(greedy!.responseTokens.slice(0, k + 1));
      expect(r!.logprobs).toHaveLength(k + 1);
      expect(maxAbsDiff(r!.logprobs, greedy!.logprobs.slice(0, k + 1))).toBeLessThan(1e-3);
      expect(r!.text).toBe(stopping.model.detokenize(greedy!.responseTokens.slice(0, k) as Token[]));
    } finally {
      await stopping.dispose();
    }
  });

  it('refuses a prompt + max tokens beyond the context size', async () => {
    await expect(sampler.sample(messages, { ...SETTINGS, maxTokens: 500 })).rejects.toThrow(/exceed the context size 512/);
    await expect(sampler.sample(messages, { ...SETTINGS, maxTokens: 500 })).rejects.toBeInstanceOf(UserError);
    const prompt = await sampler.renderPrompt(messages);
    await expect(sampler.score(prompt, new Array(600).fill(11))).rejects.toThrow(/exceed the context size/);
  });

  it('samples and scores each call with its own adapter exactly like a fresh context with that adapter, with no stale KV', async () => {
    const loraA = join(dir, 'lora-a-v1.gguf');
    const loraB = join(dir, 'lora-b-v2.gguf');
    writeLoraAdapter({ base: modelPath, out: loraA, rank: 4, std: 0.5, seed: 1 });
    writeLoraAdapter({ base: modelPath, out: loraB, rank: 4, std: 0.5, seed: 2 });
    const base = await sampler.sample(messages, { ...SETTINGS, n: 2 });
    expect(base.every((r) => r.adapter === null)).toBe(true);
    const prompt = base[0]!.promptTokens;
    const response = base[0]!.responseTokens;

    const underA = await sampler.sample(messages, { ...SETTINGS, n: 2, adapter: loraA }); // fills every slot's KV under A
    expect(underA.every((r) => r.adapter === loraA)).toBe(true);
    const refA = await referenceLogprobs(sampler.model, loraA, underA[0]!.promptTokens, underA[0]!.responseTokens);
    expect(maxAbsDiff(underA[0]!.logprobs, refA)).toBeLessThan(1e-3);

    // Same prompt as the KV computed under A and under the base: a reused cache would give their numbers here.
    const scoredB = await sampler.score(prompt, response, { adapter: loraB });
    const refB = await referenceLogprobs(sampler.model, loraB, prompt, response);
    const refAonSame = await referenceLogprobs(sampler.model, loraA, prompt, response);
    expect(maxAbsDiff(scoredB.logprobs, refB)).toBeLessThan(1e-3);
    expect(maxAbsDiff(refB, refAonSame)).toBeGreaterThan(0.05); // the adapters really differ
    expect(maxAbsDiff(scoredB.logprobs, base[0]!.logprobs)).toBeGreaterThan(0.05);
    const underB = await sampler.sample(messages, { ...SETTINGS, n: 2, adapter: loraB });
    const refBrollout = await referenceLogprobs(sampler.model, loraB, underB[1]!.promptTokens, underB[1]!.responseTokens);
    expect(maxAbsDiff(underB[1]!.logprobs, refBrollout)).toBeLessThan(1e-3);

    const back = await sampler.sample(messages, { ...SETTINGS, n: 2 });
    expect(back.map((r) => r.responseTokens)).toEqual(base.map((r) => r.responseTokens));
    expect(maxAbsDiff(back[0]!.logprobs, base[0]!.logprobs)).toBeLessThan(1e-6);
  });

  it('interleaved calls for adapters A, B, A and the base, all in flight together, equal those made one at a time, with no context rebuilt', async () => {
    const loraA = join(dir, 'lora-i-a.gguf');
    const loraB = join(dir, 'lora-i-b.gguf');
    writeLoraAdapter({ base: modelPath, out: loraA, rank: 4, std: 0.5, seed: 11 });
    writeLoraAdapter({ base: modelPath, out: loraB, rank: 4, std: 0.5, seed: 12 });
    const greedy = { ...SETTINGS, n: 2, temperature: 0, maxTokens: 8 };
    const order = [loraA, loraB, loraA, null];
    const alone: Rollout[][] = [];
    for (const adapter of order) alone.push(await sampler.sample(messages, { ...greedy, adapter }));
    expect(alone[0]!.map((r) => r.responseTokens)).not.toEqual(alone[1]!.map((r) => r.responseTokens)); // the adapters really differ
    expect(alone[0]!.map((r) => r.responseTokens)).not.toEqual(alone[3]!.map((r) => r.responseTokens));
    const before = sampler.contextCounts;
    const together = await Promise.all(order.map((adapter) => sampler.sample(messages, { ...greedy, adapter })));
    expect(together.map((rs) => rs.map((r) => r.responseTokens))).toEqual(alone.map((rs) => rs.map((r) => r.responseTokens)));
    together.forEach((rs, i) => {
      expect(rs.every((r) => r.adapter === order[i])).toBe(true);
      expect(maxAbsDiff(rs[0]!.logprobs, alone[i]![0]!.logprobs)).toBeLessThan(1e-4);
    });
    // every adapter's context was still open (DEFAULT_MAX_CONTEXTS = 4 on this tiny model): nothing created again
    expect(sampler.contextCounts).toEqual(before);
    expect(sampler.contexts.map((c) => c.adapter)).toEqual(expect.arrayContaining([null, loraA, loraB]));
    expect(sampler.contexts.every((c) => c.users === 0)).toBe(true);
  });

  it('gives two whole steps on one adapter a context each (side by side); calls whose sequences fit join one batch; each computes inside admit, named by its context', async () => {
    const step = { ...SETTINGS, n: 4, temperature: 0, maxTokens: 6 }; // n = the context's 4 slots
    const tokens = (rs: Rollout[]) => rs.map((r) => r.responseTokens);
    const alone = await sampler.sample(messages, step);
    const parts: string[] = [];
    const admit: Admit = (part, threads, operation) => {
      parts.push(`${part} × ${threads}`);
      return operation();
    };
    const before = sampler.contextCounts;
    const [x, y] = await Promise.all([sampler.sample(messages, { ...step, admit }), sampler.sample(messages, { ...step, admit })]);
    expect(tokens(x)).toEqual(tokens(alone));
    expect(tokens(y)).toEqual(tokens(alone));
    // the second step got a base context of its own (evicting an idle one at the bound) instead of waiting for the first one's slots
    expect(sampler.contextCounts.created).toBe(before.created + 1);
    expect(sampler.contexts.filter((c) => c.adapter === null)).toHaveLength(2);
    expect(new Set(parts).size).toBe(2);
    expect(parts.every((p) => p.endsWith(' × 1'))).toBe(true); // LOAD: 1 thread per context
    // two calls of 2 sequences fit one context's 4 slots: one batch, one part, no context opened
    parts.length = 0;
    const counts = sampler.contextCounts;
    const [u, v] = await Promise.all([sampler.sample(messages, { ...step, n: 2, admit }), sampler.sample(messages, { ...step, n: 2, admit })]);
    expect([...tokens(u), ...tokens(v)]).toEqual([...tokens(alone).slice(0, 2), ...tokens(alone).slice(0, 2)]);
    expect(sampler.contextCounts).toEqual(counts);
    expect(parts).toHaveLength(2);
    expect(new Set(parts).size).toBe(1);
  });

  it('rejects adapter files that are not LoRA adapters for this model, evicting nothing for them', async () => {
    const open = sampler.contexts;
    const counts = sampler.contextCounts;
    const sampleWith = (adapter: string) => sampler.sample(messages, { ...SETTINGS, n: 1, maxTokens: 2, adapter });
    await expect(sampleWith(join(dir, 'missing.gguf'))).rejects.toThrow(/cannot open GGUF file/);
    await expect(sampleWith(modelPath)).rejects.toThrow(/not a LoRA adapter/);
    const llamaLora = join(dir, 'llama-lora.gguf');
    writeLoraAdapter({ base: await tinyModel({ arch: 'llama', type: 'q8_0' }), out: llamaLora, rank: 2 });
    await expect(sampleWith(llamaLora)).rejects.toThrow(/is for llama, the model is qwen2/);
    await expect(sampler.score([1, 2], [3], { adapter: modelPath })).rejects.toBeInstanceOf(UserError);
    expect(sampler.contexts).toEqual(open);
    expect(sampler.contextCounts).toEqual(counts);
    expect((await sampler.sample(messages, { ...SETTINGS, n: 1, maxTokens: 2 }))[0]!.responseTokens).toHaveLength(2);
  });
});

describe('LlamaSampler contexts per adapter, bounded', () => {
  it('evicts the least recently used idle context (and its adapter), waits when all are busy, and disposes every context', async () => {
    const modelPath = await tinyModel();
    const loras = ['a', 'b'].map((name, i) => {
      const out = join(dir, `lora-evict-${name}.gguf`);
      writeLoraAdapter({ base: modelPath, out, rank: 4, std: 0.5, seed: 20 + i });
      return out;
    });
    const [loraA, loraB] = loras as [string, string];
    const sampler = await LlamaSampler.load({ model: modelPath, ...LOAD, sequences: 2, maxContexts: 2 });
    const cachedAdapters = () => [...(sampler.model as unknown as { _loraAdapters: Map<string, unknown> })._loraAdapters.keys()].sort();
    const greedy = { ...SETTINGS, n: 2, temperature: 0, maxTokens: 6 };
    const tokens = (rs: { responseTokens: number[] }[]) => rs.map((r) => r.responseTokens);
    try {
      expect(sampler.maxContexts).toBe(2);
      expect(sampler.contextBytes).toBeGreaterThan(0);
      const baseFirst = await sampler.sample(messages, greedy);
      const aFirst = await sampler.sample(messages, { ...greedy, adapter: loraA });
      expect(sampler.contexts.map((c) => c.adapter)).toEqual([null, loraA]);
      // B: the base context is the least recently used idle one
      const bFirst = await sampler.sample(messages, { ...greedy, adapter: loraB });
      expect(sampler.contexts.map((c) => c.adapter)).toEqual([loraA, loraB]);
      expect(cachedAdapters()).toEqual([loraA, loraB].sort());
      // the base again evicts A, whose adapter node-llama-cpp then no longer holds
      expect(tokens(await sampler.sample(messages, greedy))).toEqual(tokens(baseFirst));
      expect(sampler.contexts.map((c) => c.adapter)).toEqual([loraB, null]);
      expect(cachedAdapters()).toEqual([loraB]);
      // A on a fresh context gives what it gave before
      expect(tokens(await sampler.sample(messages, { ...greedy, adapter: loraA }))).toEqual(tokens(aFirst));
      expect(sampler.contextCounts).toEqual({ created: 5, disposed: 3 });

      // Both contexts busy (null, A) when B arrives: B waits for one to finish, then takes its place.
      const long = { ...greedy, maxTokens: 24 };
      const [baseLong, aLong, bAfter] = await Promise.all([
        sampler.sample(messages, long),
        sampler.sample(messages, { ...long, adapter: loraA }),
        sampler.sample(messages, { ...greedy, adapter: loraB }),
      ]);
      expect(tokens(bAfter)).toEqual(tokens(bFirst));
      expect(tokens(baseLong).map((t) => t.slice(0, 6))).toEqual(tokens(baseFirst));
      expect(tokens(aLong).map((t) => t.slice(0, 6))).toEqual(tokens(aFirst));
      expect(sampler.contexts).toHaveLength(2);
      const { created, disposed } = sampler.contextCounts;
      expect(created - disposed).toBe(2); // no context leaked
    } finally {
      await sampler.dispose();
    }
    const { created, disposed } = sampler.contextCounts;
    expect(disposed).toBe(created);
    await expect(sampler.sample(messages, greedy)).rejects.toThrow(/after dispose/);
  });
});

describe('LlamaSampler (qwen3 tiny)', () => {
  it('renders with thinking disabled', async () => {
    const sampler = await LlamaSampler.load({ model: await tinyModel({ arch: 'qwen3', type: 'f16' }), ...LOAD, sequences: 1 });
    try {
      const text = sampler.model.detokenize((await sampler.renderPrompt(messages)) as Token[], true);
      expect(text.endsWith('<|im_start|>assistant\n<think>\n\n</think>\n\n')).toBe(true);
      const [r] = await sampler.sample(messages, { ...SETTINGS, n: 1, maxTokens: 3 });
      expect(r!.responseTokens).toHaveLength(3);
    } finally {
      await sampler.dispose();
    }
  });
});

describe('LlamaSampler threads', () => {
  it('defaults to the cores Node sees (node-llama-cpp\'s own default exceeds them on 2 cores), else $TTSD_THREADS or the option', async () => {
    const model = await tinyModel();
    const saved = process.env.TTSD_THREADS;
    try {
      delete process.env.TTSD_THREADS;
      const byDefault = await LlamaSampler.load({ model, contextSize: 256, sequences: 1 });
      expect(byDefault.threads).toBe(availableParallelism());
      await byDefault.dispose();
      process.env.TTSD_THREADS = '1';
      const fromEnv = await LlamaSampler.load({ model, contextSize: 256, sequences: 1 });
      expect(fromEnv.threads).toBe(1);
      await fromEnv.dispose();
      const fromOption = await LlamaSampler.load({ model, contextSize: 256, sequences: 1, threads: 3 });
      expect(fromOption.threads).toBe(3);
      await fromOption.dispose();
    } finally {
      if (saved === undefined) delete process.env.TTSD_THREADS;
      else process.env.TTSD_THREADS = saved;
    }
  });
});

describe('LlamaSampler load errors', () => {
  const bad = mkdtempSync(join(tmpdir(), 'ttsd-badmodel-'));
  afterAll(() => rmSync(bad, { recursive: true, force: true }));

  it('missing file', async () => {
    await expect(LlamaSampler.load({ model: join(bad, 'nope.gguf') })).rejects.toThrow(/model file not found: .*nope\.gguf/);
  });

  it('random bytes', async () => {
    const path = join(bad, 'random.gguf');
    writeFileSync(path, Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919) % 251)));
    await expect(LlamaSampler.load({ model: path })).rejects.toThrow(/not a GGUF file/);
  });

  it('truncated GGUF', async () => {
    const path = join(bad, 'truncated.gguf');
    const full = readFileSync(await tinyModel());
    writeFileSync(path, full.subarray(0, Math.floor(full.length / 2)));
    const error = await LlamaSampler.load({ model: path }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UserError);
    expect((error as Error).message).toMatch(/truncated|past the end/);
  });

  it('unsupported architecture', async () => {
    const path = join(bad, 'alien.gguf');
    writeGguf(path, new GgufMetadata().string('general.architecture', 'alien9000'), [
      { name: 'token_embd.weight', shape: [32, 4], type: TensorType.F32, data: new Float32Array(128) },
    ]);
    await expect(LlamaSampler.load({ model: path })).rejects.toThrow(/architecture 'alien9000' is not supported/);
  });

  it('an hf: URI offline fails naming the file it needed', async () => {
    const error = await LlamaSampler.load({ model: 'hf:ttsd-test/no-such-model-GGUF/tiny.Q8_0.gguf', downloadStallMs: 3000 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UserError);
    expect((error as Error).message).toMatch(/cannot download hf:ttsd-test\/no-such-model-GGUF\/tiny\.Q8_0\.gguf.*needed at .*models.*tiny\.Q8_0\.gguf/);
    expect((error as Error).message).not.toContain('\n');
  });
});
