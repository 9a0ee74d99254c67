/**
 * GGUF / ggml constants the writer needs (ids from ggml's gguf.h and ggml.h). Plain numeric
 * objects rather than enums so values read by any reader (numbers) can be passed straight in.
 */

/** gguf_type: the type tag of a metadata value. */
export const GgufType = {
  UINT8: 0,
  INT8: 1,
  UINT16: 2,
  INT16: 3,
  UINT32: 4,
  INT32: 5,
  FLOAT32: 6,
  BOOL: 7,
  STRING: 8,
  ARRAY: 9,
  UINT64: 10,
  INT64: 11,
  FLOAT64: 12,
} as const;
export type GgufType = (typeof GgufType)[keyof typeof GgufType];

/** The ggml tensor types this writer can encode. */
export const TensorType = {
  F32: 0,
  F16: 1,
  Q8_0: 8,
} as const;
export type TensorType = (typeof TensorType)[keyof typeof TensorType];

export const GGUF_MAGIC = 0x46554747; // "GGUF" as a little-endian u32
export const GGUF_VERSION = 3;
export const GGUF_DEFAULT_ALIGNMENT = 32;

/** Q8_0 block: one f16 scale followed by 32 int8 quants (ggml's block_q8_0). */
export const Q8_0_BLOCK = 32;
export const Q8_0_BLOCK_BYTES = 34;

/** llama_ftype values for general.file_type ("mostly" this type). */
export const FILE_TYPE: Record<TensorType, number> = {
  [TensorType.F32]: 0,
  [TensorType.F16]: 1,
  [TensorType.Q8_0]: 7,
};

/** Bytes of n elements of a tensor type; Q8_0 needs whole blocks along ne0. */
export function tensorBytes(type: TensorType, nElements: number): number {
  switch (type) {
    case TensorType.F32:
      return 4 * nElements;
    case TensorType.F16:
      return 2 * nElements;
    case TensorType.Q8_0:
      return (nElements / Q8_0_BLOCK) * Q8_0_BLOCK_BYTES;
  }
}

export function tensorTypeByName(name: string): TensorType | undefined {
  return ({ f32: TensorType.F32, f16: TensorType.F16, q8_0: TensorType.Q8_0 } as Record<string, TensorType>)[name.toLowerCase()];
}
