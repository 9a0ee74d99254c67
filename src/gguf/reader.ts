/**
 * A GGUF (v2/v3) reader: metadata of every value type (arrays included), tensor infos, and
 * tensor data for F32 / F16 / BF16 / F64 / Q8_0 dequantised to Float64Array.
 *
 * Synchronous and file-descriptor based: the header is read in chunks and tensor data only on
 * request, so inspecting a large model never loads its weights. Format: ggml's docs/gguf.md
 * (little-endian; strings are u64 length + UTF-8 bytes; tensor offsets are relative to the
 * aligned start of the data section).
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { UserError } from '../errors.js';

/** GGUF metadata value types (gguf_type). */
export enum GgufValueType {
  UINT8 = 0,
  INT8 = 1,
  UINT16 = 2,
  INT16 = 3,
  UINT32 = 4,
  INT32 = 5,
  FLOAT32 = 6,
  BOOL = 7,
  STRING = 8,
  ARRAY = 9,
  UINT64 = 10,
  INT64 = 11,
  FLOAT64 = 12,
}

/** ggml tensor types this reader knows by name (ids from ggml.h). */
export enum GgmlType {
  F32 = 0,
  F16 = 1,
  Q4_0 = 2,
  Q4_1 = 3,
  Q5_0 = 6,
  Q5_1 = 7,
  Q8_0 = 8,
  Q8_1 = 9,
  Q2_K = 10,
  Q3_K = 11,
  Q4_K = 12,
  Q5_K = 13,
  Q6_K = 14,
  Q8_K = 15,
  IQ2_XXS = 16,
  IQ2_XS = 17,
  IQ3_XXS = 18,
  IQ1_S = 19,
  IQ4_NL = 20,
  IQ3_S = 21,
  IQ2_S = 22,
  IQ4_XS = 23,
  I8 = 24,
  I16 = 25,
  I32 = 26,
  I64 = 27,
  F64 = 28,
  IQ1_M = 29,
  BF16 = 30,
  TQ1_0 = 34,
  TQ2_0 = 35,
  MXFP4 = 39,
}

/**
 * [elements per block, bytes per block] for the types whose layout is certain (ggml.c
 * type_traits). Types missing here are still listed, with nBytes undefined.
 */
const BLOCK_LAYOUT: Partial<Record<number, [number, number]>> = {
  [GgmlType.F32]: [1, 4],
  [GgmlType.F16]: [1, 2],
  [GgmlType.BF16]: [1, 2],
  [GgmlType.F64]: [1, 8],
  [GgmlType.I8]: [1, 1],
  [GgmlType.I16]: [1, 2],
  [GgmlType.I32]: [1, 4],
  [GgmlType.I64]: [1, 8],
  [GgmlType.Q4_0]: [32, 18],
  [GgmlType.Q4_1]: [32, 20],
  [GgmlType.Q5_0]: [32, 22],
  [GgmlType.Q5_1]: [32, 24],
  [GgmlType.Q8_0]: [32, 34],
  [GgmlType.Q8_1]: [32, 36],
  [GgmlType.Q2_K]: [256, 84],
  [GgmlType.Q3_K]: [256, 110],
  [GgmlType.Q4_K]: [256, 144],
  [GgmlType.Q5_K]: [256, 176],
  [GgmlType.Q6_K]: [256, 210],
  [GgmlType.Q8_K]: [256, 292],
  [GgmlType.IQ4_NL]: [32, 18],
  [GgmlType.IQ4_XS]: [256, 136],
  [GgmlType.MXFP4]: [32, 17],
};

export type GgufScalar = number | bigint | boolean | string;
export type GgufValue = GgufScalar | GgufScalar[] | GgufValue[];

export interface GgufKeyValue {
  key: string;
  type: GgufValueType;
  /** Element type when type is ARRAY. */
  itemType?: GgufValueType;
  /** UINT64 / INT64 are bigint; the other integer and float types are number. */
  value: GgufValue;
}

export interface GgufTensorInfo {
  name: string;
  /** ggml order: ne[0] is the contiguous (innermost) dimension, e.g. [n_in, n_out] for a weight. */
  dims: number[];
  type: GgmlType;
  typeName: string;
  nElements: number;
  /** Absolute byte offset of the tensor's data in the file. */
  fileOffset: number;
  /** Size in bytes, when the type's block layout is known. */
  nBytes?: number;
}

export function ggmlTypeName(type: number): string {
  return GgmlType[type] ?? `type${type}`;
}

/** Byte size of n elements of a ggml type, or undefined when the layout is not known here. */
export function ggmlTypeBytes(type: number, nElements: number): number | undefined {
  const layout = BLOCK_LAYOUT[type];
  if (!layout) return undefined;
  const [blockElements, blockBytes] = layout;
  if (nElements % blockElements !== 0) return undefined;
  return (nElements / blockElements) * blockBytes;
}

const GGUF_MAGIC = 0x46554747; // "GGUF" read as little-endian u32
const DEFAULT_ALIGNMENT = 32;
const CHUNK = 1 << 20;

/** Sequential little-endian reads from a file descriptor through a refillable window. */
class FileCursor {
  private buf = Buffer.alloc(0);
  private bufStart = 0;
  pos = 0;
  private readonly decoder = new TextDecoder('utf-8');

  constructor(
    private readonly fd: number,
    private readonly fileSize: number,
    private readonly path: string,
  ) {}

  private ensure(n: number): number {
    const rel = this.pos - this.bufStart;
    if (rel >= 0 && rel + n <= this.buf.length) return rel;
    if (this.pos + n > this.fileSize) throw new UserError(`${this.path}: truncated GGUF (wanted ${n} bytes at ${this.pos})`);
    const size = Math.min(Math.max(n, CHUNK), this.fileSize - this.pos);
    const buf = Buffer.alloc(size);
    let got = 0;
    while (got < size) got += readSync(this.fd, buf, got, size - got, this.pos + got);
    this.buf = buf;
    this.bufStart = this.pos;
    return 0;
  }

  u8(): number {
    const r = this.ensure(1);
    this.pos += 1;
    return this.buf.readUInt8(r);
  }
  i8(): number {
    const r = this.ensure(1);
    this.pos += 1;
    return this.buf.readInt8(r);
  }
  u16(): number {
    const r = this.ensure(2);
    this.pos += 2;
    return this.buf.readUInt16LE(r);
  }
  i16(): number {
    const r = this.ensure(2);
    this.pos += 2;
    return this.buf.readInt16LE(r);
  }
  u32(): number {
    const r = this.ensure(4);
    this.pos += 4;
    return this.buf.readUInt32LE(r);
  }
  i32(): number {
    const r = this.ensure(4);
    this.pos += 4;
    return this.buf.readInt32LE(r);
  }
  f32(): number {
    const r = this.ensure(4);
    this.pos += 4;
    return this.buf.readFloatLE(r);
  }
  f64(): number {
    const r = this.ensure(8);
    this.pos += 8;
    return this.buf.readDoubleLE(r);
  }
  u64(): bigint {
    const r = this.ensure(8);
    this.pos += 8;
    return this.buf.readBigUInt64LE(r);
  }
  i64(): bigint {
    const r = this.ensure(8);
    this.pos += 8;
    return this.buf.readBigInt64LE(r);
  }
  /** A u64 that must fit a JS number (counts, lengths, offsets). */
  size(): number {
    const v = this.u64();
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new UserError(`${this.path}: corrupt GGUF (size ${v} at ${this.pos - 8})`);
    return Number(v);
  }
  string(): string {
    const n = this.size();
    const r = this.ensure(n);
    this.pos += n;
    return this.decoder.decode(this.buf.subarray(r, r + n));
  }
}

function readScalar(c: FileCursor, type: GgufValueType, path: string): GgufScalar {
  switch (type) {
    case GgufValueType.UINT8:
      return c.u8();
    case GgufValueType.INT8:
      return c.i8();
    case GgufValueType.UINT16:
      return c.u16();
    case GgufValueType.INT16:
      return c.i16();
    case GgufValueType.UINT32:
      return c.u32();
    case GgufValueType.INT32:
      return c.i32();
    case GgufValueType.FLOAT32:
      return c.f32();
    case GgufValueType.BOOL:
      return c.u8() !== 0;
    case GgufValueType.STRING:
      return c.string();
    case GgufValueType.UINT64:
      return c.u64();
    case GgufValueType.INT64:
      return c.i64();
    case GgufValueType.FLOAT64:
      return c.f64();
    default:
      throw new UserError(`${path}: unknown GGUF value type ${type} at byte ${c.pos}`);
  }
}

function readValue(c: FileCursor, type: GgufValueType, path: string): { value: GgufValue; itemType?: GgufValueType } {
  if (type !== GgufValueType.ARRAY) return { value: readScalar(c, type, path) };
  const itemType = c.u32() as GgufValueType;
  const n = c.size();
  const items: GgufValue[] = new Array(n);
  for (let i = 0; i < n; i++) items[i] = readValue(c, itemType, path).value;
  return { value: items, itemType };
}

export class GgufFile {
  readonly kv = new Map<string, GgufKeyValue>();
  readonly tensors: GgufTensorInfo[] = [];
  private readonly byName = new Map<string, GgufTensorInfo>();

  constructor(
    readonly path: string,
    readonly version: number,
    readonly alignment: number,
    /** Absolute offset of the (aligned) data section. */
    readonly dataOffset: number,
    kvs: GgufKeyValue[],
    tensors: GgufTensorInfo[],
  ) {
    for (const kv of kvs) this.kv.set(kv.key, kv);
    for (const t of tensors) {
      this.tensors.push(t);
      this.byName.set(t.name, t);
    }
  }

  get architecture(): string | undefined {
    const v = this.get('general.architecture');
    return typeof v === 'string' ? v : undefined;
  }

  has(key: string): boolean {
    return this.kv.has(key);
  }

  get(key: string): GgufValue | undefined {
    return this.kv.get(key)?.value;
  }

  /** A numeric value (any integer or float type; 64-bit integers converted). Throws if absent. */
  number(key: string): number {
    const v = this.get(key);
    if (typeof v === 'number') return v;
    if (typeof v === 'bigint') return Number(v);
    throw new UserError(`${this.path}: metadata ${key} is ${v === undefined ? 'missing' : 'not a number'}`);
  }

  string(key: string): string {
    const v = this.get(key);
    if (typeof v !== 'string') throw new UserError(`${this.path}: metadata ${key} is ${v === undefined ? 'missing' : 'not a string'}`);
    return v;
  }

  tensor(name: string): GgufTensorInfo | undefined {
    return this.byName.get(name);
  }

  /** Raw bytes of a tensor's data. */
  readTensorBytes(name: string): Buffer {
    const info = this.requireTensor(name);
    if (info.nBytes === undefined) throw new UserError(`${this.path}: tensor ${name} has type ${info.typeName}, whose size this reader does not know`);
    const fd = openSync(this.path, 'r');
    try {
      const buf = Buffer.alloc(info.nBytes);
      let got = 0;
      while (got < info.nBytes) {
        const n = readSync(fd, buf, got, info.nBytes - got, info.fileOffset + got);
        if (n === 0) throw new UserError(`${this.path}: truncated data of tensor ${name}`);
        got += n;
      }
      return buf;
    } finally {
      closeSync(fd);
    }
  }

  /** Tensor data dequantised to float64, in ggml memory order (ne[0] fastest). */
  readTensor(name: string): Float64Array {
    const info = this.requireTensor(name);
    if (!DEQUANTISABLE.has(info.type)) {
      throw new UserError(`${this.path}: tensor ${name} has type ${info.typeName}; only F32, F16, BF16, F64 and Q8_0 can be read as numbers`);
    }
    return dequantise(this.readTensorBytes(name), info.type, info.nElements);
  }

  private requireTensor(name: string): GgufTensorInfo {
    const info = this.byName.get(name);
    if (!info) throw new UserError(`${this.path}: no tensor named ${name}`);
    return info;
  }
}

const DEQUANTISABLE = new Set<number>([GgmlType.F32, GgmlType.F16, GgmlType.BF16, GgmlType.F64, GgmlType.Q8_0]);

/** IEEE 754 half → number (exact). */
export function halfToNumber(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 0x1f) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

function dequantise(bytes: Buffer, type: GgmlType, n: number): Float64Array {
  const out = new Float64Array(n);
  switch (type) {
    case GgmlType.F32:
      for (let i = 0; i < n; i++) out[i] = bytes.readFloatLE(4 * i);
      return out;
    case GgmlType.F64:
      for (let i = 0; i < n; i++) out[i] = bytes.readDoubleLE(8 * i);
      return out;
    case GgmlType.F16:
      for (let i = 0; i < n; i++) out[i] = halfToNumber(bytes.readUInt16LE(2 * i));
      return out;
    case GgmlType.BF16: {
      // bf16 is the upper half of an f32.
      const f = Buffer.alloc(4);
      for (let i = 0; i < n; i++) {
        f.writeUInt32LE(bytes.readUInt16LE(2 * i) << 16 >>> 0, 0);
        out[i] = f.readFloatLE(0);
      }
      return out;
    }
    case GgmlType.Q8_0: {
      // block_q8_0: ggml_half d; int8_t qs[32]; value = d * q
      for (let b = 0; b < n / 32; b++) {
        const base = 34 * b;
        const d = halfToNumber(bytes.readUInt16LE(base));
        for (let j = 0; j < 32; j++) out[32 * b + j] = d * bytes.readInt8(base + 2 + j);
      }
      return out;
    }
    default:
      throw new UserError(`cannot dequantise ggml type ${ggmlTypeName(type)}`);
  }
}

/** Read a GGUF file's header: metadata and tensor infos (tensor data stays on disk). */
export function readGguf(path: string): GgufFile {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    throw new UserError(`cannot open GGUF file ${path}`);
  }
  try {
    const fileSize = fstatSync(fd).size;
    const c = new FileCursor(fd, fileSize, path);
    if (fileSize < 24 || c.u32() !== GGUF_MAGIC) throw new UserError(`${path} is not a GGUF file`);
    const version = c.u32();
    if (version < 2 || version > 3) throw new UserError(`${path}: unsupported GGUF version ${version} (2 and 3 are)`);
    const nTensors = c.size();
    const nKv = c.size();
    const kvs: GgufKeyValue[] = [];
    for (let i = 0; i < nKv; i++) {
      const key = c.string();
      const type = c.u32() as GgufValueType;
      const { value, itemType } = readValue(c, type, path);
      kvs.push(itemType === undefined ? { key, type, value } : { key, type, itemType, value });
    }
    const alignmentKv = kvs.find((kv) => kv.key === 'general.alignment');
    const alignment = alignmentKv ? Number(alignmentKv.value) : DEFAULT_ALIGNMENT;
    const rawInfos: { name: string; dims: number[]; type: number; offset: number }[] = [];
    for (let i = 0; i < nTensors; i++) {
      const name = c.string();
      const nDims = c.u32();
      const dims: number[] = [];
      for (let d = 0; d < nDims; d++) dims.push(c.size());
      const type = c.u32();
      const offset = c.size();
      rawInfos.push({ name, dims, type, offset });
    }
    const dataOffset = Math.ceil(c.pos / alignment) * alignment;
    const tensors = rawInfos.map(({ name, dims, type, offset }): GgufTensorInfo => {
      const nElements = dims.reduce((a, b) => a * b, 1);
      const nBytes = ggmlTypeBytes(type, nElements);
      const fileOffset = dataOffset + offset;
      if (nBytes !== undefined && fileOffset + nBytes > fileSize) throw new UserError(`${path}: tensor ${name} extends past the end of the file`);
      const info: GgufTensorInfo = { name, dims, type, typeName: ggmlTypeName(type), nElements, fileOffset };
      if (nBytes !== undefined) info.nBytes = nBytes;
      return info;
    });
    return new GgufFile(path, version, alignment, dataOffset, kvs, tensors);
  } finally {
    closeSync(fd);
  }
}
