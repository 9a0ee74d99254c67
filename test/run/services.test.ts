import { describe, expect, it } from 'vitest';
import type { ChatMessage, Rollout, SampleOptions, Sampler } from '../../src/model/types.js';
import { SharedSampler } from '../../src/run/services.js';

/** A sampler that takes `ms` per call and records what was loaded and what ran side by side. */
class SlowSampler implements Sampler {
  adapter: string | null = null;
  inFlight = 0;
  readonly log: string[] = [];
  readonly overlaps: number[] = [];
  constructor(private readonly ms = 20) {}
  async renderPrompt(messages: ChatMessage[]) {
    return [messages.length];
  }
  async countTokens(text: string) {
    return text.length;
  }
  async sample(messages: ChatMessage[], options: SampleOptions): Promise<Rollout[]> {
    const tag = messages[0].content;
    this.inFlight++;
    this.overlaps.push(this.inFlight);
    this.log.push(`start ${tag}@${this.adapter}`);
    await new Promise((r) => setTimeout(r, this.ms));
    this.log.push(`end ${tag}`);
    this.inFlight--;
    return Array.from({ length: options.n }, () => ({ text: tag, code: null, promptTokens: [], responseTokens: [], logprobs: [], finishReason: 'stop' as const, ms: this.ms, adapter: this.adapter }));
  }
  async setAdapter(path: string | null) {
    if (this.inFlight > 0) throw new Error('adapter switched under a running call');
    this.log.push(`switch ${path}`);
    this.adapter = path;
  }
  async score() {
    return { logprobs: [] };
  }
  async dispose() {}
}

const params = { temperature: 1, topP: 1, topK: 0, maxTokens: 8 };
const call = (shared: SharedSampler, tag: string, adapter: string | null) => shared.sample([{ role: 'user', content: tag }], 1, 0, adapter);

describe('SharedSampler', () => {
  it('runs calls for the loaded adapter side by side (one batch), so sequential turns of several cells decode together', async () => {
    const inner = new SlowSampler();
    const shared = new SharedSampler(inner, params);
    const results = await Promise.all(['a', 'b', 'c'].map((t) => call(shared, t, null)));
    expect(results.map((r) => r[0].text)).toEqual(['a', 'b', 'c']);
    expect(Math.max(...inner.overlaps)).toBe(3);
    expect(inner.log.filter((l) => l.startsWith('switch'))).toEqual([]);
  });

  it('switches adapters only between calls, in arrival order, and every call samples with its own adapter', async () => {
    const inner = new SlowSampler();
    const shared = new SharedSampler(inner, params);
    const calls = [call(shared, 'base1', null), call(shared, 'x1', 'X'), call(shared, 'x2', 'X'), call(shared, 'base2', null), call(shared, 'y1', 'Y')];
    await Promise.all(calls);
    const starts = inner.log.filter((l) => l.startsWith('start'));
    expect(starts).toEqual(['start base1@null', 'start x1@X', 'start x2@X', 'start base2@null', 'start y1@Y']);
    expect(inner.log.filter((l) => l.startsWith('switch'))).toEqual(['switch X', 'switch null', 'switch Y']);
    // x1 and x2 ran together; base2 waited for both
    expect(inner.log.indexOf('start x2@X')).toBeLessThan(inner.log.indexOf('end x1'));
    expect(inner.log.indexOf('start base2@null')).toBeGreaterThan(inner.log.indexOf('end x2'));
  });

  it('a later call for the current adapter does not overtake a switch already waiting', async () => {
    const inner = new SlowSampler();
    const shared = new SharedSampler(inner, params);
    const first = call(shared, 'base1', null);
    const other = call(shared, 'x1', 'X');
    const late = call(shared, 'base2', null);
    await Promise.all([first, other, late]);
    expect(inner.log.filter((l) => l.startsWith('start'))).toEqual(['start base1@null', 'start x1@X', 'start base2@null']);
  });

  it('a failed switch fails the calls that wanted it, and the next group still runs', async () => {
    const inner = new SlowSampler();
    const setAdapter = inner.setAdapter.bind(inner);
    inner.setAdapter = async (path) => {
      if (path === 'BAD') throw new Error('cannot load BAD');
      return setAdapter(path);
    };
    const shared = new SharedSampler(inner, params);
    const bad = call(shared, 'bad', 'BAD');
    const good = call(shared, 'good', 'X');
    await expect(bad).rejects.toThrow('cannot load BAD');
    await expect(good).resolves.toHaveLength(1);
  });

  it('meters busy time across overlapping calls once', async () => {
    const inner = new SlowSampler(30);
    const shared = new SharedSampler(inner, params);
    const started = performance.now();
    await Promise.all(['a', 'b'].map((t) => call(shared, t, null)));
    const wall = performance.now() - started;
    expect(shared.meter.busyMs).toBeLessThanOrEqual(wall + 1);
    expect(shared.meter.slotMs).toBeGreaterThanOrEqual(55);
  });
});
