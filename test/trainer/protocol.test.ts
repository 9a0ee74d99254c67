import { describe, expect, it } from 'vitest';
import { encodeFrame, encodeStep, FrameReader } from '../../src/trainer/protocol.js';

describe('trainer protocol frames', () => {
  it('round-trips header and payload even when stdout arrives byte by byte', () => {
    const a = encodeFrame({ cmd: 'step', n: 3, text: 'ü' }, Buffer.from([1, 2, 3]));
    const b = encodeFrame({ ok: true });
    const all = Buffer.concat([a, b]);
    const reader = new FrameReader();
    const frames = [];
    for (let i = 0; i < all.length; i++) frames.push(...reader.push(all.subarray(i, i + 1)));
    expect(frames).toHaveLength(2);
    expect(frames[0]!.header).toEqual({ cmd: 'step', n: 3, text: 'ü' });
    expect([...frames[0]!.payload]).toEqual([1, 2, 3]);
    expect(frames[1]!.header).toEqual({ ok: true });
    expect(frames[1]!.payload.length).toBe(0);
    expect(reader.pending).toBe(0);
  });

  it('keeps an incomplete frame until the rest arrives', () => {
    const frame = encodeFrame({ x: 1 }, Buffer.alloc(10, 7));
    const reader = new FrameReader();
    expect(reader.push(frame.subarray(0, frame.length - 1))).toEqual([]);
    expect(reader.pending).toBe(frame.length - 1);
    expect(reader.push(frame.subarray(frame.length - 1))).toHaveLength(1);
  });

  it('puts every example\'s ids in the payload, in order, as int32 LE', () => {
    const frame = encodeStep([
      { studentPrompt: [1, 2], teacherPrompt: [3], response: [4, 151935], masked: false },
      { studentPrompt: [], teacherPrompt: [], response: [5], masked: true },
    ]);
    const [decoded] = new FrameReader().push(frame);
    expect(decoded!.header).toEqual({
      cmd: 'step',
      examples: [
        { s: 2, t: 1, r: 2, masked: false },
        { s: 0, t: 0, r: 1, masked: true },
      ],
    });
    const ids = [];
    for (let i = 0; i < decoded!.payload.length; i += 4) ids.push(decoded!.payload.readInt32LE(i));
    expect(ids).toEqual([1, 2, 3, 4, 151935, 5]);
  });

  it('appends behaviour log-probs as float32 LE after all ids, only for the examples that carry them', () => {
    const frame = encodeStep([
      { studentPrompt: [1], teacherPrompt: [2], response: [3, 4], masked: false, behaviorLogprobs: [-0.5, -2.25] },
      { studentPrompt: [5], teacherPrompt: [6], response: [7], masked: false },
    ]);
    const [decoded] = new FrameReader().push(frame);
    expect(decoded!.header.examples).toEqual([
      { s: 1, t: 1, r: 2, masked: false, l: 2 },
      { s: 1, t: 1, r: 1, masked: false },
    ]);
    const p = decoded!.payload;
    expect(p.length).toBe((7 + 2) * 4);
    expect([0, 1, 2, 3, 4, 5, 6].map((i) => p.readInt32LE(i * 4))).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect([p.readFloatLE(28), p.readFloatLE(32)]).toEqual([-0.5, -2.25]);
  });

  it('appends token weights after every log-prob and carries the advantage in the header', () => {
    const frame = encodeStep([
      { studentPrompt: [1], teacherPrompt: [], response: [3, 4], masked: false, behaviorLogprobs: [-0.5, -2.25], tokenWeights: [0.5, -1.5], advantage: -0.75 },
      { studentPrompt: [5], teacherPrompt: [], response: [7], masked: false, behaviorLogprobs: [-1] },
      { studentPrompt: [8], teacherPrompt: [], response: [9], masked: false, advantage: 0, tokenWeights: [2] },
    ]);
    const [decoded] = new FrameReader().push(frame);
    expect(decoded!.header.examples).toEqual([
      { s: 1, t: 0, r: 2, masked: false, l: 2, w: 2, a: -0.75 },
      { s: 1, t: 0, r: 1, masked: false, l: 1 },
      { s: 1, t: 0, r: 1, masked: false, w: 1, a: 0 },
    ]);
    const p = decoded!.payload;
    const nIds = 7;
    expect(p.length).toBe((nIds + 3 + 3) * 4);
    const floats = Array.from({ length: 6 }, (_, i) => p.readFloatLE((nIds + i) * 4));
    expect(floats).toEqual([-0.5, -2.25, -1, 0.5, -1.5, 2]);
  });
});
