import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { UserError } from '../../src/errors.js';
import { EVENTS_FILE, parseEvents, RunStore } from '../../src/run/store.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ttsd-store-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
const lines = (dir: string) => fs.readFileSync(path.join(dir, EVENTS_FILE), 'utf8');

describe('run store', () => {
  it('appends one JSON object a line and reads them back', () => {
    const dir = path.join(tmp, 'a');
    const store = RunStore.create(dir);
    store.append({ type: 'run', n: 1 });
    store.append({ type: 'attempt', k: 1, text: 'line\nbreak' });
    store.close();
    expect(lines(dir)).toBe('{"type":"run","n":1}\n{"type":"attempt","k":1,"text":"line\\nbreak"}\n');
    const { events, repaired, store: again } = RunStore.open(dir);
    again.close();
    expect(repaired).toBe(false);
    expect(events).toEqual([{ type: 'run', n: 1 }, { type: 'attempt', k: 1, text: 'line\nbreak' }]);
  });

  it('refuses to create a run where one already is', () => {
    const dir = path.join(tmp, 'a');
    expect(() => RunStore.create(dir)).toThrow(/already holds a run; continue it with --resume/);
  });

  it('repairs a torn last line (kill during a write) and appends after it', () => {
    const dir = path.join(tmp, 'torn');
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, EVENTS_FILE), '{"type":"run"}\n{"type":"attempt","k":1}\n{"type":"att');
    const { store, events, repaired } = RunStore.open(dir);
    expect(repaired).toBe(true);
    expect(events).toHaveLength(2);
    store.append({ type: 'attempt', k: 2 });
    store.close();
    expect(lines(dir)).toBe('{"type":"run"}\n{"type":"attempt","k":1}\n{"type":"attempt","k":2}\n');
  });

  it('drops an unparsable last line but refuses corruption in the middle', () => {
    expect(parseEvents(Buffer.from('{"type":"a"}\n{"ty\n')).events).toEqual([{ type: 'a' }]);
    expect(parseEvents(Buffer.from('{"type":"a"}\n{"ty\n')).validBytes).toBe(13);
    expect(() => parseEvents(Buffer.from('{"ty\n{"type":"a"}\n'))).toThrow(/corrupt at byte 0/);
  });

  it('on a full disk cuts the half-written event off, keeps every earlier one and refuses further writes', () => {
    const dir = path.join(tmp, 'full');
    let budget = 60; // bytes the "disk" still takes
    const store = RunStore.create(dir, {
      writeChunk: (fd, data, offset, position) => {
        if (budget <= 0) throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
        const n = Math.min(budget, data.length - offset);
        budget -= n;
        return fs.writeSync(fd, data, offset, n, position);
      },
    });
    store.append({ type: 'run', pad: 'x'.repeat(20) }); // 36 bytes
    let error: unknown;
    try {
      store.append({ type: 'attempt', pad: 'y'.repeat(20) }); // 40 bytes: only 24 fit
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(UserError);
    expect((error as UserError).message).toMatch(/^no space left on device while writing .*events\.jsonl; the events written before are intact/);
    expect((error as UserError).exitCode).toBe(28);
    expect(() => store.append({ type: 'attempt' })).toThrow(/no space left/);
    store.close();
    expect(lines(dir)).toBe(`{"type":"run","pad":"${'x'.repeat(20)}"}\n`);
  });

  it('on a real full file system (tmpfs) every complete event stays intact', () => {
    const mount = path.join(tmp, 'tiny-fs');
    fs.mkdirSync(mount);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=8k', 'tmpfs', mount]);
    try {
      const store = RunStore.create(path.join(mount, 'run'));
      let written = 0;
      expect(() => {
        for (;;) {
          store.append({ type: 'attempt', k: written + 1, text: 'z'.repeat(300) });
          written++;
        }
      }).toThrow(/no space left on device/);
      store.close();
      const reopened = RunStore.open(path.join(mount, 'run'));
      reopened.store.close();
      const events = reopened.events;
      expect(events).toHaveLength(written);
      expect(events.map((e) => (e as { k?: number }).k)).toEqual(Array.from({ length: written }, (_, i) => i + 1));
      expect(fs.readFileSync(path.join(mount, 'run', EVENTS_FILE), 'utf8').endsWith('\n')).toBe(true);
    } finally {
      execFileSync('umount', [mount]);
    }
  });

  it('names the problem when the directory cannot be created', () => {
    const file = path.join(tmp, 'plain-file');
    fs.writeFileSync(file, '');
    expect(() => RunStore.create(path.join(file, 'run'))).toThrow(/^cannot create the run store in .*: (ENOTDIR|EEXIST)/);
  });
});
