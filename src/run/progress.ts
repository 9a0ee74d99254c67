import type { AttemptOutcome } from '../strategies/types.js';
import type { TrainStepResult } from '../trainer/types.js';
import type { UtilisationEvent } from './events.js';

/** Where the run reports what it is doing. */
export interface Progress {
  start(cells: number, maxGenerations: number, alreadyRecorded: number): void;
  attempt(cell: string, attempt: AttemptOutcome): void;
  trainStep(cell: string, step: number, result: TrainStepResult): void;
  /** A step with no learning signal (e.g. GRPO with equal rewards): logged, no update. */
  noSignalStep?(cell: string, step: number): void;
  cellDone(): void;
  finish(utilisation: UtilisationEvent): void;
}

/** A redrawn bar on a terminal, one plain line per event otherwise (CI logs). */
export function progressFor(stream: NodeJS.WriteStream | NodeJS.WritableStream): Progress {
  return (stream as NodeJS.WriteStream).isTTY ? new BarProgress(stream as NodeJS.WriteStream) : new LineProgress(stream);
}

class Counts {
  cells = 0;
  cellsDone = 0;
  maxGenerations = 0;
  generations = 0;
  discoveries = 0;
  started = Date.now();
  summary(): string {
    const minutes = ((Date.now() - this.started) / 60000).toFixed(1);
    return `${this.generations} generations, ${this.discoveries} discoveries, cells ${this.cellsDone}/${this.cells}, ${minutes} min`;
  }
}

class LineProgress implements Progress {
  private readonly counts = new Counts();
  constructor(private readonly out: NodeJS.WritableStream) {}
  start(cells: number, maxGenerations: number, alreadyRecorded: number): void {
    Object.assign(this.counts, { cells, maxGenerations, generations: alreadyRecorded });
    this.out.write(`run: ${cells} cells, at most ${maxGenerations} generations${alreadyRecorded ? `, ${alreadyRecorded} already recorded` : ''}\n`);
  }
  attempt(cell: string, a: AttemptOutcome): void {
    this.counts.generations++;
    if (a.reward && a.privateReward) this.counts.discoveries++;
    this.out.write(`${cell} k=${a.k} step=${a.step} ${a.verdict} reward=${a.reward} private=${a.privateReward} tokens=${a.responseTokens.length}\n`);
  }
  trainStep(cell: string, step: number, r: TrainStepResult): void {
    // no KL for the losses without a teacher (policy gradient, cross-entropy): NaN
    const kl = Number.isFinite(r.klBefore) ? ` kl ${r.klBefore.toPrecision(3)}${Number.isFinite(r.klAfter) ? `→${r.klAfter.toPrecision(3)}` : ''}` : '';
    this.out.write(`${cell} train step ${step}: loss=${r.loss.toPrecision(4)}${kl} grad_norm=${r.gradNorm.toPrecision(3)}${r.skipped ? ' (skipped)' : ''}\n`);
  }
  noSignalStep(cell: string, step: number): void {
    this.out.write(`${cell} train step ${step}: no learning signal, no update\n`);
  }
  cellDone(): void {
    this.counts.cellsDone++;
  }
  finish(u: UtilisationEvent): void {
    this.out.write(`done: ${this.counts.summary()}; busy: sampler ${pct(u.sampler)}, grader ${pct(u.grader)}, trainer ${pct(u.trainer)}\n`);
  }
}

class BarProgress implements Progress {
  private readonly counts = new Counts();
  private last = '';
  constructor(private readonly out: NodeJS.WriteStream) {}
  start(cells: number, maxGenerations: number, alreadyRecorded: number): void {
    Object.assign(this.counts, { cells, maxGenerations, generations: alreadyRecorded });
    this.draw();
  }
  attempt(cell: string, a: AttemptOutcome): void {
    this.counts.generations++;
    if (a.reward && a.privateReward) {
      this.counts.discoveries++;
      this.print(`discovery: ${cell} at k=${a.k}`);
    }
    this.last = cell;
    this.draw();
  }
  trainStep(cell: string, step: number, r: TrainStepResult): void {
    this.last = `${cell} trained step ${step} (loss ${r.loss.toPrecision(3)})`;
    this.draw();
  }
  noSignalStep(cell: string, step: number): void {
    this.last = `${cell} step ${step}: no learning signal`;
    this.draw();
  }
  cellDone(): void {
    this.counts.cellsDone++;
    this.draw();
  }
  finish(u: UtilisationEvent): void {
    // the bar is gone for good: whatever is printed next starts on a clean line
    this.out.write(`\r\x1b[Kdone: ${this.counts.summary()}; busy: sampler ${pct(u.sampler)}, grader ${pct(u.grader)}, trainer ${pct(u.trainer)}\n`);
  }
  private print(line: string): void {
    this.out.write(`\r\x1b[K${line}\n`);
    this.draw();
  }
  private draw(): void {
    const width = 24;
    const fraction = this.counts.cells ? this.counts.cellsDone / this.counts.cells : 0;
    const filled = Math.round(fraction * width);
    const bar = '#'.repeat(filled) + '-'.repeat(width - filled);
    const columns = this.out.columns ?? 100;
    const line = `[${bar}] ${this.counts.summary()} · ${this.last}`.slice(0, columns - 1);
    this.out.write(`\r\x1b[K${line}`);
  }
}

const pct = (x: number) => `${Math.round(x * 100)}%`;
