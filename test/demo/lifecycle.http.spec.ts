import { uuidv7 } from 'uuidv7';
import { DemoUnderTest, call, startDemoApp } from './demo-app';

/** DELETE /contacts/:uuid, POST /contacts/:uuid/merge and POST /contacts/:uuid/forget on the demo host (PostgreSQL). */
describe("contacts' lifecycle over HTTP", () => {
  let demo: DemoUnderTest;
  beforeAll(async () => (demo = await startDemoApp()));
  afterAll(() => demo.close());

  const contact = async (name: string): Promise<string> => (await call(demo, 'POST', '/contacts', { name })).body.uuid;

  it('deletes a contact with its interactions and unlinks it elsewhere', async () => {
    const gone = await contact('Gone');
    const other = await contact('Other');
    const own = (await call(demo, 'POST', '/interactions', { contactUuid: gone })).body;
    const elsewhere = (await call(demo, 'POST', '/interactions', { contactUuid: other, parties: [{ rawName: 'Gone', contactUuid: gone }] })).body;
    const actor = uuidv7();
    expect(await call(demo, 'DELETE', `/contacts/${gone}`, undefined, { 'x-actor-uuid': actor })).toEqual({ status: 200, body: { interactions: 2 } });
    expect((await call(demo, 'GET', `/interactions/${own.uuid}`)).status).toBe(404);
    expect((await call(demo, 'GET', `/interactions/${elsewhere.uuid}`)).body.parties[0]).toMatchObject({ rawName: 'Gone', contactUuid: null });
    const history = (await call(demo, 'GET', `/interactions/${elsewhere.uuid}/history`)).body;
    expect(history[history.length - 1]).toMatchObject({ type: 'PartiesUnlinked', data: { reason: 'contact_deleted' }, metadata: { actorUuid: actor } });
    expect((await call(demo, 'GET', '/contacts')).body.map((c: { uuid: string }) => c.uuid)).not.toContain(gone);
    expect((await call(demo, 'DELETE', `/contacts/${gone}`)).status).toBe(404);
    expect((await call(demo, 'DELETE', '/contacts/nope')).status).toBe(404);
  });

  it('merges a contact into another', async () => {
    const from = await contact('Dup');
    const into = await contact('Kept');
    const own = (await call(demo, 'POST', '/interactions', { contactUuid: from })).body;
    expect((await call(demo, 'POST', `/contacts/${from}/merge`, { intoUuid: from })).body).toEqual({ errors: { intoUuid: ['must differ from fromUuid'] } });
    expect((await call(demo, 'POST', `/contacts/${from}/merge`, { intoUuid: uuidv7() })).body).toEqual({ errors: { intoUuid: ['does not exist'] } });
    expect((await call(demo, 'POST', `/contacts/${from}/merge`, {})).status).toBe(422);
    expect(await call(demo, 'POST', `/contacts/${from}/merge`, { intoUuid: into })).toEqual({ status: 200, body: { interactions: 1 } });
    expect((await call(demo, 'GET', `/interactions/${own.uuid}`)).body.contactUuid).toBe(into);
    expect((await call(demo, 'GET', `/contacts/${from}/interactions`)).body.items).toEqual([]);
    expect((await call(demo, 'GET', `/contacts/${into}/interactions`)).body.items).toHaveLength(1);
  });

  it('forgets a contact: its interactions gone, its parties "[erased]" in the feed and in history', async () => {
    const forgotten = await contact('Petra Quist');
    const other = await contact('Other');
    const own = (await call(demo, 'POST', '/interactions', { contactUuid: forgotten, subject: 'Petra Quist renewal' })).body;
    const elsewhere = (
      await call(demo, 'POST', '/interactions', { contactUuid: other, parties: [{ rawName: 'Petra Q.', contactUuid: forgotten }, { rawName: 'Stays' }] })
    ).body;
    expect((await call(demo, 'POST', '/contacts/nope/forget')).body).toEqual({ errors: { contactUuid: ['is not a valid UUID'] } });
    expect(await call(demo, 'POST', `/contacts/${forgotten}/forget`, undefined, { 'idempotency-key': `forget-${forgotten}` })).toEqual({
      status: 200,
      body: { interactions: 2 },
    });
    expect((await call(demo, 'GET', `/interactions/${own.uuid}`)).status).toBe(404);
    const parties = (await call(demo, 'GET', `/interactions/${elsewhere.uuid}`)).body.parties;
    expect(parties).toEqual([
      { rawName: '[erased]', contactUuid: null, staffPersonUuid: null, position: 0, snapshot: { source: 'erased', capturedAt: expect.any(String) } },
      elsewhere.parties[1],
    ]);
    const histories = JSON.stringify([
      (await call(demo, 'GET', `/interactions/${own.uuid}/history`)).body,
      (await call(demo, 'GET', `/interactions/${elsewhere.uuid}/history`)).body,
    ]);
    expect(histories).not.toMatch(/Petra|Quist/);
    expect((await call(demo, 'GET', '/contacts')).body.map((c: { uuid: string }) => c.uuid)).not.toContain(forgotten);
    // A repeat (also of a contact the demo no longer has) changes nothing more.
    expect((await call(demo, 'POST', `/contacts/${forgotten}/forget`)).body).toEqual({ interactions: 0 });
  });

  it('documents the routes in the OpenAPI document', async () => {
    const { paths } = (await call(demo, 'GET', '/docs-json')).body;
    expect(paths['/contacts/{uuid}'].delete).toBeDefined();
    expect(paths['/contacts/{uuid}/merge'].post).toBeDefined();
    expect(paths['/contacts/{uuid}/forget'].post).toBeDefined();
  });
});
