import fs from 'node:fs';
import path from 'node:path';
import { Command, Option } from 'commander';
import { UserError } from '../errors.js';
import { loadTasks } from '../tasks/load.js';
import { findPreset } from '../tasks/presets.js';
import { selectTasks } from '../tasks/select.js';
import type { Task } from '../tasks/types.js';
import { STRATEGY_NAMES, strategyByName } from '../strategies/index.js';
import { checkRunTasks, kebab, MACHINE_SETTINGS, OPTION_SPECS, resolveConfig, runVariants, type RunConfig } from '../run/config.js';
import { EVENTS_VERSION, type ResumeEvent, type RunStartEvent } from '../run/events.js';
import { historyFromEvents, type RunHistory } from '../run/history.js';
import { benchGenerationCost, benchSearch, wrongPrograms, type SearchBenchResult } from '../run/bench.js';
import { runSearch } from '../run/loop.js';
import { progressFor } from '../run/progress.js';
import { resolveDevices } from '../run/devices.js';
import { startRealServices } from '../run/real-services.js';
import { RunStore } from '../run/store.js';
import { parseShard, resolveShard, shardCells, shardLabel, type Shard } from '../run/shards.js';

/** Machine settings a resumed run may change; everything else is fixed by the run event. */
const RESUMABLE_OVERRIDES = MACHINE_SETTINGS.filter((key) => OPTION_SPECS.some((spec) => spec.key === key)) as (keyof RunConfig)[];

/** `--config` plus one flag per search setting: `ttsd run` and `ttsd bench search` take the same ones. */
function addSearchSettings(command: Command): void {
  command.option('--config <file.json>', 'settings as JSON (keys = flag names); flags win');
  for (const spec of OPTION_SPECS) {
    const option = new Option(spec.flag, spec.description);
    // A repeatable flag collects its values (e.g. --variant a=sdpo,... --variant b=grpo,...).
    if (spec.repeatable) option.argParser((value: string, previous: unknown) => [...(Array.isArray(previous) ? previous : []), value]);
    command.addOption(option);
  }
}

export function registerRunCommands(program: Command): void {
  const run = program
    .command('run')
    .description('search for solutions: tasks × strategies × seeds under one generation budget, logged to <out>/events.jsonl')
    .option('--out <dir>', 'run directory (default: results/<date-time>)')
    .option('--resume <dir>', 'finish an interrupted run (after a crash or kill -9) from its events.jsonl')
    .option('--shard <i/n>', 'run part i (1-based) of n of the cells (default: from SLURM_ARRAY_TASK_ID/_MIN/_COUNT, or JOB_COMPLETION_INDEX with --shard-count); combine the parts with ttsd merge or ttsd report DIR...')
    .option('--shard-count <n>', 'the number of shards when the index comes from JOB_COMPLETION_INDEX (Kubernetes Indexed Job)');
  addSearchSettings(run);
  run.action(async (options: Record<string, unknown>) => {
    if (options.resume !== undefined) await resumeRun(String(options.resume), options);
    else await startRun(options);
  });

  const bench = program.commands.find((c) => c.name() === 'bench');
  if (!bench) return;
  const search = bench
    .command('search')
    .description('the same short search with cells run one at a time and interleaved, side by side: wall-time ratio and utilisation')
    .option('--compare <n>', 'interleaved cells to compare against 1 (default: --parallel-cells, else 2)')
    .option('--graded-programs', 'turn every rollout into a wrong program (print(-1)) so each attempt is graded in the sandbox and feedback flows: the grading load of a real search, with a random-weight model')
    .option('--sdpo-cost', "instead: SDPO's wall time per generation / best-of-K's, one cell each alone (first task and seed, same --rollouts G and --budget), A-B-B-A")
    .option('--json', 'print JSON');
  addSearchSettings(search);
  search.action(async (options: Record<string, unknown>) => {
    const config = resolveConfig(readConfigFile(options.config), flagsGiven(options), STRATEGY_NAMES);
    // the two sides the cost comparison runs (the trainer is started for SDPO's)
    if (options.sdpoCost) config.strategies = ['best-of-k', 'sdpo'];
    const compare = options.compare === undefined ? (options.parallelCells === undefined ? 2 : config.parallelCells) : Number(options.compare);
    if (!Number.isInteger(compare) || compare < 2) throw new UserError(`--compare must be an integer ≥ 2, got ${String(options.compare)}`);
    const tasks = await selectRunTasks(config);
    checkModel(config.model);
    const notes: string[] = [];
    const real = await startServices(config, tasks, notes);
    for (const note of notes) process.stderr.write(`note: ${note}\n`);
    const services = options.gradedPrograms ? { ...real, sampler: wrongPrograms(real.sampler) } : real;
    try {
      if (options.sdpoCost) {
        const cost = await benchGenerationCost(config, tasks, services);
        if (options.json) process.stdout.write(JSON.stringify({ graded_programs: options.gradedPrograms === true, ...cost }) + '\n');
        else {
          const line = (s: typeof cost.sdpo) =>
            `${s.strategy}: ${s.generations} generations, ${s.train_steps} training steps in ${(s.wall_ms / 1000).toFixed(1)} s, ${(s.ms_per_generation / 1000).toFixed(2)} s per generation; busy sampler ${pct(s.sampler)}, grader ${pct(s.grader)}, trainer ${pct(s.trainer)}\n`;
          process.stdout.write(line(cost.best_of_k) + line(cost.sdpo) + `SDPO / best-of-K wall time per generation: ${cost.ratio} (task ${cost.task}, G ${cost.g}, --max-tokens ${cost.max_tokens}; one cell each, A-B-B-A)\n`);
        }
        return;
      }
      // A-B-B-A order, each side averaged: warm-up and drift in a shared machine's load hit both alike.
      const [a1, b1, b2, a2] = await benchSearch(config, tasks, services, [1, compare, compare, 1]);
      const one = meanOf(a1, a2);
      const many = meanOf(b1, b2);
      const ratio = Math.round((one.wallMs / many.wallMs) * 100) / 100;
      if (options.json) {
        process.stdout.write(JSON.stringify({ strategies: config.strategies, graded_programs: options.gradedPrograms === true, sequential: one, interleaved: many, speedup: ratio }) + '\n');
      } else {
        const line = (r: typeof one) =>
          `parallel-cells ${r.parallelCells}: ${(r.wallMs / 1000).toFixed(1)} s wall; busy sampler ${pct(r.utilisation.sampler)}, grader ${pct(r.utilisation.grader)}, trainer ${pct(r.utilisation.trainer)}\n`;
        process.stdout.write(line(one) + line(many) + `speedup of interleaving: ${ratio}× (same search, same process, runs in A-B-B-A order, each side averaged)\n`);
      }
    } finally {
      await services.close();
    }
  });
}

const pct = (x: number) => `${Math.round(x * 100)}%`;

function meanOf(x: SearchBenchResult, y: SearchBenchResult): SearchBenchResult {
  const mean = (a: number, b: number) => (a + b) / 2;
  const u = { ...x.utilisation };
  for (const key of ['sampler', 'grader', 'trainer', 'wall_ms', 'sample_ms', 'grade_ms', 'grade_slot_ms', 'train_ms'] as const) {
    u[key] = mean(x.utilisation[key], y.utilisation[key]);
  }
  return { parallelCells: x.parallelCells, wallMs: mean(x.wallMs, y.wallMs), utilisation: u, generations: mean(x.generations, y.generations), trainSteps: mean(x.trainSteps, y.trainSteps) };
}

async function startRun(options: Record<string, unknown>): Promise<void> {
  const notes: string[] = [];
  const config = resolveConfig(readConfigFile(options.config), flagsGiven(options), STRATEGY_NAMES, notes);
  const shard = resolveShard(options);
  // Absolute, so `--resume` works from any directory.
  config.tasks = path.resolve(config.tasks);
  if (!config.model.startsWith('hf:')) config.model = path.resolve(config.model);
  if (config.teacherModel !== null && !config.teacherModel.startsWith('hf:')) config.teacherModel = path.resolve(config.teacherModel);
  for (const v of config.variants) if (typeof v.teacherModel === 'string' && !v.teacherModel.startsWith('hf:')) v.teacherModel = path.resolve(v.teacherModel);
  if (config.adapterDir) config.adapterDir = path.resolve(config.adapterDir);
  const tasks = await selectRunTasks(config);
  checkModel(config.model);
  const runDir = String(options.out ?? path.join('results', timestamp()));
  const existed = fs.existsSync(runDir);
  const store = RunStore.create(runDir);
  let services: StartedServices;
  try {
    services = await startServices(config, tasks, notes);
  } catch (error) {
    // A refused run leaves nothing behind: its store holds no event yet.
    store.close();
    fs.rmSync(store.file, { force: true });
    if (!existed) fs.rmSync(runDir, { recursive: true, force: true });
    throw error;
  }
  const runEvent: RunStartEvent = {
    type: 'run',
    version: EVENTS_VERSION,
    budget: config.budget,
    seeds: config.seeds,
    tasks: tasks.map((t) => t.id),
    shard,
    started_at: new Date().toISOString(),
    // How each variant runs under its settings, with its traits: the report shows it from the log alone.
    protocols: runVariants(config).map((v) => strategyByName(v.strategy)!.protocol(v.settings, v.label)),
    ...snakeCase(config),
    // The labels of the run's cells (= the strategy names when it has no variants).
    strategies: runVariants(config).map((v) => v.label),
    ...startFacts(services),
    task_source: config.tasks,
    config,
  };
  store.append(runEvent);
  // Said once everything is checked and the run starts (a refused run prints only its error).
  if (shard) {
    const all = tasks.length * config.strategies.length * config.seeds.length;
    notes.push(`shard ${shardLabel(shard)}: ${shardCells(Array.from({ length: all }), shard).length} of the grid's ${all} cells`);
  }
  for (const note of notes) process.stderr.write(`note: ${note}\n`);
  await search(config, tasks, runDir, store, { cells: new Map(), done: new Set() }, services, shard);
}

async function resumeRun(runDir: string, options: Record<string, unknown>): Promise<void> {
  const given = flagsGiven(options);
  const fixed = Object.keys(given).filter((k) => !RESUMABLE_OVERRIDES.includes(k as keyof RunConfig));
  if (fixed.length > 0 || options.config !== undefined || options.out !== undefined) {
    throw new UserError(`--resume continues a run with its recorded settings; only ${RESUMABLE_OVERRIDES.map((k) => `--${kebab(k)}`).join(', ')} may change`);
  }
  const { store, events, repaired } = RunStore.open(runDir);
  const first = events[0] as RunStartEvent | undefined;
  if (!first || first.type !== 'run' || typeof first.config !== 'object') {
    store.close();
    throw new UserError(`${store.file} does not start with a run event`);
  }
  // Each shard resumes on its own: the recorded shard holds, and a different --shard is refused.
  // The scheduler's environment is not consulted: a failed shard resubmitted alone (sbatch
  // --array=3) sees an array of one task, which says nothing about the shard it resumes.
  const shard: Shard | null = first.shard ?? null;
  let asked: Shard | null;
  try {
    asked = options.shard === undefined ? null : parseShard(String(options.shard));
  } catch (error) {
    store.close();
    throw error;
  }
  if (asked && (!shard || asked.index !== shard.index || asked.count !== shard.count)) {
    store.close();
    throw new UserError(`${runDir} holds ${shard ? `shard ${shardLabel(shard)}` : 'the whole grid'}; it cannot be resumed as shard ${shardLabel(asked)}`);
  }
  if (events.some((e) => e.type === 'run_done')) {
    store.close();
    process.stderr.write(`ttsd: ${runDir} is already complete\n`);
    return;
  }
  const recorded = { ...(first.config as RunConfig) };
  // Logs written before multi-turn had its own generations per turn sampled G per turn.
  if (recorded.multiTurnGenerations === undefined) recorded.multiTurnGenerations = recorded.rollouts;
  const overrides = Object.fromEntries(Object.entries(given).map(([k, v]) => [k, v]));
  const notes: string[] = [];
  let services: StartedServices;
  let config: RunConfig;
  let tasks: Task[];
  try {
    config = resolveConfig(configAsFile(recorded), overrides, STRATEGY_NAMES);
    const all = await loadTasks(config.tasks);
    tasks = selectTasks(all, { ids: first.tasks });
    services = await startServices(config, tasks, notes);
  } catch (error) {
    store.close();
    throw error;
  }
  const resumeEvent: ResumeEvent = { type: 'resume', at: new Date().toISOString(), repaired };
  // The machine settings given (e.g. --gpu, --gpu-layers, --threads) and what they resolved to.
  store.append({ ...resumeEvent, ...Object.fromEntries(Object.entries(given).map(([k, v]) => [k, v])), ...startFacts(services) });
  for (const note of notes) process.stderr.write(`note: ${note}\n`);
  await search(config, tasks, runDir, store, historyFromEvents(events, runDir), services, shard);
}

type StartedServices = Awaited<ReturnType<typeof startRealServices>>;

/**
 * The devices `--gpu` resolves to (said in one line), the sampler, the lengths of the run and
 * the checks against them, the trainer build and the grader: everything that can refuse the
 * run does so here, before its first event.
 */
async function startServices(config: RunConfig, tasks: Task[], notes: string[]): Promise<StartedServices> {
  const needsTrainer = runVariants(config).some((v) => strategyByName(v.strategy)!.needsTrainer);
  const devices = await resolveDevices(config, { needsTrainer });
  if (devices.line) notes.push(devices.line);
  return startRealServices(config, { needsTrainer, devices, tasks, notes });
}

/** What the start resolved, for the run (or resume) event. */
function startFacts(services: StartedServices): Record<string, unknown> {
  const { devices, lengths } = services;
  return {
    devices: { sampling: devices.sampling === false ? 'cpu' : devices.sampling, trainer: devices.trainer, trainer_gpu_layers: devices.trainerGpuLayers },
    ...(lengths && {
      lengths: { longest_prompt: lengths.studentPrompt, longest_prompt_task: lengths.studentTask, teacher_prompt_limit: lengths.teacherPrompt, trainer_max_tokens: lengths.trainer },
    }),
  };
}

async function search(config: RunConfig, tasks: Task[], runDir: string, store: RunStore, history: RunHistory, services: StartedServices, shard: Shard | null): Promise<void> {
  try {
    const stop = () => void services.close().finally(() => process.exit(130));
    process.once('SIGINT', stop);
    const result = await runSearch({ config, tasks, runDir, store, history, services, progress: progressFor(process.stderr), shard, ...(services.lengths && { lengths: services.lengths }) });
    process.off('SIGINT', stop);
    process.stdout.write(`${runDir}: ${result.attempts} generations over ${result.cells} cells; report with: ttsd report ${runDir}\n`);
  } finally {
    await services.close();
    store.close();
  }
}

async function selectRunTasks(config: RunConfig): Promise<Task[]> {
  let tasks = await loadTasks(config.tasks);
  if (config.preset) tasks = findPreset(config.preset).resolve(tasks).tasks;
  if (config.ids.length > 0) tasks = selectTasks(tasks, { ids: config.ids });
  if (tasks.length === 0) throw new UserError(`no tasks selected from ${config.tasks}`);
  checkRunTasks(config, tasks);
  return tasks;
}

function checkModel(model: string): void {
  if (model.startsWith('hf:')) return; // node-llama-cpp resolves (and caches) it when the sampler loads
  if (!fs.existsSync(model) || !fs.statSync(model).isFile()) {
    throw new UserError(`model file not found: ${model} (make a tiny one with: ttsd model tiny --out ${model})`);
  }
}

function readConfigFile(file: unknown): Record<string, unknown> {
  if (file === undefined) return {};
  let text: string;
  try {
    text = fs.readFileSync(String(file), 'utf8');
  } catch (error) {
    throw new UserError(`cannot read config file ${file}: ${(error as NodeJS.ErrnoException).code ?? error}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new UserError(`config file ${file} is not valid JSON: ${(error as Error).message.split('\n')[0]}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new UserError(`config file ${file} must hold a JSON object`);
  return parsed as Record<string, unknown>;
}

/** Only the option values given on the command line (commander leaves the others undefined). */
function flagsGiven(options: Record<string, unknown>): Partial<Record<keyof RunConfig, unknown>> {
  const given: Partial<Record<keyof RunConfig, unknown>> = {};
  for (const spec of OPTION_SPECS) {
    // commander names an option after its flag (--variant → variant), RunConfig after its key (variants)
    const attribute = new Option(spec.flag).attributeName();
    if (options[attribute] !== undefined) given[spec.key] = options[attribute];
  }
  return given;
}

/** A recorded RunConfig as config-file input (max-prompt-tokens was resolved already; keep it). */
function configAsFile(config: RunConfig): Record<string, unknown> {
  return { ...config } as Record<string, unknown>;
}

function snakeCase(config: RunConfig): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(config)) {
    if (key === 'tasks') continue; // the run event's `tasks` lists the selected ids
    out[key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)] = value;
  }
  return out;
}

function timestamp(): string {
  return new Date().toISOString().replace(/[:]/g, '').replace(/\..*/, '').replace('T', '-');
}
