/** A uniform integer in [0, maxExclusive). */
export type RandomInt = (maxExclusive: number) => number;

/**
 * Production draws: the Web Crypto source (the operating system's CSPRNG) at the time of
 * the draw, with rejection sampling so that every value is exactly equally likely.
 */
export const cryptoRandomInt: RandomInt = (maxExclusive) => {
  const limit = Math.floor(0x1_0000_0000 / maxExclusive) * maxExclusive;
  const word = new Uint32Array(1);
  for (;;) {
    globalThis.crypto.getRandomValues(word);
    if (word[0]! < limit) return word[0]! % maxExclusive;
  }
};

/**
 * A seeded source (mulberry32) for tests and the fault simulation only: the same seed
 * gives the same draws, so a statistical test cannot flake.
 */
export function seededRandomInt(seed: number): RandomInt {
  let a = seed >>> 0;
  return (maxExclusive) => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    const unit = ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    return Math.floor(unit * maxExclusive);
  };
}

/** Fisher-Yates: every order of `items` is equally likely when `random` is uniform. */
export function drawOrder<T>(items: readonly T[], random: RandomInt): T[] {
  const order = [...items];
  for (let i = order.length - 1; i > 0; i--) {
    const j = random(i + 1);
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  return order;
}
