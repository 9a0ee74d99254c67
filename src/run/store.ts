import fs from 'node:fs';
import path from 'node:path';
import { UserError } from '../errors.js';
import { EVENTS_FILE, parseEventBuffer, type RunEvent } from './events.js';

/**
 * The append-only run store: one JSON object a line in `<dir>/events.jsonl`. Every event is
 * written with a synchronous write and fsync'd before `append` returns, so a kill -9 loses at
 * most the line being written, and `open` repairs that torn last line. A failed write (full
 * disk, read-only file system) cuts the file back to its last complete event and throws a
 * one-line UserError: every event written before stays intact.
 */
export class RunStore {
  private constructor(
    readonly dir: string,
    private readonly fd: number,
    private size: number,
    private readonly writeChunk: (fd: number, data: Buffer, offset: number, position: number) => number,
  ) {}

  private failure: UserError | null = null;

  get file(): string {
    return path.join(this.dir, EVENTS_FILE);
  }

  /** Creates a new run directory (it may exist, but must not hold a run yet). */
  static create(dir: string, options: StoreOptions = {}): RunStore {
    const file = path.join(dir, EVENTS_FILE);
    try {
      fs.mkdirSync(dir, { recursive: true });
      const fd = fs.openSync(file, 'wx');
      return new RunStore(dir, fd, 0, options.writeChunk ?? defaultWrite);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'EEXIST') throw new UserError(`${file} already holds a run; continue it with --resume ${dir}`);
      throw new UserError(`cannot create the run store in ${dir}: ${describe(error)}`);
    }
  }

  /** Opens an existing run for appending, after repairing a torn last line; returns its events. */
  static open(dir: string, options: StoreOptions = {}): { store: RunStore; events: RunEvent[]; repaired: boolean } {
    const file = path.join(dir, EVENTS_FILE);
    if (!fs.existsSync(file)) throw new UserError(`${dir} holds no run (no ${EVENTS_FILE})`);
    let fd: number;
    try {
      fd = fs.openSync(file, 'r+');
    } catch (error) {
      throw new UserError(`cannot open ${file}: ${describe(error)}`);
    }
    const content = fs.readFileSync(fd);
    let parsed: ReturnType<typeof parseEventBuffer>;
    try {
      parsed = parseEventBuffer(content, file);
    } catch (error) {
      fs.closeSync(fd);
      throw error;
    }
    const { events, missingNewline } = parsed;
    let validBytes = parsed.validBytes;
    const repaired = validBytes !== content.length || missingNewline;
    if (validBytes !== content.length) {
      fs.ftruncateSync(fd, validBytes);
      fs.fsyncSync(fd);
    } else if (missingNewline) {
      // the last event is complete but its newline was not written: end it so appends start a line
      validBytes += fs.writeSync(fd, '\n', validBytes);
      fs.fsyncSync(fd);
    }
    return { store: new RunStore(dir, fd, validBytes, options.writeChunk ?? defaultWrite), events, repaired };
  }

  append(event: RunEvent): void {
    if (this.failure) throw this.failure; // never write after a failed write: the log stays a prefix
    const data = Buffer.from(JSON.stringify(event) + '\n');
    let written = 0;
    try {
      while (written < data.length) {
        written += this.writeChunk(this.fd, data, written, this.size + written);
      }
      fs.fsyncSync(this.fd);
    } catch (error) {
      this.rollback();
      const code = (error as NodeJS.ErrnoException).code;
      const what = code === 'ENOSPC' ? 'no space left on device' : describe(error);
      throw (this.failure = new UserError(`${what} while writing ${this.file}; the events written before are intact (resume with --resume ${this.dir})`, code === 'ENOSPC' ? 28 : 74));
    }
    this.size += data.length;
  }

  close(): void {
    try {
      fs.closeSync(this.fd);
    } catch {
      // already closed
    }
  }

  /** Cuts a half-written event off so the file ends on a complete line. */
  private rollback(): void {
    try {
      fs.ftruncateSync(this.fd, this.size);
    } catch {
      // the next open repairs a torn line anyway
    }
  }
}

export interface StoreOptions {
  /** For tests that simulate a full disk: writes part of `data` at `position`, returns bytes written. */
  writeChunk?: (fd: number, data: Buffer, offset: number, position: number) => number;
}

function defaultWrite(fd: number, data: Buffer, offset: number, position: number): number {
  return fs.writeSync(fd, data, offset, data.length - offset, position);
}

function describe(error: unknown): string {
  const e = error as NodeJS.ErrnoException;
  return e.code ? `${e.code}: ${e.message.replace(/^\w+: /, '')}` : String(e?.message ?? error);
}
