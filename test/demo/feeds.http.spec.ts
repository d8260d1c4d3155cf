import { INTERACTION_TYPES } from '../../src/domain/interaction';
import { BACKENDS } from '../support/backends';
import { involves, newestFirst, passes as oraclePasses } from '../support/feed-oracle';
import { Answer, call, DemoUnderTest, startDemoApp } from './demo-app';

/**
 * The feeds' query parameters over HTTP (`types`, `from`, `to`, `owner`, `q`, `after`, `limit`) on
 * GET /contacts/:uuid/interactions, GET /interactions, GET /interactions/recent and
 * GET /contacts/:uuid/interactions/counts: what each lets through, against a plain oracle; cursor walks;
 * counts; a 422 with the module's field name for every bad value; the OpenAPI document.
 */

interface Item {
  uuid: string;
  contactUuid: string;
  interactionType: string;
  occurredAt: string;
  insertedAt: string;
  ownerUserUuid: string | null;
  subject: string | null;
  body: string | null;
  parties: Array<{ contactUuid: string | null }>;
  contact?: { uuid: string } | null;
}

const OWNER_A = '0190d6b4-5c1e-7000-8000-00000000a0a0';
const OWNER_B = '0190d6b4-5c1e-7000-8000-00000000b0b0';

/** Filters as query parameters, and what they let through said plainly (the oracle). */
interface Filters {
  types?: string[];
  from?: string;
  to?: string;
  owner?: string;
  q?: string;
}

const passes = (i: Item, f: Filters) => oraclePasses(i, { types: f.types, from: f.from, to: f.to, owner: f.owner, search: f.q });

/** `types` comma-separated, the rest as given. */
function queryOf(f: Filters & { limit?: number; after?: string | null; contactUuids?: string[] }): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(f)) {
    if (value === undefined || value === null) continue;
    params.append(key, Array.isArray(value) ? value.join(',') : String(value));
  }
  const text = params.toString();
  return text ? `?${text}` : '';
}

const uuidsOf = (answer: Answer): string[] => answer.body.items.map((i: Item) => i.uuid);

describe.each(BACKENDS.map((backend) => [backend.name, backend] as const))('demo feeds over HTTP on %s', (_name, backend) => {
  let demo: DemoUnderTest;
  let ada: string;
  let bob: string;
  let cyd: string;
  const all: Item[] = [];

  const get = (path: string) => call(demo, 'GET', path);

  /** Every page of a feed route, `limit` at a time, by `nextCursor`; each page checked for its shape. */
  async function walk(path: string, f: Filters & { contactUuids?: string[] }, limit: number): Promise<string[]> {
    const seen: string[] = [];
    let after: string | null = null;
    for (let n = 0; n < 100; n++) {
      const page = await get(`${path}${queryOf({ ...f, limit, after })}`);
      expect(page.status).toBe(200);
      expect(Object.keys(page.body).sort()).toEqual(['items', 'nextCursor']);
      expect(page.body.items.length).toBeLessThanOrEqual(limit);
      seen.push(...uuidsOf(page));
      if (page.body.items.length < limit) {
        expect(page.body.nextCursor).toBeNull();
        return seen;
      }
      expect(page.body.nextCursor).toEqual(expect.any(String));
      after = page.body.nextCursor;
    }
    throw new Error('the walk did not end');
  }

  beforeAll(async () => {
    demo = await startDemoApp(backend);
    const contact = async (name: string) => (await call(demo, 'POST', '/contacts', { name })).body.uuid as string;
    [ada, bob, cyd] = [await contact('Ada'), await contact('Bob'), await contact('Cyd')];
    const subjects = ['Renewal call with José', 'Pricing for the RENEWAL', 'Kickoff', 'renewed contract', 'Invoice', 'ZOË rollout', null];
    const bodies = [null, 'Crème brûlée at the kickoff', 'notes about the rollout', 'jose said yes'];
    for (let i = 0; i < 21; i++) {
      const created = await call(demo, 'POST', '/interactions', {
        contactUuid: [ada, bob, cyd][i % 3],
        interactionType: INTERACTION_TYPES[i % INTERACTION_TYPES.length],
        // Two or three at the same second: the order falls back to insertedAt and uuid.
        occurredAt: new Date(Date.UTC(2026, 0, 1 + Math.floor(i / 2), 9)).toISOString(),
        ownerUserUuid: [OWNER_A, OWNER_B, null][i % 4 === 3 ? 2 : i % 2],
        subject: subjects[i % subjects.length],
        body: bodies[i % bodies.length],
        parties: i % 3 !== 0 && i % 2 === 0 ? [{ rawName: 'Ada', contactUuid: ada }, { rawName: 'Walk-in' }] : [],
      });
      expect(created.status).toBe(201);
      all.push(created.body);
    }
    all.sort(newestFirst);
  });

  afterAll(async () => {
    await demo?.close();
    for (const text of demo?.answerTexts ?? []) expect(text).not.toMatch(/\n\s+at |\.ts:\d+/);
  });

  /** Filter sets that each keep some interactions and drop others, alone and combined. */
  const FILTERS: Filters[] = [
    {},
    { types: ['call'] },
    { types: ['email', 'meeting'] },
    { from: '2026-01-03' },
    { to: '2026-01-06T09:00:00Z' },
    { from: '2026-01-03T09:00:00Z', to: '2026-01-08' },
    { owner: OWNER_A.toUpperCase() },
    { q: 'renew' },
    { q: 'JOSE' },
    { q: 'creme BRULEE' },
    { q: 'zoe' },
    { q: 'JOSÉ' },
    { q: 'Zoë ROLL' },
    { q: 'Brûl' },
    { types: ['call', 'note'], from: '2026-01-02', owner: OWNER_B, q: 'ren' },
  ];

  it("filters a contact's feed by every parameter, and counts exactly what it lists", async () => {
    const involvingAda = all.filter((i) => involves(i, ada));
    for (const f of FILTERS) {
      const expected = involvingAda.filter((i) => passes(i, f)).map((i) => i.uuid);
      const listed = await get(`/contacts/${ada}/interactions${queryOf({ ...f, limit: 1000 })}`);
      expect({ f, status: listed.status, uuids: uuidsOf(listed) }).toEqual({ f, status: 200, uuids: expected });
      expect(listed.body.nextCursor).toBeNull();

      const counts = await get(`/contacts/${ada}/interactions/counts${queryOf(f)}`);
      const byType = Object.fromEntries(INTERACTION_TYPES.map((t) => [t, listed.body.items.filter((i: Item) => i.interactionType === t).length]));
      expect({ f, counts: counts.body }).toEqual({ f, counts: { total: expected.length, byType } });
    }
    // The filters really narrow: each of these lets through some of Ada's interactions, not all.
    for (const f of FILTERS.slice(1)) {
      const n = involvingAda.filter((i) => passes(i, f)).length;
      expect({ f, narrows: n < involvingAda.length }).toEqual({ f, narrows: true });
    }
    expect(involvingAda.filter((i) => passes(i, { q: 'JOSE' })).length).toBeGreaterThan(0);
    expect(involvingAda.filter((i) => passes(i, { q: 'creme BRULEE' })).length).toBeGreaterThan(0);
    expect(involvingAda.filter((i) => passes(i, { q: 'Zoë ROLL' })).length).toBeGreaterThan(0);
  });

  it('takes types comma-separated, repeated, both, and with spaces, all the same', async () => {
    const expected = all.filter((i) => involves(i, ada) && ['call', 'email'].includes(i.interactionType)).map((i) => i.uuid);
    expect(expected.length).toBeGreaterThan(0);
    for (const types of ['types=call,email', 'types=call&types=email', 'types=email&types=call,email', 'types=call,%20email', 'types=call,,email,']) {
      const answer = await get(`/contacts/${ada}/interactions?${types}&limit=1000`);
      expect({ types, status: answer.status, uuids: uuidsOf(answer) }).toEqual({ types, status: 200, uuids: expected });
    }
    const single = await get(`/contacts/${ada}/interactions?types=meeting`);
    expect(single.body.items.map((i: Item) => i.interactionType)).toEqual(expect.arrayContaining(['meeting']));
    expect(new Set(single.body.items.map((i: Item) => i.interactionType))).toEqual(new Set(['meeting']));
    // `types=` is the empty list: nothing passes, and nothing is counted.
    expect((await get(`/contacts/${ada}/interactions?types=`)).body).toEqual({ items: [], nextCursor: null });
    expect((await get(`/contacts/${ada}/interactions/counts?types=`)).body.total).toBe(0);
  });

  it('filters the feed for contacts and the recent feed the same way, each item with its contact', async () => {
    for (const f of FILTERS) {
      const forContacts = all.filter((i) => (i.contactUuid === bob || i.contactUuid === cyd) && passes(i, f)).map((i) => i.uuid);
      const answer = await get(`/interactions${queryOf({ ...f, contactUuids: [bob, cyd], limit: 1000 })}`);
      expect({ f, status: answer.status, uuids: uuidsOf(answer) }).toEqual({ f, status: 200, uuids: forContacts });

      const recent = await get(`/interactions/recent${queryOf({ ...f, limit: 1000 })}`);
      expect({ f, status: recent.status, uuids: uuidsOf(recent) }).toEqual({ f, status: 200, uuids: all.filter((i) => passes(i, f)).map((i) => i.uuid) });
      for (const item of recent.body.items as Item[]) expect(item.contact).toMatchObject({ uuid: item.contactUuid });
    }
  });

  it('answers the 6 newest on /interactions/recent by default ("recent" is no uuid), with a cursor to the rest', async () => {
    const first = await get('/interactions/recent');
    expect(first.status).toBe(200);
    expect(uuidsOf(first)).toEqual(all.slice(0, 6).map((i) => i.uuid));
    expect(first.body.nextCursor).toEqual(expect.any(String));
    const second = await get(`/interactions/recent?after=${first.body.nextCursor}`);
    expect(uuidsOf(second)).toEqual(all.slice(6, 12).map((i) => i.uuid));
    // `after=` is the first page.
    expect(uuidsOf(await get('/interactions/recent?after='))).toEqual(uuidsOf(first));
  });

  it('walks every feed page by page, under filters, returning each item once and in order', async () => {
    for (const f of [{}, { types: ['call', 'email', 'note'] }, { from: '2026-01-02', to: '2026-01-10' }, { q: 'renew' }, { owner: OWNER_A }]) {
      for (const limit of [1, 2, 5]) {
        const recent = await walk('/interactions/recent', f, limit);
        expect({ f, limit, recent }).toEqual({ f, limit, recent: all.filter((i) => passes(i, f)).map((i) => i.uuid) });
        const involving = await walk(`/contacts/${ada}/interactions`, f, limit);
        expect({ f, limit, involving }).toEqual({ f, limit, involving: all.filter((i) => involves(i, ada) && passes(i, f)).map((i) => i.uuid) });
        const forContacts = await walk('/interactions', { ...f, contactUuids: [ada, cyd] }, limit);
        expect({ f, limit, forContacts }).toEqual({
          f,
          limit,
          forContacts: all.filter((i) => (i.contactUuid === ada || i.contactUuid === cyd) && passes(i, f)).map((i) => i.uuid),
        });
      }
    }
    // The default page of a contact's feed and of /interactions is 50: all of them here, no next page.
    expect((await get(`/interactions?contactUuids=${ada}`)).body.nextCursor).toBeNull();
    expect((await get(`/contacts/${ada}/interactions`)).body.nextCursor).toBeNull();
  });

  describe('answers 422 with the field error of every bad parameter, never 500', () => {
    const TYPES_MESSAGE = `must be a list of: ${INTERACTION_TYPES.join(', ')}`;
    const ONCE = 'must be given at most once';
    /** Each bad query, and the errors it answers on every route (the counts route has no limit or after). */
    const FILTER_CASES: Array<[string, Record<string, string[]>]> = [
      ['types=bogus', { types: [TYPES_MESSAGE] }],
      ['types=call,Email', { types: [TYPES_MESSAGE] }],
      ['from=yesterday', { occurredFrom: ['is not a valid date'] }],
      ['from=', { occurredFrom: ['is not a valid date'] }],
      ['to=%2B275760-09-13T00:00:00Z', { occurredTo: ['is not a valid date'] }],
      ['from=2026-01-05&to=2026-01-04', { occurredTo: ['must not be before occurredFrom'] }],
      ['owner=nobody', { ownerUserUuid: ['is not a valid UUID'] }],
      ['q=a%00b', { search: ['must not contain NUL or invalid characters'] }],
      [`q=${'x'.repeat(201)}`, { search: ['must be at most 200 characters'] }],
      ['from=2026-01-01&from=2026-01-02', { occurredFrom: [ONCE] }],
      ['to=2026-01-01&to=2026-01-02', { occurredTo: [ONCE] }],
      [`owner=${OWNER_A}&owner=${OWNER_B}`, { ownerUserUuid: [ONCE] }],
      ['q=a&q=b', { search: [ONCE] }],
      ['types=nope&from=nope&owner=nope', { types: [TYPES_MESSAGE], occurredFrom: ['is not a valid date'], ownerUserUuid: ['is not a valid UUID'] }],
    ];
    const PAGE_CASES: Array<[string, Record<string, string[]>]> = [
      ['after=garbage', { after: ['is not a valid cursor'] }],
      ['after=a&after=b', { after: [ONCE] }],
      ['limit=0', { limit: ['must be an integer between 1 and 1000'] }],
      ['limit=1e3', { limit: ['must be an integer between 1 and 1000'] }],
      ['limit=1&limit=2', { limit: [ONCE] }],
      // The parameters' form first (all of those errors together), then the values.
      ['limit=abc&q=x&q=y&types=x', { limit: ['must be an integer between 1 and 1000'], search: [ONCE] }],
      ['limit=2000&after=garbage&types=x', { limit: ['must be an integer between 1 and 1000'], after: ['is not a valid cursor'], types: [TYPES_MESSAGE] }],
    ];

    it.each(['recent', 'involving', 'forContacts', 'counts'] as const)('on %s', async (route) => {
      const path = {
        recent: '/interactions/recent?',
        involving: `/contacts/${ada}/interactions?`,
        forContacts: `/interactions?contactUuids=${ada}&`,
        counts: `/contacts/${ada}/interactions/counts?`,
      }[route];
      for (const [query, errors] of [...FILTER_CASES, ...(route === 'counts' ? [] : PAGE_CASES)]) {
        expect({ query, answer: await get(`${path}${query}`) }).toEqual({ query, answer: { status: 422, body: { errors } } });
      }
    });

    it('the counts route reads no limit or after', async () => {
      const all = (await get(`/contacts/${ada}/interactions/counts`)).body;
      expect((await get(`/contacts/${ada}/interactions/counts?limit=1&after=garbage`)).body).toEqual(all);
    });

    it('the feed for contacts reports contactUuids and the page together', async () => {
      expect(await get('/interactions?contactUuids=nope&after=garbage&types=x')).toEqual({
        status: 422,
        body: { errors: { contactUuids: ['must be a list of UUIDs'], after: ['is not a valid cursor'], types: [TYPES_MESSAGE] } },
      });
    });
  });

  it('documents every feed route and its parameters in the OpenAPI document', async () => {
    const { status, body: openapi } = await get('/docs-json');
    expect(status).toBe(200);
    const operations = {
      '/interactions': openapi.paths['/interactions']?.get,
      '/interactions/recent': openapi.paths['/interactions/recent']?.get,
      '/contacts/{uuid}/interactions': openapi.paths['/contacts/{uuid}/interactions']?.get,
      '/contacts/{uuid}/interactions/counts': openapi.paths['/contacts/{uuid}/interactions/counts']?.get,
    };
    for (const [path, operation] of Object.entries(operations)) {
      expect({ path, documented: operation !== undefined }).toEqual({ path, documented: true });
      const query = Object.fromEntries(
        (operation.parameters as Array<{ in: string; name: string }>).filter((p) => p.in === 'query').map((p) => [p.name, p]),
      );
      const paged = path !== '/contacts/{uuid}/interactions/counts';
      expect(Object.keys(query).sort()).toEqual(
        [...(path === '/interactions' ? ['contactUuids'] : []), 'types', 'from', 'to', 'owner', 'q', ...(paged ? ['limit', 'after'] : [])].sort(),
      );
      expect(query.types).toMatchObject({
        required: false,
        style: 'form',
        explode: false,
        schema: { type: 'array', items: { type: 'string', enum: [...INTERACTION_TYPES] } },
      });
      expect(query.owner).toMatchObject({ required: false, schema: { type: 'string', format: 'uuid' } });
      if (paged) expect(query.limit).toMatchObject({ required: false, schema: { type: 'integer', minimum: 1, maximum: 1000 } });
      // A named component since the document's bodies come from zod (src/demo/openapi-schemas.ts).
      const answer = openapi.components.schemas[operation.responses['200'].content['application/json'].schema.$ref.split('/').pop()];
      expect(Object.keys(answer.properties).sort()).toEqual(paged ? ['items', 'nextCursor'] : ['byType', 'total']);
    }
    expect(operations['/interactions/recent'].parameters.find((p: { name: string }) => p.name === 'limit').schema.default).toBe(6);
    expect(operations['/contacts/{uuid}/interactions'].parameters.find((p: { name: string }) => p.name === 'limit').schema.default).toBe(50);
  });
});
