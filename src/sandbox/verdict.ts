/**
 * From what happened in the container to a GradeResult: the grader's own report when it got to
 * write one, else the container's fate (host watchdog → time limit, cgroup OOM kill → memory
 * limit, any other death → runtime error), with the last started test as "last executed input".
 */
import { renderFeedback, type FeedbackInput } from '../feedback/render.js';
import type { TestCase } from '../tasks/types.js';
import type { ContainerRun } from './container.js';
import type { GradeResult, LcbMetadata, Verdict } from './types.js';

const LCB_TRUNCATE = 300;

/** lcb_runner's truncatefn: long strings keep their head and tail. */
export function truncateLcb(text: string, length = LCB_TRUNCATE): string {
  if (text.length <= length) return text;
  const half = Math.floor(length / 2);
  return text.slice(0, half) + '...(truncated) ...' + text.slice(text.length - half);
}

export function formatErrorResult(total: number, truncated: boolean): GradeResult {
  return {
    verdict: 'format_error',
    passed: 0,
    total,
    lcb: { error_code: -4, error_message: 'Error during testing: no code block in the response' },
    feedback: renderFeedback({ kind: 'no_code', truncated }),
    timingMs: 0,
  };
}

function signalName(exitCode: number | null): string {
  if (exitCode === null) return 'an unknown status';
  if (exitCode === 139) return 'code 139 (segmentation fault)';
  if (exitCode > 128) return `code ${exitCode} (signal ${exitCode - 128})`;
  return `code ${exitCode}`;
}

/** When the grader never reported: judge by how the container ended. */
function fromContainerFate(run: ContainerRun, tests: TestCase[], functional: boolean): Omit<GradeResult, 'feedback' | 'timingMs'> & { feedbackInput: FeedbackInput } {
  const last = run.lastStarted >= 0 ? tests[run.lastStarted] : undefined;
  const where: Partial<LcbMetadata> = last
    ? { inputs: truncateLcb(functional ? last.input.split('\n').join(', ') : last.input), expected: truncateLcb(last.output) }
    : {};
  const passed = Math.max(0, run.lastStarted);
  let verdict: Verdict;
  let lcb: LcbMetadata;
  if (run.oomKilled) {
    verdict = 'memory_limit';
    lcb = { error_code: -4, error_message: 'Runtime Error', error: 'MemoryError()', ...where };
  } else if (run.timedOut) {
    verdict = 'time_limit';
    lcb = { error_code: -3, error_message: 'Time Limit Exceeded', error: 'TimeoutException()', ...where };
  } else {
    verdict = 'runtime_error';
    lcb = {
      error_code: -4,
      error_message: 'Runtime Error',
      error: `the program ended the grader (exit ${signalName(run.exitCode)})`,
      ...where,
    };
  }
  const kind = verdict as 'memory_limit' | 'time_limit' | 'runtime_error';
  const exception =
    kind === 'runtime_error'
      ? { type: 'ProcessExit', message: `the process ended with exit ${signalName(run.exitCode)}`, frames: [] }
      : undefined;
  return { verdict, passed, total: tests.length, lcb, feedbackInput: { kind, lastInput: last?.input, exception } };
}

export function gradeResultFrom(run: ContainerRun, tests: TestCase[], functional: boolean, truncated: boolean): GradeResult {
  const timingMs = Math.round(run.ms);
  const result = run.result;
  if (!result) {
    const { feedbackInput, ...rest } = fromContainerFate(run, tests, functional);
    return { ...rest, feedback: renderFeedback({ ...feedbackInput, truncated }), timingMs };
  }
  const verdict: Verdict = result.kind;
  if (verdict === 'accepted') {
    return { verdict, passed: result.passed, total: tests.length, lcb: { error_code: 0, error_message: '' }, feedback: '', timingMs };
  }
  const decisive = result.failing[0];
  const feedbackInput: FeedbackInput =
    verdict === 'wrong_answer'
      ? { kind: verdict, cases: result.failing, truncated }
      : { kind: verdict, exception: result.exception ?? undefined, lastInput: decisive?.input, truncated };
  return {
    verdict,
    passed: result.passed,
    total: tests.length,
    lcb: result.lcb,
    feedback: renderFeedback(feedbackInput),
    timingMs,
  };
}
