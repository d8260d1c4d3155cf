import { INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client } from 'pg';
import { uuidv7 } from 'uuidv7';
import { EventBus } from '@nestjs/cqrs';
import { InteractionLogged, InteractionsModule, InteractionsService } from '../../src';
import { InMemoryContactDirectory } from '../support/directories';
import { dropSchema, TEST_DATABASE_URL, uniqueSchema } from '../support/postgres';

/**
 * A keyed request whose statement was cut off while it waited for a lock (committed 'unknown', it may still
 * land), then a repeat that fails too: the repeat must leave the key bound. Freed, the first statement
 * landed afterwards and a third request of the key created a second interaction, or a request of another
 * input was answered with the first one's result.
 */
/** Waits until `done` holds, for at most `timeoutMs` (what follows asserts it). */
async function eventually(done: () => boolean, timeoutMs = 15_000): Promise<void> {
  for (const until = Date.now() + timeoutMs; !done() && Date.now() < until; ) await sleep(50);
}

describe('a keyed request after an unknown outcome', () => {
  const contacts = new InMemoryContactDirectory();
  const contactUuid = contacts.add({ uuid: uuidv7(), name: 'Ada' }).uuid;
  const schema = uniqueSchema('keyed');
  let app: INestApplicationContext;
  let service: InteractionsService;
  let admin: Client;
  let locker: Client;

  beforeAll(async () => {
    app = await NestFactory.createApplicationContext(
      InteractionsModule.forRoot({
        database: { connectionString: TEST_DATABASE_URL, maxConnections: 4, queryTimeoutMs: 1500 },
        schema,
        contactDirectory: contacts,
      }),
      { logger: false },
    );
    service = app.get(InteractionsService);
    admin = new Client({ connectionString: TEST_DATABASE_URL });
    locker = new Client({ connectionString: TEST_DATABASE_URL });
    await admin.connect();
    await locker.connect();
  });

  afterAll(async () => {
    await locker?.end();
    await admin?.end();
    await app?.close();
    await dropSchema(schema);
  });

  it('never creates two interactions under one idempotency key', async () => {
    const attrs = { contactUuid, interactionType: 'call' as const, subject: 'Keyed', occurredAt: '2026-11-30T10:00:00Z' };
    const opts = { idempotencyKey: 'keyed-unknown-1' };
    // Something holds the read table for longer than the module's query timeout (a rebuild, say).
    await locker.query('BEGIN');
    await locker.query(`LOCK TABLE ${schema}.interactions IN ACCESS EXCLUSIVE MODE`);

    const first = await service.createInteraction(attrs, [], [], opts).then(
      (i) => ({ ok: i }),
      (e: unknown) => ({ error: e as { name: string; committed: unknown; mayStillLand?: boolean } }),
    );

    const second = await service.createInteraction(attrs, [], [], opts).then(
      (i) => ({ ok: i }),
      (e: unknown) => ({ error: e as { name: string; committed: unknown } }),
    );
    expect(first).toMatchObject({ error: { name: 'InteractionUnavailableError', committed: 'unknown', mayStillLand: true } });
    expect(second).toMatchObject({ error: { name: 'InteractionUnavailableError' } });

    await locker.query('COMMIT');
    await sleep(1000);

    const third = await service.createInteraction(attrs, [], [], opts);
    const { rows } = await admin.query(
      `SELECT DISTINCT stream_name FROM ${schema}.events WHERE metadata->>'idempotencyKey' = $1`,
      [opts.idempotencyKey],
    );
    expect(rows).toEqual([{ stream_name: `interaction-${third.uuid}` }]);
  });

  it('publishes the events of a request that landed after its unknown outcome, once: looked for in the background', async () => {
    const published: InteractionLogged[] = [];
    const subscription = app.get(EventBus).subscribe((event) => {
      if (event instanceof InteractionLogged) published.push(event);
    });
    const landedLater = (subject: string) => published.filter((event) => event.data.subject === subject);
    try {
      for (const opts of [{}, { idempotencyKey: 'keyed-unknown-watched' }]) {
        const subject = `Landed later ${opts.idempotencyKey ?? 'unkeyed'}`;
        const attrs = { contactUuid, interactionType: 'call' as const, subject, occurredAt: '2026-11-30T11:00:00Z' };
        await locker.query('BEGIN');
        await locker.query(`LOCK TABLE ${schema}.interactions IN ACCESS EXCLUSIVE MODE`);
        await expect(service.createInteraction(attrs, [], [], opts)).rejects.toMatchObject({ committed: 'unknown', mayStillLand: true });
        expect(landedLater(subject)).toEqual([]);
        await locker.query('COMMIT'); // the request's statement lands now
        await eventually(() => landedLater(subject).length > 0);
        const [event] = landedLater(subject);
        expect(event).toMatchObject({ revision: 0, involvedContactUuids: [contactUuid] });
        expect(await service.getInteraction(event!.interactionUuid)).toMatchObject({ subject });
        if (opts.idempotencyKey) {
          // A repeat finds it published: it publishes nothing more.
          expect(await service.createInteraction(attrs, [], [], opts)).toMatchObject({ uuid: event!.interactionUuid });
        }
        await sleep(1_500);
        expect(landedLater(subject)).toHaveLength(1);
      }
    } finally {
      subscription.unsubscribe();
    }
  });

  it('publishes the events of a keyed request that landed after its process stopped looking, once, when a repeat finds them', async () => {
    const published: InteractionLogged[] = [];
    // Another instance of the host, whose process ends (its looks for unknown outcomes end with it).
    const other = await NestFactory.createApplicationContext(
      InteractionsModule.forRoot({ database: { connectionString: TEST_DATABASE_URL, maxConnections: 2, queryTimeoutMs: 1500 }, schema, contactDirectory: contacts }),
      { logger: false },
    );
    const subscriptions = [app, other].map((context) =>
      context.get(EventBus).subscribe((event) => {
        if (event instanceof InteractionLogged) published.push(event);
      }),
    );
    try {
      const attrs = { contactUuid, interactionType: 'call' as const, subject: 'Landed later', occurredAt: '2026-11-30T11:00:00Z' };
      const opts = { idempotencyKey: 'keyed-unknown-published' };
      await locker.query('BEGIN');
      await locker.query(`LOCK TABLE ${schema}.interactions IN ACCESS EXCLUSIVE MODE`);
      await expect(other.get(InteractionsService).createInteraction(attrs, [], [], opts)).rejects.toMatchObject({ committed: 'unknown' });
      await other.close();
      await locker.query('COMMIT');
      await sleep(1000); // the first request's statement has landed, unpublished
      expect(published.filter((event) => event.data.subject === 'Landed later')).toEqual([]);

      const repeat = await service.createInteraction(attrs, [], [], opts);
      const again = await service.createInteraction(attrs, [], [], opts);
      expect(again).toEqual(repeat);
      // Published by the first repeat that found it, with what the append would have published; the next
      // repeat finds it published.
      expect(published.filter((event) => event.data.subject === 'Landed later')).toEqual([
        expect.objectContaining({ interactionUuid: repeat.uuid, revision: 0, involvedContactUuids: [contactUuid] }),
      ]);
      // A keyed create that went well is published once, by itself: its repeats publish nothing.
      const plain = await service.createInteraction({ ...attrs, subject: 'Went well' }, [], [], { idempotencyKey: 'keyed-went-well' });
      await service.createInteraction({ ...attrs, subject: 'Went well' }, [], [], { idempotencyKey: 'keyed-went-well' });
      expect(published.filter((event) => event.data.subject === 'Went well').map((event) => event.interactionUuid)).toEqual([plain.uuid]);

      // A holder that died after its append (its hold lapsed, still naming it) may not have published: the
      // repeat that takes the key over publishes what it finds (at least once).
      const died = await service.createInteraction({ ...attrs, subject: 'Holder died' }, [], [], { idempotencyKey: 'keyed-holder-died' });
      await admin.query(
        `UPDATE ${schema}.idempotency_keys SET held_by = $2, held_until = now() - interval '1 second' WHERE key = $1`,
        ['keyed-holder-died', uuidv7()],
      );
      await service.createInteraction({ ...attrs, subject: 'Holder died' }, [], [], { idempotencyKey: 'keyed-holder-died' });
      await service.createInteraction({ ...attrs, subject: 'Holder died' }, [], [], { idempotencyKey: 'keyed-holder-died' });
      expect(published.filter((event) => event.data.subject === 'Holder died').map((event) => event.interactionUuid)).toEqual([died.uuid, died.uuid]);
    } finally {
      for (const subscription of subscriptions) subscription.unsubscribe();
      await other.close();
    }
  });

  it('never answers a different request under a used key with the first request\'s result', async () => {
    const created = await service.createInteraction({ contactUuid, subject: 'Target' });
    const key = 'keyed-unknown-2';
    // The interaction's read row is locked by someone else for longer than the query timeout.
    await locker.query('BEGIN');
    await locker.query(`SELECT 1 FROM ${schema}.interactions WHERE uuid = $1 FOR UPDATE`, [created.uuid]);

    const outcome = (p: Promise<unknown>) =>
      p.then(
        (i) => ({ ok: i as { version: number; metadata: unknown } }),
        (e: unknown) => ({ error: [(e as Error).name, (e as { committed?: unknown }).committed, (e as { mayStillLand?: unknown }).mayStillLand] }),
      );
    const first = await outcome(service.updateInteraction(created.uuid, { metadata: { tok: 'first' } }, null, { idempotencyKey: key }));
    const second = await outcome(service.updateInteraction(created.uuid, { metadata: { tok: 'first' } }, null, { idempotencyKey: key }));
    expect(first).toEqual({ error: ['InteractionUnavailableError', 'unknown', true] });
    expect(second).toMatchObject({ error: expect.arrayContaining(['InteractionUnavailableError']) });
    await locker.query('COMMIT');
    await sleep(1000);

    // Another request under the same key: a different input must be refused (422), not answered.
    const third = await outcome(service.updateInteraction(created.uuid, { metadata: { tok: 'third' } }, null, { idempotencyKey: key }));
    expect('error' in third ? third.error[0] : 'acknowledged').toBe('InteractionValidationError');
    expect((await service.getInteraction(created.uuid))?.metadata).toEqual({ tok: 'first' }); // the first landed
  });
});
