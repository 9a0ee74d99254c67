/**
 * Builds llama.cpp's own `llama-server` (tools/server) from the source node-llama-cpp bundles,
 * unpatched, into cacheDir()/llama-server/<key>/llama-server. The key hashes everything that
 * changes the binary: the llama.cpp tag, the cmake flags and the compiler. Like the trainer
 * build (src/trainer/build.ts): a finished build is found again instantly; an interrupted one
 * never counts (the build tree is marked READY only when built, the executable is copied into a
 * temp dir and renamed).
 */
import { createHash } from 'node:crypto';
import { copyFileSync, cpSync, existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { bundledLlamaTag, cacheDir, ensureLlamaSource } from './source.js';
import { acquireLock, compilerId, runBuildStep } from '../trainer/build.js';

const executableName = 'llama-server';

/**
 * The CPU server, statically linked (one file to copy), without what needs the network at build
 * time (the web UI is fetched from a Hugging Face bucket by default) or at run time (OpenSSL:
 * ttsd talks to it over plain HTTP on a trusted network), and without the tests/examples.
 */
export const SERVER_CMAKE_FLAGS = [
  '-DCMAKE_BUILD_TYPE=Release',
  '-DGGML_NATIVE=ON', // built on the machine that runs it, like the trainer
  '-DBUILD_SHARED_LIBS=OFF',
  '-DLLAMA_BUILD_SERVER=ON',
  '-DLLAMA_BUILD_TOOLS=ON',
  '-DLLAMA_BUILD_TESTS=OFF',
  '-DLLAMA_BUILD_EXAMPLES=OFF',
  '-DLLAMA_BUILD_APP=OFF',
  '-DLLAMA_BUILD_UI=OFF',
  '-DLLAMA_USE_PREBUILT_UI=OFF',
  '-DLLAMA_OPENSSL=OFF',
];

export async function serverBuildKey(): Promise<string> {
  const hash = createHash('sha256');
  hash.update(`llama.cpp ${bundledLlamaTag()}\n`);
  hash.update(SERVER_CMAKE_FLAGS.join(' '));
  hash.update(await compilerId());
  return hash.digest('hex').slice(0, 16);
}

/** Path of the llama-server executable, building it first if this recipe was never built (~5-10 min on 2 cores). */
export async function buildLlamaServer(options: { log?: (line: string) => void } = {}): Promise<string> {
  const log = options.log ?? (() => {});
  const key = await serverBuildKey();
  const root = join(cacheDir(), 'llama-server');
  const dir = join(root, key);
  const executable = join(dir, executableName);
  if (existsSync(executable)) return executable;
  const tree = join(root, `tree-${key}`);
  const release = await acquireLock(`${tree}.lock`, log);
  try {
    if (existsSync(executable)) return executable; // built while we waited
    const llama = join(tree, 'llama.cpp');
    const build = join(tree, 'build');
    if (!existsSync(join(tree, 'READY'))) {
      if (!existsSync(join(llama, 'CMakeLists.txt'))) {
        rmSync(tree, { recursive: true, force: true });
        mkdirSync(tree, { recursive: true });
        // a copy of the shared checkout: cmake trees hold absolute paths, and the build must not write into the shared source
        cpSync(await ensureLlamaSource(), llama, { recursive: true, filter: (path) => !path.endsWith('/.git') });
      }
      // an interrupted build resumes: cmake/make only redo what is missing
      await runBuildStep('llama-server build', 'cmake', ['-S', llama, '-B', build, ...SERVER_CMAKE_FLAGS], tree, log);
      const jobs = String(Math.max(1, Math.min(cpus().length, 8)));
      log(`compiling llama-server (llama.cpp ${bundledLlamaTag()}) with ${jobs} jobs`);
      await runBuildStep('llama-server build', 'cmake', ['--build', build, '--target', executableName, '-j', jobs], tree, log);
      writeFileSync(join(tree, 'READY'), `${new Date().toISOString()}\n`);
    }
    const tmp = `${dir}.tmp-${process.pid}`;
    rmSync(tmp, { recursive: true, force: true });
    mkdirSync(tmp, { recursive: true });
    copyFileSync(join(build, 'bin', executableName), join(tmp, executableName));
    rmSync(dir, { recursive: true, force: true });
    renameSync(tmp, dir);
    // the executable is all that is needed: the object files (hundreds of MB) go
    rmSync(tree, { recursive: true, force: true });
    log(`built ${executable}`);
    return executable;
  } finally {
    release();
  }
}
