// `ttsd model lora export --peft`: the export is read back tensor for tensor with a small
// safetensors reader written here, and compared with the GGUF adapter. For llama the expected
// q/k lora_B rows are checked by applying convert_hf_to_gguf.py's LlamaModel.permute (written
// out here independently of the exporter's inverse) to the exported rows.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';
import { readGguf } from '../../src/gguf/reader.js';
import { exportPeft, unpermuteRows } from '../../src/model/peft.js';
import { tinyLora, tinyModel } from '../helpers/models.js';

const dir = mkdtempSync(join(tmpdir(), 'ttsd-peft-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** safetensors: u64 LE header size, JSON header, then the data section; F32 only (what the export writes). */
function readSafetensors(file: string): Map<string, { shape: number[]; data: Float32Array }> {
  const buf = readFileSync(file);
  const n = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.subarray(8, 8 + n).toString('utf8')) as Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
  const base = 8 + n;
  expect(base % 8).toBe(0);
  const out = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const [name, t] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    expect(t.dtype).toBe('F32');
    const [s, e] = t.data_offsets;
    expect(e - s).toBe(t.shape.reduce((a, b) => a * b, 1) * 4);
    const bytes = buf.subarray(base + s, base + e);
    out.set(name, { shape: t.shape, data: new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength)) });
  }
  return out;
}

/** convert_hf_to_gguf.py LlamaModel.permute on rows: reshape(n_head, 2, d/2, cols).swapaxes(1, 2). */
function permute(data: Float32Array, rows: number, cols: number, heads: number): Float32Array {
  const d = rows / heads;
  const out = new Float32Array(data.length);
  for (let h = 0; h < heads; h++)
    for (let a = 0; a < 2; a++)
      for (let b = 0; b < d / 2; b++) {
        const src = h * d + a * (d / 2) + b; // index in [n_head, 2, d/2]
        const dst = h * d + b * 2 + a; // the same element after swapaxes → [n_head, d/2, 2]
        out.set(data.subarray(src * cols, (src + 1) * cols), dst * cols);
      }
  return out;
}

const HF = { attn_q: 'self_attn.q_proj', attn_k: 'self_attn.k_proj', attn_v: 'self_attn.v_proj', attn_output: 'self_attn.o_proj', ffn_gate: 'mlp.gate_proj', ffn_up: 'mlp.up_proj', ffn_down: 'mlp.down_proj' } as const;

async function checkExport(arch: 'llama' | 'qwen2' | 'qwen3') {
  const base = await tinyModel({ arch });
  const lora = await tinyLora({ base, rank: 4, alpha: 8, std: 0.5, seed: 7 });
  const out = join(dir, `${arch}-peft`);
  const info = exportPeft(lora, out, base);
  const config = JSON.parse(readFileSync(join(out, 'adapter_config.json'), 'utf8'));
  expect(config).toMatchObject({ peft_type: 'LORA', r: 4, lora_alpha: 8, target_modules: ['down_proj', 'gate_proj', 'k_proj', 'o_proj', 'q_proj', 'up_proj', 'v_proj'] });
  const tensors = readSafetensors(join(out, 'adapter_model.safetensors'));
  const gguf = readGguf(lora);
  const model = readGguf(base);
  const heads = { q: model.number(`${arch}.attention.head_count`), kv: model.number(`${arch}.attention.head_count_kv`) };
  expect(tensors.size).toBe(gguf.tensors.length);
  expect(info.tensors).toBe(gguf.tensors.length);
  let permutedChecked = 0;
  for (const t of gguf.tensors) {
    const [, layer, weight, ab] = /^blk\.(\d+)\.([a-z_]+)\.weight\.lora_(a|b)$/.exec(t.name)!;
    const name = `base_model.model.model.layers.${layer}.${HF[weight as keyof typeof HF]}.lora_${ab!.toUpperCase()}.weight`;
    const hf = tensors.get(name);
    expect(hf, name).toBeDefined();
    const [ne0, ne1] = t.dims as [number, number];
    expect(hf!.shape).toEqual([ne1, ne0]); // torch order of the same bytes
    const expected = Float32Array.from(gguf.readTensor(t.name));
    const permuted = arch === 'llama' && ab === 'b' && (weight === 'attn_q' || weight === 'attn_k');
    if (permuted) {
      // the GGUF rows are permute(HF rows): applying the converter's permutation to the export gives the GGUF back
      const again = permute(hf!.data, ne1, ne0, weight === 'attn_q' ? heads.q : heads.kv);
      expect(Array.from(again)).toEqual(Array.from(expected));
      expect(Array.from(hf!.data)).not.toEqual(Array.from(expected)); // the permutation did move rows
      permutedChecked++;
    } else {
      expect(Array.from(hf!.data)).toEqual(Array.from(expected));
    }
  }
  if (arch === 'llama') expect(permutedChecked).toBeGreaterThan(0);
}

describe('PEFT export of LoRA GGUFs', () => {
  it('llama: names mapped, shapes in torch order, alpha kept, q/k lora_B rows un-permuted', () => checkExport('llama'));
  it('qwen2: no permutation', () => checkExport('qwen2'));
  it('qwen3: no permutation', () => checkExport('qwen3'));

  it('un-permuting inverts the converter permutation for any head count', () => {
    const rows = 24;
    const data = Float32Array.from({ length: rows * 3 }, (_, i) => i);
    for (const heads of [1, 2, 3, 6]) expect(Array.from(permute(unpermuteRows(data, rows, 3, heads), rows, 3, heads))).toEqual(Array.from(data));
  });

  it('the CLI exports, and refuses a llama adapter without its base model in one line', async () => {
    const base = await tinyModel({ arch: 'llama' });
    const lora = await tinyLora({ base, rank: 4, alpha: 8, std: 0.5, seed: 7 });
    const out = join(dir, 'cli-peft');
    const ok = await execa('node', ['bin/ttsd.js', 'model', 'lora', 'export', '--adapter', lora, '--model', base, '--peft', out], { reject: false });
    expect(ok.exitCode, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/rank 4, alpha 8/);
    expect(readSafetensors(join(out, 'adapter_model.safetensors')).size).toBeGreaterThan(0);
    const bad = await execa('node', ['bin/ttsd.js', 'model', 'lora', 'export', '--adapter', lora, '--peft', join(dir, 'x')], { reject: false });
    expect(bad.exitCode).not.toBe(0);
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);
    expect(bad.stderr).toMatch(/needs the base model/);
  });
});
