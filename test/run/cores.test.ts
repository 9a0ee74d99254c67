import { describe, expect, it } from 'vitest';
import { CoreBudget } from '../../src/run/cores.js';

/** Lets pending promise callbacks run (no timers: the order must not depend on the machine's load). */
const settle = async () => {
  for (let i = 0; i < 20; i++) await Promise.resolve();
};

/**
 * Operations that start when the budget grants them and end when the test says so. Threads in use
 * are counted per part, as a part computes with its threads however many of its calls are in flight.
 */
function tracker(budget: CoreBudget) {
  const running = new Map<string, { threads: number; calls: number }>();
  let most = 0;
  const started = new Set<string>();
  const gates = new Map<string, () => void>();
  const inUse = () => [...running.values()].reduce((sum, p) => sum + Math.min(p.threads, budget.cores), 0);
  const run = (label: string, part: string, threads: number) =>
    budget.use(part, threads, async () => {
      started.add(label);
      const p = running.get(part) ?? { threads, calls: 0 };
      p.calls++;
      running.set(part, p);
      most = Math.max(most, inUse());
      await new Promise<void>((open) => gates.set(label, open));
      if (--p.calls === 0) running.delete(part);
    });
  const ended = new Set<string>();
  const end = async (label: string) => {
    await settle();
    gates.get(label)!();
    ended.add(label);
    await settle();
  };
  return { run, end, started, ended, most: () => most };
}

describe('CoreBudget', () => {
  it('keeps the threads of different parts within the cores, whatever the mix', async () => {
    const budget = new CoreBudget(4);
    const t = tracker(budget);
    // a seeded mix: 30 operations of 1–4 threads on 5 parts, all asked for at once, ended in a shuffled order
    let x = 7;
    const next = () => (x = (x * 1103515245 + 12345) % 2 ** 31);
    const parts = Array.from({ length: 5 }, (_, i) => ({ part: `part${i}`, threads: 1 + (next() % 4) }));
    const ops = Array.from({ length: 30 }, (_, i) => ({ label: `op${i}`, ...parts[next() % parts.length]! }));
    const done = Promise.all(ops.map((o) => t.run(o.label, o.part, o.threads)));
    while (t.started.size < ops.length || budget.threadsInUse > 0) {
      await settle();
      const running = ops.filter((o) => t.started.has(o.label) && !t.ended.has(o.label));
      const pick = running[next() % running.length]!;
      await t.end(pick.label);
    }
    await done;
    expect(t.most()).toBeLessThanOrEqual(4);
    expect(t.most()).toBeGreaterThan(1); // parts that fit side by side did run side by side
    expect(budget.threadsInUse).toBe(0);
  });

  it('runs two parts that each take every core one after the other, and parts that fit together at once', async () => {
    const whole = tracker(new CoreBudget(2));
    const w = Promise.all([whole.run('sample', 'sampler', 2), whole.run('train', 'trainer A', 2)]);
    await settle();
    expect([...whole.started]).toEqual(['sample']);
    await whole.end('sample');
    expect([...whole.started]).toEqual(['sample', 'train']);
    await whole.end('train');
    await w;
    const halves = tracker(new CoreBudget(2));
    const h = Promise.all([halves.run('sample', 'sampler', 1), halves.run('train', 'trainer A', 1)]);
    await settle();
    expect([...halves.started]).toEqual(['sample', 'train']);
    await halves.end('sample');
    await halves.end('train');
    await h;
  });

  it('lets calls of one part share its grant, but not past a part already waiting (first come, first served)', async () => {
    const budget = new CoreBudget(2);
    const t = tracker(budget);
    const ops = [t.run('sample 1', 'sampler', 2)];
    await settle();
    ops.push(t.run('sample 2', 'sampler', 2)); // joins the held grant: nobody waits
    await settle();
    expect(t.started.has('sample 2')).toBe(true);
    ops.push(t.run('train', 'trainer', 2)); // waits for the sampler's grant
    await settle();
    ops.push(t.run('sample 3', 'sampler', 2)); // would join, but the trainer came first
    await t.end('sample 1');
    expect(t.started.has('train')).toBe(false);
    expect(t.started.has('sample 3')).toBe(false);
    await t.end('sample 2');
    expect(t.started.has('train')).toBe(true);
    expect(t.started.has('sample 3')).toBe(false);
    await t.end('train');
    expect(t.started.has('sample 3')).toBe(true);
    await t.end('sample 3');
    await Promise.all(ops);
    expect(t.most()).toBe(2);
    expect(budget.waitMs).toBeGreaterThan(0);
  });

  it('never holds back a part that computes elsewhere (0 threads), and runs a part asking for more than the cores alone', async () => {
    const budget = new CoreBudget(2);
    const t = tracker(budget);
    const ops = [t.run('train', 'trainer', 8)];
    await settle();
    ops.push(t.run('gpu', 'gpu sampler', 0), t.run('other', 'other', 1));
    await settle();
    expect(t.started.has('gpu')).toBe(true);
    expect(t.started.has('other')).toBe(false);
    await t.end('gpu');
    await t.end('train');
    expect(t.started.has('other')).toBe(true);
    await t.end('other');
    await Promise.all(ops);
  });

  it('releases the grant when an operation fails', async () => {
    const budget = new CoreBudget(1);
    await expect(budget.use('trainer', 1, async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(budget.threadsInUse).toBe(0);
    await expect(budget.use('sampler', 1, async () => 'ok')).resolves.toBe('ok');
  });

  it('refuses a budget without cores', () => {
    expect(() => new CoreBudget(0)).toThrow(/positive integer/);
  });
});
