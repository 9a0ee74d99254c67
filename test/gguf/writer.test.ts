// GGUF writer: metadata of every type and tensors of every supported type read back by two
// independent parsers (the project's reader and node-llama-cpp's), F16/Q8_0 encodings checked
// against float64 references, and llama.cpp loading a written model. ~20 s.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { getLlama, LlamaLogLevel, readGgufFileInfo } from 'node-llama-cpp';
import { GgufType, TensorType } from '../../src/gguf/constants.js';
import { encodeF16, floatToHalf, GgufMetadata, quantizeQ8_0, writeGguf } from '../../src/gguf/writer.js';
import { halfToNumber, readGguf } from '../../src/gguf/reader.js';
import { tinyModel } from '../helpers/models.js';

const dir = mkdtempSync(join(tmpdir(), 'ttsd-gguf-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function everyTypeMetadata(): GgufMetadata {
  return new GgufMetadata()
    .string('general.architecture', 'test')
    .add({ key: 't.u8', type: GgufType.UINT8, value: 255 })
    .add({ key: 't.i8', type: GgufType.INT8, value: -128 })
    .add({ key: 't.u16', type: GgufType.UINT16, value: 65535 })
    .add({ key: 't.i16', type: GgufType.INT16, value: -32768 })
    .u32('t.u32', 4294967295)
    .i32('t.i32', -2147483648)
    .f32('t.f32', 0.1)
    .bool('t.bool', true)
    .string('t.string', 'héllo ✓ "quoted"\n')
    .add({ key: 't.u64', type: GgufType.UINT64, value: 2n ** 64n - 1n })
    .add({ key: 't.i64', type: GgufType.INT64, value: -(2n ** 63n) })
    .add({ key: 't.f64', type: GgufType.FLOAT64, value: Math.PI })
    .array('t.arr.str', GgufType.STRING, ['a', '', 'Ġtoken', '<|im_end|>'])
    .array('t.arr.i32', GgufType.INT32, [1, -2, 3])
    .array('t.arr.f32', GgufType.FLOAT32, [1.5, -0.25])
    .array('t.arr.bool', GgufType.BOOL, [true, false])
    .array('t.arr.u64', GgufType.UINT64, [1n, 2n ** 40n])
    .array('t.arr.empty', GgufType.UINT8, [])
    .array('t.arr.nested', GgufType.ARRAY, [
      { itemType: GgufType.INT16, values: [1, 2] },
      { itemType: GgufType.STRING, values: ['x'] },
    ]);
}

describe('GGUF writer', () => {
  it('writes every metadata value type, read back identically by two parsers', async () => {
    const path = join(dir, 'meta.gguf');
    writeGguf(path, everyTypeMetadata(), [{ name: 'w', shape: [4], type: TensorType.F32, data: new Float32Array([1, 2, 3, 4]) }]);
    const file = readGguf(path);
    expect(file.version).toBe(3);
    const get = (k: string) => file.kv.get(k);
    expect(get('t.u8')).toMatchObject({ type: GgufType.UINT8, value: 255 });
    expect(get('t.i8')).toMatchObject({ type: GgufType.INT8, value: -128 });
    expect(get('t.u16')).toMatchObject({ type: GgufType.UINT16, value: 65535 });
    expect(get('t.i16')).toMatchObject({ type: GgufType.INT16, value: -32768 });
    expect(get('t.u32')).toMatchObject({ type: GgufType.UINT32, value: 4294967295 });
    expect(get('t.i32')).toMatchObject({ type: GgufType.INT32, value: -2147483648 });
    expect(get('t.f32')).toMatchObject({ type: GgufType.FLOAT32, value: Math.fround(0.1) });
    expect(get('t.bool')).toMatchObject({ type: GgufType.BOOL, value: true });
    expect(get('t.string')?.value).toBe('héllo ✓ "quoted"\n');
    expect(get('t.u64')?.value).toBe(2n ** 64n - 1n);
    expect(get('t.i64')?.value).toBe(-(2n ** 63n));
    expect(get('t.f64')?.value).toBe(Math.PI);
    expect(get('t.arr.str')).toMatchObject({ type: GgufType.ARRAY, itemType: GgufType.STRING, value: ['a', '', 'Ġtoken', '<|im_end|>'] });
    expect(get('t.arr.i32')).toMatchObject({ itemType: GgufType.INT32, value: [1, -2, 3] });
    expect(get('t.arr.f32')?.value).toEqual([1.5, -0.25]);
    expect(get('t.arr.bool')?.value).toEqual([true, false]);
    expect(get('t.arr.u64')?.value).toEqual([1n, 2n ** 40n]);
    expect(get('t.arr.empty')?.value).toEqual([]);
    expect(get('t.arr.nested')?.value).toEqual([[1, 2], ['x']]);

    // node-llama-cpp's own GGUF parser (independent code) agrees.
    const info = await readGgufFileInfo(path, { logWarnings: false });
    const t = (info.metadata as unknown as { t: Record<string, unknown> }).t;
    expect(t.u32).toBe(4294967295);
    expect(t.i8).toBe(-128);
    expect(t.string).toBe('héllo ✓ "quoted"\n');
    expect(t.f64).toBe(Math.PI);
    expect((t.arr as Record<string, unknown>).str).toEqual(['a', '', 'Ġtoken', '<|im_end|>']);
    expect(info.tensorInfo?.map((x) => x.name)).toEqual(['w']);
  });

  it('rejects values that do not fit their declared type', () => {
    const path = join(dir, 'bad.gguf');
    expect(() => writeGguf(path, [{ key: 'x', type: GgufType.UINT8, value: 256 }], [])).toThrow(/does not fit/);
    expect(() => writeGguf(path, [{ key: 'x', type: GgufType.STRING, value: 3 }], [])).toThrow(/string/);
    expect(() => writeGguf(path, [], [{ name: 'q', shape: [33, 2], type: TensorType.Q8_0, data: new Float32Array(66) }])).toThrow(/multiple of 32/);
    expect(() => writeGguf(path, [], [{ name: 'w', shape: [3], type: TensorType.F32, data: new Float32Array(4) }])).toThrow(/bytes/);
  });

  it('aligns every tensor and round-trips F32 / F16 / Q8_0 data, streamed or whole', () => {
    for (const alignment of [32, 64]) {
      const path = join(dir, `tensors-${alignment}.gguf`);
      const values = Float32Array.from({ length: 96 * 3 }, (_, i) => Math.sin(i * 0.37) * (1 + (i % 7)));
      const meta = new GgufMetadata().string('general.architecture', 'test');
      if (alignment !== 32) meta.u32('general.alignment', alignment);
      writeGguf(path, meta, [
        { name: 'odd', shape: [5], type: TensorType.F32, data: new Float32Array([1, 2, 3, 4, 5]) }, // 20 bytes: forces padding
        { name: 'f32', shape: [96, 3], type: TensorType.F32, data: values },
        { name: 'f16', shape: [96, 3], type: TensorType.F16, data: values },
        { name: 'q8', shape: [96, 3], type: TensorType.Q8_0, data: function* () { for (let r = 0; r < 3; r++) yield values.slice(96 * r, 96 * (r + 1)); } },
        { name: 'raw', shape: [2], type: TensorType.F16, data: encodeF16(new Float32Array([0.5, -2])) },
      ]);
      const file = readGguf(path);
      expect(file.alignment).toBe(alignment);
      for (const t of file.tensors) expect((t.fileOffset - file.dataOffset) % alignment).toBe(0);
      expect(file.dataOffset % alignment).toBe(0);
      expect(readFileSync(path).length % alignment).toBe(0);
      expect(Array.from(file.readTensor('odd'))).toEqual([1, 2, 3, 4, 5]);
      expect(file.tensor('f32')?.dims).toEqual([96, 3]);
      expect(Array.from(file.readTensor('f32'))).toEqual(Array.from(values));
      const f16 = file.readTensor('f16');
      values.forEach((v, i) => expect(Math.abs(f16[i]! - v)).toBeLessThanOrEqual(Math.abs(v) * 2 ** -11 + 1e-7));
      const q8 = file.readTensor('q8');
      for (let b = 0; b < values.length / 32; b++) {
        const block = values.slice(32 * b, 32 * b + 32);
        const amax = Math.max(...block.map(Math.abs));
        block.forEach((v, j) => expect(Math.abs(q8[32 * b + j]! - v)).toBeLessThanOrEqual((amax / 127) * 0.5 + amax * 2 ** -10));
      }
      expect(Array.from(file.readTensor('raw'))).toEqual([0.5, -2]);
    }
  });

  it('encodes F16 as the nearest half, ties to even (exhaustive over all halves)', () => {
    // Every finite half converts to itself; every midpoint between neighbours rounds to the even one.
    for (let h = 0; h < 0x10000; h++) {
      const exp = (h >> 10) & 0x1f;
      if (exp === 0x1f) continue;
      const x = halfToNumber(h);
      expect(floatToHalf(x)).toBe(Object.is(x, -0) ? 0x8000 : h);
      if ((h & 0x7fff) === 0x7bff) continue; // largest finite: next is inf
      const next = halfToNumber(h + 1);
      const mid = (x + next) / 2; // exact in float32: halves have 11 significant bits
      expect(Math.fround(mid)).toBe(mid);
      expect(floatToHalf(mid)).toBe(h % 2 === 0 ? h : h + 1);
      const justTowardX = mid - Math.sign(next - x) * Math.abs(mid) * 2 ** -20;
      expect(floatToHalf(justTowardX)).toBe(h);
    }
    expect(floatToHalf(Infinity)).toBe(0x7c00);
    expect(floatToHalf(-1e6)).toBe(0xfc00);
    expect(floatToHalf(NaN) & 0x7c00).toBe(0x7c00);
    expect(floatToHalf(1e-9)).toBe(0);
  });

  it('quantises Q8_0 exactly as ggml does (float64 reference of quantize_row_q8_0_ref)', () => {
    const values = Float32Array.from({ length: 32 * 50 }, (_, i) => (i % 32 === 5 ? 0 : Math.tan(i * 1.3) * 0.01));
    values.fill(0, 64, 96); // an all-zero block: scale 0
    values[100] = 0.5 * (1 / 127) * 0; // keep a zero inside a non-zero block
    const bytes = Buffer.from(quantizeQ8_0(values));
    for (let b = 0; b < 50; b++) {
      const block = Array.from(values.slice(32 * b, 32 * b + 32));
      const amax = Math.max(...block.map(Math.abs));
      const d = Math.fround(amax / 127);
      const id = d ? Math.fround(1 / d) : 0;
      expect(bytes.readUInt16LE(34 * b)).toBe(floatToHalf(d));
      for (let j = 0; j < 32; j++) {
        const x = Math.fround(block[j]! * id);
        const expected = Math.trunc(x + Math.sign(x) * 0.5) + 0; // roundf: half away from zero (+0: no -0)
        expect(bytes.readInt8(34 * b + 2 + j)).toBe(expected);
      }
    }
  });

  it('writes a model llama.cpp loads, with its metadata read back', async () => {
    const path = await tinyModel();
    const llama = await getLlama({ gpu: false, logLevel: LlamaLogLevel.error });
    const model = await llama.loadModel({ modelPath: path });
    try {
      expect(model.fileInfo.metadata.general.architecture).toBe('qwen2');
      expect(model.fileInsights.totalLayers).toBe(3); // 2 blocks + output layer
      expect(model.fileInfo.metadata.tokenizer.ggml.tokens.length).toBe(151936);
      const ctx = await model.createContext({ contextSize: 128, threads: 1 });
      const seq = ctx.getSequence();
      const res = await seq.controlledEvaluate([[model.tokenize('hello')[0]!, { generateNext: { logits: { filter: { tokens: [], includeTop: 1 } } } }]]);
      const top = [...(res[0]?.next?.logits?.values() ?? [])][0]!;
      expect(Number.isFinite(top)).toBe(true);
      await ctx.dispose();
    } finally {
      await model.dispose();
    }
  });
});
