import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import { UserError } from '../errors.js';
import { buildTrainer, DEVICE_BUILDS, trainerBuildKey } from '../trainer/build.js';
import { gpuSettings } from './model.js';
import { defaultTrainerConfig } from '../trainer/defaults.js';
import { NativeTrainer } from '../trainer/native-trainer.js';
import { isTrainerAttention, TRAINER_ATTENTIONS } from '../trainer/types.js';

export function registerTrainerCommands(program: Command, bench: Command): void {
  const trainer = program.command('trainer').description('the native SDPO LoRA trainer (llama.cpp + ttsd patch)');

  trainer
    .command('build')
    .description('build the trainer executable into the cache (instant when this recipe is already built)')
    .option('--cuda', 'the CUDA trainer: GGML_CUDA=ON for NVIDIA GPUs, cached beside the CPU build (needs nvcc: $CUDACXX, PATH or /usr/local/cuda/bin)')
    .option('--vulkan', 'the Vulkan trainer: GGML_VULKAN=ON, cached beside the CPU build (needs glslc and the Vulkan headers)')
    .action(async (o: { cuda?: boolean; vulkan?: boolean }) => {
      if (o.cuda && o.vulkan) throw new UserError('trainer build: --cuda or --vulkan, not both');
      const started = performance.now();
      const path = await buildTrainer({ cuda: o.cuda === true, vulkan: o.vulkan === true, log: (line) => process.stderr.write(`trainer build: ${line}\n`) });
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
    .option(
      '--attention <kind>',
      'blocked: query blocks over the causal key prefix from standard ops, softmax recomputed in the backward (O(n·block) memory, every backend); fused: CPU custom ops (O(n)); plain: the materialised n² softmax',
      TRAINER_ATTENTIONS[0],
    )
    .option('--attention-block-rows <n>', 'query rows per block of the blocked attention (default: automatic, ≤ 64 MiB of scores per block)', positiveInteger)
    .option('--gpu <mode>', 'cuda / vulkan: the CUDA / Vulkan trainer with the model on the GPU (built once, cached); off: the CPU trainer', 'off')
    .option('--gpu-layers <n|max>', 'model layers on the GPU with --gpu cuda or vulkan', 'max')
    .option('--json', 'print one JSON object')
    .action(async (o: { model: string; tokens: number; threads: number; rank: number; lowMemory?: boolean; attention: string; attentionBlockRows?: number; gpu: string; gpuLayers: string; json?: boolean }) => {
      const { gpu, gpuLayers } = gpuSettings(o.gpu, o.gpuLayers);
      if (gpu !== 'cuda' && gpu !== 'vulkan' && gpu !== 'off') throw new UserError(`bench trainer: --gpu must be cuda, vulkan or off (the trainer has no ${gpu} build), got ${o.gpu}`);
      const missing = gpu === 'off' ? null : DEVICE_BUILDS[gpu].missingTools();
      if (missing) throw new UserError(missing);
      const attention = o.attention;
      if (!isTrainerAttention(attention)) throw new UserError(`bench trainer: --attention must be ${TRAINER_ATTENTIONS.join(', ')}, got ${attention}`);
      if (o.attentionBlockRows !== undefined && attention !== 'blocked') throw new UserError('bench trainer: --attention-block-rows needs --attention blocked');
      if (attention === 'fused' && gpu !== 'off') throw new UserError(`bench trainer: --attention fused is a CPU kernel; with --gpu ${gpu} use blocked or plain`);
      const stateDir = mkdtempSync(join(tmpdir(), 'ttsd-bench-trainer-'));
      try {
        const t = await NativeTrainer.start(
          defaultTrainerConfig(o.model, stateDir, {
            threads: o.threads,
            loraRank: o.rank,
            maxTokens: Math.max(o.tokens + 8, 64),
            transposedWeights: o.lowMemory !== true,
            attention,
            ...(o.attentionBlockRows !== undefined && { attentionBlockRows: o.attentionBlockRows }),
            ...(gpu !== 'off' && { device: gpu, gpuLayers: gpuLayers === 'max' ? -1 : gpuLayers }),
          }),
        );
        try {
          // cpuOps: the nodes the scheduler placed on the CPU while the model is on the device, by op (empty on the CPU)
          const result = { model: o.model, device: gpu === 'off' ? 'cpu' : gpu, attention, ...(await t.bench(o.tokens)) };
          if (o.json) {
            process.stdout.write(`${JSON.stringify(result)}\n`);
          } else {
            for (const [key, value] of Object.entries(result)) {
              if (key === 'cpuOps') continue;
              process.stdout.write(`${key}: ${typeof value === 'number' ? +value.toFixed(3) : value}\n`);
            }
            process.stdout.write(`cpuOps: ${cpuOpsLine(result.device, result.cpuOps)}\n`);
          }
        } finally {
          await t.close();
        }
      } finally {
        rmSync(stateDir, { recursive: true, force: true });
      }
    });
}

/** The placement listing in words: what the scheduler put on the CPU, or why nothing is listed. */
export function cpuOpsLine(device: string, ops: string[]): string {
  if (device === 'cpu') return 'none listed (the CPU device runs every node by definition)';
  return ops.length === 0 ? `none (every node of the training and head graphs on ${device})` : ops.join(', ');
}

function positiveInteger(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new UserError(`expected a positive integer, got '${value}'`);
  return n;
}
