import { uuidv7 } from 'uuidv7';
import { Interaction, InteractionNotFoundError, PartyInput } from '../../src';
import { rebuild, readCheckpoint } from '../../projections/catch-up';
import { BACKENDS } from '../support/backends';
import { readTables } from '../support/read-tables';
import { ModuleUnderTest, startModule } from '../support/module';
import { prng } from '../support/random';

describe.each(BACKENDS.map((backend) => [backend.name, backend] as const))('on %s', (_name, backend) => {
  describe('replay equivalence', () => {
    let m: ModuleUnderTest;
    beforeEach(async () => (m = await startModule({ withStaffDirectory: true, backend })));
    afterEach(() => m.close());

    const seeds = process.env.REPLAY_SEEDS ? Array.from({ length: Number(process.env.REPLAY_SEEDS) }, (_, i) => i + 1) : [1, 7, 42];
    it.each(seeds)('rebuild reproduces the live read tables after a random mix of commands (seed %i)', async (seed) => {
      const random = prng(seed);
      const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
      const contacts = Array.from({ length: 8 }, (_, i) => m.newContact({ name: `Contact ${i}`, company: i % 2 ? 'Acme' : undefined }));
      const staff = Array.from({ length: 3 }, (_, i) => m.staff!.add({ uuid: uuidv7(), name: `Staff ${i}` }).uuid);
      const parties = (): PartyInput[] =>
        Array.from({ length: Math.floor(random() * 5) }, (_, i) => {
          const kind = random();
          if (kind < 0.4) return { rawName: `Contact party ${i}`, contactUuid: pick(contacts) };
          if (kind < 0.6) return { rawName: `Staff party ${i}`, staffPersonUuid: pick(staff) };
          if (kind < 0.9) return { rawName: pick(['Visitor', 'Driver', 'Lawyer']) };
          return { rawName: '  ' };
        });
      const live: Interaction[] = [];

      // Contacts' lifecycle commands mixed in, from a stream of their own (the mix above stays as it was).
      const lifecycleRandom = prng(seed + 1000);
      let lifecycleAppends = 0;
      let forgets = 0;
      const lifecycleStep = async () => {
        const roll = lifecycleRandom();
        let result: { interactions: number };
        if (roll < 0.03) result = await m.service.contactDeleted(pick(contacts));
        else if (roll < 0.06) result = await m.service.staffPersonDeleted(pick(staff));
        else if (roll < 0.1) {
          const from = pick(contacts);
          result = await m.service.contactsMerged(from, pick(contacts.filter((c) => c !== from)));
        } else if (roll < 0.13) {
          result = await m.service.forgetContact(pick(contacts));
          forgets++;
          // The host removes the forgotten (and those merged with them: refused from now on); new contacts take
          // their places, so the picks stay as they were.
          const { rows } = await m.db.query<{ uuid: string }>('SELECT uuid::text AS uuid FROM forgotten_contacts', []);
          const forgotten = new Set(rows.map((row) => row.uuid));
          contacts.forEach((uuid, i) => {
            if (forgotten.has(uuid)) contacts[i] = m.newContact({ name: `Contact ${i} again`, company: i % 2 ? 'Acme' : undefined });
          });
        } else return;
        lifecycleAppends += result.interactions;
        const gone = new Set((await Promise.all(live.map((i) => m.service.getInteraction(i.uuid)))).flatMap((i, n) => (i ? [] : [live[n]!])));
        live.splice(0, live.length, ...live.filter((i) => !gone.has(i)));
      };

      // Late linking mixed in, from a stream of its own too (the mixes around it stay as they were).
      const linkRandom = prng(seed + 2000);
      let links = 0;
      const linkStep = async () => {
        if (live.length === 0 || linkRandom() >= 0.3) return;
        const current = await m.service.getInteraction(live[Math.floor(linkRandom() * live.length)]!.uuid);
        // A free-text party; not one a forget erased (it was the forgotten contact: linkParty refuses it).
        const party = current?.parties.find((p) => !p.contactUuid && !p.staffPersonUuid && p.snapshot.source !== 'erased');
        if (!current || !party) return;
        const ref = linkRandom() < 0.7
          ? { contactUuid: contacts[Math.floor(linkRandom() * contacts.length)]! }
          : { staffPersonUuid: staff[Math.floor(linkRandom() * staff.length)]! };
        await m.service.linkParty(current.uuid, party.position, ref);
        links++;
      };

      for (let step = 0; step < 60; step++) {
        await lifecycleStep();
        await linkStep();
        const roll = random();
        const target = live.length > 0 ? pick(live) : null;
        if (!target || roll < 0.35) {
          live.push(
            await m.service.createInteraction(
              {
                contactUuid: pick(contacts),
                interactionType: pick(['call', 'email', 'meeting', 'note', 'other'] as const),
                occurredAt: new Date(Date.UTC(2026, 0, 1 + Math.floor(random() * 20))),
                subject: `Step ${step}`,
                metadata: { step },
              },
              parties(),
              random() < 0.3 ? [uuidv7()] : [],
            ),
          );
        } else if (roll < 0.55) {
          await m.service.updateInteraction(target.uuid, { subject: `Edited ${step}`, body: random() < 0.5 ? null : 'Body' });
        } else if (roll < 0.7) {
          m.contacts.add({ uuid: pick(contacts), name: `Renamed at ${step}` });
          await m.service.updateInteraction(target.uuid, {}, parties());
        } else if (roll < 0.8) {
          await m.service.updateInteraction(target.uuid, { contactUuid: pick(contacts), occurredAt: null }, null);
        } else if (roll < 0.9) {
          await m.service.deleteInteraction(target.uuid);
          live.splice(live.indexOf(target), 1);
          await expect(m.service.updateInteraction(target.uuid, { subject: 'gone' })).rejects.toBeInstanceOf(InteractionNotFoundError);
        } else {
          await m.service.updateInteraction(target.uuid, { metadata: { step, nested: { ok: true } } }, []);
        }
      }

      expect(lifecycleAppends).toBeGreaterThan(0);
      expect(forgets).toBeGreaterThan(0);
      expect(links).toBeGreaterThan(0);
      const before = await readTables(m.db);
      const summary = await rebuild(m.db, m.store);
      expect(await readTables(m.db)).toEqual(before);
      expect(summary.events).toBe(await m.countEvents());
      expect(await readCheckpoint(m.db)).toEqual(summary.position);
      for (const interaction of live) {
        const got = await m.service.getInteraction(interaction.uuid);
        expect(got?.uuid).toBe(interaction.uuid);
      }
    });
  });
});
