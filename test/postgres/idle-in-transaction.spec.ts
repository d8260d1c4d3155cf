import { setTimeout as sleep } from 'node:timers/promises';
import { PgDatabase } from '../../src/adapters/postgres/database';
import { InteractionUnavailableError } from '../../src/domain/errors';
import { TEST_DATABASE_URL } from '../support/postgres';

/**
 * The server ends a module session left idle in a transaction (the module sets the limit; here the connection
 * string shortens it to 1 s). Whatever the transaction was doing then, its caller gets the module's typed
 * error saying nothing was committed (the server rolled it back), and the ended connection is not reused.
 */
describe('a transaction the server ended for idling in it (PostgreSQL)', () => {
  let db: PgDatabase;
  beforeAll(() => {
    const url = new URL(TEST_DATABASE_URL);
    url.searchParams.set('options', '-c idle_in_transaction_session_timeout=1000');
    db = new PgDatabase({ connectionString: url.toString(), schema: 'public', max: 1 });
  });
  afterAll(() => db.close());

  /** The process blocked (a long GC pause, long synchronous work) past the limit. */
  const blocked = (ms: number) => {
    const end = Date.now() + ms;
    while (Date.now() < end);
  };

  it.each([
    ['a statement', true, blocked],
    ['the COMMIT', false, blocked],
    ['a statement', true, (ms: number) => sleep(ms)],
    ['the COMMIT', false, (ms: number) => sleep(ms)],
  ])('sent after the limit (%s, more statements: %s) fails as unavailable, not committed', async (_, more, pause) => {
    const failed = await db
      .transaction(async (tx) => {
        await tx.query('SELECT 1', []);
        await pause(1_500);
        if (more) await tx.query('SELECT 2', []);
      })
      .catch((error: unknown) => error);
    expect(failed).toBeInstanceOf(InteractionUnavailableError);
    expect(failed).toMatchObject({ committed: false });
    // The pool's only connection was the ended one: the next statement gets a new one.
    expect((await db.query<{ x: number }>('SELECT 1 AS x')).rows).toEqual([{ x: 1 }]);
  }, 20_000);
});
