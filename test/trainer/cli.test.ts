// `ttsd bench trainer` as a user runs it: one JSON object with the keys, measured side
// by side in one run (values are not judged here: speed is the benchmark's business, not a
// test's), with and without the transposed-weight backward. ~20 s.
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { tinyModel } from '../helpers/models.js';

const ttsd = (args: string[]) => execa('node', ['bin/ttsd.js', ...args], { reject: false });

describe('ttsd bench trainer', () => {
  it.each([[[] as string[]], [['--low-memory']]])('prints one JSON object with step, forward, their ratio, teacher scoring and memory %j', async (extra) => {
    const model = await tinyModel({ arch: 'qwen2', layers: 2 });
    const { stdout, stderr, exitCode } = await ttsd(['bench', 'trainer', '--model', model, '--tokens', '32', '--threads', '1', '--rank', '4', '--json', ...extra]);
    expect(exitCode, stderr).toBe(0);
    expect(stdout.trim().split('\n')).toHaveLength(1);
    const bench = JSON.parse(stdout);
    for (const key of ['tokens', 'step_ms', 'forward_ms', 'ratio', 'peak_rss_mb', 'tokens_per_s', 'teacher_score_ms', 'prefill_ms', 'teacher_ratio', 'first_backward_ms']) {
      expect(typeof bench[key], key).toBe('number');
      expect(bench[key], key).toBeGreaterThan(0);
    }
    expect(bench.tokens).toBe(32);
    expect(bench.ratio).toBeCloseTo(bench.step_ms / bench.forward_ms, 6);
    expect(bench.teacher_ratio).toBeCloseTo(bench.teacher_score_ms / bench.prefill_ms, 6);
  }, 300_000);

  it('fails with one line on a missing model', async () => {
    const { stderr, exitCode } = await ttsd(['bench', 'trainer', '--model', '/nonexistent/model.gguf', '--json']);
    expect(exitCode).not.toBe(0);
    expect(stderr.trim().split('\n')).toHaveLength(1);
    expect(stderr).toMatch(/^ttsd: .*model.gguf/);
  });
});
