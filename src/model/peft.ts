/**
 * Our LoRA adapter GGUF (src/model/lora.ts; what the trainer writes) → a PEFT adapter directory
 * (adapter_config.json + adapter_model.safetensors) as vLLM and Hugging Face PEFT load it.
 *
 * - Bytes: GGUF `<W>.lora_a` has ne = [n_in, r] (ne[0] contiguous), i.e. the row-major bytes of
 *   a torch [r, n_in] tensor — PEFT's lora_A.weight; `lora_b` (ne = [r, n_out]) is PEFT's
 *   lora_B.weight [n_out, r]. No transposition.
 * - Scale: both apply W + (alpha / r)·B·A, so `adapter.lora.alpha` is `lora_alpha` and r comes
 *   from the shapes.
 * - Names: llama.cpp's tensor map (gguf-py) in reverse for the weights ttsd adapts.
 * - Row order: convert_hf_to_gguf.py (conversion/llama.py, LlamaModel.permute) reorders the rows
 *   of q_proj / k_proj of llama-architecture models per head, from HF's rotate-half layout to
 *   llama.cpp's interleaved one; the rows of lora_B follow the weight's, so they are put back
 *   here. Qwen2/Qwen3 (conversion/qwen.py) convert without that permutation. Other architectures
 *   are refused rather than guessed.
 */
import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../errors.js';
import { readGguf } from '../gguf/reader.js';

/** GGUF weight name (without blk.N. and .weight) → the HF module path under model.layers.N. */
export const HF_MODULES: Record<string, string> = {
  attn_q: 'self_attn.q_proj',
  attn_k: 'self_attn.k_proj',
  attn_v: 'self_attn.v_proj',
  attn_output: 'self_attn.o_proj',
  ffn_gate: 'mlp.gate_proj',
  ffn_up: 'mlp.up_proj',
  ffn_down: 'mlp.down_proj',
};

/** Architectures whose GGUF q/k rows are permuted by convert_hf_to_gguf.py (true) or not (false). */
export const QK_PERMUTED: Record<string, boolean> = { llama: true, qwen2: false, qwen3: false };

export interface PeftTensor {
  name: string;
  shape: number[]; // torch order
  data: Float32Array;
}

/** adapter_config.json as PEFT writes it for a plain LoRA. */
export interface PeftConfig {
  peft_type: 'LORA';
  task_type: 'CAUSAL_LM';
  r: number;
  lora_alpha: number;
  target_modules: string[];
  lora_dropout: number;
  bias: 'none';
  fan_in_fan_out: boolean;
  use_rslora: boolean;
  use_dora: boolean;
  inference_mode: boolean;
  modules_to_save: null;
  base_model_name_or_path: string | null;
}

export interface PeftExport {
  dir: string;
  rank: number;
  alpha: number;
  targetModules: string[];
  tensors: number;
}

/**
 * Undoes LlamaModel.permute on the rows of a row-major [nRows, cols] matrix: GGUF row
 * h·d + 2i + j came from HF row h·d + j·(d/2) + i (d = nRows / heads).
 */
export function unpermuteRows(data: Float32Array, nRows: number, cols: number, heads: number): Float32Array<ArrayBuffer> {
  if (nRows % heads !== 0 || (nRows / heads) % 2 !== 0) throw new UserError(`cannot un-permute ${nRows} rows over ${heads} heads`);
  const d = nRows / heads;
  const out = new Float32Array(data.length);
  for (let h = 0; h < heads; h++)
    for (let i = 0; i < d / 2; i++)
      for (let j = 0; j < 2; j++) {
        const gguf = h * d + 2 * i + j;
        const hf = h * d + j * (d / 2) + i;
        out.set(data.subarray(gguf * cols, (gguf + 1) * cols), hf * cols);
      }
  return out;
}

/** The PEFT tensors and config of an adapter; `base` (the model GGUF) is needed for llama's head counts. */
export function peftFromGguf(adapterPath: string, base?: string): { tensors: PeftTensor[]; config: PeftConfig } {
  const adapter = readGguf(adapterPath);
  if (adapter.get('general.type') !== 'adapter' || adapter.get('adapter.type') !== 'lora') {
    throw new UserError(`${adapterPath} is not a LoRA adapter GGUF (general.type=adapter, adapter.type=lora)`);
  }
  const arch = adapter.architecture ?? '';
  if (!(arch in QK_PERMUTED)) throw new UserError(`PEFT export knows llama, qwen2 and qwen3 adapters; ${adapterPath} is for ${arch || 'no architecture'}`);
  let heads: { q: number; kv: number } | null = null;
  if (QK_PERMUTED[arch]) {
    if (!base) throw new UserError(`a ${arch} adapter needs the base model (--model) for its head counts: its q/k rows are un-permuted per head`);
    const model = readGguf(base);
    if (model.architecture !== arch) throw new UserError(`${base} is ${model.architecture}, the adapter is for ${arch}`);
    const q = model.number(`${arch}.attention.head_count`);
    heads = { q, kv: model.has(`${arch}.attention.head_count_kv`) ? model.number(`${arch}.attention.head_count_kv`) : q };
  }
  const alpha = adapter.number('adapter.lora.alpha');
  const tensors: PeftTensor[] = [];
  const modules = new Set<string>();
  let rank: number | null = null;
  for (const t of adapter.tensors) {
    const m = /^blk\.(\d+)\.([a-z_]+)\.weight\.lora_(a|b)$/.exec(t.name);
    if (!m) throw new UserError(`${adapterPath}: tensor ${t.name} is not a LoRA pair of a block weight`);
    const [, layer, weight, ab] = m as unknown as [string, string, string, 'a' | 'b'];
    const module = HF_MODULES[weight];
    if (!module) throw new UserError(`${adapterPath}: no Hugging Face name known for ${weight}`);
    if (t.dims.length !== 2) throw new UserError(`${adapterPath}: ${t.name} is not 2-D`);
    const [ne0, ne1] = t.dims as [number, number];
    const r = ab === 'a' ? ne1 : ne0;
    if (rank !== null && r !== rank) throw new UserError(`${adapterPath}: mixed ranks (${rank} and ${r}); PEFT export needs one rank`);
    rank = r;
    let data = Float32Array.from(adapter.readTensor(t.name));
    if (ab === 'b' && heads && (weight === 'attn_q' || weight === 'attn_k')) data = unpermuteRows(data, ne1, ne0, weight === 'attn_q' ? heads.q : heads.kv);
    modules.add(module.split('.')[1]!);
    tensors.push({ name: `base_model.model.model.layers.${layer}.${module}.lora_${ab.toUpperCase()}.weight`, shape: [ne1, ne0], data });
  }
  if (rank === null) throw new UserError(`${adapterPath} has no LoRA tensors`);
  const targetModules = [...modules].sort();
  const config: PeftConfig = {
    peft_type: 'LORA',
    task_type: 'CAUSAL_LM',
    r: rank,
    lora_alpha: alpha,
    target_modules: targetModules,
    lora_dropout: 0,
    bias: 'none',
    fan_in_fan_out: false,
    use_rslora: false,
    use_dora: false,
    inference_mode: true,
    modules_to_save: null,
    base_model_name_or_path: null,
  };
  return { tensors, config };
}

/** Writes the PEFT directory (atomically: built beside `out` and renamed). */
export function exportPeft(adapterPath: string, out: string, base?: string): PeftExport {
  const { tensors, config } = peftFromGguf(adapterPath, base);
  const tmp = `${out}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  writeFileSync(join(tmp, 'adapter_config.json'), `${JSON.stringify(config, null, 2)}\n`);
  writeFileSync(join(tmp, 'adapter_model.safetensors'), safetensors(tensors));
  rmSync(out, { recursive: true, force: true });
  renameSync(tmp, out);
  return { dir: out, rank: config.r, alpha: config.lora_alpha, targetModules: config.target_modules, tensors: tensors.length };
}

/** safetensors: u64 LE header length, a JSON header (dtype, shape, data_offsets), the raw little-endian bytes. */
export function safetensors(tensors: PeftTensor[]): Buffer {
  const header: Record<string, unknown> = { __metadata__: { format: 'pt' } };
  let offset = 0;
  for (const t of tensors) {
    const bytes = t.data.length * 4;
    header[t.name] = { dtype: 'F32', shape: t.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - ((8 + Buffer.byteLength(json)) % 8)) % 8); // data starts 8-byte aligned
  const head = Buffer.alloc(8);
  head.writeBigUInt64LE(BigInt(Buffer.byteLength(json)));
  const body = Buffer.alloc(offset);
  let at = 0;
  for (const t of tensors) {
    Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength).copy(body, at); // Float32Array is little-endian on every platform Node runs on
    at += t.data.byteLength;
  }
  return Buffer.concat([head, Buffer.from(json), body]);
}
