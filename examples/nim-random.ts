/**
 * Nim's 2017 standard generator, xoroshiro128+, never reseeded: the seed's examples ex03 and
 * ex04 draw from it, and with it their trajectories are reproduced digit for digit. BigInt keeps
 * the unsigned 64-bit arithmetic exact.
 */
const MASK = (1n << 64n) - 1n;
const rotl = (x: bigint, k: bigint): bigint => ((x << k) | (x >> (64n - k))) & MASK;

export class NimRandom {
  private s0 = 0x69b4c98cb8530805n;
  private s1 = 0xd1dd3004688d67can;

  next(): bigint {
    const s0 = this.s0;
    let s1 = this.s1;
    const result = (s0 + s1) & MASK;
    s1 ^= s0;
    this.s0 = rotl(s0, 55n) ^ s1 ^ ((s1 << 14n) & MASK);
    this.s1 = rotl(s1, 36n);
    return result;
  }

  /** random(n) for an integer: rejection sampling keeps x mod n unbiased. */
  int(n: number): number {
    const max = BigInt(n);
    const limit = MASK - (MASK % max);
    for (;;) {
      const x = this.next();
      if (x < limit) return Number(x % max);
    }
  }

  /** random(m) for a float: 52 random mantissa bits of a number in [1, 2), minus 1, times m. */
  float(m: number): number {
    const u = (0x3ffn << 52n) | (this.next() >> 12n);
    const view = new DataView(new ArrayBuffer(8));
    view.setBigUint64(0, u);
    return (view.getFloat64(0) - 1) * m;
  }
}
