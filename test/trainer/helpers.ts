import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultTrainerConfig } from '../../src/trainer/defaults.js';
import type { TrainerConfig, TrainExample } from '../../src/trainer/types.js';

export function tempStateDir(): string {
  return mkdtempSync(join(tmpdir(), 'ttsd-trainer-test-'));
}

/** A small config for the tiny test model: rank 4 on every projection, short sequences. */
export function testConfig(model: string, stateDir: string, overrides: Partial<TrainerConfig> = {}): TrainerConfig {
  return defaultTrainerConfig(model, stateDir, { loraRank: 4, loraAlpha: 8, lr: 1e-2, maxTokens: 128, threads: 2, ...overrides });
}

/** Rollouts with a teacher context that differs from the student's (ids from the qwen2 vocabulary). */
export function batchOf(seed: number, n = 2): TrainExample[] {
  const ids = (len: number, offset: number) => Array.from({ length: len }, (_, i) => ((seed * 7919 + offset * 104729 + i * 613) % 30000) + 100);
  return Array.from({ length: n }, (_, i) => ({
    studentPrompt: ids(12, i),
    teacherPrompt: [...ids(12, i), ...ids(9, 50 + i)],
    response: ids(10 + i, 100 + i),
    masked: false,
  }));
}
