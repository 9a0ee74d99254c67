/**
 * The report page in real headless Chromium (Debian's /usr/bin/chromium via playwright-core):
 * curves, bands, tables and training charts render, and the page requests nothing beyond its
 * own file. A screenshot lands in a temp dir (path printed) for a human look.
 */
import { chromium, type Browser } from 'playwright-core';
import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { analyseRunDirectory, writeReportHtml } from '../../src/report/write-report.js';
import { HAND_LOG, HAND_LOG_WITHOUT_PROTOCOLS } from './hand-log.js';
import { syntheticEvents, toJsonl } from './synthetic-run.js';

const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

let browser: Browser;
let workDir: string;

beforeAll(async () => {
  // no skip: CI must have Chromium, and a missing one must fail this file
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
  workDir = await mkdtemp(path.join(os.tmpdir(), 'ttsd-report-page-'));
});

afterAll(async () => {
  await browser?.close();
});

async function renderRun(name: string, eventsJsonl: string): Promise<string> {
  const dir = path.join(workDir, name);
  await import('node:fs/promises').then((fs) => fs.mkdir(dir, { recursive: true }));
  await writeFile(path.join(dir, 'events.jsonl'), eventsJsonl);
  return writeReportHtml(await analyseRunDirectory(dir), dir);
}

async function openPage(file: string) {
  const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
  const requests: string[] = [];
  page.on('request', (request) => requests.push(request.url()));
  await page.goto(pathToFileURL(file).href, { waitUntil: 'load' });
  return { page, requests };
}

describe('report page in Chromium', () => {
  it('draws one curve and one band per strategy, the tables and the training charts, offline', async () => {
    const file = await renderRun('synthetic', toJsonl(syntheticEvents()));
    const { page, requests } = await openPage(file);
    const strategies = ['best-of-k', 'multi-turn', 'sdpo'];

    const discovery = page.locator('svg[data-chart="discovery"]');
    await expect(discovery.count()).resolves.toBe(1);
    const curveSeries = await discovery.locator('path.curve').evaluateAll((paths) => paths.map((p) => p.getAttribute('data-series')));
    expect(curveSeries).toEqual(strategies);
    const bandSeries = await discovery.locator('path.band').evaluateAll((paths) => paths.map((p) => p.getAttribute('data-series')));
    expect(bandSeries).toEqual(strategies);
    // every curve is actually drawn: a non-empty path with a real box on screen
    for (const box of await discovery.locator('path.curve').evaluateAll((paths) => paths.map((p) => ({ width: (p as SVGGraphicsElement).getBBox().width })))) {
      expect(box.width).toBeGreaterThan(100);
    }
    await expect(discovery.locator('.legend-item').count()).resolves.toBe(3);
    await expect(discovery.locator('text.axis-label').allTextContents()).resolves.toEqual(['generations k', 'discovery@k']);
    expect((await discovery.locator('text.tick').allTextContents())).toEqual(expect.arrayContaining(['0%', '50%', '100%', '0', '20', '40', '60']));
    expect((await discovery.boundingBox())!.width).toBeGreaterThan(700);

    await expect(page.locator('table.per-task tbody tr').count()).resolves.toBe(4);
    await expect(page.locator('table.summary tbody tr').count()).resolves.toBe(3);
    for (const chart of ['train-loss', 'train-kl', 'train-grad-norm']) {
      expect(await page.locator(`svg[data-chart="${chart}"] path.train-line`).count()).toBeGreaterThan(1);
    }
    expect(await page.locator('svg[data-chart="time"] rect.bar').count()).toBeGreaterThanOrEqual(4);
    await expect(page.locator('svg[data-chart="pass-at-k"] path.pass-curve').count()).resolves.toBe(1);
    await expect(page.locator('table.config').textContent()).resolves.toContain('lora_rank');
    // how each strategy ran, from the run event's protocols; multi-turn at 4 per turn is labelled
    const protocols = await page.locator('table.protocols tbody tr').evaluateAll((trs) => trs.map((tr) => [tr.getAttribute('data-protocol'), tr.querySelector('td')?.textContent]));
    expect(protocols).toEqual([
      ['best-of-k', 'best-of-k'],
      ['multi-turn', 'multi-turn (4/turn)'],
      ['sdpo', 'sdpo'],
    ]);
    await expect(page.locator('table.summary tbody').textContent()).resolves.toContain('multi-turn (4/turn)');
    await expect(page.locator('table.utilisation tbody tr').count()).resolves.toBe(1);
    await expect(page.locator('table.time tbody tr').count()).resolves.toBe(3);

    expect(requests).toEqual([pathToFileURL(file).href]);
    const shots = path.join(workDir, 'screenshot.png');
    await page.screenshot({ path: shots, fullPage: true });
    console.log(`report screenshot: ${shots}`);
    await page.close();
  });

  it('renders the hand-written log with its per-task times', async () => {
    const file = await renderRun('hand', HAND_LOG_WITHOUT_PROTOCOLS);
    const { page, requests } = await openPage(file);
    await expect(page.locator('svg[data-chart="discovery"] path.curve').count()).resolves.toBe(2);
    await expect(page.locator('svg[data-chart="discovery"] path.band').count()).resolves.toBe(2);
    const rows = await page.locator('table.per-task tbody tr').evaluateAll((trs) =>
      trs.map((tr) => Array.from(tr.querySelectorAll('td')).map((td) => td.textContent?.trim())),
    );
    // columns: task, best-of-k times, solved, sdpo times, solved
    expect(rows).toEqual([
      ['A', '2 · ∞†', '1/2', '2 · 1', '2/2'],
      ['B', '∞ · 3', '1/2', '>2 · ∞', '0/2'],
    ]);
    await expect(page.locator('ul.warnings li').count()).resolves.toBeGreaterThan(0);
    // a log written before protocols were recorded says so instead of guessing
    await expect(page.getByText('How each strategy ran').count()).resolves.toBe(1);
    await expect(page.locator('table.protocols').count()).resolves.toBe(0);
    await expect(page.getByText(/^Not recorded/).count()).resolves.toBe(1);
    // no recorded traits: no baseline to compare with, said in one note
    await expect(page.getByText(/no variant of this run is a baseline/).count()).resolves.toBe(1);
    expect(requests).toHaveLength(1);
    await page.close();
  });

  it('compares each variant with the baseline its traits name (values worked out in hand-log.ts)', async () => {
    const file = await renderRun('hand-traits', HAND_LOG);
    const { page, requests } = await openPage(file);
    const cells = await page.locator('table.comparison tr[data-variant="sdpo"] td').evaluateAll((tds) => tds.map((td) => td.textContent?.trim() ?? ''));
    // variant, runs, disc@1, disc@2, disc@4 ratios, generations to reach, best-of-K's, × fewer, signal
    expect(cells[0]).toBe('sdpo');
    expect(cells[1]).toBe('4');
    expect(cells.slice(2, 5).map((c) => c.split(' ')[0])).toEqual(['∞', '2.00×', '1.00×']);
    expect(cells.slice(5, 8).map((c) => c.split(' ')[0])).toEqual(['2', '3', '1.50×']);
    expect(cells[8]).toBe('2 / 0');
    await expect(page.locator('table.signal tr[data-signal="sdpo"] td').allTextContents()).resolves.toEqual(['sdpo', '2', '0']);
    await expect(page.locator('table.protocols').count()).resolves.toBe(1);
    expect(requests).toHaveLength(1);
    await page.close();
  });
});
