import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { DEFAULT_TEST_DATABASE_URL } from './test-server';

/**
 * The PostgreSQL of this run, chosen once by jest's global setup (test/support/global-setup.ts): the
 * configured TEST_DATABASE_URL, the server at the default address, or an embedded one it started.
 */
export const TEST_DATABASE_URL = process.env.TEST_DATABASE_URL ?? DEFAULT_TEST_DATABASE_URL;

/** A schema name no other test uses: every test gets its own tables. */
export function uniqueSchema(prefix = 't'): string {
  return `${prefix}_${randomBytes(6).toString('hex')}`;
}

export async function dropSchema(schema: string): Promise<void> {
  const client = new Client({ connectionString: TEST_DATABASE_URL });
  await client.connect();
  try {
    await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  } finally {
    await client.end();
  }
}

/** Every table of the module's schema once migrated (log and read tables in one database), by name. */
export const MODULE_TABLES = [
  'erasure_key_owners',
  'erasure_keys',
  'erasure_unsettled_appends',
  'events',
  'forgotten_contacts',
  'idempotency_keys',
  'interaction_counts',
  'interaction_involvements',
  'interaction_parties',
  'interactions',
  'involvement_counts',
  'lifecycle_decisions',
  'lifecycle_targets',
  'parked_events',
  'projection_checkpoints',
  'schema_migrations',
];

/**
 * Prints the server's transactions that hold back the settled horizon (a transaction id or snapshot older
 * than a few seconds), for a test whose catch-up read saw nothing settle in time: the log then says which
 * session of the run (or from outside it) was in the way.
 */
export async function reportHorizonHolders(): Promise<void> {
  const client = new Client({ connectionString: TEST_DATABASE_URL });
  await client.connect();
  try {
    const { rows } = await client.query(
      `SELECT datname, pid, application_name, backend_xid, backend_xmin, state, wait_event,
         round(extract(epoch FROM now() - xact_start)) AS seconds, left(query, 200) AS query
       FROM pg_stat_activity
       WHERE (backend_xid IS NOT NULL OR backend_xmin IS NOT NULL) AND now() - xact_start > interval '5 seconds'
         AND pid <> pg_backend_pid()`,
    );
    const prepared = await client.query('SELECT gid, database, prepared FROM pg_prepared_xacts');
    console.log(`settled horizon held back by: ${JSON.stringify({ sessions: rows, prepared: prepared.rows }, null, 1)}`);
  } finally {
    await client.end();
  }
}
