/**
 * The framed stdio protocol between NativeTrainer and the ttsd-trainer process (see
 * native/protocol.h): u32 LE header length, JSON header, u32 LE payload length, payload.
 * Token ids travel in the payload as int32 LE so that long batches never go through JSON.
 */
import type { TrainExample } from './types.js';

export interface Frame {
  header: Record<string, unknown>;
  payload: Buffer;
}

export function encodeFrame(header: object, payload: Buffer = Buffer.alloc(0)): Buffer {
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const out = Buffer.alloc(8 + json.length + payload.length);
  out.writeUInt32LE(json.length, 0);
  json.copy(out, 4);
  out.writeUInt32LE(payload.length, 4 + json.length);
  payload.copy(out, 8 + json.length);
  return out;
}

/** Accumulates stdout chunks and hands out complete frames. */
export class FrameReader {
  private buffer: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): Frame[] {
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    const frames: Frame[] = [];
    for (;;) {
      if (this.buffer.length < 4) break;
      const headerLength = this.buffer.readUInt32LE(0);
      if (this.buffer.length < 8 + headerLength) break;
      const payloadLength = this.buffer.readUInt32LE(4 + headerLength);
      const end = 8 + headerLength + payloadLength;
      if (this.buffer.length < end) break;
      const header = JSON.parse(this.buffer.subarray(4, 4 + headerLength).toString('utf8')) as Record<string, unknown>;
      const payload = Buffer.from(this.buffer.subarray(8 + headerLength, end));
      frames.push({ header, payload });
      this.buffer = this.buffer.subarray(end);
    }
    return frames;
  }

  /** Bytes of an incomplete frame still waiting for the rest. */
  get pending(): number {
    return this.buffer.length;
  }
}

/**
 * The step request: sizes in the header; in the payload every example's student, teacher and
 * response ids (int32 LE), then the behaviour log-probs (float32 LE) of the examples that have
 * them (header `l` = their count, the response length; 0 = none), then the token weights
 * (float32 LE) of the examples that have them (header `w`, likewise). Header `a` = the example's
 * advantage (absent when it has none).
 */
export function encodeStep(batch: TrainExample[]): Buffer {
  const examples = batch.map((e) => ({
    s: e.studentPrompt.length,
    t: e.teacherPrompt.length,
    r: e.response.length,
    masked: e.masked,
    ...(e.behaviorLogprobs ? { l: e.behaviorLogprobs.length } : {}),
    ...(e.tokenWeights ? { w: e.tokenWeights.length } : {}),
    ...(e.advantage !== undefined ? { a: e.advantage } : {}),
  }));
  const ids = batch.flatMap((e) => [...e.studentPrompt, ...e.teacherPrompt, ...e.response]);
  const floats = [...batch.flatMap((e) => e.behaviorLogprobs ?? []), ...batch.flatMap((e) => e.tokenWeights ?? [])];
  const payload = Buffer.alloc((ids.length + floats.length) * 4);
  ids.forEach((id, i) => payload.writeInt32LE(id, i * 4));
  floats.forEach((x, i) => payload.writeFloatLE(x, (ids.length + i) * 4));
  return encodeFrame({ cmd: 'step', examples }, payload);
}
