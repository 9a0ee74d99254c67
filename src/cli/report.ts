import type { Command } from 'commander';
import { UserError } from '../errors.js';
import { analyse } from '../report/analysis.js';
import { readRunDirectories } from '../report/read-events.js';
import { jsonSummary, consoleSummary } from '../report/summary.js';
import { writeReportHtml } from '../report/write-report.js';

export function registerReportCommands(program: Command): void {
  program
    .command('report')
    .description('summarise a run from its events.jsonl: discovery@k with CIs, pass@k, report.html; several directories (shards) are analysed as one run')
    .argument('<dir...>', 'run directories holding events.jsonl (the shards of one run, or one run)')
    .option('--json', 'print one JSON object (budget, per-strategy runs, solved, mean_min_T, discovery, missing_cells) instead of the table; writes no HTML unless --out is given')
    .option('--out <file>', 'where to write the HTML page (default DIR/report.html; required with several directories)')
    .action(async (dirs: string[], options: { json?: boolean; out?: string }) => {
      if (dirs.length > 1 && !options.json && !options.out) throw new UserError('several run directories: say where the HTML page goes with --out FILE (or print --json)');
      const log = await readRunDirectories(dirs);
      const analysis = analyse(log);
      for (const warning of analysis.warnings) process.stderr.write(`ttsd: warning: ${warning}\n`);
      if (options.json) {
        if (options.out) await writeReportHtml(analysis, dirs[0], options.out);
        // planned cells no directory holds: counted here so the denominator never shrinks silently
        const missing = { count: log.missingCells.length, planned: log.plannedCells, cells: log.missingCells };
        process.stdout.write(`${JSON.stringify({ ...jsonSummary(analysis), missing_cells: missing })}\n`);
        return;
      }
      const file = await writeReportHtml(analysis, dirs[0], options.out);
      process.stdout.write(`${consoleSummary(analysis)}\nreport: ${file}\n`);
    });
}
