// The inference-server settings (C4): parsed from flags and the config file, refused in one line
// when they cannot work.
import { describe, expect, it } from 'vitest';
import { UserError } from '../../src/errors.js';
import { resolveConfig } from '../../src/run/config.js';
import { STRATEGY_NAMES } from '../../src/strategies/index.js';

const resolve = (file: Record<string, unknown>, flags: Record<string, unknown> = {}) => resolveConfig({ model: 'm.gguf', ...file }, flags, STRATEGY_NAMES);

describe('sampler settings', () => {
  it('default to the in-process sampler', () => {
    expect(resolve({})).toMatchObject({ sampler: 'local', server: null, serverKind: 'llama-server', adapterDir: null });
  });

  it('come from the config file (kebab-case keys) and flags', () => {
    const c = resolve({ sampler: 'server', server: 'http://h:8000', 'server-kind': 'vllm', 'adapter-dir': '/shared/a' });
    expect(c).toMatchObject({ sampler: 'server', server: 'http://h:8000', serverKind: 'vllm', adapterDir: '/shared/a' });
    expect(resolve({}, { sampler: 'server', server: 'http://x', adapterDir: '/d' }).serverKind).toBe('llama-server');
  });

  it('are refused in one line when they cannot work', () => {
    for (const [file, message] of [
      [{ sampler: 'server' }, /needs --server URL and --adapter-dir/],
      [{ sampler: 'server', server: 'http://x' }, /--adapter-dir/],
      [{ server: 'http://x' }, /--sampler is local/],
      [{ sampler: 'remote' }, /sampler.*must be one of local, server/],
      [{ sampler: 'server', server: 'http://x', 'adapter-dir': '/d', 'server-kind': 'tgi' }, /must be one of llama-server, vllm/],
    ] as const) {
      let error: unknown;
      try {
        resolve(file);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(UserError);
      expect((error as Error).message).toMatch(message);
      expect((error as Error).message).not.toContain('\n');
    }
  });
});
