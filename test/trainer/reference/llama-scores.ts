/**
 * Log-probabilities straight from llama.cpp through node-llama-cpp (no project code in
 * between), to check the float64 reference against the real thing. Raw, full-vocabulary
 * normalised: log p(v) = logit(v) − maxLogit − ln(Σ exp(logit − maxLogit)). The KV cache is
 * kept in F32 so that the only difference from the reference is llama.cpp's f32 arithmetic.
 */
import { getLlama, LlamaLogLevel, type Llama, type LlamaModel } from 'node-llama-cpp';
import { logSoftmaxInPlace } from './model.js';

export interface LlamaRow {
  /** The row's top-K token ids by logit, best first. */
  topIds: number[];
  /** Log-probabilities of the asked ids (and of topIds). */
  logProbs: Map<number, number>;
}

let llamaPromise: Promise<Llama> | undefined;
function llama(): Promise<Llama> {
  llamaPromise ??= getLlama({ gpu: false, build: 'never', logLevel: LlamaLogLevel.error });
  return llamaPromise;
}

export async function loadLlamaModel(path: string): Promise<LlamaModel> {
  return (await llama()).loadModel({ modelPath: path });
}

/**
 * Scores `rows` of `tokens` (row i predicts tokens[i + 1]) under the model with an optional
 * adapter: the top-K ids of each row and the log-probs of `ids[row]` plus those top ids.
 */
export async function llamaRows(
  model: LlamaModel,
  adapterPath: string | undefined,
  tokens: number[],
  rows: number[],
  ids: number[][],
  topK: number,
): Promise<LlamaRow[]> {
  const context = await model.createContext({
    contextSize: 256,
    batchSize: 256,
    threads: 2,
    flashAttention: false,
    experimentalKvCacheKeyType: 'F32',
    experimentalKvCacheValueType: 'F32',
    ...(adapterPath ? { lora: { adapters: [{ filePath: adapterPath, scale: 1 }] } } : {}),
  });
  try {
    const sequence = context.getSequence();
    const rowIndex = new Map(rows.map((r, i) => [r, i]));
    const input = tokens.map((token, pos) => {
      const i = rowIndex.get(pos);
      if (i === undefined) return token;
      return [
        token,
        { generateNext: { logits: { filter: { tokens: ids[i], includeTop: topK, includeMax: true } }, totalLogitWeight: true } },
      ] as [number, object];
    });
    const results = await sequence.controlledEvaluate(input as Parameters<typeof sequence.controlledEvaluate>[0]);
    return rows.map((pos) => {
      const next = results[pos]?.next;
      if (!next?.logits || next.totalLogitWeight === undefined) throw new Error(`node-llama-cpp returned no logits at ${pos}`);
      const entries = [...next.logits.entries()];
      const max = Math.max(...entries.map(([, l]) => l));
      const lse = max + Math.log(next.totalLogitWeight);
      const sorted = [...entries].sort((a, b) => b[1] - a[1]);
      return { topIds: sorted.slice(0, topK).map(([id]) => id), logProbs: new Map(entries.map(([id, l]) => [id, l - lse])) };
    });
  } finally {
    await context.dispose();
  }
}

/**
 * Full-vocabulary log-softmax rows computed by llama.cpp, normalised in float64 (as the native
 * trainer does), with the KV cache in `kvCache` precision: F16 is llama.cpp's default, so this
 * reproduces what a llama_decode-based scorer with default context parameters sees.
 */
export async function llamaLogSoftmaxRows(
  model: LlamaModel,
  adapterPath: string | undefined,
  tokens: number[],
  rows: number[],
  kvCache: 'F16' | 'F32',
): Promise<Float64Array[]> {
  const context = await model.createContext({
    contextSize: 256,
    batchSize: 256,
    threads: 2,
    flashAttention: false,
    experimentalKvCacheKeyType: kvCache,
    experimentalKvCacheValueType: kvCache,
    ...(adapterPath ? { lora: { adapters: [{ filePath: adapterPath, scale: 1 }] } } : {}),
  });
  try {
    const sequence = context.getSequence();
    const wanted = new Set(rows);
    const input = tokens.map((token, pos) => (wanted.has(pos) ? ([token, { generateNext: { logits: true } }] as [number, object]) : token));
    const results = await sequence.controlledEvaluate(input as Parameters<typeof sequence.controlledEvaluate>[0]);
    return rows.map((pos) => {
      const logits = results[pos]?.next?.logits;
      if (!logits) throw new Error(`node-llama-cpp returned no logits at ${pos}`);
      // logits: true gives every token of the vocabulary
      const row = new Float64Array(logits.size);
      for (const [id, l] of logits) {
        if (id >= row.length) throw new Error(`node-llama-cpp returned a partial vocabulary at ${pos}`);
        row[id] = l;
      }
      return logSoftmaxInPlace(row);
    });
  } finally {
    await context.dispose();
  }
}
