// A portable seeded generator: xoshiro128** (Blackman & Vigna) on 32-bit integer math (Math.imul,
// >>>), so a seed gives the same bits on every machine and JS engine. Doubles take 53 random bits;
// normals come from Box–Muller.

/** MurmurHash3's 32-bit finalizer: a bijection on uint32 with full avalanche. */
export function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

export class Xoshiro128 {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;
  /** the second Box–Muller value, kept for the next `normal()` */
  private spare: number | undefined;

  constructor(state: readonly [number, number, number, number]) {
    [this.s0, this.s1, this.s2, this.s3] = state.map((w) => w | 0) as [number, number, number, number];
    // NOTE: the all-zero state is a fixed point of xoshiro; it must never be used.
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1;
  }

  /** next uint32 */
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

  /** uniform double in [0, 1) from 53 random bits (27 + 26, as genrand_res53) */
  nextDouble(): number {
    const a = this.nextU32() >>> 5;
    const b = this.nextU32() >>> 6;
    return (a * 67108864 + b) / 9007199254740992;
  }

  /** standard normal by Box–Muller; both values of a pair are used, in order cos then sin */
  normal(): number {
    if (this.spare !== undefined) {
      const z = this.spare;
      this.spare = undefined;
      return z;
    }
    // NOTE: 1 − u lies in (0, 1], so the logarithm is finite.
    const r = Math.sqrt(-2 * Math.log(1 - this.nextDouble()));
    const theta = 2 * Math.PI * this.nextDouble();
    this.spare = r * Math.sin(theta);
    return r * Math.cos(theta);
  }
}

/** Hashes a word sequence into one uint32; distinct salts give unrelated functions. */
function mixWords(words: readonly number[], salt: number): number {
  let h = fmix32(salt);
  for (const w of words) h = fmix32((h ^ w) + 0x9e3779b9);
  return h;
}

const SALTS = [0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344] as const;

/**
 * The generator for a seed (a non-negative safe integer) and an optional stream name, so that
 * different parameters under one seed draw different numbers. A numeric stream is its decimal string.
 */
export function seededRng(seed: number, stream?: string | number): Xoshiro128 {
  if (!Number.isSafeInteger(seed) || seed < 0) throw new RangeError(`seed must be a non-negative safe integer, got ${seed}`);
  const bytes = new TextEncoder().encode(stream === undefined ? '' : String(stream));
  const words = [seed >>> 0, Math.floor(seed / 4294967296) >>> 0, bytes.length];
  for (let i = 0; i < bytes.length; i += 4) {
    words.push(bytes[i]! | ((bytes[i + 1] ?? 0) << 8) | ((bytes[i + 2] ?? 0) << 16) | ((bytes[i + 3] ?? 0) << 24));
  }
  return new Xoshiro128(SALTS.map((s) => mixWords(words, s)) as [number, number, number, number]);
}
