import { PGliteDatabase } from '../../src/adapters/pglite/database';
import { sharedPGlite } from '../support/pglite';

/**
 * PGlite answers in microtasks, so a transaction's statements one after another never gave the event loop
 * a turn: a rebuild on PGlite starved the host's timers and I/O, and Ctrl-C of the CLI's rebuild was
 * swallowed until the end (its handler was removed before the signal could be delivered).
 */
describe('a PGlite transaction', () => {
  it('lets timers run between its statements', async () => {
    const db = PGliteDatabase.on(await sharedPGlite(), 'pg_catalog');
    let fired = false;
    const seenAt: number[] = [];
    setTimeout(() => (fired = true), 0);
    await db.transaction(async (tx) => {
      for (let i = 0; i < 200; i++) {
        await tx.query('SELECT $1::int AS i', [i]);
        if (fired) seenAt.push(i);
      }
    });
    expect(seenAt.length).toBeGreaterThan(0);
    expect(seenAt[0]).toBeLessThan(20);
  });
});
