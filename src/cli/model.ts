import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { buildLlamaServer } from '../llama/server-build.js';
import { writePreset } from '../model/servers/llama-server.js';
import { UserError } from '../errors.js';
import { writeTinyModel, type TinyArch, type TinyShapeName, type TinyType } from '../model/tiny.js';
import { modelInfo } from '../model/info.js';
import { benchSampler } from '../model/bench.js';
import { ALL_LORA_TARGETS, writeLoraAdapter } from '../model/lora.js';
import { exportPeft } from '../model/peft.js';
import { GPU_MODES, kebab, OPTION_SPECS, type RunConfig } from '../run/config.js';
import { resolveDevices } from '../run/devices.js';

export function registerModelCommands(program: Command, bench: Command): void {
  const model = program.command('model').description('test models and model files');

  model
    .command('tiny')
    .description('write a random-weight model with a real tokenizer and chat template (nothing is downloaded)')
    .requiredOption('--out <file>', 'output GGUF path')
    .option('--arch <arch>', 'qwen2 | qwen3 | llama', 'qwen2')
    .option('--type <type>', 'weight type: f32 | f16 | q8_0', 'f32')
    .option('--shape <shape>', 'tiny | qwen2.5-0.5b (that model\'s exact shapes)', 'tiny')
    .option('--layers <n>', 'number of blocks', integer)
    .option('--hidden <n>', 'embedding size', integer)
    .option('--heads <n>', 'attention heads', integer)
    .option('--kv-heads <n>', 'key/value heads', integer)
    .option('--ffn <n>', 'MLP size', integer)
    .option('--seed <n>', 'weights seed', integer, 0)
    .option('--std <x>', 'output-head scale (std·sqrt(hidden)); larger = peakier logits', number, 2)
    .action(async (o: { out: string; arch: string; type: string; shape: string; layers?: number; hidden?: number; heads?: number; kvHeads?: number; ffn?: number; seed: number; std: number }) => {
      const started = performance.now();
      const info = await writeTinyModel(o.out, {
        arch: o.arch as TinyArch,
        type: o.type as TinyType,
        shape: o.shape as TinyShapeName,
        ...(o.layers !== undefined && { layers: o.layers }),
        ...(o.hidden !== undefined && { hidden: o.hidden }),
        ...(o.heads !== undefined && { heads: o.heads }),
        ...(o.kvHeads !== undefined && { kvHeads: o.kvHeads }),
        ...(o.ffn !== undefined && { ffn: o.ffn }),
        seed: o.seed,
        std: o.std,
      });
      const r = info.recipe;
      process.stdout.write(
        `wrote ${info.path}: ${r.arch} ${r.shape} ${r.type}, ${r.layers} layers, hidden ${r.hidden}, heads ${r.heads}/${r.kvHeads}, ffn ${r.ffn}, ` +
          `vocab ${info.vocabSize}, ${info.tensors} tensors, ${(info.bytes / 2 ** 20).toFixed(1)} MiB in ${((performance.now() - started) / 1000).toFixed(1)} s\n`,
      );
    });

  const lora = model
    .command('lora')
    .description('write a random LoRA adapter for a model (llama.cpp layout), for tests and experiments')
    // checked in the action rather than required here: commander would demand them of `lora export` too
    .option('--base <file>', 'the model GGUF the adapter is for (required)')
    .option('--out <file>', 'output adapter GGUF, a new name for every version (required)')
    .option('--rank <n>', 'LoRA rank', integer, 8)
    .option('--alpha <x>', 'LoRA alpha (scale = alpha / rank)', number, 16)
    .option('--std <x>', 'std of B (0 = the usual no-op initialisation)', number, 0.1)
    .option('--seed <n>', 'seed', integer, 1)
    .option('--targets <list>', 'comma-separated weights to adapt', ALL_LORA_TARGETS.join(','))
    .action((o: { base?: string; out?: string; rank: number; alpha: number; std: number; seed: number; targets: string }) => {
      if (!o.base || !o.out) throw new UserError('model lora: --base and --out are required');
      const info = writeLoraAdapter({ ...o, base: o.base, out: o.out, targets: o.targets.split(',').map((t) => t.trim()).filter(Boolean) });
      process.stdout.write(`wrote ${info.path}: ${info.pairs} A/B pairs, rank ${info.rank}, alpha ${info.alpha}\n`);
    });

  lora
    .command('export')
    .description('convert a LoRA adapter GGUF (what the trainer writes) into a PEFT adapter directory for vLLM / Hugging Face PEFT')
    .requiredOption('--adapter <file>', 'the LoRA adapter GGUF')
    .requiredOption('--peft <dir>', 'output directory: adapter_config.json + adapter_model.safetensors (replaced if it exists)')
    .option('--model <file>', 'the base model GGUF (needed for llama-architecture adapters: their q/k rows are un-permuted per head)')
    .action((o: { adapter: string; peft: string; model?: string }) => {
      const info = exportPeft(o.adapter, o.peft, o.model);
      process.stdout.write(`wrote ${info.dir}: ${info.tensors} tensors, rank ${info.rank}, alpha ${info.alpha}, modules ${info.targetModules.join(',')}\n`);
    });

  const server = model.command('server').description("llama.cpp's llama-server (built from node-llama-cpp's bundled source) for --sampler server");
  server
    .command('build')
    .description('build llama-server into the cache (instant when this recipe is already built)')
    .action(async () => {
      const started = performance.now();
      const path = await buildLlamaServer({ log: (line) => process.stderr.write(`llama-server build: ${line}\n`) });
      process.stdout.write(`${path} (${((performance.now() - started) / 1000).toFixed(1)} s)\n`);
    });
  server
    .command('start')
    .description('write the models preset into --adapter-dir and run llama-server in router mode on it (foreground; extra llama-server flags after --)')
    .requiredOption('--model <file>', 'the base model GGUF (the same path must be valid on this machine and for ttsd)')
    .requiredOption('--adapter-dir <dir>', 'the directory ttsd is given as --adapter-dir (shared with it)')
    .option('--host <host>', 'listen address', '127.0.0.1')
    .option('--port <n>', 'port', integer, 8080)
    .option('--models-max <n>', 'models (base + adapter versions) loaded at once; each is a child server holding the weights', integer, 4)
    .argument('[llamaArgs...]', 'more llama-server flags (e.g. -c 16384 -np 16 -ngl 99), passed to every child')
    .action(async (llamaArgs: string[], o: { model: string; adapterDir: string; host: string; port: number; modelsMax: number }) => {
      if (o.modelsMax < 2) throw new UserError('--models-max must be at least 2 (the base model and one adapter)');
      const modelPath = path.resolve(o.model);
      if (!fs.existsSync(modelPath)) throw new UserError(`model file not found: ${o.model}`);
      fs.mkdirSync(o.adapterDir, { recursive: true });
      const exe = await buildLlamaServer({ log: (line) => process.stderr.write(`llama-server build: ${line}\n`) });
      const preset = writePreset(path.resolve(o.adapterDir), modelPath);
      const args = ['--models-preset', preset, '--models-max', String(o.modelsMax), '--host', o.host, '--port', String(o.port), ...llamaArgs];
      process.stderr.write(`${exe} ${args.join(' ')}\n`);
      const child = spawn(exe, args, { stdio: 'inherit' });
      for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => child.kill(signal));
      const code = await new Promise<number>((resolve) => child.on('exit', (c, s) => resolve(c ?? (s ? 128 : 1))));
      process.exitCode = code;
    });

  model
    .command('info <file>')
    .description('architecture, shapes, tokenizer and chat template of a GGUF model')
    .option('--json', 'print JSON')
    .action(async (file: string, o: { json?: boolean }) => {
      const info = await modelInfo(file);
      if (o.json) {
        process.stdout.write(`${JSON.stringify(info)}\n`);
        return;
      }
      for (const [key, value] of Object.entries(info)) process.stdout.write(`${key}: ${value}\n`);
    });

  bench
    .command('sampler')
    .description('sampler tokens/s for 1 and G rollouts and its overhead vs a bare node-llama-cpp loop, in one run')
    .requiredOption('--model <file>', 'GGUF model (e.g. from `ttsd model tiny --shape qwen2.5-0.5b --type q8_0`)')
    .option('--g <n>', 'parallel rollouts', integer, 4)
    .option('--tokens <n>', 'tokens per rollout', integer, 128)
    .option('--threads <n>', 'CPU threads', integer)
    .option('--repeats <n>', 'paired runs (the ratio is their median)', integer, 3)
    .option('--seed <n>', 'sampling seed', integer, 1)
    .option('--gpu <mode>', `sampling device: ${GPU_MODES.join(' | ')} (as ttsd run)`, 'auto')
    .option('--gpu-layers <n|max>', 'model layers on the GPU', 'max')
    .option('--json', 'print one JSON object')
    .action(async (o: { model: string; g: number; tokens: number; threads?: number; repeats: number; seed: number; gpu: string; gpuLayers: string; json?: boolean }) => {
      if (o.g < 1 || o.tokens < 1 || o.repeats < 1) throw new UserError('--g, --tokens and --repeats must be positive');
      const devices = await resolveDevices(gpuSettings(o.gpu, o.gpuLayers), { needsTrainer: false });
      const result = await benchSampler({
        model: o.model,
        g: o.g,
        tokens: o.tokens,
        repeats: o.repeats,
        seed: o.seed,
        ...(o.threads !== undefined && { threads: o.threads }),
        ...(devices.sampling && { gpu: devices.sampling, gpuLayers: devices.samplingLayers }),
      });
      // said once the bench ran (a failed one prints only its error); the JSON has it as `gpu`
      if (devices.line) process.stderr.write(`note: ${devices.line}\n`);
      if (o.json) process.stdout.write(`${JSON.stringify(result)}\n`);
      else for (const [key, value] of Object.entries(result)) process.stdout.write(`${key}: ${value}\n`);
    });
}

/** `--gpu` / `--gpu-layers` of a bench, read as `ttsd run` reads them. */
export function gpuSettings(gpu: string, gpuLayers: string): Pick<RunConfig, 'gpu' | 'gpuLayers'> {
  const parse = (key: keyof RunConfig, value: string) => OPTION_SPECS.find((spec) => spec.key === key)!.parse(value, `--${kebab(key)}`);
  return { gpu: parse('gpu', gpu) as RunConfig['gpu'], gpuLayers: parse('gpuLayers', gpuLayers) as RunConfig['gpuLayers'] };
}

function integer(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n)) throw new UserError(`expected an integer, got ${value}`);
  return n;
}

function number(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n)) throw new UserError(`expected a number, got ${value}`);
  return n;
}
