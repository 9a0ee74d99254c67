import type { Command } from 'commander';
import { mergeRuns } from '../run/merge.js';

export function registerMergeCommands(program: Command): void {
  program
    .command('merge')
    .description('combine run directories (the shards of one run) into one run directory that report and run --resume accept like any run')
    .argument('<dir...>', 'run directories holding events.jsonl')
    .requiredOption('--out <dir>', 'the merged run directory (must not hold a run yet)')
    .action(async (dirs: string[], options: { out: string }) => {
      const result = await mergeRuns(dirs, options.out);
      if (result.missing.length > 0) {
        process.stderr.write(`ttsd: warning: ${result.missing.length} planned cell(s) are in none of the inputs; finish them with: ttsd run --resume ${options.out}\n`);
      }
      const state = result.complete ? `complete; report with: ttsd report ${options.out}` : `not complete; finish with: ttsd run --resume ${options.out}`;
      process.stdout.write(`${options.out}: ${result.cells} cells, ${result.attempts} attempts from ${dirs.length} run directories, ${result.files} other files copied; ${state}\n`);
    });
}
