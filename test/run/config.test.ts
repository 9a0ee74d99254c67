import { describe, expect, it } from 'vitest';
import { UserError } from '../../src/errors.js';
import { ALL_LORA_TARGETS, checkRunTasks, PAPER_MULTI_TURN_PROMPT_TOKENS, parseSeeds, resolveConfig, runVariants } from '../../src/run/config.js';
import { task } from '../strategies/scripted.js';
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
    [{ teacher: 'bigger' }, /--teacher must be one of ema, trust_region, frozen, live/],
    [{ 'teacher-context': 'oracle' }, /--teacher-context must be one of feedback, reference, none/],
    [{ 'grpo-reward': 'partial' }, /--grpo-reward must be one of binary, fraction/],
    [{ 'grpo-std': 'maybe' }, /--grpo-std must be on or off/],
    [{ 'ssd-temperature': 0 }, /--ssd-temperature must be a number in \(0, 10\]/],
    [{ strategies: 'best-of-k,opd' }, /^opd: opd needs --teacher-model/],
    [{ strategies: 'sdpo', teacher: 'live', 'teacher-context': 'none' }, /^sdpo: .*no signal/],
    [{ variants: ['fast'] }, /--variant must look like label=strategy/],
    [{ variants: ['fast=ppo'] }, /--variant fast: unknown strategy "ppo"/],
    [{ variants: ['a b=sdpo'] }, /label must be letters/],
    [{ variants: ['fast=sdpo,budget=3'] }, /"budget" cannot differ per variant/],
    [{ variants: ['fast=sdpo,lr'] }, /"lr" is not key=value/],
    [{ variants: ['fast=sdpo,lr=-1'] }, /--variant fast lr must be a number/],
    [{ variants: ['hot=grpo,teacher=frozen'] }, /variant hot: grpo does not use --teacher$/],
    [{ variants: ['sdpo=sdpo,lr=1e-3'] }, /variant label sdpo is used twice/],
    [{ variants: ['a=grpo', 'a=ssd'] }, /variant label a is used twice/],
    [{ strategies: 'best-of-k', variants: ['big=opd'] }, /^big: opd needs --teacher-model/],
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

  it('the family\'s flags: defaults and aliases', () => {
    expect(resolve({})).toMatchObject({ teacherContext: null, teacherModel: null, grpoReward: 'binary', grpoStd: true, pgClip: 0.2, ssdTemperature: null, ssdTopP: null, variants: [] });
    const c = resolve({ teacher: 'frozen', 'teacher-context': 'reference', 'grpo-std': 'off', 'grpo-reward': 'fraction', 'ssd-temperature': 1.5, 'teacher-model': 't.gguf', strategies: 'best-of-k,sdpo,grpo,ssd,opd' });
    expect(c).toMatchObject({ teacher: 'frozen', teacherContext: 'reference', grpoStd: false, grpoReward: 'fraction', ssdTemperature: 1.5, teacherModel: 't.gguf' });
    expect(resolve({}, { teacher: 'trust-region' }).teacher).toBe('trust_region');
    expect(resolve({}, { teacher: 'live', grpoStd: 'on' })).toMatchObject({ teacher: 'live', grpoStd: true });
  });

  it('variants: the compact CLI form and the config file\'s list give the same run arms, each with its own settings', () => {
    const cli = resolve({ strategies: 'best-of-k,sdpo' }, { variants: ['sdpo-fast=sdpo,lr=3e-4,teacher=frozen', 'dr-grpo=grpo,grpo-std=off,rollouts=4', 'hot=ssd,ssd-temperature=1.6,ssd-top-p=0.9'] });
    const file = resolve({
      strategies: 'best-of-k,sdpo',
      variants: [
        { label: 'sdpo-fast', strategy: 'sdpo', lr: 3e-4, teacher: 'frozen' },
        { label: 'dr-grpo', strategy: 'grpo', grpoStd: false, rollouts: 4 },
        { label: 'hot', strategy: 'ssd', 'ssd-temperature': 1.6, ssdTopP: 0.9 },
      ],
    });
    expect(cli.variants).toEqual(file.variants);
    expect(cli.variants[0]).toEqual({ label: 'sdpo-fast', strategy: 'sdpo', lr: 3e-4, teacher: 'frozen' });
    const arms = runVariants(cli);
    expect(arms.map((v) => [v.label, v.strategy])).toEqual([['best-of-k', 'best-of-k'], ['sdpo', 'sdpo'], ['sdpo-fast', 'sdpo'], ['dr-grpo', 'grpo'], ['hot', 'ssd']]);
    expect(arms[1].settings).toMatchObject({ lr: 1e-4, teacher: 'ema' });
    expect(arms[2].settings).toMatchObject({ lr: 3e-4, teacher: 'frozen', budget: 64 });
    expect(arms[3].settings).toMatchObject({ grpoStd: false, rollouts: 4 });
    expect(arms[4].settings).toMatchObject({ ssdTemperature: 1.6, ssdTopP: 0.9, rollouts: 16 });
    // the recorded config resolves again to the same variants (--resume)
    expect(resolveConfig({ ...cli } as Record<string, unknown>, {}, STRATEGY_NAMES).variants).toEqual(cli.variants);
    // variants alone, without --strategies; off turns an off-by-default setting off
    const only = resolve({ strategies: [], variants: [{ label: 'clip', strategy: 'sdpo', 'is-clip': 2 }, { label: 'noclip', strategy: 'sdpo', isClip: 'off' }] });
    expect(runVariants(only).map((v) => [v.label, v.settings.isClip])).toEqual([['clip', 2], ['noclip', null]]);
  });

  it('--teacher-context reference needs a reference solution in every task, checked once the tasks are selected', () => {
    const config = resolve({ strategies: 'best-of-k', variants: [{ label: 'oracle', strategy: 'sdpo', 'teacher-context': 'reference' }] });
    expect(() => checkRunTasks(config, [{ ...task, referenceSolution: 'print(42)' }])).not.toThrow();
    expect(() => checkRunTasks(config, [{ ...task, referenceSolution: 'print(42)' }, { ...task, id: 'bare' }])).toThrow(/^oracle: --teacher-context reference needs a reference solution, and task bare has none$/);
    // strategies whose teacher never sees it do not care
    expect(() => checkRunTasks(resolve({ strategies: 'best-of-k,grpo', 'teacher-context': 'reference' }), [task])).not.toThrow();
  });

  it('names the config file setting that is wrong or unknown', () => {
    expect(() => resolve({ rollout: 4 })).toThrow(/config file: unknown setting "rollout"/);
    expect(() => resolve({ budget: -1 })).toThrow(/config "budget" must be an integer/);
    expect(() => resolveConfig({}, {}, STRATEGY_NAMES)).toThrow(/--model is required/);
  });
});
