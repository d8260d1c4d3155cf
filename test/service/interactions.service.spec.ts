import { uuidv7 } from 'uuidv7';
import {
  InteractionConflictError,
  InteractionDeleted,
  InteractionLogged,
  InteractionNotFoundError,
  InteractionUpdated,
  InteractionValidationError,
  PartiesRebuilt,
} from '../../src';
import { BACKENDS } from '../support/backends';
import { ModuleUnderTest, startModule } from '../support/module';
import { rejectionOf } from '../support/rejections';

/** Events in the module's log (the events table, or EventStoreDB). */
async function countEvents(m: ModuleUnderTest): Promise<number> {
  return m.countEvents();
}

describe.each(BACKENDS.map((backend) => [backend.name, backend] as const))('on %s', (_name, backend) => {
  describe('InteractionsService (seed behaviours)', () => {
    let m: ModuleUnderTest;
    beforeEach(async () => (m = await startModule({ backend })));
    afterEach(() => m.close());

    it('creates an interaction about a subject', async () => {
      const contactUuid = m.newContact({ name: 'Ada' });
      const created = await m.service.createInteraction({ contactUuid, subject: 'Intro call', interactionType: 'call' });
      expect(created).toMatchObject({
        contactUuid,
        subject: 'Intro call',
        interactionType: 'call',
        body: null,
        ownerUserUuid: null,
        metadata: {},
        fileUuids: [],
        parties: [],
        version: 1,
      });
      expect(created.uuid).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-/);
      expect(await m.service.getInteraction(created.uuid)).toEqual(created);
    });

    it('rejects {} with an error on contactUuid', async () => {
      const error = await rejectionOf(m.service.createInteraction({}));
      expect(error).toBeInstanceOf(InteractionValidationError);
      expect((error as InteractionValidationError).errors).toEqual({ contactUuid: ['is required'] });
    });

    it('rejects a bogus type with an error on interactionType', async () => {
      const contactUuid = m.newContact();
      const error = await rejectionOf(
        m.service.createInteraction({ contactUuid, interactionType: 'fax' as never }),
      );
      expect((error as InteractionValidationError).errors).toEqual({
        interactionType: ['must be one of: call, email, meeting, note, other'],
      });
    });

    it("captures a contact party's snapshot", async () => {
      const contactUuid = m.newContact();
      const partyUuid = m.newContact({ name: 'Grace Hopper', company: 'Navy', roleInCompany: 'Admiral', department: 'R&D' });
      const created = await m.service.createInteraction({ contactUuid }, [{ rawName: 'Grace', contactUuid: partyUuid }]);
      const [party] = created.parties;
      expect(party).toEqual({
        rawName: 'Grace',
        contactUuid: partyUuid,
        staffPersonUuid: null,
        position: 0,
        snapshot: {
          source: 'crm_contact',
          name: 'Grace Hopper',
          company: 'Navy',
          roleInCompany: 'Admiral',
          department: 'R&D',
          capturedAt: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/),
        },
      });
      expect((await m.service.getInteraction(created.uuid))!.parties).toEqual(created.parties);
    });

    it('drops a blank party silently', async () => {
      const contactUuid = m.newContact();
      const created = await m.service.createInteraction({ contactUuid }, [
        { rawName: '   ' },
        { rawName: ' Walk-in visitor ' },
        { rawName: '' },
      ]);
      expect(created.parties).toEqual([
        { rawName: 'Walk-in visitor', contactUuid: null, staffPersonUuid: null, position: 0, snapshot: expect.objectContaining({ source: 'free_text' }) },
      ]);
    });

    it("finds both the subject's and the party's interactions when listing involving", async () => {
      const ada = m.newContact({ name: 'Ada' });
      const bob = m.newContact({ name: 'Bob' });
      const aboutAda = await m.service.createInteraction({ contactUuid: ada });
      const aboutBobWithAda = await m.service.createInteraction({ contactUuid: bob }, [{ rawName: 'Ada', contactUuid: ada }]);
      const involving = await m.service.listInvolving(ada);
      expect(involving.map((i) => i.uuid).sort()).toEqual([aboutAda.uuid, aboutBobWithAda.uuid].sort());
    });

    it('answers [] for involving of a malformed or null uuid', async () => {
      expect(await m.service.listInvolving('not-a-uuid')).toEqual([]);
      expect(await m.service.listInvolving(null)).toEqual([]);
    });

    it("includes the contact's interaction in the feed for contacts, and [] for []", async () => {
      const ada = m.newContact({ name: 'Ada', email: 'ada@example.com' });
      const created = await m.service.createInteraction({ contactUuid: ada });
      const feed = await m.service.listForContacts([ada]);
      expect(feed).toHaveLength(1);
      expect(feed[0]).toEqual({ ...created, contact: { uuid: ada, name: 'Ada', email: 'ada@example.com' } });
      expect(await m.service.listForContacts([])).toEqual([]);
    });

    it('includes the interaction in the subject uuids', async () => {
      const ada = m.newContact();
      const created = await m.service.createInteraction({ contactUuid: ada });
      expect(await m.service.interactionUuidsForContact(ada)).toEqual([created.uuid]);
    });

    it('keeps the parties when updating the subject with parties null', async () => {
      const ada = m.newContact();
      const bob = m.newContact({ name: 'Bob' });
      const created = await m.service.createInteraction({ contactUuid: ada, subject: 'Before' }, [
        { rawName: 'Bob', contactUuid: bob },
      ]);
      const updated = await m.service.updateInteraction(created, { subject: 'After' });
      expect(updated.subject).toBe('After');
      expect(updated.parties).toEqual(created.parties);
      expect(await m.service.getInteraction(created.uuid)).toEqual(updated);
    });

    it('keeps a snapshot frozen after the contact is renamed and the same parties are saved again', async () => {
      jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate', 'setTimeout', 'setInterval', 'clearTimeout', 'clearInterval', 'queueMicrotask'] });
      try {
        jest.setSystemTime(new Date('2026-08-22T10:00:00.250Z'));
        const ada = m.newContact();
        const bob = m.newContact({ name: 'Bob Original' });
        const created = await m.service.createInteraction({ contactUuid: ada }, [
          { rawName: 'Bob', contactUuid: bob },
          { rawName: 'Note taker' },
        ]);
        m.contacts.add({ uuid: bob, name: 'Bob Renamed' });
        jest.setSystemTime(new Date('2026-09-01T08:30:00Z'));
        const saved = await m.service.updateInteraction(created.uuid, {}, [
          { rawName: 'Bob', contactUuid: bob },
          { rawName: 'Note taker' },
        ]);
        const snapshot = { source: 'crm_contact', name: 'Bob Original', capturedAt: '2026-08-22T10:00:00Z' };
        expect(saved.parties[0]!.snapshot).toEqual(snapshot);
        expect(saved.parties[1]!.snapshot).toEqual({ source: 'free_text', capturedAt: '2026-08-22T10:00:00Z' });
        expect((await m.service.getInteraction(created.uuid))!.parties[0]!.snapshot).toEqual(snapshot);
        // Nothing changed, so nothing was appended.
        expect(saved.version).toBe(created.version);
      } finally {
        jest.useRealTimers();
      }
    });

    it('clears the parties when updating with []', async () => {
      const ada = m.newContact();
      const created = await m.service.createInteraction({ contactUuid: ada }, [{ rawName: 'Someone' }]);
      const updated = await m.service.updateInteraction(created.uuid, {}, []);
      expect(updated.parties).toEqual([]);
      expect((await m.service.getInteraction(created.uuid))!.parties).toEqual([]);
    });

    it('deletes: get is null afterwards and the read tables hold nothing of it, while the stream stays', async () => {
      const ada = m.newContact();
      const bob = m.newContact();
      const created = await m.service.createInteraction({ contactUuid: ada }, [{ rawName: 'Bob', contactUuid: bob }]);
      const deleted = await m.service.deleteInteraction(created.uuid);
      expect(deleted).toEqual(created);
      expect(await m.service.getInteraction(created.uuid)).toBeNull();
      expect(await m.service.listInvolving(bob)).toEqual([]);
      for (const [table, column] of [
        ['interactions', 'uuid'],
        ['interaction_parties', 'interaction_uuid'],
        ['interaction_involvements', 'interaction_uuid'],
      ]) {
        const { rows } = await m.db.query(`SELECT 1 FROM ${table} WHERE ${column} = $1`, [created.uuid]);
        expect(rows).toEqual([]);
      }
      expect((await m.service.history(created.uuid)).map((e) => e.type)).toEqual([
        'InteractionLogged',
        'PartiesRebuilt',
        'InteractionDeleted',
      ]);
    });

    it('publishes events with involvedContactUuids deduped, without nulls, in first-seen order', async () => {
      const ada = m.newContact();
      const bob = m.newContact();
      const cyd = m.newContact();
      const created = await m.service.createInteraction({ contactUuid: ada }, [
        { rawName: 'Bob', contactUuid: bob },
        { rawName: 'Free text' },
        { rawName: 'Ada again', contactUuid: ada },
        { rawName: 'Bob again', contactUuid: bob },
      ]);
      expect(m.published.map((e) => e.constructor)).toEqual([InteractionLogged, PartiesRebuilt]);
      for (const event of m.published) {
        expect((event as InteractionLogged).involvedContactUuids).toEqual([ada, bob]);
        expect((event as InteractionLogged).interactionUuid).toBe(created.uuid);
      }
      m.published.length = 0;
      await m.service.updateInteraction(created.uuid, { contactUuid: cyd }, [{ rawName: 'Bob', contactUuid: bob }]);
      expect(m.published.map((e) => e.constructor)).toEqual([InteractionUpdated, PartiesRebuilt]);
      expect((m.published[0] as InteractionUpdated).involvedContactUuids).toEqual([ada, bob, cyd]);
      m.published.length = 0;
      await m.service.deleteInteraction(created.uuid);
      expect(m.published.map((e) => e.constructor)).toEqual([InteractionDeleted]);
      expect((m.published[0] as InteractionDeleted).involvedContactUuids).toEqual([cyd, bob]);
    });
  });

  describe('InteractionsService (contract rules)', () => {
    let m: ModuleUnderTest;
    beforeEach(async () => (m = await startModule({ backend })));
    afterEach(() => m.close());

    it('rejects a party resolved to both a contact and a staff person, and writes nothing', async () => {
      const ada = m.newContact();
      const error = await rejectionOf(
        m.service.createInteraction({ contactUuid: ada }, [
          { rawName: 'Fine' },
          { rawName: 'Both', contactUuid: m.newContact(), staffPersonUuid: uuidv7() },
        ]),
      );
      expect((error as InteractionValidationError).errors).toEqual({
        'parties.1.contactUuid': ['cannot resolve to both a contact and a staff person'],
      });
      expect(await countEvents(m)).toBe(0);
    });

    it('rejects unknown subject and party contacts with "does not exist"', async () => {
      const error = await rejectionOf(
        m.service.createInteraction({ contactUuid: uuidv7() }, [{ rawName: 'Ghost', contactUuid: uuidv7() }]),
      );
      expect((error as InteractionValidationError).errors).toEqual({
        contactUuid: ['does not exist'],
        'parties.0.contactUuid': ['does not exist'],
      });
      expect(await countEvents(m)).toBe(0);
    });

    it('limits subject and party names to 255 characters', async () => {
      const ada = m.newContact();
      const ok = await m.service.createInteraction({ contactUuid: ada, subject: 's'.repeat(255) }, [
        { rawName: 'n'.repeat(255) },
      ]);
      expect(ok.subject).toHaveLength(255);
      const error = await rejectionOf(
        m.service.createInteraction({ contactUuid: ada, subject: 's'.repeat(256) }, [{ rawName: 'n'.repeat(256) }]),
      );
      expect((error as InteractionValidationError).errors).toEqual({
        subject: ['must be at most 255 characters'],
        'parties.0.rawName': ['must be at most 255 characters'],
      });
      const body = 'b'.repeat(100_000);
      expect((await m.service.createInteraction({ contactUuid: ada, body })).body).toBe(body);
    });

    it('requires metadata to be a JSON object', async () => {
      const ada = m.newContact();
      for (const metadata of [[1, 2], 'text', 42, true]) {
        const error = await rejectionOf(m.service.createInteraction({ contactUuid: ada, metadata: metadata as never }));
        expect((error as InteractionValidationError).errors).toEqual({ metadata: ['must be an object'] });
      }
      const created = await m.service.createInteraction({ contactUuid: ada, metadata: { source: 'import', n: 1 } });
      expect((await m.service.getInteraction(created.uuid))!.metadata).toEqual({ source: 'import', n: 1 });
      expect(await countEvents(m)).toBe(2);
    });

    it('reports a malformed ownerUserUuid and malformed fileUuids as validation errors', async () => {
      const ada = m.newContact();
      const error = await rejectionOf(
        m.service.createInteraction({ contactUuid: ada, ownerUserUuid: 'nope' }, [], ['also-nope']),
      );
      expect((error as InteractionValidationError).errors).toEqual({
        ownerUserUuid: ['is not a valid UUID'],
        fileUuids: ['must be a list of UUIDs'],
      });
      const owner = uuidv7();
      const file = uuidv7();
      const created = await m.service.createInteraction({ contactUuid: ada, ownerUserUuid: owner }, [], [file]);
      expect(await m.service.getInteraction(created.uuid)).toMatchObject({ ownerUserUuid: owner, fileUuids: [file] });
    });

    it('truncates occurredAt to the second and defaults it to now on create and on update', async () => {
      const ada = m.newContact();
      const given = await m.service.createInteraction({ contactUuid: ada, occurredAt: '2026-08-22T12:34:56.789+02:00' });
      expect(given.occurredAt).toEqual(new Date('2026-08-22T10:34:56Z'));
      const fromDate = await m.service.createInteraction({ contactUuid: ada, occurredAt: new Date('2026-01-02T03:04:05.999Z') });
      expect(fromDate.occurredAt).toEqual(new Date('2026-01-02T03:04:05Z'));

      const before = Math.floor(Date.now() / 1000) * 1000;
      const defaulted = await m.service.createInteraction({ contactUuid: ada, occurredAt: '' });
      expect(defaulted.occurredAt.getTime() % 1000).toBe(0);
      expect(defaulted.occurredAt.getTime()).toBeGreaterThanOrEqual(before);

      const untouched = await m.service.updateInteraction(given.uuid, { subject: 'x' });
      expect(untouched.occurredAt).toEqual(given.occurredAt);
      const reset = await m.service.updateInteraction(given.uuid, { occurredAt: null });
      expect(reset.occurredAt.getTime()).toBeGreaterThanOrEqual(before);
      expect(reset.occurredAt.getTime() % 1000).toBe(0);
      expect((await m.service.getInteraction(given.uuid))!.occurredAt).toEqual(reset.occurredAt);

      const error = await rejectionOf(m.service.createInteraction({ contactUuid: ada, occurredAt: 'yesterday' }));
      expect((error as InteractionValidationError).errors).toEqual({ occurredAt: ['is not a valid date'] });
    });

    it('defaults interactionType to note, "" counting as missing', async () => {
      const ada = m.newContact();
      expect((await m.service.createInteraction({ contactUuid: ada })).interactionType).toBe('note');
      expect((await m.service.createInteraction({ contactUuid: ada, interactionType: '' })).interactionType).toBe('note');
    });

    it('orders newest first: occurredAt, then insertedAt, then uuid, all descending', async () => {
      jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate', 'setTimeout', 'setInterval', 'clearTimeout', 'clearInterval', 'queueMicrotask'] });
      try {
        const ada = m.newContact();
        const occurredAt = '2026-05-01T09:00:00Z';
        jest.setSystemTime(new Date('2026-06-01T10:00:00Z'));
        const older = await m.service.createInteraction({ contactUuid: ada, occurredAt: '2026-04-01T09:00:00Z' });
        const firstInserted = await m.service.createInteraction({ contactUuid: ada, occurredAt });
        jest.setSystemTime(new Date('2026-06-01T10:00:05Z'));
        const sameSecondA = await m.service.createInteraction({ contactUuid: ada, occurredAt });
        const sameSecondB = await m.service.createInteraction({ contactUuid: ada, occurredAt });
        const [low, high] = [sameSecondA, sameSecondB].sort((a, b) => a.uuid.localeCompare(b.uuid));
        const expected = [high!.uuid, low!.uuid, firstInserted.uuid, older.uuid];

        expect((await m.service.listInvolving(ada)).map((i) => i.uuid)).toEqual(expected);
        expect((await m.service.listForContacts([ada])).map((i) => i.uuid)).toEqual(expected);
        expect(await m.service.interactionUuidsForContact(ada)).toEqual(expected);
      } finally {
        jest.useRealTimers();
      }
    });

    it('snapshots staff parties with a StaffDirectory-less module as source and capturedAt only', async () => {
      const ada = m.newContact();
      const created = await m.service.createInteraction({ contactUuid: ada }, [{ rawName: 'Sam', staffPersonUuid: uuidv7() }]);
      expect(created.parties[0]!.snapshot).toEqual({ source: 'staff', capturedAt: expect.any(String) });
    });

    it('returns null for null, malformed, unknown and deleted uuids', async () => {
      const ada = m.newContact();
      const created = await m.service.createInteraction({ contactUuid: ada });
      await m.service.deleteInteraction(created.uuid);
      for (const uuid of [null, undefined, 'not-a-uuid', uuidv7(), created.uuid]) {
        expect(await m.service.getInteraction(uuid)).toBeNull();
      }
    });

    it('refuses to update or delete unknown and deleted interactions', async () => {
      const ada = m.newContact();
      const created = await m.service.createInteraction({ contactUuid: ada });
      await m.service.deleteInteraction(created);
      for (const uuid of [uuidv7(), created.uuid, 'not-a-uuid']) {
        await expect(m.service.updateInteraction(uuid, { subject: 'x' })).rejects.toBeInstanceOf(InteractionNotFoundError);
        await expect(m.service.deleteInteraction(uuid)).rejects.toBeInstanceOf(InteractionNotFoundError);
      }
      expect(await countEvents(m)).toBe(3);
    });

    it('rejects a stale expectedVersion with InteractionConflictError and writes nothing', async () => {
      const ada = m.newContact();
      const created = await m.service.createInteraction({ contactUuid: ada });
      const updated = await m.service.updateInteraction(created.uuid, { subject: 'v2' }, null, { expectedVersion: created.version });
      expect(updated.version).toBe(created.version + 1);
      const error = await rejectionOf(
        m.service.updateInteraction(created.uuid, { subject: 'v3' }, null, { expectedVersion: created.version }),
      );
      expect(error).toBeInstanceOf(InteractionConflictError);
      expect((await m.service.getInteraction(created.uuid))!.subject).toBe('v2');
    });

    it('returns the current interaction and appends nothing when nothing changed', async () => {
      const ada = m.newContact();
      const created = await m.service.createInteraction({ contactUuid: ada, subject: 'Same' }, [{ rawName: 'X' }]);
      const again = await m.service.updateInteraction(created.uuid, { subject: 'Same', contactUuid: ada }, [{ rawName: 'X' }]);
      expect(again).toEqual(created);
      expect(await countEvents(m)).toBe(2);
    });

    it('moves the interaction between contacts when the subject changes', async () => {
      const ada = m.newContact();
      const bob = m.newContact();
      const created = await m.service.createInteraction({ contactUuid: ada });
      await m.service.updateInteraction(created.uuid, { contactUuid: bob });
      expect(await m.service.listInvolving(ada)).toEqual([]);
      expect(await m.service.interactionUuidsForContact(ada)).toEqual([]);
      expect((await m.service.listInvolving(bob)).map((i) => i.uuid)).toEqual([created.uuid]);
      expect(await m.service.interactionUuidsForContact(bob)).toEqual([created.uuid]);
    });

    it('lists an interaction once for a contact that is both subject and party; parties do not count as subject', async () => {
      const ada = m.newContact();
      const bob = m.newContact();
      const created = await m.service.createInteraction({ contactUuid: ada }, [
        { rawName: 'Ada', contactUuid: ada },
        { rawName: 'Bob', contactUuid: bob },
        { rawName: 'Bob twice', contactUuid: bob },
      ]);
      expect((await m.service.listInvolving(ada)).map((i) => i.uuid)).toEqual([created.uuid]);
      expect((await m.service.listInvolving(bob)).map((i) => i.uuid)).toEqual([created.uuid]);
      expect(await m.service.interactionUuidsForContact(bob)).toEqual([]);
      expect(await m.service.listForContacts([bob])).toEqual([]);
    });

    it('pages involving with limit and an after cursor', async () => {
      const ada = m.newContact();
      const made = [];
      for (let day = 1; day <= 5; day++) {
        made.push(await m.service.createInteraction({ contactUuid: ada, occurredAt: `2026-03-0${day}T00:00:00Z` }));
      }
      const newestFirst = made.reverse().map((i) => i.uuid);
      const { feedCursorOf } = await import('../../src');
      const first = await m.service.listInvolving(ada, { limit: 2 });
      expect(first.map((i) => i.uuid)).toEqual(newestFirst.slice(0, 2));
      const second = await m.service.listInvolving(ada, { limit: 2, after: feedCursorOf(first[1]!) });
      expect(second.map((i) => i.uuid)).toEqual(newestFirst.slice(2, 4));
      const rest = await m.service.listInvolving(ada, { after: feedCursorOf(second[1]!) });
      expect(rest.map((i) => i.uuid)).toEqual(newestFirst.slice(4));
      await expect(m.service.listInvolving(ada, { after: 'garbage' })).rejects.toBeInstanceOf(InteractionValidationError);
      await expect(m.service.listInvolving(ada, { limit: 0 })).rejects.toBeInstanceOf(InteractionValidationError);
    });

    it('feeds several contacts with current contact data and a limit; a malformed uuid is a validation error', async () => {
      const ada = m.newContact({ name: 'Ada' });
      const bob = m.newContact({ name: 'Bob' });
      await m.service.createInteraction({ contactUuid: ada, occurredAt: '2026-01-01T00:00:00Z' });
      const bobs = await m.service.createInteraction({ contactUuid: bob, occurredAt: '2026-01-02T00:00:00Z' });
      m.contacts.add({ uuid: bob, name: 'Bob Renamed' });
      const feed = await m.service.listForContacts([ada, bob], { limit: 1 });
      expect(feed.map((i) => [i.uuid, i.contact?.name])).toEqual([[bobs.uuid, 'Bob Renamed']]);
      expect(await m.service.listForContacts([ada, bob])).toHaveLength(2);
      const error = await rejectionOf(m.service.listForContacts([ada, 'nope']));
      expect(error).toBeInstanceOf(InteractionValidationError);
      expect((error as InteractionValidationError).errors).toHaveProperty('contactUuids');
    });

    it('answers the contact as null in the feed when the directory no longer knows it', async () => {
      const ada = m.newContact();
      await m.service.createInteraction({ contactUuid: ada });
      m.contacts.contacts.delete(ada);
      const [item] = await m.service.listForContacts([ada]);
      expect(item!.contact).toBeNull();
    });

    it('answers [] for subject uuids of a null or malformed uuid', async () => {
      expect(await m.service.interactionUuidsForContact(null)).toEqual([]);
      expect(await m.service.interactionUuidsForContact('x')).toEqual([]);
    });

    it('validates changes without writing', async () => {
      const ada = m.newContact();
      const created = await m.service.createInteraction({ contactUuid: ada, subject: 'Same' });
      const events = await countEvents(m);

      expect(await m.service.changeInteraction(created, { subject: 'Same', body: 'New body' })).toEqual({
        valid: true,
        changes: { body: 'New body' },
        errors: {},
      });
      expect(await m.service.changeInteraction(created, { interactionType: 'fax' as never })).toEqual({
        valid: false,
        changes: {},
        errors: { interactionType: ['must be one of: call, email, meeting, note, other'] },
      });
      const unknown = uuidv7();
      expect(await m.service.changeInteraction(created, { contactUuid: unknown })).toMatchObject({
        valid: false,
        errors: { contactUuid: ['does not exist'] },
      });
      expect(await m.service.changeInteraction(null, {})).toMatchObject({ valid: false, errors: { contactUuid: ['is required'] } });
      expect(await m.service.changeInteraction(null, { contactUuid: ada })).toEqual({
        valid: true,
        changes: { contactUuid: ada },
        errors: {},
      });
      expect(await countEvents(m)).toBe(events);
    });

    it('keeps the history of a stream with metadata for audits', async () => {
      const ada = m.newContact();
      const actorUuid = uuidv7();
      const created = await m.service.createInteraction({ contactUuid: ada }, [], [], { actorUuid });
      await m.service.updateInteraction(created.uuid, { subject: 'Edited' }, null, { actorUuid, correlationId: 'req-42' });
      const history = await m.service.history(created.uuid);
      expect(history.map((e) => [e.type, e.revision])).toEqual([
        ['InteractionLogged', 0],
        ['PartiesRebuilt', 1],
        ['InteractionUpdated', 2],
      ]);
      expect(history[0]!.metadata).toEqual({
        actorUuid,
        correlationId: expect.any(String),
        causationId: null,
        recordedAt: expect.stringMatching(/Z$/),
      });
      expect(history[0]!.metadata.correlationId).toBe(history[1]!.metadata.correlationId);
      expect(history[2]!.metadata.correlationId).toBe('req-42');
      expect(history[2]!.data).toEqual({ schemaVersion: 1, interactionUuid: created.uuid, changes: { subject: 'Edited' } });
      expect(await m.service.history('not-a-uuid')).toEqual([]);
      expect(await m.service.history(uuidv7())).toEqual([]);
    });

    it('records a stream\'s events in time order though a writer\'s clock is behind, so as-of never skips a revision', async () => {
      jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate', 'setTimeout', 'setInterval', 'clearTimeout', 'clearInterval', 'queueMicrotask'] });
      try {
        const ada = m.newContact();
        jest.setSystemTime(new Date('2026-12-01T10:00:10Z'));
        const created = await m.service.createInteraction({ contactUuid: ada, subject: 'first' });
        jest.setSystemTime(new Date('2026-12-01T10:00:20Z'));
        await m.service.updateInteraction(created.uuid, { subject: 'second' });
        // Another instance whose clock is 5 s behind (or a command stamped when it started, that waited).
        jest.setSystemTime(new Date('2026-12-01T10:00:15Z'));
        const third = await m.service.updateInteraction(created.uuid, { body: 'third' });
        jest.useRealTimers();

        const times = (await m.service.history(created.uuid)).map((event) => event.metadata.recordedAt);
        expect(times).toEqual([...times].sort());
        expect(times.at(-1)).toBe('2026-12-01T10:00:20.000Z');
        expect(await m.service.getInteractionAsOf(created.uuid, new Date('2026-12-01T10:00:17Z'))).toMatchObject({ subject: 'first', body: null, version: 1 });
        expect(await m.service.getInteractionAsOf(created.uuid, new Date('2026-12-01T10:00:20Z'))).toEqual(third);
      } finally {
        jest.useRealTimers();
      }
    });

    it('answers the interaction as it was at a point in time, folded from its stream', async () => {
      jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate', 'setTimeout', 'setInterval', 'clearTimeout', 'clearInterval', 'queueMicrotask'] });
      try {
        const ada = m.newContact();
        jest.setSystemTime(new Date('2026-04-01T10:00:00Z'));
        const created = await m.service.createInteraction({ contactUuid: ada, subject: 'First' }, [{ rawName: 'Walk-in' }]);
        jest.setSystemTime(new Date('2026-04-02T10:00:00Z'));
        const updated = await m.service.updateInteraction(created.uuid, { subject: 'Second' }, []);
        jest.setSystemTime(new Date('2026-04-03T10:00:00Z'));
        await m.service.deleteInteraction(created.uuid);

        expect(await m.service.getInteractionAsOf(created.uuid, new Date('2026-04-01T09:59:59Z'))).toBeNull();
        expect(await m.service.getInteractionAsOf(created.uuid, new Date('2026-04-01T10:00:00Z'))).toEqual(created);
        expect(await m.service.getInteractionAsOf(created.uuid, new Date('2026-04-02T23:00:00Z'))).toEqual(updated);
        expect(await m.service.getInteractionAsOf(created.uuid, new Date('2026-04-03T10:00:00Z'))).toBeNull();
        expect(await m.service.getInteractionAsOf('not-a-uuid', new Date())).toBeNull();
        await expect(m.service.getInteractionAsOf(created.uuid, new Date('nope'))).rejects.toBeInstanceOf(InteractionValidationError);
      } finally {
        jest.useRealTimers();
      }
    });

    it('lets concurrent writers without expectedVersion all land, each on the latest state', async () => {
      const ada = m.newContact();
      const created = await m.service.createInteraction({ contactUuid: ada });
      await Promise.all([
        m.service.updateInteraction(created.uuid, { subject: 'A' }),
        m.service.updateInteraction(created.uuid, { body: 'B' }),
        m.service.updateInteraction(created.uuid, { metadata: { c: true } }),
      ]);
      const final = await m.service.getInteraction(created.uuid);
      expect(final).toMatchObject({ subject: 'A', body: 'B', metadata: { c: true }, version: 4 });
    });
  });

  describe('InteractionsService with a StaffDirectory', () => {
    let m: ModuleUnderTest;
    beforeEach(async () => (m = await startModule({ withStaffDirectory: true, backend })));
    afterEach(() => m.close());

    it('snapshots known staff with their details and unknown staff with none', async () => {
      const ada = m.newContact();
      const sam = m.staff!.add({ uuid: uuidv7(), name: 'Sam Staff', jobTitle: 'Account manager', employmentType: 'full_time' });
      const unknown = uuidv7();
      const created = await m.service.createInteraction({ contactUuid: ada }, [
        { rawName: 'Sam', staffPersonUuid: sam.uuid },
        { rawName: 'Who?', staffPersonUuid: unknown },
      ]);
      expect(created.parties.map((p) => p.snapshot)).toEqual([
        { source: 'staff', name: 'Sam Staff', jobTitle: 'Account manager', employmentType: 'full_time', capturedAt: expect.any(String) },
        { source: 'staff', capturedAt: expect.any(String) },
      ]);
      expect(created.parties[0]!.staffPersonUuid).toBe(sam.uuid);
    });

    it('names a contact snapshot by email, then "Unnamed", when the contact has no name', async () => {
      const ada = m.newContact();
      const byEmail = m.newContact({ email: 'x@example.com' });
      const nameless = m.newContact({});
      const created = await m.service.createInteraction({ contactUuid: ada }, [
        { rawName: 'x', contactUuid: byEmail },
        { rawName: 'y', contactUuid: nameless },
      ]);
      expect(created.parties.map((p) => p.snapshot)).toEqual([
        { source: 'crm_contact', name: 'x@example.com', capturedAt: expect.any(String) },
        { source: 'crm_contact', name: 'Unnamed', capturedAt: expect.any(String) },
      ]);
    });

    it("keeps a directory's text the stores cannot hold with U+FFFD in the snapshot, rather than refusing the caller", async () => {
      const ada = m.newContact();
      const legacy = m.newContact({ name: 'Ann\u0000a', company: 'Acme \ud800' });
      const created = await m.service.createInteraction({ contactUuid: ada }, [{ rawName: 'Anna', contactUuid: legacy }]);
      const snapshot = { source: 'crm_contact', name: 'Ann\uFFFDa', company: 'Acme \uFFFD', capturedAt: expect.any(String) };
      expect(created.parties[0]!.snapshot).toEqual(snapshot);
      expect((await m.service.getInteraction(created.uuid))!.parties[0]!.snapshot).toEqual(snapshot);
    });
  });
});
