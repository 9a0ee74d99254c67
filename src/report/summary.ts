/**
 * The machine-readable summary (`ttsd report DIR --json`) and the console table. The JSON shape
 * {"budget", "strategies": {NAME: {"runs", "solved", "mean_min_T", "discovery": [[k, v, lo, hi]…]}}}
 * is a contract; everything else in it is extra.
 */
import type { DiscoveryCurve } from '../metrics/discovery.js';
import type { Analysis } from './analysis.js';

type DiscoveryRow = [number, number, number, number];

const rows = (curve: DiscoveryCurve): DiscoveryRow[] => curve.discovery.map((p) => [p.k, p.value, p.low, p.high]);

export function jsonSummary(analysis: Analysis): Record<string, unknown> {
  // null prototype: a strategy named "__proto__" must stay an ordinary key
  const strategies: Record<string, unknown> = Object.create(null);
  for (const strategy of analysis.strategies) {
    const entry: Record<string, unknown> = {
      label: strategy.label,
      runs: strategy.discovery.runs,
      solved: strategy.discovery.solved,
      mean_min_T: strategy.discovery.meanMinT.value,
      mean_min_T_ci: [strategy.discovery.meanMinT.low, strategy.discovery.meanMinT.high],
      discovery: rows(strategy.discovery),
      attempts: strategy.attempts,
      incomplete_runs: strategy.incompleteRuns,
      public_only_attempts: strategy.publicOnlyAttempts,
      public: {
        solved: strategy.publicDiscovery.solved,
        mean_min_T: strategy.publicDiscovery.meanMinT.value,
        discovery: rows(strategy.publicDiscovery),
      },
    };
    const protocol = analysis.protocols.get(strategy.name);
    if (protocol) entry.protocol = protocol;
    if (strategy.passAtK) {
      entry.pass_at_k = strategy.passAtK.curve.map((value, i) => [i + 1, value]);
      entry.pass_at_k_tasks = strategy.passAtK.perTask.map((t) => ({ task: t.task, n: t.samples, c: t.correct }));
    }
    const compared = analysis.comparison.variants.find((c) => c.variant === strategy.name);
    if (compared) {
      // JSON has no infinity: null = unbounded (∞ ratio / not reached within the budget), as the page's marks say
      const num = (x: number) => (Number.isFinite(x) ? x : null);
      const triple = (e: { value: number; low: number; high: number }) => [num(e.value), num(e.low), num(e.high)];
      entry.vs_baseline = {
        baseline: compared.baseline,
        runs: compared.units,
        target: compared.target,
        discovery_ratio: compared.ratios.map((r) => [r.k, ...triple(r)]),
        generations_to_reach: triple(compared.generations),
        baseline_generations: triple(compared.baselineGenerations),
        fewer_generations: triple(compared.speedup),
      };
    }
    const signal = analysis.signal.find((c) => c.strategy === strategy.name);
    if (signal) entry.train_steps = { with_signal: signal.withSignal, without_signal: signal.withoutSignal };
    strategies[strategy.name] = entry;
  }
  return {
    budget: analysis.budget,
    strategies,
    confidence: { level: analysis.bootstrap.level, method: 'percentile bootstrap over runs', resamples: analysis.bootstrap.resamples, seed: analysis.bootstrap.seed },
    runs: analysis.outcomes.map((o) => ({
      task: o.task,
      strategy: o.strategy,
      seed: o.seed,
      T: Number.isFinite(o.discoveryT) ? o.discoveryT : null,
      public_T: Number.isFinite(o.publicT) ? o.publicT : null,
      attempts: o.attempts,
      incomplete: o.incomplete,
    })),
    warnings: analysis.warnings,
  };
}

const fixed = (value: number, digits = 1) => value.toFixed(digits);
const percent = (value: number) => `${(value * 100).toFixed(1)}%`;

function table(header: string[], body: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((row) => row[i].length)));
  const line = (cells: string[]) => cells.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))).join('  ');
  return [line(header), widths.map((w) => '─'.repeat(w)).join('  '), ...body.map(line)].join('\n');
}

/** A compact table for the terminal: one line per strategy. */
export function consoleSummary(analysis: Analysis): string {
  if (analysis.strategies.length === 0) return `no attempts recorded yet (budget ${analysis.budget})`;
  const level = Math.round(analysis.bootstrap.level * 100);
  const b = analysis.budget;
  const header = ['strategy', 'runs', 'solved', 'pub-only', `disc@${b}`, `${level}% CI`, `E[min(T,${b})]`, `${level}% CI`];
  const body = analysis.strategies.map((s) => {
    const last = s.discovery.discovery[s.discovery.discovery.length - 1];
    return [
      s.label,
      String(s.discovery.runs),
      String(s.discovery.solved),
      String(s.publicOnlyAttempts),
      percent(last.value),
      `${percent(last.low)}–${percent(last.high)}`,
      fixed(s.discovery.meanMinT.value),
      `${fixed(s.discovery.meanMinT.low)}–${fixed(s.discovery.meanMinT.high)}`,
    ];
  });
  const lines = [table(header, body)];
  for (const s of analysis.strategies) {
    if (!s.passAtK || s.passAtK.curve.length === 0) continue;
    const ks = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048].filter((k) => k <= s.passAtK!.curve.length);
    const lastK = s.passAtK.curve.length;
    if (!ks.includes(lastK)) ks.push(lastK);
    lines.push(`${s.name} pass@k (unbiased, mean over ${s.passAtK.perTask.length} task(s)): ` + ks.map((k) => `@${k} ${percent(s.passAtK!.curve[k - 1])}`).join('  '));
  }
  for (const c of analysis.comparison.variants) {
    if (Number.isNaN(c.generations.value)) continue;
    const g = (x: number) => (x === Infinity ? `>${b}` : fixed(x, 0));
    lines.push(
      `${c.variant} vs ${c.baseline}: ${g(c.generations.value)} generations (${level}% CI ${g(c.generations.low)}–${g(c.generations.high)}) to reach ${c.baseline}'s final ${percent(c.target)}, which needs ${g(c.baselineGenerations.value)}: ${c.speedup.value === 0 ? 'not reached' : `${fixed(c.speedup.value, 2)}× fewer`}`,
    );
  }
  return lines.join('\n');
}
