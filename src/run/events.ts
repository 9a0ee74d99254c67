/**
 * The run store's event log (`events.jsonl`, one JSON object a line, append-only, flushed per
 * event) is the contract between `ttsd run`, `ttsd run --resume`, `ttsd report` and `ttsd merge`:
 * all of them are pure functions of this file, and all read it through `EventLineReader` below.
 * Field names are snake_case and stable; new fields may be added, existing ones never change
 * meaning. The union is complete: a line whose type is not one of these, or whose fields do not
 * match, is refused with its file:line (only a torn LAST line, cut by a kill mid-write, is
 * dropped). Metrics that are NaN in memory are written as null by JSON.stringify; the reader
 * turns them back into NaN, so in memory they are always numbers.
 */
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { UserError } from '../errors.js';
import type { RunConfig } from './config.js';
import type { StrategyProtocol } from '../strategies/types.js';

export const EVENTS_FILE = 'events.jsonl';
export const EVENTS_VERSION = 1;

/** A part of the grid run by one machine: cells whose index in cellsOf order ≡ index−1 (mod count). 1-based. */
export interface Shard {
  index: number;
  count: number;
}

export interface RunStartEvent {
  type: 'run';
  version: number;
  budget: number;
  /** variant labels (equal to the strategy names when the run has no variants) */
  strategies: string[];
  seeds: number[];
  tasks: string[];
  /** how each label runs under these settings (absent in logs written before it existed) */
  protocols?: StrategyProtocol[];
  /** the part of the grid this log covers; null/absent = the whole grid */
  shard?: Shard | null;
  /** the run directories `ttsd merge` combined into this log */
  merged_from?: string[];
  started_at?: string;
  /** every setting of the run (RunConfig; absent only in hand-written logs) */
  config?: RunConfig;
  /** the settings again in snake_case, and what the start resolved (devices, lengths, task_source) */
  [setting: string]: unknown;
}

export interface AttemptEvent {
  type: 'attempt';
  task: string;
  strategy: string; // variant label
  seed: number;
  k: number; // 1-based generation index in sampling order (step s, position j → G·(s−1)+j)
  step: number; // 1-based sampling step (SDPO/multi-turn); best-of-K: batch index
  reward: 0 | 1; // all public tests passed
  private_reward: 0 | 1; // all private tests passed too; discovery ⇔ reward = private_reward = 1
  verdict: string;
  tokens: number;
  ms: number; // sampling wall time attributed to this attempt
  grade_ms?: number;
  finish_reason?: string;
  feedback?: string;
  code?: string | null;
  position?: number; // j in its step
  text?: string; // the raw response, needed by SDPO sibling contexts after a resume
  response_tokens?: number[]; // learning strategies only: the trainer's input after a resume
  response_logprobs?: number[]; // with --is-clip: the sampler's log-prob of each token (π_old)
  adapter?: string | null; // LoRA adapter sampled with (null = base); relative to the run directory when inside it
  public_passed?: number; // public tests passed (GRPO's fraction reward)
  public_total?: number;
}

export interface TrainStepEvent {
  type: 'train_step';
  task: string;
  seed: number;
  strategy?: string; // variant label (absent in logs from before several strategies trained: sdpo)
  step: number;
  loss: number;
  kl_before: number; // NaN (null on disk) when not measured or not defined for the loss
  kl_after: number;
  grad_norm: number;
  ms: number;
  skipped?: boolean;
  tokens?: number;
  masked?: number;
  trainer_step?: number;
  adapter?: string | null; // the new student adapter
  is_weight_mean?: number;
  is_clipped?: number;
  /** false = the step had no learning signal and made no update (e.g. GRPO with all-zero advantages); absent = true */
  signal?: boolean;
  /** the trainer loss of the step's variant: distill | policy_gradient | cross_entropy */
  loss_kind?: string;
  /** nodes of a GPU trainer's step the scheduler placed on the CPU, by op ("GET_ROWS×1"); absent: none (always so on the CPU trainer) */
  cpu_ops?: string[];
}

/** Closes a (task, label, seed) cell: nothing more is appended for it. */
export interface CellDoneEvent {
  type: 'cell_done';
  task: string;
  strategy: string;
  seed: number;
  attempts: number; // generations recorded for the cell
  discovery_k: number | null; // first k with reward = private_reward = 1
}

/** Where `ttsd run --resume` continued (repaired = a torn last line was cut). */
export interface ResumeEvent {
  type: 'resume';
  at: string; // ISO time
  repaired: boolean;
  /** the machine settings given to the resume (camelCase keys) and what the start resolved */
  [setting: string]: unknown;
}

/** Busy time of each component during this process's part of the run (ms; fraction of wall time). */
export interface UtilisationEvent {
  type: 'utilisation';
  wall_ms: number;
  sample_ms: number;
  grade_ms: number; // time with at least one grading in flight
  grade_slot_ms: number; // summed over parallel gradings
  train_ms: number;
  sampler: number; // sample_ms / wall_ms
  grader: number;
  trainer: number;
  grader_concurrency: number;
  /** Sampling calls and training steps waiting for CPU cores (src/run/cores.ts), summed over them; absent in older logs. */
  core_wait_ms?: number;
}

export interface RunDoneEvent {
  type: 'run_done';
  at: string;
  cells: number;
  attempts: number;
}

export type RunEvent = RunStartEvent | AttemptEvent | TrainStepEvent | CellDoneEvent | ResumeEvent | UtilisationEvent | RunDoneEvent;
export type EventType = RunEvent['type'];

/** The cell an event belongs to, if any. */
export function cellOf(event: RunEvent): { task: string; strategy: string; seed: number } | null {
  if (event.type === 'attempt' || event.type === 'cell_done') return { task: event.task, strategy: event.strategy, seed: event.seed };
  if (event.type === 'train_step') return { task: event.task, strategy: event.strategy ?? 'sdpo', seed: event.seed };
  return null;
}

// ---------------------------------------------------------------------------------------------
// Validation: each type's required fields and the types of its optional ones.

type Check = (value: unknown) => boolean;
const str: Check = (v) => typeof v === 'string';
const num: Check = (v) => typeof v === 'number' && Number.isFinite(v);
const int: Check = (v) => Number.isInteger(v);
const posInt: Check = (v) => Number.isInteger(v) && (v as number) >= 1;
const bool: Check = (v) => typeof v === 'boolean';
const bit: Check = (v) => v === 0 || v === 1;
const metric: Check = (v) => v === null || num(v); // NaN is written as null
const strOrNull: Check = (v) => v === null || str(v);
const intOrNull: Check = (v) => v === null || int(v);
const obj: Check = (v) => typeof v === 'object' && v !== null && !Array.isArray(v);
const listOf =
  (item: Check): Check =>
  (v) =>
    Array.isArray(v) && v.every(item);
const shard: Check = (v) => v === null || (obj(v) && posInt((v as Shard).count) && posInt((v as Shard).index) && (v as Shard).index <= (v as Shard).count);

interface Fields {
  required: Record<string, [Check, string]>;
  optional: Record<string, [Check, string]>;
}

const NUMBER: [Check, string] = [num, 'a number'];
const INTEGER: [Check, string] = [int, 'an integer'];
const STRING: [Check, string] = [str, 'a string'];
const METRIC: [Check, string] = [metric, 'a number or null'];

const FIELDS: Record<EventType, Fields> = {
  run: {
    required: { version: INTEGER, budget: [posInt, 'a positive integer'], strategies: [listOf(str), 'a list of strings'], seeds: [listOf(int), 'a list of integers'], tasks: [listOf(str), 'a list of strings'] },
    optional: { protocols: [listOf(obj), 'a list of objects'], shard: [shard, 'null or {index, count} with 1 ≤ index ≤ count'], merged_from: [listOf(str), 'a list of strings'], started_at: STRING, config: [obj, 'an object'] },
  },
  attempt: {
    required: { task: STRING, strategy: STRING, seed: INTEGER, k: [posInt, 'a positive integer'], step: INTEGER, reward: [bit, '0 or 1'], private_reward: [bit, '0 or 1'], verdict: STRING, tokens: INTEGER, ms: NUMBER },
    optional: {
      grade_ms: NUMBER,
      finish_reason: STRING,
      feedback: STRING,
      code: [strOrNull, 'a string or null'],
      position: INTEGER,
      text: STRING,
      response_tokens: [listOf(int), 'a list of integers'],
      response_logprobs: [listOf(metric), 'a list of numbers'],
      adapter: [strOrNull, 'a string or null'],
      public_passed: INTEGER,
      public_total: INTEGER,
    },
  },
  train_step: {
    required: { task: STRING, seed: INTEGER, step: INTEGER, loss: METRIC, kl_before: METRIC, kl_after: METRIC, grad_norm: METRIC, ms: NUMBER },
    optional: {
      strategy: STRING,
      skipped: [bool, 'a boolean'],
      tokens: INTEGER,
      masked: INTEGER,
      trainer_step: INTEGER,
      adapter: [strOrNull, 'a string or null'],
      is_weight_mean: METRIC,
      is_clipped: METRIC,
      signal: [bool, 'a boolean'],
      loss_kind: STRING,
      cpu_ops: [listOf(str), 'a list of strings'],
    },
  },
  cell_done: {
    required: { task: STRING, strategy: STRING, seed: INTEGER, attempts: INTEGER, discovery_k: [intOrNull, 'an integer or null'] },
    optional: {},
  },
  resume: { required: { at: STRING, repaired: [bool, 'a boolean'] }, optional: {} },
  utilisation: {
    required: { wall_ms: NUMBER },
    optional: { sample_ms: NUMBER, grade_ms: NUMBER, grade_slot_ms: NUMBER, train_ms: NUMBER, sampler: NUMBER, grader: NUMBER, trainer: NUMBER, grader_concurrency: NUMBER, core_wait_ms: NUMBER },
  },
  run_done: { required: { at: STRING, cells: INTEGER, attempts: INTEGER }, optional: {} },
};

/** Fields that are NaN in memory and null on disk. */
const NULLABLE_METRICS = ['loss', 'kl_before', 'kl_after', 'grad_norm', 'is_weight_mean', 'is_clipped'] as const;

/**
 * Checks a parsed line against its event type; `where` ("file:line") starts every message.
 * Fields beyond those declared are kept (new writers may add some; old readers pass them on).
 */
export function validateEvent(value: unknown, where: string): RunEvent {
  if (!obj(value)) throw new UserError(`${where}: not an event object`);
  const record = value as Record<string, unknown>;
  const type = record.type;
  if (typeof type !== 'string' || !Object.hasOwn(FIELDS, type)) {
    throw new UserError(`${where}: unknown event type ${JSON.stringify(type)} (known: ${Object.keys(FIELDS).join(', ')})`);
  }
  const fields = FIELDS[type as EventType];
  for (const [name, [check, what]] of Object.entries(fields.required)) {
    if (!(name in record)) throw new UserError(`${where}: ${type} event lacks "${name}"`);
    if (!check(record[name])) throw new UserError(`${where}: ${type} event's "${name}" must be ${what}, got ${JSON.stringify(record[name])}`);
  }
  for (const [name, [check, what]] of Object.entries(fields.optional)) {
    if (record[name] !== undefined && !check(record[name])) throw new UserError(`${where}: ${type} event's "${name}" must be ${what}, got ${JSON.stringify(record[name])}`);
  }
  if (type === 'train_step') {
    for (const name of NULLABLE_METRICS) if (record[name] === null) record[name] = Number.NaN;
  }
  if (type === 'attempt' && Array.isArray(record.response_logprobs)) {
    record.response_logprobs = (record.response_logprobs as (number | null)[]).map((x) => (x === null ? Number.NaN : x));
  }
  return record as unknown as RunEvent;
}

/**
 * The one reader of events.jsonl, fed line by line (from a stream or a buffer). Each non-empty
 * line is parsed once the next one arrives, so the last one is known to be last: only there is
 * text that is not JSON taken for a torn write (the store writes an event and its newline in one
 * write, so only the last line can be torn) and dropped; anywhere else it is refused. A line that
 * is JSON but not a valid event is refused wherever it is.
 */
export class EventLineReader {
  private lineNumber = 0;
  private pending: { text: string; line: number; start: number } | undefined;
  /** the torn last line (1-based) and its byte offset when `line` was given offsets */
  torn: { line: number; start: number } | null = null;

  constructor(
    readonly source: string,
    private readonly onEvent: (event: RunEvent, line: number) => void,
  ) {}

  /** One line without its newline; `start` = its byte offset (for the store's repair). */
  line(text: string, start = 0): void {
    this.lineNumber++;
    const trimmed = text.trim();
    if (trimmed === '') return;
    if (this.pending) this.parse(this.pending, false);
    this.pending = { text: trimmed, line: this.lineNumber, start };
  }

  finish(): void {
    if (this.pending) this.parse(this.pending, true);
    this.pending = undefined;
  }

  private parse(pending: { text: string; line: number; start: number }, isLast: boolean): void {
    const where = `${this.source}:${pending.line}`;
    let value: unknown;
    try {
      value = JSON.parse(pending.text);
    } catch (error) {
      if (isLast) {
        this.torn = { line: pending.line, start: pending.start };
        return;
      }
      throw new UserError(`${where}: not valid JSON (${(error as Error).message}); only a torn last line is repaired`);
    }
    this.onEvent(validateEvent(value, where), pending.line);
  }
}

/**
 * Parses a whole log held in memory. `validBytes` ends the last complete event (the torn last
 * line starts there); `missingNewline` = the last event is complete but its newline was not
 * written (the store adds it before appending).
 */
export function parseEventBuffer(content: Buffer, source: string = EVENTS_FILE): { events: RunEvent[]; validBytes: number; missingNewline: boolean; tornLine: number | null } {
  const events: RunEvent[] = [];
  const reader = new EventLineReader(source, (event) => events.push(event));
  let start = 0;
  while (start < content.length) {
    const newline = content.indexOf(0x0a, start);
    const end = newline < 0 ? content.length : newline;
    reader.line(content.subarray(start, end).toString('utf8'), start);
    start = end + 1;
  }
  reader.finish();
  if (reader.torn) return { events, validBytes: reader.torn.start, missingNewline: false, tornLine: reader.torn.line };
  const missingNewline = content.length > 0 && content[content.length - 1] !== 0x0a && content.subarray(content.lastIndexOf(0x0a) + 1).toString('utf8').trim() !== '';
  return { events, validBytes: content.length, missingNewline, tornLine: null };
}

/**
 * Streams a log line by line (a long run's log holds every response text and can outgrow one
 * JavaScript string). Returns the torn last line, if one was dropped.
 */
export async function readEventFile(file: string, onEvent: (event: RunEvent, line: number) => void): Promise<{ tornLine: number | null }> {
  const stream = createReadStream(file, { encoding: 'utf8' });
  await new Promise<void>((resolve, reject) => {
    stream.once('open', () => resolve());
    stream.once('error', reject);
  }).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') throw new UserError(`no ${EVENTS_FILE} at ${file}`);
    throw new UserError(`cannot read ${file}: ${error.message}`);
  });
  const reader = new EventLineReader(file, onEvent);
  for await (const line of createInterface({ input: stream, crlfDelay: Infinity })) reader.line(line);
  reader.finish();
  return { tornLine: reader.torn?.line ?? null };
}
