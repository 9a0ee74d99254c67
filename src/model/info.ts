/** `ttsd model info`: what a GGUF model file is, read from its header only. */
import { existsSync } from 'node:fs';
import { UserError } from '../errors.js';
import { readGguf } from '../gguf/reader.js';

export interface ModelInfo {
  file: string;
  architecture: string;
  /** general.type: model or adapter. */
  type: string;
  name: string | null;
  layers: number | null;
  hidden: number | null;
  heads: number | null;
  kvHeads: number | null;
  ffn: number | null;
  contextLength: number | null;
  vocabSize: number | null;
  tokenizer: string | null;
  chatTemplate: boolean;
  tensors: number;
  tensorTypes: string;
  parameters: number;
}

export async function modelInfo(file: string): Promise<ModelInfo> {
  if (!existsSync(file)) throw new UserError(`model file not found: ${file}`);
  const gguf = readGguf(file);
  const arch = gguf.architecture;
  if (!arch) throw new UserError(`${file}: no general.architecture; not a model GGUF`);
  const num = (key: string): number | null => {
    const v = gguf.get(key);
    return typeof v === 'number' ? v : typeof v === 'bigint' ? Number(v) : null;
  };
  const str = (key: string): string | null => {
    const v = gguf.get(key);
    return typeof v === 'string' ? v : null;
  };
  const tokens = gguf.get('tokenizer.ggml.tokens');
  const typeCounts = new Map<string, number>();
  for (const t of gguf.tensors) typeCounts.set(t.typeName, (typeCounts.get(t.typeName) ?? 0) + 1);
  return {
    file,
    architecture: arch,
    type: str('general.type') ?? 'model',
    name: str('general.name'),
    layers: num(`${arch}.block_count`),
    hidden: num(`${arch}.embedding_length`),
    heads: num(`${arch}.attention.head_count`),
    kvHeads: num(`${arch}.attention.head_count_kv`),
    ffn: num(`${arch}.feed_forward_length`),
    contextLength: num(`${arch}.context_length`),
    vocabSize: Array.isArray(tokens) ? tokens.length : null,
    tokenizer: str('tokenizer.ggml.pre') ?? str('tokenizer.ggml.model'),
    chatTemplate: str('tokenizer.chat_template') !== null,
    tensors: gguf.tensors.length,
    tensorTypes: [...typeCounts].map(([t, n]) => `${t}×${n}`).join(' '),
    parameters: gguf.tensors.reduce((sum, t) => sum + t.nElements, 0),
  };
}
