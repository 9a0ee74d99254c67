/** The training section: loss, KL before/after and gradient norm per trainer step, one line per (task, seed). */
import type { TrainStepEvent } from '../run/events.js';
import type { Analysis, TrainingSeries } from './analysis.js';
import { escapeHtml } from './html-escape.js';
import { colorAt } from './palette.js';
import { lineChart, type LineSeries } from './svg-chart.js';

/** Many runs make a spaghetti plot: past this many series, draw them faintly and add their mean. */
const MAX_DISTINCT_SERIES = 6;

type StepMetric = (step: TrainStepEvent) => unknown;

function metricSeries(training: TrainingSeries[], metric: StepMetric, label: string, dashed: boolean, className: string): LineSeries[] {
  const pointsOf = (series: TrainingSeries): Array<[number, number]> =>
    series.steps
      // skipped (non-finite gradient) and signal-less steps made no update: nothing to plot
      .filter((s) => s.skipped !== true && s.signal !== false)
      .map((s): [number, unknown] => [s.step, metric(s)])
      .filter((p): p is [number, number] => typeof p[1] === 'number' && Number.isFinite(p[1]));
  const name = (series: TrainingSeries) => `${series.task} · seed ${series.seed}${label ? ` · ${label}` : ''}`;
  if (training.length <= MAX_DISTINCT_SERIES) {
    return training.map((series, i) => ({
      label: name(series),
      color: colorAt(i),
      dashed,
      className,
      points: pointsOf(series),
    }));
  }
  const sums = new Map<number, { sum: number; count: number }>();
  const faint = training.map((series) => {
    const points = pointsOf(series);
    for (const [step, value] of points) {
      const entry = sums.get(step) ?? { sum: 0, count: 0 };
      entry.sum += value;
      entry.count++;
      sums.set(step, entry);
    }
    return { label: name(series), color: '#9aa5b1', dashed, strokeWidth: 1, className, points, legend: false };
  });
  const mean: LineSeries = {
    label: `mean (${training.length} runs)${label ? `, ${label}` : ''}`,
    color: dashed ? '#D55E00' : '#0072B2',
    dashed,
    strokeWidth: 2.5,
    className: `${className} mean`,
    points: [...sums.entries()].sort((a, b) => a[0] - b[0]).map(([step, e]): [number, number] => [step, e.sum / e.count]),
  };
  return [...faint, mean];
}

export function trainingSection(analysis: Analysis): string {
  if (analysis.training.length === 0) {
    return `<h2>Training</h2><p class="note">No train_step events in this run.</p>`;
  }
  // One block of charts per learning variant (series are attributed by the variant each step names).
  const variants = [...new Set(analysis.training.map((s) => s.strategy))];
  const blocks = variants.map((variant, i) => {
    const training = analysis.training.filter((s) => s.strategy === variant);
    const suffix = variants.length === 1 ? '' : `-${i + 1}`;
    return variantCharts(analysis, variant, training, suffix, variants.length > 1);
  });
  const steps = analysis.training.reduce((sum, s) => sum + s.steps.length, 0);
  const skipped = analysis.training.reduce((sum, s) => sum + s.steps.filter((step) => step.skipped === true).length, 0);
  const noSignal = analysis.training.reduce((sum, s) => sum + s.steps.filter((step) => step.signal === false).length, 0);
  return `<h2>Training</h2>
<p class="lede">${steps} trainer step(s) over ${analysis.training.length} (variant, task, seed) run(s)${skipped ? `, ${skipped} skipped (not plotted)` : ''}${noSignal ? `, ${noSignal} without learning signal (no update, not plotted)` : ''}. For distillation losses the KL is the divergence between student and teacher on the step's tokens, measured before and after the update.</p>
${blocks.join('\n')}`;
}

function variantCharts(analysis: Analysis, variant: string, training: TrainingSeries[], suffix: string, heading: boolean): string {
  const chart = (id: string, title: string, yLabel: string, series: LineSeries[]) =>
    lineChart({ id: `${id}${suffix}`, title, xLabel: 'training step', yLabel, series, height: 300, integerX: true });
  const protocol = analysis.protocols.get(variant);
  const loss = metricSeries(training, (s) => s.loss, '', false, 'train-line');
  const klBefore = metricSeries(training, (s) => s.kl_before, '', false, 'train-line');
  // the dashed "after" lines share their run's colour; one legend entry per run is enough
  const klAfter = metricSeries(training, (s) => s.kl_after, 'after', true, 'train-line').map((s) =>
    s.className?.includes('mean') ? s : { ...s, legend: false },
  );
  const grad = metricSeries(training, (s) => s.grad_norm, '', false, 'train-line');
  const hasKl = [...klBefore, ...klAfter].some((s) => s.points.length > 0);
  const lossName = protocol?.loss === 'policy_gradient' ? 'policy-gradient loss' : protocol?.loss === 'cross_entropy' ? 'cross-entropy loss' : 'distillation loss';
  const title = heading ? `<h3 data-training="${escapeHtml(variant)}">${escapeHtml(protocol?.label ?? variant)}</h3>` : '';
  return `${title}<figure>${chart('train-loss', `${lossName} per step`, 'loss', loss)}</figure>
${hasKl ? `<figure>${chart('train-kl', 'KL(student ‖ teacher) before (solid) and after (dashed) each step', 'KL', [...klBefore, ...klAfter])}</figure>` : ''}
<figure>${chart('train-grad-norm', 'gradient norm per step', 'grad norm', grad)}</figure>`;
}
