import { DemoContacts } from '../../src/demo/contacts';
import { Database } from '../../src/ports/database';
import { DemoUnderTest, call, startDemoApp } from './demo-app';

/**
 * The demo remembers a POST /contacts with an Idempotency-Key, and its answer, for the repeat. Once the
 * contact is forgotten, that memory must not keep her personal data, nor give it back (CONTRACT: erasure):
 * a repeat then is a new request, with the data it brings.
 */
describe('a forgotten contact and the demo memory of her create (PostgreSQL)', () => {
  let demo: DemoUnderTest;
  beforeAll(async () => (demo = await startDemoApp()));
  afterAll(() => demo.close());

  it('keeps none of her data, nor of one merged with her, for repeats of their creates', async () => {
    const secret = { name: 'Erin Erased', email: 'erin@example.com', company: 'Hidden Co' };
    const created = await call(demo, 'POST', '/contacts', secret, { 'idempotency-key': 'create-erin' });
    const dup = await call(demo, 'POST', '/contacts', { name: 'Erin Dup', email: 'dup@example.com' }, { 'idempotency-key': 'create-erin-dup' });
    expect(created.status).toBe(201);
    expect((await call(demo, 'POST', `/contacts/${dup.body.uuid}/merge`, { intoUuid: created.body.uuid })).status).toBe(200);
    expect((await call(demo, 'POST', `/contacts/${created.body.uuid}/forget`)).status).toBe(200);
    const { db } = demo.app.get(DemoContacts) as unknown as { db: Database };
    const { rows } = await db.query<{ kept: string }>('SELECT request || contact::text AS kept FROM created_contacts', []);
    expect(rows.map((row) => row.kept).join()).not.toMatch(/Erin|example\.com|Hidden/);
    const repeat = await call(demo, 'POST', '/contacts', secret, { 'idempotency-key': 'create-erin' });
    expect(repeat.body.uuid).not.toBe(created.body.uuid);
  });
});
