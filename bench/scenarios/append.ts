import { readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Client, Pool } from 'pg';
import { uuidv7 } from 'uuidv7';
import { InteractionsModule, InteractionsModuleOptions, InteractionsService, PartyInput } from '../../src';
import { isoSeconds } from '../../src/domain/events';
import { ContactRecord, StaffRecord } from '../../src/domain/interaction';
import { pgArray } from '../../projections/interactions.projection';
import {
  createCrudIndexes,
  createCrudTables,
  CRUD_INSERT_INTERACTION,
  CRUD_INSERT_PARTIES,
  CRUD_DELETE_INTERACTION,
  CRUD_UPDATE_INTERACTION,
  CRUD_UPDATE_BODY,
} from '../baseline';
import { drive, driveEach, DriveResult } from '../drive';
import { makeWorld, pickContact, World } from '../generate';
import { int, pick, prng, Random } from '../random';
import { fmtInt, fmtMs, fmtOptionalCores, fmtOptionalMs, fmtRange, median, msSince, p99, rotate, round2, round3, roundOptional, stats, Table } from '../report';
import { Scale } from '../scales';
import { BenchContext, ScenarioResult } from './context';
import type { EmmettEvent, EmmettRequest } from './emmett-worker';
import { WorkerProcess } from '../worker-process';

/** A create command's input: a subject and 3 parties (two contacts, one free-text). */
export interface CreateInput {
  attrs: { contactUuid: string; interactionType: 'call'; subject: string; body: string; occurredAt: Date };
  parties: PartyInput[];
}

export function createInputs(world: World, scale: Scale, random: Random, count: number): CreateInput[] {
  return Array.from({ length: count }, (_, i) => {
    const [a, b] = [pickContact(random, world, scale), pickContact(random, world, scale)];
    return {
      attrs: {
        contactUuid: pickContact(random, world, scale).uuid,
        interactionType: 'call',
        subject: `Bench call ${i}`,
        body: 'we talked about the renewal pricing and the next steps for the rollout',
        occurredAt: new Date(Date.UTC(2026, 0, 1) + int(random, 3_000_000) * 1000),
      },
      parties: [
        { rawName: a.name ?? 'A', contactUuid: a.uuid },
        { rawName: b.name ?? 'B', contactUuid: b.uuid },
        { rawName: pick(random, ['Visitor', 'Driver', 'Lawyer']) },
      ],
    };
  });
}

export class MapContactDirectory {
  private readonly byUuid: Map<string, ContactRecord>;
  constructor(contacts: ContactRecord[]) {
    this.byUuid = new Map(contacts.map((c) => [c.uuid, c]));
  }
  async findContacts(uuids: string[]): Promise<ContactRecord[]> {
    return uuids.flatMap((uuid) => {
      const contact = this.byUuid.get(uuid);
      return contact ? [contact] : [];
    });
  }
}

export class MapStaffDirectory {
  private readonly byUuid: Map<string, StaffRecord>;
  constructor(staff: StaffRecord[]) {
    this.byUuid = new Map(staff.map((s) => [s.uuid, s]));
  }
  async findStaff(uuids: string[]): Promise<StaffRecord[]> {
    return uuids.flatMap((uuid) => {
      const person = this.byUuid.get(uuid);
      return person ? [person] : [];
    });
  }
}

/** The edit every update scenario makes to an interaction: its subject and body. */
export function editOf(uuid: string, i: number): { subject: string; body: string } {
  return {
    subject: `Bench call ${i} (edited)`,
    body: `we agreed on the renewal pricing and the next steps for the rollout (${uuid.slice(-4)})`,
  };
}

/** The second edit of the update scenario: the body alone (the one text a note's correction changes). */
export function bodyEditOf(uuid: string, i: number): string {
  return `we agreed on the pricing; the rollout starts next week (${i}, ${uuid.slice(-4)})`;
}

/** Boots the module as a host would, in a Nest application context. */
export async function bootModule(database: InteractionsModuleOptions['database'], schema: string, world: World) {
  @Module({
    imports: [
      InteractionsModule.forRoot({
        database,
        schema,
        contactDirectory: new MapContactDirectory(world.contacts),
        staffDirectory: new MapStaffDirectory(world.staff),
      }),
    ],
  })
  class BenchHostModule {}
  const app = await NestFactory.createApplicationContext(BenchHostModule, { logger: false });
  return { app, service: app.get(InteractionsService) };
}

export { drive };

/**
 * The parameters of the CRUD write of one interaction (the same rows the module keeps): plain text
 * values, the same on every driver.
 */
export function crudParams({ attrs, parties }: CreateInput): { interaction: unknown[]; parties: unknown[] } {
  const now = new Date();
  const uuid = uuidv7();
  const capturedAt = isoSeconds(now);
  return {
    interaction: [
      uuid, attrs.contactUuid, attrs.interactionType, attrs.occurredAt.toISOString(), attrs.subject, attrs.body, null, '{}', '{}',
      now.toISOString(),
    ],
    parties: [
      uuid,
      pgArray(parties.map((_, position) => position)),
      pgArray(parties.map((p) => p.rawName ?? '')),
      pgArray(parties.map((p) => p.contactUuid ?? null)),
      pgArray(parties.map((p) => p.staffPersonUuid ?? null)),
      pgArray(
        parties.map((p) =>
          JSON.stringify(p.contactUuid ? { source: 'crm_contact', name: p.rawName, capturedAt } : { source: 'free_text', capturedAt }),
        ),
      ),
    ],
  };
}

/** The CRUD write: one transaction, the interaction row and its party rows, nothing else; returns the uuid. */
export function crudCreate(pool: Pool): (input: CreateInput) => Promise<string> {
  return async (input) => {
    const params = crudParams(input);
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      await client.query(CRUD_INSERT_INTERACTION, params.interaction);
      await client.query(CRUD_INSERT_PARTIES, params.parties);
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
    return params.interaction[0] as string;
  };
}


/** The Emmett baseline's worker process (bench/scenarios/emmett-worker.ts). */
const emmettProcess = () => new WorkerProcess<EmmettRequest, DriveResult | undefined>(join(__dirname, 'emmett-worker.js'), 'the Emmett worker');

function emmettVersion(): string {
  try {
    const entry = require.resolve('@event-driven-io/emmett-postgresql');
    return (JSON.parse(readFileSync(join(dirname(entry), '..', 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return '?';
  }
}

/** The same server and credentials, another database. */
function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}

/**
 * The events each create of the module wrote (type, data, metadata, per stream in order), read back
 * from its log: the Emmett baseline appends exactly these, so both write the same payloads.
 */
async function eventsOfCreates(pool: Pool): Promise<EmmettEvent[][]> {
  const { rows } = await pool.query<{ stream_name: string; event_type: string; data: Record<string, unknown>; metadata: Record<string, unknown> }>(
    'SELECT stream_name, event_type, data, metadata FROM events ORDER BY global_position',
  );
  const byStream = new Map<string, EmmettEvent[]>();
  for (const row of rows) {
    const events = byStream.get(row.stream_name) ?? [];
    events.push({ type: row.event_type, data: row.data, metadata: row.metadata });
    byStream.set(row.stream_name, events);
  }
  return [...byStream.values()];
}

type AppendSystem = 'module' | 'emmett' | 'crud';
type EditSystem = 'module' | 'crud';
/**
 * What a round does to the interactions it created, after the creates: each edited (subject and body),
 * edited again (the body alone), then deleted.
 */
type Edit = 'update' | 'updateBody' | 'delete';
const EDITS: readonly Edit[] = ['update', 'updateBody', 'delete'];
interface RoundResult {
  order: AppendSystem[];
  append: Record<AppendSystem, Record<'one' | 'many', DriveResult>>;
  update: Record<EditSystem, Record<'one' | 'many', DriveResult>>;
  updateBody: Record<EditSystem, Record<'one' | 'many', DriveResult>>;
  delete: Record<EditSystem, Record<'one' | 'many', DriveResult>>;
  commands: Record<'one' | 'many', number>;
  /** How many interactions each edit touches, at 1 caller and at `callers`. */
  updates: Record<'one' | 'many', number>;
}


/**
 * append: `createInteraction` with 3 parties through the module (Nest, PostgreSQL event store, inline
 * projection) against two baselines on the same server: Emmett's bare `appendToStream` of the same
 * events to a new stream per command (no projection, in a worker process of its own), and the plain CRUD
 * insert of the same rows. Then update: `updateInteraction` of the subject and body of interactions the
 * round created, against a CRUD UPDATE of the same row. `appendRounds` rounds, each on fresh tables (the
 * module's and the CRUD tables in a new schema, Emmett's truncated), the systems interleaved in a
 * rotating order, 1 caller then `callers` callers; ratios are the median (min–max) of the per-round
 * ratios of throughput.
 */
export async function appendScenario(ctx: BenchContext): Promise<ScenarioResult> {
  const world = makeWorld(ctx.scale, ctx.seed);
  const random = prng(ctx.seed + 11);
  const { scale } = ctx;
  const connections = scale.callers + 4;
  const loadBefore = loadavg()[0]!;
  const admin = new Client({ connectionString: ctx.databaseUrl });
  await admin.connect();
  const emmettDatabase = `${ctx.schema}_emmett`;
  await admin.query(`CREATE DATABASE ${emmettDatabase}`);
  const emmett = emmettProcess();
  const rounds: RoundResult[] = [];
  let templates: EmmettEvent[][] = [];
  try {
    // Round -1 warms V8 up on every path a round measures, in the module's process and Emmett's alike,
    // and is not counted (see `warmupRound` in bench/scales.ts).
    for (let round = -1; round < scale.appendRounds; round++) {
      const warming = round < 0;
      const counts = warming ? scale.warmupRound : scale;
      const rotation = Math.max(round, 0); // the warm-up round in the first round's order
      const schema = `${ctx.schema}_r${round + 1}`;
      const booting = process.hrtime.bigint();
      const { app, service } = await bootModule({ connectionString: ctx.databaseUrl, maxConnections: connections }, schema, world);
      const bootMs = msSince(booting);
      const pool = new Pool({ connectionString: ctx.databaseUrl, max: connections, options: `-c search_path=${schema}` });
      try {
        await createCrudTables(pool);
        await createCrudIndexes(pool);
        const created: Record<EditSystem, string[]> = { module: [], crud: [] };
        const viaCrud = crudCreate(pool);
        const create: Record<AppendSystem, (callers: number, count: number) => Promise<DriveResult>> = {
          module: (callers, count) =>
            drive(createInputs(world, scale, random, count), callers, async (input) => {
              created.module.push((await service.createInteraction(input.attrs, input.parties)).uuid);
            }),
          crud: (callers, count) =>
            drive(createInputs(world, scale, random, count), callers, async (input) => {
              created.crud.push(await viaCrud(input));
            }),
          emmett: async (callers, count) => (await emmett.request({ kind: 'run', callers, count }))!,
        };

        // Warm-up (connections, JIT, caches), not measured; the round's tables start empty otherwise.
        await create.module(scale.callers, scale.appendWarmup);
        if (warming) {
          templates = await eventsOfCreates(pool);
          await emmett.request({ kind: 'open', databaseUrl: withDatabase(ctx.databaseUrl, emmettDatabase), poolSize: connections, templates });
        } else {
          await emmett.request({ kind: 'fresh' });
        }
        await create.emmett(scale.callers, scale.appendWarmup);
        await create.crud(scale.callers, scale.appendWarmup);
        // The warm-up's interactions warm the update path up later; the measured ones are edited once each.
        const warm = { module: created.module.splice(0), crud: created.crud.splice(0) };

        const order = rotate<AppendSystem>(['module', 'emmett', 'crud'], rotation);
        const append = { module: {}, emmett: {}, crud: {} } as RoundResult['append'];
        const commands = { one: counts.appendSingle, many: counts.appendConcurrent };
        for (const [key, callers] of [['one', 1], ['many', scale.callers]] as const) {
          for (const system of order) append[system][key] = await create[system](callers, commands[key]);
        }

        // update: each call edits an interaction of this round that no other call edits.
        const updates = {
          one: Math.min(counts.updateSingle, Math.floor(created.module.length / 2)),
          many: Math.min(counts.updateConcurrent, created.module.length - Math.min(counts.updateSingle, Math.floor(created.module.length / 2))),
        };
        const targets = {
          module: { one: created.module.slice(0, updates.one), many: created.module.slice(updates.one, updates.one + updates.many) },
          crud: { one: created.crud.slice(0, updates.one), many: created.crud.slice(updates.one, updates.one + updates.many) },
        };
        const edit: Record<Edit, Record<EditSystem, (uuids: string[], callers: number) => Promise<DriveResult>>> = {
          update: {
            module: (uuids, callers) => driveEach(uuids, callers, (uuid, i) => service.updateInteraction(uuid, editOf(uuid, i))),
            crud: (uuids, callers) =>
              driveEach(uuids, callers, (uuid, i) => {
                const { subject, body } = editOf(uuid, i);
                return pool.query(CRUD_UPDATE_INTERACTION, [uuid, subject, body, new Date().toISOString()]);
              }),
          },
          updateBody: {
            module: (uuids, callers) => driveEach(uuids, callers, (uuid, i) => service.updateInteraction(uuid, { body: bodyEditOf(uuid, i) })),
            crud: (uuids, callers) =>
              driveEach(uuids, callers, (uuid, i) => pool.query(CRUD_UPDATE_BODY, [uuid, bodyEditOf(uuid, i), new Date().toISOString()])),
          },
          delete: {
            module: (uuids, callers) => drive(uuids, callers, (uuid) => service.deleteInteraction(uuid)),
            crud: (uuids, callers) => drive(uuids, callers, (uuid) => pool.query(CRUD_DELETE_INTERACTION, [uuid])),
          },
        };
        const edited = {} as Pick<RoundResult, Edit>;
        for (const kind of EDITS) {
          // The warm-up's interactions warm this edit's path, unmeasured.
          await edit[kind].module(warm.module, scale.callers);
          await edit[kind].crud(warm.crud, scale.callers);
          const result = { module: {}, crud: {} } as RoundResult[Edit];
          for (const [key, callers] of [['one', 1], ['many', scale.callers]] as const) {
            for (const system of rotate<EditSystem>(['module', 'crud'], rotation)) {
              result[system][key] = await edit[kind][system](targets[system][key], callers);
            }
          }
          edited[kind] = result;
        }
        const r: RoundResult = { order, append, ...edited, commands, updates };
        if (!warming) rounds.push(r);
        ctx.log(
          `${warming ? 'warm-up round, not counted' : `round ${round + 1}/${scale.appendRounds}`} (${order.join(', ')}; ${fmtInt(msSince(booting))} ms, module boot ${fmtInt(bootMs)} ms): ${scale.callers} callers ` +
            `module ${fmtInt(append.module.many.perSecond)}/s, Emmett ${fmtInt(append.emmett.many.perSecond)}/s, CRUD ${fmtInt(append.crud.many.perSecond)}/s; ` +
            `update module ${fmtInt(edited.update.module.many.perSecond)}/s, CRUD ${fmtInt(edited.update.crud.many.perSecond)}/s; ` +
            `body module ${fmtInt(edited.updateBody.module.many.perSecond)}/s, CRUD ${fmtInt(edited.updateBody.crud.many.perSecond)}/s; ` +
            `delete module ${fmtInt(edited.delete.module.many.perSecond)}/s, CRUD ${fmtInt(edited.delete.crud.many.perSecond)}/s`,
        );
      } finally {
        await app.close();
        await pool.end();
        await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      }
    }
  } finally {
    await emmett.stop({ kind: 'close' });
    await admin.query(`DROP DATABASE IF EXISTS ${emmettDatabase} WITH (FORCE)`).catch((error: unknown) => ctx.log(`could not drop ${emmettDatabase}: ${String(error)}`));
    await admin.end();
  }
  return summarise(ctx, rounds, templates, connections, [loadBefore, loadavg()[0]!]);
}

function summarise(ctx: BenchContext, rounds: RoundResult[], templates: EmmettEvent[][], connections: number, load: [number, number]): ScenarioResult {
  const { scale } = ctx;
  const keys = [['one', 1], ['many', scale.callers]] as const;
  const perSecond = (pick: (r: RoundResult) => DriveResult) => rounds.map((r) => pick(r).perSecond);
  const ratio = (mine: (r: RoundResult) => DriveResult, theirs: (r: RoundResult) => DriveResult) =>
    stats(rounds.map((r) => mine(r).perSecond / theirs(r).perSecond));
  const cpuPerCommand = (pick: (r: RoundResult) => DriveResult) => median(rounds.map((r) => pick(r).cpuMs / pick(r).latencies.length));
  const serverCpuPerCommand = (pick: (r: RoundResult) => DriveResult): number | null => {
    const measured = rounds.map((r) => pick(r).serverCpuMs);
    return measured.every((ms) => ms !== null) ? median(rounds.map((r) => pick(r).serverCpuMs! / pick(r).latencies.length)) : null;
  };
  /**
   * Node's and the server's CPU over the loop ÷ the loop's time: how many of the machine's cores the side
   * kept busy on average (null without a local server). Near 1 when Node and the server take turns, as
   * callers that move in step through shared statements do; near the core count when they overlap.
   */
  const coresBusy = (pick: (r: RoundResult) => DriveResult): number | null => {
    const runs = rounds.map(pick);
    if (runs.some((run) => run.serverCpuMs === null)) return null;
    return median(runs.map((run) => ((run.cpuMs + run.serverCpuMs!) * run.perSecond) / (run.latencies.length * 1000)));
  };
  const latencies = (pick: (r: RoundResult) => DriveResult) => rounds.flatMap((r) => pick(r).latencies);
  const callersLabel = (callers: number) => `${callers} caller${callers > 1 ? 's' : ''}`;
  const row = (label: string, pick: (r: RoundResult) => DriveResult, vs: string) => {
    const lat = latencies(pick);
    return [
      label,
      `${fmtInt(pick(rounds[0]!).latencies.length)} × ${rounds.length}`,
      fmtInt(median(perSecond(pick))),
      fmtMs(median(lat)),
      fmtMs(p99(lat)),
      fmtMs(cpuPerCommand(pick)),
      fmtOptionalMs(serverCpuPerCommand(pick)),
      fmtOptionalCores(coresBusy(pick)),
      vs,
    ];
  };

  const appendRows: Table['rows'] = [];
  const editRows: Record<Edit, Table['rows']> = { update: [], updateBody: [], delete: [] };
  const editLabels: Record<Edit, [string, string]> = {
    update: ['updateInteraction', 'UPDATE'],
    updateBody: ['updateInteraction of the body', 'UPDATE of the body'],
    delete: ['deleteInteraction', 'DELETE'],
  };
  for (const [key, callers] of keys) {
    const mine = (r: RoundResult) => r.append.module[key];
    appendRows.push(
      row(`module: createInteraction, ${callersLabel(callers)}`, mine, '–'),
      row(`Emmett: appendToStream, ${callersLabel(callers)}`, (r) => r.append.emmett[key], fmtRange(ratio(mine, (r) => r.append.emmett[key]))),
      row(`CRUD: insert, ${callersLabel(callers)}`, (r) => r.append.crud[key], fmtRange(ratio(mine, (r) => r.append.crud[key]))),
    );
    for (const kind of EDITS) {
      const [command, statement] = editLabels[kind];
      const mineE = (r: RoundResult) => r[kind].module[key];
      editRows[kind].push(
        row(`module: ${command}, ${callersLabel(callers)}`, mineE, '–'),
        row(`CRUD: ${statement}, ${callersLabel(callers)}`, (r) => r[kind].crud[key], fmtRange(ratio(mineE, (r) => r[kind].crud[key]))),
      );
    }
  }

  const vs = {
    emmett1: ratio((r) => r.append.module.one, (r) => r.append.emmett.one),
    emmett16: ratio((r) => r.append.module.many, (r) => r.append.emmett.many),
    crud1: ratio((r) => r.append.module.one, (r) => r.append.crud.one),
    crud16: ratio((r) => r.append.module.many, (r) => r.append.crud.many),
  };
  const eventsPerCreate = templates.length > 0 ? templates.reduce((n, t) => n + t.length, 0) / templates.length : 0;
  const payloadBytes =
    templates.length > 0
      ? templates.reduce((n, t) => n + t.reduce((m, e) => m + JSON.stringify(e.data).length + JSON.stringify(e.metadata).length, 0), 0) / templates.length
      : 0;
  const eventTypes = [...new Set(templates.flatMap((t) => t.map((e) => e.type)))];
  const perRound = (pick: (r: RoundResult) => DriveResult) => perSecond(pick).map(Math.round);
  const ranges = (s: { median: number; min: number; max: number }) => [round3(s.min), round3(s.max)];
  const version = emmettVersion();
  const many = scale.callers;
  const editJson = (kind: Edit) => {
    const vsCrud = { one: ratio((r) => r[kind].module.one, (r) => r[kind].crud.one), many: ratio((r) => r[kind].module.many, (r) => r[kind].crud.many) };
    return {
      vsCrud16: round3(vsCrud.many.median),
      vsCrud1: round3(vsCrud.one.median),
      cpuMsPerCommand: round3(cpuPerCommand((r) => r[kind].module.many)),
      cpuMsPerCommand1: round3(cpuPerCommand((r) => r[kind].module.one)),
      serverCpuMsPerCommand: {
        module: roundOptional(serverCpuPerCommand((r) => r[kind].module.many)),
        crud: roundOptional(serverCpuPerCommand((r) => r[kind].crud.many)),
      },
      coresBusy: {
        module: roundOptional(coresBusy((r) => r[kind].module.many)),
        crud: roundOptional(coresBusy((r) => r[kind].crud.many)),
      },
      ranges: { vsCrud16: ranges(vsCrud.many), vsCrud1: ranges(vsCrud.one) },
      perSecond: {
        module1: perRound((r) => r[kind].module.one),
        crud1: perRound((r) => r[kind].crud.one),
        [`module${many}`]: perRound((r) => r[kind].module.many),
        [`crud${many}`]: perRound((r) => r[kind].crud.many),
      },
      commands: { single: rounds[0]?.updates.one ?? 0, concurrent: rounds[0]?.updates.many ?? 0 },
    };
  };

  const json = {
    append: {
      vsEmmett16: round3(vs.emmett16.median),
      vsEmmett1: round3(vs.emmett1.median),
      vsCrud16: round3(vs.crud16.median),
      vsCrud1: round3(vs.crud1.median),
      cpuMsPerCommand: round3(cpuPerCommand((r) => r.append.module.many)),
      cpuMsPerCommand1: round3(cpuPerCommand((r) => r.append.module.one)),
      emmettCpuMsPerCommand16: round3(cpuPerCommand((r) => r.append.emmett.many)),
      emmettCpuMsPerCommand1: round3(cpuPerCommand((r) => r.append.emmett.one)),
      crudCpuMsPerCommand16: round3(cpuPerCommand((r) => r.append.crud.many)),
      crudCpuMsPerCommand1: round3(cpuPerCommand((r) => r.append.crud.one)),
      // The PostgreSQL server's CPU per command at 16 callers (null without a local server): with Node's, what
      // a command costs the machine, which bounds the throughput of a CPU-bound run.
      serverCpuMsPerCommand: {
        module: roundOptional(serverCpuPerCommand((r) => r.append.module.many)),
        emmett: roundOptional(serverCpuPerCommand((r) => r.append.emmett.many)),
        crud: roundOptional(serverCpuPerCommand((r) => r.append.crud.many)),
      },
      // Both sides' CPU over the time at 16 callers: how much of the machine each side kept busy.
      coresBusy: {
        module: roundOptional(coresBusy((r) => r.append.module.many)),
        emmett: roundOptional(coresBusy((r) => r.append.emmett.many)),
        crud: roundOptional(coresBusy((r) => r.append.crud.many)),
      },
      ranges: { vsEmmett16: ranges(vs.emmett16), vsEmmett1: ranges(vs.emmett1), vsCrud16: ranges(vs.crud16), vsCrud1: ranges(vs.crud1) },
      perSecond: {
        module1: perRound((r) => r.append.module.one),
        emmett1: perRound((r) => r.append.emmett.one),
        crud1: perRound((r) => r.append.crud.one),
        [`module${many}`]: perRound((r) => r.append.module.many),
        [`emmett${many}`]: perRound((r) => r.append.emmett.many),
        [`crud${many}`]: perRound((r) => r.append.crud.many),
      },
      medianMs: {
        module1: round3(median(latencies((r) => r.append.module.one))),
        emmett1: round3(median(latencies((r) => r.append.emmett.one))),
        crud1: round3(median(latencies((r) => r.append.crud.one))),
        [`module${many}`]: round3(median(latencies((r) => r.append.module.many))),
        [`emmett${many}`]: round3(median(latencies((r) => r.append.emmett.many))),
        [`crud${many}`]: round3(median(latencies((r) => r.append.crud.many))),
      },
      rounds: rounds.length,
      order: rounds.map((r) => r.order),
      commands: { single: scale.appendSingle, concurrent: scale.appendConcurrent, warmup: scale.appendWarmup, warmupRound: scale.warmupRound },
      callers: many,
      poolSize: connections,
      emmettVersion: version,
      eventsPerCreate: round2(eventsPerCreate),
      eventTypes,
      payloadBytesPerCreate: Math.round(payloadBytes),
      loadAverage1m: load.map(round2),
    },
    update: editJson('update'),
    updateBody: editJson('updateBody'),
    delete: editJson('delete'),
  };

  const columns = ['', 'commands × rounds', 'per second (median)', 'median ms', 'p99 ms', 'Node CPU ms/command', 'server CPU ms/command', 'cores busy', 'module ÷ this, throughput: median (min–max)'];
  const common = [
    `${rounds.length} rounds, each on fresh tables (the module's and the CRUD tables in a new schema, Emmett's in a database of its own, truncated), the systems interleaved in an order rotated every round, 1 caller then ${many} callers, after ${fmtInt(scale.appendWarmup)} unmeasured calls of each; before them a round not counted (${fmtInt(scale.warmupRound.appendSingle)} creates at 1 caller, ${fmtInt(scale.warmupRound.appendConcurrent)} at ${many}, then their edits), which warms V8 up in both processes; pools of ${connections} connections each`,
    `ratios: module throughput ÷ the baseline's, per round; median (min–max) over the rounds. Latencies: all rounds pooled. Node CPU: process.cpuUsage() (user + system) of the process running that side, over its loop, ÷ commands (the PostgreSQL server's CPU is not in it). Server CPU: user + system time of every \`postgres\` process on this machine over the loop (/proc), ÷ commands; – without a local server. Cores busy: Node's and the server's CPU over the loop ÷ its time (near 1: the two sides took turns; up to the machine's ${cpus().length} when they overlapped)`,
    `load average (1 min) ${load[0].toFixed(1)} at the start of the scenario, ${load[1].toFixed(1)} at the end: a shared machine; compare ratios, not times`,
  ];
  return {
    tables: [
      {
        title: 'append: createInteraction with 3 parties vs Emmett appendToStream and the CRUD insert',
        columns,
        rows: appendRows,
        notes: [
          `module: Nest, PostgreSQL event store, inline projection. Emmett ${version} (@event-driven-io/emmett-postgresql, getPostgreSQLEventStore, no projection), in a worker process of its own: appendToStream of the events the module's create wrote (${eventTypes.join(' + ')}, ${round2(eventsPerCreate)} per command, ~${fmtInt(payloadBytes)} bytes of data + metadata, read back from the module's log) to a new stream per command. CRUD: BEGIN; INSERT interaction; INSERT 3 parties; COMMIT`,
          ...common,
          `target (issue #10): module ≥ 1.2× Emmett at ${many} callers, ≥ 1.0× at 1 caller, ≥ 0.7× CRUD at ${many} callers, Node CPU ≤ 1.1 ms/command; got ${fmtRange(vs.emmett16)}, ${fmtRange(vs.emmett1)}, ${fmtRange(vs.crud16)}, ${fmtMs(json.append.cpuMsPerCommand)} ms`,
          `per round, ${many} callers (commands/s): module ${json.append.perSecond[`module${many}`]!.join(' / ')}; Emmett ${json.append.perSecond[`emmett${many}`]!.join(' / ')}; CRUD ${json.append.perSecond[`crud${many}`]!.join(' / ')}`,
        ],
      },
      {
        title: 'update: updateInteraction (subject and body) vs a CRUD UPDATE of the same row',
        columns,
        rows: editRows.update,
        notes: [
          `each call edits a different interaction the round created (the module's through the module, the CRUD rows with UPDATE … SET subject, body, updated_at WHERE uuid = $1, autocommitted: one round trip), after editing the warm-up's interactions unmeasured; module and CRUD interleaved, order rotated every round`,
          ...common.slice(1, 2),
        ],
      },
      {
        title: 'update of the body: updateInteraction (body alone) vs a CRUD UPDATE of the same row',
        columns,
        rows: editRows.updateBody,
        notes: [
          `each call edits the body alone of an interaction the first update edited (the module's through the module: it takes the row's subject for the search words; the CRUD rows with UPDATE … SET body, updated_at WHERE uuid = $1, autocommitted), after the warm-up's interactions unmeasured; interleaved as the updates`,
          ...common.slice(1, 2),
        ],
      },
      {
        title: 'delete: deleteInteraction vs a CRUD DELETE of the same row',
        columns,
        rows: editRows.delete,
        notes: [
          `each call deletes a different interaction, the ones the updates edited (the module's through the module: an InteractionDeleted event and its rows gone from the read tables; the CRUD rows with DELETE … WHERE uuid = $1, its parties by the cascade, autocommitted: one round trip), after deleting the warm-up's interactions unmeasured; interleaved as the updates`,
          ...common.slice(1, 2),
        ],
      },
    ],
    json,
  };
}
