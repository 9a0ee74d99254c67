import { mkdtemp, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { UserError } from '../../src/errors.js';
import { randomBytes } from 'node:crypto';
import { deflateSync } from 'node:zlib';
import { dateMillis, LAZY_PRIVATE_TESTS_CHARS, loadTasks, naturalCompare, privateTestCount, privateTestsPending } from '../../src/tasks/load.js';

// A verbatim copy of the 30 real LCB rows in ../shared/data/lcb-sample (see its README).
const SAMPLE = new URL('./fixtures/lcb-sample-problems.jsonl', import.meta.url).pathname;

function record(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    question_title: 'Echo',
    question_content: 'Print the input.',
    platform: 'ttsd',
    question_id: 'echo',
    contest_id: 'c1',
    contest_date: '2024-01-02T00:00:00',
    starter_code: '',
    difficulty: 'easy',
    public_test_cases: JSON.stringify([{ input: '1\n', output: '1\n', testtype: 'stdin' }]),
    private_test_cases: JSON.stringify([{ input: '2\n', output: '2\n', testtype: 'stdin' }]),
    metadata: '{}',
    ...overrides,
  };
}

async function writeLines(lines: string[]): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'ttsd-load-'));
  const file = join(dir, 'x.jsonl');
  await writeFile(file, lines.join('\n') + '\n');
  return file;
}

async function loadError(lines: string[]): Promise<string> {
  const file = await writeLines(lines);
  const error = await loadTasks(file).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(UserError);
  return (error as Error).message.replaceAll(file, 'FILE');
}

describe('loadTasks on the real LiveCodeBench sample', () => {
  it('loads all 30 rows: 12 functional (LeetCode), 18 stdin, with fields decoded', async () => {
    const tasks = await loadTasks(SAMPLE);
    expect(tasks).toHaveLength(30);
    const functional = tasks.filter((t) => t.funcName);
    expect(functional).toHaveLength(12);
    expect(functional.every((t) => t.platform === 'leetcode' && t.starterCode.includes('class Solution'))).toBe(true);
    expect(tasks.filter((t) => !t.funcName)).toHaveLength(18);
    const seniors = tasks.find((t) => t.id === '2727')!;
    expect(seniors.funcName).toBe('countSeniors');
    expect(seniors.metadata).toEqual({ func_name: 'countSeniors' });
    expect(seniors.publicTests[0]).toEqual({
      input: '["7868190130M7522", "5303914400F9211", "9273338290F4010"]',
      output: '2',
      testtype: 'functional',
    });
    expect(new Set(tasks.map((t) => t.difficulty))).toEqual(new Set(['easy', 'medium', 'hard']));
  });

  it("decodes 1873_A's base64 → zlib → pickle private tests (4 real tests)", async () => {
    const task = (await loadTasks(SAMPLE)).find((t) => t.id === '1873_A')!;
    expect(task.title).toBe('A. Short Sort');
    expect(task.contestDate).toBe('2023-08-21T00:00:00');
    expect(task.privateTests).toHaveLength(4);
    expect(task.privateTests[0]).toEqual({ input: '1\nabc\n', output: 'YES\n', testtype: 'stdin' });
    expect(task.privateTests[2]).toEqual({ input: '5\ncab\nacb\ncba\nbac\nbca\n', output: 'NO\nYES\nYES\nYES\nNO\n', testtype: 'stdin' });
    expect(task.privateTests.every((t) => t.testtype === 'stdin')).toBe(true);
  });
});

describe('loadTasks on the project format and directories', () => {
  it('accepts already-parsed test arrays and a metadata object, and keeps natural file order in a directory', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ttsd-dir-'));
    await mkdir(join(dir, 'ignored-subdir'));
    await writeFile(join(dir, 'notes.txt'), 'not a task file');
    await writeFile(join(dir, 'test10.jsonl'), JSON.stringify(record({ question_id: 'c' })) + '\n');
    await writeFile(join(dir, 'test2.jsonl'), JSON.stringify(record({ question_id: 'b' })) + '\n\n');
    const functional = record({
      question_id: 'a',
      metadata: { func_name: 'f' },
      public_test_cases: [{ input: '[1]', output: '1', testtype: 'functional' }],
      private_test_cases: '[]',
      starter_code: 'class Solution:\n    def f(self, xs):\n        ',
    });
    await writeFile(join(dir, 'test.jsonl'), JSON.stringify(functional) + '\n');
    const tasks = await loadTasks(dir);
    expect(tasks.map((t) => t.id)).toEqual(['a', 'b', 'c']);
    expect(tasks[0].funcName).toBe('f');
    expect(tasks[0].privateTests).toEqual([]);
  });

  it('ignores a byte-order mark at the start of a file', async () => {
    const [task] = await loadTasks(await writeLines(['\uFEFF' + JSON.stringify(record())]));
    expect(task.id).toBe('echo');
  });

  it('sorts file names naturally and reads zone-less dates as UTC', () => {
    expect(['test10.jsonl', 'test.jsonl', 'test2.jsonl'].sort(naturalCompare)).toEqual(['test.jsonl', 'test2.jsonl', 'test10.jsonl']);
    expect(dateMillis('2025-02-01')).toBe(Date.UTC(2025, 1, 1));
    expect(dateMillis('2025-02-01T12:30:00')).toBe(Date.UTC(2025, 1, 1, 12, 30));
    expect(dateMillis('2025-02-01T12:30:00+02:00')).toBe(Date.UTC(2025, 1, 1, 10, 30));
    expect(dateMillis('yesterday')).toBeNaN();
  });
});

describe('malformed task files give one clear line naming file and line', () => {
  const ok = JSON.stringify(record());
  it.each([
    ['FILE:2: not a JSON object (each line must be one task record)', [ok, '{oops']],
    ['FILE:2: not a JSON object (each line must be one task record)', [ok, '[1,2]']],
    ['FILE:3: private_test_cases is not valid JSON', [ok, '', JSON.stringify(record({ question_id: 'z', private_test_cases: '[{"input": ' }))]],
    ['FILE:1: private_test_cases is neither JSON nor base64→zlib→pickle (not base64)', [JSON.stringify(record({ private_test_cases: 'eJxrYJmaz8gABh!!' }))]],
    ['FILE:1: public_test_cases is not valid JSON', [JSON.stringify(record({ public_test_cases: 'nope' }))]],
    ['FILE:1: public_test_cases must be a JSON array of tests', [JSON.stringify(record({ public_test_cases: '{}' }))]],
    ['FILE:1: public_test_cases[0] needs string fields input and output', [JSON.stringify(record({ public_test_cases: '[{"input": 1, "output": "1", "testtype": "stdin"}]' }))]],
    ['FILE:1: public_test_cases[0].testtype must be stdin or functional', [JSON.stringify(record({ public_test_cases: '[{"input": "1", "output": "1", "testtype": "exec"}]' }))]],
    ['FILE:1: metadata is not valid JSON', [JSON.stringify(record({ metadata: '{"func_name": ' }))]],
    ['FILE:1: task echo has a stdin test but metadata.func_name is f', [JSON.stringify(record({ metadata: '{"func_name": "f"}' }))]],
    ['FILE:1: difficulty must be easy, medium or hard (got "insane")', [JSON.stringify(record({ difficulty: 'insane' }))]],
    ['FILE:1: contest_date is not an ISO date (soon)', [JSON.stringify(record({ contest_date: 'soon' }))]],
    ['FILE:1: missing field question_id', [JSON.stringify(record({ question_id: undefined }))]],
    ['FILE:1: task echo has no tests', [JSON.stringify(record({ public_test_cases: '[]', private_test_cases: '[]' }))]],
    ['FILE:2: duplicate question_id echo (first at FILE:1)', [ok, ok]],
  ])('%s', async (message, lines) => {
    expect(await loadError(lines as string[])).toBe(message);
  });

  it('a missing path or an empty directory is a UserError', async () => {
    await expect(loadTasks('/nonexistent/tasks.jsonl')).rejects.toThrow('task file or directory not found: /nonexistent/tasks.jsonl');
    const empty = await mkdtemp(join(tmpdir(), 'ttsd-empty-'));
    await expect(loadTasks(empty)).rejects.toThrow(`no .jsonl task files in ${empty}`);
  });
});

/** LCB's encoding of a JSON text: pickle protocol 4 (BINUNICODE) → zlib → base64. */
function lcbEncode(json: string): string {
  const body = Buffer.from(json, 'utf8');
  const length = Buffer.alloc(4);
  length.writeUInt32LE(body.length);
  const pickle = Buffer.concat([Buffer.from([0x80, 0x04, 0x58]), length, body, Buffer.from([0x2e])]);
  return deflateSync(pickle).toString('base64');
}

describe('large encoded private tests (real LCB releases) are decoded on first use', () => {
  // Random hex barely compresses, so the encoded blob is well over the lazy threshold.
  const tests = Array.from({ length: 40 }, (_, i) => ({ input: randomBytes(40_000).toString('hex'), output: `${i}\n`, testtype: 'stdin' }));
  const encoded = lcbEncode(JSON.stringify(tests));

  it('keeps them encoded until accessed, then decodes once', async () => {
    expect(encoded.length).toBeGreaterThan(LAZY_PRIVATE_TESTS_CHARS);
    const [task] = await loadTasks(await writeLines([JSON.stringify(record({ private_test_cases: encoded }))]));
    expect(privateTestsPending(task)).toBe(true);
    expect(privateTestCount(task)).toBe(40);
    expect(privateTestsPending(task)).toBe(true); // counting does not keep them
    expect(task.privateTests).toEqual(tests);
    expect(privateTestsPending(task)).toBe(false);
    expect(task.privateTests).toBe(task.privateTests);
    expect(JSON.parse(JSON.stringify(task)).privateTests).toHaveLength(40);
    expect({ ...task }.privateTests).toHaveLength(40);
  });

  it('reports a corrupt large blob as file:line when it is first used', async () => {
    const corrupt = Buffer.from(encoded, 'base64');
    corrupt[100] ^= 0xff;
    const file = await writeLines([JSON.stringify(record({ private_test_cases: corrupt.toString('base64') }))]);
    const [task] = await loadTasks(file);
    expect(() => task.privateTests).toThrow(UserError);
    expect(() => task.privateTests).toThrow(`${file}:1: private_test_cases is neither JSON nor base64→zlib→pickle (base64 but not zlib data`);
  });
});
