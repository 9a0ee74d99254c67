import { describe, expect, it } from 'vitest';
import { analyse } from '../../src/report/analysis.js';
import { parseRunLog } from '../../src/report/read-events.js';
import { consoleSummary, jsonSummary } from '../../src/report/summary.js';
import { HAND_LOG, HAND_LOG_LINES, HAND_LOG_WITHOUT_PROTOCOLS } from './hand-log.js';
import { syntheticEvents, toJsonl } from './synthetic-run.js';

const bootstrap = { resamples: 1000, level: 0.9, seed: 1 };

describe('analysis of a hand-written run log (expected values worked out in hand-log.ts)', () => {
  const analysis = analyse(parseRunLog(HAND_LOG), bootstrap);
  const byName = Object.fromEntries(analysis.strategies.map((s) => [s.name, s]));

  it('computes discovery@k, solved counts and mean min(T, budget) per strategy', () => {
    expect(analysis.budget).toBe(4);
    expect(analysis.strategies.map((s) => s.name)).toEqual(['best-of-k', 'sdpo']);
    const best = byName['best-of-k'];
    expect(best.discovery.runs).toBe(4);
    expect(best.discovery.solved).toBe(2);
    expect(best.discovery.discovery.map((p) => p.value)).toEqual([0, 0.25, 0.5, 0.5]);
    expect(best.discovery.meanMinT.value).toBe(3.25);
    const sdpo = byName.sdpo;
    expect(sdpo.discovery.runs).toBe(4);
    expect(sdpo.discovery.solved).toBe(2);
    expect(sdpo.discovery.discovery.map((p) => p.value)).toEqual([0.25, 0.5, 0.5, 0.5]);
    expect(sdpo.discovery.meanMinT.value).toBe(2.75);
    expect(sdpo.incompleteRuns).toBe(1);
  });

  it('reports public-test successes separately', () => {
    const best = byName['best-of-k'];
    expect(best.publicDiscovery.solved).toBe(3);
    expect(best.publicDiscovery.discovery.map((p) => p.value)).toEqual([0.25, 0.5, 0.75, 0.75]);
    expect(best.publicOnlyAttempts).toBe(1);
  });

  it('computes pass@k for best-of-K from all its samples per task', () => {
    const pass = byName['best-of-k'].passAtK!;
    expect(pass.perTask).toEqual([
      { task: 'A', samples: 6, correct: 1 },
      { task: 'B', samples: 8, correct: 2 },
    ]);
    expect(pass.curve).toHaveLength(4); // min n = 6, capped at the budget 4
    expect(pass.curve[0]).toBeCloseTo(5 / 24, 14);
    expect(pass.curve[1]).toBeCloseTo(67 / 168, 14);
    expect(byName.sdpo.passAtK).toBeUndefined();
  });

  it('drops duplicates and says so', () => {
    expect(analysis.duplicates).toBe(2);
    expect(analysis.warnings.some((w) => w.includes('2 duplicate attempt'))).toBe(true);
  });

  it('counts a cell closed by cell_done as complete', () => {
    const closed = `${HAND_LOG}{"type":"cell_done","task":"B","strategy":"sdpo","seed":1,"attempts":2,"discovery_k":null}\n`;
    const sdpo = analyse(parseRunLog(closed), bootstrap).strategies.find((s) => s.name === 'sdpo')!;
    expect(sdpo.incompleteRuns).toBe(0);
    expect(sdpo.discovery.discovery.map((p) => p.value)).toEqual([0.25, 0.5, 0.5, 0.5]);
  });

  it('gives per-run discovery times', () => {
    const times = analysis.outcomes.map((o) => [o.task, o.strategy, o.seed, o.discoveryT]);
    expect(times).toEqual([
      ['A', 'best-of-k', 1, 2],
      ['A', 'sdpo', 1, 2],
      ['A', 'best-of-k', 2, Infinity],
      ['A', 'sdpo', 2, 1],
      ['B', 'best-of-k', 1, Infinity],
      ['B', 'sdpo', 1, Infinity],
      ['B', 'best-of-k', 2, 3],
      ['B', 'sdpo', 2, Infinity],
    ]);
  });

  it('attributes training steps and time per strategy', () => {
    expect(analysis.training).toHaveLength(1);
    expect(analysis.training[0]).toMatchObject({ strategy: 'sdpo', task: 'A', seed: 1 });
    expect(analysis.training[0].steps.map((s) => s.loss)).toEqual([0.9, 0.7]);
    expect(analysis.time).toEqual([
      { strategy: 'best-of-k', attempts: 14, trainSteps: 0, sampleMs: 14000, gradeMs: 2800, trainMs: 0 },
      { strategy: 'sdpo', attempts: 9, trainSteps: 2, sampleMs: 9000, gradeMs: 0, trainMs: 10000 },
    ]);
  });

  it('produces the JSON contract and a console table', () => {
    const json = jsonSummary(analysis) as { budget: number; strategies: Record<string, { runs: number; solved: number; mean_min_T: number; discovery: number[][] }> };
    expect(json.budget).toBe(4);
    expect(json.strategies['best-of-k']).toMatchObject({ runs: 4, solved: 2, mean_min_T: 3.25 });
    expect(json.strategies['best-of-k'].discovery.map((row) => row.slice(0, 2))).toEqual([
      [1, 0],
      [2, 0.25],
      [3, 0.5],
      [4, 0.5],
    ]);
    expect(json.strategies.sdpo.discovery).toHaveLength(4);
    for (const row of json.strategies.sdpo.discovery) expect(row[2]).toBeLessThanOrEqual(row[3]);
    const table = consoleSummary(analysis);
    expect(table).toMatch(/best-of-k\s+4\s+2\s+1\s+50\.0%/);
    expect(table).toMatch(/sdpo\s+4\s+2\s+0\s+50\.0%/);
    expect(table).toContain('pass@k');
  });
});

describe('how each strategy ran (the run event\'s protocols)', () => {
  const analysis = analyse(parseRunLog(toJsonl(syntheticEvents({ budget: 8, tasks: ['t'], seeds: [1] }))), bootstrap);

  it('labels each strategy from its recorded protocol and puts the protocol in --json', () => {
    expect(analysis.strategies.map((s) => [s.name, s.label])).toEqual([
      ['best-of-k', 'best-of-k'],
      ['multi-turn', 'multi-turn (4/turn)'],
      ['sdpo', 'sdpo'],
    ]);
    const json = jsonSummary(analysis) as { strategies: Record<string, { label: string; protocol: Record<string, unknown> }> };
    expect(json.strategies['multi-turn'].label).toBe('multi-turn (4/turn)');
    expect(json.strategies['multi-turn'].protocol).toMatchObject({ learns: false, generations_per_step: 4, settings: { generations_per_turn: 4, template: 'feedback-only' } });
    expect(json.strategies.sdpo.protocol).toMatchObject({ learns: true, generations_per_step: 4 });
    expect(consoleSummary(analysis)).toContain('multi-turn (4/turn)');
  });

  it('a log without protocols keeps the plain names', () => {
    const plain = analyse(parseRunLog(HAND_LOG_WITHOUT_PROTOCOLS), bootstrap);
    expect(plain.protocols.size).toBe(0);
    expect(plain.strategies.map((s) => s.label)).toEqual(['best-of-k', 'sdpo']);
    expect(jsonSummary(plain)).not.toHaveProperty('strategies.sdpo.protocol');
    // without recorded traits nothing is attributed by name: no baseline, no pass@k, steps unattributed
    expect(plain.comparison.baseline).toBeNull();
    expect(plain.strategies.every((s) => s.passAtK === undefined)).toBe(true);
    expect(plain.training.map((s) => s.strategy)).toEqual(['unattributed']);
  });

  it('counts train steps with and without signal per learning variant', () => {
    const run = JSON.parse(HAND_LOG_LINES[0]);
    run.strategies.push('rl');
    run.protocols.push({ ...run.protocols[1], variant: 'rl', strategy: 'grpo', label: 'rl', loss: 'policy_gradient', teacher: null, teacher_context: null });
    const step = (n: number, signal: boolean) => JSON.stringify({ type: 'train_step', task: 'A', seed: 1, strategy: 'rl', step: n, loss: 0, kl_before: null, kl_after: null, grad_norm: 0, ms: 0, ...(signal ? {} : { signal: false }) });
    const lines = [JSON.stringify(run), ...HAND_LOG_LINES.slice(1), JSON.stringify({ type: 'attempt', task: 'A', strategy: 'rl', seed: 1, k: 1, step: 1, reward: 0, private_reward: 0, verdict: 'WA', tokens: 1, ms: 1 }), step(1, false), step(2, true), step(3, false)];
    const analysis = analyse(parseRunLog(lines.join('\n') + '\n'), bootstrap);
    // the hand log's steps name no strategy: with two learners they cannot be attributed
    expect(analysis.signal).toEqual([
      { strategy: 'sdpo', withSignal: 0, withoutSignal: 0 },
      { strategy: 'rl', withSignal: 1, withoutSignal: 2 },
      { strategy: 'unattributed', withSignal: 2, withoutSignal: 0 },
    ]);
    expect(analysis.comparison.variants.map((c) => c.variant)).toEqual(['sdpo', 'rl']);
  });

  it('compares each variant with the baseline found by trait (worked out in hand-log.ts)', () => {
    const analysis = analyse(parseRunLog(HAND_LOG), bootstrap);
    expect(analysis.comparison.baseline).toBe('best-of-k');
    const [sdpo] = analysis.comparison.variants;
    expect(sdpo).toMatchObject({ variant: 'sdpo', units: 4, target: 0.5 });
    expect(sdpo.ratios.map((r) => [r.k, r.value])).toEqual([[1, Infinity], [2, 2], [4, 1]]);
    expect([sdpo.generations.value, sdpo.baselineGenerations.value, sdpo.speedup.value]).toEqual([2, 3, 1.5]);
    for (const e of [sdpo.generations, sdpo.baselineGenerations, sdpo.speedup, ...sdpo.ratios]) expect(e.low).toBeLessThanOrEqual(e.high);
    expect(analysis.signal).toEqual([{ strategy: 'sdpo', withSignal: 2, withoutSignal: 0 }]);
  });
});
