// The vLLM client (src/model/servers/vllm.ts) through ServerSampler, against the local stand-in
// in test/model/vllm-standin.ts (no vLLM can run here: it has never met a real one). The
// stand-in answers with the real tiny model, so greedy rollouts per adapter must equal the
// in-process LlamaSampler's with the same adapter GGUF — which also checks the PEFT export end
// to end (GGUF → PEFT → the stand-in's inverse conversion → the same weights).
import { mkdtempSync, rmSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UserError } from '../../src/errors.js';
import { LlamaSampler } from '../../src/model/llama-sampler.js';
import { ServerSampler } from '../../src/model/server-sampler.js';
import { VllmBackend } from '../../src/model/servers/vllm.js';
import type { Rollout, SampleOptions } from '../../src/model/types.js';
import { generationMessages } from '../../src/prompts/index.js';
import { tinyLora, tinyModel } from '../helpers/models.js';
import { startVllmStandin, type Standin } from './vllm-standin.js';

const dir = mkdtempSync(join(tmpdir(), 'ttsd-vllm-'));
const messages = generationMessages({ content: 'Given n, print the sum 1 + 2 + ... + n.', starterCode: '' });
const GREEDY: SampleOptions = { n: 2, seed: 3, temperature: 0, topK: 0, topP: 1, maxTokens: 10, adapter: null };
/** nats: both sides are llama.cpp CPU forward passes of the same tokens, batched differently */
const LOGPROB_TOLERANCE = 2e-3;

let model: string;
let adapters: string[];
let standin: Standin;
let local: LlamaSampler;
let remote: ServerSampler;
const expected = new Map<string | null, { tokens: number[][]; logprobs: number[][] }>();

beforeAll(async () => {
  model = await tinyModel({ arch: 'qwen2' });
  adapters = await Promise.all([1, 2, 3].map((seed) => tinyLora({ base: model, rank: 4, alpha: 8, std: 0.8, seed })));
  standin = await startVllmStandin({ model, workDir: dir, maxLoraRank: 8 });
  local = await LlamaSampler.load({ model, threads: 1, contextSize: 1024, sequences: 2 });
  for (const a of [null, ...adapters]) {
    const rs = await local.sample(messages, { ...GREEDY, adapter: a });
    expected.set(a, { tokens: rs.map((r) => r.responseTokens), logprobs: rs.map((r) => r.logprobs) });
  }
  const adapterDir = join(dir, 'adapters');
  (await import('node:fs')).mkdirSync(adapterDir);
  remote = await ServerSampler.load({ model, adapterDir, contextSize: 1024, backend: (path) => new VllmBackend(standin.url, path, 2) });
}, 300_000);

afterAll(async () => {
  await remote?.dispose();
  await local?.dispose();
  await standin?.close();
  rmSync(dir, { recursive: true, force: true });
});

function check(rollouts: Rollout[], adapter: string | null) {
  const want = expected.get(adapter)!;
  expect(rollouts.map((r) => r.adapter)).toEqual(rollouts.map(() => adapter));
  expect(rollouts.map((r) => r.responseTokens)).toEqual(want.tokens);
  rollouts.forEach((r, i) => {
    expect(r.logprobs).toHaveLength(r.responseTokens.length);
    r.logprobs.forEach((lp, t) => expect(Math.abs(lp - want.logprobs[i]![t]!)).toBeLessThan(LOGPROB_TOLERANCE));
  });
}

describe('vLLM client (against the stand-in)', () => {
  it('adapters differ from the base model (the comparison below can fail)', () => {
    expect(expected.get(adapters[0]!)!.tokens).not.toEqual(expected.get(null)!.tokens);
  });

  it('greedy rollouts per adapter equal the in-process sampler, tagged with their adapter, log-probs within tolerance', async () => {
    check(await remote.sample(messages, { ...GREEDY, adapter: null }), null);
    check(await remote.sample(messages, { ...GREEDY, adapter: adapters[0]! }), adapters[0]!);
  }, 120_000);

  it('concurrent calls with different adapters each use their own; old versions are unloaded, names are fresh per version', async () => {
    const calls = [adapters[1]!, null, adapters[2]!, adapters[0]!, adapters[1]!].map((a) => remote.sample(messages, { ...GREEDY, adapter: a }).then((rs) => ({ a, rs })));
    for (const { a, rs } of await Promise.all(calls)) check(rs, a);
    const loads = standin.requests.filter((r) => r.path === '/v1/load_lora_adapter').map((r) => r.body as { lora_name: string; lora_path: string });
    expect(new Set(loads.map((l) => l.lora_name)).size).toBe(new Set(loads.map((l) => l.lora_path)).size); // one name per version
    expect(standin.requests.some((r) => r.path === '/v1/unload_lora_adapter')).toBe(true); // 3 adapters, room for 2
    expect(standin.loaded().length).toBeLessThanOrEqual(2);
    // the PEFT directories are in the adapter dir
    expect(readdirSync(join(dir, 'adapters')).filter((n) => n.startsWith('ttsd-')).length).toBe(3);
    // prompts went as token ids, with logprobs asked
    const completion = standin.requests.find((r) => r.path === '/v1/completions')!.body as { prompt: unknown; logprobs: number };
    expect(Array.isArray(completion.prompt)).toBe(true);
    expect(completion.logprobs).toBe(1);
  }, 300_000);

  it('scores a response like the in-process sampler', async () => {
    // short: the stand-in answers prompt_logprobs with a full-vocabulary distribution per position
    const prompt = (await local.renderPrompt(messages)).slice(0, 6);
    const response = expected.get(adapters[0]!)!.tokens[0]!.slice(0, 5);
    const want = await local.score(prompt, response, { topK: 3, adapter: adapters[0]! });
    const got = await remote.score(prompt, response, { topK: 3, adapter: adapters[0]! });
    got.logprobs.forEach((lp, t) => expect(Math.abs(lp - want.logprobs[t]!)).toBeLessThan(LOGPROB_TOLERANCE));
    expect(got.top!.map((t) => t.ids)).toEqual(want.top!.map((t) => t.ids));
  }, 120_000);

  it('a server that does not answer is refused at start, in one line', async () => {
    const error = await ServerSampler.load({ model, adapterDir: dir, contextSize: 1024, backend: (path) => new VllmBackend('http://127.0.0.1:9', path) }).catch((e) => e);
    expect(error).toBeInstanceOf(UserError);
    expect(error.message).toMatch(/unreachable \(ECONNREFUSED\)/);
    expect(error.message).not.toContain('\n');
  });

  it('a server error is one line', async () => {
    const bad = new VllmBackend(standin.url, model);
    const error = await bad.complete({ model: 'no-such-adapter', prompt: [1, 2], maxTokens: 1, temperature: 0, topP: 1, topK: 0, seed: 1, logprobs: false }).catch((e) => e);
    expect(error).toBeInstanceOf(UserError);
    expect(error.message).toMatch(/HTTP 404.*no-such-adapter.*does not exist/);
    expect(error.message).not.toContain('\n');
  });
});
