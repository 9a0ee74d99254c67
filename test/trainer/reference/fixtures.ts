/**
 * Test fixtures for the reference and the gradient check: LoRA adapters with NONZERO A
 * and B (a zero B would make every A gradient vanish and hide bugs), and a tiny random-weight qwen2
 * written by a writer independent of src/gguf/writer.ts, used for what tinyModel() does not make
 * (a tied output head at a tiny size). Seeded, so reproducible.
 */
import { readGguf, type GgufKeyValue } from '../../../src/gguf/reader.js';
import { vocabFile } from '../../../src/llama/source.js';
import { f32Kv, stringKv, u32Kv, writeF32Gguf, type F32Tensor } from './gguf-f32-writer.js';

/** mulberry32 uniform generator + Box–Muller normals. */
export class Rng {
  private state: number;
  private spare: number | undefined;
  constructor(seed: number) {
    this.state = seed >>> 0 || 0x9e3779b9;
  }
  uniform(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  normal(): number {
    if (this.spare !== undefined) {
      const s = this.spare;
      this.spare = undefined;
      return s;
    }
    const u = Math.max(this.uniform(), 1e-300);
    const v = this.uniform();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }
  int(n: number): number {
    return Math.floor(this.uniform() * n);
  }
  normals(n: number, std: number, mean = 0): Float32Array {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = mean + std * this.normal();
    return out;
  }
}

export interface TinyQwen2Options {
  layers: number;
  embd: number;
  ff: number;
  heads: number;
  headsKv: number;
  seed: number;
  /** Output head std × sqrt(embd): larger gives peakier next-token distributions. */
  outStd: number;
  /** No output.weight: llama.cpp then uses token_embd as the head. */
  tied?: boolean;
}

export const TINY_QWEN2: TinyQwen2Options = { layers: 3, embd: 64, ff: 128, heads: 4, headsKv: 2, seed: 7, outStd: 2 };

/**
 * Writes a tiny qwen2 model. Biases and norm weights are random (not 0 / 1) so that a
 * reference which forgot one of them would disagree with llama.cpp.
 */
export async function writeTinyQwen2(path: string, o: TinyQwen2Options = TINY_QWEN2): Promise<void> {
  const vocab = readGguf(await vocabFile('qwen2'));
  const nVocab = (vocab.get('tokenizer.ggml.tokens') as string[]).length;
  const rng = new Rng(o.seed);
  const headDim = o.embd / o.heads;
  const kvs: GgufKeyValue[] = [
    stringKv('general.architecture', 'qwen2'),
    stringKv('general.name', 'tiny-qwen2-reference'),
    u32Kv('qwen2.context_length', 256),
    u32Kv('qwen2.embedding_length', o.embd),
    u32Kv('qwen2.block_count', o.layers),
    u32Kv('qwen2.feed_forward_length', o.ff),
    u32Kv('qwen2.attention.head_count', o.heads),
    u32Kv('qwen2.attention.head_count_kv', o.headsKv),
    f32Kv('qwen2.rope.freq_base', 10000),
    f32Kv('qwen2.attention.layer_norm_rms_epsilon', 1e-6),
    u32Kv('general.file_type', 0),
    ...[...vocab.kv.values()].filter((kv) => kv.key.startsWith('tokenizer.')),
  ];
  const matrix = (name: string, nIn: number, nOut: number, std = 1 / Math.sqrt(nIn)): F32Tensor => ({
    name,
    dims: [nIn, nOut],
    data: rng.normals(nIn * nOut, std),
  });
  const vector = (name: string, n: number, mean: number, std: number): F32Tensor => ({ name, dims: [n], data: rng.normals(n, std, mean) });
  const tensors: F32Tensor[] = [
    { name: 'token_embd.weight', dims: [o.embd, nVocab], data: rng.normals(o.embd * nVocab, o.tied ? o.outStd / Math.sqrt(o.embd) : 0.5) },
    vector('output_norm.weight', o.embd, 1, 0.1),
  ];
  if (!o.tied) tensors.push(matrix('output.weight', o.embd, nVocab, o.outStd / Math.sqrt(o.embd)));
  for (let l = 0; l < o.layers; l++) {
    const p = `blk.${l}.`;
    tensors.push(
      vector(p + 'attn_norm.weight', o.embd, 1, 0.1),
      matrix(p + 'attn_q.weight', o.embd, o.heads * headDim),
      vector(p + 'attn_q.bias', o.heads * headDim, 0, 0.1),
      matrix(p + 'attn_k.weight', o.embd, o.headsKv * headDim),
      vector(p + 'attn_k.bias', o.headsKv * headDim, 0, 0.1),
      matrix(p + 'attn_v.weight', o.embd, o.headsKv * headDim),
      vector(p + 'attn_v.bias', o.headsKv * headDim, 0, 0.1),
      matrix(p + 'attn_output.weight', o.heads * headDim, o.embd),
      vector(p + 'ffn_norm.weight', o.embd, 1, 0.1),
      matrix(p + 'ffn_gate.weight', o.embd, o.ff),
      matrix(p + 'ffn_up.weight', o.embd, o.ff),
      matrix(p + 'ffn_down.weight', o.ff, o.embd),
    );
  }
  writeF32Gguf(path, kvs, tensors);
}

export const ALL_LORA_TARGETS = ['attn_q', 'attn_k', 'attn_v', 'attn_output', 'ffn_gate', 'ffn_up', 'ffn_down'];

export interface LoraFixtureOptions {
  rank: number;
  alpha: number;
  targets: string[];
  seed: number;
  /** Std of B's entries (A gets 1/sqrt(n_in)). */
  bStd: number;
}

/**
 * Writes a LoRA adapter for every `<target>` weight of the model, in llama.cpp's layout:
 * `<weight>.lora_a` with ne = [n_in, r], `<weight>.lora_b` with ne = [r, n_out].
 */
export function writeLoraFixture(modelPath: string, outPath: string, o: LoraFixtureOptions): void {
  const model = readGguf(modelPath);
  const rng = new Rng(o.seed);
  const tensors: F32Tensor[] = [];
  for (const t of model.tensors) {
    if (!t.name.endsWith('.weight') || !o.targets.some((x) => t.name.includes(`.${x}.`))) continue;
    const [nIn, nOut] = t.dims;
    tensors.push({ name: `${t.name}.lora_a`, dims: [nIn, o.rank], data: rng.normals(nIn * o.rank, 1 / Math.sqrt(nIn)) });
    tensors.push({ name: `${t.name}.lora_b`, dims: [o.rank, nOut], data: rng.normals(o.rank * nOut, o.bStd) });
  }
  if (tensors.length === 0) throw new Error(`no LoRA targets ${o.targets} in ${modelPath}`);
  writeF32Gguf(
    outPath,
    [
      stringKv('general.architecture', model.string('general.architecture')),
      stringKv('general.type', 'adapter'),
      stringKv('adapter.type', 'lora'),
      f32Kv('adapter.lora.alpha', o.alpha),
    ],
    tensors,
  );
}
