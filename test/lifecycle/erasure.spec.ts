import { setTimeout as sleep } from 'node:timers/promises';
import { uuidv7 } from 'uuidv7';
import { ERASED, InteractionsMaintenance, PartiesUnlinked } from '../../src';
import { auditRows } from '../../src/cli/audit';
import { dumpLog, dumpSchema, findIn } from '../support/data-dump';
import { readTables } from '../support/read-tables';
import { EVERY_STORE, ModuleUnderTest, startModule } from '../support/module';

/** CONTRACT.md "Contacts' lifecycle", forgetContact: erasure that survives replay, on both event stores. */
/** Everything the module is given about the forgotten person, in every place it can hold it. */
const DANA = {
  name: 'Dana Whitfield',
  email: 'dana.whitfield@orchid-mail.example',
  company: 'Whitfield Botanicals',
  roleInCompany: 'Head of Orchids',
  department: 'Glasshouse Nine',
};
const DANA_RAW_NAMES = ['Dana W. (Whitfield Botanicals)', 'Mrs Whitfield <dana.whitfield@orchid-mail.example>', 'dana from the glasshouse'];
const DANA_CONTENT = ['Renewal of the Whitfield glasshouse', 'Dana asked about the quince grafts', 'orchid-census-77'];
const DANA_STRINGS = [...Object.values(DANA), ...DANA_RAW_NAMES, ...DANA_CONTENT, 'Whitfield', 'quince grafts'];

const OSCAR = { name: 'Oscar Pemberton', company: 'Pemberton Tiles', roleInCompany: 'Buyer' };

describe.each(EVERY_STORE)('forgetContact on %s', (_name, backend, eventStore) => {
  let m: ModuleUnderTest;
  beforeEach(async () => (m = await startModule({ backend, eventStore })));
  afterEach(() => m.close());

  const actorUuid = uuidv7();

  /**
   * Dana is the subject of one interaction (and a party of it), a linked party of Oscar's, and a
   * free-text party of Oscar's later linked to her; Oscar and a staff-free visitor stay in every one.
   */
  async function scene() {
    const dana = m.newContact(DANA);
    const oscar = m.newContact(OSCAR);
    const own = await m.service.createInteraction(
      { contactUuid: dana, subject: DANA_CONTENT[0], body: DANA_CONTENT[1], metadata: { ref: DANA_CONTENT[2] } },
      [{ rawName: 'Oscar P.', contactUuid: oscar }, { rawName: DANA_RAW_NAMES[0], contactUuid: dana }],
    );
    const linked = await m.service.createInteraction({ contactUuid: oscar, subject: 'Tiles for the atrium', body: 'Oscar wants terracotta' }, [
      { rawName: 'Visitor Vic' },
      { rawName: DANA_RAW_NAMES[1], contactUuid: dana },
      { rawName: 'Oscar P.', contactUuid: oscar },
    ]);
    // Updated once more while linked: a second PartiesRebuilt holds her again.
    const updated = await m.service.updateInteraction(linked.uuid, { body: 'Oscar wants terracotta, twice' }, [
      { rawName: 'Visitor Vic' },
      { rawName: DANA_RAW_NAMES[1], contactUuid: dana },
      { rawName: 'Oscar P.', contactUuid: oscar },
    ]);
    const late = await m.service.createInteraction({ contactUuid: oscar, subject: 'Grout samples' }, [
      { rawName: DANA_RAW_NAMES[2] },
      { rawName: 'Oscar P.', contactUuid: oscar },
    ]);
    const lateLinked = await m.service.linkParty(late.uuid, 0, { contactUuid: dana });
    return { dana, oscar, own, linked: updated, late: lateLinked };
  }

  const everything = async () => ({
    ...(await dumpSchema(m.db, m.db.schema)),
    ...(eventStore === 'eventstoredb' && { eventstoredb: await dumpLog(m.log) }),
  });

  it('leaves none of her strings anywhere, shows "[erased]" in history, as-of and a rebuild, and keeps everyone else', async () => {
    const s = await scene();
    // As-of a time before the forget: its events come in a later second (event times are whole seconds).
    const before = new Date();
    await sleep(1100 - (before.getTime() % 1000));
    // The log never held her in clear (sealed from the start); the read tables did, until now.
    expect(findIn({ log: await dumpLog(m.log) }, DANA_STRINGS)).toEqual([]);
    const dumpBefore = await everything();
    const foundBefore = findIn(dumpBefore, DANA_STRINGS);
    expect(foundBefore).toEqual(expect.arrayContaining([`interaction_parties: ${DANA.name}`, `interactions: ${DANA_CONTENT[0]}`]));

    await expect(m.service.forgetContact(s.dana, { actorUuid })).resolves.toEqual({ interactions: 3 });

    // The data dump: every row of every table of the schema, and every event as the server holds it.
    const dumpAfter = await everything();
    expect(findIn(dumpAfter, DANA_STRINGS)).toEqual([]);
    const rows = (dump: Record<string, string>) => Object.values(dump).reduce((n, text) => n + (text ? text.split('\n').length : 0), 0);
    // eslint-disable-next-line no-console
    console.log(
      `data dump on ${_name}: ${Object.keys(dumpAfter).length} tables/logs, ${rows(dumpBefore)} rows/events before the erasure with ` +
        `${foundBefore.length} hits of her ${DANA_STRINGS.length} strings (${[...new Set(foundBefore.map((f) => f.split(':')[0]))].join(', ')}), ` +
        `${rows(dumpAfter)} after with 0 hits`,
    );

    // Her own interaction is gone, its whole history unreadable.
    expect(await m.service.getInteraction(s.own.uuid)).toBeNull();
    const ownHistory = await m.service.history(s.own.uuid);
    expect(ownHistory.map((e) => e.type)).toEqual(['InteractionLogged', 'PartiesRebuilt', 'InteractionDeleted']);
    expect(ownHistory[0]!.data).toMatchObject({ subject: ERASED, body: ERASED, metadata: {} });
    for (const party of (ownHistory[1]!.data as { parties: Array<{ rawName: string; snapshot: unknown }> }).parties) {
      expect(party.rawName).toBe(ERASED);
      expect(party.snapshot).toEqual({ source: 'erased', capturedAt: expect.any(String) });
    }
    expect(ownHistory[2]!.data).toMatchObject({ reason: 'contact_forgotten' });

    // Where she was a party: erased there, everyone else as they were.
    const erased = (capturedAt: string, position: number) => ({
      rawName: ERASED,
      contactUuid: null,
      staffPersonUuid: null,
      position,
      snapshot: { source: 'erased', capturedAt },
    });
    const linked = (await m.service.getInteraction(s.linked.uuid))!;
    expect(linked.parties).toEqual([s.linked.parties[0], erased(s.linked.parties[1]!.snapshot.capturedAt, 1), s.linked.parties[2]]);
    expect(linked.body).toBe('Oscar wants terracotta, twice');
    const late = (await m.service.getInteraction(s.late.uuid))!;
    expect(late.parties).toEqual([erased(s.late.parties[0]!.snapshot.capturedAt, 0), s.late.parties[1]]);
    expect(await m.service.listInvolving(s.dana)).toEqual([]);
    expect((await m.service.listInvolving(s.oscar)).map((i) => i.uuid).sort()).toEqual([s.linked.uuid, s.late.uuid].sort());

    // History and as-of, old events included; the last event says why, with the actor.
    for (const uuid of [s.linked.uuid, s.late.uuid]) {
      const history = await m.service.history(uuid);
      const text = JSON.stringify(history.map(({ data, metadata }) => ({ data, metadata })));
      expect(findIn({ history: text }, DANA_STRINGS)).toEqual([]);
      expect(text).toContain('Oscar P.');
      expect(history[history.length - 1]).toMatchObject({
        type: 'PartiesUnlinked',
        data: { reason: 'contact_forgotten', contactUuid: s.dana },
        metadata: { actorUuid },
      });
      expect(auditRows(history).pop()!.changes).toMatch(/^contact_forgotten/);
    }
    const asOfBefore = (await m.service.getInteractionAsOf(s.linked.uuid, before))!;
    expect(asOfBefore.parties[1]).toMatchObject({ rawName: ERASED, contactUuid: s.dana, snapshot: { source: 'erased' } });
    expect(asOfBefore.parties[2]).toEqual(s.linked.parties[2]);
    expect(await m.service.getInteractionAsOf(s.own.uuid, before)).toMatchObject({ subject: ERASED, body: ERASED });
    expect(m.published.some((e) => e instanceof PartiesUnlinked && e.data.reason === 'contact_forgotten')).toBe(true);

    // A rebuild replays the erased log into the same tables.
    const live = await readTables(m.db);
    await m.app.get(InteractionsMaintenance).rebuild();
    expect(await readTables(m.db)).toEqual(live);
    expect(findIn(await everything(), DANA_STRINGS)).toEqual([]);

    // A repeat affects nothing more.
    await expect(m.service.forgetContact(s.dana)).resolves.toEqual({ interactions: 0 });
  });

  it('forgets a contact that was deleted before, and one merged into the contact forgotten', async () => {
    const s = await scene();
    const twin = m.newContact({ name: 'Dana Whitfield (old record)' });
    const twinOwn = await m.service.createInteraction({ contactUuid: twin, subject: 'Whitfield duplicate record note' });
    await m.service.contactsMerged(twin, s.dana);
    await m.service.contactDeleted(s.dana);
    expect(findIn(await dumpSchema(m.db, m.db.schema), [DANA_RAW_NAMES[1]!])).not.toEqual([]); // unlinked, kept

    // Deleted already: nothing of hers is in the read tables' links, but her keys still find her streams.
    await expect(m.service.forgetContact(s.dana)).resolves.toEqual({ interactions: 2 });
    expect(findIn(await everything(), [...DANA_STRINGS, 'old record', 'duplicate record'])).toEqual([]);
    expect((await m.service.history(twinOwn.uuid))[0]!.data).toMatchObject({ subject: ERASED });
    expect((await m.service.getInteraction(s.linked.uuid))!.parties[1]).toMatchObject({ rawName: ERASED, contactUuid: null });
  });

  it('forgets what a contact merged into her held where the merge had nothing to re-point', async () => {
    const dana = m.newContact(DANA);
    const oscar = m.newContact(OSCAR);
    const twin = m.newContact({ name: 'Twin Name Secret', company: 'TwinCo' });
    // A party of the twin that an update removed again, and an interaction of the twin that was deleted.
    const party = await m.service.createInteraction({ contactUuid: oscar, subject: 'Oscar only' }, [{ rawName: 'Twin Raw Secret', contactUuid: twin }]);
    await m.service.updateInteraction(party.uuid, {}, [{ rawName: 'Oscar P.', contactUuid: oscar }]);
    const own = await m.service.createInteraction({ contactUuid: twin, subject: 'Twin Subject Secret' });
    await m.service.deleteInteraction(own.uuid);
    await m.service.contactsMerged(twin, dana);
    await m.service.forgetContact(dana);
    expect(findIn(await everything(), ['Twin Raw Secret', 'Twin Name Secret', 'TwinCo', 'Twin Subject Secret'])).toEqual([]);
    const histories = JSON.stringify(
      await Promise.all([party.uuid, own.uuid].map(async (uuid) => (await m.service.history(uuid)).map((e) => e.data))),
    );
    expect(histories).not.toMatch(/Twin/);
    expect((await m.service.getInteraction(party.uuid))!.parties).toEqual([expect.objectContaining({ rawName: 'Oscar P.', contactUuid: oscar })]);
  });

  it('keeps the link of someone else whose party had her rawName (their name is erased with hers)', async () => {
    const dana = m.newContact(DANA);
    const oscar = m.newContact(OSCAR);
    const yves = m.newContact({ name: 'Yves' });
    const shared = await m.service.createInteraction({ contactUuid: oscar, subject: 'Alex' }, [{ rawName: 'Alex', contactUuid: dana }]);
    await m.service.updateInteraction(shared.uuid, {}, [{ rawName: 'Alex', contactUuid: yves }]);
    await m.service.forgetContact(dana);
    expect((await m.service.getInteraction(shared.uuid))!.parties).toEqual([
      expect.objectContaining({ rawName: ERASED, contactUuid: yves, snapshot: expect.objectContaining({ source: 'erased' }) }),
    ]);
    expect((await m.service.listInvolving(yves)).map((i) => i.uuid)).toEqual([shared.uuid]);
    const live = await readTables(m.db);
    await m.app.get(InteractionsMaintenance).rebuild();
    expect(await readTables(m.db)).toEqual(live);
  });

  it('keeps apart the keys of interactions created at the same moment: forgetting one subject erases hers alone', async () => {
    const dana = m.newContact(DANA);
    const oscar = m.newContact(OSCAR);
    const [own, shared, other] = await Promise.all([
      m.service.createInteraction({ contactUuid: dana, subject: DANA_CONTENT[0], body: DANA_CONTENT[1] }, [{ rawName: DANA_RAW_NAMES[0]!, contactUuid: dana }]),
      m.service.createInteraction({ contactUuid: oscar, subject: 'Tiles for the atrium', body: 'Oscar wants terracotta' }, [
        { rawName: DANA_RAW_NAMES[1]!, contactUuid: dana },
        { rawName: 'Oscar P.', contactUuid: oscar },
      ]),
      m.service.createInteraction({ contactUuid: oscar, subject: 'Grout samples', body: 'Oscar picks grey' }, [{ rawName: 'Oscar P.', contactUuid: oscar }]),
      // Three more of the same moment: on a server its creates go as two halves.
      ...['Kiln', 'Glaze', 'Firing'].map((subject) => m.service.createInteraction({ contactUuid: oscar, subject, body: null }, [])),
    ]);
    if (eventStore === 'postgres') {
      // They were written by one statement (on a server, the first half of the moment's creates: three of six).
      const of = (uuid: string) => `interaction-${uuid}`;
      const { rows } = await m.db.query<{ n: string }>(
        'SELECT count(DISTINCT transaction_id) AS n FROM events WHERE stream_name = ANY($1::text[])',
        [`{${[own!, shared!, other!].map((i) => of(i.uuid)).join(',')}}`],
      );
      expect(rows).toEqual([{ n: '1' }]);
    }
    await expect(m.service.forgetContact(dana, { actorUuid })).resolves.toEqual({ interactions: 2 });
    expect(findIn(await everything(), DANA_STRINGS)).toEqual([]);
    expect(await m.service.getInteraction(own!.uuid)).toBeNull();
    expect(await m.service.getInteraction(shared!.uuid)).toMatchObject({
      subject: 'Tiles for the atrium',
      body: 'Oscar wants terracotta',
      parties: [expect.objectContaining({ rawName: ERASED, contactUuid: null }), shared!.parties[1]],
    });
    expect(await m.service.getInteraction(other!.uuid)).toEqual(other);
    expect(JSON.stringify((await m.service.history(other!.uuid)).map((e) => e.data))).toContain('Oscar picks grey');
  });

  it('leaves nothing behind when updates of her interactions race the erasure', async () => {
    const s = await scene();
    let stop = false;
    let updates = 0;
    const racer = async (uuid: string, text: string) => {
      while (!stop) {
        try {
          await m.service.updateInteraction(uuid, { body: `${text} ${updates++}` });
        } catch (error) {
          if ((error as Error).name !== 'InteractionNotFoundError') throw error;
          return; // deleted by the erasure: nothing more to race
        }
      }
    };
    const racing = [racer(s.own.uuid, 'Whitfield says'), racer(s.linked.uuid, 'Oscar says')];
    await expect(m.service.forgetContact(s.dana)).resolves.toEqual({ interactions: 3 });
    stop = true;
    await Promise.all(racing);
    expect(updates).toBeGreaterThan(0);
    expect(findIn(await everything(), DANA_STRINGS)).toEqual([]);
    expect((await m.service.getInteraction(s.linked.uuid))!.body).toMatch(/^Oscar says \d+$/);
  });

  it('never writes personal data unsealed: events naming another interaction than their stream are refused', async () => {
    const own = await m.service.createInteraction({ contactUuid: m.newContact(DANA), subject: DANA_CONTENT[0] });
    const [logged] = await m.service.history(own.uuid);
    const elsewhere = `interaction-${uuidv7()}`;
    await expect(m.store.appendToStream(elsewhere, [{ ...logged!, id: uuidv7() }], 'no_stream')).rejects.toThrow(/names another interaction/);
    expect(await m.store.readStream(elsewhere)).toEqual([]);
  });

  it('makes her data unreadable everywhere at once, also when one of her streams cannot be read', async () => {
    const s = await scene();
    // More of her streams than the fan-out works on at once: a failure stops it before it reaches them.
    const more = [];
    for (let i = 0; i < 8; i++) {
      more.push(await m.service.createInteraction({ contactUuid: m.newContact(OSCAR), subject: `more ${i}` }, [{ rawName: DANA_RAW_NAMES[0], contactUuid: s.dana }]));
    }
    // A row of the log whose sealed box does not open (a tampered event), in one of her streams.
    const { rows } = await m.db.query<{ key_id: string }>("SELECT key_id FROM erasure_keys WHERE interaction_uuid = $1 AND tag = 'content'", [s.linked.uuid]);
    const tampered = { schemaVersion: 1, interactionUuid: s.linked.uuid, changes: { sealed: { key: rows[0]!.key_id, fields: ['body'], box: 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' } } };
    const metadata = { actorUuid: null, correlationId: uuidv7(), causationId: null, recordedAt: new Date().toISOString() };
    await m.log.appendToStream(`interaction-${s.linked.uuid}`, [{ id: uuidv7(), type: 'InteractionUpdated', data: tampered, metadata }], 'any');

    await expect(m.service.forgetContact(s.dana)).rejects.toMatchObject({ name: 'InteractionUnreadableError' });
    // The decision stays pending for that stream; her keys are gone already, so no history shows her.
    for (const uuid of [s.own.uuid, s.late.uuid, ...more.map((i) => i.uuid)]) {
      expect(findIn({ history: JSON.stringify((await m.service.history(uuid)).map((e) => e.data)) }, DANA_STRINGS)).toEqual([]);
    }
    expect(findIn({ log: await dumpLog(m.log) }, DANA_STRINGS)).toEqual([]);
    const { rows: pending } = await m.db.query('SELECT 1 FROM lifecycle_decisions WHERE completed_at IS NULL', []);
    expect(pending).toHaveLength(1);
  });

  it('refuses a bad uuid with a typed error and decides nothing', async () => {
    await expect(m.service.forgetContact('not-a-uuid')).rejects.toMatchObject({
      name: 'InteractionValidationError',
      errors: { contactUuid: ['is not a valid UUID'] },
    });
  });
});
