/**
 * NativeTrainer: the TypeScript side of the ttsd-trainer process. One process per trainer,
 * started with execa; requests and answers are frames (protocol.ts), one request at a time.
 * The process dying at any point rejects the pending request with TrainerDiedError carrying
 * its last stderr lines; nothing waits forever on a dead process.
 */
import { mkdirSync } from 'node:fs';
import { execa, type ResultPromise } from 'execa';
import { buildTrainer, DEVICE_BUILDS } from './build.js';
import { TrainerDiedError, TrainerRequestError } from './errors.js';
import { encodeFrame, encodeStep, FrameReader, type Frame } from './protocol.js';
import { isTrainerAttention, TRAINER_ATTENTIONS, type Trainer, type TrainerAttention, type TrainerConfig, type TrainExample, type TrainStepResult } from './types.js';

export interface TrainerInfo {
  step: number;
  resumed: boolean;
  arch: string;
  nVocab: number;
  nParams: number;
  nTensors: number;
  /** How its training graph attends (TrainerConfig.attention). */
  attention: TrainerAttention;
  /**
   * Nodes the scheduler placed on the CPU while the model is on a GPU device, as "OP×count" by op name, read
   * from the scheduler after the training graph (forward + backward) and the head graph were allocated: at
   * init nothing has run yet, so the init reply's list is empty; the step and bench replies carry the real
   * one (TrainStepResult.cpuOps, TrainerBench.cpuOps). Always empty on the CPU device (everything is there).
   */
  cpuOps: string[];
}

/** The init reply, checked field by field: a trainer that answers something else is refused, not trusted. */
export function trainerInfo(reply: Record<string, unknown>): TrainerInfo {
  const count = (key: string) => {
    const value = reply[key];
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) throw new TrainerRequestError(`trainer init reply: ${key} must be a non-negative integer, got ${JSON.stringify(value)}`);
    return value;
  };
  if (typeof reply.resumed !== 'boolean') throw new TrainerRequestError(`trainer init reply: resumed must be true or false, got ${JSON.stringify(reply.resumed)}`);
  if (typeof reply.arch !== 'string' || reply.arch === '') throw new TrainerRequestError(`trainer init reply: arch must be a name, got ${JSON.stringify(reply.arch)}`);
  if (!isTrainerAttention(reply.attention)) throw new TrainerRequestError(`trainer init reply: attention must be ${TRAINER_ATTENTIONS.join(', ')}, got ${JSON.stringify(reply.attention)}`);
  if (!Array.isArray(reply.cpuOps) || !reply.cpuOps.every((op) => typeof op === 'string')) throw new TrainerRequestError(`trainer init reply: cpuOps must be a list of op names, got ${JSON.stringify(reply.cpuOps)}`);
  return {
    step: count('step'),
    resumed: reply.resumed,
    arch: reply.arch,
    nVocab: count('nVocab'),
    nParams: count('nParams'),
    nTensors: count('nTensors'),
    attention: reply.attention,
    cpuOps: reply.cpuOps as string[],
  };
}

/** Timings of `bench` (all in one process, same tokens): see `ttsd bench trainer`. */
export interface TrainerBench {
  tokens: number;
  targets: number;
  threads: number;
  step_ms: number;
  forward_ms: number;
  ratio: number;
  tokens_per_s: number;
  optimizer_update_ms: number;
  full_step_ms: number;
  teacher_score_ms: number;
  prefill_ms: number;
  teacher_ratio: number;
  /** The same decode as teacher scoring (chunks, logits at every response row) without the host work: its fair baseline. */
  prefill_rows_ms: number;
  /** Teacher scoring's host work (log-sum-exp and values at the student's ids), on the trainer's threads. */
  teacher_host_ms: number;
  /** teacher_score_ms / prefill_rows_ms. */
  teacher_ratio_rows: number;
  /** Minor page faults during one whole step. */
  full_step_minor_faults: number;
  peak_rss_mb: number;
  /** See TrainerInfo.cpuOps: the CPU-placed nodes of the bench's training and head graphs. */
  cpuOps: string[];
  /** TrainStepResult.forwards of the bench's full step (one rollout): 1, the forward and backward in one evaluation. */
  forwards: number;
}

/** A reply's forwards, checked: a count of body forward passes. */
function forwardCount(value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) throw new TrainerRequestError(`trainer ${what} reply: forwards must be a non-negative integer, got ${JSON.stringify(value)}`);
  return value;
}

/** A reply's cpuOps, checked: a list of op names with counts. */
function opList(value: unknown, what: string): string[] {
  if (!Array.isArray(value) || !value.every((op) => typeof op === 'string')) throw new TrainerRequestError(`trainer ${what} reply: cpuOps must be a list of op names, got ${JSON.stringify(value)}`);
  return value as string[];
}

const STDERR_LINES_KEPT = 40;

export class NativeTrainer implements Trainer {
  private readonly reader = new FrameReader();
  private readonly stderrTail: string[] = [];
  private pending: { resolve: (frame: Frame) => void; reject: (error: Error) => void } | null = null;
  private queue: Promise<unknown> = Promise.resolve();
  private died: TrainerDiedError | null = null;
  private exited: Promise<void>;

  private constructor(
    private readonly child: ResultPromise<{ stdin: 'pipe'; stdout: 'pipe'; stderr: 'pipe'; buffer: false; reject: false }>,
    readonly config: TrainerConfig,
  ) {
    child.stdout.on('data', (chunk: Buffer) => {
      for (const frame of this.reader.push(chunk)) this.settle(frame);
    });
    let partial = '';
    child.stderr.on('data', (chunk: Buffer) => {
      const lines = (partial + chunk.toString('utf8')).split('\n');
      partial = lines.pop() ?? '';
      this.stderrTail.push(...lines);
      if (this.stderrTail.length > STDERR_LINES_KEPT) this.stderrTail.splice(0, this.stderrTail.length - STDERR_LINES_KEPT);
    });
    child.stdin.on('error', () => {}); // EPIPE after a crash: reported through the exit below
    this.exited = child.then((result) => {
      if (partial) this.stderrTail.push(partial);
      const exit = { code: result.exitCode ?? null, signal: result.signal ?? null };
      this.died = new TrainerDiedError(exit, [...this.stderrTail]);
      this.pending?.reject(this.died);
      this.pending = null;
    });
  }

  /** Starts a trainer process (building it first if needed) and initialises it with `config`. */
  static async start(config: TrainerConfig): Promise<NativeTrainer> {
    // TTSD_TRAINER_EXE: a development build of native/ used instead of the cached one
    // (a device name the table lacks gets the CPU build, whose init refuses it in the trainer's own line)
    const device = config.device ?? 'cpu';
    const executable = process.env.TTSD_TRAINER_EXE ?? (await buildTrainer(Object.hasOwn(DEVICE_BUILDS, device) ? DEVICE_BUILDS[device].options : {}));
    mkdirSync(config.stateDir, { recursive: true });
    const child = execa(executable, [], {
      stdin: 'pipe',
      stdout: 'pipe',
      stderr: 'pipe',
      buffer: false,
      reject: false,
      encoding: 'buffer',
      // an abort prints the assertion, not a gdb backtrace (slow, and it buries the reason)
      env: { GGML_NO_BACKTRACE: '1' },
    });
    const trainer = new NativeTrainer(child as never, config);
    try {
      trainer.info = trainerInfo(await trainer.request({ cmd: 'init', ...config }));
    } catch (error) {
      await trainer.kill();
      throw error;
    }
    return trainer;
  }

  info!: TrainerInfo;

  get completedSteps(): number {
    return this.info.step;
  }

  /** A step's graph threads spin on the CPU unless every layer is on a GPU device (then only the host head's log-softmax and the input lookup run here, without spinning barriers). */
  get cpuThreads(): number {
    const onGpu = (this.config.device ?? 'cpu') !== 'cpu' && this.config.gpuLayers === -1;
    return onGpu ? 0 : this.config.threads;
  }

  async step(batch: TrainExample[]): Promise<TrainStepResult> {
    if (batch.length === 0) throw new TrainerRequestError('empty batch');
    for (const example of batch) {
      for (const ids of [example.studentPrompt, example.teacherPrompt, example.response]) {
        if (!ids.every((id) => Number.isInteger(id) && id >= 0 && id < 2 ** 31)) {
          throw new TrainerRequestError('token ids must be non-negative integers');
        }
      }
      const lp = example.behaviorLogprobs;
      if (lp && (lp.length !== example.response.length || !lp.every((l) => Number.isFinite(l) && l <= 0))) {
        throw new TrainerRequestError('behaviorLogprobs must hold one finite log-probability (≤ 0) per response token');
      }
      const tw = example.tokenWeights;
      if (tw && (tw.length !== example.response.length || !tw.every(Number.isFinite))) {
        throw new TrainerRequestError('tokenWeights must hold one finite number per response token');
      }
      if (example.advantage !== undefined && !Number.isFinite(example.advantage)) {
        throw new TrainerRequestError(`advantage must be a finite number, got ${example.advantage}`);
      }
    }
    const header = await this.send(encodeStep(batch));
    const number = (key: string) => (header[key] === null ? Number.NaN : Number(header[key]));
    return {
      step: number('step'),
      loss: number('loss'),
      klBefore: number('klBefore'),
      klAfter: number('klAfter'),
      gradNorm: number('gradNorm'),
      tokens: number('tokens'),
      ms: number('ms'),
      skipped: header.skipped === true,
      adapterPath: String(header.adapterPath),
      isWeightMean: number('isWeightMean'),
      isClipped: number('isClipped'),
      cpuOps: opList(header.cpuOps, 'step'),
      forwards: forwardCount(header.forwards, 'step'),
    };
  }

  async save(): Promise<void> {
    await this.request({ cmd: 'save' });
  }

  /** Timings of one forward, one training step and teacher scoring over `tokens` random tokens. */
  async bench(tokens: number): Promise<TrainerBench> {
    const header = await this.request({ cmd: 'bench', tokens });
    delete header.ok;
    opList(header.cpuOps, 'bench');
    forwardCount(header.forwards, 'bench');
    return header as unknown as TrainerBench;
  }

  async close(): Promise<void> {
    if (!this.died) {
      try {
        await this.request({ cmd: 'shutdown' });
      } catch {
        // already gone: nothing to shut down
      }
      this.child.stdin.end();
    }
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 10_000);
    await this.exited;
    clearTimeout(timer);
  }

  /** The process id (tests kill it to check that a dead trainer is reported). */
  get pid(): number | undefined {
    return this.child.pid;
  }

  private async kill(): Promise<void> {
    this.child.kill('SIGKILL');
    await this.exited;
  }

  private request(header: object): Promise<Record<string, unknown>> {
    return this.send(encodeFrame(header));
  }

  /** One request at a time: the process answers in order, so requests queue behind each other. */
  private send(frame: Buffer): Promise<Record<string, unknown>> {
    const run = this.queue.then(async () => {
      if (this.died) throw this.died;
      const answer = new Promise<Frame>((resolve, reject) => {
        this.pending = { resolve, reject };
      });
      this.child.stdin.write(frame);
      const { header } = await answer;
      if (typeof header.error === 'string') throw new TrainerRequestError(header.error);
      return header;
    });
    this.queue = run.catch(() => {});
    return run;
  }

  private settle(frame: Frame): void {
    const pending = this.pending;
    this.pending = null;
    pending?.resolve(frame);
  }
}
