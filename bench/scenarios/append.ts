import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Pool } from 'pg';
import { uuidv7 } from 'uuidv7';
import { InteractionsModule, InteractionsModuleOptions, InteractionsService, PartyInput } from '../../src';
import { isoSeconds } from '../../src/domain/events';
import { ContactRecord, StaffRecord } from '../../src/domain/interaction';
import { pgArray } from '../../projections/interactions.projection';
import { CRUD_INSERT_INTERACTION, CRUD_INSERT_PARTIES } from '../baseline';
import { makeWorld, pickContact, World } from '../generate';
import { int, pick, prng, Random } from '../random';
import { fmtInt, fmtMs, fmtRatio, median, msSince, p99, Table } from '../report';
import { Scale } from '../scales';
import { BenchContext } from './context';

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

/**
 * `callers` concurrent loops take the next input until all are done; returns each call's latency and the
 * throughput over the whole run.
 */
export async function drive<T>(inputs: T[], callers: number, call: (input: T) => Promise<unknown>): Promise<{ latencies: number[]; perSecond: number }> {
  const latencies: number[] = [];
  let next = 0;
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
  return { latencies, perSecond: inputs.length / (msSince(start) / 1000) };
}

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

/** The CRUD write: one transaction, the interaction row and its party rows, nothing else. */
export function crudCreate(pool: Pool): (input: CreateInput) => Promise<void> {
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
  };
}

/**
 * append: `createInteraction` with 3 parties through the module (Nest, PostgreSQL event store, inline
 * projection), one caller and `callers` concurrent callers, against the plain CRUD insert of the same rows.
 */
export async function appendScenario(ctx: BenchContext): Promise<Table[]> {
  const world = makeWorld(ctx.scale, ctx.seed);
  const random = prng(ctx.seed + 11);
  const { scale } = ctx;
  const connections = scale.callers + 4;
  const { app, service } = await bootModule({ connectionString: ctx.databaseUrl, maxConnections: connections }, ctx.schema, world);
  const pool = new Pool({ connectionString: ctx.databaseUrl, max: connections, options: `-c search_path=${ctx.schema}` });
  const viaModule = (input: CreateInput) => service.createInteraction(input.attrs, input.parties);
  const viaCrud = crudCreate(pool);
  const rows: Table['rows'] = [];
  const summary: string[] = [];
  try {
    // Warm both paths up (connections, JIT, caches).
    const warm = createInputs(world, scale, random, 200);
    await drive(warm, scale.callers, viaModule);
    await drive(warm, scale.callers, viaCrud);
    for (const [callers, count] of [
      [1, scale.appendSingle],
      [scale.callers, scale.appendConcurrent],
    ] as const) {
      const crud = await drive(createInputs(world, scale, random, count), callers, viaCrud);
      const mine = await drive(createInputs(world, scale, random, count), callers, viaModule);
      ctx.log(`append, ${callers} caller(s): module ${fmtInt(mine.perSecond)}/s, CRUD ${fmtInt(crud.perSecond)}/s`);
      rows.push(
        [`module: createInteraction, ${callers} caller${callers > 1 ? 's' : ''}`, fmtInt(count), fmtInt(mine.perSecond), fmtMs(median(mine.latencies)), fmtMs(p99(mine.latencies)), fmtRatio(mine.perSecond / crud.perSecond)],
        [`baseline: CRUD insert, ${callers} caller${callers > 1 ? 's' : ''}`, fmtInt(count), fmtInt(crud.perSecond), fmtMs(median(crud.latencies)), fmtMs(p99(crud.latencies)), '1.00×'],
      );
      if (callers > 1) summary.push(`got ${fmtInt(mine.perSecond)} commands/s, p99 ${fmtMs(p99(mine.latencies))} ms at ${callers} callers`);
    }
  } finally {
    await app.close();
    await pool.end();
  }
  return [
    {
      title: 'append: createInteraction with 3 parties (PostgreSQL event store, inline projection)',
      columns: ['', 'commands', 'per second', 'median ms', 'p99 ms', 'throughput vs baseline'],
      rows,
      notes: [
        `into the loaded schema; module pool and baseline pool of ${connections} connections each; latency = one call, seen by its caller`,
        `target: ≥ 2,000 commands/s at ${scale.callers} callers with p99 < 20 ms; ${summary.join('; ')}`,
      ],
    },
  ];
}
