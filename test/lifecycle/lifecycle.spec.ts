import { uuidv7 } from 'uuidv7';
import { InteractionUnavailableError } from '../../src/domain/errors';
import { DATABASE } from '../../src/nest/tokens';
import { Database } from '../../src/ports/database';
import {
  ContactRepointed,
  InteractionDeleted,
  InteractionValidationError,
  PartiesUnlinked,
} from '../../src';
import { auditRows } from '../../src/cli/audit';
import { rebuild } from '../../projections/catch-up';
import { BACKENDS } from '../support/backends';
import { readTables } from '../support/read-tables';
import { ModuleUnderTest, startModule } from '../support/module';

/** CONTRACT.md "Contacts' lifecycle": contactDeleted, staffPersonDeleted, contactsMerged. */
describe.each(BACKENDS.map((backend) => [backend.name, backend] as const))('on %s', (_name, backend) => {
  let m: ModuleUnderTest;
  beforeEach(async () => (m = await startModule({ withStaffDirectory: true, backend })));
  afterEach(() => m.close());

  const actorUuid = uuidv7();
  const typesOf = async (uuid: string) => (await m.service.history(uuid)).map((e) => e.type);

  /** A contact who is the subject of two interactions and a party of one of someone else's. */
  async function scene() {
    const gone = m.newContact({ name: 'Grace', company: 'Acme' });
    const other = m.newContact({ name: 'Other' });
    const staffUuid = m.staff!.add({ uuid: uuidv7(), name: 'Sam', jobTitle: 'AE' }).uuid;
    const own1 = await m.service.createInteraction({ contactUuid: gone, subject: 'own 1' }, [{ rawName: 'Sam', staffPersonUuid: staffUuid }]);
    const own2 = await m.service.createInteraction({ contactUuid: gone, subject: 'own 2' });
    const party = await m.service.createInteraction({ contactUuid: other, subject: 'party' }, [
      { rawName: 'Visitor' },
      { rawName: 'Grace G.', contactUuid: gone },
      { rawName: 'Sam', staffPersonUuid: staffUuid },
      { rawName: 'Grace again', contactUuid: gone },
    ]);
    const untouched = await m.service.createInteraction({ contactUuid: other, subject: 'untouched' }, [{ rawName: 'Visitor' }]);
    return { gone, other, staffUuid, own1, own2, party, untouched };
  }

  describe('contactDeleted', () => {
    it('deletes the interactions it is the subject of and unlinks it elsewhere, snapshots kept', async () => {
      const s = await scene();
      m.published.length = 0;
      await expect(m.service.contactDeleted(s.gone.toUpperCase(), { actorUuid })).resolves.toEqual({ interactions: 3 });

      expect(await m.service.getInteraction(s.own1.uuid)).toBeNull();
      expect(await m.service.getInteraction(s.own2.uuid)).toBeNull();
      const party = await m.service.getInteraction(s.party.uuid);
      expect(party!.parties).toEqual(
        s.party.parties.map((p) => (p.contactUuid === s.gone ? { ...p, contactUuid: null } : p)),
      );
      expect(party!.parties[1]!.snapshot).toEqual(s.party.parties[1]!.snapshot);
      expect(party!.version).toBe(s.party.version + 1);
      expect(await m.service.getInteraction(s.untouched.uuid)).toEqual(s.untouched);
      expect(await m.service.listInvolving(s.gone)).toEqual([]);
      expect((await m.service.listInvolving(s.other)).map((i) => i.uuid).sort()).toEqual([s.party.uuid, s.untouched.uuid].sort());

      // The log: the reason, the actor, one decision for all; as-of and the audit fold them.
      const [deleted] = (await m.service.history(s.own1.uuid)).slice(-1);
      expect(deleted).toMatchObject({ type: 'InteractionDeleted', data: { reason: 'contact_deleted' }, metadata: { actorUuid } });
      const [unlinked] = (await m.service.history(s.party.uuid)).slice(-1);
      expect(unlinked).toMatchObject({
        type: 'PartiesUnlinked',
        data: { positions: [1, 3], contactUuid: s.gone, staffPersonUuid: null, reason: 'contact_deleted' },
        metadata: { actorUuid },
      });
      expect((unlinked!.data as { decisionId: string }).decisionId).toBe((deleted!.data as { decisionId: string }).decisionId);
      expect(await m.service.getInteractionAsOf(s.party.uuid, new Date(Date.now() + 1000))).toEqual(party);
      expect(await m.service.getInteractionAsOf(s.own1.uuid, new Date(Date.now() + 1000))).toBeNull();
      const audit = auditRows(await m.service.history(s.party.uuid));
      expect(audit[audit.length - 1]).toMatchObject({ type: 'PartiesUnlinked', actor: actorUuid });
      expect(audit[audit.length - 1]!.changes).toMatch(/^contact_deleted: parties \[Grace G\. → unlinked, Grace again → unlinked\]/);
      expect(auditRows(await m.service.history(s.own2.uuid)).pop()!.changes).toBe('deleted (contact_deleted)');

      // Published, each with the contacts whose pages change.
      const deletions = m.published.filter((e): e is InteractionDeleted => e instanceof InteractionDeleted);
      expect(deletions.map((e) => e.interactionUuid).sort()).toEqual([s.own1.uuid, s.own2.uuid].sort());
      for (const event of deletions) expect(event.involvedContactUuids).toEqual([s.gone]);
      const unlinks = m.published.filter((e): e is PartiesUnlinked => e instanceof PartiesUnlinked);
      expect(unlinks).toHaveLength(1);
      expect(unlinks[0]!.involvedContactUuids).toEqual([s.other, s.gone]);

      expect(await readTables(m.db)).toEqual(await rebuild(m.db, m.store).then(() => readTables(m.db)));
    });

    it('affects nothing more when repeated; a key returns the first result, another input with it is refused', async () => {
      const s = await scene();
      await expect(m.service.contactDeleted(s.gone, { idempotencyKey: 'delete-grace' })).resolves.toEqual({ interactions: 3 });
      const events = await m.countEvents();
      await expect(m.service.contactDeleted(s.gone, { idempotencyKey: 'delete-grace' })).resolves.toEqual({ interactions: 3 });
      await expect(m.service.contactDeleted(s.gone)).resolves.toEqual({ interactions: 0 });
      await expect(m.service.contactDeleted(s.other, { idempotencyKey: 'delete-grace' })).rejects.toMatchObject({
        errors: { idempotencyKey: ['was already used for a different request'] },
      });
      expect(await m.countEvents()).toBe(events);
      await expect(m.service.contactDeleted(uuidv7())).resolves.toEqual({ interactions: 0 });
    });

    it('refuses a key used by another kind of command, either way, and writes nothing', async () => {
      const s = await scene();
      const reused = { errors: { idempotencyKey: ['was already used for a different request'] } };
      await m.service.contactDeleted(s.gone, { idempotencyKey: 'one-request' });
      const events = await m.countEvents();
      await expect(m.service.createInteraction({ contactUuid: s.other }, [], [], { idempotencyKey: 'one-request' })).rejects.toMatchObject(reused);
      await expect(m.service.linkParty(s.untouched.uuid, 0, { contactUuid: s.other }, { idempotencyKey: 'one-request' })).rejects.toMatchObject(reused);
      await m.service.updateInteraction(s.untouched.uuid, { subject: 'edited' }, null, { idempotencyKey: 'an-edit' });
      await expect(m.service.contactDeleted(s.other, { idempotencyKey: 'an-edit' })).rejects.toMatchObject(reused);
      await expect(m.service.contactsMerged(s.other, m.newContact(), { idempotencyKey: 'an-edit' })).rejects.toMatchObject(reused);
      expect(await m.countEvents()).toBe(events + 1);
      expect(await m.service.listInvolving(s.other)).not.toEqual([]);
    });

    it.each([
      ['recorded before its answer was lost: it is run and answered', true],
      ['not recorded, its answer lost: unknown, and nothing decided', false],
    ])('a decision %s', async (_, lands) => {
      const s = await scene();
      const db = m.app.get<Database>(DATABASE);
      const autocommit = db.autocommit!.bind(db);
      const spy = jest.spyOn(db, 'autocommit').mockImplementation(async (text, params) => {
        if (!text.includes('INSERT INTO lifecycle_decisions')) return autocommit(text, params);
        if (lands) await autocommit(text, params);
        throw new InteractionUnavailableError('PostgreSQL is unavailable: Connection terminated', 'unknown');
      });
      try {
        const deciding = m.service.contactDeleted(s.gone, { actorUuid });
        if (lands) await expect(deciding).resolves.toEqual({ interactions: 3 });
        else await expect(deciding).rejects.toMatchObject({ committed: 'unknown' });
      } finally {
        spy.mockRestore();
      }
      expect(await m.service.getInteraction(s.own1.uuid)).toEqual(lands ? null : expect.objectContaining({ uuid: s.own1.uuid }));
      const { rows } = await m.db.query('SELECT 1 FROM lifecycle_decisions', []);
      expect(rows).toHaveLength(lands ? 1 : 0);
    });

    it('refuses malformed input with a validation error and records nothing', async () => {
      await expect(m.service.contactDeleted('nope')).rejects.toMatchObject({ errors: { contactUuid: ['is not a valid UUID'] } });
      await expect(m.service.contactDeleted(null as never)).rejects.toBeInstanceOf(InteractionValidationError);
      await expect(m.service.contactDeleted(uuidv7(), { actorUuid: 'x' })).rejects.toMatchObject({ errors: { actorUuid: ['is not a valid UUID'] } });
      await expect(m.service.contactDeleted(uuidv7(), { idempotencyKey: '' })).rejects.toBeInstanceOf(InteractionValidationError);
      const { rows } = await m.db.query('SELECT * FROM lifecycle_decisions');
      expect(rows).toEqual([]);
    });
  });

  describe('staffPersonDeleted', () => {
    it('unlinks the staff person from every party, rawName and snapshot kept', async () => {
      const s = await scene();
      await expect(m.service.staffPersonDeleted(s.staffUuid, { actorUuid })).resolves.toEqual({ interactions: 2 });
      for (const before of [s.own1, s.party]) {
        const after = await m.service.getInteraction(before.uuid);
        expect(after!.parties).toEqual(before.parties.map((p) => (p.staffPersonUuid ? { ...p, staffPersonUuid: null } : p)));
        expect(after!.parties.some((p) => p.snapshot.source === 'staff' && p.snapshot.name === 'Sam')).toBe(true);
      }
      const [last] = (await m.service.history(s.party.uuid)).slice(-1);
      expect(last).toMatchObject({ type: 'PartiesUnlinked', data: { positions: [2], contactUuid: null, staffPersonUuid: s.staffUuid, reason: 'staff_person_deleted' } });
      expect(auditRows(await m.service.history(s.own1.uuid)).pop()!.changes).toBe('staff_person_deleted: parties [Sam → unlinked]');
      await expect(m.service.staffPersonDeleted(s.staffUuid)).resolves.toEqual({ interactions: 0 });
      await expect(m.service.staffPersonDeleted('1234')).rejects.toMatchObject({ errors: { staffPersonUuid: ['is not a valid UUID'] } });
      expect(await readTables(m.db)).toEqual(await rebuild(m.db, m.store).then(() => readTables(m.db)));
    });
  });

  describe('contactsMerged', () => {
    it('re-points subjects and party links to into, snapshots unchanged', async () => {
      const s = await scene();
      const into = m.newContact({ name: 'Grace (kept)' });
      const already = await m.service.createInteraction({ contactUuid: into, subject: 'into own' }, [{ rawName: 'G', contactUuid: s.gone }]);
      m.published.length = 0;
      await expect(m.service.contactsMerged(s.gone, into, { actorUuid })).resolves.toEqual({ interactions: 4 });

      expect(await m.service.listInvolving(s.gone)).toEqual([]);
      expect((await m.service.listInvolving(into)).map((i) => i.uuid).sort()).toEqual(
        [s.own1.uuid, s.own2.uuid, s.party.uuid, already.uuid].sort(),
      );
      const own1 = await m.service.getInteraction(s.own1.uuid);
      expect(own1).toMatchObject({ contactUuid: into, parties: s.own1.parties, version: s.own1.version + 1 });
      const party = await m.service.getInteraction(s.party.uuid);
      expect(party!.contactUuid).toBe(s.other);
      expect(party!.parties).toEqual(s.party.parties.map((p) => (p.contactUuid === s.gone ? { ...p, contactUuid: into } : p)));
      expect((await m.service.getInteraction(already.uuid))!.parties[0]).toMatchObject({ contactUuid: into, snapshot: already.parties[0]!.snapshot });
      expect(await m.service.interactionUuidsForContact(s.gone)).toEqual([]);
      expect((await m.service.interactionUuidsForContact(into)).sort()).toEqual([s.own1.uuid, s.own2.uuid, already.uuid].sort());

      const [last] = (await m.service.history(s.own1.uuid)).slice(-1);
      expect(last).toMatchObject({
        type: 'ContactRepointed',
        data: { fromContactUuid: s.gone, intoContactUuid: into, subject: true, positions: [] },
        metadata: { actorUuid },
      });
      expect(auditRows(await m.service.history(s.party.uuid)).pop()!.changes).toBe(
        `contacts_merged: parties [Grace G. → ${into}, Grace again → ${into}]`,
      );
      expect(await m.service.getInteractionAsOf(s.own1.uuid, new Date(Date.now() + 1000))).toEqual(own1);
      const repointed = m.published.filter((e): e is ContactRepointed => e instanceof ContactRepointed);
      expect(repointed).toHaveLength(4);
      expect(repointed.find((e) => e.interactionUuid === s.own2.uuid)!.involvedContactUuids).toEqual([s.gone, into]);

      // Afterwards an ordinary update works on the merged interaction (the subject exists).
      await m.service.updateInteraction(s.own2.uuid, { subject: 'after merge' });
      await expect(m.service.contactsMerged(s.gone, into)).resolves.toEqual({ interactions: 0 });
      expect(await readTables(m.db)).toEqual(await rebuild(m.db, m.store).then(() => readTables(m.db)));
    });

    it('refuses a merge into itself, into an unknown contact, and malformed uuids', async () => {
      const a = m.newContact();
      await expect(m.service.contactsMerged(a, a.toUpperCase())).rejects.toMatchObject({ errors: { intoUuid: ['must differ from fromUuid'] } });
      await expect(m.service.contactsMerged(a, uuidv7())).rejects.toMatchObject({ errors: { intoUuid: ['does not exist'] } });
      await expect(m.service.contactsMerged('x', 'y')).rejects.toMatchObject({
        errors: { fromUuid: ['is not a valid UUID'], intoUuid: ['is not a valid UUID'] },
      });
      const { rows } = await m.db.query('SELECT * FROM lifecycle_decisions');
      expect(rows).toEqual([]);
    });

    it('answers a keyed repeat as the first request was, also once into has left the directory', async () => {
      const [from, into] = [m.newContact({ name: 'From' }), m.newContact({ name: 'Into' })];
      await m.service.createInteraction({ contactUuid: from, subject: 'merged' });
      const first = await m.service.contactsMerged(from, into, { idempotencyKey: 'merge-then-into-gone' });
      // The host removes both: `from` after the merge, `into` after its own deletion later on.
      m.contacts.contacts.delete(from);
      await m.service.contactDeleted(into);
      m.contacts.contacts.delete(into);
      const events = await m.countEvents();
      await expect(m.service.contactsMerged(from, into, { idempotencyKey: 'merge-then-into-gone' })).resolves.toEqual(first);
      expect(await m.countEvents()).toBe(events);
      // Without the key it is a new request, checked as one; the key with another input is refused.
      await expect(m.service.contactsMerged(from, into)).rejects.toMatchObject({ errors: { intoUuid: ['does not exist'] } });
      await expect(m.service.contactsMerged(from, into, { idempotencyKey: 'merge-then-into-gone', actorUuid })).rejects.toMatchObject({
        errors: { idempotencyKey: ['was already used for a different request'] },
      });
    });
  });

  it.each([
    [
      'a merge',
      async () => {
        const bob = m.newContact({ name: 'Bob', company: 'B Corp' });
        const alice = m.newContact({ name: 'Alice', company: 'A Corp' });
        const parties = [{ rawName: 'Bob', contactUuid: bob }, { rawName: 'Alice', contactUuid: alice }];
        return { parties, after: (uuid: string) => (void uuid, m.service.contactsMerged(alice, bob)) };
      },
    ],
    [
      'a late link',
      async () => {
        const bob = m.newContact({ name: 'Bob', company: 'B Corp' });
        const parties = [{ rawName: 'Bob', contactUuid: bob }, { rawName: 'Bobby from B' }];
        return {
          parties,
          after: (uuid: string) => {
            // Renamed in the directory since: the link's snapshot is another than the first party's.
            m.contacts.add({ uuid: bob, name: 'Robert', company: 'B Corp' });
            return m.service.linkParty(uuid, 1, { contactUuid: bob });
          },
        };
      },
    ],
    [
      'a deletion',
      async () => {
        const grace = m.newContact({ name: 'Grace', company: 'Acme' });
        const parties = [{ rawName: 'Grace' }, { rawName: 'Grace', contactUuid: grace }];
        return { parties, after: (uuid: string) => (void uuid, m.service.contactDeleted(grace)) };
      },
    ],
  ])('keeps each party its own frozen snapshot when the parties are saved unchanged after %s made two of one identity', async (_, scenario) => {
    const { parties, after } = await scenario();
    const created = await m.service.createInteraction({ contactUuid: m.newContact({ name: 'Subject' }) }, parties);
    await after(created.uuid);
    const before = (await m.service.getInteraction(created.uuid))!;
    expect(new Set(before.parties.map((p) => JSON.stringify(p.snapshot))).size).toBe(2);
    // The History tab's form saves the parties as it read them.
    const saved = await m.service.updateInteraction(
      created.uuid,
      {},
      before.parties.map((p) => ({ rawName: p.rawName, contactUuid: p.contactUuid, staffPersonUuid: p.staffPersonUuid })),
    );
    expect(saved).toEqual(before); // the same version: nothing appended
  });

  it('loses no concurrent ordinary update of the interactions it fans out to', async () => {
    const gone = m.newContact({ name: 'Gone' });
    const other = m.newContact({ name: 'Other' });
    const created = [];
    for (let i = 0; i < 24; i++) {
      created.push(await m.service.createInteraction({ contactUuid: other, subject: `i${i}` }, [{ rawName: 'G', contactUuid: gone }, { rawName: 'Free' }]));
    }
    const updates = created.flatMap((interaction, i) => [
      m.service.updateInteraction(interaction.uuid, { body: `body ${i}` }),
      m.service.updateInteraction(interaction.uuid, { metadata: { i } }),
    ]);
    const [result] = await Promise.all([m.service.contactDeleted(gone), ...updates]);
    expect(result).toEqual({ interactions: 24 });
    for (const [i, interaction] of created.entries()) {
      const now = await m.service.getInteraction(interaction.uuid);
      expect(now).toMatchObject({ body: `body ${i}`, metadata: { i }, version: interaction.version + 3 });
      expect(now!.parties.map((p) => p.contactUuid)).toEqual([null, null]);
      expect((await typesOf(interaction.uuid)).filter((t) => t === 'PartiesUnlinked')).toHaveLength(1);
    }
  });
});
