import { createHash } from 'node:crypto';
import { Client } from 'pg';
import { INTERACTIONS_PROJECTION } from '../../../projections/catch-up';
import { LeaseTerm, ProjectionLease } from '../../ports/projection-lease';

/**
 * The lease as a PostgreSQL advisory lock of the read tables' database, session-level, on a connection of
 * its own: held for as long as that session lives, so it is released when the holder closes it, when its
 * process dies (the server sees the socket close) or when the connection drops; an instance without it
 * asks `pg_try_advisory_lock` every second and takes over within about that. No table: nothing to expire,
 * renew or clean up after a crash.
 *
 * Why a separate small client and not the module's pool: a session-level lock belongs to one server
 * session, and the `Database` port hands out a pooled connection per statement (the lock would stay on
 * whichever connection ran it, and `pg_advisory_unlock` would have to find it again); keeping a pooled
 * connection checked out, or a transaction open (`pg_advisory_xact_lock`), would take one of the pool's
 * few connections for good and show as "idle in transaction" forever. One extra connection per instance,
 * opened from the same connection string, changes nothing in the port or the adapters. PGlite needs
 * none: it is one process's in-process database, so that process is the only one (no lease at all).
 *
 * The holder checks its session every `heartbeatMs` (`SELECT 1`, failing after `heartbeatTimeoutMs`), so a
 * connection that died silently ends the term too. A host that vanishes without closing its sockets would
 * keep the lock until the server's TCP keepalive noticed (two hours by default), with no instance
 * applying meanwhile: the session asks the server to end it once idle for a few heartbeats
 * (`idle_session_timeout`, PostgreSQL 14 and later; older servers keep the keepalive's time).
 */
export class AdvisoryLockLease implements ProjectionLease {
  /** The lease's connection (also while it connects, so that close() can cut that short); null: none. */
  private client: Client | null = null;
  private closed = false;
  /** Settles when close() is called: a connect in flight gives up then (pg's connect never settles once ended). */
  private readonly closing: Promise<void>;
  private markClosed: () => void = () => undefined;
  private readonly key: string;
  private readonly heartbeatMs: number;
  private readonly heartbeatTimeoutMs: number;
  private readonly idleSessionTimeoutMs: number;

  constructor(
    private readonly config: {
      connectionString: string;
      /** The read tables' schema and the projection's name make the lock's key. */
      schema: string;
      name?: string;
      heartbeatMs?: number;
      heartbeatTimeoutMs?: number;
    },
  ) {
    this.key = projectionLeaseKey(config.schema, config.name ?? INTERACTIONS_PROJECTION);
    this.heartbeatMs = config.heartbeatMs ?? 2000;
    this.heartbeatTimeoutMs = config.heartbeatTimeoutMs ?? 5000;
    // Well past a heartbeat that takes its whole timeout, and past a follower's pause between attempts.
    this.idleSessionTimeoutMs = Math.max(3 * this.heartbeatMs, 2 * this.heartbeatTimeoutMs);
    this.closing = new Promise((resolve) => (this.markClosed = resolve));
  }

  async tryAcquire(): Promise<LeaseTerm | null> {
    if (this.closed) return null;
    const client = this.client ?? (await this.connect());
    let held: boolean;
    try {
      // Bounded as the heartbeat is: a connection gone silent (a partition) would hold the attempt, and with
      // it this instance's takeover, for as long as TCP takes to tell (minutes to hours).
      const { rows } = await this.answered(client.query<{ held: boolean }>('SELECT pg_try_advisory_lock($1::bigint) AS held', [this.key]));
      held = rows[0]?.held === true;
    } catch (error) {
      void this.drop(client);
      throw error;
    }
    if (!held) return null; // the connection stays open for the next attempt
    return { lost: this.watch(client) };
  }

  async release(): Promise<void> {
    // Ending the session releases the lock; the next attempt opens a new one.
    if (this.client) await this.drop(this.client);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.markClosed();
    const client = this.client;
    this.client = null;
    // Ending the session releases the lock (no pg_advisory_unlock needed, and none can be missed); ending
    // a connection still being made aborts it.
    if (client) await endQuietly(client);
  }

  private async connect(): Promise<Client> {
    const client = new Client({
      connectionString: this.config.connectionString,
      // The connection string's own application_name, if it has one, wins.
      application_name: 'crm-interactions projection lease',
      connectionTimeoutMillis: 10_000,
      keepAlive: true,
    });
    // Without a listener, a server that drops the idle connection would end the host process.
    client.on('error', () => undefined);
    this.client = client;
    try {
      const outcome = await Promise.race([client.connect().then(() => 'connected' as const), this.closing.then(() => 'closed' as const)]);
      if (outcome === 'closed') throw new Error('the projection lease is closed'); // close() ends the client
      // Set only where the server has the setting (none on PostgreSQL 13 and older): no error either way.
      await this.answered(
        client.query(`SELECT set_config(name, $1, false) FROM pg_settings WHERE name = 'idle_session_timeout'`, [String(this.idleSessionTimeoutMs)]),
      );
    } catch (error) {
      void this.drop(client);
      throw error;
    }
    return client;
  }

  /** Settles when the session holding the lock ends or stops answering. */
  private watch(client: Client): Promise<unknown> {
    return new Promise((resolve) => {
      let over = false;
      let heartbeat: NodeJS.Timeout | undefined;
      const lose = (reason: unknown) => {
        if (over) return;
        over = true;
        clearTimeout(heartbeat);
        client.off('error', lose);
        client.off('end', ended);
        void this.drop(client);
        resolve(reason);
      };
      const ended = () => lose(new Error('the lease connection ended'));
      client.on('error', lose);
      client.on('end', ended);
      // The next heartbeat is timed from the end of the last: a slow answer never overlaps the next query.
      const beat = () => {
        heartbeat = setTimeout(() => void this.answered(client.query('SELECT 1')).then(() => (over ? undefined : beat()), lose), this.heartbeatMs);
        heartbeat.unref();
      };
      beat();
    });
  }

  /** `query`'s answer, or a rejection once the lease connection has not answered within `heartbeatTimeoutMs`. */
  private answered<T>(query: Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`the lease connection did not answer within ${this.heartbeatTimeoutMs} ms`)), this.heartbeatTimeoutMs);
    });
    return Promise.race([query, timeout]).finally(() => clearTimeout(timer));
  }

  private async drop(client: Client): Promise<void> {
    if (this.client === client) this.client = null;
    await endQuietly(client);
  }
}

/**
 * The advisory lock's key: 64 bits of a hash of schema and projection name, so each schema's projection
 * has its own lease on a shared database (advisory locks are per database) and collisions are negligible.
 */
export function projectionLeaseKey(schema: string, name: string = INTERACTIONS_PROJECTION): string {
  const digest = createHash('sha256').update(`crm-interactions projection lease\0${schema}\0${name}`).digest();
  return digest.readBigInt64BE(0).toString();
}

/** Ends a client, never throwing and never waiting more than a second (its socket may be gone already). */
function endQuietly(client: Client): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, 1000);
    timer.unref();
    client.end().then(
      () => {
        clearTimeout(timer);
        resolve();
      },
      () => {
        clearTimeout(timer);
        resolve();
      },
    );
  });
}
