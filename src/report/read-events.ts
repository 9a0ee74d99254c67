/**
 * Reads a run directory's events.jsonl: the report is a pure function of this one file.
 * A kill mid-write can leave a partial last line; that line is dropped with a warning (the run
 * store writes each event with its newline in one write, so only the last line can be torn).
 * Anything malformed before the last line means the file was damaged, which the user must know.
 *
 * The file is streamed line by line and attempts keep only the fields the report uses: a long
 * run's log holds every response text and can outgrow a single JavaScript string.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { UserError } from '../errors.js';
import { EVENTS_VERSION, type AttemptEvent, type RunStartEvent, type TrainStepEvent } from '../run/events.js';

/** Busy time of the sampler, graders and trainer during one process's part of the run. */
export interface Utilisation {
  wall_ms: number;
  sampler?: number;
  grader?: number;
  trainer?: number;
  grade_slot_ms?: number;
  grader_concurrency?: number;
}

export interface RunLog {
  run: RunStartEvent;
  attempts: AttemptEvent[];
  trainSteps: TrainStepEvent[];
  /** (task, strategy, seed) cells the run closed with a cell_done event */
  cellsDone: Array<{ task: string; strategy: string; seed: number }>;
  utilisation: Utilisation[];
  resumes: number;
  /** a run_done event was written */
  finished: boolean;
  /** count of events per type that the report does not use */
  otherEvents: Record<string, number>;
  warnings: string[];
}

export const EVENTS_FILE = 'events.jsonl';

export async function readRunDirectory(directory: string): Promise<RunLog> {
  const info = await stat(directory).catch(() => undefined);
  if (!info) throw new UserError(`run directory not found: ${directory}`);
  if (!info.isDirectory()) throw new UserError(`not a directory: ${directory}`);
  const file = path.join(directory, EVENTS_FILE);
  const stream = createReadStream(file, { encoding: 'utf8' });
  const opened = new Promise<void>((resolve, reject) => {
    stream.once('open', () => resolve());
    stream.once('error', reject);
  });
  await opened.catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') throw new UserError(`no ${EVENTS_FILE} in ${directory}`);
    throw new UserError(`cannot read ${file}: ${error.message}`);
  });
  const reader = new RunLogReader(file);
  for await (const line of createInterface({ input: stream, crlfDelay: Infinity })) reader.line(line);
  return reader.finish();
}

/** Parses events.jsonl text; `source` names the file in messages. */
export function parseRunLog(text: string, source = EVENTS_FILE): RunLog {
  const reader = new RunLogReader(source);
  for (const line of text.split('\n')) reader.line(line);
  return reader.finish();
}

const isFiniteNumber = (value: unknown): value is number => typeof value === 'number' && Number.isFinite(value);
const isString = (value: unknown): value is string => typeof value === 'string';
const optionalNumber = (value: unknown): number | undefined => (isFiniteNumber(value) ? value : undefined);

/**
 * Accumulates events line by line. Each non-empty line is parsed only once the next non-empty
 * line arrives, so the last one, which may be torn, is recognised as such.
 */
class RunLogReader {
  private lineNumber = 0;
  private pending: { text: string; lineNumber: number } | undefined;
  private run: RunStartEvent | undefined;
  private readonly attempts: AttemptEvent[] = [];
  private readonly trainSteps: TrainStepEvent[] = [];
  private readonly cellsDone: RunLog['cellsDone'] = [];
  private readonly utilisation: Utilisation[] = [];
  private readonly otherEvents: Record<string, number> = Object.create(null);
  private readonly warnings: string[] = [];
  private resumes = 0;
  private finished = false;
  private skippedAttempts = 0;
  private skippedTrainSteps = 0;

  constructor(private readonly source: string) {}

  line(text: string): void {
    this.lineNumber++;
    const trimmed = text.trim();
    if (trimmed === '') return;
    if (this.pending) this.parse(this.pending.text, this.pending.lineNumber, false);
    this.pending = { text: trimmed, lineNumber: this.lineNumber };
  }

  finish(): RunLog {
    if (this.pending) this.parse(this.pending.text, this.pending.lineNumber, true);
    this.pending = undefined;
    if (!this.run) throw new UserError(`${this.source} has no "run" event: not a ttsd run log`);
    if (this.skippedAttempts > 0) {
      this.warnings.push(`ignored ${this.skippedAttempts} attempt event(s) missing task, strategy, seed, k or reward`);
    }
    if (this.skippedTrainSteps > 0) this.warnings.push(`ignored ${this.skippedTrainSteps} train_step event(s) missing task, seed or step`);
    return {
      run: this.run,
      attempts: this.attempts,
      trainSteps: this.trainSteps,
      cellsDone: this.cellsDone,
      utilisation: this.utilisation,
      resumes: this.resumes,
      finished: this.finished,
      otherEvents: this.otherEvents,
      warnings: this.warnings,
    };
  }

  private parse(text: string, lineNumber: number, isLast: boolean): void {
    let event: unknown;
    try {
      event = JSON.parse(text);
    } catch (error) {
      if (isLast) {
        this.warnings.push(`ignored a truncated last line (line ${lineNumber}) of ${this.source}, probably cut by a kill mid-write`);
        return;
      }
      throw new UserError(`${this.source} line ${lineNumber} is not valid JSON: ${(error as Error).message}`);
    }
    if (typeof event !== 'object' || event === null || Array.isArray(event) || !isString((event as { type?: unknown }).type)) {
      throw new UserError(`${this.source} line ${lineNumber} is not an event object with a "type"`);
    }
    this.record(event as Record<string, unknown> & { type: string }, lineNumber);
  }

  private record(event: Record<string, unknown> & { type: string }, lineNumber: number): void {
    switch (event.type) {
      case 'run':
        if (this.run) {
          this.count('run (repeated)');
        } else {
          this.run = runEvent(event, this.source, lineNumber);
          if (this.run.version > EVENTS_VERSION) {
            this.warnings.push(`${this.source} has events version ${this.run.version}; this report understands version ${EVENTS_VERSION}`);
          }
        }
        break;
      case 'attempt': {
        const attempt = attemptEvent(event);
        if (attempt) this.attempts.push(attempt);
        else this.skippedAttempts++;
        break;
      }
      case 'train_step': {
        const step = trainStepEvent(event);
        if (step) this.trainSteps.push(step);
        else this.skippedTrainSteps++;
        break;
      }
      case 'cell_done':
        if (isString(event.task) && isString(event.strategy) && isFiniteNumber(event.seed)) {
          this.cellsDone.push({ task: event.task, strategy: event.strategy, seed: event.seed });
        }
        break;
      case 'utilisation':
        if (isFiniteNumber(event.wall_ms)) {
          this.utilisation.push({
            wall_ms: event.wall_ms,
            sampler: optionalNumber(event.sampler),
            grader: optionalNumber(event.grader),
            trainer: optionalNumber(event.trainer),
            grade_slot_ms: optionalNumber(event.grade_slot_ms),
            grader_concurrency: optionalNumber(event.grader_concurrency),
          });
        }
        break;
      case 'resume':
        this.resumes++;
        break;
      case 'run_done':
        this.finished = true;
        break;
      default:
        this.count(event.type);
    }
  }

  private count(type: string): void {
    this.otherEvents[type] = (this.otherEvents[type] ?? 0) + 1;
  }
}

function runEvent(event: Record<string, unknown>, source: string, lineNumber: number): RunStartEvent {
  const budget = event.budget;
  if (!isFiniteNumber(budget) || !Number.isInteger(budget) || budget < 1) {
    throw new UserError(`${source} line ${lineNumber}: the run event needs a positive integer "budget"`);
  }
  const stringList = (value: unknown): string[] => (Array.isArray(value) ? value.filter(isString) : []);
  return {
    ...event,
    type: 'run',
    version: isFiniteNumber(event.version) ? event.version : EVENTS_VERSION,
    budget,
    strategies: stringList(event.strategies),
    tasks: stringList(event.tasks),
    seeds: Array.isArray(event.seeds) ? event.seeds.filter(isFiniteNumber) : [],
  };
}

/** The attempt's report fields only (no response text, code or feedback); undefined if unusable. */
function attemptEvent(event: Record<string, unknown>): AttemptEvent | undefined {
  const { task, strategy, seed, k, reward } = event;
  if (!isString(task) || !isString(strategy) || !isFiniteNumber(seed)) return undefined;
  if (!isFiniteNumber(k) || !Number.isInteger(k) || k < 1 || (reward !== 0 && reward !== 1)) return undefined;
  return {
    type: 'attempt',
    task,
    strategy,
    seed,
    k,
    step: optionalNumber(event.step) ?? k,
    reward,
    private_reward: event.private_reward === 1 ? 1 : 0,
    verdict: isString(event.verdict) ? event.verdict : '',
    tokens: optionalNumber(event.tokens) ?? 0,
    ms: optionalNumber(event.ms) ?? 0,
    grade_ms: optionalNumber(event.grade_ms),
  };
}

function trainStepEvent(event: Record<string, unknown>): TrainStepEvent | undefined {
  const { task, seed, step } = event;
  if (!isString(task) || !isFiniteNumber(seed) || !isFiniteNumber(step)) return undefined;
  // NaN/Infinity cannot be JSON, but a diverged step may write null: keep it out of the charts
  const metric = (value: unknown) => (isFiniteNumber(value) ? value : Number.NaN);
  return {
    type: 'train_step',
    task,
    seed,
    step,
    strategy: isString(event.strategy) ? event.strategy : undefined,
    loss: metric(event.loss),
    kl_before: metric(event.kl_before),
    kl_after: metric(event.kl_after),
    grad_norm: metric(event.grad_norm),
    ms: optionalNumber(event.ms) ?? 0,
    skipped: event.skipped === true,
    ...(event.signal === false ? { signal: false } : {}),
    ...(isString(event.loss_kind) ? { loss_kind: event.loss_kind } : {}),
  };
}
