/**
 * The llama.cpp source that node-llama-cpp bundles (node_modules/node-llama-cpp/llama/
 * gitRelease.bundle, a git bundle): the trainer is built from it and the test models take
 * their tokenizers from its models/ggml-vocab-*.gguf files. Cloned once, offline, into the
 * cache dir keyed by the bundled release tag.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { execa } from 'execa';
import { UserError } from '../errors.js';

/** Root of ttsd's cache (models, llama.cpp source, trainer builds, image rootfs). */
export function cacheDir(): string {
  return process.env.TTSD_CACHE ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'ttsd');
}

export function nodeLlamaCppDir(): string {
  // The package's exports hide package.json: resolve its entry point and walk up to the root.
  let dir = dirname(fileURLToPath(import.meta.resolve('node-llama-cpp')));
  while (!existsSync(join(dir, 'llama', 'llama.cpp.info.json'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new UserError('node-llama-cpp is not installed; run npm install');
    dir = parent;
  }
  return dir;
}

/** The llama.cpp release tag that node-llama-cpp bundles (from its llama.cpp.info.json). */
export function bundledLlamaTag(): string {
  const info = JSON.parse(readFileSync(join(nodeLlamaCppDir(), 'llama', 'llama.cpp.info.json'), 'utf8')) as { tag: string };
  return info.tag;
}

/** Path of a checkout of the bundled llama.cpp source, cloning it from the bundle if needed. */
export async function ensureLlamaSource(): Promise<string> {
  const tag = bundledLlamaTag();
  const dir = join(cacheDir(), 'llama.cpp', tag);
  if (existsSync(join(dir, 'CMakeLists.txt'))) return dir;
  const bundle = join(nodeLlamaCppDir(), 'llama', 'gitRelease.bundle');
  if (!existsSync(bundle)) throw new UserError(`node-llama-cpp's llama.cpp bundle is missing (${bundle}); run npm install`);
  mkdirSync(dirname(dir), { recursive: true });
  // Clone next to the target and rename: a killed clone never leaves a half checkout behind.
  const tmp = `${dir}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  await execa('git', ['clone', '-q', '-c', 'advice.detachedHead=false', bundle, tmp]);
  try {
    renameSync(tmp, dir);
  } catch (error) {
    // Another process won the race: use its checkout.
    rmSync(tmp, { recursive: true, force: true });
    if (!existsSync(join(dir, 'CMakeLists.txt'))) throw error;
  }
  return dir;
}

/** A vocabulary GGUF from the bundled source, e.g. vocabFile('qwen2') → models/ggml-vocab-qwen2.gguf. */
export async function vocabFile(name: string): Promise<string> {
  const file = join(await ensureLlamaSource(), 'models', `ggml-vocab-${name}.gguf`);
  if (!existsSync(file)) throw new UserError(`no vocabulary ggml-vocab-${name}.gguf in the bundled llama.cpp source`);
  return file;
}
