import os from 'node:os';
import { UserError } from '../errors.js';
import { ALL_LORA_TARGETS } from '../model/lora.js';
import { MULTI_TURN_TEMPLATES, type MultiTurnTemplate } from '../prompts/index.js';
import { parseHosts } from '../sandbox/hosts.js';
import { strategyByName } from '../strategies/index.js';
import type { Task } from '../tasks/types.js';
import type { Divergence, TeacherKind } from '../trainer/types.js';

/** What the teacher sees besides the question (sdpo, opd): see TEACHER_CONTEXTS. */
export const TEACHER_CONTEXTS = ['feedback', 'reference', 'none'] as const;
export type TeacherContext = (typeof TEACHER_CONTEXTS)[number];
export const TEACHER_KINDS: readonly TeacherKind[] = ['ema', 'trust_region', 'frozen', 'live'];
export const GRPO_REWARDS = ['binary', 'fraction'] as const;
export type GrpoReward = (typeof GRPO_REWARDS)[number];

/**
 * One labelled variant of a strategy with its own settings (camelCase RunConfig keys among
 * VARIANT_KEYS, values already parsed): config file `"variants": [{ "label": ..., "strategy":
 * ..., ...settings }]` or `--variant 'label=strategy,key=value,...'`. Stored flat, in the same
 * form the config file takes, so the run event's config resolves again on --resume.
 */
export interface VariantSpec {
  label: string;
  strategy: string;
  [setting: string]: unknown;
}
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
  teacher: TeacherKind;
  /** null = each strategy's own default (sdpo: feedback, opd: none). */
  teacherContext: TeacherContext | null;
  /** opd's teacher: a second GGUF with the student's vocabulary (a file or an hf: URI). */
  teacherModel: string | null;
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
  // grpo, ssd
  grpoReward: GrpoReward; // binary: all public tests pass; fraction: share of public tests passed
  grpoStd: boolean; // divide advantages by the group's std (off: Dr. GRPO)
  pgClip: number; // PPO clip ε
  ssdTemperature: number | null; // ssd's sampling temperature (null = --temperature)
  ssdTopP: number | null; // ssd's nucleus (null = --top-p)
  // variants: more labelled runs of a strategy, each with its own settings
  variants: VariantSpec[];
  // machine
  /** Sampling (and, with 'cuda' / 'vulkan', training) device: auto = a GPU node-llama-cpp finds, else the CPU. */
  gpu: GpuMode;
  /** Model layers on the GPU: a count or 'max' (all of them). */
  gpuLayers: number | 'max';
  threads: number;
  concurrency: number; // parallel gradings on the local engine
  /** Docker hosts grading the attempts (unix://, tcp:// with TLS, ssh://; each `=N`); [] = the local engine. Machine-specific. */
  dockerHosts: string[];
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
  /** The flag may be given several times (its values are collected into a list). */
  repeatable?: true;
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

const onOff = (value: unknown, name: string) => {
  if (typeof value === 'boolean') return value;
  const t = String(value).trim();
  if (t === 'on' || t === 'true') return true;
  if (t === 'off' || t === 'false') return false;
  throw new UserError(`${name} must be on or off, got ${JSON.stringify(value)}`);
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
  { flag: '--strategies <list>', key: 'strategies', description: 'comma-separated: best-of-k, multi-turn, sdpo, grpo, ssd, opd (opd needs --teacher-model)', parse: list, defaultValue: () => ['best-of-k', 'multi-turn', 'sdpo'] },
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
  { flag: '--teacher <kind>', key: 'teacher', description: 'sdpo teacher: ema | trust-region | frozen (the base model, no adapter) | live (the current student, no gradient)', parse: oneOf(TEACHER_KINDS, { 'trust-region': 'trust_region' }), defaultValue: () => 'ema' },
  { flag: '--teacher-context <c>', key: 'teacherContext', description: `what the teacher sees besides the question (sdpo, opd): ${TEACHER_CONTEXTS.join(' | ')} (feedback: a correct sibling or the own feedback; reference: the task's reference solution; default sdpo feedback, opd none)`, parse: oneOf(TEACHER_CONTEXTS), defaultValue: () => null },
  { flag: '--teacher-model <file|hf:...>', key: 'teacherModel', description: 'opd: the teacher GGUF (same vocabulary as --model, checked at start)', parse: text, defaultValue: () => null },
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
  { flag: '--grpo-reward <r>', key: 'grpoReward', description: 'grpo reward: binary (all public tests pass) | fraction (share of public tests passed)', parse: oneOf(GRPO_REWARDS), defaultValue: () => 'binary' },
  { flag: '--grpo-std <on|off>', key: 'grpoStd', description: 'grpo: divide advantages by the group std + 1e-6 (off = Dr. GRPO: r − mean only)', parse: onOff, defaultValue: () => true },
  { flag: '--pg-clip <eps>', key: 'pgClip', description: 'grpo: PPO clip ε of the importance ratio (default 0.2)', parse: real(0, 10, true), defaultValue: () => 0.2 },
  { flag: '--ssd-temperature <t>', key: 'ssdTemperature', description: 'ssd: sampling temperature of its (trained-on) attempts (default --temperature)', parse: real(0, 10, true), defaultValue: () => null },
  { flag: '--ssd-top-p <p>', key: 'ssdTopP', description: 'ssd: nucleus of its attempts (default --top-p)', parse: real(0, 1, true), defaultValue: () => null },
  { flag: '--variant <label=strategy,key=value,...>', key: 'variants', description: 'a labelled variant of a strategy with its own settings (repeatable), e.g. sdpo-fast=sdpo,lr=3e-4,teacher=frozen', parse: parseVariants, defaultValue: () => [], repeatable: true },
  { flag: '--gpu <mode>', key: 'gpu', description: `sampling device: ${GPU_MODES.join(' | ')} (auto: a GPU node-llama-cpp finds, else the CPU; cuda / vulkan also build and train with the CUDA / Vulkan trainer)`, parse: oneOf(GPU_MODES, { cpu: 'off', none: 'off', false: 'off' }), defaultValue: () => 'auto' },
  { flag: '--gpu-layers <n|max>', key: 'gpuLayers', description: 'model layers on the GPU (sampler, and the CUDA / Vulkan trainer): a count or max', parse: gpuLayers, defaultValue: () => 'max' },
  { flag: '--threads <n>', key: 'threads', description: 'CPU threads of the sampler and of each trainer; together they never exceed the cores (interleaved parts wait their turn)', parse: int(1, 1024), defaultValue: () => os.availableParallelism() },
  { flag: '--concurrency <n>', key: 'concurrency', description: 'sandboxes grading in parallel on the local engine (with --docker-hosts: each host\'s own =N or CPU count)', parse: int(1, 256), defaultValue: () => 2 },
  { flag: '--docker-hosts <list>', key: 'dockerHosts', description: 'Docker hosts that grade, comma-separated: unix:///path.sock, tcp://host:port (TLS from DOCKER_CERT_PATH), ssh://user@host[:port] (one tunnel each); each =N for its concurrency (default: its CPU count); default: the local engine', parse: dockerHosts, defaultValue: () => [] },
  { flag: '--sampler <where>', key: 'sampler', description: 'local: node-llama-cpp in this process; server: an inference server (--server)', parse: oneOf(['local', 'server'] as const), defaultValue: () => 'local' },
  { flag: '--server <url>', key: 'server', description: 'inference server URL for --sampler server (llama-server in router mode, or vLLM)', parse: text, defaultValue: () => null },
  { flag: '--server-kind <kind>', key: 'serverKind', description: `inference server: ${SERVER_KINDS.join(' | ')}`, parse: oneOf(SERVER_KINDS), defaultValue: () => 'llama-server' },
  { flag: '--adapter-dir <dir>', key: 'adapterDir', description: 'with --sampler server: a directory ttsd and the server both see at the same path (shared filesystem); adapters are copied there', parse: text, defaultValue: () => null },
  { flag: '--parallel-cells <n>', key: 'parallelCells', description: '(task, strategy, seed) cells interleaved so sampler, graders and trainer overlap', parse: int(1, 64), defaultValue: () => 2 },
];

function dockerHosts(value: unknown, name: string): string[] {
  const hosts = list(value);
  parseHosts(hosts, name); // one line for the first bad endpoint
  return hosts;
}

/**
 * Settings a variant may set: those that shape one strategy's search and training. Lengths,
 * the task selection, budget, seeds and machine settings stay the run's (one sampler context,
 * one budget: the comparison is fair only under the same ones).
 */
export const VARIANT_KEYS: readonly (keyof RunConfig)[] = [
  'rollouts', 'temperature', 'topP', 'sampleTopK', 'multiTurnGenerations', 'multiTurnTemplate',
  'topK', 'divergence', 'jsdAlpha', 'teacher', 'teacherContext', 'teacherModel', 'ema', 'isClip',
  'lr', 'weightDecay', 'gradClip', 'loraRank', 'loraAlpha',
  'grpoReward', 'grpoStd', 'pgClip', 'ssdTemperature', 'ssdTopP',
];
const LABEL = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/**
 * `--variant` values (CLI: `label=strategy,key=value,...`, keys as flag names) or the config
 * file's list of objects; several CLI values are collected into a list.
 */
function parseVariants(value: unknown, name: string): VariantSpec[] {
  const items = Array.isArray(value) ? value : [value];
  return items.map((item) => (typeof item === 'string' ? parseVariantText(item, name) : parseVariantObject(item, name)));
}

function parseVariantText(textValue: string, name: string): VariantSpec {
  const [head, ...rest] = textValue.split(',').map((s) => s.trim());
  const m = /^([^=]+)=(.+)$/.exec(head ?? '');
  if (!m) throw new UserError(`${name} must look like label=strategy,key=value,..., got ${JSON.stringify(textValue)}`);
  const object: Record<string, unknown> = { label: m[1].trim(), strategy: m[2].trim() };
  for (const pair of rest) {
    const kv = /^([^=]+)=(.*)$/.exec(pair);
    if (!kv) throw new UserError(`${name} ${m[1]}: "${pair}" is not key=value`);
    object[kv[1].trim()] = kv[2].trim();
  }
  return parseVariantObject(object, name);
}

function parseVariantObject(item: unknown, name: string): VariantSpec {
  if (typeof item !== 'object' || item === null || Array.isArray(item)) throw new UserError(`${name} must hold objects { "label", "strategy", ...settings }`);
  const { label, strategy, ...settings } = item as Record<string, unknown>;
  if (typeof label !== 'string' || !LABEL.test(label)) throw new UserError(`${name}: label must be letters, digits, . _ - (≤ 64, not starting with a symbol), got ${JSON.stringify(label)}`);
  const strategyName = typeof strategy === 'string' ? strategy.trim() : '';
  if (!strategyByName(strategyName)) throw new UserError(`${name} ${label}: unknown strategy ${JSON.stringify(strategy)}`);
  const out: VariantSpec = { label, strategy: strategyName };
  for (const [key, raw] of Object.entries(settings)) {
    const spec = OPTION_SPECS.find((s) => s.key === key || kebab(s.key) === key);
    if (!spec || !VARIANT_KEYS.includes(spec.key)) {
      throw new UserError(`${name} ${label}: "${key}" cannot differ per variant (it may: ${VARIANT_KEYS.map(kebab).join(', ')})`);
    }
    out[spec.key] = raw === null || raw === 'off' || raw === 'null' ? offValue(spec, raw, `${name} ${label} ${kebab(spec.key)}`) : spec.parse(raw, `${name} ${label} ${kebab(spec.key)}`);
  }
  return out;
}

/** null / "off" for a setting that is off by default (e.g. is-clip, teacher-context); parsed as given otherwise (grpo-std off). */
function offValue(spec: OptionSpec, raw: unknown, name: string): unknown {
  return spec.defaultValue() === null ? null : spec.parse(raw, name);
}

/** One labelled search arm of a run: a strategy under its settings (the run's, overridden by the variant's). */
export interface RunVariant {
  label: string;
  strategy: string;
  settings: RunConfig;
}

/** The run's arms: one per --strategies entry (label = its name, the run's settings), then each --variant. */
export function runVariants(config: RunConfig): RunVariant[] {
  return [
    ...config.strategies.map((name) => ({ label: name, strategy: name, settings: config })),
    ...config.variants.map(({ label, strategy, ...settings }) => ({ label, strategy, settings: { ...config, ...(settings as Partial<RunConfig>) } })),
  ];
}

/**
 * Checks that need the selected tasks: a variant whose teacher sees the reference solution
 * needs one in every task (one line naming the first task without one).
 */
export function checkRunTasks(config: RunConfig, tasks: Task[]): void {
  for (const variant of runVariants(config)) {
    const strategy = strategyByName(variant.strategy)!;
    if (strategy.teacherContext?.(variant.settings) !== 'reference') continue;
    const missing = tasks.filter((t) => t.referenceSolution === undefined);
    if (missing.length > 0) {
      throw new UserError(`${variant.label}: --teacher-context reference needs a reference solution, and task ${missing[0].id} has none${missing.length > 1 ? ` (nor ${missing.length - 1} more)` : ''}`);
    }
  }
}

function loraTargets(value: unknown, name: string): string[] {
  const targets = list(value);
  const unknown = targets.filter((t) => !ALL_LORA_TARGETS.includes(t));
  if (targets.length === 0 || unknown.length > 0) {
    throw new UserError(`${name} must list tensors among ${ALL_LORA_TARGETS.join(',')}, got ${JSON.stringify(value)}`);
  }
  return targets;
}

/** An option's flag as typed (`--variant` for the key `variants`; `--<kebab key>` for the others). */
export const flagName = (spec: Pick<OptionSpec, 'flag'>): string => spec.flag.split(' ')[0];

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
    byName.set(flagName(spec).slice(2), spec); // e.g. "variant" for "variants"
  }
  const fileValues = new Map<keyof RunConfig, unknown>();
  for (const [name, value] of Object.entries(fromFile)) {
    const spec = byName.get(name);
    if (!spec) throw new UserError(`config file: unknown setting "${name}"`);
    fileValues.set(spec.key, value);
  }
  for (const spec of OPTION_SPECS) {
    const name = flagName(spec);
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
  if ((config.strategies.length === 0 && config.variants.length === 0) || unknown.length > 0) {
    throw new UserError(`--strategies must list some of ${knownStrategies.join(', ')}, got ${JSON.stringify(config.strategies.join(','))}`);
  }
  if (new Set(config.strategies).size !== config.strategies.length) throw new UserError('--strategies lists a strategy twice');
  const labels = runVariants(config).map((v) => v.label);
  const twice = labels.find((label, i) => labels.indexOf(label) !== i);
  if (twice !== undefined) throw new UserError(`variant label ${twice} is used twice (labels must differ from each other and from the --strategies names)`);
  for (const variant of runVariants(config)) {
    const strategy = strategyByName(variant.strategy);
    if (!strategy) continue;
    // A variant setting something its strategy never reads would silently do nothing.
    const unused = Object.keys(config.variants.find((v) => v.label === variant.label) ?? {}).filter(
      (key) => key !== 'label' && key !== 'strategy' && !(strategy.settingKeys as readonly string[]).includes(key),
    );
    if (unused.length > 0) throw new UserError(`variant ${variant.label}: ${variant.strategy} does not use ${unused.map((k) => `--${kebab(k)}`).join(', ')}`);
    const problem = strategy.refuse?.(variant.settings);
    if (problem) throw new UserError(`${variant.label}: ${problem}`);
  }
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

/**
 * Settings of the machine rather than of the experiment: they may change on --resume, and
 * `ttsd report`/`ttsd merge` ignore them when checking that several run directories (shards)
 * ran the same experiment. Listed by name so that settings other parts add (Docker hosts, the
 * inference server) are covered as soon as they exist.
 */
export const MACHINE_SETTINGS: readonly string[] = ['threads', 'concurrency', 'parallelCells', 'gpu', 'gpuLayers', 'dockerHosts', 'sampler', 'server', 'serverKind', 'adapterDir'];
