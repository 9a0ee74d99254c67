/**
 * A LoRA adapter as float64 arrays, read from llama.cpp's GGUF layout:
 * `<weight>.lora_a` ne = [n_in, r] (A is r × n_in, row-major), `<weight>.lora_b` ne = [r, n_out]
 * (B is n_out × r). llama.cpp scales B(A x) by adapter.lora.alpha / r (r = lora_b ne[0]), or by
 * 1 when alpha is 0, times the user scale (always 1 here).
 */
import { readGguf } from '../../../src/gguf/reader.js';

export interface LoraPair {
  /** Base weight name, e.g. blk.0.attn_q.weight. */
  weight: string;
  rank: number;
  nIn: number;
  nOut: number;
  a: Float64Array;
  b: Float64Array;
}

/** One scalar of an adapter: which pair, which matrix, which flat index (ggml order). */
export interface LoraEntry {
  weight: string;
  matrix: 'a' | 'b';
  index: number;
}

export class LoraAdapter {
  constructor(
    readonly alpha: number,
    readonly pairs: Map<string, LoraPair>,
  ) {}

  static read(path: string): LoraAdapter {
    const f = readGguf(path);
    if (f.get('adapter.type') !== 'lora') throw new Error(`${path} is not a LoRA adapter`);
    const alpha = f.has('adapter.lora.alpha') ? f.number('adapter.lora.alpha') : 0;
    const pairs = new Map<string, LoraPair>();
    for (const t of f.tensors) {
      if (!t.name.endsWith('.lora_a')) continue;
      const weight = t.name.slice(0, -'.lora_a'.length);
      const bInfo = f.tensor(`${weight}.lora_b`);
      if (!bInfo) throw new Error(`${path}: ${t.name} has no lora_b`);
      const [nIn, rank] = t.dims;
      const [rankB, nOut] = bInfo.dims;
      if (rank !== rankB) throw new Error(`${path}: ${weight} rank mismatch (${rank} vs ${rankB})`);
      pairs.set(weight, { weight, rank, nIn, nOut, a: f.readTensor(t.name), b: f.readTensor(bInfo.name) });
    }
    return new LoraAdapter(alpha, pairs);
  }

  scale(pair: LoraPair): number {
    return this.alpha ? this.alpha / pair.rank : 1;
  }

  get(entry: LoraEntry): number {
    return this.pair(entry.weight)[entry.matrix][entry.index];
  }

  /** A copy sharing every array except the one holding `entry`, which is changed by delta. */
  perturbed(entry: LoraEntry, delta: number): LoraAdapter {
    const pair = this.pair(entry.weight);
    const copy: LoraPair = { ...pair, [entry.matrix]: pair[entry.matrix].slice() };
    copy[entry.matrix][entry.index] += delta;
    const pairs = new Map(this.pairs);
    pairs.set(entry.weight, copy);
    return new LoraAdapter(this.alpha, pairs);
  }

  private pair(weight: string): LoraPair {
    const p = this.pairs.get(weight);
    if (!p) throw new Error(`adapter has no LoRA pair for ${weight}`);
    return p;
  }
}
