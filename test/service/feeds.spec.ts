import { randomUUID } from 'node:crypto';
import { feedCursorOf, FeedFilters, FeedPage, Interaction, InteractionType, InteractionValidationError } from '../../src';
import { INTERACTION_TYPES } from '../../src/domain/interaction';
import { rebuild } from '../../projections/catch-up';
import { CountsCompactor } from '../../src/nest/counts-compactor';
import { BACKENDS } from '../support/backends';
import { involves, newestFirst, passes as oraclePasses } from '../support/feed-oracle';
import { ModuleUnderTest, startModule } from '../support/module';
import { prng } from '../support/random';
import { rejectionOf } from '../support/rejections';

/**
 * The feeds a History tab browses (CONTRACT.md, "Feeds, filters and counts"): every feed filtered by
 * type, period, owner and search, walked page by page, and counted, against what the interactions the
 * module answered say (the oracle below), on both backends.
 */

const WORDS = ['Renewal', 'pricing', 'José', 'Zoë', 'rollout', 'contract', 'Crème', 'brûlée', 'kickoff', 'invoice'];

interface World {
  contacts: string[];
  owners: string[];
  interactions: Interaction[];
}

/** 36 interactions over 4 contacts (subject or party), random types, owners, times and words. */
async function populate(m: ModuleUnderTest, seed: number): Promise<World> {
  const random = prng(seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  const contacts = Array.from({ length: 4 }, (_, i) => m.newContact({ name: `Contact ${i}` }));
  const owners = [randomUUID(), randomUUID()];
  const interactions: Interaction[] = [];
  for (let i = 0; i < 36; i++) {
    const party = pick(contacts);
    interactions.push(
      await m.service.createInteraction(
        {
          contactUuid: pick(contacts),
          interactionType: pick(INTERACTION_TYPES),
          // Several at the same second: the feed's order falls back to insertedAt and uuid.
          occurredAt: new Date(Date.UTC(2026, 0, 1 + Math.floor(random() * 10), 9, 0, 0)),
          ownerUserUuid: random() < 0.3 ? null : pick(owners),
          subject: `${pick(WORDS)} ${pick(WORDS)}`,
          body: random() < 0.2 ? null : `notes about the ${pick(WORDS)}`,
        },
        random() < 0.7 ? [{ rawName: 'Party', contactUuid: party }, { rawName: 'Visitor' }] : [],
      ),
    );
  }
  return { contacts, owners, interactions };
}

const passes = (i: Interaction, f: FeedFilters) =>
  oraclePasses(i, { types: f.types, from: f.occurredFrom, to: f.occurredTo, owner: f.ownerUserUuid, search: f.search });

/** Every page of a feed, `size` at a time, by cursor. */
async function walk(page: (p: FeedPage) => Promise<Interaction[]>, filters: FeedFilters, size: number): Promise<string[]> {
  const seen: string[] = [];
  let after: string | undefined;
  for (let n = 0; n < 100; n++) {
    const items = await page({ ...filters, limit: size, after });
    seen.push(...items.map((i) => i.uuid));
    if (items.length < size) return seen;
    after = feedCursorOf(items[items.length - 1]!);
  }
  throw new Error('the walk did not end');
}

function countsOf(items: Interaction[]) {
  const byType = Object.fromEntries(INTERACTION_TYPES.map((t) => [t, 0])) as Record<InteractionType, number>;
  for (const i of items) byType[i.interactionType]++;
  return { total: items.length, byType };
}

async function fieldErrors(promise: Promise<unknown>): Promise<Record<string, string[]>> {
  const error = await rejectionOf(promise);
  expect(error).toBeInstanceOf(InteractionValidationError);
  return (error as InteractionValidationError).errors;
}

describe.each(BACKENDS.map((backend) => [backend.name, backend] as const))('feeds on %s', (_name, backend) => {
  let m: ModuleUnderTest;
  let world: World;
  beforeAll(async () => {
    m = await startModule({ backend });
    world = await populate(m, 7);
  });
  afterAll(() => m.close());

  /** Filters that each keep some interactions and drop others, alone and combined. */
  function filterCases(): FeedFilters[] {
    const [owner] = world.owners;
    return [
      {},
      { types: ['call'] },
      { types: ['email', 'meeting'] },
      { types: [] },
      { occurredFrom: '2026-01-03T09:00:00Z' },
      { occurredTo: new Date('2026-01-06T09:00:00Z') },
      { occurredFrom: '2026-01-03T09:00:00Z', occurredTo: '2026-01-08T00:00:00Z' },
      { ownerUserUuid: owner!.toUpperCase() },
      { search: 'renew' },
      { search: 'JOSE' },
      { search: 'creme brulee' },
      { search: 'zoe pric' },
      { search: '  !!  ' },
      { types: ['call', 'note'], occurredFrom: '2026-01-02', ownerUserUuid: owner!, search: 'r' },
    ];
  }

  it('listInvolving: each filter, alone and combined, walked by cursor, gives exactly the matching interactions once, newest first', async () => {
    for (const contact of world.contacts) {
      for (const filters of filterCases()) {
        const expected = world.interactions.filter((i) => involves(i, contact) && passes(i, filters)).sort(newestFirst).map((i) => i.uuid);
        const all = (await m.service.listInvolving(contact, filters)).map((i) => i.uuid);
        expect({ filters, uuids: all }).toEqual({ filters, uuids: expected });
        for (const size of [1, 4]) {
          expect({ filters, size, uuids: await walk((p) => m.service.listInvolving(contact, p), filters, size) }).toEqual({ filters, size, uuids: expected });
        }
      }
    }
  });

  it('listForContacts and listRecent: the same filters and cursors, each with its subject contact', async () => {
    const some = world.contacts.slice(0, 2);
    for (const filters of filterCases()) {
      const forContacts = world.interactions.filter((i) => some.includes(i.contactUuid) && passes(i, filters)).sort(newestFirst).map((i) => i.uuid);
      expect(await walk((p) => m.service.listForContacts(some, p), filters, 3)).toEqual(forContacts);
      const recent = world.interactions.filter((i) => passes(i, filters)).sort(newestFirst).map((i) => i.uuid);
      expect(await walk((p) => m.service.listRecent(p), filters, 5)).toEqual(recent);
    }
    const page = await m.service.listRecent();
    expect(page).toHaveLength(6); // the default
    expect(page.map((i) => i.uuid)).toEqual(world.interactions.sort(newestFirst).slice(0, 6).map((i) => i.uuid));
    for (const item of page) expect(item.contact).toEqual(expect.objectContaining({ uuid: item.contactUuid }));
  });

  it('countInvolving and countInteractions equal the items the feeds list, with every filter', async () => {
    for (const filters of filterCases()) {
      for (const contact of world.contacts) {
        const listed = world.interactions.filter((i) => involves(i, contact) && passes(i, filters));
        expect({ filters, counts: await m.service.countInvolving(contact, filters) }).toEqual({ filters, counts: countsOf(listed) });
      }
      const all = world.interactions.filter((i) => passes(i, filters));
      expect({ filters, counts: await m.service.countInteractions(filters) }).toEqual({ filters, counts: countsOf(all) });
    }
    expect(await m.service.countInvolving(null)).toEqual(countsOf([]));
    expect(await m.service.countInvolving('not-a-uuid')).toEqual(countsOf([]));
  });

  it('search ignores case and accents, matches word prefixes only, and needs every word', async () => {
    const contact = m.newContact({ name: 'Searcher' });
    const a = await m.service.createInteraction({ contactUuid: contact, subject: 'Crème BRÛLÉE for José', body: 'Q3-renewal; naïve approach' });
    const b = await m.service.createInteraction({ contactUuid: contact, subject: 'Renewal', body: null });
    const found = async (search: string) => (await m.service.listInvolving(contact, { search })).map((i) => i.uuid).sort();
    expect(await found('creme')).toEqual([a.uuid]);
    expect(await found('JOSÉ')).toEqual([a.uuid]);
    expect(await found('renew')).toEqual([a.uuid, b.uuid].sort());
    expect(await found('naive q3')).toEqual([a.uuid]);
    const greek = await m.service.createInteraction({ contactUuid: contact, subject: 'Οδοστρωμα at the Straße' });
    expect(await found('ΟΔΟΣ')).toEqual([greek.uuid]); // toLowerCase would end it in a final sigma
    expect(await found('STRASSE')).toEqual([greek.uuid]);
    await m.service.deleteInteraction(greek.uuid);
    expect(await found('newal')).toEqual([]); // inside a word is not a match
    expect(await found('renewal brulee')).toEqual([a.uuid]);
    expect(await found("'&|!:*")).toEqual([a.uuid, b.uuid].sort()); // no word: no filter, and no tsquery syntax
    // An edit of the text moves it in and out of the search.
    await m.service.updateInteraction(b.uuid, { subject: 'Kickoff' });
    expect(await found('renew')).toEqual([a.uuid]);
    expect(await found('kick')).toEqual([b.uuid]);
    await m.service.updateInteraction(b.uuid, { body: 'renewal after all' });
    expect(await found('kick renew')).toEqual([b.uuid]);
  });

  it('search finds Chinese and Japanese written without spaces by any run of their characters', async () => {
    const contact = m.newContact({ name: 'Searcher' });
    const zh = await m.service.createInteraction({ contactUuid: contact, subject: '我在北京工作', body: '下周讨论手机iPhone合同' });
    const ja = await m.service.createInteraction({ contactUuid: contact, subject: 'コーヒーが好き', body: '東京都庁で会議' });
    const found = async (search: string) => (await m.service.listRecent({ search })).map((i) => i.uuid).sort();
    expect(await found('北京')).toEqual([zh.uuid]);
    expect(await found('工作')).toEqual([zh.uuid]); // not where the run starts
    expect(await found('iphone 合同')).toEqual([zh.uuid]);
    expect(await found('ｺｰﾋｰ')).toEqual([ja.uuid]); // halfwidth katakana
    expect(await found('京')).toEqual([zh.uuid, ja.uuid].sort());
    expect(await found('京都')).toEqual([ja.uuid]);
    expect(await found('北京 会議')).toEqual([]);
    expect(await found('かが')).toEqual([]);
  });

  it('an edit of type, owner or time moves the interaction between filtered feeds and counts; a delete takes it out', async () => {
    const [c1, c2] = [m.newContact(), m.newContact()];
    const owner = randomUUID();
    const created = await m.service.createInteraction(
      { contactUuid: c1, interactionType: 'call', occurredAt: '2026-02-01T10:00:00Z' },
      [{ rawName: 'Two', contactUuid: c2 }],
    );
    const calls = (contact: string) => m.service.listInvolving(contact, { types: ['call'] });
    expect((await calls(c2)).map((i) => i.uuid)).toEqual([created.uuid]);
    await m.service.updateInteraction(created.uuid, { interactionType: 'email', ownerUserUuid: owner, occurredAt: '2026-03-01T10:00:00Z' });
    for (const contact of [c1, c2]) {
      expect(await calls(contact)).toEqual([]);
      expect((await m.service.listInvolving(contact, { types: ['email'], ownerUserUuid: owner, occurredFrom: '2026-03-01' })).map((i) => i.uuid)).toEqual([created.uuid]);
      expect((await m.service.countInvolving(contact)).byType).toEqual(expect.objectContaining({ call: 0, email: 1 }));
    }
    await m.service.deleteInteraction(created.uuid);
    for (const contact of [c1, c2]) expect(await m.service.countInvolving(contact)).toEqual(countsOf([]));
  });

  it('counts stay exact across the compactor and a rebuild', async () => {
    const before = { contacts: await Promise.all(world.contacts.map((c) => m.service.countInvolving(c))), all: await m.service.countInteractions() };
    await m.app.get(CountsCompactor).compact();
    const { rows } = await m.db.query<{ n: string }>('SELECT count(*) AS n FROM involvement_counts WHERE NOT compacted');
    expect(Number(rows[0]!.n)).toBe(0);
    expect({ contacts: await Promise.all(world.contacts.map((c) => m.service.countInvolving(c))), all: await m.service.countInteractions() }).toEqual(before);
    await rebuild(m.db, m.store);
    expect({ contacts: await Promise.all(world.contacts.map((c) => m.service.countInvolving(c))), all: await m.service.countInteractions() }).toEqual(before);
  });

  it('an interaction of the years 0001–0099 reads back in its year, is walked once and counted in its period', async () => {
    const contact = m.newContact({ name: 'Early' });
    const a = await m.service.createInteraction({ contactUuid: contact, occurredAt: '0050-06-01T12:00:10Z' });
    const b = await m.service.createInteraction({ contactUuid: contact, occurredAt: '0050-06-01T12:00:10Z' });
    const c = await m.service.createInteraction({ contactUuid: contact, occurredAt: '0001-01-01T00:00:00Z' });
    expect((await m.service.getInteraction(a.uuid))!.occurredAt.toISOString()).toBe('0050-06-01T12:00:10.000Z');
    const walked: string[] = [];
    let page = await m.service.listInvolving(contact, { limit: 1 });
    for (let pages = 0; page.length > 0 && pages < 10; pages++) {
      walked.push(...page.map((item) => `${item.uuid} ${item.occurredAt.toISOString()}`));
      page = await m.service.listInvolving(contact, { limit: 1, after: feedCursorOf(page[0]!) });
    }
    expect(walked).toEqual([
      `${b.uuid} 0050-06-01T12:00:10.000Z`,
      `${a.uuid} 0050-06-01T12:00:10.000Z`,
      `${c.uuid} 0001-01-01T00:00:00.000Z`,
    ]);
    expect((await m.service.countInvolving(contact, { occurredFrom: '0050-01-01', occurredTo: '0051-01-01' })).total).toBe(2);
  });

  it('refuses bad pages and filters with an error per field, and reads nothing', async () => {
    const contact = world.contacts[0]!;
    expect(
      await fieldErrors(
        m.service.listInvolving(contact, {
          types: ['call', 'fax' as InteractionType],
          occurredFrom: 'yesterday',
          ownerUserUuid: 'nobody',
          search: 'x'.repeat(201),
          after: 'not-a-cursor',
          limit: 0,
        }),
      ),
    ).toEqual({
      types: ['must be a list of: call, email, meeting, note, other'],
      occurredFrom: ['is not a valid date'],
      ownerUserUuid: ['is not a valid UUID'],
      search: ['must be at most 200 characters'],
      after: ['is not a valid cursor'],
      limit: ['must be an integer between 1 and 1000'],
    });
    expect(await fieldErrors(m.service.listRecent({ occurredFrom: '2026-02-01', occurredTo: '2026-01-01' }))).toEqual({
      occurredTo: ['must not be before occurredFrom'],
    });
    expect(await fieldErrors(m.service.countInteractions({ types: 'call' as unknown as InteractionType[] }))).toEqual({
      types: ['must be a list of: call, email, meeting, note, other'],
    });
    expect(await fieldErrors(m.service.countInvolving(contact, 42 as unknown as FeedFilters))).toEqual({ filters: ['must be an object'] });
    expect(await fieldErrors(m.service.listForContacts([contact], { search: 7 as unknown as string }))).toEqual({ search: ['must be a string'] });
  });
});
