/**
 * LoRA adapter GGUFs in the layout llama.cpp's llama_adapter_lora_init expects
 * (src/llama-adapter.cpp): general.type=adapter, adapter.type=lora, adapter.lora.alpha, and per
 * adapted weight W ([n_in, n_out] in ggml order) a pair `<W>.lora_a` with ne = [n_in, r] and
 * `<W>.lora_b` with ne = [r, n_out]; the update is W + (alpha / r) · B·A. Random adapters for
 * tests (the trainer writes real ones).
 */
import { readGguf } from '../gguf/reader.js';
import { TensorType } from '../gguf/constants.js';
import { GgufMetadata, writeGguf, type TensorSpec } from '../gguf/writer.js';
import { UserError } from '../errors.js';
import { Rng } from './random.js';

/** Every weight a LoRA adapter of ttsd can adapt (GGUF names without `blk.N.` and `.weight`): the one list. */
export const ALL_LORA_TARGETS = ['attn_q', 'attn_k', 'attn_v', 'attn_output', 'ffn_gate', 'ffn_up', 'ffn_down'];

export interface LoraAdapterOptions {
  /** The base model the adapter is for (its architecture and weight shapes are read from it). */
  base: string;
  out: string;
  rank?: number;
  alpha?: number;
  /** std of B's entries (A has std 1/sqrt(n_in)); 0 gives the standard no-op initialisation. */
  std?: number;
  seed?: number;
  /** Weight names to adapt, matched as `blk.N.<target>.weight`. */
  targets?: string[];
}

export interface LoraAdapterInfo {
  path: string;
  pairs: number;
  rank: number;
  alpha: number;
}

export function writeLoraAdapter(options: LoraAdapterOptions): LoraAdapterInfo {
  const rank = options.rank ?? 8;
  const alpha = options.alpha ?? 16;
  const std = options.std ?? 0.1;
  const seed = options.seed ?? 1;
  const targets = options.targets ?? ALL_LORA_TARGETS;
  if (!Number.isInteger(rank) || rank <= 0) throw new UserError(`LoRA rank must be a positive integer, got ${rank}`);
  const base = readGguf(options.base);
  const arch = base.architecture;
  if (!arch) throw new UserError(`${options.base} has no general.architecture`);

  const meta = new GgufMetadata()
    .string('general.architecture', arch)
    .string('general.type', 'adapter')
    .string('adapter.type', 'lora')
    .f32('adapter.lora.alpha', alpha);
  const tensors: TensorSpec[] = [];
  for (const t of base.tensors) {
    const m = /^blk\.\d+\.([a-z_]+)\.weight$/.exec(t.name);
    if (!m || !targets.includes(m[1]!) || t.dims.length !== 2) continue;
    const [nIn, nOut] = t.dims as [number, number];
    const rng = new Rng(seed, t.name);
    tensors.push({ name: `${t.name}.lora_a`, shape: [nIn, rank], type: TensorType.F32, data: rng.normals(nIn * rank, 1 / Math.sqrt(nIn)) });
    tensors.push({ name: `${t.name}.lora_b`, shape: [rank, nOut], type: TensorType.F32, data: rng.normals(rank * nOut, std) });
  }
  if (tensors.length === 0) throw new UserError(`${options.base} has no weights matching LoRA targets ${targets.join(',')}`);
  writeGguf(options.out, meta, tensors);
  return { path: options.out, pairs: tensors.length / 2, rank, alpha };
}
