import fc from 'fast-check';
import { PGliteDatabase } from '../../src/adapters/pglite/database';
import { sharedPGlite } from '../support/pglite';

/**
 * A timestamptz read from PGlite is the instant written, for every year the module takes (0001–9999) and
 * whatever the session's time zone prints (offsets of half hours, of seconds before 1911): PGlite's own
 * parser read the years below 100 as 19xx or 20xx.
 */
const ZONES = ['UTC', 'Europe/Paris', 'Asia/Kolkata', 'America/St_Johns', 'Pacific/Chatham', 'America/Los_Angeles'];
const FIRST = new Date('0001-01-01T00:00:00Z').getTime();
const LAST = new Date('9999-12-31T23:59:59.999Z').getTime();

describe('PGlite timestamptz', () => {
  it('reads back every instant of the years 0001–9999 in any session time zone', async () => {
    const db = PGliteDatabase.on(await sharedPGlite(), 'public');
    const edges = ['0001-01-01T00:00:00.000Z', '0050-06-01T12:00:10.500Z', '0099-12-31T23:59:59.999Z', '0100-01-01T00:00:00.000Z', '1900-01-01T00:00:00.000Z', '9999-12-31T23:59:59.999Z'];
    for (const zone of ZONES) {
      for (const iso of edges) {
        const read = await db.transaction(async (tx) => {
          await tx.query(`SET LOCAL TIME ZONE '${zone}'`, []);
          return (await tx.query<{ t: Date }>('SELECT $1::timestamptz AS t', [iso])).rows[0]!.t;
        });
        expect({ zone, read: read.toISOString() }).toEqual({ zone, read: iso });
      }
    }
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: FIRST, max: LAST }), fc.constantFrom(...ZONES), async (ms, zone) => {
        const iso = new Date(ms).toISOString();
        const read = await db.transaction(async (tx) => {
          await tx.query(`SET LOCAL TIME ZONE '${zone}'`, []);
          return (await tx.query<{ t: Date }>('SELECT $1::timestamptz AS t', [iso])).rows[0]!.t;
        });
        expect(read.toISOString()).toBe(iso);
      }),
      { seed: 20261203, numRuns: 300 },
    );
  });
});
