import { createReadStream, createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Client } from 'pg';
import { from as copyFrom, to as copyTo } from 'pg-copy-streams';
import { PgDatabase } from '../../src/adapters/postgres/database';
import { PostgresEventStore } from '../../src/adapters/postgres/postgres-event-store';
import { rebuild } from '../../projections/catch-up';
import { COUNT_TABLES, READ_TABLES } from '../../projections/interactions.projection';
import { fmtInt, fmtMs, fmtRatio, median, msSince, p99, Table } from '../report';
import { BenchContext } from './context';

/**
 * rebuild: replay the whole log into empty read tables (`rebuild`, one transaction, batches read from
 * the log and applied set-based), against the baseline of COPYing the same final rows into the same
 * (emptied) tables. Memory is the process's resident set, sampled while the rebuild runs.
 */
export async function rebuildScenario(ctx: BenchContext): Promise<Table[]> {
  const db = new PgDatabase({ connectionString: ctx.databaseUrl, schema: ctx.schema, max: 2 });
  const store = new PostgresEventStore(db);
  const rebuildMs: number[] = [];
  const batchMs: number[] = [];
  let peakRss = 0;
  let events = 0;
  try {
    for (let run = 0; run < ctx.scale.rebuildRuns; run++) {
      const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 10);
      const start = process.hrtime.bigint();
      let last = start;
      const summary = await rebuild(db, store, {
        batchSize: ctx.scale.rebuildBatch,
        onProgress: () => {
          const now = process.hrtime.bigint();
          batchMs.push(Number(now - last) / 1e6);
          last = now;
          peakRss = Math.max(peakRss, process.memoryUsage().rss);
        },
      });
      rebuildMs.push(msSince(start));
      clearInterval(sampler);
      events = summary.events;
      ctx.log(`rebuild ${run + 1}/${ctx.scale.rebuildRuns}: ${fmtInt(events)} events in ${fmtMs(rebuildMs[run]!)} ms`);
    }
    const counts = await rowCounts(db);
    const rows = counts.interactions + counts.interaction_parties + counts.interaction_involvements;
    const copyMs = await copyBaseline(ctx, ctx.scale.rebuildRuns);
    const after = await rowCounts(db);
    if (JSON.stringify(after) !== JSON.stringify(counts)) throw new Error('the COPY baseline did not reproduce the rebuilt tables');

    const rebuildMedian = median(rebuildMs);
    const copyMedian = median(copyMs);
    const share = copyMedian / rebuildMedian;
    return [
      {
        title: `rebuild: replay ${fmtInt(events)} events into empty read tables (${fmtInt(rows)} rows)`,
        columns: ['', 'runs', 'median s', 'p99 s', 'events/s', 'rows/s', 'batch median ms', 'batch p99 ms', 'peak RSS MB', 'speed vs baseline'],
        rows: [
          [
            'module: rebuild()',
            rebuildMs.length,
            (rebuildMedian / 1000).toFixed(2),
            (p99(rebuildMs) / 1000).toFixed(2),
            fmtInt(events / (rebuildMedian / 1000)),
            fmtInt(rows / (rebuildMedian / 1000)),
            fmtMs(median(batchMs)),
            fmtMs(p99(batchMs)),
            fmtInt(peakRss / 2 ** 20),
            `${(share * 100).toFixed(0)}%`,
          ],
          [
            'baseline: COPY of the final rows',
            copyMs.length,
            (copyMedian / 1000).toFixed(2),
            (p99(copyMs) / 1000).toFixed(2),
            '–',
            fmtInt(rows / (copyMedian / 1000)),
            '–',
            '–',
            '–',
            '100%',
          ],
        ],
        notes: [
          `read tables: ${fmtInt(counts.interactions)} interactions, ${fmtInt(counts.interaction_parties)} parties, ${fmtInt(counts.interaction_involvements)} involvements; batch = ${fmtInt(ctx.scale.rebuildBatch)} events`,
          `target: ≥ 50,000 events/s and ≥ 50% of the baseline's speed, peak RSS < 300 MB; got ${fmtInt(events / (rebuildMedian / 1000))} events/s, ${(share * 100).toFixed(0)}% (${fmtRatio(rebuildMedian / copyMedian)} the COPY time), ${fmtInt(peakRss / 2 ** 20)} MB`,
        ],
      },
    ];
  } finally {
    await db.close();
  }
}

async function rowCounts(db: PgDatabase): Promise<Record<(typeof READ_TABLES)[number], number>> {
  const out = {} as Record<(typeof READ_TABLES)[number], number>;
  for (const table of READ_TABLES) {
    const { rows } = await db.query<{ n: string }>(`SELECT count(*) AS n FROM ${table}`);
    out[table] = Number(rows[0]!.n);
  }
  return out;
}

/**
 * Dumps the read tables to files (not timed), then, `runs` times, empties them and COPYs the rows back
 * in one transaction, like the rebuild: same tables, same indexes, same single commit.
 */
async function copyBaseline(ctx: BenchContext, runs: number): Promise<number[]> {
  const dir = mkdtempSync(join(tmpdir(), 'crm-bench-'));
  const client = new Client({ connectionString: ctx.databaseUrl, options: `-c search_path=${ctx.schema}` });
  await client.connect();
  try {
    for (const table of READ_TABLES) {
      await pipeline(client.query(copyTo(`COPY ${table} TO STDOUT`)), createWriteStream(join(dir, `${table}.copy`)));
    }
    const times: number[] = [];
    for (let run = 0; run < runs; run++) {
      const start = process.hrtime.bigint();
      await client.query('BEGIN');
      await client.query(`TRUNCATE ${[...READ_TABLES, ...COUNT_TABLES].join(', ')}`);
      for (const table of READ_TABLES) {
        await pipeline(createReadStream(join(dir, `${table}.copy`)), client.query(copyFrom(`COPY ${table} FROM STDIN`)));
      }
      await client.query('COMMIT');
      times.push(msSince(start));
      ctx.log(`COPY baseline ${run + 1}/${runs}: ${fmtMs(times[run]!)} ms`);
    }
    return times;
  } finally {
    await client.end();
    rmSync(dir, { recursive: true, force: true });
  }
}
