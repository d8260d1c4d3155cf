import { execFile, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { Worker } from 'node:worker_threads';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { PGliteDatabase } from '../../src/adapters/pglite/database';
import { DirectoryInUseError, LOCK_FILE, lockDirectory, WATCH_MS } from '../../src/adapters/pglite/directory-lock';
import { failedHost, HostProcess, spawnHost } from '../demo/host-process';
import { compiledPath } from '../support/compiled';

const BIN = resolve(__dirname, '../../bin/crm-interactions.js');
const run = promisify(execFile);

async function cli(dataDir: string, ...args: string[]): Promise<{ stdout: string; stderr: string; code: number }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [BIN, ...args], {
      env: { ...process.env, PGLITE_DATA_DIR: dataDir, DATABASE_URL: '', KURRENTDB_URL: '', DEBUG: '' },
    });
    return { stdout, stderr, code: 0 };
  } catch (error) {
    const failed = error as { stdout: string; stderr: string; code: number };
    return { stdout: failed.stdout, stderr: failed.stderr, code: failed.code };
  }
}

/** The pid of a process that has ended: nothing runs under it (barring reuse within milliseconds). */
function deadPid(): number {
  const pid = spawnSync(process.execPath, ['-e', '0']).pid!;
  expect(() => process.kill(pid, 0)).toThrow();
  return pid;
}

const stat = (stdout: string, name: string) => new RegExp(`^${name}\\s+(\\S+)`, 'm').exec(stdout)?.[1];

describe('PGlite directory lock', () => {
  const root = mkdtempSync(join(tmpdir(), 'crm-interactions-lock-'));
  let host: HostProcess | undefined;
  afterAll(() => {
    host?.child.kill('SIGKILL');
    rmSync(root, { recursive: true, force: true });
  });

  it('a second opener in this process fails at once naming the directory and this pid; close releases', async () => {
    const dataDir = join(root, 'same-process');
    const first = await PGliteDatabase.open({ dataDir, schema: 'crm_interactions' });
    try {
      const second = PGliteDatabase.open({ dataDir, schema: 'other' });
      await expect(second).rejects.toThrow(DirectoryInUseError);
      await expect(second).rejects.toThrow(`${dataDir} is already open in this process (pid ${process.pid})`);
      expect(JSON.parse(readFileSync(join(dataDir, LOCK_FILE), 'utf8'))).toMatchObject({ pid: process.pid });
    } finally {
      await first.close();
    }
    expect(existsSync(join(dataDir, LOCK_FILE))).toBe(false);
    const again = await PGliteDatabase.open({ dataDir, schema: 'crm_interactions' });
    await again.close();
  }, 60_000);

  it("needs no lock for 'memory://'", async () => {
    const a = await PGliteDatabase.open({ dataDir: 'memory://', schema: 'a' });
    const b = await PGliteDatabase.open({ dataDir: 'memory://', schema: 'b' });
    await Promise.all([a.close(), b.close()]);
  }, 60_000);

  it('takes over the stale lock of a process that is gone, also one naming this pid that this process does not hold', () => {
    const dataDir = join(root, 'stale');
    lockDirectory(dataDir).release();
    for (const pid of [deadPid(), process.pid]) {
      writeFileSync(join(dataDir, LOCK_FILE), JSON.stringify({ pid, token: 'gone' }));
      const lock = lockDirectory(dataDir);
      expect(JSON.parse(readFileSync(join(dataDir, LOCK_FILE), 'utf8')).pid).toBe(process.pid);
      lock.release();
      expect(existsSync(join(dataDir, LOCK_FILE))).toBe(false);
    }
    for (const garbage of ['half-written garbage', JSON.stringify({ pid: 0, token: 'group' }), JSON.stringify({ pid: -1, token: 'all' })]) {
      writeFileSync(join(dataDir, LOCK_FILE), garbage);
      lockDirectory(dataDir).release();
    }
  });

  it('takes over the lock of a holder that ended but was never reaped (a zombie: its parent does not wait)', async () => {
    if (!existsSync('/proc/self/stat')) return;
    const dataDir = join(root, 'zombie');
    lockDirectory(dataDir).release();
    // The shell starts a process, then becomes `sleep`, which never reaps it: once it ends it is a zombie.
    const parent = spawn('sh', ['-c', `${JSON.stringify(process.execPath)} -e 0 & echo $!; exec sleep 60`], { stdio: ['ignore', 'pipe', 'ignore'] });
    try {
      const pid = Number(await new Promise<string>((done) => parent.stdout!.once('data', (chunk) => done(String(chunk)))));
      const stateOf = () => { const fields = readFileSync(`/proc/${pid}/stat`, 'utf8'); return fields.slice(fields.lastIndexOf(')') + 2).split(' ')[0]; };
      for (let i = 0; i < 200 && stateOf() !== 'Z'; i++) await new Promise((done) => setTimeout(done, 25));
      expect(stateOf()).toBe('Z');
      writeFileSync(join(dataDir, LOCK_FILE), JSON.stringify({ pid, token: 'zombie', started: startOf(pid), pidNamespace: readlinkSync('/proc/self/ns/pid') }));
      const lock = lockDirectory(dataDir);
      expect(lockOf(dataDir).pid).toBe(process.pid);
      lock.release();
    } finally {
      parent.kill('SIGKILL');
    }
  });

  it('never presumes dead a holder on another machine (a shared volume): its pid cannot be checked from here', () => {
    const dataDir = join(root, 'elsewhere');
    lockDirectory(dataDir).release();
    const pid = deadPid();
    writeFileSync(join(dataDir, LOCK_FILE), JSON.stringify({ pid, token: 'remote', hostname: 'another-machine' }));
    expect(() => lockDirectory(dataDir)).toThrow(`is in use by process ${pid} on another-machine; stop it first`);
  });

  /** This process's start, and another's, as the lock names them (Linux: /proc/<pid>/stat). */
  const startOf = (pid: number) => {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]!;
  };
  const linux = existsSync('/proc/self/ns/pid');

  /**
   * A worker thread of this process that takes the lock of `dataDir` and holds it until terminated; with
   * `busyMs`, it then blocks its event loop that long (a long PGlite statement does).
   */
  async function holderThread(dataDir: string, busyMs = 0): Promise<Worker> {
    const code = `
      const { lockDirectory } = require(${JSON.stringify(compiledPath('src/adapters/pglite/directory-lock.ts'))});
      const { parentPort, workerData } = require('node:worker_threads');
      lockDirectory(workerData.dataDir);
      parentPort.postMessage('locked');
      const until = Date.now() + workerData.busyMs;
      while (Date.now() < until); // nothing on this thread runs meanwhile
      setInterval(() => undefined, 1000);`;
    const worker = new Worker(code, { eval: true, workerData: { dataDir, busyMs } });
    await new Promise((resolve, reject) => worker.once('message', resolve).once('error', reject));
    return worker;
  }
  const lockOf = (dataDir: string) => JSON.parse(readFileSync(join(dataDir, LOCK_FILE), 'utf8'));

  it('refuses another thread of this process while its heartbeat runs, also with its event loop blocked; takes it over once it ended', async () => {
    const dataDir = join(root, 'threads');
    const worker = await holderThread(dataDir, 8_000);
    try {
      const started = Date.now();
      expect(() => lockDirectory(dataDir)).toThrow(`is already open in this process (pid ${process.pid})`);
      expect(Date.now() - started).toBeLessThan(WATCH_MS + 1_000);
    } finally {
      await worker.terminate(); // ends without releasing: its heartbeat ends with it
    }
    const token = lockOf(dataDir).token;
    const lock = lockDirectory(dataDir);
    expect(lockOf(dataDir).token).not.toBe(token);
    lock.release();
    expect(existsSync(join(dataDir, LOCK_FILE))).toBe(false);
  }, 30_000);

  (linux ? it : it.skip)('refuses a holder in another PID namespace while its heartbeat runs; takes it over once it stopped (a container restarted in place)', async () => {
    const dataDir = join(root, 'namespace');
    const worker = await holderThread(dataDir);
    // The same holder as seen from another PID namespace: a pid that means nothing here.
    const elsewhere = { ...lockOf(dataDir), pid: deadPid(), pidNamespace: 'pid:[1]' };
    writeFileSync(join(dataDir, LOCK_FILE), JSON.stringify(elsewhere));
    try {
      expect(() => lockDirectory(dataDir)).toThrow(
        `is in use by process ${elsewhere.pid} on ${hostname()} in another PID namespace (alive: its heartbeat touches the lock)`,
      );
    } finally {
      await worker.terminate();
    }
    lockDirectory(dataDir).release(); // its heartbeat stopped: taken over
    // Its own namespace: its pid is checked (gone: stale at once).
    writeFileSync(join(dataDir, LOCK_FILE), JSON.stringify({ ...elsewhere, pidNamespace: readlinkSync('/proc/self/ns/pid') }));
    const started = Date.now();
    lockDirectory(dataDir).release();
    expect(Date.now() - started).toBeLessThan(1_000);
  }, 30_000);

  (linux ? it : it.skip)("tells a reused pid from its holder by the start time: a process before this one on this pid, another process on a holder's pid", () => {
    const dataDir = join(root, 'reused');
    lockDirectory(dataDir).release();
    // This pid, another start: a process before this one (a container's pid 1 after a restart).
    writeFileSync(join(dataDir, LOCK_FILE), JSON.stringify({ pid: process.pid, token: 'before', hostname: hostname(), started: '1' }));
    lockDirectory(dataDir).release();
    const sleeper = spawn('sleep', ['30']);
    try {
      const other = { pid: sleeper.pid!, token: 'other', hostname: hostname() };
      writeFileSync(join(dataDir, LOCK_FILE), JSON.stringify({ ...other, started: startOf(sleeper.pid!) }));
      expect(() => lockDirectory(dataDir)).toThrow(`is in use by process ${sleeper.pid}`);
      writeFileSync(join(dataDir, LOCK_FILE), JSON.stringify({ ...other, started: '1' })); // its pid, reused since
      lockDirectory(dataDir).release();
    } finally {
      sleeper.kill('SIGKILL');
    }
  });

  it('of many processes taking over one stale lock at the same moment, exactly one wins', async () => {
    const dataDir = join(root, 'race');
    lockDirectory(dataDir).release();
    const contenders = 6;
    for (let round = 0; round < 2; round++) {
      writeFileSync(join(dataDir, LOCK_FILE), JSON.stringify({ pid: deadPid(), token: 'crashed' }));
      const at = Date.now() + 4_000; // all started by then, even on a busy machine
      const outputs = await Promise.all(
        Array.from({ length: contenders }, () =>
          run(process.execPath, [compiledPath(join(__dirname, 'lock-child.ts')), dataDir, String(at), '3000']).then(
            ({ stdout }) => stdout.trim(),
          ),
        ),
      );
      const winners = outputs.filter((line) => line.startsWith('won '));
      expect(winners).toHaveLength(1);
      const winner = winners[0]!.slice('won '.length);
      expect(outputs.filter((line) => line === `busy ${winner}`)).toHaveLength(contenders - 1);
      expect(existsSync(join(dataDir, LOCK_FILE))).toBe(false); // released on the winner's way out
    }
  }, 90_000);

  it('the CLI takes over a stale lock left by a killed process', async () => {
    const dataDir = join(root, 'stale-cli');
    expect((await cli(dataDir, 'migrate')).code).toBe(0);
    writeFileSync(join(dataDir, LOCK_FILE), JSON.stringify({ pid: deadPid(), token: 'killed' }));
    const stats = await cli(dataDir, 'stats');
    expect(stats.stderr).toBe('');
    expect(stats.code).toBe(0);
    expect(existsSync(join(dataDir, LOCK_FILE))).toBe(false);
  }, 60_000);

  it('two processes on one directory: the second (a CLI, another host) fails at once with the holder, the data stays intact', async () => {
    const dataDir = join(root, 'two-processes');
    host = await spawnHost({ PGLITE_DATA_DIR: dataDir }).started;
    const hostPid = host.child.pid!;
    const contacts = (await (await fetch(`${host.base}/contacts`)).json()) as { uuid: string }[];
    const post = async (subject: string) => {
      const response = await fetch(`${host!.base}/interactions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ contactUuid: contacts[0]!.uuid, subject }),
      });
      expect(response.status).toBe(201);
      return (await response.json()) as { uuid: string; insertedAt: string };
    };
    const created = await post('before the intruders');

    const message = `PGlite data directory ${dataDir} is in use by process ${hostPid}`;
    for (const command of [['stats'], ['rebuild'], ['migrate']]) {
      const started = Date.now();
      const intruder = await cli(dataDir, ...command);
      expect(intruder.code).toBe(1);
      expect(intruder.stderr).toContain(message);
      expect(intruder.stderr.trim().split('\n')).toHaveLength(1); // one line, no stack
      expect(Date.now() - started).toBeLessThan(30_000); // no waiting for the lock (the CLI's own start aside)
    }
    const secondHost = await failedHost({ PGLITE_DATA_DIR: dataDir });
    expect(secondHost.code).not.toBe(0);
    expect(secondHost.output).toContain(message);
    const refusedAt = Date.now();
    await expect(PGliteDatabase.open({ dataDir, schema: 'crm_interactions' })).rejects.toThrow(message);
    expect(Date.now() - refusedAt).toBeLessThan(1_000); // at once

    // The host goes on writing, undisturbed.
    await post('after the intruders');
    host.child.kill('SIGTERM');
    expect((await host.exited).signal).toBe('SIGTERM');
    host = undefined;
    expect(existsSync(join(dataDir, LOCK_FILE))).toBe(false);

    // Intact: the log, the read tables and as-of agree (3 samples + 2 interactions, 2 events each).
    const stats = await cli(dataDir, 'stats');
    expect(stats.code).toBe(0);
    expect(stat(stats.stdout, 'events')).toBe('10');
    expect(stat(stats.stdout, 'streams')).toBe('5');
    expect(stat(stats.stdout, 'interactions')).toBe('5');
    const head = stat(stats.stdout, 'head');
    const asOf = await cli(dataDir, 'as-of', created.uuid, new Date(Date.now() + 1000).toISOString());
    expect(asOf.code).toBe(0);
    expect(JSON.parse(asOf.stdout)).toMatchObject({ uuid: created.uuid, subject: 'before the intruders' });
    const rebuilt = await cli(dataDir, 'rebuild');
    expect(rebuilt.stdout).toMatch(/from 10 events/);
    expect(rebuilt.stdout).toContain(`checkpoint ${head}`); // the rebuild replayed up to the head stats saw
  }, 180_000);
});
