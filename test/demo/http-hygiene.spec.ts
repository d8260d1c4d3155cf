import { CommandOptions } from '../../src/nest/messages';
import { InteractionsService } from '../../src/nest/interactions.service';
import { InteractionsController } from '../../src/demo/interactions.controller';
import { checkAnswer, DemoUnderTest, sendRaw, startDemoApp } from './demo-app';

/** What the demo host does with odd requests: repeated parameters, odd bodies, limits, cursors, case. */

interface Answer {
  status: number;
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any -- JSON from the wire
}

const LIMIT_MESSAGE = 'must be an integer between 1 and 1000';

describe('demo HTTP hygiene', () => {
  let demo: DemoUnderTest | undefined;
  let base: string;

  async function call(method: string, path: string, body?: string | object, headers: Record<string, string> = {}): Promise<Answer> {
    const response = await fetch(`${base}${path}`, {
      method,
      headers: { 'content-type': 'application/json', ...headers },
      ...(body !== undefined && { body: typeof body === 'string' ? body : JSON.stringify(body) }),
    });
    const text = await response.text();
    checkAnswer(demo!, method, path, response, text); // every answer as the OpenAPI document says
    return { status: response.status, body: JSON.parse(text) };
  }

  const contact = async (name: string): Promise<string> => (await call('POST', '/contacts', { name })).body.uuid;

  beforeAll(async () => {
    demo = await startDemoApp();
    base = demo.base;
  });

  afterAll(async () => {
    await demo?.close();
  });

  it('answers a path that resolves to the page\'s folder with the API\'s JSON, not an HTML redirect; the page stays at /', async () => {
    // Sent as written: fetch would resolve the `..` itself.
    const raw = (path: string) => sendRaw(base, { method: 'GET', path });
    for (const path of ['/interactions/..', '/interactions/%2e%2e', '/contacts/..']) {
      const answer = await raw(path);
      expect([path, answer.status, answer.contentType]).toEqual([path, 404, expect.stringMatching(/^application\/json/)]);
      expect(() => JSON.parse(answer.text)).not.toThrow();
    }
    const page = await raw('/');
    expect([page.status, page.contentType]).toEqual([200, expect.stringMatching(/^text\/html/)]);
  });

  it('lets no other site frame the page, and no answer be sniffed as another type', async () => {
    for (const path of ['/', '/app.js', '/contacts', '/no/such/route', '/docs']) {
      const { headers } = await fetch(`${base}${path}`);
      expect([path, headers.get('x-frame-options'), headers.get('x-content-type-options')]).toEqual([path, 'DENY', 'nosniff']);
    }
    expect((await fetch(`${base}/`)).headers.get('content-security-policy')).toBe("default-src 'self'; frame-ancestors 'none'");
    const refused = await fetch(`${base}/contacts`, { method: 'POST', headers: { origin: 'http://elsewhere.example' } });
    expect([refused.status, refused.headers.get('x-content-type-options')]).toEqual([403, 'nosniff']);
  });

  it('answers 422 for a JSON null, array or scalar body on POST and PATCH, also for contacts', async () => {
    const ada = await contact('Ada');
    const { uuid } = (await call('POST', '/interactions', { contactUuid: ada })).body;
    for (const body of ['null', '[]', '[{"contactUuid":"x"}]', '42', '"text"', 'true']) {
      expect(await call('POST', '/interactions', body)).toEqual({ status: 422, body: { errors: { body: ['must be a JSON object'] } } });
      expect(await call('PATCH', `/interactions/${uuid}`, body)).toEqual({ status: 422, body: { errors: { body: ['must be a JSON object'] } } });
      expect(await call('POST', '/contacts', body)).toEqual({ status: 422, body: { errors: { body: ['must be a JSON object'] } } });
    }
  });

  it('refuses a state-changing request a browser sent from another site (CSRF); one without Origin goes on', async () => {
    const ada = await contact('Ada');
    const refused = { status: 403, body: { error: 'Forbidden', message: 'a request from another site may not change anything here' } };
    // What a form on another page sends, auto-submitted: the erasure must not happen.
    const foreign: Array<Record<string, string>> = [{ origin: 'http://localhost:3918' }, { origin: 'null' }, { 'sec-fetch-site': 'cross-site' }, { 'sec-fetch-site': 'same-site' }];
    for (const headers of foreign) {
      expect(await call('POST', `/contacts/${ada}/forget`, undefined, headers)).toEqual(refused);
      expect(await call('DELETE', `/contacts/${ada}`, undefined, headers)).toEqual(refused);
      expect(await call('POST', '/contacts', { name: 'Forged' }, headers)).toEqual(refused);
    }
    expect((await call('GET', '/contacts')).body.map((c: { name: string }) => c.name)).not.toContain('Forged');
    expect((await call('GET', `/contacts/${ada}/interactions`, undefined, { origin: 'http://localhost:3918' })).status).toBe(200); // reads are not refused
    // The page's own requests (its origin, same-origin) and those without Origin (curl) act.
    expect((await call('POST', '/contacts', { name: 'Own' }, { origin: base, 'sec-fetch-site': 'same-origin' })).status).toBe(201);
    expect((await call('POST', `/contacts/${ada}/forget`)).status).toBe(200);
  });

  it('refuses a body that is not JSON with 415 (it was read as no body); no body at all is still an empty contact', async () => {
    const form = await fetch(`${base}/contacts`, { method: 'POST', body: new URLSearchParams({ name: 'Form' }) });
    const text = await form.text();
    checkAnswer(demo!, 'POST', '/contacts', form, text);
    expect([form.status, JSON.parse(text)]).toEqual([415, { error: 'Unsupported Media Type', message: 'the body must be JSON (Content-Type: application/json)' }]);
    const plain = await fetch(`${base}/contacts`, { method: 'POST', body: JSON.stringify({ name: 'Plain' }) }); // text/plain
    expect(plain.status).toBe(415);
    expect((await call('GET', '/contacts')).body.map((c: { name: string }) => c.name)).not.toEqual(expect.arrayContaining(['Form', 'Plain']));
    const empty = await fetch(`${base}/contacts`, { method: 'POST' });
    expect([empty.status, ((await empty.json()) as { name: unknown }).name]).toEqual([201, null]);
  });

  // "A body in another charset than UTF-8 … 415" (README): body-parser itself decodes any `utf-*` charset, so a
  // body labelled UTF-16 or UTF-32 was decoded as such: UTF-8 bytes became garbage (400), and an ASCII body in
  // UTF-16 became a request the host carried out.
  it('answers 415 for a body labelled UTF-16 or UTF-32, whatever its bytes, and writes nothing', async () => {
    const subject = await contact('Charset');
    const send = async (charset: string, body: Buffer) =>
      sendRaw(base, {
        method: 'POST',
        path: '/interactions',
        headers: { 'content-type': `application/json; charset=${charset}`, 'content-length': String(body.length) },
        body: body as unknown as string,
      });
    const unsupported = { status: 415, text: JSON.stringify({ error: 'Unsupported Media Type', message: 'the request body was not understood' }) };
    const json = JSON.stringify({ contactUuid: subject, subject: 'labelled' });
    for (const charset of ['utf-16', 'utf-16le', 'utf-16be', 'utf-32']) expect(await send(charset, Buffer.from(json))).toMatchObject(unsupported);
    expect(await send('utf-16le', Buffer.from(json, 'utf16le'))).toMatchObject(unsupported);
    expect((await call('GET', `/contacts/${subject}/interactions`)).body.items).toEqual([]);
    expect((await send('utf-8', Buffer.from(json))).status).toBe(201);
  });

  it('creates a contact once for requests repeated with one Idempotency-Key; the key with another body is 422', async () => {
    const key = { 'idempotency-key': `create-${Date.now()}` };
    const first = await call('POST', '/contacts', { name: 'Once Only' }, key);
    expect(first.status).toBe(201);
    expect(await call('POST', '/contacts', { name: 'Once Only' }, key)).toEqual(first); // a retry after a lost answer
    expect((await call('GET', '/contacts')).body.filter((c: { name: string }) => c.name === 'Once Only')).toHaveLength(1);
    expect(await call('POST', '/contacts', { name: 'Someone else' }, key)).toEqual({ status: 422, body: { errors: { idempotencyKey: ['was already used for a different request'] } } });
    expect((await call('POST', '/contacts', { name: 'Once Only' })).body.uuid).not.toBe(first.body.uuid); // no key: a new contact
    expect(await call('POST', '/contacts', { name: 'x' }, { 'idempotency-key': '' })).toEqual({ status: 422, body: { errors: { idempotencyKey: ['must be 1 to 200 characters'] } } });
  });

  it('takes repeated contactUuids as one list, and refuses other repeated parameters', async () => {
    const [ada, bob] = [await contact('Ada'), await contact('Bob')];
    const a = (await call('POST', '/interactions', { contactUuid: ada, occurredAt: '2026-01-01T00:00:00Z' })).body;
    const b = (await call('POST', '/interactions', { contactUuid: bob, occurredAt: '2026-01-02T00:00:00Z' })).body;

    const repeated = await call('GET', `/interactions?contactUuids=${ada}&contactUuids=${bob.toUpperCase()}`);
    expect(repeated.status).toBe(200);
    expect(repeated.body.items.map((i: { uuid: string }) => i.uuid)).toEqual([b.uuid, a.uuid]);

    const once = { status: 422, body: { errors: { limit: ['must be given at most once'] } } };
    expect(await call('GET', `/interactions?contactUuids=${ada}&limit=1&limit=2`)).toEqual(once);
    expect(await call('GET', `/contacts/${ada}/interactions?limit=1&limit=2`)).toEqual(once);
    expect(await call('GET', `/contacts/${ada}/interactions?after=a&after=b`)).toEqual({
      status: 422,
      body: { errors: { after: ['must be given at most once'] } },
    });
    expect(await call('GET', `/interactions?contactUuids=${ada}&after=a&after=b`)).toEqual({
      status: 422,
      body: { errors: { after: ['must be given at most once'] } },
    });
    // types is a list: repeated, it is one list (feeds.http.spec.ts has the rest of the feeds' parameters).
    expect((await call('GET', `/interactions?contactUuids=${ada},${bob}&types=note&types=call`)).body.items).toHaveLength(2);
    expect((await call('GET', `/interactions?contactUuids=${ada},${bob}&types=email&types=call`)).body.items).toHaveLength(0);
    expect(await call('GET', `/interactions/${a.uuid}/as-of?at=2026-01-01T00:00:00Z&at=2026-01-02T00:00:00Z`)).toEqual({
      status: 422,
      body: { errors: { at: ['must be given at most once'] } },
    });
    expect((await call('GET', `/interactions?contactUuids[x]=${ada}`)).status).toBe(422);
  });

  it('answers 422 for limits that are not decimal integers 1..1000, also ""', async () => {
    const ada = await contact('Ada');
    for (const limit of ['abc', '1e3', '', '1.0', '0', '1001', '-1', ' 5', '99999999999999999999']) {
      const expected = { status: 422, body: { errors: { limit: [LIMIT_MESSAGE] } } };
      expect(await call('GET', `/interactions?contactUuids=${ada}&limit=${encodeURIComponent(limit)}`)).toEqual(expected);
      expect(await call('GET', `/contacts/${ada}/interactions?limit=${encodeURIComponent(limit)}`)).toEqual(expected);
      expect(await call('GET', `/interactions/recent?limit=${encodeURIComponent(limit)}`)).toEqual(expected);
    }
    expect((await call('GET', `/contacts/${ada}/interactions?limit=1000`)).status).toBe(200);
  });

  it('answers 422 for a cursor whose timestamps are outside the years 0001–9999', async () => {
    const ada = await contact('Ada');
    const uuid = '01900000-0000-7000-8000-0000000000a1';
    for (const key of [[8.64e15 + 1, 0, uuid], [0, 253402300800000, uuid], [-62135596800001, 0, uuid]]) {
      const after = Buffer.from(JSON.stringify(key)).toString('base64url');
      for (const path of [`/contacts/${ada}/interactions`, `/interactions?contactUuids=${ada}&`, '/interactions/recent']) {
        expect(await call('GET', `${path}${path.endsWith('&') ? '' : '?'}after=${after}`)).toEqual({
          status: 422,
          body: { errors: { after: ['is not a valid cursor'] } },
        });
      }
    }
  });

  it('answers 422 for an as-of time outside the years 0001–9999', async () => {
    const ada = await contact('Ada');
    const { uuid } = (await call('POST', '/interactions', { contactUuid: ada })).body;
    for (const at of ['+275760-09-13T00:00:00Z', '0000-01-01', 'yesterday', '']) {
      expect(await call('GET', `/interactions/${uuid}/as-of?at=${encodeURIComponent(at)}`)).toEqual({
        status: 422,
        body: { errors: { at: ['is not a valid date'] } },
      });
    }
  });

  it('leaves parties untouched for "parties": null, as the service does; [] clears them', async () => {
    const ada = await contact('Ada');
    const created = (await call('POST', '/interactions', { contactUuid: ada, parties: [{ rawName: 'Walk-in' }] })).body;
    const untouched = await call('PATCH', `/interactions/${created.uuid}`, { subject: 'x', parties: null });
    expect(untouched.status).toBe(200);
    expect(untouched.body.parties).toEqual(created.parties);
    expect((await call('PATCH', `/interactions/${created.uuid}`, { parties: [] })).body.parties).toEqual([]);
  });

  it('finds, changes and deletes an interaction by its uuid in any letter case', async () => {
    const ada = await contact('Ada');
    const created = (await call('POST', '/interactions', { contactUuid: ada.toUpperCase(), fileUuids: ['550E8400-E29B-41D4-A716-446655440000'] })).body;
    expect(created.contactUuid).toBe(ada);
    expect(created.fileUuids).toEqual(['550e8400-e29b-41d4-a716-446655440000']);
    const upper = created.uuid.toUpperCase();
    expect((await call('GET', `/interactions/${upper}`)).status).toBe(200);
    expect((await call('PATCH', `/interactions/${upper}`, { subject: 'changed' })).body).toMatchObject({ uuid: created.uuid, subject: 'changed' });
    expect((await call('GET', `/interactions/${upper}/history`)).body).toHaveLength(3);
    expect((await call('GET', `/contacts/${ada.toUpperCase()}/interaction-uuids`)).body).toEqual([created.uuid]);
    expect((await call('DELETE', `/interactions/${upper}`)).status).toBe(200);
    expect((await call('GET', `/interactions/${created.uuid}`)).status).toBe(404);
  });

  it('documents the Idempotency-Key header on every command route', async () => {
    const openapi = (await call('GET', '/docs-json')).body;
    const operations = [openapi.paths['/interactions'].post, openapi.paths['/interactions/{uuid}'].patch, openapi.paths['/interactions/{uuid}'].delete];
    for (const operation of operations) {
      const headers = operation.parameters.filter((p: { in: string }) => p.in === 'header').map((p: { name: string }) => p.name);
      expect(headers).toEqual(expect.arrayContaining(['Idempotency-Key', 'x-request-id', 'x-actor-uuid']));
    }
  });
});

describe('the demo controller passes request headers on as command options', () => {
  const calls: Array<{ method: string; opts: CommandOptions }> = [];
  const record = (method: string) => async (...args: unknown[]) => {
    calls.push({ method, opts: args[args.length - 1] as CommandOptions });
    return {};
  };
  const service = {
    createInteraction: record('create'),
    updateInteraction: record('update'),
    deleteInteraction: record('delete'),
  } as unknown as InteractionsService;
  const controller = new InteractionsController(service);
  const ACTOR = '0190d6b4-5c1e-7000-8000-0000000000aa';
  const UUID = '0190d6b4-5c1e-7000-8000-0000000000bb';

  beforeEach(() => calls.splice(0));

  it('Idempotency-Key as idempotencyKey, x-request-id as correlationId, on POST, PATCH and DELETE', async () => {
    await controller.create({ contactUuid: UUID }, ACTOR, 'req-1', 'key-1');
    await controller.update(UUID, { subject: 'x' }, ACTOR, 'req-2', 'key-2');
    await controller.delete(UUID, ACTOR, 'req-3', 'key-3');
    expect(calls).toEqual([
      { method: 'create', opts: { actorUuid: ACTOR, correlationId: 'req-1', idempotencyKey: 'key-1' } },
      { method: 'update', opts: { actorUuid: ACTOR, correlationId: 'req-2', idempotencyKey: 'key-2' } },
      { method: 'delete', opts: { actorUuid: ACTOR, correlationId: 'req-3', idempotencyKey: 'key-3' } },
    ]);
  });

  it('leaves the options out when the headers are absent, and passes "" on for the module to refuse', async () => {
    await controller.delete(UUID, undefined, undefined, undefined);
    await controller.create({ contactUuid: UUID }, undefined, undefined, '');
    expect(calls).toEqual([
      { method: 'delete', opts: { actorUuid: null } },
      { method: 'create', opts: { actorUuid: null, idempotencyKey: '' } },
    ]);
  });
});
