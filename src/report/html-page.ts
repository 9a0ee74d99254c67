/**
 * The report page: one self-contained HTML file (inline CSS, inline SVG, no scripts, no fonts,
 * no external references) so it opens from disk anywhere and can be archived with the run.
 */
import type { Analysis, StrategySummary } from './analysis.js';
import { escapeHtml } from './html-escape.js';
import { PAGE_STYLE } from './page-style.js';
import { comparisonSection } from './comparison-section.js';
import { protocolSection } from './protocols.js';
import { colorAt } from './palette.js';
import { stackedBarChart } from './svg-bars.js';
import { formatPercent, lineChart, type LineSeries } from './svg-chart.js';
import { trainingSection } from './training-section.js';


const percent = (value: number): string => `${(value * 100).toFixed(1)}%`;
/** generation counts: two decimals when the budget is small enough for them to matter */
const generations = (value: number, budget: number): string => value.toFixed(budget < 100 ? 2 : 1);

function strategyColors(analysis: Analysis): Map<string, string> {
  return new Map(analysis.strategies.map((s, i) => [s.name, colorAt(i)]));
}

function swatch(color: string): string {
  return `<span class="swatch" style="background:${color}"></span>`;
}

function summaryTable(analysis: Analysis, colors: Map<string, string>): string {
  const level = Math.round(analysis.bootstrap.level * 100);
  const b = analysis.budget;
  const head = `<tr><th>strategy</th><th>runs</th><th>solved</th><th>disc@${b}</th><th>${level}% CI</th><th>E[min(T,${b})]</th><th>${level}% CI</th><th title="runs whose public tests passed within the budget">solved (public)</th><th title="attempts that passed the public tests but failed private ones">public-only</th><th>attempts</th></tr>`;
  const body = analysis.strategies
    .map((s) => {
      const last = s.discovery.discovery[s.discovery.discovery.length - 1];
      const mean = s.discovery.meanMinT;
      return `<tr data-strategy="${escapeHtml(s.name)}"><td>${swatch(colors.get(s.name)!)}${escapeHtml(s.label)}</td><td>${s.discovery.runs}</td><td>${s.discovery.solved}</td><td>${percent(last.value)}</td><td>${percent(last.low)} – ${percent(last.high)}</td><td>${generations(mean.value, b)}</td><td>${generations(mean.low, b)} – ${generations(mean.high, b)}</td><td>${s.publicDiscovery.solved}</td><td>${s.publicOnlyAttempts}</td><td>${s.attempts}</td></tr>`;
    })
    .join('\n');
  return `<table class="summary"><thead>${head}</thead><tbody>${body}</tbody></table>`;
}

function discoverySeries(strategy: StrategySummary, color: string, publicTests = false): LineSeries {
  const curve = publicTests ? strategy.publicDiscovery : strategy.discovery;
  // discovery@0 = 0 by definition (T ≥ 1): start every curve at the origin
  return {
    label: strategy.label,
    key: strategy.name,
    color,
    step: true,
    className: 'curve',
    points: [[0, 0], ...curve.discovery.map((p): [number, number] => [p.k, p.value])],
    band: [[0, 0, 0], ...curve.discovery.map((p): [number, number, number] => [p.k, p.low, p.high])],
  };
}

function discoverySection(analysis: Analysis, colors: Map<string, string>): string {
  const level = Math.round(analysis.bootstrap.level * 100);
  const chart = lineChart({
    id: 'discovery',
    title: 'discovery@k: fraction of (task, seed) runs solved within k generations',
    xLabel: 'generations k',
    yLabel: 'discovery@k',
    integerX: true,
    xDomain: [0, analysis.budget],
    yDomain: [0, 1],
    formatY: formatPercent,
    series: analysis.strategies.map((s) => discoverySeries(s, colors.get(s.name)!)),
  });
  const publicChart = lineChart({
    id: 'public-discovery',
    title: 'public tests only: fraction of runs passing the public tests within k generations',
    xLabel: 'generations k',
    yLabel: 'public-test success@k',
    integerX: true,
    xDomain: [0, analysis.budget],
    yDomain: [0, 1],
    formatY: formatPercent,
    height: 280,
    series: analysis.strategies.map((s) => ({ ...discoverySeries(s, colors.get(s.name)!, true), className: 'public-curve' })),
  });
  // under a large budget the early, most informative part of the curves is a sliver: add a log-k view
  const logChart =
    analysis.budget >= 100
      ? `<figure>${lineChart({
          id: 'discovery-log',
          title: 'discovery@k, logarithmic k',
          xLabel: 'generations k (log scale)',
          yLabel: 'discovery@k',
          xDomain: [1, analysis.budget],
          yDomain: [0, 1],
          formatY: formatPercent,
          logX: true,
          height: 300,
          series: analysis.strategies.map((s) => {
            const series = discoverySeries(s, colors.get(s.name)!);
            // log axis: drop the k = 0 origin point
            return { ...series, className: 'curve-log', points: series.points.slice(1), band: series.band!.slice(1) };
          }),
        })}</figure>`
      : '';
  const { resamples, seed } = analysis.bootstrap;
  return `<h2>Discovery</h2>
<p class="lede">A discovery is the first generation that passes the public tests <em>and</em> all private tests; T is its 1-based index in sampling order and runs that never discover count as T = ∞ (censored at the budget, ${analysis.budget}).</p>
${summaryTable(analysis, colors)}
<figure>${chart}
<figcaption>Shaded bands: ${level}% percentile-bootstrap confidence intervals, ${resamples} resamples of the runs of each strategy (seeded RNG, seed ${seed}, so the report is reproducible).</figcaption></figure>
${logChart}
<figure>${publicChart}
<figcaption>The same for the public tests alone, which drive reward and feedback during the search. A gap to the curve above means programs that fooled the public tests.</figcaption></figure>`;
}

function passAtKSection(analysis: Analysis, colors: Map<string, string>): string {
  const withPass = analysis.strategies.filter((s) => s.passAtK && s.passAtK.curve.length > 0);
  if (withPass.length === 0) return '';
  return withPass
    .map((s) => {
      const pass = s.passAtK!;
      const chart = lineChart({
        id: 'pass-at-k',
        title: `${s.name}: unbiased pass@k, mean over ${pass.perTask.length} task(s)`,
        xLabel: 'k',
        yLabel: 'pass@k',
        integerX: true,
        xDomain: [1, Math.max(2, pass.curve.length)],
        yDomain: [0, 1],
        formatY: formatPercent,
        height: 280,
        series: [{ label: `${s.name} pass@k`, key: s.name, color: colors.get(s.name)!, className: 'pass-curve', points: pass.curve.map((v, i): [number, number] => [i + 1, v]) }],
      });
      const rows = pass.perTask
        .map((t) => `<tr><td>${escapeHtml(t.task)}</td><td>${t.samples}</td><td>${t.correct}</td><td>${percent(t.correct / t.samples)}</td></tr>`)
        .join('');
      return `<h2>pass@k (${escapeHtml(s.name)})</h2>
<p class="lede">pass@k = 1 − C(n−c, k)/C(n, k) per task from all of ${escapeHtml(s.name)}'s samples (seeds pooled; n samples, c discoveries), averaged over tasks for k up to the smallest n.</p>
${pass.caveat ? `<p class="note">Caveat: ${escapeHtml(pass.caveat)}.</p>` : ''}
<figure>${chart}</figure>
<table class="pass-tasks"><thead><tr><th>task</th><th>n</th><th>c</th><th>c / n</th></tr></thead><tbody>${rows}</tbody></table>`;
    })
    .join('\n');
}

function perTaskSection(analysis: Analysis, colors: Map<string, string>): string {
  const head = `<tr><th>task</th>${analysis.strategies
    .map((s) => `<th>${swatch(colors.get(s.name)!)}${escapeHtml(s.name)}<br><small>T per seed</small></th><th>solved</th>`)
    .join('')}</tr>`;
  const rows = analysis.tasks.map((task) => {
    const cells = analysis.strategies.map((s) => {
      const bySeed = analysis.seeds.map((seed) => analysis.outcomes.find((o) => o.task === task && o.strategy === s.name && o.seed === seed));
      const runs = bySeed.filter((o) => o !== undefined);
      // a seed with no attempt keeps its column position so the "in that order" reading holds
      const times = bySeed.map((run) => {
        if (!run) return '<span class="unsolved" title="no attempts recorded">–</span>';
        const seedNote = `seed ${run.seed}: ${run.attempts} attempt(s)`;
        if (Number.isFinite(run.discoveryT)) return `<span title="${escapeHtml(seedNote)}">${run.discoveryT}</span>`;
        if (Number.isFinite(run.publicT)) {
          return `<span class="public-only" title="${escapeHtml(`${seedNote}; passed the public tests at k=${run.publicT} but failed private tests`)}">∞†</span>`;
        }
        if (run.incomplete) return `<span class="unsolved" title="${escapeHtml(`${seedNote}; stopped before the budget`)}">&gt;${run.lastK}</span>`;
        return `<span class="unsolved" title="${escapeHtml(seedNote)}">∞</span>`;
      });
      const solved = runs.filter((r) => Number.isFinite(r.discoveryT)).length;
      const solvedClass = runs.length > 0 && solved === runs.length ? ' class="solved-all"' : '';
      return `<td class="times">${times.join('<span class="sep"> · </span>')}</td><td${solvedClass}>${solved}/${runs.length}</td>`;
    });
    return `<tr data-task="${escapeHtml(task)}"><td>${escapeHtml(task)}</td>${cells.join('')}</tr>`;
  });
  return `<h2>Per-task discovery times</h2>
<p class="lede">T for each seed (${analysis.seeds.map((s) => escapeHtml(String(s))).join(', ')}, in that order). ∞ = no discovery within the budget; ∞† = passed the public tests but never the private ones; &gt;n = unsolved and stopped after n generations; – = not run.</p>
<table class="per-task"><thead>${head}</thead><tbody>${rows.join('\n')}</tbody></table>`;
}

function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const seconds = ms / 1000;
  if (seconds < 120) return `${seconds.toFixed(1)} s`;
  const minutes = seconds / 60;
  if (minutes < 120) return `${minutes.toFixed(1)} min`;
  return `${(minutes / 60).toFixed(2)} h`;
}

function timeSection(analysis: Analysis): string {
  const parts = [
    { label: 'sample', color: '#0072B2' },
    { label: 'grade', color: '#E69F00' },
    { label: 'teacher + train', color: '#009E73' },
  ];
  const rows = analysis.time;
  if (rows.length === 0) return `<h2>Time breakdown</h2><p class="note">No attempts recorded yet.</p>`;
  const unit = Math.max(0, ...rows.map((r) => r.sampleMs + r.gradeMs + r.trainMs)) >= 120_000 ? 60_000 : 1000;
  const unitName = unit === 60_000 ? 'minutes' : 'seconds';
  const chart = stackedBarChart({
    id: 'time',
    title: 'where the time went, per strategy (summed over attempts and steps)',
    xLabel: unitName,
    parts,
    rows: rows.map((r) => ({ label: r.strategy, values: [r.sampleMs / unit, r.gradeMs / unit, r.trainMs / unit] })),
  });
  const per = (total: number, count: number) => (count > 0 ? formatDuration(total / count) : '–');
  const body = rows
    .map(
      (r) =>
        `<tr><td>${escapeHtml(r.strategy)}</td><td>${formatDuration(r.sampleMs)}</td><td>${formatDuration(r.gradeMs)}</td><td>${formatDuration(r.trainMs)}</td><td>${per(r.sampleMs, r.attempts)}</td><td>${per(r.gradeMs, r.attempts)}</td><td>${per(r.trainMs, r.trainSteps)}</td></tr>`,
    )
    .join('');
  const utilisation =
    analysis.utilisation.length === 0
      ? ''
      : `<h3>Utilisation</h3>
<p class="note">Fraction of wall-clock time each component was busy, as measured by <code>ttsd run</code> (one row per process: the first run and each resume). Waiting for cores: sampling calls and training steps held back so that the sampler's and trainers' threads together stay within the cores, summed over them.</p>
<table class="utilisation"><thead><tr><th>part</th><th>wall time</th><th>sampler</th><th>grader</th><th>trainer</th><th>grader slots</th><th>waiting for cores</th></tr></thead><tbody>${analysis.utilisation
          .map((u, i) => {
            const share = (value: unknown) => (typeof value === 'number' && Number.isFinite(value) ? percent(value) : '–');
            return `<tr><td>${i === 0 ? 'run' : `resume ${i}`}</td><td>${formatDuration(u.wall_ms)}</td><td>${share(u.sampler)}</td><td>${share(u.grader)}</td><td>${share(u.trainer)}</td><td>${u.grader_concurrency ?? '–'}</td><td>${u.core_wait_ms === undefined ? '–' : formatDuration(u.core_wait_ms)}</td></tr>`;
          })
          .join('')}</tbody></table>`;
  return `<h2>Time breakdown</h2>
<p class="lede">Sampling time from each attempt's <code>ms</code>, grading from <code>grade_ms</code>, teacher + training from each train_step's <code>ms</code>. Sums of work that ran concurrently, so they can exceed the wall-clock time of the run.</p>
<figure>${chart}</figure>
<table class="time"><thead><tr><th>strategy</th><th>sample</th><th>grade</th><th>teacher + train</th><th>sample / attempt</th><th>grade / attempt</th><th>train / step</th></tr></thead><tbody>${body}</tbody></table>
${utilisation}`;
}

function configSection(analysis: Analysis): string {
  // `ttsd run` also nests its camelCase config object under "config": the same settings again
  const entries = Object.entries(analysis.run).filter(
    ([key, value]) => key !== 'type' && !(key === 'config' && typeof value === 'object' && value !== null && !Array.isArray(value)),
  );
  const rows = entries
    .map(([key, value]) => {
      let text = typeof value === 'string' ? value : (JSON.stringify(value) ?? String(value));
      if (text.length > 400) text = `${text.slice(0, 400)}…`;
      return `<tr><td>${escapeHtml(key)}</td><td>${escapeHtml(text)}</td></tr>`;
    })
    .join('');
  return `<h2>Run configuration</h2>
<table class="config"><thead><tr><th>setting</th><th>value</th></tr></thead><tbody>${rows}</tbody></table>`;
}

function warningsSection(analysis: Analysis): string {
  if (analysis.warnings.length === 0) return '';
  return `<h2>Notes on the data</h2><ul class="warnings">${analysis.warnings.map((w) => `<li>${escapeHtml(w)}</li>`).join('')}</ul>`;
}

function status(analysis: Analysis): string {
  const resumed = analysis.resumes > 0 ? `, resumed ${analysis.resumes}×` : '';
  const started = typeof analysis.run.started_at === 'string' ? `started ${escapeHtml(analysis.run.started_at)}` : '';
  const state = analysis.finished ? 'finished' : '<strong>not finished</strong> (no run_done event: still running or killed)';
  return [started, `${state}${resumed}`].filter(Boolean).join(' · ');
}

export function reportHtml(analysis: Analysis, title: string): string {
  const colors = strategyColors(analysis);
  const runCount = analysis.outcomes.length;
  const body = [
    `<h1>${escapeHtml(title)}</h1>`,
    `<p class="lede">${analysis.strategies.length} strategies · ${analysis.tasks.length} task(s) · ${analysis.seeds.length} seed(s) · ${runCount} runs · budget ${analysis.budget} generations per run · ${status(analysis)}</p>`,
    analysis.strategies.length > 0 ? discoverySection(analysis, colors) : '<p class="note">No attempts recorded yet.</p>',
    analysis.strategies.length > 0 ? comparisonSection(analysis) : '',
    protocolSection(analysis.strategies.map((s) => s.name), analysis.protocols),
    passAtKSection(analysis, colors),
    analysis.strategies.length > 0 ? perTaskSection(analysis, colors) : '',
    trainingSection(analysis),
    timeSection(analysis),
    configSection(analysis),
    warningsSection(analysis),
  ]
    .join('\n')
    // wide tables (many seeds or strategies) scroll sideways instead of spilling out of the page
    .replace(/<table /g, '<div class="table-scroll"><table ')
    .replace(/<\/table>/g, '</table></div>');
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<title>${escapeHtml(title)}</title>
<style>${PAGE_STYLE}</style>
</head>
<body>
<main>
${body}
</main>
</body>
</html>
`;
}
