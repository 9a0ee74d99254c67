/** `ttsd tasks list|show|presets|show-preset`: browse shipped tasks and LiveCodeBench release files. */
import { Command, Option } from 'commander';
import { UserError } from '../errors.js';
import { findPreset, loadTask, loadTaskSet, PRESETS, SHIPPED_TASKS_DIR, type IndexBase, type TaskSetOptions } from '../tasks/index.js';
import { loadTasks, privateTestCount } from '../tasks/load.js';
import { consoleProgress, DEFAULT_HF_ENDPOINT, fetchLcb, LCB_DATASET } from '../tasks/fetch.js';
import { LCBV6_WINDOW } from '../tasks/presets.js';
import { cacheDir } from '../llama/source.js';
import { join } from 'node:path';
import type { Task } from '../tasks/types.js';

interface SelectionFlags {
  tasks?: string;
  ids?: string;
  from?: string;
  to?: string;
  difficulty?: string;
  platform?: string;
  preset?: string;
  indexBase?: string;
  json?: boolean;
}

const tasksOption = () => new Option('--tasks <path>', 'task .jsonl file or directory (LCB release files work too)').default(undefined, 'the shipped tasks/');
const indexBaseOption = () =>
  new Option('--index-base <n>', "how the LCBv6 presets count the paper's question numbers").choices(['0', '1']).default('0');

export function registerTaskCommands(program: Command): void {
  const tasks = program.command('tasks').description('list and inspect coding tasks (shipped or LiveCodeBench release files)');

  tasks
    .command('list')
    .description('list tasks, optionally filtered')
    .addOption(tasksOption())
    .option('--ids <a,b,...>', 'only these question_ids')
    .option('--from <date>', 'contest_date on or after DATE (inclusive)')
    .option('--to <date>', 'contest_date before DATE (exclusive)')
    .option('--difficulty <d,...>', 'easy, medium and/or hard')
    .option('--platform <p,...>', 'leetcode, codeforces, atcoder, ttsd, ...')
    .option('--preset <name>', `a named task set: ${PRESETS.map((p) => p.name).join(', ')}`)
    .addOption(indexBaseOption())
    .option('--json', 'print a JSON array')
    .action(async (flags: SelectionFlags) => {
      const { tasks: selected, preset } = await loadTaskSet(taskSetOptions(flags));
      if (preset) for (const warning of preset.warnings) process.stderr.write(`ttsd: warning: ${warning}\n`);
      // With --json the reading goes to stderr so stdout stays one JSON document.
      if (preset && flags.json) process.stderr.write(`preset ${flags.preset}: ${preset.reading}\n`);
      if (flags.json) {
        process.stdout.write(JSON.stringify(selected.map(summary), null, 2) + '\n');
        return;
      }
      if (preset) process.stdout.write(`preset ${flags.preset}: ${preset.reading}\n\n`);
      process.stdout.write(table(selected) + '\n');
    });

  tasks
    .command('show <id>')
    .description('print one task: statement, starter code, tests')
    .addOption(tasksOption())
    .option('--json', 'print the decoded task as JSON (all tests included)')
    .action(async (id: string, flags: { tasks?: string; json?: boolean }) => {
      const task = await loadTask(id, flags.tasks);
      process.stdout.write(flags.json ? JSON.stringify(task, null, 2) + '\n' : describeTask(task));
    });

  tasks
    .command('presets')
    .description('list the named task sets')
    .action(() => {
      for (const p of PRESETS) process.stdout.write(`${p.name.padEnd(16)} ${p.description}\n`);
    });

  tasks
    .command('show-preset <name>')
    .description('resolve a preset against task files and print the reading it applies and the ids it picked')
    .addOption(tasksOption())
    .addOption(indexBaseOption())
    .option('--json', 'print {name, reading, warnings, ids}')
    .action(async (name: string, flags: { tasks?: string; indexBase?: string; json?: boolean }) => {
      const preset = findPreset(name);
      const resolved = preset.resolve(await loadTasks(flags.tasks ?? SHIPPED_TASKS_DIR), { indexBase: indexBase(flags.indexBase) });
      const ids = resolved.tasks.map((t) => t.id);
      if (flags.json) {
        process.stdout.write(JSON.stringify({ name, reading: resolved.reading, warnings: resolved.warnings, ids }, null, 2) + '\n');
        return;
      }
      for (const warning of resolved.warnings) process.stderr.write(`ttsd: warning: ${warning}\n`);
      process.stdout.write(`${name}: ${preset.description}\nreading: ${resolved.reading}\nresolved ${ids.length} tasks:\n`);
      process.stdout.write(table(resolved.tasks) + '\n');
    });

  registerFetch(tasks);
}

function registerFetch(tasks: Command): void {
  tasks
    .command('fetch <dataset>')
    .description(`download LiveCodeBench's release files (dataset lcb = ${LCB_DATASET}) and check that they load`)
    .option('--release <v>', 'v1 … v6 (release_vN = test.jsonl … testN.jsonl)', 'v6')
    .option('--out <dir>', 'where the files go (default: $TTSD_CACHE/lcb/code_generation_lite)')
    .option('--endpoint <url>', `Hugging Face endpoint or mirror (default: $HF_ENDPOINT, else ${DEFAULT_HF_ENDPOINT})`)
    .option('--force', 'download files again even when they are there and load')
    .option('--json', 'print a JSON report on stdout')
    .action(async (dataset: string, flags: { release: string; out?: string; endpoint?: string; force?: boolean; json?: boolean }) => {
      if (dataset !== 'lcb') throw new UserError(`unknown dataset ${dataset} (known: lcb)`);
      const out = flags.out ?? join(cacheDir(), 'lcb', 'code_generation_lite');
      const report = await fetchLcb({ release: flags.release, out, endpoint: flags.endpoint, force: flags.force, progress: consoleProgress() });
      for (const warning of report.warnings) process.stderr.write(`ttsd: warning: ${warning}\n`);
      if (flags.json) {
        process.stdout.write(JSON.stringify(report, null, 2) + '\n');
        return;
      }
      process.stdout.write(
        `${report.release}: ${report.files.length} files, ${report.rows} problems in ${report.dir}; ` +
          `${report.lcbv6Window} in the LCBv6 window [${LCBV6_WINDOW.from}, ${LCBV6_WINDOW.to}) (the paper's ${LCBV6_WINDOW.expectedCount})\n`,
      );
      if (report.lcbv6Window > 0) process.stdout.write(`next: node bin/ttsd.js tasks show-preset lcbv6-hard --tasks ${report.dir}\n`);
    });
}

function taskSetOptions(flags: SelectionFlags): TaskSetOptions {
  return {
    tasks: flags.tasks,
    ids: csv(flags.ids),
    from: flags.from,
    to: flags.to,
    difficulty: csv(flags.difficulty) as TaskSetOptions['difficulty'],
    platform: csv(flags.platform),
    preset: flags.preset,
    indexBase: indexBase(flags.indexBase),
  };
}

function indexBase(value: string | undefined): IndexBase {
  if (value === undefined || value === '0') return 0;
  if (value === '1') return 1;
  throw new UserError(`--index-base must be 0 or 1 (got ${value})`);
}

function csv(value: string | undefined): string[] | undefined {
  if (value === undefined) return undefined;
  return value.split(',').map((s) => s.trim()).filter((s) => s !== '');
}

function testType(task: Task): string {
  return task.funcName ? 'functional' : 'stdin';
}

function summary(task: Task) {
  return {
    id: task.id,
    title: task.title,
    platform: task.platform,
    difficulty: task.difficulty,
    contest_date: task.contestDate,
    testtype: testType(task),
    func_name: task.funcName ?? null,
    public_tests: task.publicTests.length,
    private_tests: privateTestCount(task),
  };
}

function table(tasks: Task[]): string {
  const rows = [
    ['ID', 'PLATFORM', 'DIFFICULTY', 'TYPE', 'DATE', 'TESTS', 'TITLE'],
    ...tasks.map((t) => [
      t.id,
      t.platform,
      t.difficulty,
      testType(t),
      t.contestDate.slice(0, 10),
      `${t.publicTests.length}+${privateTestCount(t)}`,
      t.title,
    ]),
  ];
  const widths = rows[0].map((_, col) => Math.max(...rows.map((r) => r[col].length)));
  const lines = rows.map((r) => r.map((cell, col) => (col === r.length - 1 ? cell : cell.padEnd(widths[col]))).join('  '));
  return `${lines.join('\n')}\n${tasks.length} task${tasks.length === 1 ? '' : 's'}`;
}

function describeTask(task: Task): string {
  const parts = [
    `${task.id} — ${task.title}`,
    `platform ${task.platform} · ${task.difficulty} · ${testType(task)}${task.funcName ? ` (${task.funcName})` : ''} · ` +
      `contest ${task.contestId || '-'} on ${task.contestDate.slice(0, 10)} · ${task.publicTests.length} public + ${task.privateTests.length} private tests`,
    '',
    task.content.trimEnd(),
    '',
  ];
  if (task.starterCode) parts.push('Starter code:', task.starterCode.trimEnd(), '');
  task.publicTests.forEach((test, i) => {
    parts.push(`Public test ${i + 1} input:`, clip(test.input), `Public test ${i + 1} expected output:`, clip(test.output), '');
  });
  return parts.join('\n') + '\n';
}

function clip(text: string, limit = 2000): string {
  const body = text.replace(/\n$/, '');
  return body.length <= limit ? body : `${body.slice(0, limit)}… (${body.length} characters)`;
}
