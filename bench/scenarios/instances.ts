import { loadavg } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { DriveResult, postgresServerCpuMs } from '../drive';
import { fmtInt, fmtMs, fmtOptionalMs, fmtRange, median, msSince, p99, rotate, round3, roundOptional, stats, Table } from '../report';
import { WorkerProcess } from '../worker-process';
import { BenchContext, ScenarioResult } from './context';
import type { InstanceRequest, InstanceResult } from './instance-worker';

type Mode = 'one' | 'two';
type Work = 'create' | 'update';

/** One measured step: the workers' loops, and the wall time and server CPU around all of them. */
interface Step {
  drives: DriveResult[];
  commands: number;
  perSecond: number;
  serverCpuMs: number | null;
}

/**
 * instances: the module scaled out, as a load balancer would run it — two host processes on one
 * PostgreSQL, each with its own pool, against one process with the same number of callers. Creates, then
 * updates where each instance edits interactions the other created (so every update reads what another
 * process wrote). `appendRounds` rounds, each on a fresh schema, the two modes in an order rotated every
 * round; after each round the log and the read tables are counted: nothing lost, nothing doubled.
 */
export async function instancesScenario(ctx: BenchContext): Promise<ScenarioResult> {
  const { scale } = ctx;
  const half = Math.floor(scale.callers / 2);
  const loadBefore = loadavg()[0]!;
  const admin = new Client({ connectionString: ctx.databaseUrl });
  await admin.connect();
  const rounds: { order: Mode[]; steps: Record<Work, Record<Mode, Step>> }[] = [];
  try {
    for (let round = 0; round < scale.appendRounds; round++) {
      const schema = `${ctx.schema}_i${round + 1}`;
      const instances = [0, 1].map(
        () => new WorkerProcess<InstanceRequest, InstanceResult>(join(__dirname, 'instance-worker.js'), 'an instance worker'),
      );
      try {
        // One after the other, as a rolling start would: the first migrates the new schema.
        for (const [instance, worker] of instances.entries()) {
          await worker.request({
            kind: 'open', databaseUrl: ctx.databaseUrl, schema, scale: scale.name, seed: ctx.seed + round, instance, poolSize: scale.callers + 4,
          });
        }
        const [a, b] = instances as [WorkerProcess<InstanceRequest, InstanceResult>, WorkerProcess<InstanceRequest, InstanceResult>];
        const created: [string[], string[]] = [[], []];
        const create = async (worker: 0 | 1, callers: number, count: number) => {
          const { drive, uuids } = await instances[worker]!.request({ kind: 'create', callers, count });
          created[worker].push(...uuids!);
          return drive!;
        };
        // Warm-up, not measured: connections, JIT, the first plans, in both processes.
        await Promise.all([create(0, half, scale.appendWarmup), create(1, half, scale.appendWarmup)]);
        const warm = created.map((uuids) => uuids.splice(0)) as [string[], string[]];
        await Promise.all([a.request({ kind: 'update', callers: half, uuids: warm[1] }), b.request({ kind: 'update', callers: half, uuids: warm[0] })]);

        const order = rotate<Mode>(['one', 'two'], round);
        const count = scale.appendConcurrent;
        const steps = { create: {}, update: {} } as Record<Work, Record<Mode, Step>>;
        for (const mode of order) {
          steps.create[mode] = await measure(count, () =>
            mode === 'one' ? Promise.all([create(0, scale.callers, count)]) : Promise.all([create(0, half, count / 2), create(1, half, count / 2)]),
          );
        }
        // Updates: instance a edits what b created and the other way round; one interaction, one edit.
        const edits = Math.min(scale.updateConcurrent, Math.floor(Math.min(created[0].length, created[1].length) / 2));
        const targets = { one: created[1].slice(0, edits), two: [created[1].slice(edits, edits + edits / 2), created[0].slice(edits, edits + edits / 2)] };
        for (const mode of order) {
          steps.update[mode] = await measure(edits, async () =>
            mode === 'one'
              ? [(await a.request({ kind: 'update', callers: scale.callers, uuids: targets.one })).drive!]
              : (await Promise.all([a.request({ kind: 'update', callers: half, uuids: targets.two[0]! }), b.request({ kind: 'update', callers: half, uuids: targets.two[1]! })])).map((r) => r.drive!),
          );
        }
        await assertNothingLost(admin, schema, scale.appendWarmup * 2 + count * 2, warm[0].length + warm[1].length + edits * 2);
        rounds.push({ order, steps });
        ctx.log(
          `round ${round + 1}/${scale.appendRounds} (${order.join(', ')}): creates one ${fmtInt(steps.create.one.perSecond)}/s, two ${fmtInt(steps.create.two.perSecond)}/s; ` +
            `updates one ${fmtInt(steps.update.one.perSecond)}/s, two ${fmtInt(steps.update.two.perSecond)}/s`,
        );
      } finally {
        for (const worker of instances) await worker.stop({ kind: 'close' });
        await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      }
    }
  } finally {
    await admin.end();
  }
  return summarise(ctx, rounds, [loadBefore, loadavg()[0]!]);
}

/** Runs `work` (the workers' loops, concurrently) and measures throughput and server CPU around it all. */
async function measure(commands: number, work: () => Promise<DriveResult[]>): Promise<Step> {
  const server = postgresServerCpuMs();
  const start = process.hrtime.bigint();
  const drives = await work();
  const elapsed = msSince(start);
  const serverNow = postgresServerCpuMs();
  return { drives, commands, perSecond: commands / (elapsed / 1000), serverCpuMs: server === null || serverNow === null ? null : serverNow - server };
}

/** Every create and every edit of the round is in the log once, and every interaction in the read table. */
async function assertNothingLost(admin: Client, schema: string, creates: number, edits: number): Promise<void> {
  const { rows } = await admin.query<{ streams: string; events: string; updated: string; interactions: string }>(
    `SELECT (SELECT count(DISTINCT stream_name) FROM ${schema}.events) AS streams,
            (SELECT count(*) FROM ${schema}.events) AS events,
            (SELECT count(*) FROM ${schema}.events WHERE event_type = 'InteractionUpdated') AS updated,
            (SELECT count(*) FROM ${schema}.interactions) AS interactions`,
  );
  const got = rows[0]!;
  const expected = { streams: creates, events: creates * 2 + edits, updated: edits, interactions: creates };
  const actual = { streams: Number(got.streams), events: Number(got.events), updated: Number(got.updated), interactions: Number(got.interactions) };
  if (JSON.stringify(actual) !== JSON.stringify(expected)) {
    throw new Error(`instances: the log or the read table lost or doubled writes: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`);
  }
}

function summarise(ctx: BenchContext, rounds: { order: Mode[]; steps: Record<Work, Record<Mode, Step>> }[], load: [number, number]): ScenarioResult {
  const { scale } = ctx;
  const half = Math.floor(scale.callers / 2);
  const ratio = (work: Work) => stats(rounds.map((r) => r.steps[work].two.perSecond / r.steps[work].one.perSecond));
  const perCommand = (work: Work, mode: Mode, of: (step: Step) => number | null): number | null => {
    const values = rounds.map((r) => of(r.steps[work][mode]));
    return values.every((v) => v !== null) ? median(values.map((v, i) => v! / rounds[i]!.steps[work][mode].commands)) : null;
  };
  const nodeCpu = (step: Step) => step.drives.reduce((sum, d) => sum + d.cpuMs, 0);
  const row = (work: Work, mode: Mode, label: string) => {
    const latencies = rounds.flatMap((r) => r.steps[work][mode].drives.flatMap((d) => d.latencies));
    return [
      label,
      `${fmtInt(rounds[0]!.steps[work][mode].commands)} × ${rounds.length}`,
      fmtInt(median(rounds.map((r) => r.steps[work][mode].perSecond))),
      fmtMs(median(latencies)),
      fmtMs(p99(latencies)),
      fmtOptionalMs(perCommand(work, mode, nodeCpu)),
      fmtOptionalMs(perCommand(work, mode, (step) => step.serverCpuMs)),
      mode === 'one' ? '–' : fmtRange(ratio(work)),
    ];
  };
  const vs = { create: ratio('create'), update: ratio('update') };
  const ranges = (s: { min: number; max: number }) => [round3(s.min), round3(s.max)];
  const table: Table = {
    title: `instances: two module processes (${half} callers each) vs one (${scale.callers} callers) on one PostgreSQL`,
    columns: ['', 'commands × rounds', 'per second (median)', 'median ms', 'p99 ms', 'Node CPU ms/command', 'server CPU ms/command', 'two ÷ one, throughput: median (min–max)'],
    rows: [
      row('create', 'one', `createInteraction, 1 instance, ${scale.callers} callers`),
      row('create', 'two', `createInteraction, 2 instances, ${half} + ${half} callers`),
      row('update', 'one', `updateInteraction, 1 instance, ${scale.callers} callers`),
      row('update', 'two', `updateInteraction, 2 instances, ${half} + ${half} callers`),
    ],
    notes: [
      `each instance a Node process of its own booting the module on the round's schema (PostgreSQL event store, inline projection), pool of ${scale.callers + 4} each (as in the append scenario); "1 instance" is one of them with all the callers. Updates: each instance edits interactions the other created, one edit each`,
      `${rounds.length} rounds, each on a fresh schema, the two modes in an order rotated every round; throughput: commands ÷ the wall time until every instance is done; Node CPU: both processes' process.cpuUsage() over their loops ÷ commands; server CPU as in the append scenario`,
      `after every round the log and the read table are counted: every create a stream with 2 events and a row, every edit one InteractionUpdated (a mismatch fails the run)`,
      `load average (1 min) ${load[0].toFixed(1)} at the start of the scenario, ${load[1].toFixed(1)} at the end. On 2 shared cores a second process adds no cores: the ratio shows what two instances cost, not what a bigger machine would gain`,
    ],
  };
  return {
    tables: [table],
    json: {
      instances: {
        createTwoVsOne: round3(vs.create.median),
        updateTwoVsOne: round3(vs.update.median),
        ranges: { createTwoVsOne: ranges(vs.create), updateTwoVsOne: ranges(vs.update) },
        perSecond: Object.fromEntries(
          (['create', 'update'] as const).flatMap((work) => (['one', 'two'] as const).map((mode) => [`${work}${mode === 'one' ? 1 : 2}`, rounds.map((r) => Math.round(r.steps[work][mode].perSecond))])),
        ),
        serverCpuMsPerCommand: Object.fromEntries(
          (['create', 'update'] as const).flatMap((work) => (['one', 'two'] as const).map((mode) => [`${work}${mode === 'one' ? 1 : 2}`, roundOptional(perCommand(work, mode, (s) => s.serverCpuMs))])),
        ),
        rounds: rounds.length,
      },
    },
  };
}
