/**
 * A small seeded PRNG so bootstrap confidence intervals are reproducible: the same events.jsonl
 * always yields byte-identical reports. Math.random cannot be seeded.
 */

/** mulberry32: 32-bit state, period 2^32, plenty for a few thousand bootstrap resamples. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * FNV-1a hash of a string, used to give each strategy its own bootstrap stream so adding or
 * reordering strategies never changes another strategy's intervals.
 */
export function hashString(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}
