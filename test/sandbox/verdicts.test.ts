// Real Docker engine: every attempt runs in a fresh sandbox container. ~30–60 s on 2 busy cores.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { submissionFromResponse } from '../../src/feedback/index.js';
import { DockerGrader } from '../../src/sandbox/docker-grader.js';
import { ownContainers } from '../../src/sandbox/engine.js';
import { ADD_OK, ADD_TASK, functionalTask, stdinTask, SUM_OK, SUM_TASK } from './helpers.js';

let grader: DockerGrader;
beforeAll(async () => {
  grader = await DockerGrader.create({ concurrency: 2, limits: { memoryMb: 256 } });
});
afterAll(async () => {
  await grader?.close();
  expect(await ownContainers(grader.docker)).toEqual([]);
});

const fast = { timeoutSeconds: 1 };

describe('verdicts and feedback on a stdin task', () => {
  it('accepted', async () => {
    const r = await grader.grade(SUM_TASK, { code: SUM_OK });
    expect(r).toMatchObject({ verdict: 'accepted', passed: 3, total: 3, feedback: '', lcb: { error_code: 0 } });
  });

  it('wrong answer: LCB metadata of the first failing test, two cases in the feedback', async () => {
    const r = await grader.grade(SUM_TASK, { code: 'a, b = map(int, input().split())\nprint(a - b)\n' });
    expect(r.verdict).toBe('wrong_answer');
    expect(r.passed).toBe(0);
    expect(r.lcb).toMatchObject({ error_code: -2, inputs: '1 2\n', output: '-1\n', expected: '3\n' });
    expect(r.lcb.error_message).toBe('Wrong answer at output_line_idx=0: -1 != 3');
    expect(r.feedback).toBe(
      'Test Case 1: Wrong Answer\nInput\n1 2\nOutput\n-1\nExpected\n3\n\nTest Case 2: Wrong Answer\nInput\n10 -4\nOutput\n14\nExpected\n6',
    );
  });

  it('time limit, with the last executed input', async () => {
    const r = await grader.grade(SUM_TASK, { code: 'a, b = map(int, input().split())\nwhile b != 6: pass\nprint(a + b)\n' }, fast);
    // Tests 1 loops forever (b = 2): the first failing test decides.
    expect(r).toMatchObject({ verdict: 'time_limit', passed: 0, lcb: { error_code: -3, error_message: 'Time Limit Exceeded' } });
    expect(r.feedback).toBe('Time Limit Exceeded\nLast Executed Input\n1 2');
  });

  it('runtime error: exception, the solution’s own frames with its line numbers, last input', async () => {
    const code = 'import sys\n\ndef inverse(x):\n    return 1 // x\n\na, b = map(int, input().split())\nprint(a + b if a != 10 else inverse(0))\n';
    const r = await grader.grade(SUM_TASK, { code });
    expect(r).toMatchObject({ verdict: 'runtime_error', passed: 1, lcb: { error_code: -4, error_message: 'Runtime Error' } });
    expect(r.lcb.error).toBe("ZeroDivisionError('integer division or modulo by zero')");
    expect(r.feedback).toBe(
      'Runtime Error\nZeroDivisionError: integer division or modulo by zero\nLine 4 in inverse (Solution.py)\nLine 7 in <module> (Solution.py)\nLast Executed Input\n10 -4',
    );
  });

  it('memory limit (cgroup OOM kill, told apart from a timeout)', async () => {
    const r = await grader.grade(SUM_TASK, { code: 'x = bytearray(1 << 30)\nprint(len(x))\n' });
    expect(r.verdict).toBe('memory_limit');
    expect(r.feedback).toBe('Memory Limit Exceeded\nLast Executed Input\n1 2');
  });

  it('no code block → format error without starting a container', async () => {
    const r = await grader.grade(SUM_TASK, submissionFromResponse('I would add the numbers.', 'stop'));
    expect(r).toMatchObject({ verdict: 'format_error', passed: 0, total: 3 });
    expect(r.feedback).toMatch(/did not contain a code block/);
    const cut = await grader.grade(SUM_TASK, submissionFromResponse('Let me think step by step about', 'length'));
    expect(cut.feedback).toMatch(/cut off/);
  });

  it('syntax error: LCB reports a -4 testing error; the feedback points at the line', async () => {
    const r = await grader.grade(SUM_TASK, { code: 'a, b = map(int, input().split())\nprint((a + b)\n' });
    expect(r.verdict).toBe('runtime_error');
    expect(r.lcb.error_code).toBe(-4);
    expect(r.lcb.error_message).toMatch(/^Error during testing: '\(' was never closed \(<string>, line 2\)/);
    expect(r.feedback).toBe("Runtime Error\nSyntaxError: '(' was never closed\nLine 2 in <module> (Solution.py)");
  });
});

describe('verdicts and feedback on a functional (call-based) task', () => {
  it('accepted', async () => {
    expect(await grader.grade(ADD_TASK, { code: ADD_OK })).toMatchObject({ verdict: 'accepted', passed: 3, total: 3 });
  });

  it('wrong answer with LCB’s repr-style metadata', async () => {
    const r = await grader.grade(ADD_TASK, { code: 'class Solution:\n    def add(self, a, b):\n        return a * b\n' });
    expect(r.lcb).toMatchObject({ error_code: -2, error_message: 'Wrong Answer', inputs: '[1, 2]', output: '2', expected: '3' });
    expect(r.feedback).toMatch(/^Test Case 1: Wrong Answer\nInput\n1\n2\nOutput\n2\nExpected\n3\n\nTest Case 2: Wrong Answer/);
  });

  it('time limit', async () => {
    const r = await grader.grade(ADD_TASK, { code: 'class Solution:\n    def add(self, a, b):\n        while True: pass\n' }, fast);
    expect(r).toMatchObject({ verdict: 'time_limit', lcb: { error_code: -3 } });
    expect(r.feedback).toBe('Time Limit Exceeded\nLast Executed Input\n1\n2');
  });

  it('runtime error with frames in the submitted file’s numbering (after LCB’s prelude)', async () => {
    const code = 'from typing import List\n\nclass Solution:\n    def add(self, a, b):\n        return [a][b]\n';
    const r = await grader.grade(ADD_TASK, { code });
    expect(r.verdict).toBe('runtime_error');
    expect(r.feedback).toBe('Runtime Error\nIndexError: list index out of range\nLine 5 in add (Solution.py)\nLast Executed Input\n1\n2');
  });

  it('memory limit', async () => {
    const r = await grader.grade(ADD_TASK, { code: 'class Solution:\n    def add(self, a, b):\n        return len(bytearray(1 << 30))\n' });
    expect(r.verdict).toBe('memory_limit');
  });

  it('no code block and syntax error', async () => {
    expect((await grader.grade(ADD_TASK, { code: null })).verdict).toBe('format_error');
    const r = await grader.grade(ADD_TASK, { code: 'class Solution:\n    def add(self, a, b)\n        return a + b\n' });
    expect(r.verdict).toBe('runtime_error');
    expect(r.lcb.error_message).toMatch(/^Error during testing: expected ':' \(<string>, line 39\)/); // LCB execs 35 prelude lines + 2 blank ones first
    expect(r.feedback).toBe("Runtime Error\nSyntaxError: expected ':'\nLine 2 in <module> (Solution.py)");
  });

  it('a result whose comparison raises (a numpy array) is a runtime error of that test', async () => {
    const code = 'import numpy as np\nclass Solution:\n    def add(self, a, b):\n        return np.array([a, b])\n';
    const r = await grader.grade(ADD_TASK, { code });
    expect(r).toMatchObject({ verdict: 'runtime_error', passed: 0, lcb: { error_code: -4, error_message: 'Runtime Error' } });
    expect(r.feedback).toMatch(/^Runtime Error\nValueError: The truth value of an array with more than one element is ambiguous/);
  });

  it('a missing method is a -4 testing error, as in LCB', async () => {
    const r = await grader.grade(ADD_TASK, { code: 'class Solution:\n    def plus(self, a, b):\n        return a + b\n' });
    expect(r.verdict).toBe('runtime_error');
    expect(r.lcb.error_message).toBe('Error during testing: cannot unpack non-iterable NoneType object');
  });
});

describe('LiveCodeBench comparison rules', () => {
  it('no tests selected: the program is still loaded, and passes vacuously when it loads', async () => {
    const empty = stdinTask([]);
    const [ok, broken] = await Promise.all([
      grader.grade(empty, { code: SUM_OK }, { tests: 'private' }),
      grader.grade(empty, { code: 'def f(:\n' }, { tests: 'private' }),
    ]);
    expect(ok).toMatchObject({ verdict: 'accepted', passed: 0, total: 0 });
    expect(broken).toMatchObject({ verdict: 'runtime_error', total: 0 });
  });

  const one = (input: string, output: string) => stdinTask([[input, output]]);

  it('stdin: trailing spaces and blank lines are fine, Decimal-equal tokens are fine', async () => {
    const results = await Promise.all([
      grader.grade(one('', '3\n'), { code: 'print("3   ")\nprint()\nprint()' }),
      grader.grade(one('', '0.5 100\n'), { code: 'print("0.50 1e2")' }),
      grader.grade(one('', '1 2\n3\n'), { code: 'print("  1   2 ")\nprint(3)' }),
    ]);
    expect(results.map((r) => r.verdict)).toEqual(['accepted', 'accepted', 'accepted']);
  });

  it('stdin: float formatting differences and a different line count are wrong', async () => {
    const [float, lines] = await Promise.all([
      grader.grade(one('', '0.333333333333333333\n'), { code: 'print(1/3)' }),
      grader.grade(one('', '1\n2\n'), { code: 'print("1 2")' }),
    ]);
    expect(float.verdict).toBe('wrong_answer');
    expect(lines.verdict).toBe('wrong_answer');
    expect(lines.lcb.error_message).toBe('Wrong answer: mismatched output length');
  });

  it('functional: a returned tuple counts as a list, nested tuples and float noise do not', async () => {
    const pair = functionalTask('f', [['1', '[1, 2]']]);
    const nested = functionalTask('f', [['1', '[[1, 2]]']]);
    const float = functionalTask('f', [['1', '0.3']]);
    const fn = (body: string) => `class Solution:\n    def f(self, x):\n        return ${body}\n`;
    const results = await Promise.all([
      grader.grade(pair, { code: fn('(1, 2)') }),
      grader.grade(nested, { code: fn('[(1, 2)]') }),
      grader.grade(float, { code: fn('0.1 + 0.2') }),
    ]);
    expect(results.map((r) => r.verdict)).toEqual(['accepted', 'wrong_answer', 'wrong_answer']);
  });

  it('stdin programs: __main__ guard unwrapped, exit() allowed, open(0) and sys.stdin mocked like LCB', async () => {
    const task = stdinTask([['4 5\n', '9\n']]);
    const programs = [
      'import sys\ndef main():\n    a, b = map(int, sys.stdin.readline().split())\n    print(a + b)\n\nif __name__ == "__main__":\n    main()\n',
      'a, b = map(int, input().split())\nprint(a + b)\nexit()\nprint("never")\n',
      'import sys\nprint(sum(map(int, sys.stdin.read().split())))\n',
      // the prelude's `from builtins import *` binds the real open() before LCB patches it:
      // open(0) reads the grader's own (already consumed) stdin, so this fails in LCB too.
      'print(sum(map(int, open(0).read().split())))\n',
      // ...while builtins.open itself is LCB's mock_open(read_data=the input)
      'import builtins\nwith builtins.open(0) as f:\n    print(sum(map(int, f.read().split())))\n',
      // `from sys import stdin` is hoisted and binds the real stdin, whose readline LCB patches
      'from sys import stdin\na, b = map(int, stdin.readline().split())\nprint(a + b)\n',
      // numpy (preloaded by LCB's grader) and sortedcontainers are importable despite the guard
      'import numpy as np\nfrom sortedcontainers import SortedList\nprint(int(np.array(SortedList(map(int, input().split()))).sum()))\n',
    ];
    const results = await Promise.all(programs.map((code) => grader.grade(task, { code })));
    expect(results.map((r) => r.verdict)).toEqual(['accepted', 'accepted', 'accepted', 'wrong_answer', 'accepted', 'accepted', 'accepted']);
  });

  it('a stdin program of nothing but imports fails to load, as LCB’s body-less wrapper does', async () => {
    const r = await grader.grade(stdinTask([['1\n', '1\n']]), { code: 'import sys\nfrom math import gcd\n' });
    expect(r.verdict).toBe('runtime_error');
    expect(r.lcb.error_message).toMatch(/^Error during testing: expected an indented block after function definition/);
  });

  it('the time limit is per test, re-armed for each; the first failing test decides', async () => {
    const task = stdinTask([
      ['1\n', '1\n'],
      ['2\n', '2\n'],
      ['3\n', '3\n'],
      ['0\n', '0\n'],
      ['5\n', '6\n'],
    ]);
    const slow = 'import time\nn = int(input())\ntime.sleep(0.6)\nprint(n)\n';
    const r = await grader.grade(task, { code: slow }, fast); // 3 s of sleeping, 1 s per test
    expect(r).toMatchObject({ verdict: 'wrong_answer', passed: 4, total: 5 });
    const mixed = 'n = int(input())\nprint(10 // n)\n';
    const first = await grader.grade(task, { code: mixed });
    expect(first).toMatchObject({ verdict: 'wrong_answer', passed: 0 }); // test 1 (10 != 1) decides, not test 4's error
  });

  it('recursion and int-digit limits are raised as in LCB', async () => {
    const task = stdinTask([['20000\n', String(20000) + '\n']]);
    const deep = 'def depth(n):\n    return 0 if n == 0 else 1 + depth(n - 1)\nprint(depth(int(input())))\n';
    const digits = stdinTask([['', '1' + '0'.repeat(20000) + '\n']]);
    const [r1, r2] = await Promise.all([
      grader.grade(task, { code: deep }),
      grader.grade(digits, { code: 'print(10 ** 20000)' }),
    ]);
    expect(r1.verdict).toBe('accepted');
    expect(r2.verdict).toBe('accepted');
  });
});
