/** Horizontal stacked bars (one bar per row, one segment per part), inline SVG like the line charts. */
import { escapeHtml } from './html-escape.js';
import { formatNumber, niceDomain, niceTicks } from './svg-chart.js';

export interface StackedBarSpec {
  id: string;
  title: string;
  xLabel: string;
  rows: Array<{ label: string; values: number[] }>;
  parts: Array<{ label: string; color: string }>;
  width?: number;
}

const round = (value: number): string => String(Math.round(value * 10) / 10);

export function stackedBarChart(spec: StackedBarSpec): string {
  const width = spec.width ?? 760;
  const barHeight = 26;
  const gap = 14;
  const left = 130;
  const right = width - 18;
  const top = 58;
  const plotBottom = top + spec.rows.length * (barHeight + gap) - gap;
  const height = plotBottom + 46;
  const maxTotal = Math.max(0, ...spec.rows.map((row) => row.values.reduce((a, b) => a + b, 0)));
  const [, xEnd] = niceDomain([0, maxTotal > 0 ? maxTotal : 1], 6);
  const ticks = niceTicks(0, xEnd, 6);
  const xMax = ticks[ticks.length - 1];
  const xScale = (value: number) => left + (value / xMax) * (right - left);

  const parts: string[] = [];
  parts.push(
    `<svg class="chart" data-chart="${escapeHtml(spec.id)}" viewBox="0 0 ${width} ${height}" role="img" aria-label="${escapeHtml(spec.title)}" xmlns="http://www.w3.org/2000/svg">`,
  );
  parts.push(`<title>${escapeHtml(spec.title)}</title>`);
  parts.push(`<text class="chart-title" x="${left}" y="20">${escapeHtml(spec.title)}</text>`);
  let legendX = left;
  for (const part of spec.parts) {
    parts.push(`<rect x="${legendX}" y="32" width="14" height="14" fill="${part.color}"/>`);
    parts.push(`<text class="legend" x="${legendX + 20}" y="39" dominant-baseline="middle">${escapeHtml(part.label)}</text>`);
    legendX += 40 + part.label.length * 7.5;
  }
  for (const tick of ticks) {
    const x = round(xScale(tick));
    parts.push(`<line class="grid" x1="${x}" x2="${x}" y1="${top - 4}" y2="${plotBottom}"/>`);
    parts.push(`<text class="tick" x="${x}" y="${plotBottom + 18}" text-anchor="middle">${escapeHtml(formatNumber(tick))}</text>`);
  }
  spec.rows.forEach((row, i) => {
    const y = top + i * (barHeight + gap);
    parts.push(
      `<text class="tick" x="${left - 10}" y="${y + barHeight / 2}" text-anchor="end" dominant-baseline="middle">${escapeHtml(row.label)}</text>`,
    );
    let offset = 0;
    row.values.forEach((value, j) => {
      if (!(value > 0)) return;
      const x = xScale(offset);
      const w = xScale(offset + value) - x;
      parts.push(
        `<rect class="bar" x="${round(x)}" y="${y}" width="${round(w)}" height="${barHeight}" fill="${spec.parts[j].color}"><title>${escapeHtml(`${row.label} · ${spec.parts[j].label}: ${formatNumber(value)}`)}</title></rect>`,
      );
      offset += value;
    });
  });
  parts.push(`<line class="axis" x1="${left}" x2="${left}" y1="${top - 4}" y2="${plotBottom}"/>`);
  parts.push(`<text class="axis-label" x="${round((left + right) / 2)}" y="${height - 8}" text-anchor="middle">${escapeHtml(spec.xLabel)}</text>`);
  parts.push('</svg>');
  return parts.join('\n');
}
