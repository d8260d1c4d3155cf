import { Database } from '../../src/ports/database';
import { EventStore } from '../../src/ports/event-store';
import { DATABASE, EVENT_STORE } from '../../src/nest/tokens';
import { rebuild } from '../../projections/catch-up';
import { pgArray } from '../../projections/interactions.projection';
import { createCrudTables, CRUD_INSERT_INTERACTION, CRUD_INSERT_PARTIES, fillCrudTables } from '../baseline';
import { GeneratedAppend, generateLog, makeWorld } from '../generate';
import { prng } from '../random';
import { fmtInt, fmtMs, fmtRatio, median, msSince, p99, Table } from '../report';
import { SCALES } from '../scales';
import { bootModule, createInputs, CreateInput, crudParams, drive } from './append';
import { BenchContext } from './context';
import { measureQueries, pickQueryData, queryCases } from './queries';

/**
 * pglite: the append and query scenarios (and a rebuild) at `small` size on the embedded default (PGlite,
 * in memory, in this process), module against the same CRUD baseline, so users see what they give up.
 * Always small, whatever --scale says: PGlite is for development and demos.
 */
export async function pgliteScenario(ctx: BenchContext): Promise<Table[]> {
  const scale = { ...SCALES.small, interactions: ctx.scale.pgliteInteractions };
  const small: BenchContext = { ...ctx, scale };
  const world = makeWorld(scale, ctx.seed);
  let booted;
  try {
    booted = await bootModule({ pglite: { dataDir: 'memory://' } }, 'bench_pglite', world);
  } catch (error) {
    return [
      {
        title: 'pglite: skipped',
        columns: ['reason'],
        rows: [[error instanceof Error ? error.message : String(error)]],
        notes: ["this version of the module cannot open database: { pglite: { dataDir: 'memory://' } }"],
      },
    ];
  }
  const { app, service } = booted;
  const db = app.get<Database>(DATABASE);
  const store = app.get<EventStore>(EVENT_STORE);
  try {
    // The generated log, inserted as the event store would have appended it, then projected by a rebuild.
    let start = process.hrtime.bigint();
    const events = await insertLog(db, generateLog(world, scale, ctx.seed));
    const loadMs = msSince(start);
    start = process.hrtime.bigint();
    await rebuild(db, store);
    const rebuildMs = msSince(start);
    ctx.log(`${fmtInt(events)} events loaded in ${fmtMs(loadMs)} ms, rebuilt in ${fmtMs(rebuildMs)} ms`);
    await createCrudTables(db);
    await fillCrudTables(db);
    await db.query('VACUUM ANALYZE');

    const queryRows = await measureQueries(queryCases(db, await pickQueryData(db, small)), ctx, {
      iterations: scale.queryIterations,
      capMs: scale.querySeriesMs,
      baseline: true,
    });

    const random = prng(ctx.seed + 13);
    const viaModule = (input: CreateInput) => service.createInteraction(input.attrs, input.parties);
    const viaCrud = (input: CreateInput) => crudCreate(db, input);
    await drive(createInputs(world, scale, random, 50), 1, viaModule);
    await drive(createInputs(world, scale, random, 50), 1, viaCrud);
    const appendRows: Table['rows'] = [];
    for (const callers of [1, scale.callers]) {
      const crud = await drive(createInputs(world, scale, random, ctx.scale.pgliteAppends), callers, viaCrud);
      const mine = await drive(createInputs(world, scale, random, ctx.scale.pgliteAppends), callers, viaModule);
      appendRows.push([
        `createInteraction, ${callers} caller${callers > 1 ? 's' : ''}`,
        fmtInt(mine.perSecond),
        fmtMs(median(mine.latencies)),
        fmtMs(p99(mine.latencies)),
        fmtInt(crud.perSecond),
        fmtMs(p99(crud.latencies)),
        fmtRatio(mine.perSecond / crud.perSecond),
      ]);
    }
    return [
      {
        title: `pglite (embedded, in memory): append, ${fmtInt(scale.interactions)} interactions`,
        columns: ['', 'per second', 'median ms', 'p99 ms', 'CRUD per second', 'CRUD p99 ms', 'throughput vs CRUD'],
        rows: appendRows,
        notes: [
          `PGlite is one connection in this process: concurrent callers queue; ${fmtInt(ctx.scale.pgliteAppends)} commands per row`,
          `the log (${fmtInt(events)} events) was rebuilt into the read tables in ${(rebuildMs / 1000).toFixed(2)} s (${fmtInt(events / (rebuildMs / 1000))} events/s)`,
        ],
      },
      {
        title: `pglite (embedded, in memory): queries, ${fmtInt(scale.interactions)} interactions (ms)`,
        columns: ['query', 'median', 'p99', 'p99 target', 'naive median', 'naive p99', 'speed-up (median)', 'speed-up (p99)', 'calls'],
        rows: queryRows,
        notes: ['compare with the PostgreSQL tables of a `--scale small` run (same data size)'],
      },
    ];
  } finally {
    await app.close();
  }
}

/** Inserts the log in global order, a few thousand events per statement (no COPY on PGlite). */
async function insertLog(db: Database, appends: Iterable<GeneratedAppend>): Promise<number> {
  let count = 0;
  let chunk: { id: string; stream: string; revision: number; type: string; data: string; metadata: string }[] = [];
  const flush = async () => {
    if (chunk.length === 0) return;
    await db.query(
      `INSERT INTO events (event_id, stream_name, stream_revision, event_type, data, metadata)
       SELECT e.id, e.stream, e.revision, e.type, e.data, e.metadata
       FROM ROWS FROM (unnest($1::uuid[]), unnest($2::text[]), unnest($3::bigint[]), unnest($4::text[]),
         json_array_elements($5::json), json_array_elements($6::json)) AS e(id, stream, revision, type, data, metadata)`,
      [
        pgArray(chunk.map((e) => e.id)),
        pgArray(chunk.map((e) => e.stream)),
        pgArray(chunk.map((e) => e.revision)),
        pgArray(chunk.map((e) => e.type)),
        `[${chunk.map((e) => e.data).join(',')}]`,
        `[${chunk.map((e) => e.metadata).join(',')}]`,
      ],
    );
    count += chunk.length;
    chunk = [];
  };
  for (const append of appends) {
    append.events.forEach((event, k) =>
      chunk.push({
        id: event.id,
        stream: append.streamName,
        revision: append.first + k,
        type: event.type,
        data: JSON.stringify(event.data),
        metadata: JSON.stringify(event.metadata),
      }),
    );
    if (chunk.length >= 2000) await flush();
  }
  await flush();
  return count;
}

/** The CRUD write on PGlite: the same two inserts in one transaction. */
async function crudCreate(db: Database, input: CreateInput): Promise<void> {
  const params = crudParams(input);
  await db.transaction(async (tx) => {
    await tx.query(CRUD_INSERT_INTERACTION, params.interaction);
    await tx.query(CRUD_INSERT_PARTIES, params.parties);
  });
}
