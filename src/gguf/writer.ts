/**
 * A GGUF v3 writer (format: ggml's docs/gguf.md): metadata of every value type, nested arrays
 * included, and tensors encoded as F32, F16 or Q8_0 with each tensor's data aligned.
 *
 * Tensor data is streamed tensor by tensor (or chunk by chunk from a generator), so writing a
 * 0.5B-parameter model never holds more than one tensor's worth of floats in memory. The file
 * is written next to its destination and renamed, so a killed writer never leaves a half file
 * under the final name.
 */
import { closeSync, mkdirSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import {
  GGUF_DEFAULT_ALIGNMENT,
  GGUF_MAGIC,
  GGUF_VERSION,
  GgufType,
  Q8_0_BLOCK,
  Q8_0_BLOCK_BYTES,
  TensorType,
  tensorBytes,
} from './constants.js';

export type GgufScalar = number | bigint | boolean | string;
/** An array value: its element type and elements (nested arrays carry their own element type). */
export interface GgufArray {
  itemType: GgufType;
  values: (GgufScalar | GgufArray)[];
}

/** One metadata entry. For ARRAY, `itemType` is the element type and `value` the elements. */
export interface GgufEntry {
  key: string;
  type: GgufType;
  itemType?: GgufType;
  value: GgufScalar | (GgufScalar | GgufArray)[];
}

/** Typed metadata in insertion order; adding an existing key replaces its value in place. */
export class GgufMetadata {
  private readonly entries = new Map<string, GgufEntry>();

  add(entry: GgufEntry): this {
    this.entries.set(entry.key, entry);
    return this;
  }
  string(key: string, value: string): this {
    return this.add({ key, type: GgufType.STRING, value });
  }
  u32(key: string, value: number): this {
    return this.add({ key, type: GgufType.UINT32, value });
  }
  i32(key: string, value: number): this {
    return this.add({ key, type: GgufType.INT32, value });
  }
  f32(key: string, value: number): this {
    return this.add({ key, type: GgufType.FLOAT32, value });
  }
  bool(key: string, value: boolean): this {
    return this.add({ key, type: GgufType.BOOL, value });
  }
  array(key: string, itemType: GgufType, values: (GgufScalar | GgufArray)[]): this {
    return this.add({ key, type: GgufType.ARRAY, itemType, value: values });
  }
  get(key: string): GgufEntry | undefined {
    return this.entries.get(key);
  }
  delete(key: string): this {
    this.entries.delete(key);
    return this;
  }
  list(): GgufEntry[] {
    return [...this.entries.values()];
  }
}

/**
 * A tensor to write. `shape` is in ggml order (ne0 first: [n_in, n_out] for a weight matrix).
 * `data` is either the values as float32 in ggml memory order (encoded to `type` here), the
 * already-encoded bytes, or a generator of float32 chunks (for Q8_0, each a multiple of 32).
 */
export interface TensorSpec {
  name: string;
  shape: number[];
  type: TensorType;
  data: Float32Array | Uint8Array | (() => Iterable<Float32Array>);
}

/** Writes a GGUF v3 file; returns its size in bytes. */
export function writeGguf(path: string, metadata: GgufMetadata | GgufEntry[], tensors: TensorSpec[]): number {
  const entries = Array.isArray(metadata) ? metadata : metadata.list();
  const alignmentEntry = entries.find((e) => e.key === 'general.alignment');
  const alignment = alignmentEntry ? Number(alignmentEntry.value) : GGUF_DEFAULT_ALIGNMENT;
  if (!Number.isInteger(alignment) || alignment <= 0 || alignment % 8 !== 0) {
    throw new Error(`general.alignment must be a positive multiple of 8, got ${String(alignmentEntry?.value)}`);
  }
  const names = new Set<string>();
  for (const t of tensors) {
    if (names.has(t.name)) throw new Error(`duplicate tensor name ${t.name}`);
    names.add(t.name);
  }

  // Header: magic, version, counts, metadata, tensor infos with offsets relative to the data section.
  const header = new ByteSink();
  header.u32(GGUF_MAGIC);
  header.u32(GGUF_VERSION);
  header.u64(BigInt(tensors.length));
  header.u64(BigInt(entries.length));
  for (const entry of entries) writeEntry(header, entry);
  const sizes = tensors.map(checkTensor);
  let offset = 0;
  const offsets: number[] = [];
  tensors.forEach((t, i) => {
    offsets.push(offset);
    header.string(t.name);
    header.u32(t.shape.length);
    for (const ne of t.shape) header.u64(BigInt(ne));
    header.u32(t.type);
    header.u64(BigInt(offset));
    offset = alignUp(offset + sizes[i]!, alignment);
  });
  header.zeros(alignUp(header.length, alignment) - header.length);

  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.tmp-${process.pid}`;
  const fd = openSync(tmp, 'w');
  let written = 0;
  const put = (bytes: Uint8Array) => {
    let done = 0;
    while (done < bytes.length) done += writeSync(fd, bytes, done, bytes.length - done);
    written += bytes.length;
  };
  try {
    put(header.bytes());
    const dataStart = written;
    tensors.forEach((t, i) => {
      put(new Uint8Array(dataStart + offsets[i]! - written)); // alignment padding
      let produced = 0;
      for (const chunk of encodedChunks(t)) {
        put(chunk);
        produced += chunk.length;
      }
      if (produced !== sizes[i]) throw new Error(`tensor ${t.name}: data is ${produced} bytes, its shape needs ${sizes[i]}`);
    });
    // Pad the last tensor too, so the data section is a whole number of alignment units.
    put(new Uint8Array(alignUp(written, alignment) - written));
  } catch (error) {
    closeSync(fd);
    rmSync(tmp, { force: true });
    throw error;
  }
  closeSync(fd);
  renameSync(tmp, path);
  return written;
}

function checkTensor(t: TensorSpec): number {
  if (t.shape.length < 1 || t.shape.length > 4) throw new Error(`tensor ${t.name}: GGUF tensors have 1 to 4 dimensions`);
  if (t.shape.some((ne) => !Number.isInteger(ne) || ne <= 0)) throw new Error(`tensor ${t.name}: bad shape [${t.shape}]`);
  if (t.type === TensorType.Q8_0 && t.shape[0]! % Q8_0_BLOCK !== 0) {
    throw new Error(`tensor ${t.name}: Q8_0 needs ne0 to be a multiple of ${Q8_0_BLOCK}, got ${t.shape[0]}`);
  }
  return tensorBytes(t.type, t.shape.reduce((a, b) => a * b, 1));
}

function* encodedChunks(t: TensorSpec): Iterable<Uint8Array> {
  if (typeof t.data === 'function') {
    for (const chunk of t.data()) yield encodeTensorData(chunk, t.type);
  } else if (t.data instanceof Float32Array) {
    yield encodeTensorData(t.data, t.type);
  } else {
    yield t.data;
  }
}

/** Float32 values → the bytes of a tensor type (little-endian, as ggml stores them). */
export function encodeTensorData(values: Float32Array, type: TensorType): Uint8Array {
  switch (type) {
    case TensorType.F32:
      return littleEndianF32(values);
    case TensorType.F16:
      return encodeF16(values);
    case TensorType.Q8_0:
      return quantizeQ8_0(values);
  }
}

const HOST_IS_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function littleEndianF32(values: Float32Array): Uint8Array {
  if (HOST_IS_LITTLE_ENDIAN) return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
  const out = Buffer.alloc(values.length * 4);
  values.forEach((v, i) => out.writeFloatLE(v, 4 * i));
  return out;
}

export function encodeF16(values: Float32Array): Uint8Array {
  const out = new Uint8Array(values.length * 2);
  const view = new DataView(out.buffer);
  for (let i = 0; i < values.length; i++) view.setUint16(2 * i, floatToHalf(values[i]!), true);
  return out;
}

const f32Scratch = new Float32Array(1);
const u32Scratch = new Uint32Array(f32Scratch.buffer);

/** IEEE 754 binary32 → binary16 bits, round to nearest even (what ggml's FP32_TO_FP16 does on x86 F16C). */
export function floatToHalf(x: number): number {
  f32Scratch[0] = x;
  const bits = u32Scratch[0]!;
  const sign = (bits >>> 16) & 0x8000;
  const exp = (bits >>> 23) & 0xff;
  let mant = bits & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0); // inf / quiet NaN
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00; // overflow → inf
  if (e <= 0) {
    // Subnormal half (or zero): shift the implicit-1 mantissa into place and round.
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let half = mant >>> shift;
    const rest = mant & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    if (rest > halfway || (rest === halfway && half & 1)) half++;
    return sign | half;
  }
  let half = (e << 10) | (mant >>> 13);
  const rest = mant & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && half & 1)) half++; // a carry may round up into inf: correct
  return sign | half;
}

/**
 * ggml's reference Q8_0 quantisation (quantize_row_q8_0_ref), in float32 arithmetic:
 * d = amax / 127, q = roundf(x / d) with ties away from zero; d stored as f16.
 */
export function quantizeQ8_0(values: Float32Array): Uint8Array {
  if (values.length % Q8_0_BLOCK !== 0) throw new Error(`Q8_0 data must be whole blocks of ${Q8_0_BLOCK}`);
  const nBlocks = values.length / Q8_0_BLOCK;
  const out = new Uint8Array(nBlocks * Q8_0_BLOCK_BYTES);
  const view = new DataView(out.buffer);
  const quants = new Int8Array(out.buffer);
  const fround = Math.fround;
  for (let b = 0; b < nBlocks; b++) {
    const base = b * Q8_0_BLOCK;
    let amax = 0;
    for (let j = 0; j < Q8_0_BLOCK; j++) amax = Math.max(amax, Math.abs(values[base + j]!));
    const d = fround(amax / 127);
    const id = d ? fround(1 / d) : 0;
    const at = b * Q8_0_BLOCK_BYTES;
    view.setUint16(at, floatToHalf(d), true);
    for (let j = 0; j < Q8_0_BLOCK; j++) {
      const x = fround(values[base + j]! * id);
      quants[at + 2 + j] = x < 0 ? -Math.round(-x) : Math.round(x);
    }
  }
  return out;
}

function alignUp(n: number, alignment: number): number {
  return Math.ceil(n / alignment) * alignment;
}

function writeEntry(sink: ByteSink, entry: GgufEntry): void {
  sink.string(entry.key);
  sink.u32(entry.type);
  if (entry.type === GgufType.ARRAY) {
    if (entry.itemType === undefined || !Array.isArray(entry.value)) throw new Error(`metadata ${entry.key}: an array needs itemType and a list of values`);
    writeArray(sink, entry.key, { itemType: entry.itemType, values: entry.value });
  } else {
    if (Array.isArray(entry.value)) throw new Error(`metadata ${entry.key}: a list needs type ARRAY`);
    writeScalar(sink, entry.key, entry.type, entry.value);
  }
}

function writeArray(sink: ByteSink, key: string, array: GgufArray): void {
  sink.u32(array.itemType);
  sink.u64(BigInt(array.values.length));
  for (const item of array.values) {
    if (array.itemType === GgufType.ARRAY) {
      if (typeof item !== 'object' || item === null) throw new Error(`metadata ${key}: nested array expected`);
      writeArray(sink, key, item);
    } else {
      if (typeof item === 'object') throw new Error(`metadata ${key}: scalar expected in array`);
      writeScalar(sink, key, array.itemType, item);
    }
  }
}

function writeScalar(sink: ByteSink, key: string, type: GgufType, value: GgufScalar): void {
  const num = (): number => {
    if (typeof value !== 'number') throw new Error(`metadata ${key}: expected a number, got ${typeof value}`);
    return value;
  };
  const int = (lo: number, hi: number): number => {
    const v = num();
    if (!Number.isInteger(v) || v < lo || v > hi) throw new Error(`metadata ${key}: ${v} does not fit its integer type`);
    return v;
  };
  switch (type) {
    case GgufType.UINT8:
      return sink.fixed(1, (b) => b.writeUInt8(int(0, 0xff)));
    case GgufType.INT8:
      return sink.fixed(1, (b) => b.writeInt8(int(-0x80, 0x7f)));
    case GgufType.UINT16:
      return sink.fixed(2, (b) => b.writeUInt16LE(int(0, 0xffff)));
    case GgufType.INT16:
      return sink.fixed(2, (b) => b.writeInt16LE(int(-0x8000, 0x7fff)));
    case GgufType.UINT32:
      return sink.u32(int(0, 0xffffffff));
    case GgufType.INT32:
      return sink.fixed(4, (b) => b.writeInt32LE(int(-0x80000000, 0x7fffffff)));
    case GgufType.FLOAT32:
      return sink.fixed(4, (b) => b.writeFloatLE(num()));
    case GgufType.FLOAT64:
      return sink.fixed(8, (b) => b.writeDoubleLE(num()));
    case GgufType.BOOL:
      if (typeof value !== 'boolean') throw new Error(`metadata ${key}: expected a boolean`);
      return sink.fixed(1, (b) => b.writeUInt8(value ? 1 : 0));
    case GgufType.STRING:
      if (typeof value !== 'string') throw new Error(`metadata ${key}: expected a string`);
      return sink.string(value);
    case GgufType.UINT64:
      return sink.u64(BigInt(value as number | bigint));
    case GgufType.INT64:
      return sink.fixed(8, (b) => b.writeBigInt64LE(BigInt(value as number | bigint)));
    default:
      throw new Error(`metadata ${key}: unknown value type ${String(type)}`);
  }
}

/** A growable little-endian byte buffer for the header. */
class ByteSink {
  private buf = Buffer.alloc(1 << 16);
  length = 0;

  private reserve(n: number): void {
    if (this.length + n <= this.buf.length) return;
    const bigger = Buffer.alloc(Math.max(this.buf.length * 2, this.length + n));
    this.buf.copy(bigger, 0, 0, this.length);
    this.buf = bigger;
  }
  fixed(n: number, write: (view: Buffer) => void): void {
    this.reserve(n);
    write(this.buf.subarray(this.length, this.length + n));
    this.length += n;
  }
  u32(v: number): void {
    this.fixed(4, (b) => b.writeUInt32LE(v));
  }
  u64(v: bigint): void {
    this.fixed(8, (b) => b.writeBigUInt64LE(v));
  }
  string(s: string): void {
    const bytes = Buffer.from(s, 'utf8');
    this.u64(BigInt(bytes.length));
    this.reserve(bytes.length);
    bytes.copy(this.buf, this.length);
    this.length += bytes.length;
  }
  zeros(n: number): void {
    this.reserve(n);
    this.buf.fill(0, this.length, this.length + n);
    this.length += n;
  }
  bytes(): Uint8Array {
    return this.buf.subarray(0, this.length);
  }
}
