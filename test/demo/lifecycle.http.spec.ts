import { uuidv7 } from 'uuidv7';
import { InteractionUnavailableError } from '../../src';
import { DemoContacts } from '../../src/demo/contacts';
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

  it('answers a repeat of a DELETE or a merge with its Idempotency-Key as the first, once the contact is gone; another key is 404', async () => {
    const gone = await contact('Gone again');
    const into = await contact('Kept again');
    const dup = await contact('Dup again');
    await call(demo, 'POST', '/interactions', { contactUuid: gone });
    await call(demo, 'POST', '/interactions', { contactUuid: dup });
    for (let i = 0; i < 2; i++) {
      expect(await call(demo, 'DELETE', `/contacts/${gone}`, undefined, { 'idempotency-key': `del-${gone}` })).toEqual({ status: 200, body: { interactions: 1 } });
      const merged = await call(demo, 'POST', `/contacts/${dup}/merge`, { intoUuid: into }, { 'idempotency-key': `merge-${dup}` });
      expect(merged).toEqual({ status: 200, body: { interactions: 1 } });
    }
    expect((await call(demo, 'DELETE', `/contacts/${gone}`, undefined, { 'idempotency-key': 'another' })).status).toBe(404);
    expect((await call(demo, 'POST', `/contacts/${dup}/merge`, { intoUuid: into }, { 'idempotency-key': 'another' })).status).toBe(404);
    // The same key for another input: refused as the module refuses it.
    const elsewhere = await contact('Elsewhere');
    expect((await call(demo, 'POST', `/contacts/${dup}/merge`, { intoUuid: elsewhere }, { 'idempotency-key': `merge-${dup}` })).body).toEqual({
      errors: { idempotencyKey: ['was already used for a different request'] },
    });
  });

  it('answers a repeat as the first for every key a concurrent DELETE answered 200', async () => {
    // Sent together, both requests find the contact and answer 200; only one removes its row.
    for (let round = 0; round < 3; round++) {
      const gone = await contact(`Gone together ${round}`);
      await call(demo, 'POST', '/interactions', { contactUuid: gone });
      const keys = [`first-${gone}`, `second-${gone}`];
      const answers = await Promise.all(keys.map((key) => call(demo, 'DELETE', `/contacts/${gone}`, undefined, { 'idempotency-key': key })));
      for (const [i, key] of keys.entries()) {
        if (answers[i]!.status !== 200) continue;
        expect(await call(demo, 'DELETE', `/contacts/${gone}`, undefined, { 'idempotency-key': key })).toEqual(answers[i]);
      }
    }
  });

  it('answers committed: true when the demo\'s own row cannot go after the decision was recorded; the retry finishes', async () => {
    const gone = await contact('Gone late');
    await call(demo, 'POST', '/interactions', { contactUuid: gone });
    const contacts = demo.app.get(DemoContacts);
    const spy = jest.spyOn(contacts, 'delete').mockRejectedValueOnce(new InteractionUnavailableError('PostgreSQL is unavailable: Connection terminated', false));
    try {
      expect(await call(demo, 'DELETE', `/contacts/${gone}`, undefined, { 'idempotency-key': `late-${gone}` })).toMatchObject({
        status: 503,
        body: { committed: true },
      });
    } finally {
      spy.mockRestore();
    }
    expect(await call(demo, 'DELETE', `/contacts/${gone}`, undefined, { 'idempotency-key': `late-${gone}` })).toEqual({ status: 200, body: { interactions: 1 } });
    expect((await call(demo, 'GET', '/contacts')).body.map((c: { uuid: string }) => c.uuid)).not.toContain(gone);
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

  it('forgets with her the contacts the demo merged with her, through a chain of merges either way', async () => {
    const [cora, dora, nora, kept] = [await contact('Cora Lind'), await contact('Dora Lind'), await contact('Nora Lind'), await contact('Kept Apart')];
    expect((await call(demo, 'POST', `/contacts/${cora}/merge`, { intoUuid: dora })).status).toBe(200);
    expect((await call(demo, 'POST', `/contacts/${dora}/merge`, { intoUuid: nora })).status).toBe(200);
    // Cora's row went with her merge; the module forgets Dora and Nora with her, so their rows go too.
    expect(await call(demo, 'POST', `/contacts/${cora}/forget`)).toMatchObject({ status: 200 });
    const left = (await call(demo, 'GET', '/contacts')).body.map((c: { uuid: string }) => c.uuid);
    expect(left).not.toContain(nora);
    expect(left).toContain(kept);
    expect(JSON.stringify((await call(demo, 'GET', '/contacts')).body)).not.toMatch(/Lind/);
  });

  it('documents the routes in the OpenAPI document', async () => {
    const { paths } = (await call(demo, 'GET', '/docs-json')).body;
    expect(paths['/contacts/{uuid}'].delete).toBeDefined();
    expect(paths['/contacts/{uuid}/merge'].post).toBeDefined();
    expect(paths['/contacts/{uuid}/forget'].post).toBeDefined();
  });
});
