import { existsSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PGlite, Transaction } from '@electric-sql/pglite';
import { QueryResultRow } from 'pg';
import { databaseClosedError } from '../../domain/errors';
import { Database, PGliteInstance, Queryable } from '../../ports/database';
import { assertSchemaName } from '../postgres/database';
import { DirectoryLock, lockDirectory } from './directory-lock';

/**
 * The embedded PostgreSQL (PGlite, in-process WASM) behind the same `Database` seam as a server: the
 * same migrations, event store and projections run on it unchanged.
 *
 * PGlite is one session. Several `PGliteDatabase`s may share an instance, each with its own schema
 * (tests do, one instance per file): every operation runs under the instance's queue and first points
 * the session's search_path at its schema when another one was in use.
 */
interface Session {
  queue: Promise<unknown>;
  schema: string | null;
}
const sessions = new WeakMap<PGlite, Session>();

type Runner = Pick<Transaction, 'query' | 'exec'>;

/**
 * A timestamptz as PostgreSQL writes it (DateStyle ISO: `0050-06-01 12:00:10.5+00`, `+05:30`, `+00:09:21`,
 * ` BC`). PGlite's own parser gives the text to `new Date`, which reads a year below 100 as one of the
 * 1900s or 2000s: an interaction of the year 50 came back from the read tables in 1950, and a feed's
 * cursor then met the same row again. node-postgres reads it right.
 */
const TIMESTAMPTZ = /^(\d{4,})-(\d\d)-(\d\d) (\d\d):(\d\d):(\d\d)(?:\.(\d+))?(?:([+-])(\d\d)(?::(\d\d))?(?::(\d\d))?)?( BC)?$/;

function parseTimestamptz(text: string): Date {
  const parts = TIMESTAMPTZ.exec(text);
  if (!parts) return new Date(text); // 'infinity', '-infinity'
  const [, year, month, day, hour, minute, second, fraction, sign, offsetHours, offsetMinutes, offsetSeconds, bc] = parts;
  const date = new Date(Date.UTC(2000, 0, 1, Number(hour), Number(minute), Number(second), Number((fraction ?? '0').slice(0, 3).padEnd(3, '0'))));
  // Set apart: Date.UTC too takes a year below 100 as 1900 + year.
  date.setUTCFullYear(bc ? 1 - Number(year) : Number(year), Number(month) - 1, Number(day));
  const offset = sign ? (sign === '-' ? -1 : 1) * (Number(offsetHours) * 3600 + Number(offsetMinutes ?? 0) * 60 + Number(offsetSeconds ?? 0)) : 0;
  return new Date(date.getTime() - offset * 1000);
}

/**
 * bigint columns come back as strings, as from node-postgres, so no caller sees two shapes of a row; and
 * timestamptz as node-postgres reads it (`parseTimestamptz`).
 */
const PARSERS = { 20: (value: string) => value, 1184: parseTimestamptz };

/** Without params the text may be a script of several statements (migrations); rows are the last one's. */
async function run<R>(runner: Runner, text: string, params?: unknown[]): Promise<{ rows: R[] }> {
  if (params === undefined) {
    const results = await runner.exec(text, { parsers: PARSERS });
    return { rows: (results[results.length - 1]?.rows ?? []) as R[] };
  }
  const result = await runner.query<R>(text, params, { parsers: PARSERS });
  return { rows: result.rows };
}

/** PGlite's start parameters plus `-c name=value` for each setting; undefined for none. */
function startParamsWith(settings: Record<string, string>): string[] | undefined {
  const entries = Object.entries(settings);
  if (entries.length === 0) return undefined;
  for (const [name] of entries) {
    if (!/^[a-z_][a-z0-9_.]*$/i.test(name)) throw new Error(`not a PostgreSQL setting name: ${JSON.stringify(name)}`);
  }
  return [...PGlite.defaultStartParams, ...entries.flatMap(([name, value]) => ['-c', `${name}=${value}`])];
}

const isInMemory = (dataDir: string): boolean => dataDir === '' || dataDir.startsWith('memory://');

/** The folder PGlite keeps `dataDir` in, as PGlite reads it; null when nothing is on disk. */
function folderOf(dataDir: string): string | null {
  if (isInMemory(dataDir)) return null;
  if (/^[a-z0-9-]+:\/\//.test(dataDir) && !dataDir.startsWith('file://')) return null; // idb://, opfs-ahp://: browsers
  return dataDir.startsWith('file://') ? dataDir.slice('file://'.length) : dataDir;
}

export class PGliteDatabase implements Database {
  readonly schema: string;
  /** The last operation this database queued on the session (settled, never rejecting). */
  private lastQueued: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly pglite: PGlite,
    schema: string,
    private readonly owned: boolean,
    private readonly lock: DirectoryLock | null = null,
  ) {
    this.schema = assertSchemaName(schema);
    if (!sessions.has(pglite)) sessions.set(pglite, { queue: Promise.resolve(), schema: null });
  }

  /**
   * Opens (and on close, closes) PGlite on `dataDir`: a folder, or 'memory://' for nothing on disk.
   * A folder is locked for this process until close: a second opener, here or in another process,
   * fails at once with DirectoryInUseError (two PGlites on one folder corrupt it).
   *
   * `template`: a file of PGlite's `dumpDataDir()`, made by the same PGlite version, that a new database
   * starts from instead of running initdb (most of a new folder's start: ~4.5 of ~7 s here). A folder
   * that already holds a database ignores it.
   *
   * `settings`: PostgreSQL settings it starts with, e.g. `{ shared_buffers: '16MB' }` for a small
   * database: PGlite sets up its 128 MB of shared buffers on every start (~0.4 s of an open here).
   */
  static async open(options: {
    dataDir: string;
    schema: string;
    template?: string;
    settings?: Record<string, string>;
  }): Promise<PGliteDatabase> {
    assertSchemaName(options.schema);
    const startParams = startParamsWith(options.settings ?? {});
    const folder = folderOf(options.dataDir);
    const lock = folder === null ? null : lockDirectory(folder);
    try {
      // Looked at under the lock, so no other opener is creating the database meanwhile. Of what is not a
      // folder, only memory is known to be new (a browser's idb:// may hold a database).
      const isNew = folder === null ? isInMemory(options.dataDir) : !existsSync(join(folder, 'PG_VERSION'));
      const loadDataDir = options.template && isNew ? new Blob([await readFile(options.template)]) : undefined;
      const pglite = await PGlite.create(options.dataDir, { ...(loadDataDir && { loadDataDir }), ...(startParams && { startParams }) });
      return new PGliteDatabase(pglite, options.schema, true, lock);
    } catch (error) {
      lock?.release();
      throw folder === null ? error : await withMajorOf(folder, error);
    }
  }

  /** The PGlite instance underneath, for another schema's database on it (`PGliteDatabase.on`). */
  get instance(): PGlite {
    return this.pglite;
  }

  /** Uses an instance the caller owns and closes (a PGlite, typed by what the module uses of it). */
  static on(pglite: PGliteInstance, schema: string): PGliteDatabase {
    return new PGliteDatabase(pglite as unknown as PGlite, schema, false);
  }

  query<R extends QueryResultRow = QueryResultRow>(text: string, params?: unknown[]): Promise<{ rows: R[] }> {
    return this.exclusive((runner) => run<R>(runner, text, params));
  }

  /** In process: no connection to lose, so the same as `query`. */
  autocommit<R extends QueryResultRow = QueryResultRow>(text: string, params: unknown[]): Promise<{ rows: R[] }> {
    return this.query<R>(text, params);
  }

  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    return this.exclusive(() =>
      this.pglite.transaction((tx) =>
        fn({
          // A turn of the event loop per statement too, as `exclusive` takes one per query: a long transaction
          // (a rebuild) would otherwise starve timers, I/O and signals (Ctrl-C of the CLI) until it ends.
          query: async <R extends QueryResultRow>(text: string, params?: unknown[]) => {
            await nextTurn();
            return run<R>(tx, text, params);
          },
        }),
      ),
    );
  }

  /** Once, however often and concurrently it is called. */
  close(): Promise<void> {
    this.closing ??= this.closeOnce();
    return this.closing;
  }

  /** Set by the first close: from then on new work is refused. */
  private closing: Promise<void> | null = null;

  private async closeOnce(): Promise<void> {
    // New work is refused with the module's error (`closing` is set); what this database queued before
    // finishes first (as a pool's end lets its clients finish). Not the work of others on a shared instance.
    await this.lastQueued;
    if (!this.owned) return;
    try {
      if (!this.pglite.closed) await this.pglite.close();
    } finally {
      this.lock?.release();
    }
  }

  /** Runs `work` alone on the session, with the search_path on this database's schema. */
  private exclusive<T>(work: (runner: Runner) => Promise<T>): Promise<T> {
    if (this.closing) return Promise.reject(databaseClosedError());
    const session = sessions.get(this.pglite)!;
    const result = session.queue.then(async () => {
      // PGlite answers in microtasks: without a turn of the event loop, a loop of queries would starve
      // timers and I/O (an HTTP server, a timeout) for as long as it runs.
      await nextTurn();
      if (session.schema !== this.schema) {
        await this.pglite.exec(`SET search_path TO "${this.schema}"`); // quoted: the name may be a keyword
        session.schema = this.schema;
      }
      return work(this.pglite);
    });
    session.queue = result.catch(() => undefined);
    this.lastQueued = session.queue;
    return result;
  }
}

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * PGlite's own error for a folder it cannot start on says nothing of why ("PGlite failed to initialize
 * properly"); one reason is a folder made by another PostgreSQL major (another PGlite version), which its
 * PG_VERSION tells, when it is not the major this PGlite runs (else the cause is another: a full disk,
 * permissions, a damaged file, and a hint about versions would mislead).
 */
async function withMajorOf(folder: string, error: unknown): Promise<unknown> {
  let major: string;
  try {
    major = readFileSync(join(folder, 'PG_VERSION'), 'utf8').trim();
  } catch {
    return error; // no database there yet: the error is about something else
  }
  if ((await runningMajor().catch(() => major)) === major) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new Error(
    `${message} (the folder holds a PostgreSQL ${major} database: if this PGlite runs another major, it cannot ` +
      'open it; dump it with the PGlite version that made it, and restore the dump into a new folder)',
    { cause: error },
  );
}

/** The PostgreSQL major this PGlite runs, from an instance in memory (only after a failed open). */
async function runningMajor(): Promise<string> {
  const probe = await PGlite.create('memory://');
  try {
    const { rows } = await probe.query<{ version: string }>("SELECT current_setting('server_version_num') AS version");
    return String(Math.floor(Number(rows[0]!.version) / 10_000));
  } finally {
    await probe.close();
  }
}
