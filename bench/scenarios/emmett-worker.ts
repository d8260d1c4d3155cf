import { STREAM_DOES_NOT_EXIST } from '@event-driven-io/emmett';
import { getPostgreSQLEventStore, type PostgresEventStore } from '@event-driven-io/emmett-postgresql';
import { Pool } from 'pg';
import { uuidv7 } from 'uuidv7';
import { drive, type DriveResult } from '../drive';
import { serveRequests } from '../worker-process';

/**
 * The Emmett baseline of the append scenario, in a process of its own: Emmett's PostgreSQL event store
 * (`getPostgreSQLEventStore` of @event-driven-io/emmett-postgresql, as its documentation wires it) with no
 * projection, appending to a new stream per command the events the module's own create wrote.
 *
 * Why a separate process: creating an Emmett store (its `dumbo` connection layer) replaces node-postgres'
 * process-wide type parsers (int8 → BigInt, json/jsonb → its own parser), which would change how the
 * module under test reads its rows if both ran in one process; and each side's Node CPU per command is
 * measured with process.cpuUsage() of a process that runs only that side.
 *
 * Driven over IPC by bench/scenarios/append.ts (bench/worker-process.ts); it is not a test and jest never
 * loads it.
 */

/** One event as the module wrote it: type, data and metadata, appended to Emmett unchanged. */
export interface EmmettEvent {
  type: string;
  data: Record<string, unknown>;
  metadata: Record<string, unknown>;
}

export type EmmettRequest =
  /** Open the store on `databaseUrl` (a database of its own, made by the caller) and migrate its schema. */
  | { kind: 'open'; databaseUrl: string; poolSize: number; templates: EmmettEvent[][] }
  /** Empty Emmett's tables (TRUNCATE: new, empty files) and restart its global position. */
  | { kind: 'fresh' }
  /** `count` appends, each the events of one template command to a new stream, by `callers` callers. */
  | { kind: 'run'; callers: number; count: number }
  | { kind: 'close' };


let store: PostgresEventStore | null = null;
let pool: Pool | null = null;
let templates: EmmettEvent[][] = [];
let used = 0;

async function handle(request: EmmettRequest): Promise<DriveResult | undefined> {
  switch (request.kind) {
    case 'open': {
      templates = request.templates;
      // A pool of the same size as the module's, handed to Emmett (otherwise node-postgres' default of 10).
      pool = new Pool({ connectionString: request.databaseUrl, max: request.poolSize });
      store = getPostgreSQLEventStore(request.databaseUrl, { connectionOptions: { pool } });
      await store.schema.migrate();
      return undefined;
    }
    case 'fresh':
      await store!.schema.dangerous.truncate({ resetSequences: true });
      return undefined;
    case 'run': {
      const inputs = Array.from({ length: request.count }, () => templates[used++ % templates.length]!);
      return drive(inputs, request.callers, (events) =>
        store!.appendToStream(`interaction-${uuidv7()}`, events, { expectedStreamVersion: STREAM_DOES_NOT_EXIST }),
      );
    }
    case 'close':
      await store?.close();
      await pool?.end();
      store = null;
      pool = null;
      return undefined;
  }
}

serveRequests(handle);
