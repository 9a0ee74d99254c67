/**
 * Mesa's lavapipe for the tests of the GPU code paths: a conformant Vulkan device that runs on the CPU (scripts/setup.sh
 * installs it with mesa-vulkan-drivers, and glslc + the Vulkan headers for the trainer's Vulkan build).
 */
import { existsSync, readdirSync } from 'node:fs';
import { afterAll, beforeAll } from 'vitest';
import { vulkanToolsProblem } from '../../src/trainer/build.js';

/**
 * ggml-vulkan (the trainer's and node-llama-cpp's) hides CPU-type Vulkan devices unless GGML_VK_VISIBLE_DEVICES names
 * them; on a machine without a GPU lavapipe is device 0. It is read once per process, when ggml-vulkan first starts.
 */
export const LAVAPIPE_ENV = { GGML_VK_VISIBLE_DEVICES: '0' } as const;

/** Where the Vulkan loader finds drivers (their ICD manifests); lavapipe's is lvp_icd.<arch>.json. */
const ICD_DIRS = ['/usr/share/vulkan/icd.d', '/etc/vulkan/icd.d', '/usr/local/share/vulkan/icd.d'];

/** Why the tests on lavapipe cannot run on this machine (no Vulkan build tools, no lavapipe driver), or null. */
export function lavapipeMissing(): string | null {
  const tools = vulkanToolsProblem();
  if (tools) return tools;
  const found = ICD_DIRS.some((dir) => existsSync(dir) && readdirSync(dir).some((name) => /^lvp_icd\b.*\.json$/.test(name)));
  return found ? null : `no lavapipe driver (lvp_icd.*.json under ${ICD_DIRS.join(', ')}): apt-get install mesa-vulkan-drivers (scripts/setup.sh does)`;
}

/** Sets `vars` in process.env for the tests of the enclosing file or describe (beforeAll) and restores them (afterAll). */
export function useEnv(vars: Readonly<Record<string, string>>): void {
  const saved = new Map<string, string | undefined>();
  beforeAll(() => {
    for (const [key, value] of Object.entries(vars)) {
      saved.set(key, process.env[key]);
      process.env[key] = value;
    }
  });
  afterAll(() => {
    for (const [key, value] of saved) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  });
}
