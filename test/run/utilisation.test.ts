import { describe, expect, it } from 'vitest';
import { BusyMeter } from '../../src/run/utilisation.js';

describe('BusyMeter', () => {
  it('counts wall time with at least one operation in flight once, and slot time per operation', async () => {
    let now = 0;
    const meter = new BusyMeter(() => now);
    const gates: (() => void)[] = [];
    const op = () => meter.time(() => new Promise<void>((resolve) => gates.push(resolve)));
    const a = op(); // t=0
    now = 10;
    const b = op(); // overlaps a
    now = 30;
    gates[0]();
    await a; // a: 0..30
    now = 40;
    gates[1]();
    await b; // b: 10..40 → busy 0..40
    now = 100;
    const c = op(); // idle 40..100 does not count
    now = 105;
    expect(meter.busyMs).toBe(45); // an operation still running counts up to now
    gates[2]();
    await c;
    expect(meter.busyMs).toBe(45);
    expect(meter.slotMs).toBe(30 + 30 + 5);
  });

  it('keeps counting when an operation fails', async () => {
    let now = 0;
    const meter = new BusyMeter(() => now);
    await expect(meter.time(async () => ((now = 7), Promise.reject(new Error('boom'))))).rejects.toThrow('boom');
    expect(meter.busyMs).toBe(7);
  });
});
