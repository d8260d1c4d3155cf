import { uuidv7 } from 'uuidv7';
import { DemoUnderTest, call, startDemoApp } from './demo-app';
import { BACKENDS } from '../support/backends';

/** Late linking over the demo host's HTTP API: GET /parties/unresolved, PUT …/parties/:position/link. */
describe.each(BACKENDS.map((backend) => [backend.name, backend] as const))('late linking over HTTP on %s', (_name, backend) => {
  let demo: DemoUnderTest;
  beforeAll(async () => (demo = await startDemoApp(backend)));
  afterAll(async () => {
    await demo?.close();
    // No answer of the suite, error or not, carried a stack trace.
    for (const text of demo?.answerTexts ?? []) expect(text).not.toMatch(/\n\s+at |\.ts:\d+/);
  });

  async function contact(name: string): Promise<string> {
    const { status, body } = await call(demo, 'POST', '/contacts', { name });
    expect(status).toBe(201);
    return body.uuid;
  }

  it('finds free-text parties by name or email and links one', async () => {
    const subject = await contact('Subject');
    const created = await call(demo, 'POST', '/interactions', {
      contactUuid: subject,
      occurredAt: '2026-04-01T10:00:00Z',
      parties: [{ rawName: 'Dána   Scott' }, { rawName: 'Office <Dana.Scott@Example.com>' }],
    });
    expect(created.status).toBe(201);
    const uuid = created.body.uuid;

    const byName = await call(demo, 'GET', `/parties/unresolved?name=${encodeURIComponent(' dana scott ')}`);
    expect(byName).toMatchObject({
      status: 200,
      body: [{ interactionUuid: uuid, position: 0, rawName: 'Dána   Scott', occurredAt: '2026-04-01T10:00:00.000Z' }],
    });
    const byEmail = await call(demo, 'GET', '/parties/unresolved?email=DANA.SCOTT@example.com&limit=5');
    expect(byEmail.body.map((p: { position: number }) => p.position)).toEqual([1]);

    const dana = await contact('Dana Scott');
    const actor = uuidv7();
    const linked = await call(demo, 'PUT', `/interactions/${uuid}/parties/0/link`, { contactUuid: dana }, { 'x-actor-uuid': actor, 'Idempotency-Key': 'link-dana' });
    expect(linked.status).toBe(200);
    expect(linked.body.parties[0]).toMatchObject({ rawName: 'Dána   Scott', contactUuid: dana, snapshot: { source: 'crm_contact', name: 'Dana Scott' } });
    const repeat = await call(demo, 'PUT', `/interactions/${uuid}/parties/0/link`, { contactUuid: dana }, { 'x-actor-uuid': actor, 'Idempotency-Key': 'link-dana' });
    expect(repeat).toMatchObject({ status: 200, body: linked.body });
    const history = await call(demo, 'GET', `/interactions/${uuid}/history`);
    expect(history.body.map((e: { type: string }) => e.type)).toEqual(['InteractionLogged', 'PartiesRebuilt', 'PartyLinked']);
    expect(history.body[2].metadata.actorUuid).toBe(actor);
    expect((await call(demo, 'GET', '/parties/unresolved?name=dana%20scott')).body).toEqual([]);

    const staff = await call(demo, 'PUT', `/interactions/${uuid}/parties/1/link`, { staffPersonUuid: uuidv7() });
    expect(staff).toMatchObject({ status: 200, body: { parties: [{}, { staffPersonUuid: expect.any(String), snapshot: { source: 'staff' } }] } });
  });

  it('answers 404 and 422 as the service errors map', async () => {
    const subject = await contact('Subject');
    const { body: interaction } = await call(demo, 'POST', '/interactions', { contactUuid: subject, parties: [{ rawName: 'Walk-in' }] });
    const link = (position: string, body: unknown) => call(demo, 'PUT', `/interactions/${interaction.uuid}/parties/${position}/link`, body);
    const dana = await contact('Dana');
    expect((await call(demo, 'PUT', `/interactions/${uuidv7()}/parties/0/link`, { contactUuid: dana })).status).toBe(404);
    expect((await call(demo, 'PUT', '/interactions/nope/parties/0/link', { contactUuid: dana })).status).toBe(404);
    expect(await link('x', { contactUuid: dana })).toMatchObject({ status: 422, body: { errors: { position: ['must be a non-negative integer'] } } });
    expect(await link('-1', { contactUuid: dana })).toMatchObject({ status: 422, body: { errors: { position: ['must be a non-negative integer'] } } });
    expect(await link('1', { contactUuid: dana })).toMatchObject({ status: 422, body: { errors: { position: ['does not exist'] } } });
    expect(await link('0', {})).toMatchObject({ status: 422, body: { errors: { ref: ['must have a contactUuid or a staffPersonUuid'] } } });
    expect(await link('0', [])).toMatchObject({ status: 422, body: { errors: { body: ['must be a JSON object'] } } });
    expect(await link('0', { contactUuid: dana, staffPersonUuid: uuidv7() })).toMatchObject({
      status: 422,
      body: { errors: { contactUuid: ['cannot resolve to both a contact and a staff person'] } },
    });
    expect(await link('0', { contactUuid: uuidv7() })).toMatchObject({ status: 422, body: { errors: { contactUuid: ['does not exist'] } } });
    expect((await call(demo, 'GET', '/parties/unresolved')).body).toEqual({ errors: { name: ['or email is required'] } });
    expect((await call(demo, 'GET', '/parties/unresolved?name=a&name=b')).body).toEqual({ errors: { name: ['must be given at most once'] } });
    expect((await call(demo, 'GET', '/parties/unresolved?name=a&limit=1e3')).status).toBe(422);
    expect((await call(demo, 'GET', '/parties/unresolved?email=nope')).body).toEqual({ errors: { email: ['must be an email address'] } });
  });

  it('documents both routes in the OpenAPI document', async () => {
    const { body } = await call(demo, 'GET', '/docs-json');
    expect(body.paths['/parties/unresolved'].get).toBeDefined();
    expect(body.paths['/interactions/{uuid}/parties/{position}/link'].put).toBeDefined();
  });
});
