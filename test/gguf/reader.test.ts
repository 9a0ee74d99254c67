/**
 * The GGUF reader against (1) hand-assembled files whose bytes encode known values (every
 * metadata type, nested arrays, a non-default alignment, F32/F16/BF16/F64/Q8_0 data) and
 * (2) node-llama-cpp's own GGUF parser on a real file from the bundled llama.cpp source.
 * Takes a few seconds (the Qwen2 vocab holds ~300k strings).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readGgufFileInfo } from 'node-llama-cpp';
import { GgmlType, GgufValueType, halfToNumber, readGguf } from '../../src/gguf/reader.js';
import { vocabFile } from '../../src/llama/source.js';

/** Little-endian byte assembly, written out by hand so the test does not share code with any writer. */
class Bytes {
  private parts: Buffer[] = [];
  get length(): number {
    return this.parts.reduce((n, b) => n + b.length, 0);
  }
  raw(b: Buffer): this {
    this.parts.push(b);
    return this;
  }
  u8(v: number): this {
    const b = Buffer.alloc(1);
    b.writeUInt8(v);
    return this.raw(b);
  }
  i8(v: number): this {
    const b = Buffer.alloc(1);
    b.writeInt8(v);
    return this.raw(b);
  }
  u16(v: number): this {
    const b = Buffer.alloc(2);
    b.writeUInt16LE(v);
    return this.raw(b);
  }
  i16(v: number): this {
    const b = Buffer.alloc(2);
    b.writeInt16LE(v);
    return this.raw(b);
  }
  u32(v: number): this {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(v);
    return this.raw(b);
  }
  i32(v: number): this {
    const b = Buffer.alloc(4);
    b.writeInt32LE(v);
    return this.raw(b);
  }
  f32(v: number): this {
    const b = Buffer.alloc(4);
    b.writeFloatLE(v);
    return this.raw(b);
  }
  f64(v: number): this {
    const b = Buffer.alloc(8);
    b.writeDoubleLE(v);
    return this.raw(b);
  }
  u64(v: bigint | number): this {
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(BigInt(v));
    return this.raw(b);
  }
  i64(v: bigint): this {
    const b = Buffer.alloc(8);
    b.writeBigInt64LE(v);
    return this.raw(b);
  }
  str(s: string): this {
    const b = Buffer.from(s, 'utf8');
    return this.u64(b.length).raw(b);
  }
  pad(alignment: number): this {
    const rem = this.length % alignment;
    return rem ? this.raw(Buffer.alloc(alignment - rem)) : this;
  }
  build(): Buffer {
    return Buffer.concat(this.parts);
  }
}

const dir = mkdtempSync(join(tmpdir(), 'ttsd-gguf-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const ALIGN = 64;

/** A GGUF v3 with one key of every type and five tensors whose values are known exactly. */
function handMadeFile(): string {
  const h = new Bytes().u32(0x46554747).u32(3);
  const kv = new Bytes();
  let nKv = 0;
  const key = (name: string, type: GgufValueType) => {
    nKv++;
    return kv.str(name).u32(type);
  };
  key('general.architecture', GgufValueType.STRING).str('qwen2');
  key('general.alignment', GgufValueType.UINT32).u32(ALIGN);
  key('t.u8', GgufValueType.UINT8).u8(200);
  key('t.i8', GgufValueType.INT8).i8(-100);
  key('t.u16', GgufValueType.UINT16).u16(60000);
  key('t.i16', GgufValueType.INT16).i16(-30000);
  key('t.u32', GgufValueType.UINT32).u32(4_000_000_000);
  key('t.i32', GgufValueType.INT32).i32(-2_000_000_000);
  key('t.f32', GgufValueType.FLOAT32).f32(0.25);
  key('t.bool', GgufValueType.BOOL).u8(1);
  key('t.u64', GgufValueType.UINT64).u64(2n ** 63n + 5n);
  key('t.i64', GgufValueType.INT64).i64(-(2n ** 62n));
  key('t.f64', GgufValueType.FLOAT64).f64(Math.PI);
  key('t.utf8', GgufValueType.STRING).str('héllo ✓');
  key('t.arr_i32', GgufValueType.ARRAY).u32(GgufValueType.INT32).u64(3).i32(-1).i32(0).i32(7);
  key('t.arr_str', GgufValueType.ARRAY).u32(GgufValueType.STRING).u64(2).str('a').str('');
  key('t.arr_nested', GgufValueType.ARRAY).u32(GgufValueType.ARRAY).u64(2)
    .u32(GgufValueType.UINT8).u64(2).u8(1).u8(2)
    .u32(GgufValueType.FLOAT32).u64(1).f32(-1.5);
  key('t.arr_empty', GgufValueType.ARRAY).u32(GgufValueType.FLOAT64).u64(0);

  // Tensor data, each tensor starting at an ALIGN boundary of the data section.
  const data = new Bytes();
  const infos = new Bytes();
  let nTensors = 0;
  const tensor = (name: string, dims: number[], type: GgmlType, body: Bytes) => {
    data.pad(ALIGN);
    infos.str(name).u32(dims.length);
    for (const d of dims) infos.u64(d);
    infos.u32(type).u64(data.length);
    data.raw(body.build());
    nTensors++;
  };
  tensor('f32', [3, 2], GgmlType.F32, new Bytes().f32(1).f32(-2).f32(0.5).f32(3.25).f32(-0).f32(1e-3));
  // 1.0, -2.0, smallest subnormal 2^-24, largest finite 65504, 0.333251953125
  tensor('f16', [5], GgmlType.F16, new Bytes().u16(0x3c00).u16(0xc000).u16(0x0001).u16(0x7bff).u16(0x3555));
  // bf16 = top half of f32: 1.0 = 0x3f80, -3.0 = 0xc040
  tensor('bf16', [2], GgmlType.BF16, new Bytes().u16(0x3f80).u16(0xc040));
  tensor('f64', [2, 1, 1], GgmlType.F64, new Bytes().f64(Math.E).f64(-1e300));
  // Two Q8_0 blocks: d = 0.5 (0x3800) with q = -16..15, d = -0.125 (0xb000) with q = 127, -128, 0...
  const q8 = new Bytes().u16(0x3800);
  for (let j = 0; j < 32; j++) q8.i8(j - 16);
  q8.u16(0xb000).i8(127).i8(-128);
  for (let j = 2; j < 32; j++) q8.i8(0);
  tensor('q8', [64], GgmlType.Q8_0, q8);

  h.u64(nTensors).u64(nKv).raw(kv.build()).raw(infos.build()).pad(ALIGN).raw(data.build());
  const path = join(dir, 'hand.gguf');
  writeFileSync(path, h.build());
  return path;
}

describe('GGUF reader on a hand-assembled file', () => {
  const path = handMadeFile();
  const f = readGguf(path);

  it('reads the header and every metadata type', () => {
    expect(f.version).toBe(3);
    expect(f.alignment).toBe(ALIGN);
    expect(f.dataOffset % ALIGN).toBe(0);
    expect(f.architecture).toBe('qwen2');
    expect(f.get('t.u8')).toBe(200);
    expect(f.get('t.i8')).toBe(-100);
    expect(f.get('t.u16')).toBe(60000);
    expect(f.get('t.i16')).toBe(-30000);
    expect(f.get('t.u32')).toBe(4_000_000_000);
    expect(f.get('t.i32')).toBe(-2_000_000_000);
    expect(f.get('t.f32')).toBe(0.25);
    expect(f.get('t.bool')).toBe(true);
    expect(f.get('t.u64')).toBe(2n ** 63n + 5n);
    expect(f.get('t.i64')).toBe(-(2n ** 62n));
    expect(f.number('t.i64')).toBe(-(2 ** 62));
    expect(f.get('t.f64')).toBe(Math.PI);
    expect(f.string('t.utf8')).toBe('héllo ✓');
    expect(f.get('t.arr_i32')).toEqual([-1, 0, 7]);
    expect(f.kv.get('t.arr_i32')?.itemType).toBe(GgufValueType.INT32);
    expect(f.get('t.arr_str')).toEqual(['a', '']);
    expect(f.get('t.arr_nested')).toEqual([[1, 2], [-1.5]]);
    expect(f.get('t.arr_empty')).toEqual([]);
    expect(() => f.number('t.utf8')).toThrow(/not a number/);
    expect(() => f.string('missing.key')).toThrow(/missing/);
  });

  it('lists tensor infos in ggml dimension order', () => {
    expect(f.tensors.map((t) => t.name)).toEqual(['f32', 'f16', 'bf16', 'f64', 'q8']);
    const t = f.tensor('f32')!;
    expect(t.dims).toEqual([3, 2]);
    expect(t.nElements).toBe(6);
    expect(t.type).toBe(GgmlType.F32);
    expect(t.typeName).toBe('F32');
    expect(t.nBytes).toBe(24);
    expect(f.tensor('q8')!.nBytes).toBe(68);
    for (const info of f.tensors) expect((info.fileOffset - f.dataOffset) % ALIGN).toBe(0);
  });

  it('dequantises F32, F16, BF16, F64 and Q8_0 exactly', () => {
    expect([...f.readTensor('f32')]).toEqual([1, -2, 0.5, 3.25, -0, Math.fround(1e-3)]);
    expect([...f.readTensor('f16')]).toEqual([1, -2, 2 ** -24, 65504, 0.333251953125]);
    expect([...f.readTensor('bf16')]).toEqual([1, -3]);
    expect([...f.readTensor('f64')]).toEqual([Math.E, -1e300]);
    const q = f.readTensor('q8');
    for (let j = 0; j < 32; j++) expect(q[j]).toBe(0.5 * (j - 16));
    expect(q[32]).toBe(-0.125 * 127);
    expect(q[33]).toBe(-0.125 * -128);
    expect(q[40]).toBe(-0);
  });

  it('is read the same way by node-llama-cpp (offsets and metadata)', async () => {
    const info = await readGgufFileInfo(path, { logWarnings: false });
    const theirs = info.tensorInfo!;
    expect(theirs.map((t) => t.name)).toEqual(f.tensors.map((t) => t.name));
    for (const [i, t] of theirs.entries()) {
      expect(Number(t.fileOffset)).toBe(f.tensors[i].fileOffset);
      expect(t.dimensions.map(Number)).toEqual(f.tensors[i].dims);
      expect(Number(t.ggmlType)).toBe(f.tensors[i].type);
    }
  });

  it('rejects what is not a GGUF file with a clear error', () => {
    const bad = join(dir, 'bad.gguf');
    writeFileSync(bad, Buffer.from('GGML not really a gguf file at all'));
    expect(() => readGguf(bad)).toThrow(/not a GGUF file/);
    expect(() => readGguf(join(dir, 'absent.gguf'))).toThrow(/cannot open/);
    const truncated = join(dir, 'truncated.gguf');
    writeFileSync(truncated, new Bytes().u32(0x46554747).u32(3).u64(0).u64(1).str('general.name').u32(8).u64(100).build());
    expect(() => readGguf(truncated)).toThrow(/truncated/);
    expect(() => f.readTensor('nope')).toThrow(/no tensor named nope/);
  });
});

describe('GGUF reader on a real file', () => {
  it('agrees with node-llama-cpp on every metadata key of the Qwen2 vocab', async () => {
    const path = await vocabFile('qwen2');
    const f = readGguf(path);
    const info = await readGgufFileInfo(path, { logWarnings: false });
    expect(f.architecture).toBe('qwen2');
    expect(f.kv.size).toBeGreaterThan(10);
    let checked = 0;
    for (const [key, kv] of f.kv) {
      // node-llama-cpp nests metadata by dotted key path.
      let theirs: unknown = info.metadata;
      for (const part of key.split('.')) theirs = (theirs as Record<string, unknown>)[part];
      if (kv.type === GgufValueType.FLOAT32) expect(theirs).toBeCloseTo(kv.value as number, 12);
      else if (typeof kv.value === 'bigint') expect(BigInt(theirs as number)).toBe(kv.value);
      else expect(theirs).toEqual(kv.value);
      checked++;
    }
    expect(checked).toBe(f.kv.size);
    expect((f.get('tokenizer.ggml.tokens') as string[]).length).toBe(151936);
    expect(halfToNumber(0x3c00)).toBe(1);
  });
});
