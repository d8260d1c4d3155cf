import fc from 'fast-check';
import {
  feedCursorOf,
  Interaction,
  InteractionNotFoundError,
  InteractionsMaintenance,
  InteractionValidationError,
} from '../../src';
import { compactCounts } from '../../projections/counts';
import { Queryable } from '../../src/ports/database';
import { BACKENDS, POSTGRES } from '../support/backends';
import { dumpLog, dumpSchema, findIn } from '../support/data-dump';
import { newestFirst } from '../support/feed-oracle';
import { EventStoreUnderTest, ModuleUnderTest, startModule } from '../support/module';
import { readTables } from '../support/read-tables';
import { PROPERTY_SEED } from './arbitraries';

/**
 * Sequences of lifecycle commands (merges, deletions, forgets, late links, staff deletions) mixed with
 * creates, edits and deletes, one at a time, on each store. After each step: every feed (paged), count
 * and uuid list equals what the interactions themselves say (getInteraction of every uuid made); party
 * snapshots stay as taken but for a late link or an erasure; a link or a create is answered as the
 * contract says (its exact refusals); a merged, deleted or forgotten contact's feed is empty and a merge's
 * interactions are all with `into`; after a forget none of the strings the module held for the contact
 * (or one merged with it) is in a dump. At the end findUnresolvedParties offers exactly the open parties,
 * and the read tables and counts equal a rebuild. Replay a failure with PROPERTY_SEED=<seed>.
 */

const RUNS = Number(process.env.PROPERTY_LIFECYCLE_RUNS ?? 25);
const TIME_LIMIT_MS = 120_000;
const CONTACTS = 4;
const STAFF = 2;

type PartySpec = { to: 'contact'; i: number } | { to: 'staff'; i: number } | { to: 'free' };
type Step =
  | { kind: 'create'; subject: number; parties: PartySpec[] }
  | { kind: 'parties'; target: number; parties: PartySpec[]; keep: boolean }
  | { kind: 'subject'; target: number; subject: number }
  | { kind: 'delete'; target: number }
  | { kind: 'link'; target: number; position: number; ref: PartySpec }
  | { kind: 'contactDeleted' | 'forgetContact'; contact: number }
  | { kind: 'staffPersonDeleted'; staff: number }
  | { kind: 'contactsMerged'; from: number; into: number };

const contact = fc.nat({ max: CONTACTS - 1 });
const target = fc.nat({ max: 9 });
const partySpec: fc.Arbitrary<PartySpec> = fc.oneof(
  fc.record({ to: fc.constant('contact' as const), i: contact }),
  fc.record({ to: fc.constant('staff' as const), i: fc.nat({ max: STAFF - 1 }) }),
  fc.record({ to: fc.constant('free' as const) }),
);
const parties = fc.array(partySpec, { maxLength: 3 });
const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('create' as const), subject: contact, parties }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('parties' as const), target, parties, keep: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('subject' as const), target, subject: contact }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('delete' as const), target }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('link' as const), target, position: fc.nat({ max: 3 }), ref: partySpec }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constantFrom('contactDeleted' as const, 'forgetContact' as const), contact }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('staffPersonDeleted' as const), staff: fc.nat({ max: STAFF - 1 }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('contactsMerged' as const), from: contact, into: contact }) },
);

const SETUPS: Array<[string, (typeof BACKENDS)[number], EventStoreUnderTest]> = [
  ...BACKENDS.map((b): [string, (typeof BACKENDS)[number], EventStoreUnderTest] => [b.name, b, 'postgres']),
  ...(BACKENDS.includes(POSTGRES) ? [['EventStoreDB', POSTGRES, 'eventstoredb'] as [string, (typeof BACKENDS)[number], EventStoreUnderTest]] : []),
];

/** The count tables summed per key: what a count reads, whatever was compacted. */
async function countTables(q: Queryable) {
  const involvement = await q.query(
    `SELECT contact_uuid, interaction_type, sum(n)::int AS n FROM involvement_counts GROUP BY 1, 2 HAVING sum(n) <> 0 ORDER BY 1, 2`,
    [],
  );
  const all = await q.query(`SELECT interaction_type, sum(n)::int AS n FROM interaction_counts GROUP BY 1 HAVING sum(n) <> 0 ORDER BY 1`, []);
  return { involvement: involvement.rows, all: all.rows };
}

const ids = (items: readonly Interaction[]) => items.map((i) => i.uuid);

describe.each(SETUPS)('lifecycle sequences on %s (fast-check, model)', (_name, backend, eventStore) => {
  let m: ModuleUnderTest;
  beforeAll(async () => {
    m = await startModule({ backend, eventStore, withStaffDirectory: true });
  });
  afterAll(async () => {
    await m?.close();
  });

  /** Every page of a feed, `limit` at a time. */
  async function allPages(read: (page: { limit: number; after?: string }) => Promise<Interaction[]>, limit = 2): Promise<Interaction[]> {
    const out: Interaction[] = [];
    let after: string | undefined;
    for (let n = 0; n < 100; n++) {
      const page = await read({ limit, ...(after && { after }) });
      out.push(...page);
      if (page.length < limit) return out;
      after = feedCursorOf(page[page.length - 1]!);
    }
    throw new Error('feed never ended');
  }

  it(`${RUNS} generated sequences: feeds and counts agree with the interactions, erasure leaves nothing, tables equal a rebuild`, async () => {
    let runNo = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 14 }), async (steps) => {
        const run = ++runNo;
        let n = 0;
        const tag = () => `r${run}x${++n}q`;
        const contacts = Array.from({ length: CONTACTS }, (_, i) => m.newContact({ name: `Name${run}c${i}z`, email: `mail${run}c${i}@example.com` }));
        const staff = Array.from({ length: STAFF }, (_, i) => m.staff!.add({ uuid: `0190a000-0000-7000-8000-${String(run * 10 + i).padStart(12, '0')}`, name: `Staff${run}s${i}` }).uuid);
        const uuids: string[] = [];
        /** Per contact, the strings the module was given about it (its own, and raw names linked to it). */
        const strings = new Map<string, Set<string>>(contacts.map((c, i) => [c, new Set([`Name${run}c${i}z`, `mail${run}c${i}@example.com`])]));
        /** Per interaction, its texts; per interaction and raw name, the contacts it was ever linked to. */
        const texts = new Map<string, Set<string>>();
        const rawOwners = new Map<string, Map<string, Set<string>>>();
        /** Contacts merged with each other (either way): a forget of one is a forget of all. */
        const mergedWith = new Map<string, Set<string>>(contacts.map((c) => [c, new Set([c])]));
        const forgotten = new Set<string>();
        /** Per raw name (unique to one party), its snapshot: frozen, but for a late link and an erasure. */
        const snapshots = new Map<string, unknown>();

        const own = (uuid: string, rawName: string, contactUuid: string | null) => {
          const byRaw = rawOwners.get(uuid) ?? new Map<string, Set<string>>();
          rawOwners.set(uuid, byRaw);
          const owners = byRaw.get(rawName) ?? new Set<string>();
          byRaw.set(rawName, owners);
          if (contactUuid) owners.add(contactUuid);
        };
        const toInput = (specs: PartySpec[]) =>
          specs.map((s) => {
            const rawName = `Raw${tag()}`;
            return s.to === 'contact' ? { rawName, contactUuid: contacts[s.i]! } : s.to === 'staff' ? { rawName, staffPersonUuid: staff[s.i]! } : { rawName };
          });
        const record = (i: Interaction) => {
          const t = texts.get(i.uuid) ?? new Set<string>();
          texts.set(i.uuid, t);
          if (i.subject) t.add(i.subject);
          if (i.body) t.add(i.body);
          for (const p of i.parties) own(i.uuid, p.rawName, p.contactUuid);
        };
        /** Refusals a sequence may meet: typed, and nothing written. */
        const refusal = async (promise: Promise<unknown>) => {
          const before = await m.countEvents();
          try {
            return await promise;
          } catch (error) {
            if (!(error instanceof InteractionValidationError || error instanceof InteractionNotFoundError)) throw error;
            expect(await m.countEvents()).toBe(before);
            return error;
          }
        };

        for (const s of steps) {
          const uuid = uuids.length > 0 && 'target' in s ? uuids[s.target % uuids.length]! : null;
          switch (s.kind) {
            case 'create': {
              const input = toInput(s.parties);
              const result = await refusal(
                m.service.createInteraction({ contactUuid: contacts[s.subject]!, subject: `Subj${tag()}`, body: `Body${tag()}` }, input),
              );
              // Refused exactly when it names a forgotten contact (or one merged with her), at that field.
              const named = [contacts[s.subject]!, ...input.map((p) => ('contactUuid' in p ? p.contactUuid : null))];
              const refusedAt = Object.fromEntries(
                named.flatMap((uuid, at) => (uuid && forgotten.has(uuid) ? [[at === 0 ? 'contactUuid' : `parties.${at - 1}.contactUuid`, ['does not exist']]] : [])),
              );
              if (Object.keys(refusedAt).length > 0) expect(result).toMatchObject({ errors: refusedAt });
              else expect(result).not.toBeInstanceOf(Error);
              if (result && !(result instanceof Error)) {
                uuids.push((result as Interaction).uuid);
                record(result as Interaction);
              }
              break;
            }
            case 'parties': {
              if (!uuid) break;
              const current = await m.service.getInteraction(uuid);
              const kept = s.keep && current ? current.parties.map((p) => ({ rawName: p.rawName, contactUuid: p.contactUuid, staffPersonUuid: p.staffPersonUuid })) : [];
              const result = await refusal(m.service.updateInteraction(uuid, {}, [...kept, ...toInput(s.parties)]));
              if (result && !(result instanceof Error)) record(result as Interaction);
              break;
            }
            case 'subject': {
              if (!uuid) break;
              const result = await refusal(m.service.updateInteraction(uuid, { contactUuid: contacts[s.subject]!, body: `Body${tag()}` }));
              if (result && !(result instanceof Error)) record(result as Interaction);
              break;
            }
            case 'delete':
              if (uuid) await refusal(m.service.deleteInteraction(uuid));
              break;
            case 'link': {
              if (!uuid) break;
              const ref = s.ref.to === 'staff' ? { staffPersonUuid: staff[s.ref.i]! } : { contactUuid: contacts[s.ref.to === 'contact' ? s.ref.i : 0]! };
              const current = await m.service.getInteraction(uuid);
              const party = current?.parties[s.position];
              const result = await refusal(m.service.linkParty(uuid, s.position, ref));
              // What the contract says the answer is.
              const same = party && ((ref.contactUuid && party.contactUuid === ref.contactUuid) || (ref.staffPersonUuid && party.staffPersonUuid === ref.staffPersonUuid));
              const expected = !current
                ? 'not found'
                : !party
                  ? { position: ['does not exist'] }
                  : same
                    ? 'same'
                    : party.contactUuid || party.staffPersonUuid
                      ? { position: ['is already linked to another contact or staff person'] }
                      : party.snapshot.source === 'erased'
                        ? { position: ['was erased'] }
                        : ref.contactUuid && forgotten.has(ref.contactUuid)
                          ? { contactUuid: ['does not exist'] }
                          : 'linked';
              if (expected === 'not found') expect(result).toBeInstanceOf(InteractionNotFoundError);
              else if (typeof expected === 'object') expect(result).toMatchObject({ errors: expected });
              else {
                expect(result).not.toBeInstanceOf(Error);
                const linked = result as Interaction;
                expect(linked.version).toBe(expected === 'same' ? current!.version : current!.version + 1);
                if (expected === 'linked') snapshots.set(party!.rawName, linked.parties[s.position]!.snapshot);
                record(linked);
              }
              break;
            }
            case 'staffPersonDeleted':
              await m.service.staffPersonDeleted(staff[s.staff]!);
              break;
            case 'contactDeleted': {
              const c = contacts[s.contact]!;
              const involved = await m.service.listInvolving(c);
              await m.service.contactDeleted(c);
              for (const before of involved) {
                const after = await m.service.getInteraction(before.uuid);
                if (before.contactUuid === c) expect(after).toBeNull();
                else
                  expect(after!.parties.map((p) => [p.rawName, p.contactUuid, p.snapshot])).toEqual(
                    before.parties.map((p) => [p.rawName, p.contactUuid === c ? null : p.contactUuid, p.snapshot]),
                  );
              }
              expect(ids(await m.service.listInvolving(c))).toEqual([]);
              expect(await m.service.interactionUuidsForContact(c)).toEqual([]);
              break;
            }
            case 'contactsMerged': {
              const [from, into] = [contacts[s.from]!, contacts[s.into]!];
              const moved = ids(await m.service.listInvolving(from));
              const result = await refusal(m.service.contactsMerged(from, into));
              if (result instanceof Error) {
                expect(from === into || forgotten.has(from) || forgotten.has(into)).toBe(true);
                break;
              }
              expect(ids(await m.service.listInvolving(from))).toEqual([]);
              const intoFeed = ids(await m.service.listInvolving(into));
              expect(moved.filter((u) => !intoFeed.includes(u))).toEqual([]);
              // One person from now on: ownership of raw names moves too.
              const group = new Set([...mergedWith.get(from)!, ...mergedWith.get(into)!]);
              for (const c of group) mergedWith.set(c, group);
              for (const byRaw of rawOwners.values()) for (const owners of byRaw.values()) if (owners.has(from)) owners.add(into);
              break;
            }
            case 'forgetContact': {
              const c = contacts[s.contact]!;
              // What is hers as the forget is recorded: her group's names, raw names ever linked to them,
              // and the texts and raw names of interactions whose subject is one of them.
              const group = mergedWith.get(c)!;
              const needles = new Set<string>();
              for (const g of group) for (const x of strings.get(g)!) needles.add(x);
              for (const [uuidOf, byRaw] of rawOwners) {
                const live = await m.service.getInteraction(uuidOf);
                const subjectHers = live !== null && group.has(live.contactUuid);
                for (const [raw, owners] of byRaw) if (subjectHers || [...owners].some((o) => group.has(o))) needles.add(raw);
                if (subjectHers) for (const t of texts.get(uuidOf) ?? []) needles.add(t);
              }
              await m.service.forgetContact(c);
              for (const g of group) forgotten.add(g);
              expect(ids(await m.service.listInvolving(c))).toEqual([]);
              const dump = { ...(await dumpSchema(m.db, m.db.schema)), ...(eventStore === 'eventstoredb' && { log: await dumpLog(m.log) }) };
              expect(findIn(dump, [...needles])).toEqual([]);
              break;
            }
          }

          // Every feed, count and list agrees with the interactions themselves.
          const live = (await Promise.all(uuids.map((u) => m.service.getInteraction(u)))).filter((i): i is Interaction => i !== null);
          for (const i of live) {
            for (const p of i.parties) {
              if (p.snapshot.source === 'erased') {
                expect(p).toMatchObject({ rawName: '[erased]', contactUuid: null });
                continue;
              }
              const frozen = snapshots.get(p.rawName);
              if (frozen === undefined) snapshots.set(p.rawName, p.snapshot);
              else expect(p.snapshot).toEqual(frozen);
            }
          }
          live.sort(newestFirst);
          for (const c of contacts) {
            const involving = live.filter((i) => i.contactUuid === c || i.parties.some((p) => p.contactUuid === c));
            expect(ids(await allPages((page) => m.service.listInvolving(c, page)))).toEqual(ids(involving));
            expect((await m.service.countInvolving(c)).total).toBe(involving.length);
            const subjectOf = live.filter((i) => i.contactUuid === c);
            expect(new Set(await m.service.interactionUuidsForContact(c))).toEqual(new Set(ids(subjectOf)));
          }
          const pair = [contacts[0]!, contacts[1]!];
          expect(ids(await allPages((page) => m.service.listForContacts(pair, page)))).toEqual(ids(live.filter((i) => pair.includes(i.contactUuid))));
          const recent = (await allPages((page) => m.service.listRecent(page), 3)).filter((i) => uuids.includes(i.uuid));
          expect(ids(recent)).toEqual(ids(live));
        }

        // findUnresolvedParties offers exactly the live parties with no link that no forget erased.
        const finalLive = (await Promise.all(uuids.map((u) => m.service.getInteraction(u)))).filter((i): i is Interaction => i !== null);
        for (const i of finalLive) {
          for (const p of i.parties) {
            if (p.snapshot.source === 'erased') continue;
            const found = (await m.service.findUnresolvedParties({ name: p.rawName })).map((f) => [f.interactionUuid, f.position]);
            const open = p.contactUuid === null && p.staffPersonUuid === null;
            expect(found).toEqual(open ? [[i.uuid, p.position]] : []);
          }
        }

        // The read tables and counts are what a rebuild of the whole log makes.
        await compactCounts(m.db);
        const before = { ...(await readTables(m.db)), counts: await countTables(m.db) };
        await m.app.get(InteractionsMaintenance).rebuild();
        expect({ ...(await readTables(m.db)), counts: await countTables(m.db) }).toEqual(before);
      }),
      { seed: PROPERTY_SEED, numRuns: RUNS, interruptAfterTimeLimit: TIME_LIMIT_MS, markInterruptAsFailure: false, endOnFailure: true },
    );
  }, 200_000);
});
