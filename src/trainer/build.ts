/**
 * Builds the native trainer (native/ + the bundled llama.cpp with ttsd-llama.patch) into
 * cacheDir()/trainer/<key>/ttsd-trainer, where the key hashes everything that changes the
 * binary: the llama.cpp tag, the patch, the trainer sources, the cmake flags and the compiler.
 * A finished build is found again instantly; an interrupted one never counts (the executable
 * is copied into a temp dir and renamed; the library tree is marked READY only when built).
 */
import { createHash } from 'node:crypto';
import { accessSync, constants as fsConstants, copyFileSync, cpSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { delimiter, dirname, isAbsolute, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { UserError } from '../errors.js';
import { bundledLlamaTag, cacheDir, ensureLlamaSource } from '../llama/source.js';
import { processAlive } from '../process.js';
import type { TrainerDevice } from './types.js';

export interface BuildOptions {
  /** GGML_CUDA=ON for NVIDIA GPUs: needs nvcc (findNvcc), cached under its own key; not testable on the CPU-only CI. */
  cuda?: boolean;
  /**
   * GGML_VULKAN=ON: needs glslc and the Vulkan headers (requireVulkanTools), cached under its own key. Runs on any
   * Vulkan 1.2+ device, Mesa's lavapipe (a CPU implementation) included, which is how the GPU code paths are tested.
   */
  vulkan?: boolean;
  /** Progress lines (the build takes ~5 min on 2 cores the first time). */
  log?: (line: string) => void;
}

export const nativeSourceDir = join(dirname(fileURLToPath(import.meta.url)), 'native');
export const patchFile = join(nativeSourceDir, 'ttsd-llama.patch');
const executableName = 'ttsd-trainer';

/**
 * The CUDA compiler a `--cuda` build uses: $CUDACXX (CMake's own variable) when set, else `nvcc`
 * on PATH, else the toolkit's usual places; null when there is none.
 */
export function findNvcc(env: NodeJS.ProcessEnv = process.env, fallbacks = ['/usr/local/cuda/bin/nvcc', '/opt/cuda/bin/nvcc']): string | null {
  const executable = (file: string) => {
    try {
      accessSync(file, fsConstants.X_OK);
      return true;
    } catch {
      return false;
    }
  };
  if (env.CUDACXX) return isAbsolute(env.CUDACXX) && executable(env.CUDACXX) ? env.CUDACXX : null;
  for (const dir of (env.PATH ?? '').split(delimiter)) if (dir && executable(join(dir, 'nvcc'))) return join(dir, 'nvcc');
  return fallbacks.find(executable) ?? null;
}

/** The one line a `--cuda` build without a CUDA compiler fails with. */
export const NO_NVCC_MESSAGE =
  'the CUDA trainer needs nvcc (the CUDA toolkit) and none was found ($CUDACXX, PATH, /usr/local/cuda/bin); install the toolkit, or train on the CPU (without --cuda / with --gpu auto or off)';

/** The CUDA compiler of a `--cuda` build, or a UserError saying there is none. */
export function requireNvcc(env: NodeJS.ProcessEnv = process.env, fallbacks?: string[]): string {
  const nvcc = findNvcc(env, fallbacks);
  if (!nvcc) throw new UserError(NO_NVCC_MESSAGE);
  return nvcc;
}

/** The one line a `--vulkan` build without the Vulkan build tools fails with. */
export const NO_VULKAN_TOOLS_MESSAGE =
  'the Vulkan trainer needs glslc and the Vulkan headers (Debian: apt-get install libvulkan-dev glslc spirv-headers; scripts/setup.sh installs them)';

/** What a `--vulkan` build lacks: 'glslc', 'headers' (vulkan/vulkan.h under $VULKAN_SDK/include or /usr/include), or null. */
export function missingVulkanTools(env: NodeJS.ProcessEnv = process.env, includeDirs = ['/usr/include', '/usr/local/include']): string | null {
  const onPath = (name: string) =>
    (env.PATH ?? '').split(delimiter).some((dir) => {
      try {
        accessSync(join(dir, name), fsConstants.X_OK);
        return dir !== '';
      } catch {
        return false;
      }
    });
  const sdk = env.VULKAN_SDK;
  if (!onPath('glslc')) return 'glslc';
  const dirs = sdk ? [join(sdk, 'include'), ...includeDirs] : includeDirs;
  if (!dirs.some((dir) => existsSync(join(dir, 'vulkan', 'vulkan.h')))) return 'headers';
  return null;
}

/** The one line a `--vulkan` build without glslc or the headers fails with, or null when both are there. */
export function vulkanToolsProblem(env: NodeJS.ProcessEnv = process.env, includeDirs?: string[]): string | null {
  const missing = missingVulkanTools(env, includeDirs);
  return missing ? `${NO_VULKAN_TOOLS_MESSAGE}: ${missing === 'glslc' ? 'no glslc on PATH' : 'no vulkan/vulkan.h'}` : null;
}

/** Refuses a `--vulkan` build without glslc or the headers, in one line. */
export function requireVulkanTools(env: NodeJS.ProcessEnv = process.env, includeDirs?: string[]): void {
  const problem = vulkanToolsProblem(env, includeDirs);
  if (problem) throw new UserError(problem);
}

/**
 * Each trainer device's build, declared once: its build options, its name in messages, and what this machine lacks
 * to build it (the build's own one-line message) or null. `ttsd run --gpu cuda|vulkan`, NativeTrainer and the
 * benches pick the build from here instead of naming the backends.
 */
export const DEVICE_BUILDS: Record<TrainerDevice, { options: Pick<BuildOptions, 'cuda' | 'vulkan'>; name: string; missingTools: (env?: NodeJS.ProcessEnv) => string | null }> = {
  cpu: { options: {}, name: 'CPU', missingTools: () => null },
  cuda: { options: { cuda: true }, name: 'CUDA', missingTools: (env) => (findNvcc(env) === null ? NO_NVCC_MESSAGE : null) },
  vulkan: { options: { vulkan: true }, name: 'Vulkan', missingTools: (env) => vulkanToolsProblem(env) },
};

/** CMake flags of a build: the CPU trainer, or with `cuda` the CUDA one (ggml-cuda; nvcc given to CMake explicitly), or with `vulkan` the Vulkan one. */
export function cmakeFlags(options: BuildOptions & { nvcc?: string }): string[] {
  if (options.cuda && options.vulkan) throw new UserError('a trainer build is either --cuda or --vulkan, not both');
  return [
    '-DCMAKE_BUILD_TYPE=Release',
    // the trainer is built on the machine that runs it, so tune for its CPU (and, with CUDA, ggml's
    // GGML_NATIVE picks the architectures of the GPUs it finds)
    '-DGGML_NATIVE=ON',
    `-DGGML_CUDA=${options.cuda ? 'ON' : 'OFF'}`,
    ...(options.cuda && options.nvcc ? [`-DCMAKE_CUDA_COMPILER=${options.nvcc}`] : []),
    // only named when on, so that the CPU and CUDA recipes (and their cache keys) stay what they were
    ...(options.vulkan ? ['-DGGML_VULKAN=ON'] : []),
  ];
}

export async function compilerId(): Promise<string> {
  try {
    const { stdout } = await execa('c++', ['--version']);
    return stdout.split('\n')[0] ?? '';
  } catch {
    throw new UserError('no C++ compiler (c++) found; install g++ and cmake (scripts/setup.sh does)');
  }
}

async function glslcId(): Promise<string> {
  try {
    const { stdout } = await execa('glslc', ['--version']);
    return stdout.split('\n')[0] ?? '';
  } catch {
    throw new UserError(NO_VULKAN_TOOLS_MESSAGE);
  }
}

async function nvccId(nvcc: string): Promise<string> {
  try {
    const { stdout } = await execa(nvcc, ['--version']);
    return stdout.split('\n').filter((line) => /release/i.test(line)).join(' ') || stdout;
  } catch {
    throw new UserError(`${nvcc} --version failed: not a working CUDA compiler; ${NO_NVCC_MESSAGE}`);
  }
}

/**
 * Key of the patched llama.cpp build tree: tag, patch, cmake flags, compiler, and for a CUDA
 * build the nvcc release (so the CPU and CUDA trainers are cached side by side).
 */
export async function libraryBuildKey(options: BuildOptions = {}): Promise<string> {
  const nvcc = options.cuda ? requireNvcc() : undefined;
  if (options.vulkan) requireVulkanTools();
  const hash = createHash('sha256');
  hash.update(`llama.cpp ${bundledLlamaTag()}\n`);
  hash.update(readFileSync(patchFile));
  // the flags without nvcc's path (a toolkit moved elsewhere is the same compiler): its release below
  hash.update(cmakeFlags({ cuda: options.cuda, vulkan: options.vulkan }).join(' '));
  if (options.vulkan) hash.update(`glslc ${await glslcId()}`);
  hash.update(await compilerId());
  if (nvcc) hash.update(`nvcc ${await nvccId(nvcc)}`);
  return hash.digest('hex').slice(0, 16);
}

/** Key of the executable: the library key plus the trainer's own sources. */
export async function trainerBuildKey(options: BuildOptions = {}): Promise<string> {
  const hash = createHash('sha256');
  hash.update(await libraryBuildKey(options));
  for (const name of readdirSync(nativeSourceDir).sort()) {
    hash.update(`${name}\n`);
    hash.update(readFileSync(join(nativeSourceDir, name)));
  }
  return hash.digest('hex').slice(0, 16);
}

/**
 * Path of the trainer executable, building it first if this recipe was never built. The patched
 * llama.cpp build tree is kept per library key, so a change to the trainer's own sources only
 * recompiles those (seconds); a new patch or llama.cpp version rebuilds everything (~5 min).
 */
export async function buildTrainer(options: BuildOptions = {}): Promise<string> {
  const log = options.log ?? (() => {});
  const dir = join(cacheDir(), 'trainer', await trainerBuildKey(options));
  const executable = join(dir, executableName);
  if (existsSync(executable)) return executable;

  const libraryDir = join(cacheDir(), 'trainer', `lib-${await libraryBuildKey(options)}`);
  // one builder at a time per library tree (tests of several parts may start trainers at once)
  const release = await acquireLock(`${libraryDir}.lock`, log);
  try {
    if (existsSync(executable)) return executable; // built while we waited
    return await buildLocked(options, libraryDir, dir, executable, log);
  } finally {
    release();
  }
}

async function buildLocked(
  options: BuildOptions,
  libraryDir: string,
  dir: string,
  executable: string,
  log: (line: string) => void,
): Promise<string> {
  const llama = join(libraryDir, 'llama.cpp');
  const build = join(libraryDir, 'build');
  const ready = join(libraryDir, 'READY');
  if (!existsSync(ready)) {
    // a half-made tree (killed build) is started over; cmake trees hold absolute paths, so it is built in place
    rmSync(libraryDir, { recursive: true, force: true });
    mkdirSync(libraryDir, { recursive: true });
    const source = await ensureLlamaSource();
    log(`copying llama.cpp ${bundledLlamaTag()} and applying ${patchFile}`);
    cpSync(source, llama, { recursive: true, filter: (path) => !path.endsWith('/.git') });
    // its own repository, so that git apply resolves paths here even when the cache lies inside another repo
    await runBuildStep('trainer build', 'git', ['init', '-q'], llama, log);
    await runBuildStep('trainer build', 'git', ['apply', '--whitespace=nowarn', patchFile], llama, log);
  }
  const nvcc = options.cuda ? requireNvcc() : undefined;
  if (options.vulkan) requireVulkanTools();
  const configure = ['-S', nativeSourceDir, '-B', build, `-DLLAMA_SOURCE_DIR=${llama}`, ...cmakeFlags({ ...options, nvcc })];
  try {
    await runBuildStep('trainer build', 'cmake', configure, libraryDir, log);
  } catch {
    // a tree configured from another checkout of ttsd: configure afresh
    rmSync(build, { recursive: true, force: true });
    await runBuildStep('trainer build', 'cmake', configure, libraryDir, log);
  }
  const jobs = String(Math.max(1, Math.min(cpus().length, 8)));
  log(
    existsSync(ready)
      ? `compiling the trainer (${jobs} jobs)`
      : `compiling llama.cpp${options.cuda ? ' with CUDA (ggml-cuda: much longer than the CPU build)' : ''}${options.vulkan ? ' with Vulkan (its shaders: longer than the CPU build)' : ''} and the trainer with ${jobs} jobs (about 5 minutes on 2 cores${options.cuda || options.vulkan ? ' for the CPU part alone' : ''})`,
  );
  await runBuildStep('trainer build', 'cmake', ['--build', build, '--target', executableName, '-j', jobs], libraryDir, log);
  writeFileSync(ready, `${new Date().toISOString()}\n`);

  const tmp = `${dir}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  copyFileSync(join(build, executableName), join(tmp, executableName));
  rmSync(dir, { recursive: true, force: true });
  renameSync(tmp, dir);
  log(`built ${executable}`);
  return executable;
}

/** A lock directory holding the owner's pid; a lock whose owner is gone is taken over. */
export async function acquireLock(lock: string, log: (line: string) => void): Promise<() => void> {
  mkdirSync(dirname(lock), { recursive: true });
  let announced = false;
  for (;;) {
    try {
      mkdirSync(lock);
      writeFileSync(join(lock, 'pid'), String(process.pid));
      return () => rmSync(lock, { recursive: true, force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const owner = Number(readFileSafe(join(lock, 'pid')));
    if (owner > 0 && !processAlive(owner)) {
      rmSync(lock, { recursive: true, force: true });
      continue;
    }
    if (!announced) log(`waiting for another trainer build (pid ${owner || '?'})`);
    announced = true;
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

function readFileSafe(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return ''; // the owner has created the lock but not yet written its pid
  }
}

/**
 * One build command; on failure its last 30 lines go to `log` and one line says what failed
 * (`what`: 'trainer build', 'llama-server build', ...).
 */
export async function runBuildStep(what: string, command: string, args: string[], cwd: string, log: (line: string) => void): Promise<void> {
  const result = await execa(command, args, { cwd, all: true, reject: false });
  if (result.exitCode !== 0 || result.failed) {
    const lines = (result.all ?? '').split('\n').filter((line) => line.trim() !== '');
    for (const line of lines.slice(-30)) log(line);
    const missing = (result as { code?: string }).code === 'ENOENT';
    const firstError = lines.find((line) => /error/i.test(line)) ?? lines.at(-1) ?? '';
    throw new UserError(
      missing
        ? `${what} failed: ${command} is not installed (scripts/setup.sh installs cmake and g++)`
        : `${what} failed in ${command} ${args[0] ?? ''}: ${firstError.trim()}`,
    );
  }
}
