/**
 * Reads a run directory's events.jsonl: the report is a pure function of this one file.
 * A kill mid-write can leave a partial last line; that line is dropped with a warning. Anything
 * malformed before the last line means the file was damaged, which the user must know about.
 */
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
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
  const text = await readFile(file, 'utf8').catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') throw new UserError(`no ${EVENTS_FILE} in ${directory}`);
    throw new UserError(`cannot read ${file}: ${error.message}`);
  });
  return parseRunLog(text, file);
}

const isFiniteNumber = (value: unknown): value is number => typeof value === 'number' && Number.isFinite(value);
const isString = (value: unknown): value is string => typeof value === 'string';

/** Parses events.jsonl text; `source` names the file in messages. */
export function parseRunLog(text: string, source = EVENTS_FILE): RunLog {
  const lines = text.split('\n');
  const warnings: string[] = [];
  const attempts: AttemptEvent[] = [];
  const trainSteps: TrainStepEvent[] = [];
  const otherEvents: Record<string, number> = {};
  const cellsDone: RunLog['cellsDone'] = [];
  const utilisation: Utilisation[] = [];
  let resumes = 0;
  let finished = false;
  let run: RunStartEvent | undefined;
  // the run store writes each event with its newline in one write, so only the last line can be torn
  const lastContentIndex = lines.reduce((last, line, i) => (line.trim() === '' ? last : i), -1);
  let skippedAttempts = 0;
  let skippedTrainSteps = 0;

  for (let index = 0; index < lines.length; index++) {
    const line = lines[index].trim();
    if (line === '') continue;
    const lineNumber = index + 1;
    let event: unknown;
    try {
      event = JSON.parse(line);
    } catch (error) {
      if (index === lastContentIndex) {
        warnings.push(`ignored a truncated last line (line ${lineNumber}) of ${source}, probably cut by a kill mid-write`);
        continue;
      }
      throw new UserError(`${source} line ${lineNumber} is not valid JSON: ${(error as Error).message}`);
    }
    if (typeof event !== 'object' || event === null || Array.isArray(event) || !isString((event as { type?: unknown }).type)) {
      throw new UserError(`${source} line ${lineNumber} is not an event object with a "type"`);
    }
    const record = event as Record<string, unknown> & { type: string };
    switch (record.type) {
      case 'run':
        if (run) {
          otherEvents['run (repeated)'] = (otherEvents['run (repeated)'] ?? 0) + 1;
        } else {
          run = checkRunEvent(record, source, lineNumber);
          if (isFiniteNumber(run.version) && run.version > EVENTS_VERSION) {
            warnings.push(`${source} has events version ${run.version}; this report understands version ${EVENTS_VERSION}`);
          }
        }
        break;
      case 'attempt':
        if (isAttempt(record)) attempts.push(record);
        else skippedAttempts++;
        break;
      case 'train_step':
        if (isTrainStep(record)) trainSteps.push(record);
        else skippedTrainSteps++;
        break;
      case 'cell_done':
        if (isString(record.task) && isString(record.strategy) && isFiniteNumber(record.seed)) {
          cellsDone.push({ task: record.task, strategy: record.strategy, seed: record.seed });
        }
        break;
      case 'utilisation':
        if (isFiniteNumber(record.wall_ms)) utilisation.push(record as unknown as Utilisation);
        break;
      case 'resume':
        resumes++;
        break;
      case 'run_done':
        finished = true;
        break;
      default:
        otherEvents[record.type] = (otherEvents[record.type] ?? 0) + 1;
    }
  }
  if (!run) throw new UserError(`${source} has no "run" event: not a ttsd run log`);
  if (skippedAttempts > 0) warnings.push(`ignored ${skippedAttempts} attempt event(s) missing task, strategy, seed, k or reward`);
  if (skippedTrainSteps > 0) warnings.push(`ignored ${skippedTrainSteps} train_step event(s) missing task, seed or step`);
  return { run, attempts, trainSteps, cellsDone, utilisation, resumes, finished, otherEvents, warnings };
}

function checkRunEvent(record: Record<string, unknown>, source: string, lineNumber: number): RunStartEvent {
  const budget = record.budget;
  if (!isFiniteNumber(budget) || !Number.isInteger(budget) || budget < 1) {
    throw new UserError(`${source} line ${lineNumber}: the run event needs a positive integer "budget"`);
  }
  const stringList = (value: unknown): string[] => (Array.isArray(value) ? value.filter(isString) : []);
  return {
    ...record,
    type: 'run',
    version: isFiniteNumber(record.version) ? record.version : EVENTS_VERSION,
    budget,
    strategies: stringList(record.strategies),
    tasks: stringList(record.tasks),
    seeds: Array.isArray(record.seeds) ? record.seeds.filter(isFiniteNumber) : [],
  };
}

function isAttempt(record: Record<string, unknown>): record is AttemptEvent & Record<string, unknown> {
  return (
    isString(record.task) &&
    isString(record.strategy) &&
    isFiniteNumber(record.seed) &&
    isFiniteNumber(record.k) &&
    Number.isInteger(record.k) &&
    record.k >= 1 &&
    (record.reward === 0 || record.reward === 1)
  );
}

function isTrainStep(record: Record<string, unknown>): record is TrainStepEvent & Record<string, unknown> {
  return isString(record.task) && isFiniteNumber(record.seed) && isFiniteNumber(record.step);
}
