import { uuidv7 } from 'uuidv7';
import { SAMPLE_CONTACT_UUIDS } from '../../src/demo/sample-data';
import { DATABASE } from '../../src/nest/tokens';
import { Database } from '../../src/ports/database';
import { STATE_CHANGING } from '../../src/demo/request-checks';
import { call, checkAnswer, DemoUnderTest, startDemoApp } from './demo-app';

/**
 * Every route of the demo host, its answer and each error the document gives it, checked against the
 * host's own OpenAPI document (`call` and `send` validate every answer's status and body with Ajv); then
 * that every documented status was seen. Only 500 and 503 are not provoked here (a fault, and the
 * database down: test/demo/connection-faults.spec.ts).
 */
describe('the OpenAPI document describes every answer of the demo host', () => {
  let demo: DemoUnderTest;
  const ada = SAMPLE_CONTACT_UUIDS.ada;
  const grace = SAMPLE_CONTACT_UUIDS.grace;
  const actor = { 'x-actor-uuid': '0190d6b4-5c1e-7000-8000-0000000000aa' };
  const badActor = { 'x-actor-uuid': 'nope' };

  /** A request with a raw body (not JSON, too large) or an answer that is not JSON, checked like `call`'s. */
  async function send(method: string, path: string, body?: string | Uint8Array, contentType = 'application/json'): Promise<{ status: number; text: string }> {
    const response = await fetch(`${demo.base}${path}`, { method, headers: { 'content-type': contentType }, ...(body !== undefined && { body }) });
    const text = await response.text();
    checkAnswer(demo, method, path, response, text);
    return { status: response.status, text };
  }
  const statusOf = async (...args: Parameters<typeof call> extends [unknown, ...infer R] ? R : never) => (await call(demo, ...args)).status;
  const example = (component: string) => demo.document.components.schemas[component] as { example: unknown };

  beforeAll(async () => {
    demo = await startDemoApp(undefined, { sampleData: true });
  });
  afterAll(() => demo?.close());

  it('names every JSON body, asked or answered, as a component', () => {
    const bodies = Object.entries(demo.document.paths).flatMap(([path, operations]) =>
      Object.entries(operations).flatMap(([method, operation]) => {
        const { requestBody } = operation as { requestBody?: { content: Record<string, { schema: object }> } };
        const answers = Object.entries(operation.responses).map(([status, { content }]) => [`${method} ${path} ${status}`, content] as const);
        return [...(requestBody ? [[`${method} ${path} body`, requestBody.content] as const] : []), ...answers];
      }),
    );
    const inline = bodies.filter(([, content]) => content?.['application/json'] && !('$ref' in (content['application/json'].schema ?? {})));
    expect(inline.map(([where]) => where)).toEqual([]);
    expect(bodies.filter(([, content]) => !content).map(([where]) => where)).toEqual([]);
    expect(demo.document.openapi).toBe('3.1.0');
  });

  it('has no component that refers to itself, directly or through others (client generators without recursion take it)', () => {
    const { schemas } = demo.document.components;
    const refsOf = (name: string) => [...JSON.stringify(schemas[name]).matchAll(/"#\/components\/schemas\/([^"]+)"/g)].map((match) => match[1]!);
    const reached = (from: string, seen = new Set<string>()): Set<string> => {
      for (const to of refsOf(from).filter((name) => !seen.has(name))) reached(to, seen.add(to));
      return seen;
    };
    expect(Object.keys(schemas).filter((name) => reached(name).has(name))).toEqual([]);
  });

  it('refuses an answer the document does not describe', () => {
    const answer = (status: number, body: unknown) => new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
    const check = (status: number, body: unknown) => () => checkAnswer(demo, 'GET', `/interactions/${ada}`, answer(status, body), JSON.stringify(body));
    expect(check(200, { uuid: ada })).toThrow(/does not match the document/);
    expect(check(404, { error: 'Not Found' })).toThrow(/does not match the document/);
    expect(check(409, { error: 'Conflict', message: 'x', actualVersion: 1 })).toThrow(/a status the document does not give/);
    expect(check(404, { error: 'Not Found', message: 'x' })).not.toThrow();
  });

  it('answers the examples of the document with the sample data', async () => {
    const created = await call(demo, 'POST', '/interactions', example('NewInteraction').example, actor);
    expect(created.status).toBe(201);
    const changes = { ...(example('InteractionChanges').example as object), expectedVersion: created.body.version };
    expect(await statusOf('PATCH', `/interactions/${created.body.uuid}`, changes)).toBe(200);
    expect((await call(demo, 'GET', `/contacts/${ada}/interactions?types=call&from=2026-01-01`)).body.items.length).toBeGreaterThan(0);
    expect(await statusOf('GET', `/contacts/${ada}/interactions/counts`)).toBe(200);
    expect(await statusOf('GET', `/interactions?contactUuids=${ada}`)).toBe(200);
    expect(await statusOf('PATCH', `/contacts/${ada}`, example('ContactChanges').example)).toBe(200);
    expect(await statusOf('POST', '/contacts', example('NewContact').example)).toBe(201);
    expect(await statusOf('GET', '/parties/unresolved?name=Their%20lawyer')).toBe(200);
  });

  it("shows in the history, as documented, the events the module cannot read", async () => {
    const { body: created } = await call(demo, 'POST', '/interactions', { contactUuid: ada });
    const stream = `interaction-${created.uuid}`;
    const metadata = JSON.stringify({ actorUuid: null, correlationId: 'written-elsewhere', causationId: null, recordedAt: new Date().toISOString() });
    const append = (type: string, data: unknown) =>
      demo.app.get<symbol, Database>(DATABASE, { strict: false }).query(
        `INSERT INTO events (event_id, stream_name, stream_revision, event_type, data, metadata)
         SELECT $1, $2, max(stream_revision) + 1, $3, $4::jsonb, $5::jsonb FROM events WHERE stream_name = $2`,
        [uuidv7(), stream, type, JSON.stringify(data), metadata],
      );
    await append('InteractionArchived', { interactionUuid: created.uuid }); // a type of a newer version
    await append('InteractionUpdated', 'not an object');

    const { status, body } = await call(demo, 'GET', `/interactions/${created.uuid}/history`);
    expect(status).toBe(200);
    expect(body[0].type).toBe('InteractionLogged');
    expect(body.slice(-2).map(({ type, data }: { type: string; data: unknown }) => [type, data])).toEqual([
      ['InteractionArchived', { interactionUuid: created.uuid }],
      ['InteractionUpdated', 'not an object'],
    ]);
  });

  it('answers every route and its errors as documented', async () => {
    const big = JSON.stringify({ contactUuid: ada, body: 'x'.repeat(300_000) });
    // Interactions
    const { body: created } = await call(demo, 'POST', '/interactions', { contactUuid: ada, interactionType: 'call', parties: [{ rawName: 'Someone' }] });
    const uuid = created.uuid as string;
    expect(await statusOf('POST', '/interactions', { subject: 'no contact' })).toBe(422);
    expect((await send('POST', '/interactions', '{"contactUuid":')).status).toBe(400);
    expect((await send('POST', '/interactions', big)).status).toBe(413);
    expect((await send('POST', '/interactions', '{}', 'application/json; charset=iso-8859-1')).status).toBe(415);
    // Bytes that are not UTF-8 (a Latin-1 ÿ) in a body said to be UTF-8: refused, never stored as U+FFFD.
    const latin1 = Buffer.concat([Buffer.from(`{"contactUuid":"${ada}","subject":"`), Buffer.from([0xff]), Buffer.from('"}')]);
    expect(await send('POST', '/interactions', latin1)).toEqual({
      status: 415,
      text: JSON.stringify({ error: 'Unsupported Media Type', message: 'the request body was not understood' }),
    });
    // A body that is not JSON is not echoed back (a form posted by mistake may hold a password).
    const form = await send('POST', '/interactions', 'password=hunter2&token=sk_live_abc');
    expect(form).toEqual({ status: 400, text: JSON.stringify({ error: 'Bad Request', message: 'the request body was not understood' }) });
    expect(await statusOf('GET', `/interactions/${uuid}`)).toBe(200);
    expect(await statusOf('GET', `/interactions/${uuidv7()}`)).toBe(404);
    expect(await statusOf('PATCH', `/interactions/${uuid}`, { subject: 'Changed', expectedVersion: 1 }, actor)).toBe(200);
    expect(await statusOf('PATCH', `/interactions/${uuid}`, { subject: 'Stale', expectedVersion: 1 })).toBe(409);
    expect(await statusOf('PATCH', `/interactions/${uuid}`, { subject: 42 })).toBe(422);
    expect(await statusOf('PATCH', `/interactions/${uuidv7()}`, { subject: 'x' })).toBe(404);
    expect((await send('PATCH', `/interactions/${uuid}`, '{')).status).toBe(400);
    expect((await send('PATCH', `/interactions/${uuid}`, big)).status).toBe(413);
    expect((await send('PATCH', `/interactions/${uuid}`, '{}', 'application/json; charset=iso-8859-1')).status).toBe(415);
    expect(await statusOf('PUT', `/interactions/${uuid}/parties/0/link`, { contactUuid: grace })).toBe(200);
    expect(await statusOf('PUT', `/interactions/${uuid}/parties/9/link`, { contactUuid: grace })).toBe(422);
    expect(await statusOf('PUT', `/interactions/${uuidv7()}/parties/0/link`, { contactUuid: grace })).toBe(404);
    expect((await send('PUT', `/interactions/${uuid}/parties/0/link`, '{')).status).toBe(400);
    expect((await send('PUT', `/interactions/${uuid}/parties/0/link`, big)).status).toBe(413);
    expect((await send('PUT', `/interactions/${uuid}/parties/0/link`, '{}', 'application/json; charset=iso-8859-1')).status).toBe(415);
    expect(await statusOf('GET', `/interactions/${uuid}/history`)).toBe(200);
    expect(await statusOf('GET', `/interactions/${uuidv7()}/history`)).toBe(404);
    expect(await statusOf('GET', `/interactions/${uuid}/as-of?at=${new Date(Date.now() + 60_000).toISOString()}`)).toBe(200);
    expect(await statusOf('GET', `/interactions/${uuid}/as-of?at=2000-01-01`)).toBe(404);
    expect(await statusOf('GET', `/interactions/${uuid}/as-of?at=soon`)).toBe(422);
    expect(await statusOf('DELETE', `/interactions/${uuid}`, undefined, badActor)).toBe(422);
    expect(await statusOf('DELETE', `/interactions/${uuid}`)).toBe(200);
    expect(await statusOf('DELETE', `/interactions/${uuid}`)).toBe(404);
    // Feeds and counts
    expect(await statusOf('GET', `/interactions?contactUuids=${ada},${grace}&limit=1`)).toBe(200);
    expect(await statusOf('GET', '/interactions')).toBe(422);
    expect(await statusOf('GET', '/interactions/recent?types=call,meeting')).toBe(200);
    expect(await statusOf('GET', '/interactions/recent?limit=abc')).toBe(422);
    expect(await statusOf('GET', `/contacts/${grace}/interactions?q=pilot`)).toBe(200);
    expect(await statusOf('GET', `/contacts/${grace}/interactions?from=never`)).toBe(422);
    expect(await statusOf('GET', `/contacts/${grace}/interactions/counts?types=meeting`)).toBe(200);
    expect(await statusOf('GET', `/contacts/${grace}/interactions/counts?owner=nope`)).toBe(422);
    expect(await statusOf('GET', `/contacts/${grace}/interaction-uuids`)).toBe(200);
    expect(await statusOf('GET', '/contacts/nope/interaction-uuids')).toBe(200); // [] (no subject is malformed)
    expect(await statusOf('GET', '/parties/unresolved?email=lawyer@example.com')).toBe(200);
    expect(await statusOf('GET', '/parties/unresolved')).toBe(422);
    // Contacts and their lifecycle
    expect(await statusOf('GET', '/contacts')).toBe(200);
    const { body: dana } = await call(demo, 'POST', '/contacts', { name: 'Dana' });
    const { body: eve } = await call(demo, 'POST', '/contacts', { name: 'Eve' });
    await call(demo, 'POST', '/interactions', { contactUuid: dana.uuid, parties: [{ rawName: 'Eve', contactUuid: eve.uuid }] });
    expect(await statusOf('POST', '/contacts', { email: 'not an address' })).toBe(422);
    expect((await send('POST', '/contacts', '{')).status).toBe(400);
    expect((await send('POST', '/contacts', big)).status).toBe(413);
    expect((await send('POST', '/contacts', '{}', 'application/json; charset=iso-8859-1')).status).toBe(415);
    expect(await statusOf('PATCH', `/contacts/${dana.uuid}`, { company: 'Acme' })).toBe(200);
    expect(await statusOf('PATCH', `/contacts/${dana.uuid}`, { email: 'nope' })).toBe(422);
    expect(await statusOf('PATCH', `/contacts/${uuidv7()}`, { name: 'x' })).toBe(404);
    expect((await send('PATCH', `/contacts/${dana.uuid}`, '{')).status).toBe(400);
    expect((await send('PATCH', `/contacts/${dana.uuid}`, big)).status).toBe(413);
    expect((await send('PATCH', `/contacts/${dana.uuid}`, '{}', 'application/json; charset=iso-8859-1')).status).toBe(415);
    expect(await statusOf('POST', `/contacts/${dana.uuid}/merge`, { intoUuid: dana.uuid })).toBe(422);
    expect(await statusOf('POST', `/contacts/${uuidv7()}/merge`, { intoUuid: eve.uuid })).toBe(404);
    expect((await send('POST', `/contacts/${dana.uuid}/merge`, '{')).status).toBe(400);
    expect((await send('POST', `/contacts/${dana.uuid}/merge`, big)).status).toBe(413);
    expect((await send('POST', `/contacts/${dana.uuid}/merge`, '{}', 'application/json; charset=iso-8859-1')).status).toBe(415);
    expect(await statusOf('POST', `/contacts/${dana.uuid}/merge`, { intoUuid: eve.uuid }, actor)).toBe(200);
    expect(await statusOf('DELETE', `/contacts/${eve.uuid}`, undefined, badActor)).toBe(422);
    expect(await statusOf('DELETE', `/contacts/${eve.uuid}`)).toBe(200);
    expect(await statusOf('DELETE', `/contacts/${eve.uuid}`)).toBe(404);
    expect(await statusOf('POST', `/contacts/${grace}/forget`)).toBe(200);
    expect(await statusOf('POST', '/contacts/nope/forget')).toBe(422);
    // A path parameter that cannot be percent-decoded, on every route that has one
    for (const [path, operations] of Object.entries(demo.document.paths).filter(([route]) => route.includes('{uuid}'))) {
      for (const method of Object.keys(operations).map((m) => m.toUpperCase())) {
        const sent = path.replace('{uuid}', '%ZZ').replace(/\{\w+\}/g, '0');
        const { status, body } = await call(demo, method, sent, method === 'GET' || method === 'DELETE' ? undefined : {});
        expect([method, sent, status, body]).toEqual([method, sent, 400, { error: 'Bad Request', message: 'the path cannot be percent-decoded' }]);
      }
    }
    // Every state-changing route: a browser's request from another site, and a body that is not JSON
    for (const [path, operations] of Object.entries(demo.document.paths)) {
      for (const method of Object.keys(operations).map((m) => m.toUpperCase()).filter((m) => STATE_CHANGING.includes(m))) {
        const sent = path.replace('{uuid}', uuidv7()).replace(/\{\w+\}/g, '0');
        expect([method, sent, await statusOf(method, sent, {}, { origin: 'https://elsewhere.example' })]).toEqual([method, sent, 403]);
        expect([method, sent, (await send(method, sent, 'name=x', 'application/x-www-form-urlencoded')).status]).toEqual([method, sent, 415]);
      }
    }
    // The host
    expect(await statusOf('GET', '/health')).toBe(200);
    expect((await send('GET', '/metrics')).status).toBe(200);
    expect(await statusOf('GET', '/no/such/route')).toBe(404);

    const unseen = Object.values(demo.document.paths).flatMap((operations) =>
      Object.values(operations).flatMap(({ operationId, responses }) =>
        Object.keys(responses)
          .filter((status) => status !== '500' && status !== '503')
          .map((status) => `${operationId} ${status}`)
          .filter((answer) => !demo.answered.has(answer)),
      ),
    );
    expect(unseen).toEqual([]);
  });
});
