import { Command, CommanderError } from 'commander';
import { UserError } from '../errors.js';
import { registerTaskCommands } from './tasks.js';
import { registerSandboxCommands } from './sandbox.js';
import { registerModelCommands } from './model.js';
import { registerTrainerCommands } from './trainer.js';
import { registerRunCommands } from './run.js';
import { registerReportCommands } from './report.js';
import { registerMergeCommands } from './merge.js';

const program = new Command('ttsd')
  .description('Test-time self-distillation: search for solutions to hard coding tasks with a local model')
  .showHelpAfterError()
  .exitOverride();
// `bench` groups one subcommand per component; each component's CLI file adds its own.
const bench = program.command('bench').description('measure speed side by side in one run (JSON with --json)');

registerTaskCommands(program);
registerSandboxCommands(program, bench);
registerModelCommands(program, bench);
registerTrainerCommands(program, bench);
registerRunCommands(program);
registerReportCommands(program);
registerMergeCommands(program);

try {
  await program.parseAsync(process.argv);
} catch (error) {
  process.exitCode = exitCodeFor(error);
}

/** One clear line and a non-zero exit for anything the user can fix; a stack only for bugs. */
function exitCodeFor(error: unknown): number {
  if (error instanceof CommanderError) return error.exitCode; // commander already printed it
  if (error instanceof UserError) {
    process.stderr.write(`ttsd: ${error.message}\n`);
    return error.exitCode;
  }
  const code = (error as NodeJS.ErrnoException)?.code;
  if (code === 'ENOSPC') {
    process.stderr.write('ttsd: no space left on device; results written so far are kept\n');
    return 28;
  }
  if (code === 'EACCES' || code === 'EROFS') {
    process.stderr.write(`ttsd: cannot write: ${(error as Error).message}\n`);
    return 13;
  }
  process.stderr.write(`ttsd: internal error: ${(error as Error)?.stack ?? String(error)}\n`);
  return 70;
}
