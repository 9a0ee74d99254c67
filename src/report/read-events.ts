/**
 * Reads one or several run directories (shards of one grid) for the report: the report is a pure
 * function of their events.jsonl files. Parsing and validation are the run store's own
 * (src/run/events.ts: a torn last line is dropped with a warning, anything malformed before it
 * is refused with file:line); combining several directories is `ttsd merge`'s (src/run/merge.ts:
 * same experiment, each cell counted once, planned cells held by none reported as missing).
 *
 * The files are streamed line by line and attempts keep only the fields the report uses: a long
 * run's log holds every response text and can outgrow a single JavaScript string.
 */
import { EVENTS_FILE, EVENTS_VERSION, EventLineReader, cellOf, type AttemptEvent, type RunEvent, type RunStartEvent, type TrainStepEvent } from '../run/events.js';
import { cellKey } from '../run/history.js';
import { combineRuns, describeCell, RunScanner, scanRun, type CellId, type ScannedRun } from '../run/merge.js';

export { EVENTS_FILE };

/** Busy time of the sampler, graders and trainer during one process's part of the run. */
export interface Utilisation {
  wall_ms: number;
  sampler?: number;
  grader?: number;
  trainer?: number;
  grade_slot_ms?: number;
  grader_concurrency?: number;
  core_wait_ms?: number;
}

export interface RunLog {
  run: RunStartEvent;
  attempts: AttemptEvent[];
  trainSteps: TrainStepEvent[];
  /** (task, strategy, seed) cells the run closed with a cell_done event */
  cellsDone: CellId[];
  utilisation: Utilisation[];
  resumes: number;
  /** a run_done event was written (by every input, none of the planned cells missing) */
  finished: boolean;
  /** planned cells (tasks × strategies × seeds of the run event) */
  plannedCells: number;
  /** planned cells no input holds any event of */
  missingCells: CellId[];
  warnings: string[];
}

/** What the report keeps of one input, in its log's order. */
class Collector {
  readonly cellEvents: { key: string; event: AttemptEvent | TrainStepEvent | CellId }[] = [];
  readonly utilisation: Utilisation[] = [];
  resumes = 0;

  event(event: RunEvent): void {
    const id = cellOf(event);
    if (id) {
      const key = cellKey(id.task, id.strategy, id.seed);
      if (event.type === 'attempt') this.cellEvents.push({ key, event: slimAttempt(event) });
      else if (event.type === 'train_step') this.cellEvents.push({ key, event });
      else this.cellEvents.push({ key, event: id });
    } else if (event.type === 'utilisation') {
      const { wall_ms, sampler, grader, trainer, grade_slot_ms, grader_concurrency, core_wait_ms } = event;
      this.utilisation.push({ wall_ms, sampler, grader, trainer, grade_slot_ms, grader_concurrency, core_wait_ms });
    } else if (event.type === 'resume') {
      this.resumes++;
    }
  }
}

export async function readRunDirectory(directory: string): Promise<RunLog> {
  return readRunDirectories([directory]);
}

/** Several run directories as one run (see the module comment). */
export async function readRunDirectories(directories: string[]): Promise<RunLog> {
  const scans: ScannedRun[] = [];
  const collectors: Collector[] = [];
  for (const directory of directories) {
    const collector = new Collector();
    scans.push(await scanRun(directory, (event) => collector.event(event)));
    collectors.push(collector);
  }
  return buildLog(scans, collectors);
}

/** Parses events.jsonl text; `source` names the file in messages. */
export function parseRunLog(text: string, source = EVENTS_FILE): RunLog {
  const collector = new Collector();
  const scanner = new RunScanner(source, source, (event) => collector.event(event));
  const reader = new EventLineReader(source, (event, line) => scanner.event(event, line));
  for (const line of text.split('\n')) reader.line(line);
  reader.finish();
  return buildLog([scanner.finish(reader.torn?.line ?? null)], [collector]);
}

function buildLog(scans: ScannedRun[], collectors: Collector[]): RunLog {
  const combined = combineRuns(scans);
  const warnings: string[] = [];
  const attempts: AttemptEvent[] = [];
  const trainSteps: TrainStepEvent[] = [];
  const cellsDone: CellId[] = [];
  collectors.forEach((collector, i) => {
    for (const { key, event } of collector.cellEvents) {
      if (combined.owner.get(key) !== i) continue; // the same cell counts once, from the first input holding it
      if ('type' in event && event.type === 'attempt') attempts.push(event);
      else if ('type' in event) trainSteps.push(event);
      else cellsDone.push(event);
    }
  });
  for (const scan of scans) {
    if (scan.tornLine !== null) warnings.push(`ignored a truncated last line (line ${scan.tornLine}) of ${scan.file}, probably cut by a kill mid-write`);
    if (scan.run.version > EVENTS_VERSION) warnings.push(`${scan.file} has events version ${scan.run.version}; this report understands version ${EVENTS_VERSION}`);
  }
  const { missing, planned } = combined;
  if (missing.length > 0) {
    const shown = missing.slice(0, 3).map(describeCell).join(', ');
    warnings.push(`${missing.length} of ${planned.length} planned cells have no events (not run, or a shard missing): ${shown}${missing.length > 3 ? ', …' : ''}; they are not in the results`);
  }
  return {
    run: combined.run,
    attempts,
    trainSteps,
    cellsDone,
    utilisation: collectors.flatMap((c) => c.utilisation),
    resumes: collectors.reduce((sum, c) => sum + c.resumes, 0),
    finished: scans.every((s) => s.finished) && missing.length === 0,
    plannedCells: planned.length,
    missingCells: missing,
    warnings,
  };
}

/** The attempt's report fields only (no response text, code, tokens or feedback). */
function slimAttempt(e: AttemptEvent): AttemptEvent {
  return {
    type: 'attempt',
    task: e.task,
    strategy: e.strategy,
    seed: e.seed,
    k: e.k,
    step: e.step,
    reward: e.reward,
    private_reward: e.private_reward,
    verdict: e.verdict,
    tokens: e.tokens,
    ms: e.ms,
    ...(e.grade_ms !== undefined && { grade_ms: e.grade_ms }),
  };
}
