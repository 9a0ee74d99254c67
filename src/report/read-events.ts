/**
 * Reads a run directory's events.jsonl: the report is a pure function of this one file.
 * A kill mid-write can leave a partial last line; that line is dropped with a warning. Anything
 * malformed before the last line means the file was damaged, which the user must know about.
 */
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { UserError } from '../errors.js';
import { EVENTS_VERSION, type AttemptEvent, type RunStartEvent, type TrainStepEvent } from '../run/events.js';

export interface RunLog {
  run: RunStartEvent;
  attempts: AttemptEvent[];
  trainSteps: TrainStepEvent[];
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
  const endsWithNewline = text.endsWith('\n');
  const warnings: string[] = [];
  const attempts: AttemptEvent[] = [];
  const trainSteps: TrainStepEvent[] = [];
  const otherEvents: Record<string, number> = {};
  let run: RunStartEvent | undefined;
  let skippedAttempts = 0;
  let skippedTrainSteps = 0;

  for (let index = 0; index < lines.length; index++) {
    const line = lines[index].trim();
    if (line === '') continue;
    const lineNumber = index + 1;
    const isLastLine = index === lines.length - 1; // only a line with no newline after it can be partial
    let event: unknown;
    try {
      event = JSON.parse(line);
    } catch (error) {
      if (isLastLine && !endsWithNewline) {
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
      default:
        otherEvents[record.type] = (otherEvents[record.type] ?? 0) + 1;
    }
  }
  if (!run) throw new UserError(`${source} has no "run" event: not a ttsd run log`);
  if (skippedAttempts > 0) warnings.push(`ignored ${skippedAttempts} attempt event(s) missing task, strategy, seed, k or reward`);
  if (skippedTrainSteps > 0) warnings.push(`ignored ${skippedTrainSteps} train_step event(s) missing task, seed or step`);
  return { run, attempts, trainSteps, otherEvents, warnings };
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
