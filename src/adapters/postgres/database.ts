import { Pool, PoolConfig, QueryResultRow } from 'pg';
import { Database, Queryable } from '../../ports/database';

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/** Schema names become part of SQL text (identifiers cannot be parameters), so only plain names pass. */
export function assertSchemaName(schema: string): string {
  if (!SCHEMA_NAME.test(schema)) {
    throw new Error(`Invalid schema name "${schema}": use lower-case letters, digits and _ (at most 63)`);
  }
  return schema;
}

export class PgDatabase implements Database {
  private readonly pool: Pool;

  constructor(config: PoolConfig & { schema: string }) {
    const { schema, ...poolConfig } = config;
    this.schema = assertSchemaName(schema);
    // Every connection resolves unqualified table names in the module's schema, so the SQL stays schema-free.
    this.pool = new Pool({ ...poolConfig, options: `-c search_path=${this.schema}` });
  }

  readonly schema: string;

  query<R extends QueryResultRow = QueryResultRow>(text: string, params?: unknown[]): Promise<{ rows: R[] }> {
    return this.pool.query<R>(text, params);
  }

  async transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    let broken: Error | undefined;
    try {
      await client.query('BEGIN');
      const result = await fn(client);
      await client.query('COMMIT');
      return result;
    } catch (error) {
      try {
        await client.query('ROLLBACK');
      } catch (rollbackError) {
        broken = rollbackError as Error; // the connection is unusable: let the pool discard it
      }
      throw error;
    } finally {
      client.release(broken);
    }
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}
