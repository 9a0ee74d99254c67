/**
 * Float64 reference of the dense decoder graphs llama.cpp builds for qwen2, qwen3 and llama
 * (src/models/{qwen2,qwen3,llama}.cpp), with LoRA adapters applied as llama.cpp does
 * (W x + scale·B(A x), scale = alpha / rank). Plain loops, no ggml: independent of the code it
 * checks. Only the rows whose log-probabilities are asked for go through the output head.
 */
import { readGguf } from '../../../src/gguf/reader.js';
import { type LoraAdapter } from './lora.js';

export type RopeLayout = 'neox' | 'normal';

export interface ModelConfig {
  arch: string;
  layers: number;
  embd: number;
  heads: number;
  headsKv: number;
  headDim: number;
  ff: number;
  rmsEps: number;
  ropeBase: number;
  ropeDims: number;
  rope: RopeLayout;
  vocab: number;
}

interface Layer {
  attnNorm: Float64Array;
  q: Linear;
  k: Linear;
  v: Linear;
  o: Linear;
  qNorm?: Float64Array; // qwen3: per-head RMSNorm of Q and K before RoPE
  kNorm?: Float64Array;
  ffnNorm: Float64Array;
  gate: Linear;
  up: Linear;
  down: Linear;
}

/** A weight matrix in ggml memory order: row o (an output) holds nIn contiguous inputs. */
interface Linear {
  name: string;
  w: Float64Array;
  bias?: Float64Array;
  nIn: number;
  nOut: number;
}

const ROPE_BY_ARCH: Record<string, RopeLayout> = { qwen2: 'neox', qwen3: 'neox', llama: 'normal' };

export class ReferenceModel {
  private constructor(
    readonly config: ModelConfig,
    private readonly tokenEmbd: Float64Array,
    private readonly outputNorm: Float64Array,
    private readonly output: Float64Array,
    private readonly layers: Layer[],
  ) {}

  static load(path: string): ReferenceModel {
    const f = readGguf(path);
    const arch = f.string('general.architecture');
    const rope = ROPE_BY_ARCH[arch];
    if (!rope) throw new Error(`reference: unsupported architecture ${arch}`);
    const key = (k: string) => `${arch}.${k}`;
    const embd = f.number(key('embedding_length'));
    const heads = f.number(key('attention.head_count'));
    const headDim = f.has(key('attention.key_length')) ? f.number(key('attention.key_length')) : embd / heads;
    const tensor = (name: string) => f.readTensor(name);
    const optional = (name: string) => (f.tensor(name) ? f.readTensor(name) : undefined);
    const linear = (name: string): Linear => {
      const info = f.tensor(`${name}.weight`);
      if (!info) throw new Error(`reference: ${path} has no ${name}.weight`);
      const [nIn, nOut] = info.dims;
      const lin: Linear = { name: `${name}.weight`, w: tensor(`${name}.weight`), nIn, nOut };
      const bias = optional(`${name}.bias`);
      if (bias) lin.bias = bias;
      return lin;
    };
    const config: ModelConfig = {
      arch,
      layers: f.number(key('block_count')),
      embd,
      heads,
      headsKv: f.has(key('attention.head_count_kv')) ? f.number(key('attention.head_count_kv')) : heads,
      headDim,
      ff: f.number(key('feed_forward_length')),
      rmsEps: f.number(key('attention.layer_norm_rms_epsilon')),
      ropeBase: f.has(key('rope.freq_base')) ? f.number(key('rope.freq_base')) : 10000,
      ropeDims: f.has(key('rope.dimension_count')) ? f.number(key('rope.dimension_count')) : headDim,
      rope,
      vocab: f.tensor('token_embd.weight')!.dims[1],
    };
    const layers: Layer[] = [];
    for (let l = 0; l < config.layers; l++) {
      const p = `blk.${l}.`;
      const layer: Layer = {
        attnNorm: tensor(p + 'attn_norm.weight'),
        q: linear(p + 'attn_q'),
        k: linear(p + 'attn_k'),
        v: linear(p + 'attn_v'),
        o: linear(p + 'attn_output'),
        ffnNorm: tensor(p + 'ffn_norm.weight'),
        gate: linear(p + 'ffn_gate'),
        up: linear(p + 'ffn_up'),
        down: linear(p + 'ffn_down'),
      };
      const qNorm = optional(p + 'attn_q_norm.weight');
      const kNorm = optional(p + 'attn_k_norm.weight');
      if (qNorm) layer.qNorm = qNorm;
      if (kNorm) layer.kNorm = kNorm;
      layers.push(layer);
    }
    const tokenEmbd = tensor('token_embd.weight');
    // Tied head: llama.cpp uses token_embd when output.weight is absent.
    const output = optional('output.weight') ?? tokenEmbd;
    return new ReferenceModel(config, tokenEmbd, tensor('output_norm.weight'), output, layers);
  }

  /**
   * Full-vocabulary log-softmax of the next-token distribution at each of `rows` (positions in
   * `tokens`; row i predicts tokens[i + 1]).
   */
  logSoftmaxRows(tokens: number[], rows: number[], lora?: LoraAdapter): Float64Array[] {
    const hidden = this.finalHidden(tokens, rows, lora);
    return this.head(hidden).map(logSoftmaxInPlace);
  }

  /** Normalised final hidden states at `rows`. */
  private finalHidden(tokens: number[], rows: number[], lora?: LoraAdapter): Float64Array[] {
    const c = this.config;
    const n = tokens.length;
    let x: Float64Array[] = tokens.map((t) => {
      if (!Number.isInteger(t) || t < 0 || t >= c.vocab) throw new Error(`reference: token ${t} outside the vocabulary`);
      return this.tokenEmbd.slice(t * c.embd, (t + 1) * c.embd);
    });
    const qPerKv = c.heads / c.headsKv;
    const kqScale = 1 / Math.sqrt(c.headDim);
    for (const layer of this.layers) {
      const h = x.map((xi) => rmsNorm(xi, layer.attnNorm, c.rmsEps));
      const q = h.map((hi) => this.apply(layer.q, hi, lora));
      const k = h.map((hi) => this.apply(layer.k, hi, lora));
      const v = h.map((hi) => this.apply(layer.v, hi, lora));
      for (let t = 0; t < n; t++) {
        if (layer.qNorm) normHeads(q[t], c.heads, c.headDim, layer.qNorm, c.rmsEps);
        if (layer.kNorm) normHeads(k[t], c.headsKv, c.headDim, layer.kNorm, c.rmsEps);
        this.rope(q[t], c.heads, t);
        this.rope(k[t], c.headsKv, t);
      }
      const attnOut: Float64Array[] = [];
      for (let t = 0; t < n; t++) {
        const out = new Float64Array(c.heads * c.headDim);
        for (let hd = 0; hd < c.heads; hd++) {
          const kvHead = Math.floor(hd / qPerKv); // ggml's mul_mat broadcast of K/V over Q heads
          const scores = new Float64Array(t + 1);
          let max = -Infinity;
          for (let s = 0; s <= t; s++) {
            let dot = 0;
            for (let d = 0; d < c.headDim; d++) dot += q[t][hd * c.headDim + d] * k[s][kvHead * c.headDim + d];
            scores[s] = dot * kqScale;
            if (scores[s] > max) max = scores[s];
          }
          let sum = 0;
          for (let s = 0; s <= t; s++) sum += scores[s] = Math.exp(scores[s] - max);
          for (let s = 0; s <= t; s++) {
            const wgt = scores[s] / sum;
            for (let d = 0; d < c.headDim; d++) out[hd * c.headDim + d] += wgt * v[s][kvHead * c.headDim + d];
          }
        }
        attnOut.push(out);
      }
      x = x.map((xi, t) => add(xi, this.apply(layer.o, attnOut[t], lora)));
      x = x.map((xi) => {
        const hn = rmsNorm(xi, layer.ffnNorm, c.rmsEps);
        const g = this.apply(layer.gate, hn, lora);
        const u = this.apply(layer.up, hn, lora);
        const a = new Float64Array(g.length);
        for (let i = 0; i < g.length; i++) a[i] = (g[i] / (1 + Math.exp(-g[i]))) * u[i];
        return add(xi, this.apply(layer.down, a, lora));
      });
    }
    return rows.map((r) => {
      if (r < 0 || r >= n) throw new Error(`reference: row ${r} outside the sequence`);
      return rmsNorm(x[r], this.outputNorm, c.rmsEps);
    });
  }

  /** Logits of every row (the hot loop of the reference: four partial sums keep it ~2× faster). */
  private head(hidden: Float64Array[]): Float64Array[] {
    const { vocab, embd } = this.config;
    const w = this.output;
    const unrolled = embd - (embd % 4);
    return hidden.map((h) => {
      const logits = new Float64Array(vocab);
      for (let tok = 0; tok < vocab; tok++) {
        const base = tok * embd;
        let d0 = 0;
        let d1 = 0;
        let d2 = 0;
        let d3 = 0;
        for (let i = 0; i < unrolled; i += 4) {
          d0 += w[base + i] * h[i];
          d1 += w[base + i + 1] * h[i + 1];
          d2 += w[base + i + 2] * h[i + 2];
          d3 += w[base + i + 3] * h[i + 3];
        }
        for (let i = unrolled; i < embd; i++) d0 += w[base + i] * h[i];
        logits[tok] = d0 + d1 + (d2 + d3);
      }
      return logits;
    });
  }

  /** W x + b, plus the adapter's scale·B(A x) when it adapts this weight. */
  private apply(lin: Linear, x: Float64Array, lora?: LoraAdapter): Float64Array {
    const y = new Float64Array(lin.nOut);
    for (let o = 0; o < lin.nOut; o++) {
      let dot = 0;
      const base = o * lin.nIn;
      for (let i = 0; i < lin.nIn; i++) dot += lin.w[base + i] * x[i];
      y[o] = dot + (lin.bias ? lin.bias[o] : 0);
    }
    const pair = lora?.pairs.get(lin.name);
    if (pair) {
      if (pair.nIn !== lin.nIn || pair.nOut !== lin.nOut) throw new Error(`reference: LoRA ${lin.name} shape mismatch`);
      const ax = new Float64Array(pair.rank);
      for (let j = 0; j < pair.rank; j++) {
        let dot = 0;
        for (let i = 0; i < pair.nIn; i++) dot += pair.a[j * pair.nIn + i] * x[i];
        ax[j] = dot;
      }
      const scale = lora!.scale(pair);
      for (let o = 0; o < pair.nOut; o++) {
        let dot = 0;
        for (let j = 0; j < pair.rank; j++) dot += pair.b[o * pair.rank + j] * ax[j];
        y[o] += scale * dot;
      }
    }
    return y;
  }

  /**
   * RoPE at position pos, in place, for every head: theta_i = pos · base^(−2i/n_rot).
   * NEOX rotates pairs (i, i + n_rot/2); normal rotates adjacent pairs (2i, 2i+1).
   */
  private rope(vec: Float64Array, nHeads: number, pos: number): void {
    const { headDim, ropeDims, ropeBase, rope } = this.config;
    const half = ropeDims / 2;
    for (let hd = 0; hd < nHeads; hd++) {
      const base = hd * headDim;
      for (let i = 0; i < half; i++) {
        const theta = pos * Math.pow(ropeBase, (-2 * i) / ropeDims);
        const cos = Math.cos(theta);
        const sin = Math.sin(theta);
        const [i0, i1] = rope === 'neox' ? [base + i, base + i + half] : [base + 2 * i, base + 2 * i + 1];
        const x0 = vec[i0];
        const x1 = vec[i1];
        vec[i0] = x0 * cos - x1 * sin;
        vec[i1] = x0 * sin + x1 * cos;
      }
    }
  }
}

export function rmsNorm(x: Float64Array, w: Float64Array, eps: number): Float64Array {
  let ss = 0;
  for (let i = 0; i < x.length; i++) ss += x[i] * x[i];
  const inv = 1 / Math.sqrt(ss / x.length + eps);
  const out = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = x[i] * inv * w[i];
  return out;
}

function normHeads(vec: Float64Array, nHeads: number, headDim: number, w: Float64Array, eps: number): void {
  for (let hd = 0; hd < nHeads; hd++) {
    const normed = rmsNorm(vec.subarray(hd * headDim, (hd + 1) * headDim), w, eps);
    vec.set(normed, hd * headDim);
  }
}

function add(a: Float64Array, b: Float64Array): Float64Array {
  const out = new Float64Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i] + b[i];
  return out;
}

export function logSoftmaxInPlace(row: Float64Array): Float64Array {
  let max = -Infinity;
  for (let i = 0; i < row.length; i++) if (row[i] > max) max = row[i];
  let sum = 0;
  for (let i = 0; i < row.length; i++) sum += Math.exp(row[i] - max);
  const lse = max + Math.log(sum);
  for (let i = 0; i < row.length; i++) row[i] -= lse;
  return row;
}
