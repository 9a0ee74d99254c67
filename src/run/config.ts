import os from 'node:os';
import { UserError } from '../errors.js';
import { ALL_LORA_TARGETS } from '../model/lora.js';
import { MULTI_TURN_TEMPLATES, type MultiTurnTemplate } from '../prompts/index.js';
import { strategyByName } from '../strategies/index.js';
import type { Divergence } from '../trainer/types.js';
import { SERVER_KINDS, type ServerKind } from '../model/server-sampler.js';

/**
 * Every hyperparameter of a run, with sdpo.md's defaults. The run event records all of it;
 * `--resume` reads it back from there.
 */
export interface RunConfig {
  // what to search
  tasks: string;
  ids: string[];
  preset: string | null;
  strategies: string[];
  budget: number;
  seeds: number[];
  continueAfterSuccess: boolean;
  model: string;
  // sampling
  rollouts: number; // G
  maxTokens: number;
  temperature: number;
  topP: number;
  sampleTopK: number; // sampler's top-k (0 = whole vocabulary)
  maxPromptTokens: number; // multi-turn prompt limit (default: the paper's 32,000, clamped to the context)
  multiTurnGenerations: number; // multi-turn: generations per turn (paper 1)
  multiTurnTemplate: MultiTurnTemplate;
  maxTeacherPromptTokens: number;
  contextSize: number;
  // SDPO loss, teacher, LoRA, optimizer
  topK: number; // loss top-K (+ tail bucket)
  divergence: Divergence;
  jsdAlpha: number;
  teacher: 'ema' | 'trust_region';
  ema: number;
  isClip: number | null;
  lr: number;
  weightDecay: number;
  gradClip: number;
  loraRank: number;
  loraAlpha: number;
  loraTargets: string[];
  trainerLowMemory: boolean; // backward without transposed weight copies: slower steps, less memory
  measureKlAfter: boolean; // one more student pass per step for the KL after the update (off: the trend comes from consecutive steps' KL before)
  // machine
  /** Sampling (and, with 'cuda', training) device: auto = a GPU node-llama-cpp finds, else the CPU. */
  gpu: GpuMode;
  /** Model layers on the GPU: a count or 'max' (all of them). */
  gpuLayers: number | 'max';
  threads: number;
  concurrency: number; // parallel gradings
  parallelCells: number; // cells interleaved so sampler, graders and trainer overlap
  // inference server (machine settings: they may change on --resume)
  sampler: 'local' | 'server'; // local = node-llama-cpp in this process; server = --server
  server: string | null; // the inference server's URL
  serverKind: ServerKind;
  adapterDir: string | null; // a directory ttsd and the server both see at the same path
}

/** multiturn.py's MAX_CONTEXT_LEN: the multi-turn prompt is trimmed to this many tokens. */
export const PAPER_MULTI_TURN_PROMPT_TOKENS = 32_000;

export const GPU_MODES = ['auto', 'cuda', 'vulkan', 'off'] as const;
export type GpuMode = (typeof GPU_MODES)[number];

export { ALL_LORA_TARGETS };
const DIVERGENCES: Divergence[] = ['reverse_kl', 'forward_kl', 'jsd', 'sampled_token'];

/** One option: its flag, its RunConfig key, how to read a value (from the command line or the config file) and its default. */
export interface OptionSpec {
  flag: string;
  key: keyof RunConfig;
  description: string;
  parse: (value: unknown, name: string) => unknown;
  defaultValue: () => unknown;
}

const int = (min: number, max = Number.MAX_SAFE_INTEGER) => (value: unknown, name: string) => {
  const n = typeof value === 'number' ? value : Number(String(value).trim());
  if (!Number.isInteger(n) || n < min || n > max || String(value).trim() === '') {
    throw new UserError(`${name} must be an integer in [${min}, ${max === Number.MAX_SAFE_INTEGER ? '∞' : max}], got ${JSON.stringify(value)}`);
  }
  return n;
};
const real = (min: number, max: number, openMin = false) => (value: unknown, name: string) => {
  const n = typeof value === 'number' ? value : Number(String(value).trim());
  if (!Number.isFinite(n) || (openMin ? n <= min : n < min) || n > max || String(value).trim() === '') {
    throw new UserError(`${name} must be a number in ${openMin ? '(' : '['}${min}, ${max}], got ${JSON.stringify(value)}`);
  }
  return n;
};
const oneOf = <T extends string>(choices: readonly T[], aliases: Record<string, T> = {}) => (value: unknown, name: string) => {
  const text = String(value).trim();
  const chosen = aliases[text] ?? (choices as readonly string[]).find((c) => c === text);
  if (!chosen) throw new UserError(`${name} must be one of ${choices.join(', ')}, got ${JSON.stringify(value)}`);
  return chosen;
};
const gpuLayers = (value: unknown, name: string) => {
  if (String(value).trim() === 'max') return 'max';
  const n = typeof value === 'number' ? value : Number(String(value).trim());
  if (!Number.isInteger(n) || n < 0 || String(value).trim() === '') throw new UserError(`${name} must be a layer count (an integer ≥ 0) or max, got ${JSON.stringify(value)}`);
  return n;
};
const list = (value: unknown): string[] =>
  (Array.isArray(value) ? value.map(String) : String(value).split(','))
    .map((s) => s.trim())
    .filter((s) => s !== '');
const text = (value: unknown, name: string) => {
  if (typeof value !== 'string' || value.trim() === '') throw new UserError(`${name} must be a non-empty string`);
  return value;
};
const bool = (value: unknown, name: string) => {
  if (typeof value === 'boolean') return value;
  if (value === 'true' || value === 'false') return value === 'true';
  throw new UserError(`${name} must be true or false, got ${JSON.stringify(value)}`);
};

/** `--seeds 3` means seeds 0,1,2; `--seeds 4,7` lists them. */
export function parseSeeds(value: unknown, name = '--seeds'): number[] {
  if (typeof value === 'number' || (typeof value === 'string' && !value.includes(','))) {
    const count = int(1, 10_000)(value, name) as number;
    return Array.from({ length: count }, (_, i) => i);
  }
  const seeds = list(value).map((s) => int(0, 2 ** 31 - 1)(s, name) as number);
  if (seeds.length === 0 || new Set(seeds).size !== seeds.length) throw new UserError(`${name} must list distinct seeds, got ${JSON.stringify(value)}`);
  return seeds;
}

export const OPTION_SPECS: OptionSpec[] = [
  { flag: '--tasks <file|dir>', key: 'tasks', description: 'task file or directory (default: the shipped tasks/)', parse: text, defaultValue: () => 'tasks' },
  { flag: '--ids <a,b,...>', key: 'ids', description: 'task ids to search (default: all selected tasks)', parse: list, defaultValue: () => [] },
  { flag: '--preset <name>', key: 'preset', description: 'named task selection (e.g. the paper\'s hard LCBv6 subset)', parse: text, defaultValue: () => null },
  { flag: '--strategies <list>', key: 'strategies', description: 'comma-separated: best-of-k, multi-turn, sdpo', parse: list, defaultValue: () => ['best-of-k', 'multi-turn', 'sdpo'] },
  { flag: '--budget <n>', key: 'budget', description: 'generations per (task, strategy, seed)', parse: int(1), defaultValue: () => 64 },
  { flag: '--seeds <n|list>', key: 'seeds', description: 'number of seeds (0..n-1) or a comma-separated list', parse: parseSeeds, defaultValue: () => [0, 1, 2] },
  { flag: '--continue-after-success', key: 'continueAfterSuccess', description: 'spend the whole budget even after the first discovery', parse: bool, defaultValue: () => false },
  { flag: '--model <file|hf:...>', key: 'model', description: 'GGUF model (a file or an hf: URI)', parse: text, defaultValue: () => '' },
  { flag: '--rollouts <G>', key: 'rollouts', description: 'generations per step, G (paper 16)', parse: int(1, 1024), defaultValue: () => 16 },
  { flag: '--max-tokens <n>', key: 'maxTokens', description: 'response token limit (paper 8192)', parse: int(1), defaultValue: () => 8192 },
  { flag: '--temperature <t>', key: 'temperature', description: 'sampling temperature (paper 1.0)', parse: real(0, 10), defaultValue: () => 1.0 },
  { flag: '--top-p <p>', key: 'topP', description: 'nucleus sampling (1 = off)', parse: real(0, 1, true), defaultValue: () => 1.0 },
  { flag: '--sample-top-k <n>', key: 'sampleTopK', description: 'sampler top-k (0 = whole vocabulary)', parse: int(0), defaultValue: () => 0 },
  { flag: '--max-prompt-tokens <n>', key: 'maxPromptTokens', description: `multi-turn prompt limit: oldest turns dropped first while the prompt is longer (paper ${PAPER_MULTI_TURN_PROMPT_TOKENS}; by default clamped to --context-size − --max-tokens)`, parse: int(1), defaultValue: () => null },
  { flag: '--multi-turn-generations <n>', key: 'multiTurnGenerations', description: 'multi-turn: generations per turn, each turn seeing the feedback of all earlier ones (paper 1; independent of --rollouts)', parse: int(1, 1024), defaultValue: () => 1 },
  { flag: '--multi-turn-template <t>', key: 'multiTurnTemplate', description: `multi-turn prompt: ${MULTI_TURN_TEMPLATES.join(' | ')} (paper feedback-only)`, parse: oneOf(MULTI_TURN_TEMPLATES, { feedback_only: 'feedback-only', attempt_and_feedback: 'attempt-and-feedback' }), defaultValue: () => 'feedback-only' },
  { flag: '--max-teacher-prompt-tokens <n>', key: 'maxTeacherPromptTokens', description: 'teacher prompts are left-truncated to this (paper 10240)', parse: int(1), defaultValue: () => 10240 },
  { flag: '--context-size <n>', key: 'contextSize', description: 'model context per sequence (prompt + response)', parse: int(64), defaultValue: () => 16384 },
  { flag: '--top-k <K>', key: 'topK', description: 'SDPO loss: student top-K tokens + tail bucket (paper 20)', parse: int(1, 1000), defaultValue: () => 20 },
  { flag: '--divergence <d>', key: 'divergence', description: `SDPO loss: ${DIVERGENCES.join(' | ')} (paper reverse_kl)`, parse: oneOf(DIVERGENCES, { 'reverse-kl': 'reverse_kl', 'forward-kl': 'forward_kl', 'sampled-token': 'sampled_token' }), defaultValue: () => 'reverse_kl' },
  { flag: '--jsd-alpha <a>', key: 'jsdAlpha', description: 'generalised JSD mixing α for --divergence jsd', parse: real(0, 1), defaultValue: () => 0.5 },
  { flag: '--teacher <kind>', key: 'teacher', description: 'teacher regularisation: ema | trust-region', parse: oneOf(['ema', 'trust_region'] as const, { 'trust-region': 'trust_region' }), defaultValue: () => 'ema' },
  { flag: '--ema <eta>', key: 'ema', description: 'EMA / trust-region rate η (paper 0.01 at test time)', parse: real(0, 1), defaultValue: () => 0.01 },
  { flag: '--is-clip <c>', key: 'isClip', description: 'importance weight min(π_θ/π_old, c) per token, π_old from the sampler\'s log-probs (off by default; on-policy the ratio is ~1)', parse: real(0, 1000, true), defaultValue: () => null },
  { flag: '--lr <lr>', key: 'lr', description: 'AdamW learning rate for the LoRA adapter (paper 1e-6 is for full fine-tuning)', parse: real(0, 1, true), defaultValue: () => 1e-4 },
  { flag: '--weight-decay <w>', key: 'weightDecay', description: 'AdamW weight decay (paper 0.01)', parse: real(0, 10), defaultValue: () => 0.01 },
  { flag: '--grad-clip <c>', key: 'gradClip', description: 'gradient-norm clip (paper 1.0)', parse: real(0, 1e6, true), defaultValue: () => 1.0 },
  { flag: '--lora-rank <r>', key: 'loraRank', description: 'LoRA rank', parse: int(1, 4096), defaultValue: () => 16 },
  { flag: '--lora-alpha <a>', key: 'loraAlpha', description: 'LoRA alpha (scale = alpha / rank)', parse: real(0, 1e6, true), defaultValue: () => 32 },
  { flag: '--lora-targets <list>', key: 'loraTargets', description: `tensors adapted: ${ALL_LORA_TARGETS.join(',')}`, parse: loraTargets, defaultValue: () => [...ALL_LORA_TARGETS] },
  { flag: '--measure-kl-after', key: 'measureKlAfter', description: 'measure the KL after each SDPO update too (one more student pass per step; by default each step logs the KL before it, and consecutive steps show the trend)', parse: bool, defaultValue: () => false },
  { flag: '--trainer-low-memory', key: 'trainerLowMemory', description: 'train without transposed copies of the base weights: saves about the model\'s size in memory, steps ~2× slower', parse: bool, defaultValue: () => false },
  { flag: '--gpu <mode>', key: 'gpu', description: `sampling device: ${GPU_MODES.join(' | ')} (auto: a GPU node-llama-cpp finds, else the CPU; cuda also builds and trains with the CUDA trainer)`, parse: oneOf(GPU_MODES, { cpu: 'off', none: 'off', false: 'off' }), defaultValue: () => 'auto' },
  { flag: '--gpu-layers <n|max>', key: 'gpuLayers', description: 'model layers on the GPU (sampler, and the CUDA trainer): a count or max', parse: gpuLayers, defaultValue: () => 'max' },
  { flag: '--threads <n>', key: 'threads', description: 'CPU threads for sampling and training', parse: int(1, 1024), defaultValue: () => os.availableParallelism() },
  { flag: '--concurrency <n>', key: 'concurrency', description: 'sandboxes grading in parallel', parse: int(1, 256), defaultValue: () => 2 },
  { flag: '--sampler <where>', key: 'sampler', description: 'local: node-llama-cpp in this process; server: an inference server (--server)', parse: oneOf(['local', 'server'] as const), defaultValue: () => 'local' },
  { flag: '--server <url>', key: 'server', description: 'inference server URL for --sampler server (llama-server in router mode, or vLLM)', parse: text, defaultValue: () => null },
  { flag: '--server-kind <kind>', key: 'serverKind', description: `inference server: ${SERVER_KINDS.join(' | ')}`, parse: oneOf(SERVER_KINDS), defaultValue: () => 'llama-server' },
  { flag: '--adapter-dir <dir>', key: 'adapterDir', description: 'with --sampler server: a directory ttsd and the server both see at the same path (shared filesystem); adapters are copied there', parse: text, defaultValue: () => null },
  { flag: '--parallel-cells <n>', key: 'parallelCells', description: '(task, strategy, seed) cells interleaved so sampler, graders and trainer overlap', parse: int(1, 64), defaultValue: () => 2 },
];

function loraTargets(value: unknown, name: string): string[] {
  const targets = list(value);
  const unknown = targets.filter((t) => !ALL_LORA_TARGETS.includes(t));
  if (targets.length === 0 || unknown.length > 0) {
    throw new UserError(`${name} must list tensors among ${ALL_LORA_TARGETS.join(',')}, got ${JSON.stringify(value)}`);
  }
  return targets;
}

/** A RunConfig key as its flag name (without the dashes): maxPromptTokens → max-prompt-tokens. */
export const kebab = (key: string) => key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

/**
 * Defaults < config file < command-line flags. `fromFile` holds the config file's JSON object
 * (keys as flag names, kebab-case or camelCase); `fromFlags` only the flags given on the command
 * line (raw strings). Throws a one-line UserError for the first bad value or unknown key.
 */
export function resolveConfig(
  fromFile: Record<string, unknown>,
  fromFlags: Partial<Record<keyof RunConfig, unknown>>,
  knownStrategies: readonly string[],
  /** Receives one line per default the run had to adjust (said at start). */
  notes: string[] = [],
): RunConfig {
  const config: Record<string, unknown> = {};
  const byName = new Map<string, OptionSpec>();
  for (const spec of OPTION_SPECS) {
    byName.set(spec.key, spec);
    byName.set(kebab(spec.key), spec);
  }
  const fileValues = new Map<keyof RunConfig, unknown>();
  for (const [name, value] of Object.entries(fromFile)) {
    const spec = byName.get(name);
    if (!spec) throw new UserError(`config file: unknown setting "${name}"`);
    fileValues.set(spec.key, value);
  }
  for (const spec of OPTION_SPECS) {
    const name = `--${kebab(spec.key)}`;
    if (fromFlags[spec.key] !== undefined) config[spec.key] = spec.parse(fromFlags[spec.key], name);
    else if (fileValues.has(spec.key)) {
      const value = fileValues.get(spec.key);
      // null means "off" for settings whose default is off (--preset, --is-clip)
      config[spec.key] = value === null && spec.defaultValue() === null ? null : spec.parse(value, `config "${spec.key}"`);
    }
    else config[spec.key] = spec.defaultValue();
  }
  return checkConsistency(config as unknown as RunConfig, knownStrategies, notes);
}

/** Cross-field checks, after every value is valid on its own. */
function checkConsistency(config: RunConfig, knownStrategies: readonly string[], notes: string[]): RunConfig {
  if (!config.model) throw new UserError('--model is required (a GGUF file or an hf: URI; `ttsd model tiny --out F` makes a tiny one)');
  const unknown = config.strategies.filter((s) => !knownStrategies.includes(s));
  if (config.strategies.length === 0 || unknown.length > 0) {
    throw new UserError(`--strategies must list some of ${knownStrategies.join(', ')}, got ${JSON.stringify(config.strategies.join(','))}`);
  }
  if (new Set(config.strategies).size !== config.strategies.length) throw new UserError('--strategies lists a strategy twice');
  if (config.maxTokens >= config.contextSize) {
    throw new UserError(`--max-tokens (${config.maxTokens}) must be below --context-size (${config.contextSize})`);
  }
  if ((config.maxPromptTokens as number | null) === null) {
    // The paper's limit, within what one sequence of the context holds next to a response.
    const room = config.contextSize - config.maxTokens;
    config.maxPromptTokens = Math.min(PAPER_MULTI_TURN_PROMPT_TOKENS, room);
    if (room < PAPER_MULTI_TURN_PROMPT_TOKENS && config.strategies.some((name) => strategyByName(name)?.promptLimited)) {
      notes.push(
        `multi-turn prompt limit clamped to ${room} tokens (the paper's is ${PAPER_MULTI_TURN_PROMPT_TOKENS}): --context-size ${config.contextSize} − --max-tokens ${config.maxTokens}; --context-size ${PAPER_MULTI_TURN_PROMPT_TOKENS + config.maxTokens} gives the paper's`,
      );
    }
  }
  if (config.sampler === 'server' && (!config.server || !config.adapterDir)) {
    throw new UserError('--sampler server needs --server URL and --adapter-dir DIR (a directory the server sees at the same path)');
  }
  if (config.sampler === 'local' && config.server) throw new UserError('--server is given but --sampler is local; add --sampler server');
  if (config.maxPromptTokens + config.maxTokens > config.contextSize) {
    throw new UserError(`--max-prompt-tokens + --max-tokens (${config.maxPromptTokens + config.maxTokens}) exceed --context-size (${config.contextSize})`);
  }
  return config;
}
