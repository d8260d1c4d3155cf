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
}

/**
 * `callers` concurrent loops take the next input until all are done; returns each call's latency, the
 * throughput over the whole run and the process CPU it took.
 */
export async function drive<T>(inputs: T[], callers: number, call: (input: T) => Promise<unknown>): Promise<DriveResult> {
  const latencies: number[] = [];
  let next = 0;
  const cpu = process.cpuUsage();
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
  return { latencies, perSecond: inputs.length / (elapsed / 1000), cpuMs: (used.user + used.system) / 1000 };
}
