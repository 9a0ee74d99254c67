/**
 * Inline SVG charts for the report: no scripts, no fonts, no external references, so the page
 * renders identically offline, in a browser or pasted into a document. Text inherits the page's
 * font; colours come from the caller.
 */
import { escapeHtml } from './html-escape.js';

export interface LineSeries {
  label: string;
  color: string;
  /** [x, y] points in increasing x */
  points: Array<[number, number]>;
  /** optional [x, low, high] confidence band, same x grid as points */
  band?: Array<[number, number, number]>;
  /** draw as a step function (value holds until the next x), e.g. discovery@k */
  step?: boolean;
  dashed?: boolean;
  strokeWidth?: number;
  /** class for the curve path, e.g. "curve" or "train-line", so tests and styles can find it */
  className?: string;
  /** data-series attribute value; defaults to label */
  key?: string;
  /** false: no legend entry (e.g. faint per-run lines under their mean) */
  legend?: boolean;
}

export interface LineChartSpec {
  /** data-chart attribute of the <svg> */
  id: string;
  title: string;
  xLabel: string;
  yLabel: string;
  series: LineSeries[];
  xDomain?: [number, number];
  yDomain?: [number, number];
  formatY?: (value: number) => string;
  width?: number;
  height?: number;
  showLegend?: boolean;
  /** x is a count (generations, steps): ticks only on whole numbers */
  integerX?: boolean;
  /** logarithmic x axis (domain must be positive): early discoveries stay visible under a large budget */
  logX?: boolean;
}

/** 1, 2, 5, 10, 20, 50, … within [min, max]; only powers of ten when that would crowd the axis. */
export function logTicks(min: number, max: number): number[] {
  const decades = Math.log10(max / min);
  const multipliers = decades > 4 ? [1] : [1, 2, 5];
  const ticks: number[] = [];
  for (let power = Math.floor(Math.log10(min)); power <= Math.ceil(Math.log10(max)); power++) {
    for (const m of multipliers) {
      const value = Number((m * 10 ** power).toPrecision(12));
      if (value >= min - 1e-9 && value <= max + 1e-9) ticks.push(value);
    }
  }
  return ticks;
}

const MARGIN = { top: 34, right: 18, bottom: 46, left: 62 };
const LEGEND_WIDTH = 170;

/** About `count` round tick values (1, 2, 5 × 10^n steps) covering [min, max]. */
export function niceTicks(min: number, max: number, count = 6, minStep = 0): number[] {
  if (!(max > min)) return [min];
  const rawStep = Math.max(minStep, (max - min) / Math.max(1, count - 1));
  const magnitude = 10 ** Math.floor(Math.log10(rawStep));
  // the round step whose tick count comes closest to `count` (ties: more ticks)
  const tickCount = (s: number) => Math.floor(max / s + 1e-9) - Math.ceil(min / s - 1e-9) + 1;
  // on an integer axis (minStep ≥ 1) steps such as 2.5 would put ticks between whole numbers
  const candidates = [0.5, 1, 2, 2.5, 5, 10]
    .map((m) => m * magnitude)
    .filter((s) => s >= minStep && (minStep < 1 || Number.isInteger(s)));
  const step = candidates.reduce((best, s) => (Math.abs(tickCount(s) - count) < Math.abs(tickCount(best) - count) ? s : best));
  const ticks: number[] = [];
  for (let value = Math.ceil(min / step - 1e-9) * step; value <= max + step * 1e-9; value += step) {
    ticks.push(Number(value.toPrecision(12)));
  }
  return ticks;
}

/** Widens [min, max] outwards to the nearest round ticks, so the axis starts and ends on a label. */
export function niceDomain([min, max]: [number, number], count = 6): [number, number] {
  const ticks = niceTicks(min, max, count);
  if (ticks.length < 2) return [min, max];
  const step = ticks[1] - ticks[0];
  return [Math.min(ticks[0], Number((Math.floor(min / step) * step).toPrecision(12))), Math.max(ticks[ticks.length - 1], Number((Math.ceil(max / step) * step).toPrecision(12)))];
}

/** Compact number labels: 0.25, 1200, 3.4e-5. */
export function formatNumber(value: number): string {
  if (value === 0) return '0';
  const magnitude = Math.abs(value);
  if (magnitude >= 1e5 || magnitude < 1e-3) return value.toExponential(1).replace('e+', 'e');
  return String(Number(value.toPrecision(4)));
}

export const formatPercent = (value: number): string => `${Number((value * 100).toPrecision(4))}%`;

function domainOf(values: number[], fallback: [number, number]): [number, number] {
  const finite = values.filter(Number.isFinite);
  if (finite.length === 0) return fallback;
  let low = Math.min(...finite);
  let high = Math.max(...finite);
  if (low === high) {
    const pad = low === 0 ? 1 : Math.abs(low) * 0.1;
    low -= pad;
    high += pad;
  }
  return [low, high];
}

/** Expands step-after points into the corners of the staircase, skipping flat repeats. */
export function staircase(points: Array<[number, number]>): Array<[number, number]> {
  const corners: Array<[number, number]> = [];
  for (let i = 0; i < points.length; i++) {
    const [x, y] = points[i];
    const previous = corners[corners.length - 1];
    if (previous && previous[1] !== y) corners.push([x, previous[1]]);
    if (!previous || previous[1] !== y || i === points.length - 1) corners.push([x, y]);
  }
  return corners;
}

const round = (value: number): string => String(Math.round(value * 10) / 10);

const shorten = (text: string, max: number): string => (text.length > max ? `${text.slice(0, max - 1)}…` : text);

export function lineChart(spec: LineChartSpec): string {
  const width = spec.width ?? 760;
  const height = spec.height ?? 340;
  const legend = spec.showLegend ?? true;
  const plotLeft = MARGIN.left;
  const plotRight = width - MARGIN.right - (legend ? LEGEND_WIDTH : 0);
  const plotTop = MARGIN.top;
  const plotBottom = height - MARGIN.bottom;

  const allX = spec.series.flatMap((s) => s.points.map((p) => p[0]));
  const allY = spec.series.flatMap((s) => [...s.points.map((p) => p[1]), ...(s.band ?? []).flatMap((b) => [b[1], b[2]])]);
  const [x0, x1] = spec.xDomain ?? domainOf(allX, [0, 1]);
  const [y0, y1] = spec.yDomain ?? niceDomain(domainOf(allY, [0, 1]), 5);
  const xTicks = spec.logX ? logTicks(x0, x1) : niceTicks(x0, x1, 6, spec.integerX ? 1 : 0);
  const yTicks = niceTicks(y0, y1, 5);
  const xScale = spec.logX
    ? (x: number) => plotLeft + (Math.log(x / x0) / (Math.log(x1 / x0) || 1)) * (plotRight - plotLeft)
    : (x: number) => plotLeft + ((x - x0) / (x1 - x0 || 1)) * (plotRight - plotLeft);
  const yScale = (y: number) => plotBottom - ((y - y0) / (y1 - y0 || 1)) * (plotBottom - plotTop);
  const formatY = spec.formatY ?? formatNumber;
  const toPath = (points: Array<[number, number]>) =>
    points.map(([x, y], i) => `${i === 0 ? 'M' : 'L'}${round(xScale(x))},${round(yScale(y))}`).join('');

  const parts: string[] = [];
  parts.push(
    `<svg class="chart" data-chart="${escapeHtml(spec.id)}" viewBox="0 0 ${width} ${height}" role="img" aria-label="${escapeHtml(spec.title)}" xmlns="http://www.w3.org/2000/svg">`,
  );
  parts.push(`<title>${escapeHtml(spec.title)}</title>`);
  parts.push(`<text class="chart-title" x="${plotLeft}" y="20">${escapeHtml(spec.title)}</text>`);
  // grid and ticks
  for (const tick of yTicks) {
    if (tick < y0 - 1e-12 || tick > y1 + 1e-12) continue;
    const y = round(yScale(tick));
    parts.push(`<line class="grid" x1="${plotLeft}" x2="${round(plotRight)}" y1="${y}" y2="${y}"/>`);
    parts.push(`<text class="tick" x="${plotLeft - 8}" y="${y}" text-anchor="end" dominant-baseline="middle">${escapeHtml(formatY(tick))}</text>`);
  }
  for (const tick of xTicks) {
    if (tick < x0 - 1e-12 || tick > x1 + 1e-12) continue;
    const x = round(xScale(tick));
    parts.push(`<line class="tick-mark" x1="${x}" x2="${x}" y1="${plotBottom}" y2="${plotBottom + 5}"/>`);
    parts.push(`<text class="tick" x="${x}" y="${plotBottom + 18}" text-anchor="middle">${escapeHtml(formatNumber(tick))}</text>`);
  }
  parts.push(`<line class="axis" x1="${plotLeft}" x2="${round(plotRight)}" y1="${plotBottom}" y2="${plotBottom}"/>`);
  parts.push(`<line class="axis" x1="${plotLeft}" x2="${plotLeft}" y1="${plotTop}" y2="${plotBottom}"/>`);
  parts.push(
    `<text class="axis-label" x="${round((plotLeft + plotRight) / 2)}" y="${height - 8}" text-anchor="middle">${escapeHtml(spec.xLabel)}</text>`,
  );
  parts.push(
    `<text class="axis-label" transform="translate(16 ${round((plotTop + plotBottom) / 2)}) rotate(-90)" text-anchor="middle">${escapeHtml(spec.yLabel)}</text>`,
  );

  // bands first so every curve stays on top of every band
  for (const series of spec.series) {
    if (!series.band || series.band.length === 0) continue;
    const upper: Array<[number, number]> = series.band.map(([x, , high]) => [x, high]);
    const lower: Array<[number, number]> = series.band.map(([x, low]) => [x, low]);
    const top = series.step ? staircase(upper) : upper;
    const bottom = (series.step ? staircase(lower) : lower).reverse();
    parts.push(
      `<path class="band" data-series="${escapeHtml(series.key ?? series.label)}" d="${toPath([...top, ...bottom])}Z" fill="${series.color}" fill-opacity="0.14" stroke="none"/>`,
    );
  }
  for (const series of spec.series) {
    if (series.points.length === 0) continue;
    const points = series.step ? staircase(series.points) : series.points;
    const dash = series.dashed ? ' stroke-dasharray="6 4"' : '';
    parts.push(
      `<path class="${series.className ?? 'line'}" data-series="${escapeHtml(series.key ?? series.label)}" d="${toPath(points)}" fill="none" stroke="${series.color}" stroke-width="${series.strokeWidth ?? 2}" stroke-linejoin="round"${dash}><title>${escapeHtml(series.label)}</title></path>`,
    );
    if (series.points.length === 1) {
      const [x, y] = series.points[0];
      parts.push(`<circle cx="${round(xScale(x))}" cy="${round(yScale(y))}" r="3" fill="${series.color}"/>`);
    }
  }
  if (legend) {
    const legendX = plotRight + 16;
    spec.series.filter((series) => series.legend !== false).forEach((series, i) => {
      const y = plotTop + 8 + i * 20;
      const dash = series.dashed ? ' stroke-dasharray="6 4"' : '';
      parts.push(`<g class="legend-item" data-series="${escapeHtml(series.key ?? series.label)}">`);
      if (series.band) parts.push(`<rect x="${legendX}" y="${y - 7}" width="24" height="14" fill="${series.color}" fill-opacity="0.14"/>`);
      parts.push(`<line x1="${legendX}" x2="${legendX + 24}" y1="${y}" y2="${y}" stroke="${series.color}" stroke-width="2.5"${dash}/>`);
      parts.push(`<text class="legend" x="${legendX + 32}" y="${y}" dominant-baseline="middle">${escapeHtml(shorten(series.label, 22))}</text>`);
      parts.push('</g>');
    });
  }
  parts.push('</svg>');
  return parts.join('\n');
}
