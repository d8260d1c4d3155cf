import { readdirSync, readFileSync } from 'node:fs';
import { msSince } from './report';

/**
 * The load loop every write scenario shares, kept free of the module's imports so that a baseline's
 * worker process (Emmett's) can use it without loading Nest or the module.
 */
export interface DriveResult {
  /** Each call's latency (ms), as its caller saw it. */
  latencies: number[];
  /** Calls per second over the whole loop. */
  perSecond: number;
  /**
   * This process's CPU time (user + system, ms) over the loop, from process.cpuUsage(): everything this
   * Node process did meanwhile, the database client's work included; not the database server's CPU.
   */
  cpuMs: number;
  /**
   * The CPU time (ms) of every PostgreSQL server process on this machine over the loop (its backends, WAL
   * writer, checkpointer…), read from /proc; null where there is no /proc or no local server. On a shared
   * machine it includes whatever else the server did meanwhile.
   */
  serverCpuMs: number | null;
}

/** Linux reports process times in USER_HZ ticks, 100 per second on every architecture's /proc ABI. */
const MS_PER_TICK = 10;

/**
 * The summed user + system CPU (ms) of the processes named `postgres`, or null when none can be read.
 * With their reaped children's (cutime, cstime): a backend that ends within a loop (a pool closing an idle
 * connection) leaves its CPU to the postmaster that reaps it, instead of taking it out of the sum.
 */
export function postgresServerCpuMs(): number | null {
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return null;
  }
  let ticks = 0;
  let found = false;
  for (const pid of entries) {
    if (!/^\d+$/.test(pid)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    } catch {
      continue; // gone meanwhile, or not ours to read
    }
    // "pid (comm) state ppid …": comm may hold spaces, so fields are counted after its closing parenthesis.
    const close = stat.lastIndexOf(')');
    if (stat.slice(stat.indexOf('(') + 1, close) !== 'postgres') continue;
    const fields = stat.slice(close + 2).split(' ');
    // utime, stime, cutime, cstime (fields 14–17 of the whole line)
    ticks += Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14]);
    found = true;
  }
  return found ? ticks * MS_PER_TICK : null;
}

/**
 * `callers` concurrent loops take the next input until all are done; returns each call's latency, the
 * throughput over the whole run and the process CPU it took.
 */
export async function drive<T>(inputs: T[], callers: number, call: (input: T) => Promise<unknown>): Promise<DriveResult> {
  const latencies: number[] = [];
  let next = 0;
  const cpu = process.cpuUsage();
  const server = postgresServerCpuMs();
  const start = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: callers }, async () => {
      while (next < inputs.length) {
        const input = inputs[next++]!;
        const t = process.hrtime.bigint();
        await call(input);
        latencies.push(msSince(t));
      }
    }),
  );
  const elapsed = msSince(start);
  const used = process.cpuUsage(cpu);
  const serverNow = postgresServerCpuMs();
  return {
    latencies,
    perSecond: inputs.length / (elapsed / 1000),
    cpuMs: (used.user + used.system) / 1000,
    serverCpuMs: server === null || serverNow === null ? null : serverNow - server,
  };
}

/** `drive` over interactions, each call also given its index (for an edit that differs per call). */
export function driveEach(uuids: string[], callers: number, call: (uuid: string, i: number) => Promise<unknown>): Promise<DriveResult> {
  return drive(uuids.map((uuid, i) => [uuid, i] as const), callers, ([uuid, i]) => call(uuid, i));
}
