/** The training section: loss, KL before/after and gradient norm per trainer step, one line per (task, seed). */
import type { TrainStepEvent } from '../run/events.js';
import type { Analysis, TrainingSeries } from './analysis.js';
import { colorAt } from './palette.js';
import { lineChart, type LineSeries } from './svg-chart.js';

/** Many runs make a spaghetti plot: past this many series, draw them faintly and add their mean. */
const MAX_DISTINCT_SERIES = 6;

type StepMetric = (step: TrainStepEvent) => unknown;

function metricSeries(training: TrainingSeries[], metric: StepMetric, label: string, dashed: boolean, className: string): LineSeries[] {
  const pointsOf = (series: TrainingSeries): Array<[number, number]> =>
    series.steps
      .filter((s) => s.skipped !== true)
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
  const chart = (id: string, title: string, yLabel: string, series: LineSeries[]) =>
    lineChart({ id, title, xLabel: 'training step', yLabel, series, height: 300, integerX: true });
  const loss = metricSeries(analysis.training, (s) => s.loss, '', false, 'train-line');
  const klBefore = metricSeries(analysis.training, (s) => s.kl_before, '', false, 'train-line');
  // the dashed "after" lines share their run's colour; one legend entry per run is enough
  const klAfter = metricSeries(analysis.training, (s) => s.kl_after, 'after', true, 'train-line').map((s) =>
    s.className?.includes('mean') ? s : { ...s, legend: false },
  );
  const grad = metricSeries(analysis.training, (s) => s.grad_norm, '', false, 'train-line');
  const steps = analysis.training.reduce((sum, s) => sum + s.steps.length, 0);
  const skipped = analysis.training.reduce((sum, s) => sum + s.steps.filter((step) => step.skipped === true).length, 0);
  return `<h2>Training</h2>
<p class="lede">${steps} trainer step(s) over ${analysis.training.length} (task, seed) run(s)${skipped ? `, ${skipped} skipped (not plotted)` : ''}. KL is the divergence between student and teacher on the step's tokens, measured before and after the update.</p>
<figure>${chart('train-loss', 'distillation loss per step', 'loss', loss)}</figure>
<figure>${chart('train-kl', 'KL(student ‖ teacher) before (solid) and after (dashed) each step', 'KL', [...klBefore, ...klAfter])}</figure>
<figure>${chart('train-grad-norm', 'gradient norm per step', 'grad norm', grad)}</figure>`;
}
