// A small seeded generator for the demo corpus: xoshiro128** seeded as the synthetic weights' stream
// is, 32-bit integer arithmetic only, so a seed gives the same corpus on every machine and Node version.

import { hashSeed, xoshiroSeedState } from '../model/synthetic/random.js';

/** A seed derived from a parent seed and a label, so that streams do not depend on each other's length. */
export const deriveSeed: (seed: number, label: string) => number = hashSeed;

export class Rng {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;

  constructor(seed: number) {
    [this.s0, this.s1, this.s2, this.s3] = xoshiroSeedState(seed);
  }

  /** A uniform 32-bit unsigned integer. */
  u32(): number {
    const m = Math.imul(this.s1, 5);
    const r = Math.imul((m << 7) | (m >>> 25), 9) >>> 0;
    const t = this.s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = (this.s3 << 11) | (this.s3 >>> 21);
    return r;
  }

  /** A uniform integer in [0, n), without modulo bias. */
  int(n: number): number {
    if (!(n >= 1 && n <= 0x100000000)) throw new RangeError(`Rng.int: n must be in 1..2^32, got ${n}`);
    const limit = Math.floor(0x100000000 / n) * n;
    for (;;) {
      const r = this.u32();
      if (r < limit) return r % n;
    }
  }

  /** A uniform float in [0, 1) with 32 random bits. */
  float(): number {
    return this.u32() / 0x100000000;
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }

  /** `count` distinct items, in random order. */
  sample<T>(items: readonly T[], count: number): T[] {
    const pool = items.slice();
    for (let i = 0; i < count; i++) {
      const j = i + this.int(pool.length - i);
      [pool[i], pool[j]] = [pool[j]!, pool[i]!];
    }
    return pool.slice(0, count);
  }

  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      [items[i], items[j]] = [items[j]!, items[i]!];
    }
    return items;
  }
}
