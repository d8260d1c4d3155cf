import fc from 'fast-check';
import { Interaction, InteractionConflictError, InteractionNotFoundError, InteractionsMaintenance, InteractionValidationError } from '../../src';
import { DATABASE } from '../../src/nest/tokens';
import { Database } from '../../src/ports/database';
import { Backend, BACKENDS, POSTGRES } from '../support/backends';
import { EventStoreUnderTest, ModuleUnderTest, startModule } from '../support/module';
import { readTables } from '../support/read-tables';
import { PROPERTY_SEED } from './arbitraries';

/**
 * Generated rounds of commands sent together (edits of one text or both, of the parties, pinned or not,
 * deletions, creates, and a contact deleted, merged or forgotten) over a few interactions, so they race
 * for the same streams and share statements. Whatever the interleaving: every answer is a success or
 * a typed error it may give (a conflict only when pinned, not-found once the interaction is gone); each
 * successful edit is in its stream once, at the version it returned (where its values still read), and
 * a refused one nowhere; of racers pinned to one version at most one appends; the streams have no gaps;
 * the read tables equal a rebuild of the log; and, on the PostgreSQL store, some statements were
 * shared. No shrinking (an interleaving does not replay); replay the inputs of a failure with
 * PROPERTY_SEED=<seed>. It found a forget that left a merged contact's text in the read tables
 * (test/lifecycle/forget-after-merge.spec.ts).
 */

const RUNS = Number(process.env.PROPERTY_CONCURRENT_RUNS ?? 30);
/** A guard, not the budget: 5–15 s per setup on a quiet 2-core machine. */
const TIME_LIMIT_MS = 90_000;
/** Interactions each run starts with, and contacts it involves. */
const INTERACTIONS = 4;
const CONTACTS = 4;

type Command =
  | { kind: 'edit'; target: number; texts: 'subject' | 'body' | 'both'; pinned: boolean }
  | { kind: 'parties'; target: number; contacts: number[]; pinned: boolean }
  | { kind: 'delete'; target: number }
  | { kind: 'create'; contact: number; party: number }
  | { kind: 'contactDeleted' | 'forgetContact'; contact: number }
  | { kind: 'contactsMerged'; contact: number; into: number };

const target = fc.nat({ max: INTERACTIONS - 1 });
const contact = fc.nat({ max: CONTACTS - 1 });
const command: fc.Arbitrary<Command> = fc.oneof(
  { weight: 8, arbitrary: fc.record({ kind: fc.constant('edit' as const), target, texts: fc.constantFrom('subject' as const, 'body' as const, 'both' as const), pinned: fc.boolean() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('parties' as const), target, contacts: fc.array(contact, { maxLength: 2 }), pinned: fc.boolean() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('delete' as const), target }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('create' as const), contact, party: contact }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constantFrom('contactDeleted' as const, 'forgetContact' as const), contact }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('contactsMerged' as const), contact, into: contact }) },
);
/** Rounds of commands sent at once; a round ends when all have answered. */
const rounds = fc.array(fc.array(command, { minLength: 2, maxLength: 12 }), { minLength: 1, maxLength: 3 });

/** What an edit asked for: values no other command of the run writes, so the stream tells whose they are. */
interface Edit {
  uuid: string;
  attrs: { subject?: string; body?: string };
  rawNames: string[] | null;
  expectedVersion: number | undefined;
  outcome: PromiseSettledResult<Interaction>;
  /** Sent once a forget of the run was: it may be refused for naming one of its contacts. */
  afterForget: boolean;
}

/** Each backend with the PostgreSQL event store, and EventStoreDB (its test server; read tables on PostgreSQL). */
const SETUPS: Array<[string, Backend, EventStoreUnderTest]> = [
  ...BACKENDS.map((backend): [string, Backend, EventStoreUnderTest] => [backend.name, backend, 'postgres']),
  ...(BACKENDS.includes(POSTGRES) ? [['EventStoreDB', POSTGRES, 'eventstoredb'] as [string, Backend, EventStoreUnderTest]] : []),
];

/** Refused for naming a contact that does not exist: here, one a forget of the run took away. */
function namesForgotten(error: unknown): boolean {
  return error instanceof InteractionValidationError && Object.values(error.errors).every((messages) => messages.every((m) => m === 'does not exist'));
}

describe.each(SETUPS)('commands sent together on %s (fast-check)', (_name, backend, eventStore) => {
  let m: ModuleUnderTest;
  /** Statements several edits or deletes shared (`PostgresEventStore.shareStatement`): the PostgreSQL store's runs must make some. */
  let shared = 0;

  beforeAll(async () => {
    m = await startModule({ backend, eventStore });
    const db = m.app.get<Database>(DATABASE);
    const autocommit = db.autocommit!.bind(db);
    db.autocommit = (text, params) => ((shared += text.includes('UNION ALL') ? 1 : 0), autocommit(text, params));
  });
  afterAll(async () => {
    await m?.close();
  });

  it(`${RUNS} generated runs: typed answers only, each edit in its stream once or not at all, no gaps, rows equal a rebuild`, async () => {
    let runNo = 0;
    await fc.assert(
      fc.asyncProperty(rounds, async (generated) => {
        const run = ++runNo;
        const contacts = Array.from({ length: CONTACTS }, (_, i) => m.newContact({ name: `Contact ${run}.${i}`, email: `c${run}.${i}@example.com` }));
        const uuids: string[] = [];
        for (let i = 0; i < INTERACTIONS; i++) {
          const created = await m.service.createInteraction(
            { contactUuid: contacts[i % CONTACTS]!, subject: `Subject ${run}.${i}`, body: `Body ${run}.${i}`, interactionType: 'call' },
            [{ rawName: `Party ${run}.${i}`, contactUuid: contacts[(i + 1) % CONTACTS]! }, { rawName: `Visitor ${run}.${i}` }],
          );
          uuids.push(created.uuid);
        }
        const edits: Edit[] = [];
        let unique = 0;
        /** Whether a forget was sent yet: from then on a command naming one of its contacts may be refused. */
        let forgetting = false;
        for (const round of generated) {
          forgetting ||= round.some((c) => c.kind === 'forgetContact');
          // The versions read before the round: a pinned edit expects the one it saw.
          const seen = await Promise.all(uuids.map(async (uuid) => (await m.service.getInteraction(uuid))?.version));
          const pending = round.map((c): Promise<unknown> => {
            const tag = `${run}.edit${++unique}`;
            switch (c.kind) {
              case 'edit':
              case 'parties': {
                const uuid = uuids[c.target]!;
                const attrs = c.kind === 'parties' ? {} : { ...(c.texts !== 'body' && { subject: `Subject ${tag}` }), ...(c.texts !== 'subject' && { body: `Body ${tag}` }) };
                const parties = c.kind === 'parties' ? c.contacts.map((i, n) => ({ rawName: `Party ${tag}.${n}`, contactUuid: contacts[i]! })) : null;
                const expectedVersion = c.pinned ? seen[c.target] : undefined;
                const promise = m.service.updateInteraction(uuid, attrs, parties, expectedVersion === undefined ? {} : { expectedVersion });
                const edit: Omit<Edit, 'outcome'> = { uuid, attrs, rawNames: parties && parties.map((p) => p.rawName), expectedVersion, afterForget: forgetting };
                return promise.then(
                  (value) => edits.push({ ...edit, outcome: { status: 'fulfilled', value } }),
                  (reason: unknown) => edits.push({ ...edit, outcome: { status: 'rejected', reason } }),
                );
              }
              case 'delete':
                return m.service.deleteInteraction(uuids[c.target]!).catch((error: unknown) => {
                  if (!(error instanceof InteractionNotFoundError)) throw error;
                });
              case 'create':
                return m.service
                  .createInteraction({ contactUuid: contacts[c.contact]!, subject: `Subject ${tag}` }, [{ rawName: `Party ${tag}`, contactUuid: contacts[c.party]! }])
                  .then(
                    (created) => uuids.push(created.uuid),
                    (error: unknown) => {
                      if (!(forgetting && namesForgotten(error))) throw error;
                    },
                  );
              case 'contactDeleted':
              case 'forgetContact':
                return m.service[c.kind](contacts[c.contact]!);
              case 'contactsMerged':
                // Refused once either contact's forget is recorded (in this round or an earlier one).
                return c.contact === c.into
                  ? Promise.resolve()
                  : m.service.contactsMerged(contacts[c.contact]!, contacts[c.into]!).then(undefined, (error: unknown) => {
                      if (!(forgetting && namesForgotten(error))) throw error;
                    });
            }
          });
          // Anything but an edit's answer (recorded above) or a deletion's not-found is a failure.
          for (const settled of await Promise.allSettled(pending)) if (settled.status === 'rejected') throw settled.reason;
        }

        // Each edit's answer is one it may give.
        for (const edit of edits) {
          if (edit.outcome.status === 'fulfilled') continue;
          const error = edit.outcome.reason;
          const allowed =
            error instanceof InteractionNotFoundError ||
            (error instanceof InteractionConflictError && edit.expectedVersion !== undefined) ||
            (edit.afterForget && namesForgotten(error));
          if (!allowed) throw error;
        }
        // Each stream gap-free; each successful edit in it once, at the version it returned; a refused one nowhere.
        const histories = new Map(await Promise.all(uuids.map(async (uuid) => [uuid, await m.service.history(uuid)] as const)));
        for (const [uuid, history] of histories) {
          expect(history.map((event) => event.revision)).toEqual(history.map((_, i) => i));
          for (const edit of edits.filter((e) => e.uuid === uuid)) {
            const carrying = history.filter((event) => carries(event, edit)).map((event) => event.revision);
            if (edit.outcome.status === 'rejected') {
              expect(carrying).toEqual([]);
              continue;
            }
            const { version, subject, body } = edit.outcome.value;
            // Its own event is the last of its append, unless its values read erased now (a contact
            // forgotten since) or it cleared parties (nothing unique to find): then at least the type.
            if (carrying.length > 0) expect(carrying).toEqual([version]);
            else if (edit.rawNames?.length !== 0) expect(history[version]?.type).toBe(edit.rawNames ? 'PartiesRebuilt' : 'InteractionUpdated');
            if (edit.attrs.subject !== undefined) expect(subject).toBe(edit.attrs.subject);
            if (edit.attrs.body !== undefined) expect(body).toBe(edit.attrs.body);
          }
        }
        // Of the edits pinned to one version of one interaction, at most one appended (one that changed
        // nothing, parties cleared that were clear, appends nothing and wins no race).
        const winners = new Map<string, number>();
        for (const edit of edits) {
          if (edit.expectedVersion === undefined || edit.outcome.status !== 'fulfilled') continue;
          if (edit.outcome.value.version === edit.expectedVersion) continue;
          const key = `${edit.uuid} ${edit.expectedVersion}`;
          winners.set(key, (winners.get(key) ?? 0) + 1);
        }
        for (const count of winners.values()) expect(count).toBe(1);

        // The read tables are what a rebuild of the whole log makes.
        const live = await readTables(m.db);
        await m.app.get(InteractionsMaintenance).rebuild();
        expect(await readTables(m.db)).toEqual(live);
      }),
      { seed: PROPERTY_SEED, numRuns: RUNS, interruptAfterTimeLimit: TIME_LIMIT_MS, markInterruptAsFailure: true, endOnFailure: true },
    );
    if (process.env.PROPERTY_STATS) console.info(`shared statements on ${_name}: ${shared}`);
    if (eventStore === 'postgres') expect(shared).toBeGreaterThan(0);
  }, 150_000);
});

/**
 * Whether a recorded event carries this edit's values: an update with its unique text, or the parties'
 * rebuild with its unique raw names. Values erased since (a forgotten contact) read as `[erased]`, so
 * such an event carries no edit's.
 */
function carries(event: { type: string; data: unknown }, edit: Omit<Edit, 'outcome'>): boolean {
  const data = event.data as { changes?: { subject?: unknown; body?: unknown }; parties?: Array<{ rawName?: unknown }> };
  if (event.type === 'InteractionUpdated') {
    const { subject, body } = edit.attrs;
    return (subject !== undefined && data.changes?.subject === subject) || (body !== undefined && data.changes?.body === body);
  }
  if (event.type === 'PartiesRebuilt' && edit.rawNames && edit.rawNames.length > 0) {
    return (data.parties ?? []).some((party) => edit.rawNames!.includes(String(party.rawName)));
  }
  return false;
}
