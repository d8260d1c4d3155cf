import { uuidv7 } from 'uuidv7';
import { checkAnswer, DemoUnderTest, startDemoApp } from './demo-app';
import { BACKENDS } from '../support/backends';
import { Database } from '../../src/ports/database';
import { DATABASE } from '../../src/nest/tokens';

interface Answer {
  status: number;
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any -- JSON from the wire
  text: string;
}

/** The demo host over real HTTP on a random port, once per backend. */
describe.each(BACKENDS.map((backend) => [backend.name, backend] as const))('demo HTTP API on %s', (_name, backend) => {
  let demo: DemoUnderTest | undefined;
  let base: string;
  const answers: Answer[] = [];

  async function call(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Answer> {
    const response = await fetch(`${base}${path}`, {
      method,
      headers: { 'content-type': 'application/json', ...headers },
      ...(body !== undefined && { body: typeof body === 'string' ? body : JSON.stringify(body) }),
    });
    const text = await response.text();
    checkAnswer(demo!, method, path, response, text); // every answer as the OpenAPI document says
    let parsed: unknown = null;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = null;
    }
    const answer = { status: response.status, body: parsed, text };
    answers.push(answer);
    return answer;
  }

  async function contact(name: string): Promise<string> {
    const { status, body } = await call('POST', '/contacts', { name, email: `${name.toLowerCase()}@example.com` });
    expect(status).toBe(201);
    return body.uuid;
  }

  beforeAll(async () => {
    demo = await startDemoApp(backend);
    base = demo.base;
  });

  afterAll(async () => {
    await demo?.close();
    // No answer of the whole suite, error or not, carried a stack trace.
    for (const answer of answers) expect(answer.text).not.toMatch(/\n\s+at |\.ts:\d+/);
  });

  it('logs, reads, changes and deletes an interaction', async () => {
    const ada = await contact('Ada');
    const bob = await contact('Bob');
    const created = await call(
      'POST',
      '/interactions',
      { contactUuid: ada, interactionType: 'call', subject: 'Hello', occurredAt: '2026-05-01T10:00:00.500Z', parties: [{ rawName: 'Bob', contactUuid: bob }], fileUuids: [] },
      { 'x-actor-uuid': '0190d6b4-5c1e-7000-8000-0000000000aa' },
    );
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      contactUuid: ada,
      interactionType: 'call',
      subject: 'Hello',
      occurredAt: '2026-05-01T10:00:00.000Z',
      version: 1,
      parties: [{ rawName: 'Bob', contactUuid: bob, position: 0, snapshot: { source: 'crm_contact', name: 'Bob' } }],
    });
    const uuid = created.body.uuid;

    expect(await call('GET', `/interactions/${uuid}`)).toMatchObject({ status: 200, body: created.body });

    const noParties = await call('PATCH', `/interactions/${uuid}`, { subject: 'Changed' });
    expect(noParties.status).toBe(200);
    expect(noParties.body.parties).toEqual(created.body.parties);
    const cleared = await call('PATCH', `/interactions/${uuid}`, { parties: [], expectedVersion: noParties.body.version });
    expect(cleared.status).toBe(200);
    expect(cleared.body.parties).toEqual([]);

    const history = await call('GET', `/interactions/${uuid}/history`);
    expect(history.status).toBe(200);
    expect(history.body.map((e: { type: string }) => e.type)).toEqual(['InteractionLogged', 'PartiesRebuilt', 'InteractionUpdated', 'PartiesRebuilt']);
    expect(history.body[0].metadata.actorUuid).toBe('0190d6b4-5c1e-7000-8000-0000000000aa');
    expect(typeof history.body[0].position.commit).toBe('string');

    // Point-in-time folding is pinned with a controlled clock in the service suite; here, the route.
    const lastChange = history.body[3].metadata.recordedAt;
    const asOf = await call('GET', `/interactions/${uuid}/as-of?at=${encodeURIComponent(lastChange)}`);
    expect(asOf).toMatchObject({ status: 200, body: cleared.body });
    expect((await call('GET', `/interactions/${uuid}/as-of?at=2000-01-01T00:00:00Z`)).status).toBe(404);
    expect((await call('GET', `/interactions/${uuid}/as-of?at=yesterday`)).body).toEqual({ errors: { at: ['is not a valid date'] } });

    const deleted = await call('DELETE', `/interactions/${uuid}`);
    expect(deleted).toMatchObject({ status: 200, body: { uuid, subject: 'Changed' } });
    expect((await call('GET', `/interactions/${uuid}`)).status).toBe(404);
    expect((await call('DELETE', `/interactions/${uuid}`)).status).toBe(404);
    expect((await call('PATCH', `/interactions/${uuid}`, { subject: 'x' })).status).toBe(404);
  });

  it("answers the history of a stream holding an event this version cannot read, as stored, as the document says", async () => {
    const subject = await contact('Auditor');
    const { uuid } = (await call('POST', '/interactions', { contactUuid: subject })).body;
    // Written past the module (another version, a hand edit): a type it does not know, metadata without its fields.
    const archived = { schemaVersion: 1, interactionUuid: uuid };
    await demo!.app
      .get<Database>(DATABASE)
      .query("INSERT INTO events (event_id, stream_name, stream_revision, event_type, data, metadata) VALUES ($1, $2, 2, 'InteractionArchived', $3, '{}')", [
        uuidv7(),
        `interaction-${uuid}`,
        JSON.stringify(archived),
      ]);
    const history = await call('GET', `/interactions/${uuid}/history`);
    expect(history.status).toBe(200);
    expect(history.body[2]).toMatchObject({ revision: 2, type: 'InteractionArchived', data: archived, metadata: {} });
  });

  it('answers 422 with field-keyed errors, 409 on a stale version, 404 for unknown and malformed uuids', async () => {
    const ada = await contact('Cleo');
    const invalid = await call('POST', '/interactions', { interactionType: 'fax', parties: [{ rawName: 'x'.repeat(256) }] });
    expect(invalid).toMatchObject({
      status: 422,
      body: {
        errors: {
          contactUuid: ['is required'],
          interactionType: ['must be one of: call, email, meeting, note, other'],
          'parties.0.rawName': ['must be at most 255 characters'],
        },
      },
    });
    expect((await call('POST', '/interactions', { contactUuid: uuidv7() })).body).toEqual({ errors: { contactUuid: ['does not exist'] } });
    expect((await call('POST', '/interactions', [1, 2])).status).toBe(422);

    const created = await call('POST', '/interactions', { contactUuid: ada });
    const { uuid, version } = created.body;
    expect((await call('PATCH', `/interactions/${uuid}`, { subject: 'v2', expectedVersion: version })).status).toBe(200);
    const stale = await call('PATCH', `/interactions/${uuid}`, { subject: 'v3', expectedVersion: version });
    expect(stale.status).toBe(409);
    expect((await call('PATCH', `/interactions/${uuid}`, { metadata: [1] })).body).toEqual({ errors: { metadata: ['must be an object'] } });

    for (const id of [uuidv7(), 'not-a-uuid']) {
      expect((await call('GET', `/interactions/${id}`)).status).toBe(404);
      expect((await call('GET', `/interactions/${id}/history`)).status).toBe(404);
    }
  });

  it('answers 400 for malformed JSON, 413 for an oversized body, 404 for unknown routes', async () => {
    const malformed = await call('POST', '/interactions', '{"contactUuid": ');
    expect(malformed.status).toBe(400);
    expect(malformed.body).toMatchObject({ error: 'Bad Request' });
    const oversized = await call('POST', '/interactions', { contactUuid: uuidv7(), body: 'x'.repeat(300 * 1024) });
    expect(oversized.status).toBe(413);
    const unknown = await call('GET', '/nothing/here');
    expect(unknown.status).toBe(404);
    expect(unknown.body).toMatchObject({ error: 'Not Found' });
  });

  it('serves the feed for contacts, involving with cursor paging, and subject uuids', async () => {
    const dan = await contact('Dan');
    const eve = await contact('Eve');
    const older = await call('POST', '/interactions', { contactUuid: dan, occurredAt: '2026-01-01T00:00:00Z' });
    const newer = await call('POST', '/interactions', { contactUuid: eve, occurredAt: '2026-01-02T00:00:00Z', parties: [{ rawName: 'Dan', contactUuid: dan }] });

    const feed = await call('GET', `/interactions?contactUuids=${dan},${eve}&limit=50`);
    expect(feed.status).toBe(200);
    expect(feed.body.items.map((i: { uuid: string }) => i.uuid)).toEqual([newer.body.uuid, older.body.uuid]);
    expect(feed.body.items[0].contact).toMatchObject({ uuid: eve, name: 'Eve' });
    expect(feed.body.nextCursor).toBeNull();
    const paged = await call('GET', `/interactions?contactUuids=${dan},${eve}&limit=1`);
    expect(paged.body.items.map((i: { uuid: string }) => i.uuid)).toEqual([newer.body.uuid]);
    const next = await call('GET', `/interactions?contactUuids=${dan},${eve}&limit=1&after=${paged.body.nextCursor}`);
    expect(next.body.items.map((i: { uuid: string }) => i.uuid)).toEqual([older.body.uuid]);
    expect((await call('GET', `/interactions?contactUuids=${dan},nope`)).status).toBe(422);
    expect((await call('GET', '/interactions')).body).toEqual({ errors: { contactUuids: ['is required'] } });

    const first = await call('GET', `/contacts/${dan}/interactions?limit=1`);
    expect(first.status).toBe(200);
    expect(first.body.items.map((i: { uuid: string }) => i.uuid)).toEqual([newer.body.uuid]);
    expect(first.body.nextCursor).toEqual(expect.any(String));
    const second = await call('GET', `/contacts/${dan}/interactions?limit=1&after=${first.body.nextCursor}`);
    expect(second.body.items.map((i: { uuid: string }) => i.uuid)).toEqual([older.body.uuid]);
    const rest = await call('GET', `/contacts/${dan}/interactions?limit=1&after=${second.body.nextCursor}`);
    expect(rest.body).toEqual({ items: [], nextCursor: null });
    expect((await call('GET', `/contacts/${dan}/interactions?after=garbage`)).status).toBe(422);
    expect((await call('GET', `/contacts/${dan}/interactions?limit=abc`)).status).toBe(422);

    expect((await call('GET', `/contacts/${dan}/interaction-uuids`)).body).toEqual([older.body.uuid]);
    expect((await call('GET', '/contacts/not-a-uuid/interaction-uuids')).body).toEqual([]);
  });

  it("keeps the demo's own contacts, validates them, and reports health and the API docs", async () => {
    const frank = await contact('Frank');
    expect((await call('GET', '/contacts')).body.map((c: { uuid: string }) => c.uuid)).toContain(frank);
    expect((await call('POST', '/contacts', { email: 'not-an-email' })).body).toEqual({ errors: { email: ['is not a valid email address'] } });
    // In the module's words, never the schema library's ("Invalid input: expected string, received number").
    expect((await call('POST', '/contacts', { name: 42, email: 42 })).body).toEqual({
      errors: { name: ['must be a string'], email: ['is not a valid email address'] },
    });
    expect((await call('PATCH', `/contacts/${frank}`, { company: ['x'] })).body).toEqual({ errors: { company: ['must be a string'] } });

    const health = await call('GET', '/health');
    expect(health).toMatchObject({
      status: 200,
      body: { status: 'ok', info: { database: { status: 'up' }, eventStore: { status: 'up' }, projection: { status: 'up' } } },
    });
    expect((await call('GET', '/docs')).status).toBe(200);
    const openapi = await call('GET', '/docs-json');
    expect(Object.keys(openapi.body.paths)).toEqual(
      expect.arrayContaining([
        '/interactions',
        '/interactions/recent',
        '/interactions/{uuid}',
        '/contacts/{uuid}/interactions',
        '/contacts/{uuid}/interactions/counts',
        '/health',
      ]),
    );
  });
});
