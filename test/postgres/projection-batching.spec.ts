import { copyFileSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PgDatabase } from '../../src/adapters/postgres/database';
import { Database, Queryable } from '../../src/ports/database';
import {
  InteractionDeletedData,
  InteractionLoggedData,
  InteractionUpdatedData,
  parseEvent,
  PartiesRebuiltData,
  truncateToSecond,
} from '../../src/domain/events';
import { RecordedEvent } from '../../src/ports/event-store';
import { emailKeysIn, partyNameKey } from '../../src/domain/party-keys';
import { searchWordsOf } from '../../src/domain/search';
import { projectEvents } from '../../projections/interactions.projection';
import { findInteraction } from '../../projections/interactions.queries';
import { EVENT_LOG_MIGRATIONS, migrate, READ_TABLE_MIGRATIONS } from '../../projections/migrate';
import { dropSchema, TEST_DATABASE_URL, uniqueSchema } from '../support/postgres';
import { prng } from '../support/random';

/**
 * The set-based projection against its specification: the handlers applied one event at a time (the
 * reference below, the projection as it was first written). Random histories, delivered whole, cut
 * into random batches, with stream suffixes re-delivered at random points, must leave the same rows.
 */

type Party = PartiesRebuiltData['parties'][number];

/** The per-event handlers: one event, one set of statements. */
async function referenceProject(tx: Queryable, recorded: RecordedEvent, current = true): Promise<void> {
  const event = parseEvent(recorded.type, recorded.data);
  const { interactionUuid } = event.data;
  const at = truncateToSecond(new Date(recorded.metadata.recordedAt));
  const revision = recorded.revision;
  switch (event.type) {
    case 'InteractionLogged': {
      const d = event.data;
      await tx.query(
        // The search words of migration 0008 (absent before it), by the module's own rule.
        `INSERT INTO interactions (uuid, contact_uuid, interaction_type, occurred_at, subject, body,
           owner_user_uuid, metadata, file_uuids, inserted_at, updated_at, version ${current ? ', search' : ''})
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10, $11 ${current ? `, array_to_tsvector(string_to_array($12, ' '))` : ''})
         ON CONFLICT (uuid) DO NOTHING`,
        [
          interactionUuid, d.contactUuid, d.interactionType, d.occurredAt, d.subject, d.body, d.ownerUserUuid, d.metadata, d.fileUuids, at, revision,
          ...(current ? [searchWordsOf(d.subject, d.body)] : []),
        ],
      );
      break;
    }
    case 'InteractionUpdated': {
      const updated = await tx.query(
        `UPDATE interactions SET
           contact_uuid = CASE WHEN $2::jsonb ? 'contactUuid' THEN ($2::jsonb->>'contactUuid')::uuid ELSE contact_uuid END,
           interaction_type = CASE WHEN $2::jsonb ? 'interactionType' THEN $2::jsonb->>'interactionType' ELSE interaction_type END,
           occurred_at = CASE WHEN $2::jsonb ? 'occurredAt' THEN ($2::jsonb->>'occurredAt')::timestamptz ELSE occurred_at END,
           subject = CASE WHEN $2::jsonb ? 'subject' THEN $2::jsonb->>'subject' ELSE subject END,
           body = CASE WHEN $2::jsonb ? 'body' THEN $2::jsonb->>'body' ELSE body END,
           owner_user_uuid = CASE WHEN $2::jsonb ? 'ownerUserUuid' THEN ($2::jsonb->>'ownerUserUuid')::uuid ELSE owner_user_uuid END,
           metadata = CASE WHEN $2::jsonb ? 'metadata' THEN $2::jsonb->'metadata' ELSE metadata END,
           updated_at = $3, version = $4
         WHERE uuid = $1 AND version < $4
         RETURNING subject, body`,
        [interactionUuid, JSON.stringify(event.data.changes), at, revision],
      );
      // The search words follow the text as it now is.
      for (const row of current ? (updated.rows as { subject: string | null; body: string | null }[]) : []) {
        await tx.query("UPDATE interactions SET search = array_to_tsvector(string_to_array($2, ' ')) WHERE uuid = $1", [
          interactionUuid,
          searchWordsOf(row.subject, row.body),
        ]);
      }
      break;
    }
    case 'PartiesRebuilt': {
      const { rows } = await tx.query(
        'UPDATE interactions SET updated_at = $2, version = $3 WHERE uuid = $1 AND version < $3 RETURNING uuid',
        [interactionUuid, at, revision],
      );
      if (rows.length === 0) return;
      await tx.query('DELETE FROM interaction_parties WHERE interaction_uuid = $1', [interactionUuid]);
      await tx.query(
        // The search keys of late linking (migration 0005, absent before it), by the module's own rule.
        `INSERT INTO interaction_parties (interaction_uuid, position, raw_name, contact_uuid, staff_person_uuid, snapshot
           ${current ? ', name_key, email_keys' : ''})
         SELECT $1, p.position, p."rawName", p."contactUuid", p."staffPersonUuid", p.snapshot
           ${current ? `, p."nameKey", string_to_array(nullif(p.emails, ''), ' ')` : ''}
         FROM jsonb_to_recordset($2::jsonb)
           AS p(position integer, "rawName" text, "contactUuid" uuid, "staffPersonUuid" uuid, snapshot jsonb, "nameKey" text, emails text)`,
        [interactionUuid, JSON.stringify(event.data.parties.map((p) => ({ ...p, nameKey: partyNameKey(p.rawName), emails: emailKeysIn(p.rawName).join(' ') })))],
      );
      break;
    }
    case 'InteractionDeleted':
      await tx.query('DELETE FROM interaction_involvements WHERE interaction_uuid = $1', [interactionUuid]);
      await tx.query('DELETE FROM interaction_parties WHERE interaction_uuid = $1', [interactionUuid]);
      await tx.query('DELETE FROM interactions WHERE uuid = $1', [interactionUuid]);
      return;
  }
  await tx.query('DELETE FROM interaction_involvements WHERE interaction_uuid = $1', [interactionUuid]);
  await tx.query(
    `INSERT INTO interaction_involvements (contact_uuid, interaction_uuid, occurred_at, inserted_at
       ${current ? ', interaction_type, owner_user_uuid' : ''})
     SELECT involved.contact_uuid, i.uuid, i.occurred_at, i.inserted_at ${current ? ', i.interaction_type, i.owner_user_uuid' : ''}
     FROM interactions i
     CROSS JOIN LATERAL (
       SELECT i.contact_uuid UNION
       SELECT p.contact_uuid FROM interaction_parties p WHERE p.interaction_uuid = i.uuid AND p.contact_uuid IS NOT NULL
     ) AS involved (contact_uuid)
     WHERE i.uuid = $1`,
    [interactionUuid],
  );
}

const hex = (random: () => number, n: number) => Array.from({ length: n }, () => Math.floor(random() * 16).toString(16)).join('');
const uuid = (random: () => number) => `${hex(random, 8)}-${hex(random, 4)}-4${hex(random, 3)}-a${hex(random, 3)}-${hex(random, 12)}`;

/** A random log: a dozen interactions, each logged, edited in every way the events allow, some deleted. */
function randomLog(seed: number): RecordedEvent[] {
  const random = prng(seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  const contacts = Array.from({ length: 5 }, () => uuid(random));
  const staff = Array.from({ length: 2 }, () => uuid(random));
  const streams = Array.from({ length: 12 }, () => ({ uuid: uuid(random), revision: -1, deleted: false, events: 0 }));
  const log: RecordedEvent[] = [];
  let clock = Date.UTC(2026, 0, 1);
  const second = (ms: number) => new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
  const parties = (): Party[] =>
    Array.from({ length: Math.floor(random() * 5) }, (_, position) => {
      const kind = random();
      const capturedAt = second(clock);
      if (kind < 0.5) return { rawName: `C${position}`, contactUuid: pick(contacts), staffPersonUuid: null, position, snapshot: { source: 'crm_contact', name: 'C', capturedAt } };
      if (kind < 0.7) return { rawName: `S${position}`, contactUuid: null, staffPersonUuid: pick(staff), position, snapshot: { source: 'staff', capturedAt } };
      return { rawName: pick(['Visitor', 'Driver']), contactUuid: null, staffPersonUuid: null, position, snapshot: { source: 'free_text', capturedAt } };
    });
  for (let step = 0; step < 80; step++) {
    const s = pick(streams);
    if (s.deleted) continue;
    clock += Math.floor(random() * 5000);
    let type: string;
    let data: unknown;
    if (s.revision === -1) {
      type = 'InteractionLogged';
      data = {
        schemaVersion: 1,
        interactionUuid: s.uuid,
        contactUuid: pick(contacts),
        interactionType: pick(['call', 'email', 'note'] as const),
        occurredAt: second(clock - Math.floor(random() * 1e8)),
        subject: random() < 0.5 ? 'Hello' : null,
        body: random() < 0.5 ? 'Body' : null,
        ownerUserUuid: random() < 0.5 ? pick(staff) : null,
        metadata: random() < 0.5 ? {} : { n: step, nested: { ok: true } },
        fileUuids: random() < 0.3 ? [uuid(random)] : [],
      } satisfies InteractionLoggedData;
    } else {
      const roll = random();
      if (roll < 0.4) {
        type = 'PartiesRebuilt';
        data = { schemaVersion: 1, interactionUuid: s.uuid, parties: parties() } satisfies PartiesRebuiltData;
      } else if (roll < 0.85 || s.events < 3) {
        const changes: InteractionUpdatedData['changes'] = {};
        if (random() < 0.4) changes.contactUuid = pick(contacts);
        if (random() < 0.4) changes.occurredAt = second(clock - Math.floor(random() * 1e8));
        if (random() < 0.4) changes.subject = random() < 0.5 ? null : `Edit ${step}`;
        if (random() < 0.3) changes.body = null;
        if (random() < 0.3) changes.interactionType = 'meeting';
        if (random() < 0.3) changes.ownerUserUuid = random() < 0.5 ? null : pick(staff);
        if (random() < 0.3) changes.metadata = { step };
        type = 'InteractionUpdated';
        data = { schemaVersion: 1, interactionUuid: s.uuid, changes } satisfies InteractionUpdatedData;
      } else {
        type = 'InteractionDeleted';
        data = { schemaVersion: 1, interactionUuid: s.uuid } satisfies InteractionDeletedData;
        s.deleted = true;
      }
    }
    s.revision++;
    s.events++;
    log.push({
      id: uuid(random),
      streamName: `interaction-${s.uuid}`,
      revision: s.revision,
      position: { commit: BigInt(log.length + 1), prepare: 0n },
      type,
      data,
      metadata: { actorUuid: null, correlationId: uuid(random), causationId: null, recordedAt: new Date(clock + Math.floor(random() * 1000)).toISOString() },
    });
  }
  return log;
}

/**
 * The log as delivered: now and then a stream's suffix (up to what was delivered) comes again, or a stale
 * slice of it (an old event, a prefix): the handlers define what any sequence does, so both must agree.
 */
function withRedeliveries(log: RecordedEvent[], seed: number): RecordedEvent[] {
  const random = prng(seed * 31 + 7);
  const out: RecordedEvent[] = [];
  log.forEach((event, i) => {
    out.push(event);
    const roll = random();
    if (roll < 0.2) {
      const stream = log[Math.floor(random() * (i + 1))]!.streamName;
      const sofar = log.slice(0, i + 1).filter((e) => e.streamName === stream);
      const from = Math.floor(random() * sofar.length);
      const to = roll < 0.12 ? sofar.length : from + 1 + Math.floor(random() * (sofar.length - from));
      out.push(...sofar.slice(from, to));
    }
  });
  return out;
}

function randomBatches<T>(items: T[], seed: number): T[][] {
  const random = prng(seed * 17 + 3);
  const batches: T[][] = [];
  for (let i = 0; i < items.length; ) {
    const size = 1 + Math.floor(random() * (random() < 0.2 ? 40 : 8));
    batches.push(items.slice(i, i + size));
    i += size;
  }
  return batches;
}

/** Every row, the `parties` column left out (the reference does not keep it; its invariant is checked apart). */
async function dump(q: Queryable): Promise<unknown> {
  const interactions = await q.query(
    `SELECT uuid, contact_uuid, interaction_type, occurred_at, subject, body, owner_user_uuid, metadata, file_uuids,
       inserted_at, updated_at, version, search::text AS search FROM interactions ORDER BY uuid`,
  );
  const parties = await q.query('SELECT * FROM interaction_parties ORDER BY interaction_uuid, position');
  const involvements = await q.query('SELECT * FROM interaction_involvements ORDER BY contact_uuid, interaction_uuid');
  return { interactions: interactions.rows, parties: parties.rows, involvements: involvements.rows };
}

/** The denormalised `parties` column matches interaction_parties, and no party or involvement is orphaned. */
async function invariantViolations(q: Queryable): Promise<unknown[]> {
  const { rows } = await q.query(
    `SELECT 'parties column' AS what, i.uuid FROM interactions i
     WHERE i.parties IS DISTINCT FROM COALESCE((
       SELECT jsonb_agg(jsonb_build_object('rawName', p.raw_name, 'contactUuid', p.contact_uuid,
         'staffPersonUuid', p.staff_person_uuid, 'position', p.position, 'snapshot', p.snapshot) ORDER BY p.position)
       FROM interaction_parties p WHERE p.interaction_uuid = i.uuid), '[]'::jsonb)
     UNION ALL
     SELECT 'orphan party', p.interaction_uuid FROM interaction_parties p
     WHERE NOT EXISTS (SELECT 1 FROM interactions i WHERE i.uuid = p.interaction_uuid)
     UNION ALL
     SELECT 'orphan involvement', v.interaction_uuid FROM interaction_involvements v
     WHERE NOT EXISTS (SELECT 1 FROM interactions i WHERE i.uuid = v.interaction_uuid)`,
  );
  return [...rows, ...(await countViolations(q))];
}

/** The counts per type (migration 0008's triggers) equal counting the rows. */
async function countViolations(q: Queryable): Promise<unknown[]> {
  const { rows } = await q.query(
    `WITH counted AS (
       SELECT contact_uuid::text AS key, interaction_type, sum(n)::bigint AS n FROM involvement_counts GROUP BY 1, 2 HAVING sum(n) <> 0
       UNION ALL SELECT 'all', interaction_type, sum(n)::bigint FROM interaction_counts GROUP BY 2 HAVING sum(n) <> 0
     ), actual AS (
       SELECT contact_uuid::text AS key, interaction_type, count(*) AS n FROM interaction_involvements GROUP BY 1, 2
       UNION ALL SELECT 'all', interaction_type, count(*) FROM interactions GROUP BY 2
     )
     (SELECT 'count kept, not counted' AS what, * FROM counted EXCEPT SELECT 'count kept, not counted', * FROM actual)
     UNION ALL
     (SELECT 'counted, not kept', * FROM actual EXCEPT SELECT 'counted, not kept', * FROM counted)`,
  );
  return rows;
}

describe('set-based projection batches (real PostgreSQL)', () => {
  let reference: Database;
  let batched: Database;
  const cleanups: (() => Promise<void>)[] = [];

  async function fresh(): Promise<Database> {
    const db = new PgDatabase({ connectionString: TEST_DATABASE_URL, schema: uniqueSchema('pb'), max: 2 });
    await migrate(db, [EVENT_LOG_MIGRATIONS, READ_TABLE_MIGRATIONS]);
    cleanups.push(async () => {
      await db.close();
      await dropSchema(db.schema);
    });
    return db;
  }

  beforeAll(async () => {
    [reference, batched] = await Promise.all([fresh(), fresh()]);
  });
  afterAll(async () => {
    await Promise.all(cleanups.map((cleanup) => cleanup()));
  });

  const seeds = Array.from({ length: Number(process.env.BATCH_SEEDS ?? 12) }, (_, i) => i + 1);
  it.each(seeds)('random batches with re-deliveries and stale events leave the rows one-event-at-a-time leaves (seed %i)', async (seed) => {
    const log = randomLog(seed);
    const delivered = withRedeliveries(log, seed);
    for (const db of [reference, batched]) await db.query('TRUNCATE interactions, interaction_parties, interaction_involvements, involvement_counts, interaction_counts');
    await reference.transaction(async (tx) => {
      for (const event of delivered) await referenceProject(tx, event);
    });
    await batched.transaction(async (tx) => {
      for (const batch of randomBatches(delivered, seed)) await projectEvents(tx, batch);
    });
    expect(await dump(batched)).toEqual(await dump(reference));
    expect(await invariantViolations(batched)).toEqual([]);

    // The whole log once more as one batch, on top: both end where the log ends.
    await reference.transaction(async (tx) => {
      for (const event of log) await referenceProject(tx, event);
    });
    await batched.transaction((tx) => projectEvents(tx, log));
    expect(await dump(batched)).toEqual(await dump(reference));
    expect(await invariantViolations(batched)).toEqual([]);
  });

  it('a batch that re-creates an interaction it finds already there (a re-delivered prefix) folds it from the row', async () => {
    const log = randomLog(99);
    for (const db of [reference, batched]) await db.query('TRUNCATE interactions, interaction_parties, interaction_involvements, involvement_counts, interaction_counts');
    const firstHalf = log.slice(0, 40);
    // Everything up to 40, then everything from the start again plus the rest, in one batch.
    await reference.transaction(async (tx) => {
      for (const event of [...firstHalf, ...log]) await referenceProject(tx, event);
    });
    await batched.transaction(async (tx) => {
      await projectEvents(tx, firstHalf);
      await projectEvents(tx, log);
    });
    expect(await dump(batched)).toEqual(await dump(reference));
    expect(await invariantViolations(batched)).toEqual([]);
  });

  it('migration 0002 fills the parties column of tables projected before it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'crm-0001-'));
    const db = new PgDatabase({ connectionString: TEST_DATABASE_URL, schema: uniqueSchema('pb'), max: 2 });
    try {
      copyFileSync(join(READ_TABLE_MIGRATIONS.dir, '0001_read_tables.sql'), join(dir, '0001_read_tables.sql'));
      await migrate(db, [EVENT_LOG_MIGRATIONS, { name: READ_TABLE_MIGRATIONS.name, dir }]);
      const log = randomLog(5);
      // The first shape of the tables, written by the per-event handlers (cascading deletes are theirs).
      await db.transaction(async (tx) => {
        for (const event of log) await referenceProject(tx, event, false);
      });
      // 0002, then the later migrations (0005 fills the parties' search keys).
      const later = readdirSync(READ_TABLE_MIGRATIONS.dir).filter((file) => /^\d{4}_.*\.sql$/.test(file) && file >= '0003').sort();
      expect(await migrate(db, [EVENT_LOG_MIGRATIONS, READ_TABLE_MIGRATIONS])).toEqual([
        'read_tables/0002_denormalised_parties_no_foreign_keys.sql',
        ...later.map((file) => `read_tables/${file}`),
      ]);
      expect(await invariantViolations(db)).toEqual([]);
      // 0008 gave the rows written before it their search words, by the module's rule.
      const texts = await db.query<{ subject: string | null; body: string | null; search: string }>(
        'SELECT subject, body, search::text AS search FROM interactions ORDER BY uuid',
      );
      expect(texts.rows.length).toBeGreaterThan(0);
      const expected = await db.query<{ search: string }>(
        `SELECT array_to_tsvector(string_to_array(w.words, ' '))::text AS search FROM unnest($1::text[]) WITH ORDINALITY AS w(words, n) ORDER BY n`,
        [texts.rows.map((r) => searchWordsOf(r.subject, r.body))],
      );
      expect(texts.rows.map((r) => r.search)).toEqual(expected.rows.map((r) => r.search));
      const { rows } = await db.query<{ uuid: string; n: string }>(
        'SELECT interaction_uuid AS uuid, count(*) AS n FROM interaction_parties GROUP BY 1 ORDER BY 2 DESC LIMIT 1',
      );
      const withParties = await findInteraction(db, rows[0]!.uuid);
      expect(withParties!.parties).toHaveLength(Number(rows[0]!.n));
      expect(withParties!.parties.map((p) => p.position)).toEqual([...withParties!.parties.keys()]);
    } finally {
      await db.close();
      await dropSchema(db.schema);
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
