import { UserError } from '../errors.js';
import { readGguf } from './reader.js';

/**
 * Refuses a teacher model whose vocabulary is not the student's (on-policy distillation compares
 * the two distributions token id by token id): the tokenizer model and every token string must
 * be equal, in order. Read from the GGUF headers only (no weights). One line naming the first
 * difference.
 */
export function checkSameVocabulary(student: string, teacher: string, what = '--teacher-model'): void {
  const s = readGguf(student);
  const t = readGguf(teacher);
  const model = (f: typeof s) => f.get('tokenizer.ggml.model');
  if (model(s) !== model(t)) {
    throw new UserError(`${what} ${teacher}: tokenizer ${String(model(t))} is not the student's ${String(model(s))} (the teacher must share the student's vocabulary)`);
  }
  const a = s.get('tokenizer.ggml.tokens');
  const b = t.get('tokenizer.ggml.tokens');
  if (!Array.isArray(a) || !Array.isArray(b)) throw new UserError(`${what}: ${!Array.isArray(a) ? student : teacher} has no tokenizer.ggml.tokens to compare vocabularies by`);
  if (a.length !== b.length) {
    throw new UserError(`${what} ${teacher}: vocabulary of ${b.length} tokens, the student's has ${a.length} (the teacher must share the student's vocabulary)`);
  }
  for (let i = 0; i < a.length; i++) {
    if (a[i] !== b[i]) throw new UserError(`${what} ${teacher}: token ${i} is ${JSON.stringify(b[i])}, the student's is ${JSON.stringify(a[i])} (the teacher must share the student's vocabulary)`);
  }
}
