// A seeded pseudo-random generator for fuzzing (mulberry32): fast, well mixed, reproducible. For
// choosing what to throw at a parser, never for anything secret.

/** A generator of uint32 values from `seed`; the same seed gives the same sequence. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}
