/**
 * Several run directories (the shards of one grid, or a run and its copy) taken as one run:
 * `ttsd report DIR...` analyses them together and `ttsd merge DIR... --out DIR` writes one log
 * that report and --resume accept like any run. Both go through `combineRuns`: the runs must have
 * the same experiment (settings other than MACHINE_SETTINGS), every cell is taken from the first
 * input that holds it, and a cell held by two inputs must be the same there (same events apart
 * from timings) — it is counted once, never twice, and a conflict is refused, never resolved by
 * a guess. Planned cells (tasks × strategies × seeds of the run event) held by no input are
 * reported as missing rather than shrinking the denominator.
 */
import { createHash, type Hash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { UserError } from '../errors.js';
import { kebab, MACHINE_SETTINGS } from './config.js';
import { cellOf, EVENTS_FILE, readEventFile, type RunDoneEvent, type RunEvent, type RunStartEvent } from './events.js';
import { cellKey } from './history.js';
import { shardLabel } from './shards.js';

export interface CellId {
  task: string;
  strategy: string;
  seed: number;
}

interface ScannedCell {
  id: CellId;
  hash: Hash;
  digest?: string;
  done: boolean;
}

export interface ScannedRun {
  /** the directory as given (messages name it so) */
  dir: string;
  /** its events.jsonl as named in messages */
  file: string;
  run: RunStartEvent;
  cells: Map<string, ScannedCell>;
  finished: boolean;
  tornLine: number | null;
}

/** Fields that differ between two runs of the same cell on different machines or loads. */
const TIMING_FIELDS = new Set(['ms', 'grade_ms']);

/**
 * Reads one run directory through the one event reader: the log must start with its run event
 * and hold only one; each cell's events are fingerprinted (timings aside) so that copies of a
 * cell in several inputs can be compared without holding them. `onEvent` sees every event.
 */
export async function scanRun(dir: string, onEvent: (event: RunEvent) => void = () => {}): Promise<ScannedRun> {
  const info = fs.statSync(dir, { throwIfNoEntry: false });
  if (!info) throw new UserError(`run directory not found: ${dir}`);
  if (!info.isDirectory()) throw new UserError(`not a directory: ${dir}`);
  const file = path.join(dir, EVENTS_FILE);
  if (!fs.existsSync(file)) throw new UserError(`no ${EVENTS_FILE} in ${dir}`);
  const scanner = new RunScanner(dir, file, onEvent);
  const { tornLine } = await readEventFile(file, (event, line) => scanner.event(event, line));
  return scanner.finish(tornLine);
}

/** The scanning of one log, fed event by event (also from text held in memory). */
export class RunScanner {
  private run: RunStartEvent | undefined;
  private readonly cells = new Map<string, ScannedCell>();
  private finished = false;

  constructor(
    readonly dir: string,
    readonly source: string,
    private readonly onEvent: (event: RunEvent) => void = () => {},
  ) {}

  event(event: RunEvent, line: number): void {
    if (event.type === 'run') {
      if (this.run) throw new UserError(`${this.source}:${line}: a second run event (one log holds one run)`);
      this.run = event;
    } else if (!this.run) {
      throw new UserError(`${this.source}:${line}: the log must start with a run event, found a ${event.type} event`);
    }
    const id = cellOf(event);
    if (id) {
      const key = cellKey(id.task, id.strategy, id.seed);
      let cell = this.cells.get(key);
      if (!cell) this.cells.set(key, (cell = { id, hash: createHash('sha256'), done: false }));
      if (cell.done) throw new UserError(`${this.source}:${line}: a ${event.type} event for ${describeCell(id)} after its cell_done`);
      cell.hash.update(JSON.stringify(event, (name, value) => (TIMING_FIELDS.has(name) ? undefined : value)) + '\n');
      if (event.type === 'cell_done') cell.done = true;
    }
    if (event.type === 'run_done') this.finished = true;
    this.onEvent(event);
  }

  finish(tornLine: number | null): ScannedRun {
    if (!this.run) throw new UserError(`${this.source} has no "run" event: not a ttsd run log`);
    for (const cell of this.cells.values()) cell.digest = cell.hash.digest('hex');
    return { dir: this.dir, file: this.source, run: this.run, cells: this.cells, finished: this.finished, tornLine };
  }
}

export interface CombinedRuns {
  /** the first input's run event as the whole grid's (shard null) */
  run: RunStartEvent;
  /** cell key → index of the input whose events count for it */
  owner: Map<string, number>;
  planned: CellId[];
  missing: CellId[];
  /** every planned cell closed by a cell_done */
  complete: boolean;
}

/** The planned cells in cellsOf's order (seed, task, strategy). */
export function plannedCells(run: RunStartEvent): CellId[] {
  const cells: CellId[] = [];
  for (const seed of run.seeds) for (const task of run.tasks) for (const strategy of run.strategies) cells.push({ task, seed, strategy });
  return cells;
}

export function combineRuns(inputs: ScannedRun[]): CombinedRuns {
  if (inputs.length === 0) throw new UserError('no run directory given');
  for (const other of inputs.slice(1)) checkSameExperiment(inputs[0], other);
  const owner = new Map<string, number>();
  inputs.forEach((input, i) => {
    for (const [key, cell] of input.cells) {
      const first = owner.get(key);
      if (first === undefined) {
        owner.set(key, i);
      } else if (inputs[first].cells.get(key)!.digest !== cell.digest || inputs[first].cells.get(key)!.done !== cell.done) {
        throw new UserError(`${describeCell(cell.id)} is in both ${inputs[first].dir} and ${input.dir} with different events; a cell may be in several inputs only if it is identical there`);
      }
    }
  });
  const planned = plannedCells(inputs[0].run);
  const missing = planned.filter((c) => !owner.has(cellKey(c.task, c.strategy, c.seed)));
  const complete = missing.length === 0 && planned.every((c) => {
    const key = cellKey(c.task, c.strategy, c.seed);
    return inputs[owner.get(key)!].cells.get(key)!.done;
  });
  return { run: { ...inputs[0].run, shard: null }, owner, planned, missing, complete };
}

export const describeCell = (c: CellId): string => `cell ${c.task}/${c.strategy}/seed ${c.seed}`;

/**
 * Refuses runs of different experiments. Compared: budget, strategies (labels), seeds, task ids,
 * protocols and every recorded setting except the machine's (MACHINE_SETTINGS) and the path the
 * tasks were loaded from (the task ids are compared; the file may sit elsewhere on each machine).
 */
function checkSameExperiment(a: ScannedRun, b: ScannedRun): void {
  const differences: string[] = [];
  const compare = (name: string, x: unknown, y: unknown) => {
    if (JSON.stringify(x) !== JSON.stringify(y)) differences.push(`${name} ${JSON.stringify(x) ?? 'unset'} vs ${JSON.stringify(y) ?? 'unset'}`);
  };
  for (const key of ['budget', 'strategies', 'seeds', 'tasks', 'protocols'] as const) compare(key, a.run[key], b.run[key]);
  const ignored = new Set<string>([...MACHINE_SETTINGS, 'tasks']);
  const settings = (run: RunStartEvent) => (run.config ?? {}) as Record<string, unknown>;
  const keys = new Set([...Object.keys(settings(a.run)), ...Object.keys(settings(b.run))]);
  for (const key of keys) if (!ignored.has(key)) compare(`--${kebab(key)}`, settings(a.run)[key], settings(b.run)[key]);
  if (differences.length > 0) {
    const shown = differences.slice(0, 3).join(', ') + (differences.length > 3 ? `, and ${differences.length - 3} more` : '');
    throw new UserError(`${b.dir} is not the same experiment as ${a.dir}: ${shown}`);
  }
  if (a.run.shard && b.run.shard && a.run.shard.count !== b.run.shard.count) {
    throw new UserError(`${a.dir} is shard ${shardLabel(a.run.shard)} but ${b.dir} is shard ${shardLabel(b.run.shard)}: shards of different partitions overlap`);
  }
}

/**
 * `ttsd merge DIR... --out OUT`: one events.jsonl holding the run event (shard null, the inputs
 * in merged_from), each cell's events from the input that owns it, the inputs' resume and
 * utilisation events, and a run_done only when every planned cell is done (so --resume of OUT
 * finishes the rest). The inputs' other files (trainer state, adapters) are copied — as reflinks
 * where the file system has them — to the same relative paths, so adapter paths logged relative
 * to a run directory stay valid and a resume of an unfinished cell finds its trainer state. Not
 * hard links: a resumed trainer rewriting its state in place would change the input too. The log is
 * written to a temporary name and renamed: OUT holds a complete merged log or none.
 */
export async function mergeRuns(dirs: string[], out: string): Promise<{ cells: number; missing: CellId[]; complete: boolean; attempts: number; files: number }> {
  const outFile = path.join(out, EVENTS_FILE);
  if (fs.existsSync(outFile)) throw new UserError(`${outFile} already holds a run; merge into a new directory`);
  for (const dir of dirs) {
    if (path.resolve(dir) === path.resolve(out)) throw new UserError(`--out ${out} is one of the inputs; merge into a new directory`);
  }
  const inputs: ScannedRun[] = [];
  for (const dir of dirs) inputs.push(await scanRun(dir));
  const combined = combineRuns(inputs);
  const files = plannedLinks(dirs, out);

  fs.mkdirSync(out, { recursive: true });
  for (const { from, to } of files) copyInto(from, to);
  const temporary = path.join(out, `.${EVENTS_FILE}.merging`);
  const fd = fs.openSync(temporary, 'w');
  let attempts = 0;
  try {
    const write = (event: RunEvent) => void fs.writeSync(fd, JSON.stringify(event) + '\n');
    write({ ...combined.run, shard: null, merged_from: dirs.map((d) => path.resolve(d)) });
    for (let i = 0; i < dirs.length; i++) {
      await readEventFile(path.join(dirs[i], EVENTS_FILE), (event) => {
        const id = cellOf(event);
        if (id) {
          if (combined.owner.get(cellKey(id.task, id.strategy, id.seed)) !== i) return;
          if (event.type === 'attempt') attempts++;
          write(event);
        } else if (event.type === 'resume' || event.type === 'utilisation') {
          write(event);
        }
      });
    }
    if (combined.complete) {
      const done: RunDoneEvent = { type: 'run_done', at: new Date().toISOString(), cells: combined.planned.length, attempts };
      write(done);
    }
    fs.fsyncSync(fd);
  } catch (error) {
    fs.closeSync(fd);
    fs.rmSync(temporary, { force: true });
    throw error;
  }
  fs.closeSync(fd);
  fs.renameSync(temporary, outFile);
  return { cells: combined.owner.size, missing: combined.missing, complete: combined.complete, attempts, files: files.length };
}

/** Every file of the inputs except their logs and reports; the same path in two inputs must hold the same bytes. */
function plannedLinks(dirs: string[], out: string): { from: string; to: string }[] {
  const byTarget = new Map<string, string>();
  const skip = new Set([EVENTS_FILE, 'report.html']);
  const walk = (root: string, relative: string) => {
    for (const entry of fs.readdirSync(path.join(root, relative), { withFileTypes: true })) {
      const rel = path.join(relative, entry.name);
      if (relative === '' && skip.has(entry.name)) continue;
      if (entry.isDirectory()) walk(root, rel);
      else if (entry.isFile()) {
        const from = path.join(root, rel);
        const seen = byTarget.get(rel);
        if (seen === undefined) byTarget.set(rel, from);
        else if (!sameBytes(seen, from)) throw new UserError(`${seen} and ${from} differ; both would become ${path.join(out, rel)}`);
      }
    }
  };
  for (const dir of dirs) walk(dir, '');
  return [...byTarget].map(([rel, from]) => ({ from, to: path.join(out, rel) }));
}

function sameBytes(a: string, b: string): boolean {
  if (fs.statSync(a).size !== fs.statSync(b).size) return false;
  return fs.readFileSync(a).equals(fs.readFileSync(b));
}

function copyInto(from: string, to: string): void {
  fs.mkdirSync(path.dirname(to), { recursive: true });
  if (fs.existsSync(to)) {
    if (sameBytes(from, to)) return;
    throw new UserError(`${to} already exists with other content`);
  }
  fs.copyFileSync(from, to, fs.constants.COPYFILE_FICLONE);
}
