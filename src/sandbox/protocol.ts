/**
 * The protocol between DockerGrader and sandboxes/python/grader.py: one JSON job on stdin,
 * framed JSON events back on the container's stdout ("\n@@ttsd:<nonce>:<json>\n").
 */
import { randomBytes } from 'node:crypto';
import type { ExceptionReport, FailingCase, FailureKind } from '../feedback/render.js';
import type { LcbMetadata } from './types.js';

export interface GraderJob {
  nonce: string;
  code: string;
  func_name: string | null;
  tests: { input: string; output: string }[];
  timeout: number;
  feedback_cases: number;
  extra_seconds: number;
}

export interface GraderResult {
  t: 'result';
  /** false: the verdict is decided but the grader is still collecting failing cases. */
  final: boolean;
  /** lcb_runner's results list: true per passed test, then -2/-3/-4 (or false) for the first failure. */
  results: (boolean | number)[];
  passed: number;
  kind: 'accepted' | FailureKind;
  lcb: LcbMetadata;
  exception: ExceptionReport | null;
  /** The decisive failing case first, then further wrong answers found for the feedback. */
  failing: FailingCase[];
}

export type GraderEvent = { t: 'compile' } | { t: 'start'; i: number } | GraderResult;

export function newNonce(): string {
  return randomBytes(12).toString('hex');
}

/**
 * Splits the container's stdout into events, incrementally: feed chunks, get whole events.
 * Lines without this run's nonce (anything else that reached stdout) are ignored.
 */
export class EventReader {
  private buffered = '';
  private readonly prefix: string;

  constructor(nonce: string) {
    this.prefix = `@@ttsd:${nonce}:`;
  }

  push(chunk: string): GraderEvent[] {
    this.buffered += chunk;
    const events: GraderEvent[] = [];
    let newline: number;
    while ((newline = this.buffered.indexOf('\n')) >= 0) {
      const line = this.buffered.slice(0, newline);
      this.buffered = this.buffered.slice(newline + 1);
      const event = this.parse(line);
      if (event) events.push(event);
    }
    // A line can only matter if it may still become a frame: keep at most one frame's worth.
    if (this.buffered.length > 4 << 20) this.buffered = '';
    return events;
  }

  private parse(line: string): GraderEvent | null {
    if (!line.startsWith(this.prefix)) return null;
    try {
      const event = JSON.parse(line.slice(this.prefix.length)) as GraderEvent;
      return typeof event === 'object' && event !== null && 't' in event ? event : null;
    } catch {
      return null;
    }
  }
}
