import { describe, expect, it } from 'vitest';
import { UserError } from '../../src/errors.js';
import { checkSameVocabulary } from '../../src/gguf/vocabulary.js';
import { tinyModel } from '../helpers/models.js';

describe('teacher vocabulary check (opd)', () => {
  it('accepts a bigger teacher with the same tokenizer and refuses another vocabulary with one line', async () => {
    const student = await tinyModel();
    // a different model (more layers, other weights) over the same real tokenizer
    const teacher = await tinyModel({ layers: 3, seed: 11 });
    expect(teacher).not.toBe(student);
    expect(() => checkSameVocabulary(student, teacher)).not.toThrow();
    const other = await tinyModel({ arch: 'llama' });
    let error: unknown;
    try {
      checkSameVocabulary(student, other);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(UserError);
    expect((error as Error).message).toMatch(/^--teacher-model .*(tokenizer|vocabulary of|token \d+ is).*the teacher must share the student's vocabulary\)$/);
    expect((error as Error).message).not.toContain('\n');
  }, 300_000);
});
