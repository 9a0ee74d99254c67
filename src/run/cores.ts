/**
 * The CPU cores that a run's compute parts share: the sampler's contexts and each interleaved
 * cell's trainer process.
 *
 * Why a budget: llama.cpp's and ggml's threads spin-wait at every barrier of a graph. When the
 * parts' threads together exceed the cores, the OS preempts one of them and every other thread of
 * that graph spins until it runs again. That is not a fair share of the cores: it is a collapse
 * (one thread over the cores made decoding ~100× slower, see llama-sampler.ts). Without a budget,
 * `--parallel-cells 2` with the default `--threads` (every core) ran two trainers and the sampler
 * at once whenever two SDPO cells' phases met: three parts each with every core.
 *
 * Each part declares the CPU threads it computes with (Trainer.cpuThreads; the sampler, through
 * SampleOptions.admit, the threads of the context a call decodes in: 0 on a GPU) and runs an
 * operation (a sampling call, a training step) only once its threads fit beside those in use.
 * Requests are served first come, first served, so a trainer is never starved by a stream of
 * sampling calls. Operations of one part share its grant: sampling calls that join one context's
 * batch (the sampler's part is the context), so a second call joins a held grant at no cost,
 * unless someone is already waiting.
 * Grading is not counted: sandboxed programs do not spin-wait, and the grader has its own limit.
 */
export class CoreBudget {
  private inUse = 0;
  /** Grants held, by part: threads granted and operations sharing them. */
  private readonly held = new Map<string, { threads: number; users: number }>();
  private readonly waiting: { part: string; threads: number; grant: () => void }[] = [];
  private waitedMs = 0;

  /** `cores`: the threads all parts together may compute with (the cores, normally). */
  constructor(readonly cores: number) {
    if (!Number.isInteger(cores) || cores < 1) throw new Error(`CoreBudget: cores must be a positive integer, got ${cores}`);
  }

  /**
   * Runs `operation` once `threads` CPU threads of part `part` fit (at once for 0 threads, or when
   * the part's grant is held and nobody waits). A part asking for more threads than there are cores
   * runs alone.
   */
  async use<T>(part: string, threads: number, operation: () => Promise<T>): Promise<T> {
    const need = Math.min(Math.max(0, Math.floor(threads)), this.cores);
    if (need === 0) return operation();
    const started = performance.now();
    await this.acquire(part, need);
    this.waitedMs += performance.now() - started;
    try {
      return await operation();
    } finally {
      this.release(part);
    }
  }

  /** Threads granted now (what the parts compute with together). */
  get threadsInUse(): number {
    return this.inUse;
  }

  /** Wall time operations spent waiting for cores, summed over operations. */
  get waitMs(): number {
    return this.waitedMs;
  }

  private acquire(part: string, threads: number): Promise<void> {
    if (this.waiting.length === 0 && this.tryGrant(part, threads)) return Promise.resolve();
    return new Promise((grant) => this.waiting.push({ part, threads, grant }));
  }

  private tryGrant(part: string, threads: number): boolean {
    const grant = this.held.get(part);
    if (grant) {
      grant.users++;
      return true;
    }
    if (this.inUse + threads > this.cores) return false;
    this.inUse += threads;
    this.held.set(part, { threads, users: 1 });
    return true;
  }

  private release(part: string): void {
    const grant = this.held.get(part)!;
    if (--grant.users === 0) {
      this.held.delete(part);
      this.inUse -= grant.threads;
    }
    // first come, first served: grant from the head of the queue while requests fit
    while (this.waiting.length > 0 && this.tryGrant(this.waiting[0]!.part, this.waiting[0]!.threads)) this.waiting.shift()!.grant();
  }
}
