import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { UserError } from '../../src/errors.js';
import { EVENTS_FILE, parseEventBuffer, type AttemptEvent, type RunStartEvent } from '../../src/run/events.js';
import { RunStore } from '../../src/run/store.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ttsd-store-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
const RUN: RunStartEvent = { type: 'run', version: 1, budget: 4, strategies: ['best-of-k'], seeds: [1], tasks: ['A'] };
const attempt = (k: number, extra: Partial<AttemptEvent> = {}): AttemptEvent => ({ type: 'attempt', task: 'A', strategy: 'best-of-k', seed: 1, k, step: k, reward: 0, private_reward: 0, verdict: 'WA', tokens: 3, ms: 1, ...extra });
const jsonl = (...events: object[]) => events.map((e) => JSON.stringify(e) + '\n').join('');
const lines = (dir: string) => fs.readFileSync(path.join(dir, EVENTS_FILE), 'utf8');

describe('run store', () => {
  it('appends one JSON object a line and reads them back', () => {
    const dir = path.join(tmp, 'a');
    const store = RunStore.create(dir);
    store.append(RUN);
    store.append(attempt(1, { text: 'line\nbreak' }));
    store.close();
    expect(lines(dir)).toBe(jsonl(RUN, attempt(1, { text: 'line\nbreak' })));
    const { events, repaired, store: again } = RunStore.open(dir);
    again.close();
    expect(repaired).toBe(false);
    expect(events).toEqual([RUN, attempt(1, { text: 'line\nbreak' })]);
  });

  it('refuses to create a run where one already is', () => {
    const dir = path.join(tmp, 'a');
    expect(() => RunStore.create(dir)).toThrow(/already holds a run; continue it with --resume/);
  });

  it('repairs a torn last line (kill during a write) and appends after it', () => {
    const dir = path.join(tmp, 'torn');
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, EVENTS_FILE), jsonl(RUN, attempt(1)) + '{"type":"att');
    const { store, events, repaired } = RunStore.open(dir);
    expect(repaired).toBe(true);
    expect(events).toHaveLength(2);
    store.append(attempt(2));
    store.close();
    expect(lines(dir)).toBe(jsonl(RUN, attempt(1), attempt(2)));
  });

  it('keeps a complete last event whose newline was not written, and ends its line before appending', () => {
    const dir = path.join(tmp, 'no-newline');
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, EVENTS_FILE), jsonl(RUN) + JSON.stringify(attempt(1)));
    const { store, events, repaired } = RunStore.open(dir);
    expect(repaired).toBe(true);
    expect(events).toEqual([RUN, attempt(1)]);
    store.append(attempt(2));
    store.close();
    expect(lines(dir)).toBe(jsonl(RUN, attempt(1), attempt(2)));
  });

  it('drops an unparsable last line but refuses corruption in the middle, naming file:line', () => {
    const torn = Buffer.from(jsonl(RUN) + '{"ty\n');
    expect(parseEventBuffer(torn).events).toEqual([RUN]);
    expect(parseEventBuffer(torn).validBytes).toBe(jsonl(RUN).length);
    expect(parseEventBuffer(torn).tornLine).toBe(2);
    expect(() => parseEventBuffer(Buffer.from('{"ty\n' + jsonl(RUN)), 'x/events.jsonl')).toThrow(/^x\/events\.jsonl:1: not valid JSON/);
  });

  it('refuses an invalid event anywhere (the last line too) and leaves the file as it was', () => {
    const dir = path.join(tmp, 'invalid');
    fs.mkdirSync(dir);
    const content = jsonl(RUN, attempt(1)) + JSON.stringify({ ...attempt(2), reward: 'yes' }) + '\n';
    fs.writeFileSync(path.join(dir, EVENTS_FILE), content);
    expect(() => RunStore.open(dir)).toThrow(/invalid\/events\.jsonl:3: attempt event's "reward" must be 0 or 1, got "yes"$/);
    expect(lines(dir)).toBe(content);
  });

  it('on a full disk cuts the half-written event off, keeps every earlier one and refuses further writes', () => {
    const dir = path.join(tmp, 'full');
    let budget = 0; // bytes the "disk" still takes (set below)
    const store = RunStore.create(dir, {
      writeChunk: (fd, data, offset, position) => {
        if (budget <= 0) throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
        const n = Math.min(budget, data.length - offset);
        budget -= n;
        return fs.writeSync(fd, data, offset, n, position);
      },
    });
    const first = { ...RUN, pad: 'x' };
    budget = JSON.stringify(first).length + 1 + 24;
    store.append(first);
    let error: unknown;
    try {
      store.append(attempt(1)); // only 24 bytes fit
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(UserError);
    expect((error as UserError).message).toMatch(/^no space left on device while writing .*events\.jsonl; the events written before are intact/);
    expect((error as UserError).exitCode).toBe(28);
    expect(() => store.append(attempt(2))).toThrow(/no space left/);
    store.close();
    expect(lines(dir)).toBe(jsonl(first));
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
          store.append(attempt(written + 1, { text: 'z'.repeat(300) }));
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
