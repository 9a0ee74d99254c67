// `ttsd model tiny|lora|info` and `ttsd bench sampler` through the real CLI. ~40 s.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { tinyModel } from '../helpers/models.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'ttsd-model-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const ttsd = (...args: string[]) => execa('node', [join(root, 'bin/ttsd.js'), ...args], { reject: false, cwd: root });

describe('ttsd model', () => {
  it('tiny writes a model that info describes; lora writes an adapter for it', async () => {
    const out = join(dir, 'm.gguf');
    const made = await ttsd('model', 'tiny', '--arch', 'qwen3', '--type', 'q8_0', '--layers', '1', '--ffn', '96', '--out', out);
    expect(made.exitCode).toBe(0);
    expect(made.stdout).toMatch(/wrote .*m\.gguf: qwen3 tiny q8_0, 1 layers, hidden 64, heads 4\/2, ffn 96, vocab 151936/);
    const info = JSON.parse((await ttsd('model', 'info', out, '--json')).stdout) as Record<string, unknown>;
    expect(info).toMatchObject({ architecture: 'qwen3', type: 'model', layers: 1, hidden: 64, heads: 4, kvHeads: 2, ffn: 96, vocabSize: 151936, tokenizer: 'qwen2', chatTemplate: true });
    const lora = join(dir, 'a.gguf');
    const adapter = await ttsd('model', 'lora', '--base', out, '--out', lora, '--rank', '2', '--targets', 'attn_q,ffn_up');
    expect(adapter.stdout).toMatch(/2 A\/B pairs, rank 2/);
    expect(JSON.parse((await ttsd('model', 'info', lora, '--json')).stdout)).toMatchObject({ architecture: 'qwen3', type: 'adapter', tensors: 4 });
  });

  it('bad input is one line on stderr and a non-zero exit', async () => {
    const arch = await ttsd('model', 'tiny', '--arch', 'gpt5', '--out', join(dir, 'x.gguf'));
    expect(arch.exitCode).toBe(2);
    expect(arch.stderr).toBe('ttsd: unsupported --arch gpt5 (choose qwen2, qwen3, llama)');
    const missing = await ttsd('model', 'info', join(dir, 'none.gguf'));
    expect(missing.exitCode).toBe(2);
    expect(missing.stderr.trim().split('\n')).toHaveLength(1);
    const bench = await ttsd('bench', 'sampler', '--model', join(dir, 'none.gguf'), '--json');
    expect(bench.exitCode).toBe(2);
    expect(bench.stderr).toMatch(/^ttsd: model file not found: /);
  });

  it('bench sampler prints one JSON object with the figures', async () => {
    const model = await tinyModel();
    const run = await ttsd('bench', 'sampler', '--model', model, '--json', '--g', '2', '--tokens', '6', '--repeats', '1', '--threads', '1');
    expect(run.exitCode).toBe(0);
    const result = JSON.parse(run.stdout) as Record<string, number>;
    for (const key of ['tok_s_1', 'tok_s_g', 'bare_tok_s_1', 'bare_tok_s_g', 'overhead_ratio', 'overhead_ratio_1', 'overhead_ratio_no_logprobs']) {
      expect(result[key], key).toBeGreaterThan(0);
    }
    expect(result.g).toBe(2);
    expect(result.prompt_tokens).toBeGreaterThan(50);
    expect(result.gpu).toBe('cpu'); // --gpu auto, and no GPU here
    expect(run.stderr).toBe('note: --gpu auto: node-llama-cpp finds no usable GPU here; sampling on the CPU');
    const cuda = await ttsd('bench', 'sampler', '--model', model, '--gpu', 'cuda');
    expect(cuda.exitCode).toBe(2);
    expect(cuda.stderr).toMatch(/^ttsd: --gpu cuda: node-llama-cpp cannot use CUDA on this machine [^\n]*$/);
  });
});
