import fc from 'fast-check';
import {
  Interaction,
  InteractionConflictError,
  InteractionNotFoundError,
  InteractionValidationError,
} from '../../src';
import { searchWordsOf } from '../../src/domain/search';
import { ModuleUnderTest, startModule } from '../support/module';
import {
  adversarialString,
  anyUuid,
  hostile,
  interactionType,
  jsOnlyMetadata,
  jsonMetadata,
  malformedUuid,
  mixedCase,
  occurredAt,
  PROPERTY_SEED,
  validDate,
  veryDeepMetadata,
  wrongType,
} from './arbitraries';

/**
 * Generated creates and updates through InteractionsService on PostgreSQL, valid and adversarial
 * mixed: every outcome is a success that reads back equal, or a typed error after which the log holds
 * no new event. A raw error (TypeError, DatabaseError …) fails the property; fast-check prints the
 * seed and the shrunk input (replay with PROPERTY_SEED=<seed>).
 */

const RUNS = Number(process.env.PROPERTY_RUNS ?? 1000);
/** PROPERTY_COUNT_RAW=1 counts raw errors instead of failing on the first (for measuring, not for CI). */
const COUNT_RAW = Boolean(process.env.PROPERTY_COUNT_RAW);
/**
 * A guard per property, not the budget: on a quiet 2-core machine 1,000 creates take about 17 s,
 * 1,000 updates 13 s, the rest 3 s (the whole file about 40 s). Past the guard the property fails as
 * interrupted rather than letting CI hang.
 */
const TIME_LIMIT_MS = 50_000;

interface Figures {
  tried: number;
  succeeded: number;
  typed: Record<string, number>;
}

const figures = (): Figures => ({ tried: 0, succeeded: 0, typed: {} });

describe('commands under generated input (fast-check)', () => {
  let mut: ModuleUnderTest;
  let known: string[];
  let live: string[];
  let deletedUuid: string;
  let events = 0;
  const stats = { create: figures(), update: figures(), delete: figures() };

  beforeAll(async () => {
    mut = await startModule({ withStaffDirectory: true });
    known = Array.from({ length: 4 }, (_, i) => mut.newContact({ name: `Contact ${i}`, company: 'Acme' }));
    live = [];
    for (const contactUuid of known) live.push((await mut.service.createInteraction({ contactUuid, subject: 'seed' })).uuid);
    const doomed = await mut.service.createInteraction({ contactUuid: known[0] });
    deletedUuid = (await mut.service.deleteInteraction(doomed.uuid)).uuid;
    events = await mut.countEvents();
  }, 60_000);

  afterAll(async () => {
    await mut?.close();
    if (process.env.PROPERTY_STATS) console.info(`commands property figures (seed ${PROPERTY_SEED}):`, JSON.stringify(stats));
  });

  /** Built once the contacts exist (inside the tests): the generators of one run. */
  function arbitraries() {
    const knownContact = () => fc.constantFrom(...known).chain(mixedCase);
    const contactRef = () =>
      fc.oneof(
        { weight: 6, arbitrary: knownContact() },
        { weight: 1, arbitrary: anyUuid }, // unknown to the directory
        { weight: 1, arbitrary: malformedUuid },
        { weight: 1, arbitrary: wrongType },
        { weight: 1, arbitrary: fc.constantFrom(null, '', undefined) },
      );
    const text = fc.oneof(
      { weight: 6, arbitrary: adversarialString },
      { weight: 1, arbitrary: fc.constantFrom(null, undefined, 42, ['a']) },
      { weight: 1, arbitrary: fc.constantFrom(1_000_000, 1_000_001).map((n) => 'b'.repeat(n)) },
    );

    /** Each attribute: what a well-behaved caller sends, and anything at all. */
    const validAttr = {
      contactUuid: knownContact(),
      interactionType: fc.constantFrom('call', 'email', 'meeting', 'note', 'other', '', null),
      occurredAt: fc.oneof(validDate, validDate.map((d) => d.toISOString()), fc.constant(null)),
      subject: fc.oneof(fc.string({ maxLength: 60 }), fc.string({ unit: 'grapheme', maxLength: 30 }), fc.constant(null)),
      body: fc.oneof(fc.string({ unit: 'grapheme', maxLength: 200 }), fc.constant(null)),
      ownerUserUuid: fc.oneof(anyUuid, fc.constantFrom(null, '')),
      metadata: fc.oneof(fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 3 }), { maxKeys: 5 }), fc.constant(null)),
    };
    const anyAttr = {
      contactUuid: contactRef(),
      interactionType,
      occurredAt,
      subject: text,
      body: text,
      ownerUserUuid: fc.oneof(anyUuid, malformedUuid, wrongType, fc.constantFrom(null, '')),
      metadata: fc.oneof(
        { weight: 6, arbitrary: jsonMetadata },
        { weight: 2, arbitrary: jsOnlyMetadata },
        { weight: 1, arbitrary: veryDeepMetadata },
      ),
    };
    type AttrKey = keyof typeof validAttr;
    const attrKeys = Object.keys(validAttr) as AttrKey[];

    const attrs = (mode: 'create' | 'update') => {
      const requiredKeys: AttrKey[] = mode === 'create' ? ['contactUuid'] : [];
      const valid = fc.record(validAttr, { requiredKeys });
      const oneBad = fc
        .tuple(valid, fc.constantFrom(...attrKeys).chain((key) => anyAttr[key].map((value) => [key, value] as const)))
        .map(([record, [key, value]]) => ({ ...record, [key]: value }));
      return fc.oneof(
        { weight: 8, arbitrary: valid },
        { weight: 8, arbitrary: oneBad },
        { weight: 3, arbitrary: fc.record(anyAttr, { requiredKeys }) },
        { weight: 1, arbitrary: fc.constantFrom<unknown>(null, [], 'attrs', 42) },
        { weight: 1, arbitrary: fc.constant(null).map(() => hostile()) },
      );
    };

    const validParty = fc.oneof(
      fc.record({ rawName: fc.string({ minLength: 1, maxLength: 30 }) }),
      fc.record({ rawName: fc.string({ minLength: 1, maxLength: 30 }), contactUuid: knownContact() }),
      fc.record({ rawName: fc.string({ minLength: 1, maxLength: 30 }), staffPersonUuid: anyUuid }),
    );
    const anyParty = fc.oneof(
      {
        weight: 10,
        arbitrary: fc.record(
          {
            rawName: fc.oneof(adversarialString, fc.constantFrom(null, 7)),
            contactUuid: fc.oneof(knownContact(), anyUuid, malformedUuid, fc.constantFrom(null, '')),
            staffPersonUuid: fc.oneof(anyUuid, malformedUuid, fc.constantFrom(null, '')),
          },
          { requiredKeys: ['rawName'] },
        ),
      },
      { weight: 1, arbitrary: fc.constantFrom<unknown>(null, 'Bob', 42, [{ rawName: 'x' }]) },
      { weight: 1, arbitrary: fc.constant(null).map(() => hostile()) },
    );
    const parties = fc.oneof(
      { weight: 12, arbitrary: fc.array(validParty, { maxLength: 4 }) },
      { weight: 4, arbitrary: fc.array(fc.oneof(validParty, anyParty), { maxLength: 5 }) },
      { weight: 1, arbitrary: fc.constantFrom(500, 501).map((n) => Array.from({ length: n }, (_, i) => ({ rawName: `P${i}` }))) },
      { weight: 1, arbitrary: fc.constantFrom<unknown>('Bob', 42, { rawName: 'Bob' }) },
    );
    const fileUuids = fc.oneof(
      { weight: 12, arbitrary: fc.array(anyUuid, { maxLength: 4 }) },
      { weight: 2, arbitrary: fc.array(fc.oneof(anyUuid, malformedUuid, wrongType), { minLength: 1, maxLength: 3 }) },
      { weight: 1, arbitrary: fc.constantFrom(1000, 1001).map((n) => Array.from({ length: n }, () => '01900000-0000-7000-8000-0000000000F1')) },
      { weight: 1, arbitrary: fc.constantFrom<unknown>(null, 'f', { 0: 'x' }) },
    );
    return { attrs, parties, fileUuids };
  }

  /** Runs one command; a typed error is counted, anything else is rethrown (and fails the property). */
  async function outcome(kind: keyof typeof stats, run: () => Promise<Interaction>): Promise<Interaction | null> {
    const figures = stats[kind];
    figures.tried++;
    try {
      const result = await run();
      figures.succeeded++;
      return result;
    } catch (error) {
      const typed = [InteractionValidationError, InteractionNotFoundError, InteractionConflictError].find((type) => error instanceof type);
      if (!typed && COUNT_RAW) {
        const name = `raw ${(error as Error)?.name}: ${String((error as Error)?.message).slice(0, 60)}`;
        figures.typed[name] = (figures.typed[name] ?? 0) + 1;
        events = await mut.countEvents(); // whatever it did, the next command is judged on its own
        return null;
      }
      if (!typed) throw error;
      figures.typed[typed.name] = (figures.typed[typed.name] ?? 0) + 1;
      return null;
    }
  }

  /** What a command appended: exactly the events its result accounts for, none when it failed. */
  async function expectAppended(count: number): Promise<void> {
    const now = await mut.countEvents();
    expect(now - events).toBe(count);
    events = now;
  }

  function expectLowerCaseUuids(interaction: Interaction): void {
    const uuids = [
      interaction.uuid,
      interaction.contactUuid,
      interaction.ownerUserUuid ?? '',
      ...interaction.fileUuids,
      ...interaction.parties.flatMap((p) => [p.contactUuid ?? '', p.staffPersonUuid ?? '']),
    ];
    for (const uuid of uuids) expect(uuid).toBe(uuid.toLowerCase());
  }

  async function expectReadsBackEqual(interaction: Interaction): Promise<void> {
    expectLowerCaseUuids(interaction);
    expect(await mut.service.getInteraction(interaction.uuid)).toEqual(interaction);
    expect(await mut.service.getInteraction(interaction.uuid.toUpperCase())).toEqual(interaction);
    // Found by the words of the texts it has now (an edit of one text takes the other from the row).
    const { rows } = await mut.db.query<{ words: string[] | null }>('SELECT tsvector_to_array(search) AS words FROM interactions WHERE uuid = $1', [
      interaction.uuid,
    ]);
    const words = searchWordsOf(interaction.subject, interaction.body);
    expect((rows[0]?.words ?? []).sort()).toEqual(words === '' ? [] : words.split(' ').sort());
  }

  const options = (runs: number) => ({
    seed: PROPERTY_SEED,
    numRuns: runs,
    interruptAfterTimeLimit: TIME_LIMIT_MS,
    markInterruptAsFailure: true,
    endOnFailure: process.env.PROPERTY_SHRINK ? false : true,
  });

  it(`creates: ${RUNS} generated inputs, each a success that reads back equal or a typed error`, async () => {
    const { attrs, parties, fileUuids } = arbitraries();
    await fc.assert(
      fc.asyncProperty(attrs('create'), parties, fileUuids, async (a, p, f) => {
        const created = await outcome('create', () => mut.service.createInteraction(a as never, p as never, f as never));
        if (!created) return expectAppended(0);
        await expectAppended(created.version + 1);
        live.push(created.uuid);
        await expectReadsBackEqual(created);
      }),
      options(RUNS),
    );
    expect(stats.create.tried).toBeGreaterThanOrEqual(RUNS);
  }, 120_000);

  it(`updates: ${RUNS} generated inputs, each a success that reads back equal or a typed error`, async () => {
    const { attrs, parties } = arbitraries();
    const target = fc.oneof(
      { weight: 12, arbitrary: fc.constantFrom(...live.slice(0, 40)).chain(mixedCase) },
      { weight: 1, arbitrary: fc.constant(deletedUuid) },
      { weight: 1, arbitrary: anyUuid },
      { weight: 1, arbitrary: malformedUuid },
    );
    /** Mostly no expectedVersion or the current one; sometimes stale or malformed. */
    const expectedVersion = fc.oneof(
      { weight: 6, arbitrary: fc.constant<unknown>('none') },
      { weight: 3, arbitrary: fc.constant<unknown>('current') },
      { weight: 1, arbitrary: fc.oneof(fc.nat({ max: 6 }), fc.constantFrom<unknown>(-1, 1.5, '3', null)) },
    );
    const newParties = fc.oneof({ weight: 1, arbitrary: fc.constant(null) }, { weight: 3, arbitrary: parties });
    await fc.assert(
      fc.asyncProperty(target, attrs('update'), newParties, expectedVersion, async (uuid, a, p, v) => {
        const before = await mut.service.getInteraction(uuid);
        const version = v === 'current' ? before?.version : v;
        const opts = v === 'none' ? {} : { expectedVersion: version as number };
        const updated = await outcome('update', () => mut.service.updateInteraction(uuid, a as never, p as never, opts));
        if (!updated) return expectAppended(0);
        expect(updated.uuid).toBe(uuid.toLowerCase());
        await expectAppended(updated.version - (before?.version ?? 0));
        await expectReadsBackEqual(updated);
      }),
      options(RUNS),
    );
    expect(stats.update.tried).toBeGreaterThanOrEqual(RUNS);
  }, 120_000);

  it(`edits of one text: ${Math.ceil(RUNS / 4)} generated texts, each row then found by the words of both its texts`, async () => {
    // Interactions of its own, with both texts: an edit of one takes the other from the row (unlocked).
    const targets = await Promise.all(
      ['alpha', 'bravo', 'charlie'].map(async (word) => (await mut.service.createInteraction({ contactUuid: known[0], subject: `${word} subject`, body: `${word} body` })).uuid),
    );
    events = await mut.countEvents();
    const oneText = fc.oneof(fc.string({ maxLength: 60 }), fc.string({ unit: 'grapheme', maxLength: 60 }), adversarialString, fc.constant(null));
    const edit = fc.oneof(oneText.map((subject) => ({ subject })), oneText.map((body) => ({ body })));
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...targets), edit, async (uuid, attrs) => {
        const before = await mut.service.getInteraction(uuid);
        const updated = await outcome('update', () => mut.service.updateInteraction(uuid, attrs));
        if (!updated) return expectAppended(0);
        await expectAppended(updated.version - before!.version);
        await expectReadsBackEqual(updated);
      }),
      options(Math.ceil(RUNS / 4)),
    );
  }, 60_000);

  it(`changeInteraction: ${Math.ceil(RUNS / 4)} generated inputs, always an answer, never a raw error, nothing written`, async () => {
    const { attrs } = arbitraries();
    const interaction = fc.oneof(fc.constant(null), fc.constantFrom(...live.slice(0, 20)));
    await fc.assert(
      fc.asyncProperty(interaction, attrs('update'), async (uuid, a) => {
        const current = uuid === null ? null : await mut.service.getInteraction(uuid);
        const result = await mut.service.changeInteraction(current, a as never);
        expect(typeof result.valid).toBe('boolean');
        expect(Object.keys(result.errors).length > 0).toBe(!result.valid);
        await expectAppended(0);
      }),
      options(Math.ceil(RUNS / 4)),
    );
  }, 60_000);

  it(`deletes: ${Math.ceil(RUNS / 4)} generated targets, each deleted once or a typed error`, async () => {
    const target = fc.oneof(
      { weight: 4, arbitrary: fc.constantFrom(...live.slice(40)).chain(mixedCase) },
      { weight: 1, arbitrary: fc.constant(deletedUuid) },
      { weight: 1, arbitrary: anyUuid },
      { weight: 1, arbitrary: malformedUuid },
      { weight: 1, arbitrary: fc.constantFrom<unknown>(null, undefined, 42, {}, { uuid: 42 }) },
    );
    await fc.assert(
      fc.asyncProperty(target, async (uuid) => {
        const before = typeof uuid === 'string' ? await mut.service.getInteraction(uuid) : null;
        const deleted = await outcome('delete', () => mut.service.deleteInteraction(uuid as string));
        if (!deleted) return expectAppended(0);
        expect(deleted).toEqual(before);
        await expectAppended(1);
        expect(await mut.service.getInteraction(deleted.uuid)).toBeNull();
      }),
      options(Math.ceil(RUNS / 4)),
    );
  }, 60_000);

  it('mixes valid and adversarial input: both outcomes occur often', () => {
    for (const figures of [stats.create, stats.update]) {
      expect(figures.succeeded).toBeGreaterThan(figures.tried * 0.1);
      expect(figures.tried - figures.succeeded).toBeGreaterThan(figures.tried * 0.1);
    }
  });
});
