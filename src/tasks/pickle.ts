/**
 * A deliberately tiny unpickler: LiveCodeBench stores private tests as
 * base64(zlib(pickle.dumps(json_string))), so the only thing we ever need to read is a single
 * pickled `str`. Supporting exactly the opcodes CPython emits for that (protocols 2–5) keeps
 * the host free of Python and makes anything unexpected an explicit error instead of a guess.
 */
import { inflateSync } from 'node:zlib';

export class PickleError extends Error {
  override name = 'PickleError';
}

const PROTO = 0x80;
const FRAME = 0x95; // protocol 4+: 8-byte frame length, purely a framing hint
const SHORT_BINUNICODE = 0x8c; // 1-byte length
const BINUNICODE = 0x58; // 'X', 4-byte length
const BINUNICODE8 = 0x8d; // 8-byte length
const MEMOIZE = 0x94; // protocol 4+
const BINPUT = 0x71; // 'q', protocols 1–3 memo with 1-byte index
const LONG_BINPUT = 0x72; // 'r', 4-byte index
const STOP = 0x2e; // '.'

const fatalUtf8 = new TextDecoder('utf-8', { fatal: true });

/** Unpickles a pickle whose only object is one `str`; throws PickleError on anything else. */
export function unpickleString(bytes: Uint8Array): string {
  const data = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let pos = 0;
  let value: string | undefined;

  const need = (count: number, what: string): void => {
    if (pos + count > data.length) throw new PickleError(`truncated pickle: ${what} at byte ${pos} runs past the end`);
  };
  const readLength = (width: 1 | 4 | 8): number => {
    need(width, 'length');
    let length: number;
    if (width === 1) length = data.readUInt8(pos);
    else if (width === 4) length = data.readUInt32LE(pos);
    else {
      const big = data.readBigUInt64LE(pos);
      if (big > BigInt(Number.MAX_SAFE_INTEGER)) throw new PickleError(`implausible length ${big} at byte ${pos}`);
      length = Number(big);
    }
    pos += width;
    return length;
  };
  const readString = (width: 1 | 4 | 8): void => {
    const length = readLength(width);
    need(length, 'string body');
    if (value !== undefined) throw new PickleError(`second object at byte ${pos}: only a single pickled str is supported`);
    try {
      value = fatalUtf8.decode(data.subarray(pos, pos + length));
    } catch {
      throw new PickleError(`string at byte ${pos} is not valid UTF-8`);
    }
    pos += length;
  };

  if (data.length < 2 || data[0] !== PROTO) {
    throw new PickleError('not a binary pickle (no PROTO opcode; protocols 2–5 are supported)');
  }
  while (pos < data.length) {
    const at = pos;
    const opcode = data[pos++];
    switch (opcode) {
      case PROTO: {
        need(1, 'protocol number');
        const protocol = data[pos++];
        if (protocol < 2 || protocol > 5) throw new PickleError(`unsupported pickle protocol ${protocol} (2–5 are supported)`);
        break;
      }
      case FRAME:
        readLength(8);
        break;
      case SHORT_BINUNICODE:
        readString(1);
        break;
      case BINUNICODE:
        readString(4);
        break;
      case BINUNICODE8:
        readString(8);
        break;
      case MEMOIZE:
        break;
      case BINPUT:
        need(1, 'memo index');
        pos += 1;
        break;
      case LONG_BINPUT:
        need(4, 'memo index');
        pos += 4;
        break;
      case STOP:
        if (value === undefined) throw new PickleError(`STOP at byte ${at} before any string`);
        if (pos !== data.length) throw new PickleError(`${data.length - pos} trailing bytes after STOP`);
        return value;
      default:
        throw new PickleError(
          `unsupported pickle opcode 0x${opcode.toString(16).padStart(2, '0')} at byte ${at} (only a pickled str is supported)`,
        );
    }
  }
  throw new PickleError('truncated pickle: no STOP opcode');
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/**
 * LiveCodeBench's private-test encoding: base64 → zlib → pickle → the JSON text.
 * Returns the JSON text (not parsed); throws PickleError naming the failing stage.
 */
export function decodeLcbPrivateTests(encoded: string): string {
  const compact = encoded.replace(/\s+/g, '');
  if (compact.length === 0 || compact.length % 4 !== 0 || !BASE64.test(compact)) {
    throw new PickleError('not base64');
  }
  let inflated: Buffer;
  try {
    inflated = inflateSync(Buffer.from(compact, 'base64'));
  } catch (error) {
    throw new PickleError(`base64 but not zlib data (${(error as Error).message})`);
  }
  return unpickleString(inflated);
}
