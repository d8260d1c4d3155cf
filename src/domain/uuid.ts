import { randomFillSync } from 'node:crypto';
import { V7Generator } from 'uuidv7';

/**
 * The random bits of the module's UUIDv7s, from the CSPRNG 4 kB at a time. The library's default
 * source asks for 32 bytes at a time, through the Web Crypto wrapper: 7% of a create's CPU in Node,
 * with some eight ids per create (interaction, events, erasure keys, correlation).
 */
class PooledRandom {
  private readonly pool = new Uint32Array(1024);
  private next = this.pool.length;

  nextUint32(): number {
    if (this.next === this.pool.length) {
      randomFillSync(this.pool);
      this.next = 0;
    }
    return this.pool[this.next++]!;
  }
}

const generator = new V7Generator(new PooledRandom());

/** A new UUIDv7 (time-ordered within this process), as the library's `uuidv7()` makes them. */
export function uuidv7(): string {
  return generator.generate().toString();
}

const UUID_TEXT = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A UUID in its canonical text form (any case): what PostgreSQL's `uuid` takes without a doubt. */
export function isUuidText(value: string): boolean {
  return UUID_TEXT.test(value);
}
