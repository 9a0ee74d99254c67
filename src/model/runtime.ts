/**
 * node-llama-cpp plumbing: one Llama runtime per process (CPU unless asked otherwise), model
 * files from a path or an `hf:` URI, and llama.cpp's own error messages turned into one-line
 * UserErrors instead of "failed to load model".
 */
import { existsSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { getLlama, LlamaLogLevel, resolveModelFile, type Llama, type LlamaModel } from 'node-llama-cpp';
import { UserError } from '../errors.js';
import { cacheDir } from '../llama/source.js';
import { readGguf } from '../gguf/reader.js';

export type GpuChoice = false | 'auto' | 'cuda' | 'vulkan' | 'metal';

const runtimes = new Map<string, Promise<Llama>>();
/** llama.cpp's recent warnings and errors (numbered): the reason behind a failed load. */
const recentLogs: { n: number; text: string }[] = [];
let logCount = 0;

export function llamaRuntime(gpu: GpuChoice = false): Promise<Llama> {
  const key = String(gpu);
  let runtime = runtimes.get(key);
  if (!runtime) {
    runtime = getLlama({
      gpu,
      build: 'never', // prebuilt binaries only: never start a silent multi-minute compile
      logLevel: LlamaLogLevel.warn,
      logger: (level, message) => {
        if (level !== LlamaLogLevel.error && level !== LlamaLogLevel.warn) return;
        recentLogs.push({ n: logCount++, text: message.trim() });
        if (recentLogs.length > 200) recentLogs.shift();
        if (level === LlamaLogLevel.error && process.env.TTSD_LLAMA_LOG) process.stderr.write(`[llama.cpp] ${message}\n`);
      },
    }).catch((error: unknown) => {
      runtimes.delete(key);
      throw new UserError(`cannot start llama.cpp (gpu: ${key}): ${firstLine(error)}`);
    });
    runtimes.set(key, runtime);
  }
  return runtime;
}

export interface ResolveOptions {
  /** Give up a download when no bytes arrive for this long (offline machines hang otherwise). */
  downloadStallMs?: number;
}

/** A local model path, or an `hf:` URI downloaded once into cacheDir()/models. */
export async function resolveModelPath(model: string, options: ResolveOptions = {}): Promise<string> {
  if (!model.startsWith('hf:') && !/^https?:\/\//.test(model)) {
    const path = resolve(model);
    if (!existsSync(path)) throw new UserError(`model file not found: ${model}`);
    if (!statSync(path).isFile()) throw new UserError(`model path is not a file: ${model}`);
    return path;
  }
  const directory = join(cacheDir(), 'models');
  let needed = model;
  try {
    return await resolveModelFile(model, { directory, download: false, cli: false });
  } catch (error) {
    // The message names the cache file it looked for: that is the file an offline user must supply.
    const match = /at "([^"]+)"/.exec(firstLine(error));
    if (match) needed = match[1]!;
  }
  const stallMs = options.downloadStallMs ?? Number(process.env.TTSD_DOWNLOAD_STALL_MS ?? 60_000);
  const abort = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  let progress: () => void = () => {};
  const stalled = new Promise<never>((_, reject) => {
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        abort.abort();
        reject(new UserError(`cannot download ${model}: no data for ${Math.round(stallMs / 1000)} s (offline?); it is needed at ${needed}`));
      }, stallMs);
    };
    arm();
    progress = arm;
  });
  try {
    return await Promise.race([
      resolveModelFile(model, { directory, cli: false, signal: abort.signal, onProgress: () => progress() }),
      stalled,
    ]);
  } catch (error) {
    if (error instanceof UserError) throw error;
    throw new UserError(`cannot download ${model} (needed at ${needed}): ${firstLine(error)}`);
  } finally {
    clearTimeout(timer);
  }
}

export interface LoadModelOptions extends ResolveOptions {
  gpu?: GpuChoice;
  /** Layers on the GPU: a count, 'max' (all) or 'auto' (node-llama-cpp fits them to free VRAM); default auto with a GPU, 0 without. */
  gpuLayers?: number | 'auto' | 'max';
}

/** Loads a model, checking the file first so damaged or foreign files get a clear reason. */
export async function loadLlamaModel(model: string, options: LoadModelOptions = {}): Promise<{ llama: Llama; model: LlamaModel; path: string }> {
  const path = await resolveModelPath(model, options);
  const header = readGguf(path); // throws a UserError for non-GGUF and truncated files
  const arch = header.architecture;
  if (!arch) throw new UserError(`${model}: GGUF file without general.architecture; not a model`);
  if (header.get('general.type') === 'adapter') throw new UserError(`${model} is a LoRA adapter, not a model`);
  const llama = await llamaRuntime(options.gpu ?? false);
  const logMark = llamaLogMark();
  try {
    const loaded = await llama.loadModel({ modelPath: path, gpuLayers: options.gpu ? (options.gpuLayers ?? 'auto') : 0 });
    return { llama, model: loaded, path };
  } catch (error) {
    const logs = llamaLogsSince(logMark);
    const said = logs.join(' ');
    const unknownArch = /unknown model architecture: '([^']+)'/.exec(said);
    if (unknownArch) throw new UserError(`${model}: architecture '${unknownArch[1]}' is not supported by the bundled llama.cpp`);
    const reason = logs.filter((l) => /error|failed|invalid|wrong|missing/i.test(l)).at(-1) ?? firstLine(error);
    throw new UserError(`cannot load model ${model} (${arch}): ${reason.replace(/\s+/g, ' ')}`);
  }
}

/** Messages llama.cpp logged since a mark (for callers that turn a failure into a reason). */
export function llamaLogsSince(mark: number): string[] {
  return recentLogs.filter((l) => l.n >= mark).map((l) => l.text);
}
export function llamaLogMark(): number {
  return logCount;
}

export function firstLine(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.split('\n')[0]!.trim();
}
