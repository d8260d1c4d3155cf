/** Deterministic randomness for the data generator: the same seed gives the same data, byte for byte. */

export type Random = () => number;

/** mulberry32: small, fast, good enough to shape test data (not for anything secret). */
export function prng(seed: number): Random {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function int(random: Random, below: number): number {
  return Math.floor(random() * below);
}

export function pick<T>(random: Random, items: readonly T[]): T {
  return items[int(random, items.length)]!;
}

/** Picks an index by weight. */
export function weighted(random: Random, weights: readonly number[]): number {
  const total = weights.reduce((a, b) => a + b, 0);
  let roll = random() * total;
  for (let i = 0; i < weights.length; i++) {
    roll -= weights[i]!;
    if (roll < 0) return i;
  }
  return weights.length - 1;
}

const hex = (n: number, digits: number) => n.toString(16).padStart(digits, '0');
const rand16 = (random: Random) => int(random, 0x10000);

/** An RFC 9562 UUIDv7 for the given time, its random bits from `random`. */
export function uuidv7At(random: Random, ms: number): string {
  const t = hex(ms, 12);
  const a = 0x7000 | int(random, 0x1000);
  const b = 0x8000 | int(random, 0x4000);
  return `${t.slice(0, 8)}-${t.slice(8, 12)}-${hex(a, 4)}-${hex(b, 4)}-${hex(rand16(random), 4)}${hex(rand16(random), 4)}${hex(rand16(random), 4)}`;
}

/** An RFC 9562 UUIDv4 from `random`. */
export function uuidv4(random: Random): string {
  const w = () => hex(rand16(random), 4);
  const a = 0x4000 | int(random, 0x1000);
  const b = 0x8000 | int(random, 0x4000);
  return `${w()}${w()}-${w()}-${hex(a, 4)}-${hex(b, 4)}-${w()}${w()}${w()}`;
}
