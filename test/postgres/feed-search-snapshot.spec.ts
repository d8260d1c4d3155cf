import { feedCursorOf, Interaction } from '../../src';
import { FeedFilter, findInvolving, findRecent, NO_FILTER } from '../../projections/interactions.queries';
import { searchQueryOf } from '../../src/domain/search';
import { Database, Queryable } from '../../src/ports/database';
import { ModuleUnderTest, startModule } from '../support/module';

/**
 * A search page is read in two statements (the window's matches, then the rest with the window's rows).
 * A write that commits between them must not split the page: both read one snapshot, so the page is
 * full and the cursor of its last entry skips nothing. PostgreSQL only: on PGlite the page's transaction
 * holds the one connection, so no write can land inside it.
 */
describe('a search page racing a write', () => {
  let m: ModuleUnderTest;
  beforeEach(async () => (m = await startModule()));
  afterEach(() => m.close());

  /** The module's read database, with `write` committed from another connection after the page's first statement. */
  function racing(write: () => Promise<unknown>): Database {
    let statements = 0;
    const after = (q: Queryable): Queryable => ({
      async query(text: string, params?: unknown[]) {
        const result = await q.query(text, params);
        if (!text.startsWith('SET ') && ++statements === 1) await write();
        return result as never;
      },
    });
    return { ...after(m.db), schema: m.db.schema, close: async () => undefined, transaction: (fn) => m.db.transaction((tx) => fn(after(tx))) };
  }

  const search: FeedFilter = { ...NO_FILTER, search: searchQueryOf('renew') };

  async function tenRenewals(): Promise<{ contact: string; newestFirst: string[] }> {
    const contact = m.newContact({ name: 'C' });
    const made: Interaction[] = [];
    for (let i = 0; i < 10; i++) {
      made.push(await m.service.createInteraction({ contactUuid: contact, subject: `renewal ${i}`, occurredAt: new Date(Date.UTC(2030, 0, 1 + i)) }));
    }
    return { contact, newestFirst: made.reverse().map((i) => i.uuid) };
  }

  it.each(['involving', 'recent'] as const)('%s: an edit that moves an entry of the page back skips nothing after it', async (feed) => {
    const { contact, newestFirst } = await tenRenewals();
    const db = racing(() => m.service.updateInteraction(newestFirst[1]!, { occurredAt: '2001-01-01T00:00:00Z' }));
    const first =
      feed === 'involving' ? await findInvolving(db, contact, { limit: 3, after: null }, search) : await findRecent(db, { limit: 3, after: null }, search);
    expect(first.map((i) => i.uuid)).toEqual(newestFirst.slice(0, 3));
    const page = { search: 'renew', limit: 100, after: feedCursorOf(first.at(-1)!) };
    const rest = feed === 'involving' ? await m.service.listInvolving(contact, page) : await m.service.listRecent(page);
    const seen = new Set([...first, ...rest].map((i) => i.uuid));
    expect(newestFirst.filter((uuid) => !seen.has(uuid))).toEqual([]);
  });

  it('a delete of an entry of the page leaves it full', async () => {
    const { contact, newestFirst } = await tenRenewals();
    const db = racing(() => m.service.deleteInteraction(newestFirst[1]!));
    expect(await findInvolving(db, contact, { limit: 3, after: null }, search)).toHaveLength(3);
  });
});
