// Tiny random-weight models: every architecture loads in llama.cpp with its real tokenizer and
// chat template; weights are deterministic by seed. ~30 s (writes a few 25–80 MB models).
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { getLlama, LlamaLogLevel } from 'node-llama-cpp';
import { readGguf } from '../../src/gguf/reader.js';
import { tinyRecipe, writeTinyModel } from '../../src/model/tiny.js';
import { UserError } from '../../src/errors.js';
import { tinyLora, tinyModel } from '../helpers/models.js';

const dir = mkdtempSync(join(tmpdir(), 'ttsd-tiny-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const sha = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');

describe('tiny models', () => {
  it.each([
    ['qwen2', 'f32', '<|im_start|>', 151936],
    ['qwen3', 'f16', '<|im_start|>', 151936],
    ['llama', 'q8_0', '<|start_header_id|>', 128256],
  ] as const)('%s %s loads in llama.cpp with the real tokenizer and chat template', async (arch, type, marker, vocabSize) => {
    const path = await tinyModel({ arch, type });
    const file = readGguf(path);
    expect(file.architecture).toBe(arch);
    expect((file.get('tokenizer.ggml.tokens') as string[]).length).toBe(vocabSize);
    expect(file.string('tokenizer.chat_template')).toContain(marker);
    // Every block has attention and an MLP.
    for (let i = 0; i < 2; i++) {
      for (const t of ['attn_q', 'attn_k', 'attn_v', 'attn_output', 'ffn_gate', 'ffn_up', 'ffn_down']) {
        expect(file.tensor(`blk.${i}.${t}.weight`)?.typeName).toBe(type.toUpperCase());
      }
    }
    expect(file.tensor('blk.0.attn_q.weight')?.dims).toEqual([64, 64]);
    expect(file.tensor('blk.0.attn_k.weight')?.dims).toEqual([64, 32]);
    expect(file.tensor('blk.0.ffn_down.weight')?.dims).toEqual([128, 64]);
    expect(!!file.tensor('blk.0.attn_q.bias')).toBe(arch === 'qwen2');
    expect(!!file.tensor('blk.0.attn_q_norm.weight')).toBe(arch === 'qwen3');

    const llama = await getLlama({ gpu: false, logLevel: LlamaLogLevel.error });
    const model = await llama.loadModel({ modelPath: path });
    try {
      const text = 'def solve(n: int) -> int:\n    return sum(range(n))  # ünïcödé ✓';
      const tokens = model.tokenize(text);
      expect(tokens.length).toBeGreaterThan(5);
      expect(tokens.length).toBeLessThan(text.length); // real BPE merges, not bytes
      expect(model.detokenize(tokens)).toBe(text);
      const eot = model.tokenize(arch === 'llama' ? '<|eot_id|>' : '<|im_end|>', true);
      expect(eot).toHaveLength(1);
      expect(model.tokens.eos).toBe(eot[0]);
      expect(model.isEogToken(eot[0]!)).toBe(true);
    } finally {
      await model.dispose();
    }
  });

  it('is deterministic by seed and the seed matters', async () => {
    const a = join(dir, 'a.gguf');
    const b = join(dir, 'b.gguf');
    const c = join(dir, 'c.gguf');
    await writeTinyModel(a, { seed: 7, layers: 1 });
    await writeTinyModel(b, { seed: 7, layers: 1 });
    await writeTinyModel(c, { seed: 8, layers: 1 });
    expect(sha(a)).toBe(sha(b));
    expect(sha(a)).not.toBe(sha(c));
    const w = readGguf(a).readTensor('blk.0.attn_q.weight');
    const mean = w.reduce((s, x) => s + x, 0) / w.length;
    const std = Math.sqrt(w.reduce((s, x) => s + (x - mean) ** 2, 0) / w.length);
    expect(Math.abs(mean)).toBeLessThan(0.02);
    expect(std).toBeGreaterThan(0.9 / 8); // 1/sqrt(hidden=64)
    expect(std).toBeLessThan(1.1 / 8);
  });

  it('writes LoRA adapters in llama.cpp\'s layout, cached by options (tinyLora)', async () => {
    const base = await tinyModel();
    const a = await tinyLora({ base, rank: 2, seed: 1 });
    expect(await tinyLora({ base, rank: 2, seed: 1 })).toBe(a);
    expect(await tinyLora({ base, rank: 2, seed: 2 })).not.toBe(a);
    const f = readGguf(a);
    expect(f.get('general.type')).toBe('adapter');
    expect(f.get('adapter.type')).toBe('lora');
    expect(f.architecture).toBe('qwen2');
    expect(f.number('adapter.lora.alpha')).toBe(16);
    expect(f.tensor('blk.0.attn_q.weight.lora_a')?.dims).toEqual([64, 2]); // [n_in, r]
    expect(f.tensor('blk.0.attn_q.weight.lora_b')?.dims).toEqual([2, 64]); // [r, n_out]
    expect(f.tensor('blk.1.ffn_down.weight.lora_a')?.dims).toEqual([128, 2]);
    expect(f.tensor('blk.1.ffn_down.weight.lora_b')?.dims).toEqual([2, 64]);
    expect(f.tensors).toHaveLength(2 * 7 * 2);
  });

  it('knows the Qwen2.5-0.5B shapes and rejects bad options clearly', () => {
    expect(tinyRecipe({ shape: 'qwen2.5-0.5b', type: 'q8_0' })).toMatchObject({
      layers: 24, hidden: 896, heads: 14, kvHeads: 2, ffn: 4864, contextLength: 32768, tiedEmbeddings: true,
    });
    expect(() => tinyRecipe({ arch: 'gemma' as never })).toThrow(UserError);
    expect(() => tinyRecipe({ hidden: 65 })).toThrow(/multiple of --heads/);
    expect(() => tinyRecipe({ heads: 4, kvHeads: 3 })).toThrow(/--kv-heads/);
    expect(() => tinyRecipe({ layers: 0 })).toThrow(/--layers must be a positive integer/);
  });
});
