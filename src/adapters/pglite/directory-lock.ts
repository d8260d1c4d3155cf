import { randomBytes } from 'node:crypto';
import { closeSync, linkSync, mkdirSync, openSync, readFileSync, readlinkSync, realpathSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { Worker } from 'node:worker_threads';

/**
 * One PGlite at a time on a data directory: PGlite has no postmaster to refuse a second opener, and two
 * of them on one directory corrupt it silently. The lock is a file in the directory holding the owner's
 * pid; a lock whose process no longer runs is stale and is taken over. Where Linux tells, the lock also
 * names the process's start time and PID namespace: a pid reused by another process is not the holder.
 * Where the pid tells nothing, another thread of this process (worker threads share the pid) or a process
 * in another PID namespace (a container sharing the host name and the volume, or the same container
 * restarted), the holder's heartbeat tells: a thread of its own (so a long PGlite statement blocking the
 * holder's event loop does not stop it) touches the file every `HEARTBEAT_MS`, and an opener watches the
 * file's time for `WATCH_MS`: changed, the holder lives; unchanged, it is gone. No clock is compared with
 * another. A holder on another host is never presumed dead.
 */
export const LOCK_FILE = 'crm-interactions.lock';

/** Another process (or this one) has the directory open. */
export class DirectoryInUseError extends Error {
  constructor(
    readonly dataDir: string,
    readonly holderPid: number,
    inThisProcess: boolean,
    /** Set when the holder runs on another machine (a shared volume): its pid cannot be checked from here. */
    readonly holderHost?: string,
  ) {
    super(
      inThisProcess
        ? `PGlite data directory ${dataDir} is already open in this process (pid ${holderPid}); close it first`
        : `PGlite data directory ${dataDir} is in use by process ${holderPid}${holderHost ? ` on ${holderHost}` : ''}; ` +
            `stop it first (if no such process uses it, delete ${join(dataDir, LOCK_FILE)})`,
    );
    this.name = 'DirectoryInUseError';
  }
}

interface Holder {
  pid: number;
  token: string;
  hostname?: string;
  /** /proc/self/ns/pid of the holder (Linux). */
  pidNamespace?: string;
  /** The holder process's start time in clock ticks since boot (Linux): tells a reused pid from its holder. */
  started?: string;
}

/** The PID namespace of this process, where Linux tells it. */
const OWN_PID_NAMESPACE = (() => {
  try {
    return readlinkSync('/proc/self/ns/pid');
  } catch {
    return undefined;
  }
})();

/** The fields of /proc/<pid>/stat after the command name in parentheses (the 3rd on), where Linux tells them. */
function statOf(pid: number | 'self'): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}
/** When process `pid` started (field 22). */
const startOf = (pid: number | 'self'): string | undefined => statOf(pid)?.[19];
/** Ended, though its parent has not reaped it yet (field 3: a zombie): a host whose parent never reaps (a container without an init) leaves one. */
const hasEnded = (pid: number): boolean => ['Z', 'X'].includes(statOf(pid)?.[0] ?? '');
const OWN_START = startOf('self');

/** How often a holder's heartbeat touches its lock file, and how long an opener watches for a touch. */
const HEARTBEAT_MS = 500;
export const WATCH_MS = 4_000;

/** The heartbeat's thread: touches the lock file while it is still this holder's (its token). */
const HEARTBEAT_THREAD = `
const { workerData } = require('node:worker_threads');
const { readFileSync, utimesSync } = require('node:fs');
setInterval(() => {
  try {
    if (JSON.parse(readFileSync(workerData.path, 'utf8')).token !== workerData.token) return;
    const now = new Date();
    utimesSync(workerData.path, now, now);
  } catch {
    // gone or being replaced: nothing to keep alive
  }
}, workerData.everyMs);`;

/** The holder runs on another machine (a shared volume): nothing here can tell whether it lives. */
const onOtherHost = (holder: Holder) => holder.hostname !== undefined && holder.hostname !== hostname();
const inOtherPidNamespace = (holder: Holder) =>
  holder.pidNamespace !== undefined && OWN_PID_NAMESPACE !== undefined && holder.pidNamespace !== OWN_PID_NAMESPACE;
/** The holder is this process (its pid and start time): another thread, or one that ended without releasing. */
const isThisProcess = (holder: Holder) => holder.pid === process.pid && holder.started !== undefined && holder.started === OWN_START;

/** Whether the lock file's holder touches it: its time changes within `WATCH_MS` (a short synchronous wait). */
function heartbeatSeen(path: string): boolean {
  const timeOf = () => {
    try {
      return statSync(path).mtimeMs;
    } catch {
      return null; // gone meanwhile: released, or taken over
    }
  };
  const first = timeOf();
  for (const until = Date.now() + WATCH_MS; Date.now() < until; ) {
    pause(100);
    const now = timeOf();
    if (now === null) return false;
    if (now !== first) return true;
  }
  return false;
}

export interface DirectoryLock {
  readonly dataDir: string;
  release(): void;
}

/** Directories this thread holds, by real path: a second open in the same thread fails too. */
const held = new Map<string, string>();

function isRunning(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'; // alive, but someone else's
  }
}

function readHolder(path: string): { text: string; holder: Holder | null } | null {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
  try {
    const parsed = JSON.parse(text) as Partial<Holder>;
    // pid 0 or below would name a process group to kill(): never a holder.
    return Number.isInteger(parsed.pid) && parsed.pid! > 0 && typeof parsed.token === 'string'
      ? { text, holder: parsed as Holder }
      : { text, holder: null };
  } catch {
    return { text, holder: null }; // a lock file is written whole (link below), so garbage is not a live lock
  }
}

/**
 * Stale: its process is gone (or a zombie), or its pid now names another process (started at another time; without a
 * start time, a lock naming this pid that this thread does not hold); where the pid cannot tell (another
 * PID namespace, another thread of this process), its heartbeat stopped.
 */
function isStale(holder: Holder | null, dir: string, path: string): boolean {
  if (!holder) return true;
  if (onOtherHost(holder)) return false;
  if (inOtherPidNamespace(holder) || isThisProcess(holder)) return !heartbeatSeen(path);
  if (holder.pid === process.pid) return held.get(dir) !== holder.token;
  if (!isRunning(holder.pid) || hasEnded(holder.pid)) return true;
  const started = holder.started === undefined ? undefined : startOf(holder.pid);
  return started !== undefined && started !== holder.started;
}

/** A file created whole at `path`, or false if `path` exists: link() is atomic and never replaces. */
function createExclusive(path: string, content: string): boolean {
  const draft = `${path}.${process.pid}.${randomBytes(4).toString('hex')}`;
  writeFileSync(draft, content, { flag: 'wx' });
  try {
    linkSync(draft, path);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  } finally {
    unlinkSync(draft);
  }
}

/** A short synchronous wait while another process finishes its take-over (a few file calls). */
function pause(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

const TAKEOVER_STALE_MS = 10_000;

/**
 * Removes the stale lock `seen` unless someone else did first. Removal needs a guard: without it a
 * slow taker could delete the fresh lock another taker just created in its place. The guard is held
 * for a few synchronous file calls only, so one older than 10 s belongs to a process that died there.
 */
function removeStale(path: string, seen: string): void {
  const guard = `${path}.takeover`;
  let fd: number;
  try {
    fd = openSync(guard, 'wx');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    try {
      if (Date.now() - statSync(guard).mtimeMs > TAKEOVER_STALE_MS) unlinkSync(guard);
    } catch {
      // gone meanwhile
    }
    return; // the caller tries again
  }
  try {
    if (readHolder(path)?.text === seen) unlinkSync(path);
  } finally {
    closeSync(fd);
    unlinkSync(guard);
  }
}

/** Locks `dataDir` (created if missing) for this process, or throws DirectoryInUseError at once. */
export function lockDirectory(dataDir: string): DirectoryLock {
  mkdirSync(dataDir, { recursive: true });
  const dir = realpathSync(resolve(dataDir));
  const path = join(dir, LOCK_FILE);
  const holder: Holder = { pid: process.pid, token: randomBytes(8).toString('hex') };
  const content = JSON.stringify({
    ...holder,
    hostname: hostname(),
    pidNamespace: OWN_PID_NAMESPACE,
    started: OWN_START,
    since: new Date().toISOString(),
  });
  const deadline = Date.now() + 2_000 + WATCH_MS;
  for (;;) {
    if (held.has(dir)) throw new DirectoryInUseError(dir, process.pid, true);
    if (createExclusive(path, content)) break;
    const current = readHolder(path);
    if (current && !isStale(current.holder, dir, path)) {
      const other = current.holder!;
      if (onOtherHost(other)) throw new DirectoryInUseError(dir, other.pid, false, other.hostname);
      if (inOtherPidNamespace(other)) {
        const where = `${hostname()} in another PID namespace (alive: its heartbeat touches the lock)`;
        throw new DirectoryInUseError(dir, other.pid, false, where);
      }
      throw new DirectoryInUseError(dir, other.pid, other.pid === process.pid);
    }
    if (current) removeStale(path, current.text);
    if (Date.now() > deadline) {
      throw new Error(`could not take over the stale lock ${path}: another process is taking it over (${path}.takeover)`);
    }
    pause(5);
  }
  held.set(dir, holder.token);
  let released = false;
  // Its own thread, so that nothing this thread runs (a long PGlite statement) stops it; it ends with
  // this thread (a worker thread that ends, its heartbeat with it) and never keeps the process up.
  const heartbeat = new Worker(HEARTBEAT_THREAD, { eval: true, workerData: { path, token: holder.token, everyMs: HEARTBEAT_MS } });
  heartbeat.unref();
  return {
    dataDir: dir,
    release() {
      if (released) return;
      released = true;
      void heartbeat.terminate();
      held.delete(dir);
      if (readHolder(path)?.holder?.token === holder.token) unlinkSync(path);
    },
  };
}
