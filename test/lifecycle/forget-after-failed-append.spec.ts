import { InteractionConflictError, InteractionsMaintenance, InteractionUnavailableError } from '../../src';
import { ErasingEventStore } from '../../src/adapters/erasure/erasing-event-store';
import { addOwner, recordClaim } from '../../src/adapters/erasure/key-store';
import { uuidv7 } from '../../src/domain/uuid';
import { CLAIM_SETTLING, ClaimSettler } from '../../src/nest/claim-settler';
import { EVENT_STORE } from '../../src/nest/tokens';
import { AppendResult, StreamSession } from '../../src/ports/event-store';
import { ModuleUnderTest, startModule } from '../support/module';
import { readTables } from '../support/read-tables';

/** The module's next append to EventStoreDB (below the erasure layer) made by `instead`, given the real one. */
function onNextAppend(m: ModuleUnderTest, instead: (append: () => Promise<AppendResult>) => Promise<AppendResult>): jest.SpyInstance {
  const inner = (m.app.get(EVENT_STORE) as ErasingEventStore).inner;
  const withStream = inner.withStream.bind(inner);
  return jest.spyOn(inner, 'withStream').mockImplementationOnce((streamName, work, options) =>
    withStream(
      streamName,
      (session: StreamSession) => work({ ...session, appendToStream: (events, expected) => instead(() => session.appendToStream(events, expected)) }),
      options,
    ),
  );
}

/**
 * On EventStoreDB the erasure keys' owners are written before the append (no transaction spans the two
 * stores): an update that makes Cora the subject, or links a party to her, adds her as an owner first.
 * When its append then certainly fails (another writer moved the stream past its expected version), she
 * must not stay an owner: her forget would destroy keys sealing Eve's content and party, and Eve's
 * interaction would read erased in its history while its read row kept it (a rebuild would lose it).
 * PostgreSQL writes owners in the append's transaction, rolled back with it.
 */
describe('forgetContact after an append that failed with its owners already written, on EventStoreDB', () => {
  let m: ModuleUnderTest;
  beforeEach(async () => (m = await startModule({ eventStore: 'eventstoredb' })));
  afterEach(() => m.close());

  /** The module's next append to the stream waits for `competing` to land first: its expectation fails. */
  const loseNextAppendTo = (competing: () => Promise<unknown>) =>
    onNextAppend(m, async (append) => {
      await competing();
      return append();
    });

  async function ownersOf(interactionUuid: string): Promise<Array<{ tag: string; contact_uuid: string }>> {
    const { rows } = await m.db.query<{ tag: string; contact_uuid: string }>(
      `SELECT k.tag, o.contact_uuid FROM erasure_key_owners o JOIN erasure_keys k USING (key_id)
       WHERE k.interaction_uuid = $1 ORDER BY k.tag, o.contact_uuid`,
      [interactionUuid],
    );
    return rows;
  }

  it('an update moving Eve’s interaction to Cora that lost its race leaves Cora owning nothing of it; her forget keeps Eve’s content', async () => {
    const eve = m.newContact({ name: 'Eve Keeper' });
    const cora = m.newContact({ name: 'Cora Gone' });
    const own = await m.service.createInteraction({ contactUuid: eve, subject: 'Eve’s renewal', body: 'Eve’s notes' });
    const owners = await ownersOf(own.uuid);

    const spy = loseNextAppendTo(() => m.service.updateInteraction(own.uuid, { body: 'Eve’s notes, revised' }));
    await expect(m.service.updateInteraction(own.uuid, { contactUuid: cora }, null, { expectedVersion: own.version })).rejects.toThrow(
      InteractionConflictError,
    );
    expect(spy).toHaveBeenCalled();
    expect(await ownersOf(own.uuid)).toEqual(owners);

    await m.service.forgetContact(cora);
    const history = await m.service.history(own.uuid);
    expect(history.map((e) => [e.type, e.data])).toEqual([
      ['InteractionLogged', expect.objectContaining({ contactUuid: eve, subject: 'Eve’s renewal', body: 'Eve’s notes' })],
      ['PartiesRebuilt', expect.anything()],
      ['InteractionUpdated', expect.objectContaining({ changes: { body: 'Eve’s notes, revised' } })],
    ]);
    expect(await m.service.getInteraction(own.uuid)).toMatchObject({ contactUuid: eve, body: 'Eve’s notes, revised' });
    const live = await readTables(m.db);
    await m.app.get(InteractionsMaintenance).rebuild();
    expect(await readTables(m.db)).toEqual(live);
  });

  it('an update linking Eve’s party to Cora that lost its race leaves Cora owning nothing of it; her forget keeps the party’s name', async () => {
    const eve = m.newContact({ name: 'Eve Keeper' });
    const dan = m.newContact({ name: 'Dan Subject' });
    const cora = m.newContact({ name: 'Cora Gone' });
    const own = await m.service.createInteraction({ contactUuid: dan, subject: 'Call', body: 'About Eve' }, [
      { rawName: 'Eve K.', contactUuid: eve },
    ]);
    const owners = await ownersOf(own.uuid);

    const spy = loseNextAppendTo(() => m.service.updateInteraction(own.uuid, { body: 'About Eve, again' }));
    await expect(
      m.service.updateInteraction(own.uuid, {}, [{ rawName: 'Eve K.', contactUuid: cora }], { expectedVersion: own.version }),
    ).rejects.toThrow(InteractionConflictError);
    expect(spy).toHaveBeenCalled();
    expect(await ownersOf(own.uuid)).toEqual(owners);

    await m.service.forgetContact(cora);
    const rebuilt = (await m.service.history(own.uuid)).filter((e) => e.type === 'PartiesRebuilt').map((e) => e.data);
    expect(rebuilt).toEqual([expect.objectContaining({ parties: [expect.objectContaining({ rawName: 'Eve K.', contactUuid: eve })] })]);
    expect((await m.service.getInteraction(own.uuid))?.parties).toEqual([expect.objectContaining({ rawName: 'Eve K.', contactUuid: eve })]);
    const live = await readTables(m.db);
    await m.app.get(InteractionsMaintenance).rebuild();
    expect(await readTables(m.db)).toEqual(live);
  });
});

/**
 * An append whose outcome never came back (EventStoreDB out of reach past the adapter's resend window)
 * keeps the owners it claimed, and the steps after its landing (an old subject dropped) are not taken:
 * until the claims are settled from the log (ClaimSettler), a forget erases too much, never too little.
 */
describe('forgetContact after an append whose outcome never came back, once its claims are settled, on EventStoreDB', () => {
  let m: ModuleUnderTest;
  beforeEach(async () => (m = await startModule({ eventStore: 'eventstoredb' })));
  afterEach(() => m.close());

  /** The module's next append to the stream fails as of unknown outcome: after landing (`lands`) or without. */
  const loseNextAnswer = (lands: boolean) =>
    onNextAppend(m, async (append) => {
      if (lands) await append();
      throw new InteractionUnavailableError('EventStoreDB is unavailable: connection lost', 'unknown', { mayStillLand: true });
    });

  /** The pass, with every claim made `minutes` ago. */
  async function settleClaimsMadeAgo(minutes: number): Promise<void> {
    await m.db.query(`UPDATE erasure_unsettled_appends SET claimed_at = claimed_at - $1 * interval '1 minute'`, [minutes]);
    await m.app.get(ClaimSettler).settle();
  }

  it.each([
    ['by the pass', () => settleClaimsMadeAgo(2)],
    ['by her forget itself, a moment later', async () => undefined],
  ])('an update moving Eve’s interaction to Cora that landed unanswered: settled %s, Eve’s forget keeps what is now Cora’s', async (_, settle) => {
    const eve = m.newContact({ name: 'Eve Former' });
    const cora = m.newContact({ name: 'Cora Keeper' });
    const own = await m.service.createInteraction({ contactUuid: eve, subject: 'Renewal', body: 'Notes' });

    const spy = loseNextAnswer(true);
    // The write side reads the stream back and finds the append: the command succeeded.
    await expect(m.service.updateInteraction(own.uuid, { contactUuid: cora })).resolves.toMatchObject({ contactUuid: cora });
    expect(spy).toHaveBeenCalled();

    await settle();
    await m.service.forgetContact(eve);
    const history = await m.service.history(own.uuid);
    expect(history.map((e) => [e.type, e.data])).toEqual([
      ['InteractionLogged', expect.objectContaining({ contactUuid: eve, subject: 'Renewal', body: 'Notes' })],
      ['PartiesRebuilt', expect.anything()],
      ['InteractionUpdated', expect.objectContaining({ changes: { contactUuid: cora } })],
    ]);
    expect(await m.service.getInteraction(own.uuid)).toMatchObject({ contactUuid: cora, subject: 'Renewal', body: 'Notes' });
  });

  it('an update linking Eve’s party to Cora that never landed: settled an hour on, Cora’s forget keeps the party’s name', async () => {
    const eve = m.newContact({ name: 'Eve Keeper' });
    const dan = m.newContact({ name: 'Dan Subject' });
    const cora = m.newContact({ name: 'Cora Gone' });
    const own = await m.service.createInteraction({ contactUuid: dan, subject: 'Call', body: 'About Eve' }, [
      { rawName: 'Eve K.', contactUuid: eve },
    ]);

    const spy = loseNextAnswer(false);
    await expect(m.service.updateInteraction(own.uuid, {}, [{ rawName: 'Eve K.', contactUuid: cora }])).rejects.toMatchObject({
      committed: 'unknown',
    });
    expect(spy).toHaveBeenCalled();

    await settleClaimsMadeAgo(61);
    await m.service.forgetContact(cora);
    const rebuilt = (await m.service.history(own.uuid)).filter((e) => e.type === 'PartiesRebuilt').map((e) => e.data);
    expect(rebuilt).toEqual([expect.objectContaining({ parties: [expect.objectContaining({ rawName: 'Eve K.', contactUuid: eve })] })]);
    const live = await readTables(m.db);
    await m.app.get(InteractionsMaintenance).rebuild();
    expect(await readTables(m.db)).toEqual(live);
  });
});

describe('ClaimSettler', () => {
  it.each([
    ['eventstoredb', 0],
    ['postgres', 2],
  ] as const)('runs by itself on %s, not where no row is ever claimed (claimed rows and records left: %d)', async (eventStore, left) => {
    const every = CLAIM_SETTLING.everyMs;
    CLAIM_SETTLING.everyMs = 50;
    const m = await startModule({ eventStore }).finally(() => (CLAIM_SETTLING.everyMs = every));
    try {
      // A claim such as an append of unknown outcome leaves, on a key of an interaction whose log never had it.
      const own = await m.service.createInteraction({ contactUuid: m.newContact({ name: 'Eve' }), subject: 'Call' });
      const claim = uuidv7();
      await recordClaim(m.db, own.uuid, claim);
      await addOwner(m.db, own.uuid, { tag: 'content' }, m.newContact({ name: 'Cora' }), claim);
      await m.db.query(`UPDATE erasure_unsettled_appends SET claimed_at = now() - interval '2 hours'`);
      const claimed = async () =>
        Number((await m.db.query<{ n: string }>('SELECT count(*) AS n FROM erasure_key_owners WHERE claims IS NOT NULL')).rows[0]!.n) +
        Number((await m.db.query<{ n: string }>('SELECT count(*) AS n FROM erasure_unsettled_appends')).rows[0]!.n);
      for (const until = Date.now() + 2_000; Date.now() < until && (await claimed()) > 0; ) await new Promise((resolve) => setTimeout(resolve, 50));
      expect(await claimed()).toBe(left);
    } finally {
      await m.close();
    }
  });
});
