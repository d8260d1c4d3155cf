import { uuidv7 } from 'uuidv7';
import { DemoUnderTest, startDemoApp } from './demo-app';

/** DELETE /contacts/:uuid, POST /contacts/:uuid/merge and POST /contacts/:uuid/forget on the demo host (PostgreSQL). */
describe("contacts' lifecycle over HTTP", () => {
  let demo: DemoUnderTest;
  beforeAll(async () => (demo = await startDemoApp()));
  afterAll(() => demo.close());

  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- JSON from the wire
  async function call(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: any }> {
    const response = await fetch(`${demo.base}${path}`, {
      method,
      headers: { 'content-type': 'application/json', ...headers },
      ...(body !== undefined && { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    return { status: response.status, body: text ? JSON.parse(text) : null };
  }
  const contact = async (name: string): Promise<string> => (await call('POST', '/contacts', { name })).body.uuid;

  it('deletes a contact with its interactions and unlinks it elsewhere', async () => {
    const gone = await contact('Gone');
    const other = await contact('Other');
    const own = (await call('POST', '/interactions', { contactUuid: gone })).body;
    const elsewhere = (await call('POST', '/interactions', { contactUuid: other, parties: [{ rawName: 'Gone', contactUuid: gone }] })).body;
    const actor = uuidv7();
    expect(await call('DELETE', `/contacts/${gone}`, undefined, { 'x-actor-uuid': actor })).toEqual({ status: 200, body: { interactions: 2 } });
    expect((await call('GET', `/interactions/${own.uuid}`)).status).toBe(404);
    expect((await call('GET', `/interactions/${elsewhere.uuid}`)).body.parties[0]).toMatchObject({ rawName: 'Gone', contactUuid: null });
    const history = (await call('GET', `/interactions/${elsewhere.uuid}/history`)).body;
    expect(history[history.length - 1]).toMatchObject({ type: 'PartiesUnlinked', data: { reason: 'contact_deleted' }, metadata: { actorUuid: actor } });
    expect((await call('GET', '/contacts')).body.map((c: { uuid: string }) => c.uuid)).not.toContain(gone);
    expect((await call('DELETE', `/contacts/${gone}`)).status).toBe(404);
    expect((await call('DELETE', '/contacts/nope')).status).toBe(404);
  });

  it('merges a contact into another', async () => {
    const from = await contact('Dup');
    const into = await contact('Kept');
    const own = (await call('POST', '/interactions', { contactUuid: from })).body;
    expect((await call('POST', `/contacts/${from}/merge`, { intoUuid: from })).body).toEqual({ errors: { intoUuid: ['must differ from fromUuid'] } });
    expect((await call('POST', `/contacts/${from}/merge`, { intoUuid: uuidv7() })).body).toEqual({ errors: { intoUuid: ['does not exist'] } });
    expect((await call('POST', `/contacts/${from}/merge`, {})).status).toBe(422);
    expect(await call('POST', `/contacts/${from}/merge`, { intoUuid: into })).toEqual({ status: 200, body: { interactions: 1 } });
    expect((await call('GET', `/interactions/${own.uuid}`)).body.contactUuid).toBe(into);
    expect((await call('GET', `/contacts/${from}/interactions`)).body.items).toEqual([]);
    expect((await call('GET', `/contacts/${into}/interactions`)).body.items).toHaveLength(1);
  });

  it('forgets a contact: its interactions gone, its parties "[erased]" in the feed and in history', async () => {
    const forgotten = await contact('Petra Quist');
    const other = await contact('Other');
    const own = (await call('POST', '/interactions', { contactUuid: forgotten, subject: 'Petra Quist renewal' })).body;
    const elsewhere = (
      await call('POST', '/interactions', { contactUuid: other, parties: [{ rawName: 'Petra Q.', contactUuid: forgotten }, { rawName: 'Stays' }] })
    ).body;
    expect((await call('POST', '/contacts/nope/forget')).body).toEqual({ errors: { contactUuid: ['is not a valid UUID'] } });
    expect(await call('POST', `/contacts/${forgotten}/forget`, undefined, { 'idempotency-key': `forget-${forgotten}` })).toEqual({
      status: 200,
      body: { interactions: 2 },
    });
    expect((await call('GET', `/interactions/${own.uuid}`)).status).toBe(404);
    const parties = (await call('GET', `/interactions/${elsewhere.uuid}`)).body.parties;
    expect(parties).toEqual([
      { rawName: '[erased]', contactUuid: null, staffPersonUuid: null, position: 0, snapshot: { source: 'erased', capturedAt: expect.any(String) } },
      elsewhere.parties[1],
    ]);
    const histories = JSON.stringify([
      (await call('GET', `/interactions/${own.uuid}/history`)).body,
      (await call('GET', `/interactions/${elsewhere.uuid}/history`)).body,
    ]);
    expect(histories).not.toMatch(/Petra|Quist/);
    expect((await call('GET', '/contacts')).body.map((c: { uuid: string }) => c.uuid)).not.toContain(forgotten);
    // A repeat (also of a contact the demo no longer has) changes nothing more.
    expect((await call('POST', `/contacts/${forgotten}/forget`)).body).toEqual({ interactions: 0 });
  });

  it('documents the routes in the OpenAPI document', async () => {
    const { paths } = (await call('GET', '/docs-json')).body;
    expect(paths['/contacts/{uuid}'].delete).toBeDefined();
    expect(paths['/contacts/{uuid}/merge'].post).toBeDefined();
    expect(paths['/contacts/{uuid}/forget'].post).toBeDefined();
  });
});
