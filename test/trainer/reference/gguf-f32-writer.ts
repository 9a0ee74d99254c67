/**
 * Minimal GGUF v3 writer for the reference's test fixtures: metadata entries as the reader
 * returns them (so a vocabulary can be copied verbatim) and F32 tensors only. Kept separate from
 * src/gguf/writer.ts on purpose: the gradient check's fixtures should not depend on the code
 * whose outputs they help to judge.
 */
import { closeSync, openSync, renameSync, writeSync } from 'node:fs';
import { GgufValueType, type GgufKeyValue, type GgufValue } from '../../../src/gguf/reader.js';

export interface F32Tensor {
  name: string;
  /** ggml order: [n_in, n_out] for a weight matrix. */
  dims: number[];
  data: Float32Array | Float64Array;
}

const ALIGNMENT = 32;

/** A growable little-endian byte buffer. */
class Sink {
  buf = Buffer.alloc(1 << 16);
  length = 0;
  private room(n: number): number {
    if (this.length + n > this.buf.length) {
      const next = Buffer.alloc(Math.max(this.buf.length * 2, this.length + n));
      this.buf.copy(next, 0, 0, this.length);
      this.buf = next;
    }
    const at = this.length;
    this.length += n;
    return at;
  }
  // Each write reserves room BEFORE touching this.buf: room() may replace the buffer.
  u8(v: number): void {
    const at = this.room(1);
    this.buf.writeUInt8(v, at);
  }
  u32(v: number): void {
    const at = this.room(4);
    this.buf.writeUInt32LE(v, at);
  }
  u64(v: number | bigint): void {
    const at = this.room(8);
    this.buf.writeBigUInt64LE(BigInt(v), at);
  }
  string(s: string): void {
    const n = Buffer.byteLength(s, 'utf8');
    this.u64(n);
    const at = this.room(n);
    this.buf.write(s, at, 'utf8');
  }
  bytes(b: Buffer): void {
    const at = this.room(b.length);
    b.copy(this.buf, at);
  }
  scalar(type: GgufValueType, v: GgufValue): void {
    const b = Buffer.alloc(8);
    switch (type) {
      case GgufValueType.UINT8:
        return this.bytes(b.subarray(0, b.writeUInt8(v as number)));
      case GgufValueType.INT8:
        return this.bytes(b.subarray(0, b.writeInt8(v as number)));
      case GgufValueType.UINT16:
        return this.bytes(b.subarray(0, b.writeUInt16LE(v as number)));
      case GgufValueType.INT16:
        return this.bytes(b.subarray(0, b.writeInt16LE(v as number)));
      case GgufValueType.UINT32:
        return this.bytes(b.subarray(0, b.writeUInt32LE(v as number)));
      case GgufValueType.INT32:
        return this.bytes(b.subarray(0, b.writeInt32LE(v as number)));
      case GgufValueType.FLOAT32:
        return this.bytes(b.subarray(0, b.writeFloatLE(v as number)));
      case GgufValueType.BOOL:
        return this.bytes(b.subarray(0, b.writeUInt8(v ? 1 : 0)));
      case GgufValueType.STRING:
        return this.string(v as string);
      case GgufValueType.UINT64:
        return this.bytes(b.subarray(0, b.writeBigUInt64LE(BigInt(v as bigint))));
      case GgufValueType.INT64:
        return this.bytes(b.subarray(0, b.writeBigInt64LE(BigInt(v as bigint))));
      case GgufValueType.FLOAT64:
        return this.bytes(b.subarray(0, b.writeDoubleLE(v as number)));
      default:
        throw new Error(`cannot write GGUF value type ${type} as a scalar`);
    }
  }
  /** An ARRAY body; nested arrays must be homogeneous, so their element type is inferred from the first. */
  array(itemType: GgufValueType, items: GgufValue[]): void {
    this.u32(itemType);
    this.u64(items.length);
    for (const item of items) {
      if (itemType === GgufValueType.ARRAY) throw new Error('nested arrays are not needed by the fixtures');
      this.scalar(itemType, item);
    }
  }
  pad(): void {
    const rem = this.length % ALIGNMENT;
    if (rem) this.room(ALIGNMENT - rem);
  }
}

export function stringKv(key: string, value: string): GgufKeyValue {
  return { key, type: GgufValueType.STRING, value };
}
export function u32Kv(key: string, value: number): GgufKeyValue {
  return { key, type: GgufValueType.UINT32, value };
}
export function f32Kv(key: string, value: number): GgufKeyValue {
  return { key, type: GgufValueType.FLOAT32, value };
}

export function writeF32Gguf(path: string, kvs: GgufKeyValue[], tensors: F32Tensor[]): void {
  const head = new Sink();
  head.u32(0x46554747);
  head.u32(3);
  head.u64(tensors.length);
  head.u64(kvs.length);
  for (const kv of kvs) {
    head.string(kv.key);
    head.u32(kv.type);
    if (kv.type === GgufValueType.ARRAY) head.array(kv.itemType!, kv.value as GgufValue[]);
    else head.scalar(kv.type, kv.value);
  }
  let offset = 0;
  for (const t of tensors) {
    const n = t.dims.reduce((a, b) => a * b, 1);
    if (n !== t.data.length) throw new Error(`tensor ${t.name}: dims ${t.dims} do not match ${t.data.length} values`);
    head.string(t.name);
    head.u32(t.dims.length);
    for (const d of t.dims) head.u64(d);
    head.u32(0); // F32
    head.u64(offset);
    offset += Math.ceil((4 * n) / ALIGNMENT) * ALIGNMENT;
  }
  head.pad();
  const tmp = `${path}.tmp-${process.pid}`;
  const fd = openSync(tmp, 'w');
  try {
    writeSync(fd, head.buf, 0, head.length);
    for (const t of tensors) {
      const f32 = t.data instanceof Float32Array ? t.data : Float32Array.from(t.data);
      const bytes = Buffer.alloc(Math.ceil((4 * f32.length) / ALIGNMENT) * ALIGNMENT);
      Buffer.from(f32.buffer, f32.byteOffset, f32.byteLength).copy(bytes);
      writeSync(fd, bytes);
    }
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
}
