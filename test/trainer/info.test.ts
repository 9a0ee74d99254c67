import { describe, expect, it } from 'vitest';
import { TrainerRequestError } from '../../src/trainer/errors.js';
import { trainerInfo } from '../../src/trainer/native-trainer.js';

describe('the trainer\'s init reply', () => {
  const reply = { ok: true, step: 3, resumed: true, arch: 'qwen2', nVocab: 151936, nParams: 1234, nTensors: 28, attention: 'fused', cpuOps: [] };

  it('is read field by field into TrainerInfo', () => {
    expect(trainerInfo(reply)).toEqual({ step: 3, resumed: true, arch: 'qwen2', nVocab: 151936, nParams: 1234, nTensors: 28, attention: 'fused', cpuOps: [] });
  });

  it.each([
    [{ step: -1 }, /step must be a non-negative integer, got -1/],
    [{ step: '3' }, /step must be a non-negative integer, got "3"/],
    [{ step: undefined }, /step must be a non-negative integer/],
    [{ resumed: 1 }, /resumed must be true or false/],
    [{ arch: '' }, /arch must be a name/],
    [{ nVocab: 1.5 }, /nVocab must be a non-negative integer/],
    [{ attention: 'flash' }, /attention must be blocked, fused, plain, got "flash"/],
    [{ cpuOps: undefined }, /cpuOps must be a list of op names/],
    [{ cpuOps: [1] }, /cpuOps must be a list of op names, got \[1\]/],
  ])('refuses %j with one line', (change, message) => {
    expect(() => trainerInfo({ ...reply, ...change })).toThrow(TrainerRequestError);
    expect(() => trainerInfo({ ...reply, ...change })).toThrow(message);
  });
});
