import type { Command } from 'commander';
import { jsonSummary, consoleSummary } from '../report/summary.js';
import { analyseRunDirectory, writeReportHtml } from '../report/write-report.js';

export function registerReportCommands(program: Command): void {
  program
    .command('report')
    .description('summarise a run directory from its events.jsonl: discovery@k with CIs, pass@k, report.html')
    .argument('<dir>', 'run directory holding events.jsonl')
    .option('--json', 'print one JSON object (budget, per-strategy runs, solved, mean_min_T, discovery) instead of the table; writes no HTML unless --out is given')
    .option('--out <file>', 'where to write the HTML page (default DIR/report.html)')
    .action(async (dir: string, options: { json?: boolean; out?: string }) => {
      const analysis = await analyseRunDirectory(dir);
      for (const warning of analysis.warnings) process.stderr.write(`ttsd: warning: ${warning}\n`);
      if (options.json) {
        if (options.out) await writeReportHtml(analysis, dir, options.out);
        process.stdout.write(`${JSON.stringify(jsonSummary(analysis))}\n`);
        return;
      }
      const file = await writeReportHtml(analysis, dir, options.out);
      process.stdout.write(`${consoleSummary(analysis)}\nreport: ${file}\n`);
    });
}
