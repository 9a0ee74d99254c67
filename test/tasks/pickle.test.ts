import { readFileSync } from 'node:fs';
import { deflateSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { decodeLcbPrivateTests, PickleError, unpickleString } from '../../src/tasks/pickle.js';

// Pickles written by CPython itself (see fixtures/make_pickles.py): the independent reference.
const fixtures = JSON.parse(readFileSync(new URL('./fixtures/pickles.json', import.meta.url), 'utf8')) as {
  texts: Record<string, string>;
  cases: { protocol: number; label: string; hex?: string; lcb: string }[];
  rejects: Record<string, string>;
};

describe('unpickleString', () => {
  it('reads every string CPython pickled with protocols 2–5', () => {
    expect(fixtures.cases.length).toBe(24);
    for (const c of fixtures.cases) {
      const expected = fixtures.texts[c.label];
      if (c.hex) expect(unpickleString(Buffer.from(c.hex, 'hex')), `${c.label} p${c.protocol}`).toBe(expected);
      expect(decodeLcbPrivateTests(c.lcb), `${c.label} p${c.protocol} via base64+zlib`).toBe(expected);
    }
  });

  it('reads the opcodes CPython only emits for huge memos and strings (LONG_BINPUT, BINUNICODE8)', () => {
    const body = Buffer.from('ünï', 'utf8');
    const len8 = Buffer.alloc(8);
    len8.writeBigUInt64LE(BigInt(body.length));
    const bytes = Buffer.concat([Buffer.from([0x80, 0x04, 0x8d]), len8, body, Buffer.from([0x72, 1, 0, 0, 0, 0x2e])]);
    expect(unpickleString(bytes)).toBe('ünï');
  });

  it('rejects everything that is not a single pickled str with a clear reason', () => {
    const reject = (hex: string) => () => unpickleString(Buffer.from(hex, 'hex'));
    expect(reject(fixtures.rejects.list)).toThrow(/unsupported pickle opcode 0x5d at byte 11/);
    expect(reject(fixtures.rejects.int)).toThrow(/unsupported pickle opcode 0x4b/);
    expect(reject(fixtures.rejects['tuple-of-str'])).toThrow(/second object|unsupported/);
    expect(reject(fixtures.rejects['protocol-0'])).toThrow(/not a binary pickle/);
    expect(reject(fixtures.rejects['protocol-1'])).toThrow(/not a binary pickle/);
    expect(reject('80012e')).toThrow(/unsupported pickle protocol 1/);
    expect(reject('80048c05616263')).toThrow(/truncated pickle: string body/); // length 5, 3 bytes
    expect(reject('80048c03616263')).toThrow(/no STOP/);
    expect(reject('80048c036162632e00')).toThrow(/trailing bytes/);
    expect(reject('80042e')).toThrow(/STOP at byte 2 before any string/);
    expect(reject('80048c02c328942e')).toThrow(/not valid UTF-8/);
    expect(reject('')).toThrow(PickleError);
  });
});

describe('decodeLcbPrivateTests', () => {
  it('names the failing stage of the base64 → zlib → pickle chain', () => {
    expect(() => decodeLcbPrivateTests('not base64 at all!')).toThrow(/not base64/);
    expect(() => decodeLcbPrivateTests(Buffer.from('plain text').toString('base64'))).toThrow(/not zlib/);
    const zlibOfJunk = deflateSync(Buffer.from('junk')).toString('base64');
    expect(() => decodeLcbPrivateTests(zlibOfJunk)).toThrow(/not a binary pickle/);
  });
});
