import { fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { parseArgs } from 'node:util';
import { Client } from 'pg';
import { PgDatabase } from '../src/adapters/postgres/database';
import { PostgresEventStore } from '../src/adapters/postgres/postgres-event-store';
import { rebuild } from '../projections/catch-up';
import { READ_TABLES } from '../projections/interactions.projection';
import { EVENT_LOG_MIGRATIONS, migrate, READ_TABLE_MIGRATIONS } from '../projections/migrate';
import { createCrudTables, CRUD_INTERACTIONS, CRUD_PARTIES, fillCrudTables } from './baseline';
import { generateLog, LogSummary, makeWorld } from './generate';
import { copyLog } from './load';
import { fmtInt, msSince, renderTable, Table } from './report';
import { SCALES, Scale } from './scales';
import { appendScenario } from './scenarios/append';
import { BenchContext, ScenarioResult } from './scenarios/context';
import { instancesScenario } from './scenarios/instances';
import { pgliteScenario } from './scenarios/pglite';
import { queriesScenario } from './scenarios/queries';
import { rebuildScenario } from './scenarios/rebuild';
import { startupScenario } from './scenarios/startup';

/**
 * `npm run bench -- [--scale small|full] [--seed 42] [--only rebuild,queries,append,instances,pglite,startup] [--json file] [--keep]
 *   [--schema NAME]` (NAME: keep the schema; run again with the same NAME to reuse its log and tables)
 * (it runs what `npm run compile` made of bench/ and src/; the npm script compiles first).
 *
 * One run: a fresh schema on the PostgreSQL of BENCH_DATABASE_URL (else TEST_DATABASE_URL, else the local
 * test database), the generated log COPYed into it, then each scenario in a child process of its own (so
 * memory and warm-up do not leak from one into the next), module and baseline measured side by side in
 * the same run on the same database. The schema is dropped at the end unless --keep.
 */

const SCENARIOS = {
  rebuild: (ctx: BenchContext) => rebuildScenario(ctx),
  queries: async (ctx: BenchContext) => {
    const db = new PgDatabase({ connectionString: ctx.databaseUrl, schema: ctx.schema, max: 1 });
    try {
      return await queriesScenario(ctx, db);
    } finally {
      await db.close();
    }
  },
  append: (ctx: BenchContext) => appendScenario(ctx),
  instances: (ctx: BenchContext) => instancesScenario(ctx),
  pglite: (ctx: BenchContext) => pgliteScenario(ctx),
  startup: (ctx: BenchContext) => startupScenario(ctx),
} as const;
type ScenarioName = keyof typeof SCENARIOS;

const log = (message: string) => process.stderr.write(`[bench] ${message}\n`);

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      scale: { type: 'string', default: 'small' },
      seed: { type: 'string', default: '42' },
      only: { type: 'string' },
      json: { type: 'string' },
      keep: { type: 'boolean', default: false },
      schema: { type: 'string' },
      child: { type: 'string' },
      context: { type: 'string' },
    },
  });
  if (values.child) return runChild(values.child as ScenarioName, JSON.parse(values.context!) as BenchContext);

  const scale = SCALES[values.scale as Scale['name']];
  if (!scale) throw new Error(`--scale must be one of: ${Object.keys(SCALES).join(', ')}`);
  const only = values.only ? values.only.split(',').map((s) => s.trim()) : Object.keys(SCENARIOS);
  const unknown = only.filter((name) => !(name in SCENARIOS));
  if (unknown.length > 0) throw new Error(`unknown scenario(s): ${unknown.join(', ')}`);
  const databaseUrl = process.env.BENCH_DATABASE_URL ?? process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
  const ctx: BenchContext = {
    databaseUrl,
    schema: values.schema ?? `bench_${scale.name}_${randomBytes(4).toString('hex')}`,
    scale,
    seed: Number(values.seed),
    log,
  };
  const began = process.hrtime.bigint();
  const db = new PgDatabase({ connectionString: databaseUrl, schema: ctx.schema, max: 2 });
  const tables: Table[] = [];
  const extra: Record<string, unknown> = {};
  try {
    const machine = await describeMachine(db);
    const loadBefore = loadavg().map((l) => l.toFixed(1)).join(' ');
    log(`${machine}; scale ${scale.name}; schema ${ctx.schema}`);
    await migrate(db, [EVENT_LOG_MIGRATIONS, READ_TABLE_MIGRATIONS]);
    // --schema NAME keeps the schema, and a later run with the same NAME reuses its log and tables.
    const log_ = (await previousLog(db)) ?? (await loadLog(ctx, db));

    const collect = ({ tables: more, json: figures }: ScenarioResult) => {
      tables.push(...more);
      Object.assign(extra, figures);
    };
    if (only.includes('rebuild')) collect(await inChild('rebuild', ctx));
    else if (only.includes('queries') && !(await hasRows(db, 'interactions'))) {
      await rebuild(db, new PostgresEventStore(db), { batchSize: scale.rebuildBatch });
    }

    // The queries read the loaded tables; append works on fresh tables of its own, each round.
    if (only.includes('queries') && !(await hasRows(db, CRUD_INTERACTIONS))) {
      const start = process.hrtime.bigint();
      await createCrudTables(db);
      await fillCrudTables(db);
      for (const table of [...READ_TABLES, CRUD_INTERACTIONS, CRUD_PARTIES]) await db.query(`VACUUM ANALYZE ${table}`);
      log(`CRUD baseline tables filled and everything vacuumed in ${Math.round(msSince(start))} ms`);
    }
    if (only.includes('queries')) collect(await inChild('queries', ctx));
    if (only.includes('append')) collect(await inChild('append', ctx));
    if (only.includes('instances')) collect(await inChild('instances', ctx));
    if (only.includes('pglite')) collect(await inChild('pglite', ctx));
    if (only.includes('startup')) collect(await inChild('startup', ctx));

    const header = [
      `# crm-interactions benchmark, scale ${scale.name} (seed ${ctx.seed})`,
      '',
      `${machine}; load average ${loadBefore} at the start, ${loadavg().map((l) => l.toFixed(1)).join(' ')} at the end.`,
      `Generated log: ${fmtInt(log_.events)} events (${fmtInt(log_.created)} interactions created, ${fmtInt(log_.updated)} updates, ${fmtInt(log_.deleted)} deleted) over ${fmtInt(scale.contacts)} contacts; whole run ${Math.round(msSince(began) / 1000)} s.`,
    ].join('\n');
    const output = [header, ...tables.map(renderTable)].join('\n\n');
    process.stdout.write(`${output}\n`);
    const loadAverage = { start: loadBefore, end: loadavg().map((l) => l.toFixed(1)).join(' ') };
    if (values.json) {
      writeFileSync(values.json, JSON.stringify({ scale: scale.name, seed: ctx.seed, machine, loadAverage, log: log_, tables, ...extra }, null, 2));
    }
  } finally {
    // The append scenario's scratch (normally gone already; left behind only if it crashed).
    await db.query(`DROP DATABASE IF EXISTS ${ctx.schema}_emmett WITH (FORCE)`).catch(() => undefined);
    for (let round = 1; round <= scale.appendRounds; round++) {
      // The append and instances scenarios' round schemas, likewise.
      for (const suffix of ['r', 'i']) await db.query(`DROP SCHEMA IF EXISTS ${ctx.schema}_${suffix}${round} CASCADE`);
    }
    if (!values.keep && !values.schema) await db.query(`DROP SCHEMA IF EXISTS ${ctx.schema} CASCADE`);
    else log(`kept schema ${ctx.schema}`);
    await db.close();
  }
}

const SUMMARY_TABLE = 'bench_log_summary';

async function hasRows(db: PgDatabase, table: string): Promise<boolean> {
  const { rows } = await db.query<{ exists: boolean }>('SELECT to_regclass($1) IS NOT NULL AS exists', [table]);
  if (!rows[0]!.exists) return false;
  return (await db.query(`SELECT 1 FROM ${table} LIMIT 1`)).rows.length > 0;
}

/** The summary of a log loaded by an earlier run into this schema, if any. */
async function previousLog(db: PgDatabase): Promise<LogSummary | null> {
  if (!(await hasRows(db, SUMMARY_TABLE))) return null;
  const { rows } = await db.query<{ summary: LogSummary }>(`SELECT summary FROM ${SUMMARY_TABLE}`);
  log('reusing the log and tables of an earlier run in this schema');
  return rows[0]!.summary;
}

/** Generates the log and COPYs it into `events`, in global order. */
async function loadLog(ctx: BenchContext, db: PgDatabase): Promise<LogSummary> {
  const start = process.hrtime.bigint();
  const summary: LogSummary = { appends: 0, events: 0, created: 0, updated: 0, deleted: 0 };
  const client = new Client({ connectionString: ctx.databaseUrl, options: `-c search_path=${ctx.schema}` });
  await client.connect();
  try {
    await copyLog(client, generateLog(makeWorld(ctx.scale, ctx.seed), ctx.scale, ctx.seed, summary), {
      onProgress: (events) => log(`loaded ${fmtInt(events)} events`),
    });
    await client.query('VACUUM ANALYZE events');
  } finally {
    await client.end();
  }
  log(`log generated and loaded: ${fmtInt(summary.events)} events in ${Math.round(msSince(start))} ms`);
  await db.query(`CREATE TABLE ${SUMMARY_TABLE} (summary jsonb NOT NULL)`);
  await db.query(`INSERT INTO ${SUMMARY_TABLE} (summary) VALUES ($1)`, [JSON.stringify(summary)]);
  return summary;
}

async function describeMachine(db: PgDatabase): Promise<string> {
  const { rows } = await db.query<{ version: string; shared_buffers: string; synchronous_commit: string }>(
    `SELECT current_setting('server_version') AS version, current_setting('shared_buffers') AS shared_buffers,
       current_setting('synchronous_commit') AS synchronous_commit`,
  );
  const pg = rows[0]!;
  const cpu = cpus();
  return `${cpu.length} × ${cpu[0]?.model.trim() ?? 'CPU'}, ${Math.round(totalmem() / 2 ** 30)} GB RAM, Node ${process.version}, PostgreSQL ${pg.version} (shared_buffers ${pg.shared_buffers}, synchronous_commit ${pg.synchronous_commit})`;
}

/** Runs one scenario in a fresh Node process (with this process's flags). */
function inChild(name: ScenarioName, ctx: BenchContext): Promise<ScenarioResult> {
  return new Promise((resolve, reject) => {
    const { log: _log, ...plain } = ctx;
    const child = fork(__filename, ['--child', name, '--context', JSON.stringify(plain)], {
      execArgv: process.execArgv,
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    let result: ScenarioResult | null = null;
    child.on('message', (message) => (result = message as ScenarioResult));
    child.on('error', reject);
    child.on('exit', (code) =>
      code === 0 && result ? resolve(result) : reject(new Error(`scenario ${name} failed (exit code ${code})`)),
    );
  });
}

async function runChild(name: ScenarioName, plain: Omit<BenchContext, 'log'>): Promise<void> {
  const ctx: BenchContext = { ...plain, log: (message) => log(`${name}: ${message}`) };
  const outcome: Table[] | ScenarioResult = await SCENARIOS[name](ctx);
  const result: ScenarioResult = Array.isArray(outcome) ? { tables: outcome } : outcome;
  await new Promise<void>((resolve) => process.send!(result, () => resolve()));
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
