/**
 * The real parts for the run's integration tests: node-llama-cpp sampler (looked up the same way
 * `ttsd run` does), the Docker grader and the native trainer. A missing part fails the test.
 */
import type { Sampler } from '../../src/model/types.js';
import { resolveConfig } from '../../src/run/config.js';
import { startRealServices } from '../../src/run/real-services.js';
import type { RunServices } from '../../src/run/services.js';
import { STRATEGY_NAMES } from '../../src/strategies/index.js';

export async function realServices(model: string, settings: Record<string, unknown>): Promise<RunServices> {
  const config = resolveConfig({ model, ...settings }, {}, STRATEGY_NAMES);
  return startRealServices(config, { needsTrainer: true });
}

export type { Sampler };
