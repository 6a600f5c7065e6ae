/**
 * A small seeded generator (mulberry32): the forest, the optimizer's training and the twin all
 * draw from it, so the same seed gives the same model or run on every machine. Math.random cannot
 * be seeded, and the npm generators add nothing a 32-bit state does not give here.
 */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
