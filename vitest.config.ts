import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Integration tests drive a real Docker engine, llama.cpp and the native trainer on 2 cores:
    // generous per-test timeouts, and files run one at a time so benchmarks-in-disguise do not
    // fight over the CPU.
    testTimeout: 120_000,
    hookTimeout: 300_000,
    fileParallelism: false,
    pool: 'forks',
  },
});
