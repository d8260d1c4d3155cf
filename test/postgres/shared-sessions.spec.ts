import { uuidv7 } from 'uuidv7';
import { composeShared, PostgresEventStore } from '../../src/adapters/postgres/postgres-event-store';
import { InteractionUnavailableError } from '../../src/domain/errors';
import { InteractionsMaintenance } from '../../src';
import { Database } from '../../src/ports/database';
import { AppendResult, EventToAppend, StreamSession, WrongExpectedVersionError } from '../../src/ports/event-store';
import { DATABASE } from '../../src/nest/tokens';
import { BACKENDS, migratedDatabase } from '../support/backends';
import { startModule } from '../support/module';
import { eventMetadata } from '../support/poison';
import { readTables } from '../support/read-tables';

/**
 * Sessions of different streams without the stream's lock, asked for at the same moment, share their
 * statements: the reads in two (the moment's halves), the appends likewise, each with its own gate,
 * guards and outcome.
 */
describe.each(BACKENDS.map((backend) => [backend.name, backend] as const))('shared unlocked sessions on %s', (_name, backend) => {
  let db: Database;
  let cleanup: () => Promise<void>;
  /** The statements the store sent (autocommitted), in order. */
  let sent: string[];
  /** Their parameters. */
  let sentParams: unknown[][];
  let store: PostgresEventStore;
  beforeEach(async () => {
    ({ db, cleanup } = await migratedDatabase(backend));
    sent = [];
    sentParams = [];
    const counting: Database = Object.assign(Object.create(db) as Database, {
      autocommit: (text: string, params: unknown[]) => {
        sent.push(text);
        sentParams.push(params);
        return db.autocommit!(text, params);
      },
    });
    store = new PostgresEventStore(counting);
  });
  afterEach(() => cleanup());
  /** How many statements a moment's statements go in: two halves where they run at the same time. */
  const halves = backend.name === 'postgres' ? 2 : 1;

  const event = (): EventToAppend => ({ id: uuidv7(), type: 'TestHappened', data: { n: 1 }, metadata: eventMetadata() });
  const transactionsOf = (results: AppendResult[]) => new Set(results.flatMap((r) => r.events.map((e) => e.position.commit)));
  const shared = () => sent.filter((text) => text.includes('UNION ALL'));
  /** How many sessions' statements a statement holds. */
  const copies = (text: string) => (text.match(/UNION ALL/g)?.length ?? 0) + 1;

  async function seeded(count: number): Promise<string[]> {
    const streams = Array.from({ length: count }, () => `test-${uuidv7()}`);
    for (const stream of streams) await store.appendToStream(stream, [event()], 'no_stream');
    sent.length = 0;
    return streams;
  }

  /** An unlocked session that reads, waits for `until`, then appends one event at the revision it read. */
  function edit(stream: string, until: Promise<unknown> = Promise.resolve()): Promise<AppendResult> {
    return store.withStream(
      stream,
      async (session: StreamSession) => {
        const read = await session.readStream();
        await until;
        return session.appendToStream([event()], read.length - 1);
      },
      { optimistic: true },
    );
  }

  it('reads in one statement, or the moment’s two halves on a server, and appends in statements of those, each session with its own result', async () => {
    const streams = await seeded(4);
    const results = await Promise.all(streams.map((stream) => edit(stream)));
    const appends = sent.filter((text) => text.includes('INSERT INTO events'));
    expect(sent.filter((text) => !appends.includes(text)).map(copies)).toEqual(halves === 2 ? [2, 2] : [4]);
    // A half's appends go together while the other half's statement is in flight, else as halves again.
    expect(appends.map(copies).reduce((a, b) => a + b)).toBe(4);
    expect(Math.max(...appends.map(copies))).toBeGreaterThanOrEqual(2);
    const transactions = results.map((r) => r.position.commit);
    expect(new Set(transactions).size).toBe(appends.length);
    const [first, second] = [transactions.slice(0, 2), transactions.slice(2)];
    if (halves === 2) expect(first.filter((t) => second.includes(t))).toEqual([]); // the halves never in one statement
    for (const [i, stream] of streams.entries()) {
      expect(results[i]!.nextRevision).toBe(1);
      expect(await store.readStream(stream)).toEqual([expect.objectContaining({ revision: 0 }), ...results[i]!.events]);
    }
  });

  it('shares in groups of a power of two, at most 16', async () => {
    const streams = await seeded(42);
    await Promise.all(streams.map((stream) => edit(stream)));
    const reads = sent.filter((text) => !text.includes('INSERT INTO events'));
    // At most half of the moment's 42 in one (21) or all, in powers of two at most 16.
    expect(reads.map(copies).sort((a, b) => b - a)).toEqual([16, 16, 8, 2]);
    // The appends as the reads' answers came: in a turn of its own each, or some together.
    for (const n of sent.map(copies)) expect([1, 2, 4, 8, 16]).toContain(n);
    expect(sent.map(copies).reduce((a, b) => a + b)).toBe(84);
  });

  it('sends the statements of a moment whole while another statement is in flight', async () => {
    const [first, ...streams] = await seeded(5);
    let hold!: () => void;
    const held = new Promise<void>((resolve) => (hold = resolve));
    let holdNext = true;
    const holding: Database = Object.assign(Object.create(db) as Database, {
      autocommit: async (text: string, params: unknown[]) => {
        sent.push(text);
        if (holdNext) {
          holdNext = false;
          await held;
        }
        return db.autocommit!(text, params);
      },
    });
    store = new PostgresEventStore(holding);
    const firstEdit = edit(first!);
    await new Promise((resolve) => setTimeout(resolve, 50)); // its read held in flight
    const edits = Promise.all(streams.map((stream) => edit(stream)));
    await new Promise((resolve) => setTimeout(resolve, 50));
    hold();
    await firstEdit;
    expect(transactionsOf(await edits).size).toBeLessThanOrEqual(2);
    expect(sent[1]).toBeDefined();
    expect(copies(sent[1]!)).toBe(4); // the four reads together
    // Nothing in flight any more: the next moment's reads go as halves again (one statement on PGlite).
    sent.length = 0;
    await Promise.all(streams.map((stream) => edit(stream)));
    expect(copies(sent[0]!)).toBe(4 / halves);
  });

  it('never puts one stream twice in a statement: a second session of a stream appends after the first, or clashes', async () => {
    const [stream, other] = await seeded(2);
    const outcomes = await Promise.allSettled([edit(stream!), edit(stream!), edit(other!)]);
    // A shared statement holds one copy of each stream: as many parameters name the one as the other.
    const naming = (params: unknown[], name: string) => params.filter((param) => param === name).length;
    for (const [i, text] of sent.entries()) {
      if (text.includes('UNION ALL')) expect(naming(sentParams[i]!, stream!)).toBe(naming(sentParams[i]!, other!));
    }
    expect(sent.filter((text) => text.includes('UNION ALL')).length).toBeGreaterThan(0);
    expect(outcomes[2]!.status).toBe('fulfilled');
    // The second one's copy finds the stream's lock taken by the first's statement (it then runs again
    // under the lock, after it), or clashes with its revision.
    const landed = outcomes.slice(0, 2).filter((o): o is PromiseFulfilledResult<AppendResult> => o.status === 'fulfilled');
    for (const o of outcomes.slice(0, 2)) if (o.status === 'rejected') expect(o.reason).toBeInstanceOf(WrongExpectedVersionError);
    expect(landed.map((o) => o.value.nextRevision).sort()).toEqual(landed.map((_, i) => i + 1));
    expect(await store.readStream(stream!)).toHaveLength(1 + landed.length);
    expect(await store.readStream(other!)).toHaveLength(2);
  });

  it('keeps apart streams whose names differ only in case (one interaction row)', async () => {
    const upper = `test-${uuidv7().toUpperCase()}`;
    const lower = upper.toLowerCase();
    for (const stream of [upper, lower]) await store.appendToStream(stream, [event()], 'no_stream');
    sent.length = 0;
    sentParams.length = 0;
    await Promise.all([edit(upper), edit(lower)]);
    expect(shared()).toEqual([]);
    expect(sent).toHaveLength(4);
  });

  it('splits a shared statement’s rows by copy also when int4 comes back as text (a host’s type parsers)', async () => {
    const streams = await seeded(4); // two statements of two
    const asText: Database = Object.assign(Object.create(db) as Database, {
      autocommit: async (text: string, params: unknown[]) => {
        sent.push(text);
        const { rows } = await db.autocommit!<Record<string, unknown>>(text, params);
        return { rows: rows.map((row) => ('copy' in row ? { ...row, copy: String(row.copy) } : row)) };
      },
    });
    store = new PostgresEventStore(asText);
    const results = await Promise.all(streams.map((stream) => edit(stream)));
    expect(shared().length).toBeGreaterThanOrEqual(2); // the reads' halves, at least
    // Each append landed in its shared statement: one taken for a copy that wrote nothing would have
    // run again under the lock, in a transaction of its own.
    expect(transactionsOf(results).size).toBe(sent.filter((text) => text.includes('INSERT INTO events')).length);
    for (const [i, stream] of streams.entries()) expect(await store.readStream(stream)).toEqual([expect.objectContaining({ revision: 0 }), ...results[i]!.events]);
  });

  it('sends each append of a statement the server refused again alone: a revision another writer took is its own clash, the others land', async () => {
    const [taken, ...others] = await seeded(3);
    let go!: () => void;
    const until = new Promise<void>((resolve) => (go = resolve));
    const sessions = [taken!, ...others].map((stream) => edit(stream, until));
    await new Promise((resolve) => setTimeout(resolve, 100)); // every session has read
    await store.appendToStream(taken!, [event()], 0); // another writer, under the lock
    sent.length = 0;
    go();
    const outcomes = await Promise.allSettled(sessions);
    expect(outcomes[0]).toMatchObject({ status: 'rejected', reason: expect.objectContaining({ expected: 0, actual: 1 }) });
    expect((outcomes[0] as PromiseRejectedResult).reason).toBeInstanceOf(WrongExpectedVersionError);
    expect(outcomes.slice(1).map((o) => o.status)).toEqual(['fulfilled', 'fulfilled']);
    expect(shared()).toHaveLength(1); // refused: nothing of it written
    expect(sent).toHaveLength(4); // then each alone
    for (const stream of others) expect(await store.readStream(stream!)).toHaveLength(2);
    expect(await store.readStream(taken!)).toHaveLength(2);
  });

  // A locked session holds PGlite's one connection till it ends: nothing else runs meanwhile there.
  const onPostgres = backend.name === 'postgres' ? it : it.skip;
  onPostgres('writes nothing of a session whose stream a locked session holds, which then waits for the lock; the others land', async () => {
    const [held, ...free] = await seeded(4);
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let holding!: () => void;
    const isHolding = new Promise<void>((resolve) => (holding = resolve));
    const locked = store.withStream(held!, async (session) => {
      await session.readStream();
      holding();
      await released;
    });
    await isHolding;
    let heldDone = false;
    const heldEdit = edit(held!).then((result) => ((heldDone = true), result));
    const freeResults = await Promise.all(free.map((stream) => edit(stream)));
    expect(freeResults.map((result) => result.nextRevision)).toEqual([1, 1, 1]);
    expect(heldDone).toBe(false);
    // The held session's append went in a statement shared with another's, and wrote nothing of its own.
    const sharedAppends = sent.flatMap((text, i) => (text.includes('UNION ALL') && text.includes('INSERT INTO events') ? [sentParams[i]!] : []));
    expect(sharedAppends.some((params) => params.includes(held!))).toBe(true);
    release();
    await locked;
    expect((await heldEdit).nextRevision).toBe(1);
    expect(await store.readStream(held!)).toHaveLength(2);
  });

  it('answers every session of a shared append with an error that may follow its commit, and sends none again', async () => {
    const streams = await seeded(4);
    const lost = new InteractionUnavailableError('connection lost', 'unknown');
    const losing: Database = Object.assign(Object.create(db) as Database, {
      autocommit: async (text: string, params: unknown[]) => {
        sent.push(text);
        const result = await db.autocommit!(text, params);
        if (text.includes('INSERT INTO events')) throw lost; // committed, then its answer is lost
        return result;
      },
    });
    store = new PostgresEventStore(losing);
    const outcomes = await Promise.allSettled(streams.map((stream) => edit(stream)));
    expect(outcomes).toEqual(streams.map(() => ({ status: 'rejected', reason: lost })));
    // Each session's append sent once (in statements of the reads' halves, or halves of those), none again.
    const appends = sent.filter((text) => text.includes('INSERT INTO events')).map(copies);
    expect(appends.reduce((a, b) => a + b)).toBe(4);
    expect(Math.max(...appends)).toBe(4 / halves);
    for (const stream of streams) expect(await store.readStream(stream)).toHaveLength(2);
  });

  it('renames each copy’s CTEs where its SQL names them, not the columns named after them, and numbers its parameters after the ones before', async () => {
    const parts = (value: string) => [
      { ctes: 'looked_up AS (SELECT $1::text AS value)', params: [value] },
      { ctes: 'doubled AS (SELECT value || value AS looked_up, 1 AS looked_up_n FROM looked_up)', params: [] },
    ];
    const { text, params } = composeShared([parts('a'), parts('b')], 'SELECT * FROM doubled');
    expect(params).toEqual(['a', 'b']);
    const { rows } = await db.query(`${text} ORDER BY copy`, params);
    expect(rows).toEqual([
      { copy: 1, looked_up: 'aa', looked_up_n: 1 },
      { copy: 2, looked_up: 'bb', looked_up_n: 1 },
    ]);
  });
});

/**
 * Through the module: edits of both texts, of one, and deletions of different interactions asked for
 * together share their reads and appends by kind, and leave the read tables a rebuild makes.
 */
describe.each(BACKENDS.map((backend) => [backend.name, backend] as const))('shared edits through the module on %s', (_name, backend) => {
  it('applies each edit and deletion once, in fewer statements than sessions; the rows equal a rebuild', async () => {
    const m = await startModule({ backend });
    try {
      const contactUuid = m.newContact({ name: 'Ada' });
      const created = [];
      for (let i = 0; i < 6; i++) {
        created.push(await m.service.createInteraction({ contactUuid, subject: `Call ${i}`, body: `Notes ${i}`, interactionType: 'call' }, [{ rawName: 'Visitor', contactUuid }]));
      }
      const db = m.app.get<Database>(DATABASE);
      const sent: string[] = [];
      const autocommit = db.autocommit!.bind(db);
      db.autocommit = (text, params) => (sent.push(text), autocommit(text, params));
      // None needs the stream's lock (a transaction): each fits its shared statement.
      const transaction = jest.spyOn(db, 'transaction');
      const [a, b, c, d, e, f] = created.map((interaction) => interaction.uuid) as [string, string, string, string, string, string];
      const results = await Promise.all([
        m.service.updateInteraction(a, { subject: 'Call A', body: 'Notes A' }),
        m.service.updateInteraction(b, { subject: 'Call B', body: 'Notes B' }),
        m.service.updateInteraction(c, { body: 'Notes C' }),
        m.service.updateInteraction(d, { body: 'Notes D' }),
        m.service.deleteInteraction(e),
        m.service.deleteInteraction(f),
      ]);
      expect(results.slice(0, 4).map((r) => r && [r.subject, r.body, r.version])).toEqual([
        ['Call A', 'Notes A', 2],
        ['Call B', 'Notes B', 2],
        ['Call 2', 'Notes C', 2],
        ['Call 3', 'Notes D', 2],
      ]);
      expect(sent.filter((text) => text.includes('UNION ALL')).length).toBeGreaterThan(0);
      expect(sent.length).toBeLessThan(12); // two statements each, alone
      expect(transaction).not.toHaveBeenCalled();
      transaction.mockRestore();
      expect(await m.service.getInteraction(c)).toMatchObject({ subject: 'Call 2', body: 'Notes C' });
      expect(await m.service.getInteraction(e)).toBeNull();
      expect(await m.countEvents()).toBe(12 + 6);
      const live = await readTables(m.db);
      expect(live.interactions).toHaveLength(4);
      await m.app.get(InteractionsMaintenance).rebuild();
      expect(await readTables(m.db)).toEqual(live);
    } finally {
      await m.close();
    }
  });
});

describe.each(BACKENDS.map((backend) => [backend.name, backend] as const))('a parked stream in shared edits on %s', (_name, backend) => {
  it('writes nothing of the copy whose stream has a parked event, which is then parked behind it under the lock; the others apply', async () => {
    const m = await startModule({ backend });
    try {
      const contactUuid = m.newContact({ name: 'Ada' });
      const [parked, other] = [
        await m.service.createInteraction({ contactUuid, subject: 'Parked', interactionType: 'call' }, [{ rawName: 'Visitor' }]),
        await m.service.createInteraction({ contactUuid, subject: 'Other', interactionType: 'call' }, [{ rawName: 'Visitor' }]),
      ];
      // As if revision 1 of the stream had been parked (the projection could not apply it).
      await m.db.query(
        `INSERT INTO parked_events (stream_name, stream_revision, commit_position, prepare_position, event_id, event_type, error)
         VALUES ($1, 1, 0, 0, $2, 'PartiesRebuilt', 'parked for the test')`,
        [`interaction-${parked.uuid}`, uuidv7()],
      );
      await Promise.all([
        m.service.updateInteraction(parked.uuid, { subject: 'Parked, edited', body: 'b' }),
        m.service.updateInteraction(other.uuid, { subject: 'Other, edited', body: 'b' }),
      ]);
      expect(await m.service.getInteraction(other.uuid)).toMatchObject({ subject: 'Other, edited' });
      expect((await m.db.query<{ subject: string }>('SELECT subject FROM interactions WHERE uuid = $1', [parked.uuid])).rows).toEqual([{ subject: 'Parked' }]);
      const parkedNow = await m.app.get(InteractionsMaintenance).parkedEvents();
      expect(parkedNow.map((p) => [p.streamName, p.revision, p.error])).toEqual([
        [`interaction-${parked.uuid}`, 1, 'parked for the test'],
        [`interaction-${parked.uuid}`, 2, 'behind the parked event at revision 1'],
      ]);
      expect(await m.countEvents()).toBe(6);
    } finally {
      await m.close();
    }
  });
});
