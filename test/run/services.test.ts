import { describe, expect, it } from 'vitest';
import type { ChatMessage, Rollout, SampleOptions, Sampler } from '../../src/model/types.js';
import { SharedSampler } from '../../src/run/services.js';

/** A sampler that takes `ms` per call and records which adapter each call asked for and what ran side by side. */
class SlowSampler implements Sampler {
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
    if (options.adapter === 'BAD') throw new Error('cannot load BAD');
    this.inFlight++;
    this.overlaps.push(this.inFlight);
    this.log.push(`start ${tag}@${options.adapter}`);
    await new Promise((r) => setTimeout(r, this.ms));
    this.log.push(`end ${tag}`);
    this.inFlight--;
    return Array.from({ length: options.n }, () => ({ text: tag, code: null, promptTokens: [], responseTokens: [], logprobs: [], finishReason: 'stop' as const, ms: this.ms, adapter: options.adapter }));
  }
  async score() {
    return { logprobs: [] };
  }
  async dispose() {}
}

const params = { temperature: 1, topP: 1, topK: 0, maxTokens: 8 };
const call = (shared: SharedSampler, tag: string, adapter: string | null) => shared.sample([{ role: 'user', content: tag }], 1, 0, adapter);

describe('SharedSampler', () => {
  it('passes each call its own adapter and runs calls for different adapters side by side', async () => {
    const inner = new SlowSampler();
    const shared = new SharedSampler(inner, params);
    const tags: [string, string | null][] = [['base1', null], ['x1', 'X'], ['x2', 'X'], ['base2', null], ['y1', 'Y']];
    const results = await Promise.all(tags.map(([t, a]) => call(shared, t, a)));
    expect(results.map((r) => [r[0].text, r[0].adapter])).toEqual(tags);
    expect(inner.log.filter((l) => l.startsWith('start')).sort()).toEqual(tags.map(([t, a]) => `start ${t}@${a}`).sort());
    // no call waited for another: all five were in flight at once
    expect(Math.max(...inner.overlaps)).toBe(5);
  });

  it('a failing call fails alone', async () => {
    const shared = new SharedSampler(new SlowSampler(), params);
    const bad = call(shared, 'bad', 'BAD');
    const good = call(shared, 'good', 'X');
    await expect(bad).rejects.toThrow('cannot load BAD');
    await expect(good).resolves.toHaveLength(1);
  });

  it('meters busy time across overlapping calls once', async () => {
    const inner = new SlowSampler(30);
    const shared = new SharedSampler(inner, params);
    const started = performance.now();
    await Promise.all([call(shared, 'a', null), call(shared, 'b', 'X')]);
    const wall = performance.now() - started;
    expect(shared.meter.busyMs).toBeLessThanOrEqual(wall + 1);
    expect(shared.meter.busyMs).toBeGreaterThanOrEqual(25);
    expect(shared.meter.slotMs).toBeGreaterThanOrEqual(55);
  });
});
