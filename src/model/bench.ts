/**
 * `ttsd bench sampler`: the harness against a bare node-llama-cpp evaluate loop, side by side in
 * one run, on the same model object, prompt, sampling settings and per-sequence seeds. Runs
 * alternate (bare, harness, ...) and the ratio is the median of paired ratios, so a noisy shared
 * CPU moves both sides of a pair alike.
 */
import { availableParallelism, loadavg } from 'node:os';
import type { LlamaContextSequence, Token } from 'node-llama-cpp';
import { generationMessages } from '../prompts/index.js';
import { DEFAULT_FLASH_ATTENTION, LlamaSampler, rolloutSeed } from './llama-sampler.js';
import type { GpuChoice } from './runtime.js';

export interface SamplerBenchOptions {
  model: string;
  g: number;
  tokens: number;
  threads?: number;
  repeats: number;
  seed: number;
  /** node-llama-cpp backend (false = CPU, the default) and the layers it offloads. */
  gpu?: GpuChoice;
  gpuLayers?: number | 'max';
}

export interface SamplerBenchResult {
  model: string;
  /** The backend node-llama-cpp sampled with ('cpu' or the GPU type) and the layers it put on the GPU. */
  gpu: string;
  gpu_layers: number;
  g: number;
  tokens: number;
  threads: number;
  repeats: number;
  prompt_tokens: number;
  tok_s_1: number;
  tok_s_g: number;
  bare_tok_s_1: number;
  bare_tok_s_g: number;
  /** Harness time / bare time for G rollouts, logprobs included, at ttsd's default sampling (temperature 1, full vocabulary). */
  overhead_ratio: number;
  /** Same, one rollout. */
  overhead_ratio_1: number;
  /** Harness without the logprob pass: the cost of the harness itself. */
  overhead_ratio_no_logprobs: number;
  /** The same ratios in process CPU time, which other processes on a shared machine do not inflate. */
  overhead_ratio_cpu: number;
  overhead_ratio_no_logprobs_cpu: number;
  /** Harness with logprobs / bare loop, both at temperature 0.8, top-k 40, top-p 0.95 (log-probs by re-scoring). */
  overhead_ratio_tempered: number;
  load_average: number;
  cores: number;
  batch_speedup: number;
}

// ttsd's sampling defaults (the paper's): temperature 1 over the whole vocabulary
const SETTINGS = { temperature: 1, topK: 0, topP: 1 };
// tempered, truncated sampling: the raw log-probs then need a re-scoring pass
const TEMPERED = { temperature: 0.8, topK: 40, topP: 0.95 };
type Settings = typeof SETTINGS;
const QUESTION = {
  content:
    'You are given an integer array nums. Return the length of the longest strictly increasing subsequence of nums.\n\nExample 1:\nInput: nums = [10,9,2,5,3,7,101,18]\nOutput: 4',
  starterCode: 'class Solution:\n    def lengthOfLIS(self, nums: List[int]) -> int:\n        ',
};

export async function benchSampler(o: SamplerBenchOptions): Promise<SamplerBenchResult> {
  const sampler = await LlamaSampler.load({
    model: o.model,
    sequences: o.g,
    contextSize: 1024 + o.tokens,
    ...(o.threads !== undefined && { threads: o.threads }),
    ...(o.gpu && { gpu: o.gpu, gpuLayers: o.gpuLayers ?? 'max' }),
  });
  const bareContext = await sampler.model.createContext({
    contextSize: 1024 + o.tokens,
    flashAttention: DEFAULT_FLASH_ATTENTION,
    sequences: o.g,
    threads: sampler.threads, // the same threads on both sides (node-llama-cpp's own default can exceed the cores)
  });
  try {
    const messages = generationMessages(QUESTION);
    const prompt = (await sampler.renderPrompt(messages)) as Token[];
    const harness = async (n: number, logprobs: boolean, settings: Settings = SETTINGS): Promise<Run> => {
      const started = performance.now();
      const cpu = process.cpuUsage();
      const rollouts = await sampler.sample(messages, { n, seed: o.seed, maxTokens: o.tokens, logprobs, adapter: null, ...settings });
      return { ms: performance.now() - started, cpuMs: cpuMs(cpu), tokens: rollouts.reduce((s, r) => s + r.responseTokens.length, 0) };
    };
    const bareSequences = Array.from({ length: o.g }, () => bareContext.getSequence());
    const bare = (n: number, settings: Settings = SETTINGS) => bareLoop(sampler, bareSequences.slice(0, n), prompt, o, settings);

    // Warm-up: first evaluations allocate buffers and page the weights in.
    await bare(1);
    await harness(1, true);

    const runs = { bare1: [] as Run[], h1: [] as Run[], bareG: [] as Run[], hG: [] as Run[], hGnolp: [] as Run[], bareGt: [] as Run[], hGt: [] as Run[] };
    for (let r = 0; r < o.repeats; r++) {
      runs.bare1.push(await bare(1));
      runs.h1.push(await harness(1, true));
      runs.bareG.push(await bare(o.g));
      runs.hG.push(await harness(o.g, true));
      runs.hGnolp.push(await harness(o.g, false));
      runs.bareGt.push(await bare(o.g, TEMPERED));
      runs.hGt.push(await harness(o.g, true, TEMPERED));
    }
    const tokS = (rs: Run[]) => median(rs.map((r) => (r.tokens / r.ms) * 1000));
    const ratio = (a: Run[], b: Run[]) => median(a.map((r, i) => r.ms / b[i]!.ms));
    const cpuRatio = (a: Run[], b: Run[]) => median(a.map((r, i) => r.cpuMs / b[i]!.cpuMs));
    return {
      model: o.model,
      gpu: sampler.llama.gpu === false ? 'cpu' : sampler.llama.gpu,
      gpu_layers: sampler.model.gpuLayers,
      g: o.g,
      tokens: o.tokens,
      threads: sampler.threads,
      repeats: o.repeats,
      prompt_tokens: prompt.length,
      tok_s_1: round(tokS(runs.h1)),
      tok_s_g: round(tokS(runs.hG)),
      bare_tok_s_1: round(tokS(runs.bare1)),
      bare_tok_s_g: round(tokS(runs.bareG)),
      overhead_ratio: round(ratio(runs.hG, runs.bareG), 3),
      overhead_ratio_1: round(ratio(runs.h1, runs.bare1), 3),
      overhead_ratio_no_logprobs: round(ratio(runs.hGnolp, runs.bareG), 3),
      overhead_ratio_cpu: round(cpuRatio(runs.hG, runs.bareG), 3),
      overhead_ratio_no_logprobs_cpu: round(cpuRatio(runs.hGnolp, runs.bareG), 3),
      overhead_ratio_tempered: round(ratio(runs.hGt, runs.bareGt), 3),
      load_average: round(loadavg()[0]!, 2),
      cores: availableParallelism(),
      batch_speedup: round(tokS(runs.hG) / tokS(runs.h1), 3),
    };
  } finally {
    await bareContext.dispose();
    await sampler.dispose();
  }
}

interface Run {
  ms: number;
  /** CPU time of the whole process (llama.cpp's threads included): robust to other load. */
  cpuMs: number;
  tokens: number;
}

function cpuMs(since: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(since);
  return (d.user + d.system) / 1000;
}

/** The reference: plain node-llama-cpp, n sequences evaluating concurrently, nothing recorded. */
async function bareLoop(sampler: LlamaSampler, sequences: LlamaContextSequence[], prompt: Token[], o: SamplerBenchOptions, settings: Settings): Promise<Run> {
  const started = performance.now();
  const cpu = process.cpuUsage();
  const counts = await Promise.all(
    sequences.map(async (seq, i) => {
      await seq.clearHistory();
      let count = 0;
      for await (const token of seq.evaluate(prompt, { ...settings, seed: rolloutSeed(o.seed, i), yieldEogToken: true })) {
        count++;
        if (sampler.model.isEogToken(token) || count >= o.tokens) break;
      }
      return count;
    }),
  );
  return { ms: performance.now() - started, cpuMs: cpuMs(cpu), tokens: counts.reduce((a, b) => a + b, 0) };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

function round(x: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
