import { describe, expect, it } from 'vitest';
import { UserError } from '../../src/errors.js';
import { ALL_LORA_TARGETS, PAPER_MULTI_TURN_PROMPT_TOKENS, parseSeeds, resolveConfig } from '../../src/run/config.js';
import { STRATEGY_NAMES } from '../../src/strategies/index.js';

const resolve = (file: Record<string, unknown>, flags: Record<string, unknown> = {}) => resolveConfig({ model: 'm.gguf', ...file }, flags, STRATEGY_NAMES);

describe('run config', () => {
  it("has the paper's defaults and a documented LoRA learning rate", () => {
    const c = resolve({});
    expect(c).toMatchObject({
      strategies: ['best-of-k', 'multi-turn', 'sdpo'],
      budget: 64,
      seeds: [0, 1, 2],
      rollouts: 16,
      maxTokens: 8192,
      temperature: 1,
      topK: 20,
      divergence: 'reverse_kl',
      teacher: 'ema',
      ema: 0.01,
      weightDecay: 0.01,
      gradClip: 1,
      lr: 1e-4,
      maxTeacherPromptTokens: 10240,
      continueAfterSuccess: false,
      isClip: null,
      loraTargets: ALL_LORA_TARGETS,
      multiTurnGenerations: 1,
      multiTurnTemplate: 'feedback-only',
      measureKlAfter: false,
    });
    expect(resolve({}, { measureKlAfter: true }).measureKlAfter).toBe(true);
    // the paper's 32,000-token multi-turn prompt limit, clamped to what the default context holds
    expect(c.maxPromptTokens).toBe(Math.min(PAPER_MULTI_TURN_PROMPT_TOKENS, c.contextSize - c.maxTokens));
  });

  it('multi-turn: the prompt limit defaults to the paper\'s 32,000 tokens, clamped to the context with one note', () => {
    const notes: string[] = [];
    const paper = resolveConfig({ model: 'm.gguf', 'context-size': 40192, 'max-tokens': 8192 }, {}, STRATEGY_NAMES, notes);
    expect(paper.maxPromptTokens).toBe(32_000);
    expect(notes).toEqual([]);
    const clamped = resolveConfig({ model: 'm.gguf', 'context-size': 16384, 'max-tokens': 8192 }, {}, STRATEGY_NAMES, notes);
    expect(clamped.maxPromptTokens).toBe(8192);
    expect(notes).toEqual([expect.stringMatching(/^multi-turn prompt limit clamped to 8192 tokens \(the paper's is 32000\).*--context-size 40192/)]);
    // no note when no strategy of the run has a growing prompt
    const quiet: string[] = [];
    resolveConfig({ model: 'm.gguf', strategies: 'best-of-k,sdpo' }, {}, STRATEGY_NAMES, quiet);
    expect(quiet).toEqual([]);
    // an explicit limit is taken as given (and refused when it cannot fit: see below)
    expect(resolveConfig({ model: 'm.gguf', 'max-prompt-tokens': 5000 }, {}, STRATEGY_NAMES, quiet).maxPromptTokens).toBe(5000);
    expect(quiet).toEqual([]);
  });

  it('multi-turn: generations per turn and template, independent of --rollouts', () => {
    const c = resolve({ rollouts: 8, 'multi-turn-generations': 4, 'multi-turn-template': 'attempt_and_feedback' });
    expect([c.rollouts, c.multiTurnGenerations, c.multiTurnTemplate]).toEqual([8, 4, 'attempt-and-feedback']);
    expect(resolve({}, { multiTurnTemplate: 'attempt-and-feedback' }).multiTurnTemplate).toBe('attempt-and-feedback');
  });

  it('lets flags win over the config file, which wins over defaults', () => {
    const c = resolve({ budget: 32, rollouts: 8, 'max-tokens': 100, temperature: 0.7 }, { budget: '12', temperature: '0.5' });
    expect([c.budget, c.rollouts, c.maxTokens, c.temperature]).toEqual([12, 8, 100, 0.5]);
  });

  it('accepts kebab-case and camelCase keys, aliases and seed lists', () => {
    const c = resolve({ maxTokens: 50, 'lora-rank': 4, teacher: 'trust-region', divergence: 'forward-kl', seeds: [3, 9] });
    expect([c.maxTokens, c.loraRank, c.teacher, c.divergence, c.seeds]).toEqual([50, 4, 'trust_region', 'forward_kl', [3, 9]]);
    expect(parseSeeds('2')).toEqual([0, 1]);
    expect(parseSeeds('5,1')).toEqual([5, 1]);
  });

  it.each([
    [{ budget: 0 }, /--budget must be an integer/],
    [{ rollouts: 2.5 }, /--rollouts must be an integer/],
    [{ temperature: 'hot' }, /--temperature must be a number/],
    [{ 'top-p': 0 }, /--top-p must be a number in \(0, 1\]/],
    [{ lr: 0 }, /--lr must be a number/],
    [{ divergence: 'kl' }, /--divergence must be one of/],
    [{ strategies: 'sdpo,ppo' }, /--strategies must list some of/],
    [{ strategies: 'sdpo,sdpo' }, /twice/],
    [{ 'lora-targets': 'attn_q,wq' }, /--lora-targets must list/],
    [{ seeds: '1,1' }, /distinct seeds/],
    [{ 'multi-turn-generations': 0 }, /--multi-turn-generations must be an integer/],
    [{ 'multi-turn-template': 'history' }, /--multi-turn-template must be one of feedback-only, attempt-and-feedback/],
    [{ 'max-tokens': 5000, 'context-size': 4096 }, /must be below --context-size/],
    [{ 'max-prompt-tokens': 4000, 'max-tokens': 200, 'context-size': 4096 }, /exceed --context-size/],
    [{ gpu: 'rocm' }, /--gpu must be one of auto, cuda, vulkan, off, got "rocm"/],
    [{ 'gpu-layers': -1 }, /--gpu-layers must be a layer count \(an integer ≥ 0\) or max, got -1/],
    [{ 'gpu-layers': 'all' }, /--gpu-layers must be a layer count/],
  ])('refuses bad flag %j with one line', (flags, message) => {
    let error: unknown;
    try {
      const camel = Object.fromEntries(Object.entries(flags).map(([k, v]) => [k.replace(/-(\w)/g, (_, c: string) => c.toUpperCase()), v]));
      resolve({}, camel);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(UserError);
    expect((error as Error).message).toMatch(message);
    expect((error as Error).message).not.toContain('\n');
  });

  it('--gpu and --gpu-layers: auto and all layers by default; flags, aliases and the config file', () => {
    expect(resolve({})).toMatchObject({ gpu: 'auto', gpuLayers: 'max' });
    expect(resolve({}, { gpu: 'cuda', gpuLayers: '20' })).toMatchObject({ gpu: 'cuda', gpuLayers: 20 });
    expect(resolve({ gpu: 'vulkan', 'gpu-layers': 'max' })).toMatchObject({ gpu: 'vulkan', gpuLayers: 'max' });
    expect(resolve({ gpu: false, gpuLayers: 0 })).toMatchObject({ gpu: 'off', gpuLayers: 0 });
    expect(resolve({ gpu: 'cpu' }, { gpu: 'cuda' }).gpu).toBe('cuda'); // flags win
    expect(() => resolve({ gpu: 'tpu' })).toThrow(/config "gpu" must be one of auto, cuda, vulkan, off/);
  });

  it('names the config file setting that is wrong or unknown', () => {
    expect(() => resolve({ rollout: 4 })).toThrow(/config file: unknown setting "rollout"/);
    expect(() => resolve({ budget: -1 })).toThrow(/config "budget" must be an integer/);
    expect(() => resolveConfig({}, {}, STRATEGY_NAMES)).toThrow(/--model is required/);
  });
});
