/**
 * Loads tasks in LiveCodeBench's record format (code_generation_lite): LCB's own release files
 * (test.jsonl … test6.jsonl), the project's task files, or a directory of such files.
 * Every problem with the input is reported as a UserError naming file and line.
 */
import { createReadStream } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { UserError } from '../errors.js';
import { decodeLcbPrivateTests, PickleError } from './pickle.js';
import type { Task, TestCase } from './types.js';

const DIFFICULTIES = new Set(['easy', 'medium', 'hard']);
const TEST_TYPES = new Set(['stdin', 'functional']);

/** Loads every task of a .jsonl file, or of all .jsonl files in a directory (natural name order). */
export async function loadTasks(path: string): Promise<Task[]> {
  const info = await stat(path).catch(() => {
    throw new UserError(`task file or directory not found: ${path}`);
  });
  const files = info.isDirectory() ? await taskFilesIn(path) : [path];
  const tasks: Task[] = [];
  const seen = new Map<string, string>();
  for (const file of files) {
    for (const { task, where } of await loadTaskFile(file)) {
      const earlier = seen.get(task.id);
      if (earlier) throw new UserError(`${where}: duplicate question_id ${task.id} (first at ${earlier})`);
      seen.set(task.id, where);
      tasks.push(task);
    }
  }
  return tasks;
}

/**
 * The .jsonl files of a directory in natural order, so LCB's test.jsonl, test2.jsonl, …,
 * test10.jsonl keep the dataset's own order (which the LCBv6 presets depend on).
 */
export async function taskFilesIn(dir: string): Promise<string[]> {
  const names = (await readdir(dir)).filter((name) => name.endsWith('.jsonl'));
  if (names.length === 0) throw new UserError(`no .jsonl task files in ${dir}`);
  names.sort(naturalCompare);
  return names.map((name) => join(dir, name));
}

/** "test.jsonl" < "test2.jsonl" < "test10.jsonl". */
export function naturalCompare(a: string, b: string): number {
  return a.localeCompare(b, 'en', { numeric: true });
}

async function loadTaskFile(file: string): Promise<{ task: Task; where: string }[]> {
  const lines = createInterface({ input: createReadStream(file), crlfDelay: Infinity });
  const out: { task: Task; where: string }[] = [];
  let lineNumber = 0;
  try {
    for await (let line of lines) {
      lineNumber++;
      // Editors on some systems prepend a byte-order mark; it is not part of the JSON.
      if (lineNumber === 1 && line.startsWith('\uFEFF')) line = line.slice(1);
      if (line.trim() === '') continue;
      const where = `${file}:${lineNumber}`;
      let record: unknown;
      try {
        record = JSON.parse(line);
      } catch {
        throw new UserError(`${where}: not a JSON object (each line must be one task record)`);
      }
      out.push({ task: parseTaskRecord(record, where), where });
    }
  } catch (error) {
    if (error instanceof UserError) throw error;
    throw new UserError(`cannot read ${file}: ${(error as Error).message}`);
  }
  return out;
}

/** Decodes one LCB record; `where` ("file:line") prefixes every error. */
export function parseTaskRecord(record: unknown, where: string): Task {
  if (typeof record !== 'object' || record === null || Array.isArray(record)) {
    throw new UserError(`${where}: not a JSON object (each line must be one task record)`);
  }
  const r = record as Record<string, unknown>;
  const text = (field: string, required = true): string => {
    const value = r[field];
    if (value === undefined || value === null) {
      if (required) throw new UserError(`${where}: missing field ${field}`);
      return '';
    }
    if (typeof value !== 'string' && typeof value !== 'number') throw new UserError(`${where}: ${field} must be a string`);
    return String(value);
  };

  const id = text('question_id');
  if (id.trim() === '') throw new UserError(`${where}: question_id is empty`);
  const difficulty = text('difficulty');
  if (!DIFFICULTIES.has(difficulty)) {
    throw new UserError(`${where}: difficulty must be easy, medium or hard (got ${JSON.stringify(difficulty)})`);
  }
  const contestDate = text('contest_date');
  if (Number.isNaN(dateMillis(contestDate))) throw new UserError(`${where}: contest_date is not an ISO date (${contestDate})`);

  const metadata = parseMetadata(r.metadata, where);
  const funcName = typeof metadata.func_name === 'string' && metadata.func_name !== '' ? metadata.func_name : undefined;
  const wantType = funcName ? 'functional' : 'stdin';
  const checkTypes = (tests: TestCase[]): TestCase[] => {
    for (const test of tests) {
      if (test.testtype !== wantType) {
        throw new UserError(
          `${where}: task ${id} has a ${test.testtype} test but ${funcName ? `metadata.func_name is ${funcName}` : 'no metadata.func_name'}`,
        );
      }
    }
    return tests;
  };
  const publicTests = checkTypes(parseTests(parsePublicJson(r.public_test_cases, where), 'public_test_cases', where));
  const rawPrivate = r.private_test_cases;
  const decodePrivate = (): TestCase[] => checkTypes(parseTests(parsePrivateJson(rawPrivate, where), 'private_test_cases', where));
  // Real LCB release rows carry up to tens of MB of encoded private tests each; decoding a whole
  // release up front would hold gigabytes. Large encoded blobs are decoded on first use instead.
  const lazy = typeof rawPrivate === 'string' && rawPrivate.length > LAZY_PRIVATE_TESTS_CHARS && !looksLikeJson(rawPrivate);
  const privateTests = lazy ? undefined : decodePrivate();
  if (privateTests && publicTests.length + privateTests.length === 0) throw new UserError(`${where}: task ${id} has no tests`);

  const task: Task = {
    id,
    title: text('question_title', false),
    content: text('question_content'),
    platform: text('platform'),
    contestId: text('contest_id', false),
    contestDate,
    difficulty: difficulty as Task['difficulty'],
    starterCode: text('starter_code', false),
    publicTests,
    privateTests: privateTests ?? [],
    metadata,
  };
  if (funcName) task.funcName = funcName;
  if (r.reference_solution !== undefined && r.reference_solution !== null) {
    if (typeof r.reference_solution !== 'string') throw new UserError(`${where}: reference_solution must be a string`);
    if (r.reference_solution.trim() !== '') task.referenceSolution = r.reference_solution;
  }
  if (!privateTests) definePrivateTestsLazily(task, decodePrivate);
  return task;
}

/** Encoded private tests longer than this (characters) are decoded on first access. */
export const LAZY_PRIVATE_TESTS_CHARS = 1 << 20;

interface LazyTests {
  decode: () => TestCase[];
  cached?: TestCase[];
}
const lazyTests = new WeakMap<Task, LazyTests>();

/**
 * Makes `task.privateTests` a memoizing getter (enumerable, so JSON and spreads still see the
 * tests). A decoding error surfaces at first access, as the same file:line UserError.
 */
function definePrivateTestsLazily(task: Task, decode: () => TestCase[]): void {
  const state: LazyTests = { decode };
  lazyTests.set(task, state);
  Object.defineProperty(task, 'privateTests', {
    enumerable: true,
    configurable: true,
    get: () => (state.cached ??= state.decode()),
    set: (value: TestCase[]) => {
      state.cached = value;
    },
  });
}

/**
 * The number of private tests, without keeping lazily decoded tests in memory (for listings of
 * whole LCB releases); always equal to `task.privateTests.length`.
 */
export function privateTestCount(task: Task): number {
  const state = lazyTests.get(task);
  if (state && !state.cached) return state.decode().length;
  return task.privateTests.length;
}

/** Whether a task's private tests are still encoded (decoded on first access). */
export function privateTestsPending(task: Task): boolean {
  const state = lazyTests.get(task);
  return state !== undefined && state.cached === undefined;
}

function looksLikeJson(text: string): boolean {
  const head = text.trimStart();
  return head.startsWith('[') || head.startsWith('{');
}

/** Milliseconds since the epoch; a date without a zone is read as UTC (LCB dates carry none). */
export function dateMillis(iso: string): number {
  const s = iso.trim();
  if (!/^\d{4}-\d{2}-\d{2}/.test(s)) return Number.NaN;
  const hasZone = /(Z|[+-]\d{2}:?\d{2})$/i.test(s) && s.length > 10;
  const full = s.length === 10 ? `${s}T00:00:00Z` : hasZone ? s : `${s}Z`;
  return Date.parse(full);
}

function parseMetadata(value: unknown, where: string): Record<string, unknown> {
  if (value === undefined || value === null || value === '') return {};
  let parsed = value;
  if (typeof value === 'string') {
    try {
      parsed = JSON.parse(value);
    } catch {
      throw new UserError(`${where}: metadata is not valid JSON`);
    }
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new UserError(`${where}: metadata must be a JSON object`);
  }
  return parsed as Record<string, unknown>;
}

function parsePublicJson(value: unknown, where: string): unknown {
  if (value === undefined || value === null) throw new UserError(`${where}: missing field public_test_cases`);
  if (typeof value !== 'string') return value; // already-parsed arrays are accepted too
  try {
    return JSON.parse(value);
  } catch {
    throw new UserError(`${where}: public_test_cases is not valid JSON`);
  }
}

/** LCB's own rule: try JSON first, otherwise base64 → zlib → pickle → JSON. */
function parsePrivateJson(value: unknown, where: string): unknown {
  if (value === undefined || value === null || value === '') return [];
  if (typeof value !== 'string') return value;
  if (looksLikeJson(value)) {
    try {
      return JSON.parse(value);
    } catch {
      throw new UserError(`${where}: private_test_cases is not valid JSON`);
    }
  }
  let json: string;
  try {
    json = decodeLcbPrivateTests(value);
  } catch (error) {
    const reason = error instanceof PickleError ? error.message : String(error);
    throw new UserError(`${where}: private_test_cases is neither JSON nor base64→zlib→pickle (${reason})`);
  }
  try {
    return JSON.parse(json);
  } catch {
    throw new UserError(`${where}: private_test_cases decodes to text that is not valid JSON`);
  }
}

function parseTests(value: unknown, field: string, where: string): TestCase[] {
  if (!Array.isArray(value)) throw new UserError(`${where}: ${field} must be a JSON array of tests`);
  return value.map((item, index) => {
    const t = item as Record<string, unknown> | null;
    if (typeof t !== 'object' || t === null || typeof t.input !== 'string' || typeof t.output !== 'string') {
      throw new UserError(`${where}: ${field}[${index}] needs string fields input and output`);
    }
    if (typeof t.testtype !== 'string' || !TEST_TYPES.has(t.testtype)) {
      throw new UserError(`${where}: ${field}[${index}].testtype must be stdin or functional`);
    }
    return { input: t.input, output: t.output, testtype: t.testtype as TestCase['testtype'] };
  });
}
