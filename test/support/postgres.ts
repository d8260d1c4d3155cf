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
  'events',
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
