/**
 * Test models for every part's tests: random-weight GGUFs with real tokenizers, generated once
 * and cached under cacheDir()/test-models, keyed by the full recipe, the bundled llama.cpp tag
 * (the vocab and template source) and a hash of the generator's own source files, so a change
 * to the writer regenerates them. Nothing is downloaded.
 *
 *   const path = await tinyModel();                          // F32 tiny qwen2
 *   const q8 = await tinyModel({ arch: 'qwen3', type: 'q8_0' });
 *   const lora = await tinyLora({ base: path, rank: 4, std: 0.5, seed: 2 }); // random LoRA adapter
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundledLlamaTag, cacheDir } from '../../src/llama/source.js';
import { tinyRecipe, writeTinyModel, type TinyModelOptions } from '../../src/model/tiny.js';
import { writeLoraAdapter, type LoraAdapterOptions } from '../../src/model/lora.js';

export type { TinyModelOptions } from '../../src/model/tiny.js';

const MODEL_SOURCES = ['src/gguf/writer.ts', 'src/gguf/constants.ts', 'src/model/tiny.ts', 'src/model/random.ts'];
const LORA_SOURCES = ['src/gguf/writer.ts', 'src/gguf/constants.ts', 'src/model/lora.ts', 'src/model/random.ts'];

const sourceHashes = new Map<string, string>();
function generatorHash(files: string[] = MODEL_SOURCES): string {
  const cached = sourceHashes.get(files.join());
  if (cached) return cached;
  const root = fileURLToPath(new URL('../../', import.meta.url));
  const h = createHash('sha256');
  for (const file of files) h.update(file).update(readFileSync(join(root, file)));
  const digest = h.digest('hex');
  sourceHashes.set(files.join(), digest);
  return digest;
}

const pending = new Map<string, Promise<string>>();

/** Path of a cached random-weight test model with these options (generated on first use). */
export async function tinyModel(options: TinyModelOptions = {}): Promise<string> {
  const recipe = tinyRecipe(options);
  const key = createHash('sha256')
    .update(JSON.stringify(recipe))
    .update(bundledLlamaTag())
    .update(generatorHash())
    .digest('hex')
    .slice(0, 16);
  const path = join(cacheDir(), 'test-models', `${recipe.arch}-${recipe.shape}-${recipe.type}-${key}.gguf`);
  if (existsSync(path)) return path;
  let job = pending.get(path);
  if (!job) {
    // writeTinyModel writes to a temporary name and renames: concurrent test files are safe.
    job = writeTinyModel(path, recipe).then(() => path);
    pending.set(path, job);
  }
  return job;
}

/**
 * Path of a cached random LoRA adapter for a (test) model, keyed by the options, the base file's
 * path and the generator's sources. node-llama-cpp caches adapters by path, which is safe here:
 * the same path always holds the same bytes.
 */
export async function tinyLora(options: Omit<LoraAdapterOptions, 'out'>): Promise<string> {
  const key = createHash('sha256')
    .update(JSON.stringify(options))
    .update(generatorHash(LORA_SOURCES))
    .digest('hex')
    .slice(0, 16);
  const path = join(cacheDir(), 'test-models', `lora-${key}.gguf`);
  if (!existsSync(path)) writeLoraAdapter({ ...options, out: path });
  return path;
}

/**
 * The teacher of on-policy distillation tests: a qwen2 with the tiny student's tokenizer (the same
 * 151936-token vocabulary, ids for ids) but its own size and weights: wider (96 vs 64), with a
 * larger MLP and other seeds, so that its distribution differs from any student's.
 */
export const TINY_TEACHER: TinyModelOptions = { arch: 'qwen2', layers: 3, hidden: 96, heads: 4, kvHeads: 2, ffn: 192, seed: 1 };

export function tinyTeacherModel(): Promise<string> {
  return tinyModel(TINY_TEACHER);
}
