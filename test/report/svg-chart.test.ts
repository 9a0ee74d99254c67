import { describe, expect, it } from 'vitest';
import { formatNumber, lineChart, logTicks, niceDomain, niceTicks, staircase } from '../../src/report/svg-chart.js';

describe('chart helpers', () => {
  it('picks round ticks', () => {
    expect(niceTicks(0, 1, 5)).toEqual([0, 0.25, 0.5, 0.75, 1]);
    expect(niceTicks(0, 2750)).toEqual([0, 500, 1000, 1500, 2000, 2500]);
    expect(niceTicks(1, 2, 6, 1)).toEqual([1, 2]); // integer axis: no 1.2, 1.4, …
    expect(niceTicks(1, 16, 6, 1)).toEqual([2, 4, 6, 8, 10, 12, 14, 16]); // not 2.5, 5, 7.5, …
    expect(niceTicks(1, 16, 6)).toEqual([2.5, 5, 7.5, 10, 12.5, 15]);
    expect(niceDomain([0.13, 0.97], 5)).toEqual([0, 1]);
    expect(logTicks(1, 64)).toEqual([1, 2, 5, 10, 20, 50]);
    expect(logTicks(1, 2750)).toEqual([1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000]);
    expect(logTicks(1, 100000)).toEqual([1, 10, 100, 1000, 10000, 100000]);
  });

  it('formats tick labels compactly', () => {
    expect(formatNumber(0)).toBe('0');
    expect(formatNumber(1500)).toBe('1500');
    expect(formatNumber(0.25)).toBe('0.25');
    expect(formatNumber(0.00002)).toBe('2.0e-5');
  });

  it('turns a step function into staircase corners', () => {
    // discovery@k of the hand log's sdpo runs, with k = 0 prepended
    expect(
      staircase([
        [0, 0],
        [1, 0.25],
        [2, 0.5],
        [3, 0.5],
        [4, 0.5],
      ]),
    ).toEqual([
      [0, 0],
      [1, 0],
      [1, 0.25],
      [2, 0.25],
      [2, 0.5],
      [4, 0.5],
    ]);
    expect(staircase([[3, 1]])).toEqual([[3, 1]]);
  });

  it('places points logarithmically on a log axis', () => {
    const svg = lineChart({
      id: 'log',
      title: 'log',
      xLabel: 'k',
      yLabel: 'v',
      xDomain: [1, 100],
      yDomain: [0, 1],
      width: 400,
      height: 200,
      showLegend: false,
      logX: true,
      series: [{ label: 's', color: '#000', className: 'curve', points: [[1, 0], [10, 0.5], [100, 1]] }],
    });
    // plot x 62..382: k = 10 is half way on a log axis
    expect(svg).toContain('d="M62,154L222,94L382,34"');
  });

  it('draws the staircase in plot coordinates, bands under curves, escaped labels', () => {
    const svg = lineChart({
      id: 't',
      title: 'a <b> & c',
      xLabel: 'k',
      yLabel: 'v',
      xDomain: [0, 2],
      yDomain: [0, 1],
      width: 400,
      height: 200,
      showLegend: false,
      series: [{ label: 's', color: '#000', step: true, className: 'curve', points: [[0, 0], [1, 1], [2, 1]], band: [[0, 0, 0], [1, 0.5, 1], [2, 0.5, 1]] }],
    });
    // plot box: x 62..382, y 34..154 (margins 62/18 and 34/46)
    expect(svg).toContain('d="M62,154L222,154L222,34L382,34"');
    expect(svg.indexOf('class="band"')).toBeLessThan(svg.indexOf('class="curve"'));
    expect(svg).toContain('a &#60;b&#62; &#38; c');
    expect(svg).not.toContain('<b>');
  });
});
