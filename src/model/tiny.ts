/**
 * Random-weight test models: real architectures (qwen2, qwen3, llama), a REAL tokenizer copied
 * verbatim from the vocab GGUFs in the llama.cpp source that node-llama-cpp bundles, and the
 * model family's real chat template from the same checkout. Nothing is downloaded. Weights are
 * seeded and deterministic, so the same options always give the same file.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../errors.js';
import { ensureLlamaSource, vocabFile } from '../llama/source.js';
import { readGguf } from '../gguf/reader.js';
import { FILE_TYPE, GgufType, Q8_0_BLOCK, TensorType, tensorTypeByName } from '../gguf/constants.js';
import { GgufMetadata, writeGguf, type TensorSpec } from '../gguf/writer.js';
import { Rng } from './random.js';

export const TINY_ARCHS = ['qwen2', 'qwen3', 'llama'] as const;
export type TinyArch = (typeof TINY_ARCHS)[number];
export const TINY_SHAPES = ['tiny', 'qwen2.5-0.5b'] as const;
export type TinyShapeName = (typeof TINY_SHAPES)[number];
export const TINY_TYPES = ['f32', 'f16', 'q8_0'] as const;
export type TinyType = (typeof TINY_TYPES)[number];

export interface TinyModelOptions {
  arch?: TinyArch;
  type?: TinyType;
  shape?: TinyShapeName;
  layers?: number;
  hidden?: number;
  heads?: number;
  kvHeads?: number;
  ffn?: number;
  contextLength?: number;
  seed?: number;
  /** Output-head scale: its weights have std = std / sqrt(hidden); larger gives peakier logits. */
  std?: number;
}

interface Shape {
  layers: number;
  hidden: number;
  heads: number;
  kvHeads: number;
  ffn: number;
  contextLength: number;
  /** Output head shares token_embd (Qwen2.5-0.5B does), so no output.weight tensor. */
  tiedEmbeddings: boolean;
}

const SHAPES: Record<TinyShapeName, Shape> = {
  // Small enough for fast tests; every layer has attention and an MLP. The vocabulary dominates.
  tiny: { layers: 2, hidden: 64, heads: 4, kvHeads: 2, ffn: 128, contextLength: 8192, tiedEmbeddings: false },
  // Qwen2.5-0.5B(-Instruct)'s exact shapes.
  'qwen2.5-0.5b': { layers: 24, hidden: 896, heads: 14, kvHeads: 2, ffn: 4864, contextLength: 32768, tiedEmbeddings: true },
};

interface Family {
  vocab: string; // ggml-vocab-<name>.gguf
  template: string; // models/templates/<file>
  eos: string; // the instruct model's end-of-turn token
  addBos: boolean;
  ropeBase: number;
  rmsEps: number;
}

const FAMILIES: Record<TinyArch, Family> = {
  qwen2: { vocab: 'qwen2', template: 'Qwen-Qwen2.5-7B-Instruct.jinja', eos: '<|im_end|>', addBos: false, ropeBase: 1e6, rmsEps: 1e-6 },
  qwen3: { vocab: 'qwen2', template: 'Qwen-Qwen3-0.6B.jinja', eos: '<|im_end|>', addBos: false, ropeBase: 1e6, rmsEps: 1e-6 },
  llama: { vocab: 'llama-bpe', template: 'meta-llama-Llama-3.1-8B-Instruct.jinja', eos: '<|eot_id|>', addBos: true, ropeBase: 5e5, rmsEps: 1e-5 },
};

/** All options filled in, validated: the recipe of a tiny model (also the cache key of test models). */
export interface TinyRecipe extends Shape {
  arch: TinyArch;
  type: TinyType;
  shape: TinyShapeName;
  seed: number;
  std: number;
}

export function tinyRecipe(options: TinyModelOptions = {}): TinyRecipe {
  const arch = options.arch ?? 'qwen2';
  const type = options.type ?? 'f32';
  const shapeName = options.shape ?? 'tiny';
  if (!TINY_ARCHS.includes(arch)) throw new UserError(`unsupported --arch ${arch} (choose ${TINY_ARCHS.join(', ')})`);
  if (!TINY_TYPES.includes(type)) throw new UserError(`unsupported --type ${type} (choose ${TINY_TYPES.join(', ')})`);
  const shape = SHAPES[shapeName];
  if (!shape) throw new UserError(`unknown --shape ${shapeName} (choose ${TINY_SHAPES.join(', ')})`);
  const recipe: TinyRecipe = {
    arch,
    type,
    shape: shapeName,
    layers: options.layers ?? shape.layers,
    hidden: options.hidden ?? shape.hidden,
    heads: options.heads ?? shape.heads,
    kvHeads: options.kvHeads ?? shape.kvHeads,
    ffn: options.ffn ?? shape.ffn,
    contextLength: options.contextLength ?? shape.contextLength,
    tiedEmbeddings: shape.tiedEmbeddings,
    seed: options.seed ?? 0,
    std: options.std ?? 2,
  };
  for (const key of ['layers', 'hidden', 'heads', 'kvHeads', 'ffn', 'contextLength'] as const) {
    if (!Number.isInteger(recipe[key]) || recipe[key] <= 0) throw new UserError(`--${flag(key)} must be a positive integer, got ${recipe[key]}`);
  }
  if (!Number.isInteger(recipe.seed) || recipe.seed < 0 || recipe.seed > 0xffffffff) throw new UserError(`--seed must be an integer in [0, 2^32), got ${recipe.seed}`);
  if (!(recipe.std > 0) || !Number.isFinite(recipe.std)) throw new UserError(`--std must be a positive number, got ${recipe.std}`);
  if (recipe.hidden % recipe.heads !== 0) throw new UserError(`--hidden ${recipe.hidden} must be a multiple of --heads ${recipe.heads}`);
  if (recipe.heads % recipe.kvHeads !== 0) throw new UserError(`--heads ${recipe.heads} must be a multiple of --kv-heads ${recipe.kvHeads}`);
  if ((recipe.hidden / recipe.heads) % 2 !== 0) throw new UserError(`head size hidden/heads = ${recipe.hidden / recipe.heads} must be even (RoPE)`);
  return recipe;
}

function flag(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

export interface TinyModelInfo {
  path: string;
  bytes: number;
  vocabSize: number;
  tensors: number;
  recipe: TinyRecipe;
}

/** Writes a random-weight model with a real tokenizer and chat template to `path`. */
export async function writeTinyModel(path: string, options: TinyModelOptions = {}): Promise<TinyModelInfo> {
  const recipe = tinyRecipe(options);
  const family = FAMILIES[recipe.arch];
  const vocab = readGguf(await vocabFile(family.vocab));
  const template = readFileSync(join(await ensureLlamaSource(), 'models', 'templates', family.template), 'utf8');

  const meta = new GgufMetadata();
  const a = recipe.arch;
  const headDim = recipe.hidden / recipe.heads;
  meta.string('general.architecture', a);
  meta.string('general.type', 'model');
  meta.string('general.name', `ttsd-tiny-${a}-${recipe.shape}-${recipe.type}-seed${recipe.seed}`);
  meta.u32('general.file_type', FILE_TYPE[tensorType(recipe.type)]);
  meta.u32(`${a}.context_length`, recipe.contextLength);
  meta.u32(`${a}.embedding_length`, recipe.hidden);
  meta.u32(`${a}.block_count`, recipe.layers);
  meta.u32(`${a}.feed_forward_length`, recipe.ffn);
  meta.u32(`${a}.attention.head_count`, recipe.heads);
  meta.u32(`${a}.attention.head_count_kv`, recipe.kvHeads);
  meta.f32(`${a}.rope.freq_base`, family.ropeBase);
  meta.f32(`${a}.attention.layer_norm_rms_epsilon`, family.rmsEps);
  if (a === 'qwen3') {
    meta.u32(`${a}.attention.key_length`, headDim);
    meta.u32(`${a}.attention.value_length`, headDim);
  }
  if (a === 'llama') meta.u32(`${a}.rope.dimension_count`, headDim);

  // The tokenizer, verbatim (types included), then the instruct model's conventions on top.
  for (const kv of vocab.kv.values()) {
    if (!kv.key.startsWith('tokenizer.') || kv.key === 'tokenizer.chat_template') continue;
    meta.add({ key: kv.key, type: kv.type as number as GgufType, itemType: kv.itemType as number | undefined as GgufType | undefined, value: kv.value as never });
  }
  const tokens = vocab.get('tokenizer.ggml.tokens');
  if (!Array.isArray(tokens)) throw new UserError(`${vocab.path} has no tokenizer.ggml.tokens`);
  const eos = tokens.indexOf(family.eos);
  if (eos < 0) throw new UserError(`${vocab.path} has no ${family.eos} token`);
  meta.u32('tokenizer.ggml.eos_token_id', eos);
  meta.bool('tokenizer.ggml.add_bos_token', family.addBos);
  meta.string('tokenizer.chat_template', template);
  if (a === 'llama') meta.u32('llama.vocab_size', tokens.length);

  const tensors = modelTensors(recipe, tokens.length);
  const bytes = writeGguf(path, meta, tensors);
  return { path, bytes, vocabSize: tokens.length, tensors: tensors.length, recipe };
}

function tensorType(name: TinyType): TensorType {
  return tensorTypeByName(name)!;
}

/** The tensor list of one architecture, in llama.cpp's names and ggml shapes ([n_in, n_out]). */
function modelTensors(r: TinyRecipe, nVocab: number): TensorSpec[] {
  const E = r.hidden;
  const headDim = E / r.heads;
  const qDim = r.heads * headDim;
  const kvDim = r.kvHeads * headDim;
  const weightType = tensorType(r.type);
  const out: TensorSpec[] = [];

  // 2-D weights take the requested type (F32 when a Q8_0 row is not whole blocks); 1-D stay F32.
  const matrix = (name: string, nIn: number, nOut: number, std: number) =>
    out.push({
      name,
      shape: [nIn, nOut],
      type: weightType === TensorType.Q8_0 && nIn % Q8_0_BLOCK !== 0 ? TensorType.F32 : weightType,
      data: normalChunks(r.seed, name, nIn * nOut, nIn, std, 0),
    });
  const vector = (name: string, n: number, std: number, mean: number) =>
    out.push({ name, shape: [n], type: TensorType.F32, data: new Rng(r.seed, name).normals(n, std, mean) });

  // Tied: token_embd doubles as the output head, so it gets the head's scale.
  matrix('token_embd.weight', E, nVocab, r.tiedEmbeddings ? r.std / Math.sqrt(E) : 0.5);
  vector('output_norm.weight', E, 0.1, 1);
  if (!r.tiedEmbeddings) matrix('output.weight', E, nVocab, r.std / Math.sqrt(E));
  for (let i = 0; i < r.layers; i++) {
    const p = `blk.${i}.`;
    vector(`${p}attn_norm.weight`, E, 0.1, 1);
    matrix(`${p}attn_q.weight`, E, qDim, 1 / Math.sqrt(E));
    matrix(`${p}attn_k.weight`, E, kvDim, 1 / Math.sqrt(E));
    matrix(`${p}attn_v.weight`, E, kvDim, 1 / Math.sqrt(E));
    if (r.arch === 'qwen2') {
      vector(`${p}attn_q.bias`, qDim, 0.1, 0);
      vector(`${p}attn_k.bias`, kvDim, 0.1, 0);
      vector(`${p}attn_v.bias`, kvDim, 0.1, 0);
    }
    if (r.arch === 'qwen3') {
      vector(`${p}attn_q_norm.weight`, headDim, 0.1, 1);
      vector(`${p}attn_k_norm.weight`, headDim, 0.1, 1);
    }
    matrix(`${p}attn_output.weight`, qDim, E, 1 / Math.sqrt(qDim));
    vector(`${p}ffn_norm.weight`, E, 0.1, 1);
    matrix(`${p}ffn_gate.weight`, E, r.ffn, 1 / Math.sqrt(E));
    matrix(`${p}ffn_up.weight`, E, r.ffn, 1 / Math.sqrt(E));
    matrix(`${p}ffn_down.weight`, r.ffn, E, 1 / Math.sqrt(r.ffn));
  }
  return out;
}

/** A tensor's normals in chunks of whole rows (~1M values), so big embeddings stream. */
function normalChunks(seed: number, name: string, n: number, rowLength: number, std: number, mean: number) {
  return function* (): Iterable<Float32Array> {
    const rng = new Rng(seed, name);
    const chunk = Math.max(1, Math.floor((1 << 20) / rowLength)) * rowLength;
    for (let done = 0; done < n; done += chunk) yield rng.normals(Math.min(chunk, n - done), std, mean);
  };
}
