import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import { UserError } from '../errors.js';
import { buildTrainer, trainerBuildKey } from '../trainer/build.js';
import { defaultTrainerConfig } from '../trainer/defaults.js';
import { NativeTrainer } from '../trainer/native-trainer.js';

export function registerTrainerCommands(program: Command, bench: Command): void {
  const trainer = program.command('trainer').description('the native SDPO LoRA trainer (llama.cpp + ttsd patch)');

  trainer
    .command('build')
    .description('build the trainer executable into the cache (instant when this recipe is already built)')
    .option('--cuda', 'build with GGML_CUDA=ON for NVIDIA GPUs (needs the CUDA toolkit; untested on CPU-only machines)')
    .action(async (o: { cuda?: boolean }) => {
      const started = performance.now();
      const path = await buildTrainer({ cuda: o.cuda === true, log: (line) => process.stderr.write(`trainer build: ${line}\n`) });
      process.stdout.write(`${path} (${((performance.now() - started) / 1000).toFixed(1)} s)\n`);
    });

  trainer
    .command('doctor')
    .description('print the build key and whether the trainer is built')
    .action(async () => {
      process.stdout.write(`build key ${await trainerBuildKey()}\n`);
      process.stdout.write(`${await buildTrainer()}\n`);
    });

  bench
    .command('trainer')
    .description('one training step vs one forward pass over the same tokens, and teacher scoring vs prefill')
    .requiredOption('--model <file>', 'base GGUF (e.g. from `ttsd model tiny --shape qwen2.5-0.5b --type q8_0`)')
    .option('--tokens <n>', 'sequence length (a quarter prompt, three quarters response)', positiveInteger, 512)
    .option('--threads <n>', 'CPU threads', positiveInteger, 2)
    .option('--rank <n>', 'LoRA rank on every projection', positiveInteger, 16)
    .option('--low-memory', 'without transposed copies of the base weights (the slower OUT_PROD backward)')
    .option('--json', 'print one JSON object')
    .action(async (o: { model: string; tokens: number; threads: number; rank: number; lowMemory?: boolean; json?: boolean }) => {
      const stateDir = mkdtempSync(join(tmpdir(), 'ttsd-bench-trainer-'));
      try {
        const t = await NativeTrainer.start(
          defaultTrainerConfig(o.model, stateDir, {
            threads: o.threads,
            loraRank: o.rank,
            maxTokens: Math.max(o.tokens + 8, 64),
            transposedWeights: o.lowMemory !== true,
          }),
        );
        try {
          const result = { model: o.model, ...(await t.bench(o.tokens)) };
          if (o.json) {
            process.stdout.write(`${JSON.stringify(result)}\n`);
          } else {
            for (const [key, value] of Object.entries(result)) {
              process.stdout.write(`${key}: ${typeof value === 'number' ? +value.toFixed(3) : value}\n`);
            }
          }
        } finally {
          await t.close();
        }
      } finally {
        rmSync(stateDir, { recursive: true, force: true });
      }
    });
}

function positiveInteger(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new UserError(`expected a positive integer, got '${value}'`);
  return n;
}
