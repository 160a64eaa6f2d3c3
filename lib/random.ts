/**
 * The one seeded pseudo-random generator of this project (mulberry32): small, fast, and the same sequence
 * for the same seed everywhere. The simulator generates its cluster with it, and property tests draw their
 * random cases from it so that a failure is reproducible from its seed. Not for anything secret.
 */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
