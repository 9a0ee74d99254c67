/**
 * Prints (JSON on stdout) what `device-check.sh --bundle` packs, taken from the project's own
 * definitions so that the bundle cannot drift from them: the bundled llama.cpp checkout and tag,
 * the patch and trainer sources, the CMake flags of src/trainer/build.ts (CPU and CUDA) and the
 * trainer defaults of src/trainer/defaults.ts. Run with tsx from the repository root.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { bundledLlamaTag, ensureLlamaSource } from '../../src/llama/source.js';
import { cmakeFlags, nativeSourceDir, patchFile } from '../../src/trainer/build.js';
import { defaultTrainerConfig } from '../../src/trainer/defaults.js';

const { model: _model, stateDir: _stateDir, ...trainerDefaults } = defaultTrainerConfig('', '');
const manifest = {
  llamaSource: await ensureLlamaSource(),
  llamaTag: bundledLlamaTag(),
  nativeSourceDir,
  patchFile,
  patchSha256: createHash('sha256').update(readFileSync(patchFile)).digest('hex'),
  // the CUDA build adds -DCMAKE_CUDA_COMPILER=<nvcc> on the GPU machine, as build.ts does
  cmakeFlags: { cpu: cmakeFlags({ cuda: false }), cuda: cmakeFlags({ cuda: true }) },
  trainerDefaults,
  createdAt: new Date().toISOString(),
};
process.stdout.write(`${JSON.stringify(manifest, null, 2)}\n`);
