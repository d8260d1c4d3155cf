import { setTimeout as sleep } from 'node:timers/promises';
import { uuidv7 } from 'uuidv7';
import {
  FindUnresolvedPartiesQuery,
  InteractionNotFoundError,
  InteractionValidationError,
  LinkPartyCommand,
  PartyLinked,
} from '../../src';
import { CommandBus, QueryBus } from '@nestjs/cqrs';
import { rebuild } from '../../projections/catch-up';
import { auditRows } from '../../src/cli/audit';
import { BACKENDS } from '../support/backends';
import { readTables } from '../support/read-tables';
import { ModuleUnderTest, startModule } from '../support/module';
import { rejectionOf } from '../support/rejections';

async function fieldErrors(promise: Promise<unknown>): Promise<Record<string, string[]>> {
  const error = await rejectionOf(promise);
  expect(error).toBeInstanceOf(InteractionValidationError);
  return (error as InteractionValidationError).errors;
}

/** Waits for the next whole second, so that events of the two sides fall in different seconds. */
async function nextSecond(): Promise<void> {
  await sleep(1000 - (Date.now() % 1000) + 5);
}

describe.each(BACKENDS.map((backend) => [backend.name, backend] as const))('on %s', (_name, backend) => {
  describe('late linking: linkParty', () => {
    let m: ModuleUnderTest;
    beforeEach(async () => (m = await startModule({ backend, withStaffDirectory: true })));
    afterEach(() => m.close());

    /** An interaction with a free-text party at 0, a contact party at 1 and a free-text party at 2. */
    async function logged() {
      const subject = m.newContact({ name: 'Subject' });
      const grace = m.newContact({ name: 'Grace' });
      const interaction = await m.service.createInteraction({ contactUuid: subject, subject: 'Intro' }, [
        { rawName: 'Dana from Acme' },
        { rawName: 'Grace', contactUuid: grace },
        { rawName: 'Sam <sam@example.com>' },
      ]);
      return { subject, grace, interaction };
    }

    it('links a free-text party to a contact with a fresh snapshot; rawName, position and the others stay', async () => {
      const { subject, interaction } = await logged();
      const dana = m.newContact({ name: 'Dana Scott', company: 'Acme', roleInCompany: 'CTO' });
      const linked = await m.service.linkParty(interaction.uuid, 0, { contactUuid: dana.toUpperCase() });
      expect(linked.version).toBe(interaction.version + 1);
      expect(linked.parties[0]).toEqual({
        rawName: 'Dana from Acme',
        contactUuid: dana,
        staffPersonUuid: null,
        position: 0,
        snapshot: { source: 'crm_contact', name: 'Dana Scott', company: 'Acme', roleInCompany: 'CTO', capturedAt: expect.stringMatching(/Z$/) },
      });
      expect(linked.parties.slice(1)).toEqual(interaction.parties.slice(1));
      // The read tables: the row, its party rows and the involvements.
      expect(await m.service.getInteraction(interaction.uuid)).toEqual(linked);
      expect((await m.service.listInvolving(dana)).map((i) => i.uuid)).toEqual([interaction.uuid]);
      expect((await m.service.listInvolving(subject)).map((i) => i.uuid)).toEqual([interaction.uuid]);
      const { rows } = await m.db.query<{ contact_uuid: string | null }>(
        'SELECT contact_uuid FROM interaction_parties WHERE interaction_uuid = $1 ORDER BY position',
        [interaction.uuid],
      );
      expect(rows.map((r) => r.contact_uuid)).toEqual([dana, interaction.parties[1]!.contactUuid, null]);
    });

    it('links a party to a staff person with the StaffDirectory\'s snapshot', async () => {
      const { interaction } = await logged();
      const sam = m.staff!.add({ uuid: uuidv7(), name: 'Sam Staff', jobTitle: 'AE' }).uuid;
      const linked = await m.service.linkParty(interaction.uuid, 2, { staffPersonUuid: sam });
      expect(linked.parties[2]).toMatchObject({
        rawName: 'Sam <sam@example.com>',
        contactUuid: null,
        staffPersonUuid: sam,
        snapshot: { source: 'staff', name: 'Sam Staff', jobTitle: 'AE' },
      });
    });

    it('a repeat appends nothing and returns the interaction; an idempotency key returns the first result', async () => {
      const { interaction } = await logged();
      const dana = m.newContact({ name: 'Dana' });
      const first = await m.service.linkParty(interaction.uuid, 0, { contactUuid: dana }, { idempotencyKey: 'link-1' });
      const events = await m.countEvents();
      const published = m.published.length;
      expect(await m.service.linkParty(interaction.uuid, 0, { contactUuid: dana })).toEqual(first);
      expect(await m.service.linkParty(interaction.uuid, 0, { contactUuid: dana }, { idempotencyKey: 'link-1' })).toEqual(first);
      expect(await m.countEvents()).toBe(events);
      expect(m.published.length).toBe(published);
      expect(await fieldErrors(m.service.linkParty(interaction.uuid, 2, { contactUuid: dana }, { idempotencyKey: 'link-1' }))).toEqual({
        idempotencyKey: ['was already used for a different request'],
      });
    });

    it('refuses bad input with typed errors and writes nothing', async () => {
      const { interaction, grace } = await logged();
      const dana = m.newContact({ name: 'Dana' });
      const events = await m.countEvents();
      for (const uuid of [uuidv7(), 'not-a-uuid', null as unknown as string]) {
        await expect(m.service.linkParty(uuid, 0, { contactUuid: dana })).rejects.toBeInstanceOf(InteractionNotFoundError);
      }
      for (const position of [-1, 1.5, '0', null, Number.NaN]) {
        expect(await fieldErrors(m.service.linkParty(interaction.uuid, position as number, { contactUuid: dana }))).toEqual({
          position: ['must be a non-negative integer'],
        });
      }
      expect(await fieldErrors(m.service.linkParty(interaction.uuid, 3, { contactUuid: dana }))).toEqual({ position: ['does not exist'] });
      expect(await fieldErrors(m.service.linkParty(interaction.uuid, 0, { contactUuid: dana, staffPersonUuid: uuidv7() } as never))).toEqual({
        contactUuid: ['cannot resolve to both a contact and a staff person'],
      });
      expect(await fieldErrors(m.service.linkParty(interaction.uuid, 0, {} as never))).toEqual({
        ref: ['must have a contactUuid or a staffPersonUuid'],
      });
      expect(await fieldErrors(m.service.linkParty(interaction.uuid, 0, null as never))).toEqual({ ref: ['must be an object'] });
      expect(await fieldErrors(m.service.linkParty(interaction.uuid, 0, { contactUuid: 'nope' }))).toEqual({ contactUuid: ['is not a valid UUID'] });
      expect(await fieldErrors(m.service.linkParty(interaction.uuid, 0, { contactUuid: uuidv7() }))).toEqual({ contactUuid: ['does not exist'] });
      // Linked to another contact: refused (its snapshot is frozen; merges re-point links).
      expect(await fieldErrors(m.service.linkParty(interaction.uuid, 1, { contactUuid: dana }))).toEqual({
        position: ['is already linked to another contact or staff person'],
      });
      expect(await fieldErrors(m.service.linkParty(interaction.uuid, 1, { staffPersonUuid: uuidv7() }))).toEqual({
        position: ['is already linked to another contact or staff person'],
      });
      // Already linked to that very contact: nothing to do.
      expect(await m.service.linkParty(interaction.uuid, 1, { contactUuid: grace })).toEqual(interaction);
      await m.service.deleteInteraction(interaction.uuid);
      const afterDelete = await m.countEvents();
      await expect(m.service.linkParty(interaction.uuid, 0, { contactUuid: dana })).rejects.toBeInstanceOf(InteractionNotFoundError);
      expect(await m.countEvents()).toBe(afterDelete);
      expect(afterDelete).toBe(events + 1);
    });

    it('publishes PartyLinked with involvedContactUuids, and dispatches as LinkPartyCommand on the bus', async () => {
      const { subject, grace, interaction } = await logged();
      const dana = m.newContact({ name: 'Dana' });
      const actorUuid = uuidv7();
      await m.app.get(CommandBus).execute(new LinkPartyCommand(interaction.uuid, 0, { contactUuid: dana }, { actorUuid }));
      const event = m.published.at(-1) as PartyLinked;
      expect(event).toBeInstanceOf(PartyLinked);
      expect(event.interactionUuid).toBe(interaction.uuid);
      expect(event.involvedContactUuids).toEqual([subject, grace, dana]);
      expect(event.data).toEqual({
        schemaVersion: 1,
        interactionUuid: interaction.uuid,
        position: 0,
        contactUuid: dana,
        staffPersonUuid: null,
        snapshot: { source: 'crm_contact', name: 'Dana', capturedAt: expect.any(String) },
      });
      expect(event.metadata.actorUuid).toBe(actorUuid);
    });

    it('history shows PartyLinked; as-of before the link shows the free-text party, after it the link', async () => {
      const { interaction } = await logged();
      const dana = m.newContact({ name: 'Dana' });
      await nextSecond();
      const linked = await m.service.linkParty(interaction.uuid, 0, { contactUuid: dana });
      const history = await m.service.history(interaction.uuid);
      expect(history.map((e) => e.type)).toEqual(['InteractionLogged', 'PartiesRebuilt', 'PartyLinked']);
      expect(history[2]!.data).toMatchObject({ position: 0, contactUuid: dana, staffPersonUuid: null });
      expect(auditRows(history).at(-1)).toMatchObject({
        type: 'PartyLinked',
        changes: `party 0 "Dana from Acme" linked to contact ${dana} (snapshot: Dana)`,
      });
      expect((await m.service.getInteractionAsOf(interaction.uuid, interaction.updatedAt))?.parties[0]).toEqual(interaction.parties[0]);
      expect(await m.service.getInteractionAsOf(interaction.uuid, linked.updatedAt)).toEqual(linked);
    });

    it('a later rebuild of the parties keeps the linked party\'s snapshot frozen', async () => {
      const { interaction } = await logged();
      const dana = m.newContact({ name: 'Dana' });
      const linked = await m.service.linkParty(interaction.uuid, 0, { contactUuid: dana });
      m.contacts.add({ uuid: dana, name: 'Dana Renamed' });
      const updated = await m.service.updateInteraction(interaction.uuid, {}, [
        { rawName: 'Dana from Acme', contactUuid: dana },
        { rawName: 'Someone new' },
      ]);
      expect(updated.parties[0]!.snapshot).toEqual(linked.parties[0]!.snapshot);
    });

    it('rebuild reproduces the read tables after links', async () => {
      if (m.eventStore === 'eventstoredb' && process.env.KURRENTDB_URL) return; // a rebuild needs a log of its own
      const { interaction } = await logged();
      const other = await logged();
      await m.service.linkParty(interaction.uuid, 0, { contactUuid: m.newContact({ name: 'Dana' }) });
      await m.service.linkParty(other.interaction.uuid, 2, { staffPersonUuid: m.staff!.add({ uuid: uuidv7(), name: 'Sam' }).uuid });
      await m.service.updateInteraction(other.interaction.uuid, { subject: 'later' });
      const before = await readTables(m.db);
      await rebuild(m.db, m.store);
      expect(await readTables(m.db)).toEqual(before);
    });
  });

  describe('late linking: findUnresolvedParties', () => {
    let m: ModuleUnderTest;
    beforeEach(async () => (m = await startModule({ backend })));
    afterEach(() => m.close());

    const at = (day: number) => new Date(Date.UTC(2026, 2, day, 9));

    it('matches free-text names ignoring case, accents and extra spaces; newest first', async () => {
      const subject = m.newContact();
      const older = await m.service.createInteraction({ contactUuid: subject, occurredAt: at(1) }, [
        { rawName: 'José  Álvarez' },
        { rawName: 'Someone else' },
      ]);
      const newer = await m.service.createInteraction({ contactUuid: subject, occurredAt: at(5) }, [
        { rawName: 'Grace' },
        { rawName: 'JOSE ALVAREZ' },
      ]);
      // Linked parties with the same name are resolved already: not listed.
      await m.service.createInteraction({ contactUuid: subject, occurredAt: at(9) }, [
        { rawName: 'Jose Alvarez', contactUuid: m.newContact({ name: 'José' }) },
      ]);
      const found = await m.service.findUnresolvedParties({ name: '  jose   álvarez ' });
      expect(found).toEqual([
        { interactionUuid: newer.uuid, position: 1, rawName: 'JOSE ALVAREZ', occurredAt: at(5) },
        { interactionUuid: older.uuid, position: 0, rawName: 'José  Álvarez', occurredAt: at(1) },
      ]);
      expect(await m.service.findUnresolvedParties({ name: 'José' })).toEqual([]);
      expect(await m.service.findUnresolvedParties({ name: 'jose alvarez' }, { limit: 1 })).toEqual([found[0]]);
    });

    it('matches an email written inside the raw name, case-insensitively', async () => {
      const subject = m.newContact();
      const one = await m.service.createInteraction({ contactUuid: subject, occurredAt: at(2) }, [
        { rawName: 'Dana Scott <Dana.Scott@Acme.com>' },
        { rawName: 'dana.scott@acme.com.' },
        { rawName: 'someone-dana.scott@acme.com' },
      ]);
      const found = await m.service.findUnresolvedParties({ email: ' DANA.SCOTT@acme.COM ' });
      expect(found.map((p) => p.position)).toEqual([0, 1]);
      expect(found[0]).toEqual({ interactionUuid: one.uuid, position: 0, rawName: 'Dana Scott <Dana.Scott@Acme.com>', occurredAt: at(2) });
      // Name OR email.
      expect((await m.service.findUnresolvedParties({ name: 'Someone-Dana.Scott@acme.com', email: 'dana.scott@acme.com' })).map((p) => p.position)).toEqual([0, 1, 2]);
    });

    it('follows links, parties rebuilt and deletions', async () => {
      const subject = m.newContact();
      const interaction = await m.service.createInteraction({ contactUuid: subject }, [{ rawName: 'Dana' }, { rawName: 'Dana' }]);
      expect(await m.service.findUnresolvedParties({ name: 'dana' })).toHaveLength(2);
      await m.service.linkParty(interaction.uuid, 0, { contactUuid: m.newContact({ name: 'Dana' }) });
      expect((await m.service.findUnresolvedParties({ name: 'dana' })).map((p) => p.position)).toEqual([1]);
      await m.service.updateInteraction(interaction.uuid, {}, [{ rawName: 'Dána' }]);
      expect((await m.service.findUnresolvedParties({ name: 'dana' })).map((p) => p.rawName)).toEqual(['Dána']);
      await m.service.deleteInteraction(interaction.uuid);
      expect(await m.service.findUnresolvedParties({ name: 'dana' })).toEqual([]);
    });

    it('never offers a party a forget erased, only a free-text one that is named so', async () => {
      const dana = m.newContact({ name: 'Dana' });
      const typed = await m.service.createInteraction({ contactUuid: m.newContact() }, [{ rawName: '[erased]' }]);
      await m.service.createInteraction({ contactUuid: m.newContact() }, [{ rawName: 'Dana', contactUuid: dana }]);
      await m.service.forgetContact(dana);
      expect((await m.service.findUnresolvedParties({ name: '[erased]' })).map((p) => p.interactionUuid)).toEqual([typed.uuid]);
    });

    it('refuses to link a party a forget erased, and writes nothing; a free-text one named so links', async () => {
      const dana = m.newContact({ name: 'Dana' });
      const grace = m.newContact({ name: 'Grace' });
      const typed = await m.service.createInteraction({ contactUuid: m.newContact() }, [{ rawName: '[erased]' }]);
      const erased = await m.service.createInteraction({ contactUuid: m.newContact() }, [{ rawName: 'Dana', contactUuid: dana }]);
      await m.service.forgetContact(dana);
      const before = await m.service.history(erased.uuid);
      expect(await fieldErrors(m.service.linkParty(erased.uuid, 0, { contactUuid: grace }))).toEqual({ position: ['was erased'] });
      expect(await m.service.history(erased.uuid)).toEqual(before);
      await expect(m.service.linkParty(typed.uuid, 0, { contactUuid: grace })).resolves.toMatchObject({ parties: [{ rawName: '[erased]', contactUuid: grace }] });
    });

    it('validates the filter and the limit; dispatches as FindUnresolvedPartiesQuery', async () => {
      expect(await fieldErrors(m.service.findUnresolvedParties({}))).toEqual({ name: ['or email is required'] });
      expect(await fieldErrors(m.service.findUnresolvedParties(null as never))).toEqual({ filter: ['must be an object'] });
      expect(await fieldErrors(m.service.findUnresolvedParties({ name: '   ' }))).toEqual({ name: ['must not be blank'] });
      expect(await fieldErrors(m.service.findUnresolvedParties({ name: 5 as never }))).toEqual({ name: ['must be a string'] });
      expect(await fieldErrors(m.service.findUnresolvedParties({ email: 'acme.com' }))).toEqual({ email: ['must be an email address'] });
      expect(await fieldErrors(m.service.findUnresolvedParties({ name: 'a' }, { limit: 0 }))).toEqual({
        limit: ['must be an integer between 1 and 1000'],
      });
      expect(await m.app.get(QueryBus).execute(new FindUnresolvedPartiesQuery({ name: 'nobody' }))).toEqual([]);
    });

    it('returns 50 by default', async () => {
      const subject = m.newContact();
      await m.service.createInteraction({ contactUuid: subject }, Array.from({ length: 60 }, () => ({ rawName: 'Visitor' })));
      expect(await m.service.findUnresolvedParties({ name: 'visitor' })).toHaveLength(50);
      expect(await m.service.findUnresolvedParties({ name: 'visitor' }, { limit: 1000 })).toHaveLength(60);
    });
  });
});
