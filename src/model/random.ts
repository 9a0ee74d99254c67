/**
 * Seeded, platform-independent random numbers for test-model weights: xoshiro128** for
 * uniforms, Box–Muller for normals. Each tensor gets its own stream derived from (seed, name),
 * so a tensor's values do not depend on which other tensors a model has.
 */

/** FNV-1a over the seed and a label: the start state of a named stream. */
function hash32(seed: number, label: string, salt: number): number {
  let h = (0x811c9dc5 ^ salt) >>> 0;
  const mix = (byte: number) => {
    h ^= byte & 0xff;
    h = Math.imul(h, 0x01000193) >>> 0;
  };
  for (let i = 0; i < 4; i++) mix(seed >>> (8 * i));
  for (let i = 0; i < label.length; i++) {
    const c = label.charCodeAt(i);
    mix(c);
    mix(c >>> 8);
  }
  // Final avalanche (murmur3 fmix32) so nearby labels give unrelated states.
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b) >>> 0;
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35) >>> 0;
  h ^= h >>> 16;
  return h >>> 0;
}

export class Rng {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;
  private spare: number | null = null;

  constructor(seed: number, label = '') {
    this.s0 = hash32(seed, label, 1);
    this.s1 = hash32(seed, label, 2);
    this.s2 = hash32(seed, label, 3);
    this.s3 = hash32(seed, label, 4) | 1; // never the all-zero state
  }

  /** Uniform 32-bit integer (xoshiro128**). */
  nextU32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9) >>> 0;
    const t = this.s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /** Uniform in (0, 1): never exactly 0, so log() is safe. */
  uniform(): number {
    return (this.nextU32() + 0.5) / 4294967296;
  }

  /** Standard normal (Box–Muller, both values used). */
  normal(): number {
    if (this.spare !== null) {
      const v = this.spare;
      this.spare = null;
      return v;
    }
    const r = Math.sqrt(-2 * Math.log(this.uniform()));
    const theta = 2 * Math.PI * this.uniform();
    this.spare = r * Math.sin(theta);
    return r * Math.cos(theta);
  }

  /** n values of mean + std · N(0, 1) as float32. */
  normals(n: number, std: number, mean = 0): Float32Array {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = mean + std * this.normal();
    return out;
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}
