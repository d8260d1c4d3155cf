import { EventStoreDBClient } from '@eventstore/db-client';
import { uuidv7 } from 'uuidv7';
import { EventStoreDbEventStore } from '../../src/adapters/eventstoredb/eventstoredb-event-store';
import { InteractionWriter } from '../../src/nest/interaction-writer';
import { UnknownOutcomes } from '../../src/nest/unknown-outcomes';
import { Database } from '../../src/ports/database';
import { EventToAppend } from '../../src/ports/event-store';
import { EsdbTestServer } from './test-server/server';
import { StoredEvent } from './test-server/log';
import { prng } from '../support/random';
import { eventually } from './support';

/**
 * Appends whose outcome is unknown (the server answered Timeout, the connection dropped, the call was
 * cancelled) are resolved against the protocol test server, never guessed: the adapter re-sends the same
 * events with the same ids and expectation (EventStoreDB's idempotent write) and reads the stream back; a
 * command then succeeds, or fails with `committed` saying truthfully what became of it. Errors are
 * duck-typed (`name`, `committed`): they cross jest's module realms.
 */

const WRITE_TIMEOUT_MS = 250;
const RESOLVE_WITHIN_MS = 1_500;
/** The fault schedule's seed (timings still vary run to run); UNKNOWN_OUTCOME_SEED replays another. */
const SEED = Number(process.env.UNKNOWN_OUTCOME_SEED ?? 20260115);

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function events(n: number, marker = uuidv7()): EventToAppend[] {
  const metadata = { actorUuid: null, correlationId: uuidv7(), causationId: null, recordedAt: new Date().toISOString() };
  return Array.from({ length: n }, (_, i) => ({ id: uuidv7(), type: 'Tested', data: { marker, i }, metadata }));
}

async function outcome<T>(promise: Promise<T>): Promise<{ ok: true; value: T } | { ok: false; error: { name?: string; committed?: unknown; mayStillLand?: unknown } }> {
  try {
    return { ok: true, value: await promise };
  } catch (error) {
    return { ok: false, error: error as { name?: string; committed?: unknown; mayStillLand?: unknown } };
  }
}

describe('EventStoreDB appends of unknown outcome', () => {
  let server: EsdbTestServer;
  let store: EventStoreDbEventStore;
  let unknownOutcomes: UnknownOutcomes;
  beforeEach(async () => {
    unknownOutcomes = new UnknownOutcomes();
    server = await EsdbTestServer.start({ writeTimeoutMs: WRITE_TIMEOUT_MS });
    store = new EventStoreDbEventStore(EventStoreDBClient.connectionString(server.connectionString), {
      resolveWithinMs: RESOLVE_WITHIN_MS,
    });
  });
  afterEach(async () => {
    server.clearAppendDelays();
    await unknownOutcomes.stop();
    await store.close();
    await server.close();
  });

  const ids = (name: string) => (server.log.stream(name) ?? []).map((event) => event.id);
  const stream = () => `interaction-${uuidv7()}`;
  /** No append held any more: a delayed write has landed (or been refused) and its late answer is sent. */
  const settled = async () => expect(await eventually(async () => server.heldAppends, (held) => held === 0, 5_000)).toBe(0);

  describe('the adapter', () => {
    it('succeeds once when the write landed but its answer timed out (the re-send is acknowledged without writing)', async () => {
      const name = stream();
      const batch = events(2);
      server.delayAppends({ ms: 600, write: 'before' });
      const result = await store.appendToStream(name, batch, 'no_stream');
      expect(result.nextRevision).toBe(1);
      expect(result.events.map((e) => e.revision)).toEqual([0, 1]);
      expect(result.events.map((e) => e.position)).toEqual(server.log.stream(name)!.map((e) => ({ commit: e.position, prepare: e.position })));
      await settled(); // the held answer comes and goes
      expect(ids(name)).toEqual(batch.map((e) => e.id));
    });

    it('succeeds once when the timed-out write lands after the re-send wrote it', async () => {
      const name = stream();
      await store.appendToStream(name, events(1), 'no_stream');
      const batch = events(2);
      server.delayAppends({ ms: 700, write: 'after' });
      const result = await store.appendToStream(name, batch, 0);
      expect(result.nextRevision).toBe(2);
      await settled(); // the original write arrives late: the idempotent write keeps it out
      expect(ids(name).slice(1)).toEqual(batch.map((e) => e.id));
      expect(ids(name)).toHaveLength(3);
    });

    it('succeeds when the timed-out write was lost', async () => {
      const name = stream();
      const batch = events(1);
      server.delayAppends({ ms: 2_000, write: 'never' });
      await expect(store.appendToStream(name, batch, 'no_stream')).resolves.toMatchObject({ nextRevision: 0 });
      expect(ids(name)).toEqual([batch[0]!.id]);
    });

    it('reads the stream back when no re-send is answered in time, and finds the write', async () => {
      const name = stream();
      const batch = events(1);
      server.delayAppends({ ms: 5_000, write: 'before', times: Infinity });
      const started = Date.now();
      const result = await store.appendToStream(name, batch, 'no_stream');
      expect(result).toMatchObject({ nextRevision: 0, events: [{ id: batch[0]!.id, revision: 0 }] });
      expect(Date.now() - started).toBeGreaterThanOrEqual(RESOLVE_WITHIN_MS);
      expect(ids(name)).toEqual([batch[0]!.id]);
    });

    it('reports a known position for a write found by reading back, also from a server that gives none on stream reads', async () => {
      // Such a server (as some versions do) answers stream reads with the unsigned -1 for the $all position.
      const client = store.client as unknown as { readStream: (...args: unknown[]) => AsyncIterable<{ event?: { position?: unknown } }> };
      const readStream = client.readStream.bind(client);
      client.readStream = async function* (...args: unknown[]) {
        for await (const resolved of readStream(...args)) {
          yield resolved.event ? { ...resolved, event: { ...resolved.event, position: { commit: 2n ** 64n - 1n, prepare: 2n ** 64n - 1n } } } : resolved;
        }
      };
      const name = stream();
      const batch = events(2);
      server.delayAppends({ ms: 5_000, write: 'before', times: Infinity });
      const result = await store.appendToStream(name, batch, 'no_stream');
      const written = server.log.stream(name)!.at(-1)!.position;
      expect(result.position.commit).toBeGreaterThanOrEqual(written); // the head: at or after ours, never unknown
      expect(result.position.commit).toBeLessThan(2n ** 63n);
    });

    it("fails committed: 'unknown' when no re-send is answered and the write is not there (yet)", async () => {
      const name = stream();
      server.delayAppends({ ms: 60_000, write: 'never', times: Infinity });
      const failed = await outcome(store.appendToStream(name, events(1), 'no_stream'));
      expect(failed).toMatchObject({ ok: false, error: { name: 'InteractionUnavailableError', committed: 'unknown', mayStillLand: true } });
      expect(ids(name)).toEqual([]);
    });

    it('fails WrongExpectedVersion when another writer moved the stream while ours was lost: it can never land', async () => {
      const name = stream();
      const ours = events(1);
      const theirs = events(1);
      server.delayAppends({
        ms: 500,
        write: 'after', // if it were ever written, it would be refused: the stream is past revision -1
        onHeld: (streamName) => server.log.append(streamName, theirs.map(proposed), { kind: 'no_stream' }),
      });
      const failed = await outcome(store.appendToStream(name, ours, 'no_stream'));
      expect(failed).toMatchObject({ ok: false, error: { name: 'WrongExpectedVersionError' } });
      await settled();
      expect(ids(name)).toEqual([theirs[0]!.id]);
    });

    it('re-sends after a kill (BatchAppend CANCELLED) once the server is back: written once', async () => {
      for (const write of ['before', 'after'] as const) {
        const name = stream();
        const batch = events(2);
        server.delayAppends({ ms: 10_000, write, onHeld: () => void server.kill().then(() => pause(300)).then(() => server.restart()) });
        const result = await store.appendToStream(name, batch, 'no_stream');
        expect(result.nextRevision).toBe(1);
        expect(ids(name)).toEqual(batch.map((e) => e.id));
      }
    });

    it("fails committed: 'unknown' while the server stays away; the write is there after all, or not at all", async () => {
      for (const write of ['before', 'after'] as const) {
        const name = stream();
        const batch = events(1);
        server.delayAppends({ ms: 10_000, write, onHeld: () => void server.kill() });
        const failed = await outcome(store.appendToStream(name, batch, 'no_stream'));
        expect(failed).toMatchObject({ ok: false, error: { name: 'InteractionUnavailableError', committed: 'unknown' } });
        await server.restart();
        expect(ids(name)).toEqual(write === 'before' ? [batch[0]!.id] : []);
      }
    });
  });

  describe('a command', () => {
    const contacts = { findContacts: async (uuids: string[]) => uuids.map((uuid) => ({ uuid, name: `Contact ${uuid.slice(-4)}` })) };
    const writer = () =>
      new InteractionWriter(store, {} as Database, { contacts, staff: null }, { publishAll: () => undefined } as never, unknownOutcomes);
    const create = (w: InteractionWriter, subject: string, uuid = uuidv7()) =>
      w.execute(
        {
          kind: 'create',
          interactionUuid: uuid,
          attrs: { contactUuid: uuidv7(), interactionType: 'note', occurredAt: new Date('2026-01-15T10:00:00Z'), subject, body: null, ownerUserUuid: null, metadata: {} },
          parties: [],
          fileUuids: [],
        },
        {},
        new Date(),
      );
    const update = (w: InteractionWriter, uuid: string, subject: string) =>
      w.execute({ kind: 'update', interactionUuid: uuid, attrs: { subject }, parties: null }, {}, new Date());

    it("succeeds when its write landed though every answer was late, and stays 'unknown' (not false) when it is not there yet", async () => {
      const w = writer();
      server.delayAppends({ ms: 5_000, write: 'before', times: Infinity });
      const landed = await create(w, 'landed');
      expect(landed.interaction?.subject).toBe('landed');
      server.clearAppendDelays();

      server.delayAppends({ ms: 60_000, write: 'never', times: Infinity });
      const uuid = uuidv7();
      const lost = await outcome(create(w, 'lost', uuid));
      expect(lost).toMatchObject({ ok: false, error: { name: 'InteractionUnavailableError', committed: 'unknown' } });
      expect(server.log.stream(`interaction-${uuid}`)).toBeUndefined();
    });

    it('publishes the events of a write that landed after its command answered unknown, once it finds them', async () => {
      const published: Array<{ interactionUuid: string; revision: number }> = [];
      const w = new InteractionWriter(store, {} as Database, { contacts, staff: null }, { publishAll: (events: never[]) => published.push(...events) } as never, unknownOutcomes);
      server.delayAppends({ ms: 3_000, write: 'after', times: Infinity }); // every try lands, after the command gave up
      const uuid = uuidv7();
      const late = await outcome(create(w, 'late', uuid));
      expect(late).toMatchObject({ ok: false, error: { name: 'InteractionUnavailableError', committed: 'unknown', mayStillLand: true } });
      server.clearAppendDelays();
      expect(published).toEqual([]);
      await eventually(async () => published.length, (n) => n > 0, 15_000);
      await pause(1_000);
      // The create's two events, once each, as in the log (every try of the append sent the same ids).
      expect(published).toEqual([expect.objectContaining({ interactionUuid: uuid, revision: 0 }), expect.objectContaining({ interactionUuid: uuid, revision: 1 })]);
      expect(ids(`interaction-${uuid}`)).toHaveLength(2);
    });

    it.each([SEED, SEED + 1])('under seeded delays and kills (seed %d): no acknowledged command is lost, none is written twice', async (seed) => {
      const rand = prng(seed);
      const w = writer();
      const results: Array<{ marker: string; ok: boolean; committed?: unknown }> = [];
      const injected = { kills: 0, delays: 0 };
      let faults = true;
      const injector = (async () => {
        while (faults) {
          await pause(80 + rand() * 170);
          if (!faults) break;
          const roll = rand();
          if (roll < 0.2 && server.isRunning) {
            injected.kills++;
            await server.kill();
            await pause(50 + rand() * 400);
            await server.restart();
          } else if (roll < 0.7) {
            injected.delays++;
            const writes = ['before', 'after', 'never'] as const;
            server.delayAppends({ ms: 100 + rand() * 600, write: writes[Math.floor(rand() * 3)]!, times: 1 + Math.floor(rand() * 3) });
          }
        }
      })();
      const run = async (marker: string, command: () => Promise<unknown>) => {
        await pause(rand() * 800); // spread out, so faults meet commands at every step
        const result = await outcome(command());
        results.push({ marker, ok: result.ok, ...(!result.ok && { committed: result.error.committed }) });
        if (!result.ok && result.error.name !== 'InteractionUnavailableError') throw result.error;
        return result.ok;
      };
      // Creates, then updates of the created ones (several per stream: they also race each other).
      const created: string[] = [];
      await Promise.all(
        Array.from({ length: 16 }, async (_, i) => {
          const uuid = uuidv7();
          if (await run(`create-${seed}-${i}`, () => create(w, `create-${seed}-${i}`, uuid))) created.push(uuid);
        }),
      );
      await Promise.all(
        Array.from({ length: created.length > 0 ? 24 : 0 }, (_, i) => run(`update-${seed}-${i}`, () => update(w, created[i % created.length]!, `update-${seed}-${i}`))),
      );
      faults = false;
      await injector;
      server.clearAppendDelays();
      await server.restart();
      await pause(800); // every held write has landed or is gone

      const all: StoredEvent[] = [];
      for (let i = 0, event = server.log.recordAt(0); event; event = server.log.recordAt(++i)) all.push(event);
      const module = all.filter((event) => event.streamName.startsWith('interaction-'));
      const copies = (marker: string) =>
        module.filter((event) => Buffer.from(event.data).toString('utf8').includes(`"${marker}"`)).length;
      const failed = results.filter((r) => !r.ok);
      // eslint-disable-next-line no-console
      console.log(
        `seed ${seed}: ${injected.kills} kills, ${injected.delays} delays; ${results.length - failed.length}/${results.length} ` +
          `acknowledged; failed committed: ${failed.map((r) => `${String(r.committed)} (${copies(r.marker)} written)`).join(', ') || 'none'}`,
      );
      expect(new Set(module.map((event) => event.id)).size).toBe(module.length);
      const lost = results.filter((r) => r.ok && copies(r.marker) !== 1);
      const duplicated = results.filter((r) => copies(r.marker) > 1);
      const falseFailures = results.filter((r) => !r.ok && r.committed === false && copies(r.marker) !== 0);
      const untrueSuccess = results.filter((r) => !r.ok && r.committed === true && copies(r.marker) !== 1);
      expect({ lost, duplicated, falseFailures, untrueSuccess }).toEqual({ lost: [], duplicated: [], falseFailures: [], untrueSuccess: [] });
      expect(results.length).toBe(created.length > 0 ? 40 : 16);
      expect(injected.kills + injected.delays).toBeGreaterThan(0);
    }, 60_000);
  });
});

/** An event as the test server's log takes it (for a competing writer acting inside the server). */
function proposed(event: EventToAppend) {
  return {
    id: event.id,
    type: event.type,
    contentType: 'application/json',
    data: Buffer.from(JSON.stringify(event.data)),
    metadata: Buffer.from(JSON.stringify(event.metadata)),
  };
}
