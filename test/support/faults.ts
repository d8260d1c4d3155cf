import { randomBytes } from 'node:crypto';
import { AddressInfo, connect, createServer, Socket } from 'node:net';
import { Client } from 'pg';
import { TEST_DATABASE_URL } from './postgres';

/** Runs `work` on a connection of the test's own to the test server's default database. */
export async function admin<T>(work: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: TEST_DATABASE_URL });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/**
 * A database of the test's own, so that a fault test can terminate every backend of it and nothing
 * else: fault tests kill only what they started.
 */
export async function ownDatabase(prefix: string): Promise<{ name: string; url(query?: string): string; drop(): Promise<void> }> {
  const name = `${prefix}_${randomBytes(5).toString('hex')}`;
  await admin((c) => c.query(`CREATE DATABASE ${name}`));
  return {
    name,
    url(query = '') {
      const url = new URL(TEST_DATABASE_URL);
      url.pathname = `/${name}`;
      url.search = query;
      return url.toString();
    },
    drop: () => admin((c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)).then(() => undefined),
  };
}

/**
 * Terminates every backend of `database` every `everyMs` while `going(kills so far)` (which may also
 * hold the next round back); resolves with how many it ended.
 */
export function terminateBackendsWhile(
  database: string,
  going: (kills: number) => boolean | Promise<boolean>,
  everyMs: number,
): Promise<number> {
  return admin(async (client) => {
    let kills = 0;
    while (await going(kills)) {
      const { rowCount } = await client.query(
        'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()',
        [database],
      );
      kills += rowCount ?? 0;
      await new Promise((resolve) => setTimeout(resolve, everyMs));
    }
    return kills;
  });
}

/**
 * A TCP proxy to the test server that can cut its clients off while keeping its own connections to the
 * server open, as a network partition does: the server neither sees the client go nor stops what it runs.
 */
export async function partitionableProxy(): Promise<{ url(database: string): string; partition(): void; freeze(): void; close(): Promise<void> }> {
  const target = new URL(TEST_DATABASE_URL);
  const pairs: Array<{ client: Socket; server: Socket }> = [];
  const frozen: Array<{ client: Socket; server: Socket }> = [];
  const proxy = createServer((client) => {
    const server = connect(Number(target.port || 5432), target.hostname);
    client.on('error', () => undefined);
    server.on('error', () => undefined);
    client.pipe(server);
    server.pipe(client);
    pairs.push({ client, server });
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  const { port } = proxy.address() as AddressInfo;
  return {
    url: (database) => {
      const url = new URL(TEST_DATABASE_URL);
      url.hostname = '127.0.0.1';
      url.port = String(port);
      url.pathname = `/${database}`;
      return url.toString();
    },
    partition: () => {
      for (const { client, server } of pairs) {
        client.unpipe(server); // no end of stream reaches the server
        server.unpipe(client);
        client.destroy();
      }
    },
    // The connections open now go silent both ways, none of them closed (a host gone without a reset, as
    // a crash or a partition leaves them); connections made later are forwarded as before.
    freeze: () => {
      for (const { client, server } of pairs.splice(0)) {
        client.unpipe(server);
        server.unpipe(client);
        frozen.push({ client, server });
      }
    },
    close: async () => {
      for (const { client, server } of frozen) {
        client.destroy();
        server.destroy();
      }
      for (const { client, server } of pairs) {
        client.destroy();
        server.destroy();
      }
      await new Promise((resolve) => proxy.close(resolve));
    },
  };
}
