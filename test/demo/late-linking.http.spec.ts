import { uuidv7 } from 'uuidv7';
import { DemoUnderTest, startDemoApp } from './demo-app';
import { BACKENDS } from '../support/backends';

interface Answer {
  status: number;
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any -- JSON from the wire
  text: string;
}

/** Late linking over the demo host's HTTP API: GET /parties/unresolved, PUT …/parties/:position/link. */
describe.each(BACKENDS.map((backend) => [backend.name, backend] as const))('late linking over HTTP on %s', (_name, backend) => {
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
    const { status, body } = await call('POST', '/contacts', { name });
    expect(status).toBe(201);
    return body.uuid;
  }

  beforeAll(async () => {
    demo = await startDemoApp(backend);
    base = demo.base;
  });

  afterAll(async () => {
    await demo?.close();
    for (const answer of answers) expect(answer.text).not.toMatch(/\n\s+at |\.ts:\d+/);
  });

  it('finds free-text parties by name or email and links one', async () => {
    const subject = await contact('Subject');
    const created = await call('POST', '/interactions', {
      contactUuid: subject,
      occurredAt: '2026-04-01T10:00:00Z',
      parties: [{ rawName: 'Dána   Scott' }, { rawName: 'Office <Dana.Scott@Example.com>' }],
    });
    expect(created.status).toBe(201);
    const uuid = created.body.uuid;

    const byName = await call('GET', `/parties/unresolved?name=${encodeURIComponent(' dana scott ')}`);
    expect(byName).toMatchObject({
      status: 200,
      body: [{ interactionUuid: uuid, position: 0, rawName: 'Dána   Scott', occurredAt: '2026-04-01T10:00:00.000Z' }],
    });
    const byEmail = await call('GET', '/parties/unresolved?email=DANA.SCOTT@example.com&limit=5');
    expect(byEmail.body.map((p: { position: number }) => p.position)).toEqual([1]);

    const dana = await contact('Dana Scott');
    const actor = uuidv7();
    const linked = await call('PUT', `/interactions/${uuid}/parties/0/link`, { contactUuid: dana }, { 'x-actor-uuid': actor, 'Idempotency-Key': 'link-dana' });
    expect(linked.status).toBe(200);
    expect(linked.body.parties[0]).toMatchObject({ rawName: 'Dána   Scott', contactUuid: dana, snapshot: { source: 'crm_contact', name: 'Dana Scott' } });
    const repeat = await call('PUT', `/interactions/${uuid}/parties/0/link`, { contactUuid: dana }, { 'x-actor-uuid': actor, 'Idempotency-Key': 'link-dana' });
    expect(repeat).toMatchObject({ status: 200, body: linked.body });
    const history = await call('GET', `/interactions/${uuid}/history`);
    expect(history.body.map((e: { type: string }) => e.type)).toEqual(['InteractionLogged', 'PartiesRebuilt', 'PartyLinked']);
    expect(history.body[2].metadata.actorUuid).toBe(actor);
    expect((await call('GET', '/parties/unresolved?name=dana%20scott')).body).toEqual([]);

    const staff = await call('PUT', `/interactions/${uuid}/parties/1/link`, { staffPersonUuid: uuidv7() });
    expect(staff).toMatchObject({ status: 200, body: { parties: [{}, { staffPersonUuid: expect.any(String), snapshot: { source: 'staff' } }] } });
  });

  it('answers 404 and 422 as the service errors map', async () => {
    const subject = await contact('Subject');
    const { body: interaction } = await call('POST', '/interactions', { contactUuid: subject, parties: [{ rawName: 'Walk-in' }] });
    const link = (position: string, body: unknown) => call('PUT', `/interactions/${interaction.uuid}/parties/${position}/link`, body);
    const dana = await contact('Dana');
    expect((await call('PUT', `/interactions/${uuidv7()}/parties/0/link`, { contactUuid: dana })).status).toBe(404);
    expect((await call('PUT', '/interactions/nope/parties/0/link', { contactUuid: dana })).status).toBe(404);
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
    expect((await call('GET', '/parties/unresolved')).body).toEqual({ errors: { name: ['or email is required'] } });
    expect((await call('GET', '/parties/unresolved?name=a&name=b')).body).toEqual({ errors: { name: ['must be given at most once'] } });
    expect((await call('GET', '/parties/unresolved?name=a&limit=1e3')).status).toBe(422);
    expect((await call('GET', '/parties/unresolved?email=nope')).body).toEqual({ errors: { email: ['must be an email address'] } });
  });

  it('documents both routes in the OpenAPI document', async () => {
    const { body } = await call('GET', '/docs-json');
    expect(body.paths['/parties/unresolved'].get).toBeDefined();
    expect(body.paths['/interactions/{uuid}/parties/{position}/link'].put).toBeDefined();
  });
});
