/** The comparison section: each variant against the best-of-K baseline, and train steps with / without signal. */
import type { Estimate } from '../metrics/discovery.js';
import type { Analysis } from './analysis.js';
import { escapeHtml } from './html-escape.js';

const ratioText = (x: number): string => (Number.isNaN(x) ? '–' : x === Infinity ? '∞' : `${x.toFixed(2)}×`);
const generationsText = (x: number, budget: number): string => (Number.isNaN(x) ? '–' : x === Infinity ? `> ${budget}` : String(Math.round(x * 100) / 100));
const withInterval = (e: Estimate, text: (x: number) => string): string =>
  Number.isNaN(e.low) ? text(e.value) : `${text(e.value)} <span class="note">(${text(e.low)} – ${text(e.high)})</span>`;

export function comparisonSection(analysis: Analysis): string {
  const { comparison } = analysis;
  const labelOf = (name: string) => analysis.strategies.find((s) => s.name === name)?.label ?? name;
  const level = Math.round(analysis.bootstrap.level * 100);
  const signal = new Map(analysis.signal.map((s) => [s.strategy, s]));
  const signalText = (name: string) => {
    const s = signal.get(name);
    return s ? `${s.withSignal} / ${s.withoutSignal}` : '–';
  };
  if (comparison.baseline === null) {
    return `<h2>Against best-of-K</h2><p class="note">${escapeHtml(comparison.note ?? 'no baseline')}.</p>${signalTable(analysis)}`;
  }
  const baseline = comparison.baseline;
  const points = comparison.variants[0]?.ratios.map((r) => r.k) ?? [];
  const head = `<tr><th>variant</th><th title="(task, seed) runs both have">runs</th>${points.map((k) => `<th>disc@${k} ratio</th>`).join('')}<th title="generations the variant needs to reach best-of-K's final discovery rate">generations to reach</th><th title="generations best-of-K itself needs to reach its final rate">best-of-K needs</th><th title="best-of-K's generations / the variant's">× fewer generations</th><th title="train steps with a learning signal / without (no update)">steps with / without signal</th></tr>`;
  const body = comparison.variants
    .map((c) => {
      const gen = (x: number) => generationsText(x, analysis.budget);
      return `<tr data-variant="${escapeHtml(c.variant)}"><td>${escapeHtml(labelOf(c.variant))}</td><td>${c.units}</td>${c.ratios.map((r) => `<td>${withInterval(r, ratioText)}</td>`).join('')}<td>${withInterval(c.generations, gen)}</td><td>${withInterval(c.baselineGenerations, gen)}</td><td>${withInterval(c.speedup, ratioText)}</td><td>${signalText(c.variant)}</td></tr>`;
    })
    .join('');
  const target = comparison.variants[0]?.target;
  return `<h2>Against best-of-K</h2>
<p class="lede">Each variant against <strong>${escapeHtml(labelOf(baseline))}</strong> (the run's baseline of fresh independent samples, found by its recorded traits) on the (task, seed) runs both have: discovery@k ratios (variant / baseline) and the generations each needs to reach best-of-K's final discovery rate${target === undefined ? '' : ` (${(target * 100).toFixed(1)}% at k = ${analysis.budget})`}, with paired ${level}% bootstrap intervals over (task, seed). ∞: best-of-K had found nothing by then; “&gt; ${analysis.budget}”: not reached within the budget; –: undefined (best-of-K found nothing at all).</p>
<table class="comparison"><thead>${head}</thead><tbody>${body}</tbody></table>
${signalTable(analysis)}`;
}

/** Steps with and without learning signal per learning variant (GRPO on hard tasks: mostly without). */
function signalTable(analysis: Analysis): string {
  if (analysis.signal.length === 0) return '';
  const rows = analysis.signal
    .map((s) => `<tr data-signal="${escapeHtml(s.strategy)}"><td>${escapeHtml(s.strategy)}</td><td>${s.withSignal}</td><td>${s.withoutSignal}</td></tr>`)
    .join('');
  return `<h3>Learning signal</h3>
<p class="note">Train steps per learning variant: with a learning signal (an update) and without (no update: e.g. GRPO when every rollout of the group got the same reward).</p>
<table class="signal"><thead><tr><th>variant</th><th>with signal</th><th>without</th></tr></thead><tbody>${rows}</tbody></table>`;
}
