import { Database } from '../../src/ports/database';
import {
  countInteractions,
  countInvolving,
  FeedFilter,
  findForContacts,
  findInvolving,
  findRecent,
  findSubjectUuids,
  NO_FILTER,
} from '../../projections/interactions.queries';
import { searchQueryOf } from '../../src/domain/search';
import { NAIVE } from '../baseline';
import { makeWorld } from '../generate';
import { int, prng } from '../random';
import { fmtInt, fmtMs, fmtRatio, median, msSince, p99, Table } from '../report';
import { BenchContext } from './context';

/** One query case: the module's query and the naive baseline, over the same parameters. */
interface QueryCase {
  name: string;
  /** p99 target in ms (the issue's), for the note. */
  target: number;
  module: (i: number) => Promise<unknown>;
  /** null: nothing to compare with (the round-trip floor). */
  baseline: ((i: number) => Promise<unknown>) | null;
}

export interface QueryData {
  busy: { uuid: string; involvements: number };
  /** Contacts with the median number of involvements, and with the median number of subject interactions. */
  typical: string[];
  typicalInvolvements: number;
  typicalSubjects: string[];
  typicalSubjectCount: number;
  /** Sets of 200 contacts, drawn from every contact of the directory. */
  contactSets: string[][];
  /** How deep the deep page of the busy contact's feed starts (5,000, or half its feed when smaller). */
  deep: number;
}

/** The filters of the feed cases (issue 11): a type, a quarter, and search words of three frequencies. */
const TYPE = 'call';
const QUARTER = { occurredFrom: new Date('2025-04-01T00:00:00Z'), occurredTo: new Date('2025-07-01T00:00:00Z') };
/** A subject word (about one interaction in nine), a word of nearly every body, and a word of none. */
const WORDS = { subject: 'escalation', common: 'renewal', none: 'zebra' } as const;

export async function pickQueryData(db: Database, ctx: BenchContext): Promise<QueryData> {
  const { rows: busy } = await db.query<{ contact_uuid: string; n: string }>(
    `SELECT contact_uuid, count(*) AS n FROM interaction_involvements GROUP BY contact_uuid ORDER BY n DESC, contact_uuid LIMIT 1`,
  );
  const around = async (sql: string): Promise<{ uuids: string[]; n: number }> => {
    const { rows } = await db.query<{ contact_uuid: string; n: string }>(sql);
    const mid = Math.floor(rows.length / 2);
    const slice = rows.slice(Math.max(0, mid - 100), mid + 100);
    return { uuids: slice.map((r) => r.contact_uuid), n: Number(rows[mid]?.n ?? 0) };
  };
  const typical = await around(
    `SELECT contact_uuid, count(*) AS n FROM interaction_involvements GROUP BY contact_uuid ORDER BY n, contact_uuid`,
  );
  const subjects = await around(`SELECT contact_uuid, count(*) AS n FROM interactions GROUP BY contact_uuid ORDER BY n, contact_uuid`);
  const world = makeWorld(ctx.scale, ctx.seed);
  const random = prng(ctx.seed + 7);
  const contactSets = Array.from({ length: 50 }, () =>
    Array.from({ length: 200 }, () => world.contacts[int(random, world.contacts.length)]!.uuid),
  );
  return {
    busy: { uuid: busy[0]!.contact_uuid, involvements: Number(busy[0]!.n) },
    typical: typical.uuids,
    typicalInvolvements: typical.n,
    typicalSubjects: subjects.uuids,
    typicalSubjectCount: subjects.n,
    contactSets,
    deep: Math.min(5_000, Math.floor(Number(busy[0]!.n) / 2)),
  };
}

export function queryCases(db: Database, data: QueryData): QueryCase[] {
  const uuidsOf = (rows: { uuid: string }[]) => rows.map((r) => r.uuid);
  const naive = async (sql: string, params: unknown[]) => uuidsOf((await db.query<{ uuid: string }>(sql, params)).rows);
  const at = <T>(items: T[], i: number) => items[i % items.length]!;
  return [
    {
      name: 'floor: SELECT 1 (one round trip, nothing read)',
      target: Number.NaN,
      module: () => db.query('SELECT 1'),
      baseline: null,
    },
    {
      name: `listInvolving, busy contact (${fmtInt(data.busy.involvements)} interactions), first 50`,
      target: 2,
      module: async () => uuidsOf(await findInvolving(db, data.busy.uuid, { limit: 50, after: null })),
      baseline: () => naive(NAIVE.involving, [data.busy.uuid, 50]),
    },
    {
      name: `listInvolving, typical contact (${fmtInt(data.typicalInvolvements)} interactions), first 50`,
      target: 2,
      module: async (i) => uuidsOf(await findInvolving(db, at(data.typical, i), { limit: 50, after: null })),
      baseline: (i) => naive(NAIVE.involving, [at(data.typical, i), 50]),
    },
    {
      name: 'listForContacts, 200 contacts, limit 50',
      target: 10,
      module: async (i) => uuidsOf(await findForContacts(db, at(data.contactSets, i), { limit: 50, after: null })),
      baseline: (i) => naive(NAIVE.forContacts, [at(data.contactSets, i), 50]),
    },
    ...feedCases(db, data),
    {
      name: `interactionUuidsForContact, typical contact (${fmtInt(data.typicalSubjectCount)} uuids)`,
      target: 2,
      module: (i) => findSubjectUuids(db, at(data.typicalSubjects, i)),
      baseline: (i) => naive(NAIVE.subjectUuids, [at(data.typicalSubjects, i)]),
    },
    {
      name: 'interactionUuidsForContact, busy contact',
      target: Number.NaN,
      module: () => findSubjectUuids(db, data.busy.uuid),
      baseline: () => naive(NAIVE.subjectUuids, [data.busy.uuid]),
    },
  ];
}

/**
 * The feeds a History tab browses (issue 11): filtered pages, a deep page by cursor, search, counts; each
 * with the naive SQL over the CRUD tables (OFFSET paging, regular expressions, count(*)).
 */
function feedCases(db: Database, data: QueryData): QueryCase[] {
  const uuidsOf = (rows: { uuid: string }[]) => rows.map((r) => r.uuid);
  const naive = async (sql: string, params: unknown[]) => uuidsOf((await db.query<{ uuid: string }>(sql, params)).rows);
  const at = <T>(items: T[], i: number) => items[i % items.length]!;
  const filter = (f: Partial<FeedFilter>): FeedFilter => ({ ...NO_FILTER, ...f });
  const word = (w: string) => filter({ search: searchQueryOf(w) });
  /** The naive filters' parameters: types, from, to, search word. */
  const naiveFilters = (f: { types?: string[]; occurredFrom?: Date; occurredTo?: Date; word?: string }) => [
    f.types ?? null, f.occurredFrom ?? null, f.occurredTo ?? null, f.word ?? null,
  ];
  /** Counts as one sorted object, whichever side computed them. */
  const sorted = (counts: Record<string, number>) => JSON.stringify(Object.fromEntries(Object.entries(counts).sort()));
  const naiveCounts = async (sql: string, params: unknown[]) =>
    sorted(Object.fromEntries((await db.query<{ interaction_type: string; n: string }>(sql, params)).rows.map((r) => [r.interaction_type, Number(r.n)])));
  let deepCursor: Promise<{ occurredAt: Date; insertedAt: Date; uuid: string }> | null = null;
  const deep = () =>
    (deepCursor ??= findInvolving(db, data.busy.uuid, { limit: data.deep, after: null }).then((items) => {
      const last = items[items.length - 1]!;
      return { occurredAt: last.occurredAt, insertedAt: last.insertedAt, uuid: last.uuid };
    }));
  const involving = (who: 'busy' | 'typical', label: string, f: FeedFilter, naiveF: Parameters<typeof naiveFilters>[0]): QueryCase => ({
    name: `listInvolving, ${who} contact, ${label}, first 50`,
    target: Number.NaN,
    module: async (i) => uuidsOf(await findInvolving(db, who === 'busy' ? data.busy.uuid : at(data.typical, i), { limit: 50, after: null }, f)),
    baseline: (i) => naive(NAIVE.involvingFiltered, [who === 'busy' ? data.busy.uuid : at(data.typical, i), 50, ...naiveFilters(naiveF), 0]),
  });
  return [
    involving('busy', `type ${TYPE}`, filter({ types: [TYPE] }), { types: [TYPE] }),
    involving('typical', `type ${TYPE}`, filter({ types: [TYPE] }), { types: [TYPE] }),
    involving('busy', 'a quarter', filter(QUARTER), QUARTER),
    involving('typical', 'a quarter', filter(QUARTER), QUARTER),
    {
      name: `listInvolving, busy contact, 50 after ${fmtInt(data.deep)} (cursor; naive: OFFSET)`,
      target: Number.NaN,
      module: async () => uuidsOf(await findInvolving(db, data.busy.uuid, { limit: 50, after: await deep() })),
      baseline: () => naive(NAIVE.involvingFiltered, [data.busy.uuid, 50, ...naiveFilters({}), data.deep]),
    },
    {
      name: `search "${WORDS.subject}", busy contact, first 50`,
      target: 25,
      module: async () => uuidsOf(await findInvolving(db, data.busy.uuid, { limit: 50, after: null }, word(WORDS.subject))),
      baseline: () => naive(NAIVE.involvingFiltered, [data.busy.uuid, 50, ...naiveFilters({ word: WORDS.subject }), 0]),
    },
    {
      name: `search "${WORDS.none}" (in no interaction), busy contact`,
      target: 25,
      module: async () => uuidsOf(await findInvolving(db, data.busy.uuid, { limit: 50, after: null }, word(WORDS.none))),
      baseline: () => naive(NAIVE.involvingFiltered, [data.busy.uuid, 50, ...naiveFilters({ word: WORDS.none }), 0]),
    },
    {
      name: 'listRecent, first 50',
      target: Number.NaN,
      module: async () => uuidsOf(await findRecent(db, { limit: 50, after: null })),
      baseline: () => naive(NAIVE.recent, [50, ...naiveFilters({})]),
    },
    ...Object.entries(WORDS).map(([, w]): QueryCase => ({
      name: `listRecent, search "${w}", first 50`,
      target: 25,
      module: async () => uuidsOf(await findRecent(db, { limit: 50, after: null }, word(w))),
      baseline: () => naive(NAIVE.recent, [50, ...naiveFilters({ word: w })]),
    })),
    {
      name: 'countInvolving, busy contact',
      target: 2,
      module: async () => sorted(await countInvolving(db, data.busy.uuid)),
      baseline: () => naiveCounts(NAIVE.countInvolving, [data.busy.uuid]),
    },
    {
      name: 'countInteractions',
      target: 5,
      module: async () => sorted(await countInteractions(db)),
      baseline: () => naiveCounts(NAIVE.countInteractions, []),
    },
  ];
}

/** Calls `fn` `iterations` times one after the other (after a short warm-up), or until `capMs` passed. */
export async function series(fn: (i: number) => Promise<unknown>, iterations: number, capMs: number): Promise<number[]> {
  for (let i = 0; i < Math.min(20, iterations); i++) await fn(i);
  const samples: number[] = [];
  const began = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) {
    const start = process.hrtime.bigint();
    await fn(i);
    samples.push(msSince(start));
    if (samples.length >= 20 && msSince(began) > capMs) break;
  }
  return samples;
}

/** Runs every case on the module and on the baseline; checks first that both answer the same. */
export async function measureQueries(
  cases: QueryCase[],
  ctx: BenchContext,
  options: { iterations: number; capMs: number; baseline: boolean },
): Promise<Table['rows']> {
  const rows: Table['rows'] = [];
  for (const c of cases) {
    const baseline = options.baseline ? c.baseline : null;
    if (baseline) {
      for (let i = 0; i < 3; i++) {
        const [mine, theirs] = [await c.module(i), await baseline(i)];
        if (JSON.stringify(mine) !== JSON.stringify(theirs)) throw new Error(`${c.name}: the module and the baseline disagree`);
      }
    }
    const mine = await series(c.module, options.iterations, options.capMs);
    const theirs = baseline ? await series(baseline, options.iterations, options.capMs) : [];
    ctx.log(`${c.name}: module p99 ${fmtMs(p99(mine))} ms${baseline ? `, baseline p99 ${fmtMs(p99(theirs))} ms` : ''}`);
    rows.push([
      c.name,
      fmtMs(median(mine)),
      fmtMs(p99(mine)),
      Number.isFinite(c.target) ? `< ${c.target}` : '–',
      ...(options.baseline
        ? baseline
          ? [fmtMs(median(theirs)), fmtMs(p99(theirs)), fmtRatio(median(theirs) / median(mine)), fmtRatio(p99(theirs) / p99(mine))]
          : ['–', '–', '–', '–']
        : []),
      `${mine.length}${baseline ? ` / ${theirs.length}` : ''}`,
    ]);
  }
  return rows;
}

/**
 * queries: the read side at scale, one caller, one query at a time, against the naive SQL over the
 * normalised CRUD tables (same rows, same answers).
 */
export async function queriesScenario(ctx: BenchContext, db: Database): Promise<Table[]> {
  const { rows: counts } = await db.query<{ i: string; p: string; v: string }>(
    `SELECT (SELECT count(*) FROM interactions) AS i, (SELECT count(*) FROM interaction_parties) AS p,
       (SELECT count(*) FROM interaction_involvements) AS v`,
  );
  const data = await pickQueryData(db, ctx);
  const rows = await measureQueries(queryCases(db, data), ctx, {
    iterations: ctx.scale.queryIterations,
    capMs: ctx.scale.querySeriesMs,
    baseline: true,
  });
  const c = counts[0]!;
  return [
    {
      title: `queries: ${fmtInt(Number(c.i))} interactions, ${fmtInt(Number(c.p))} parties, ${fmtInt(ctx.scale.contacts)} contacts (ms)`,
      columns: ['query', 'median', 'p99', 'p99 target', 'naive median', 'naive p99', 'speed-up (median)', 'speed-up (p99)', 'calls'],
      rows,
      notes: [
        'one caller, query functions of projections/interactions.queries.ts on a pool of one connection (TCP); naive = the same page, same answers, over bench_crud_* (indexes on subject and on party contact)',
        'target: p99 as in the table, each query ≥ 10× faster than the naive SQL; the naive series stop after a time cap (see calls); the floor row is what the machine gives any query',
      ],
    },
  ];
}
