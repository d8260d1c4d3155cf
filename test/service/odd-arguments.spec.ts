import {
  InteractionConflictError,
  InteractionNotFoundError,
  InteractionUnavailableError,
  InteractionUnreadableError,
  InteractionValidationError,
} from '../../src';
import { ModuleUnderTest, startModule } from '../support/module';

/**
 * Every service method under odd arguments (the JavaScript a host can pass: symbols, Proxies and getters
 * that throw, objects without a prototype or whose toString throws, out-of-range Dates): each answer is a
 * value or a typed error of a bounded message, never a raw one, nor a synchronous throw.
 */
const TYPED = [InteractionValidationError, InteractionNotFoundError, InteractionConflictError, InteractionUnavailableError, InteractionUnreadableError];

function values(uuid: string): Array<[string, unknown]> {
  const throwingToString = { toString: () => { throw new Error('toString'); } };
  return [
    ['undefined', undefined], ['null', null], ['""', ''], ['" "', ' '], ['0', 0], ['-0', -0], ['NaN', Number.NaN], ['Infinity', Infinity],
    ['1e21', 1e21], ['2^53', 2 ** 53], ['bigint', BigInt(1)], ['true', true], ['symbol', Symbol('s')], ['function', () => uuid],
    ['{}', {}], ['[]', []], ['["x"]', ['x']], ['[uuid]', [uuid]], ['Date(NaN)', new Date(Number.NaN)], ['Date(max)', new Date(8.64e15)],
    ['Date(min)', new Date(-8.64e15)], ['Date(year 0)', new Date('0000-06-01T00:00:00Z')], ['Date(now)', new Date()], ['not-a-uuid', 'not-a-uuid'], ['NUL', '\u0000'], ['lone surrogate', '\ud800'],
    ['1e6 chars', 'x'.repeat(1_000_000)], ['UPPER uuid', uuid.toUpperCase()], ['uuid', uuid], ['String(uuid)', new String(uuid)],
    ['null-proto', Object.create(null)], ['throwing toString', throwingToString], ['{uuid: null-proto}', { uuid: Object.create(null) }],
    ['{uuid: throwing toString}', { uuid: throwingToString }], ['proxy', new Proxy({}, { get: () => { throw new Error('get trap'); } })],
    ['getter', Object.defineProperty({}, 'limit', { enumerable: true, get: () => { throw new Error('getter'); } })],
  ];
}

describe('service methods under odd arguments', () => {
  let mut: ModuleUnderTest;
  let contact: string;
  let interaction: string;
  const raw: string[] = [];

  beforeAll(async () => {
    mut = await startModule({ withStaffDirectory: true });
    contact = mut.newContact({ name: 'Ada' });
    interaction = (await mut.service.createInteraction({ contactUuid: contact, subject: 'x' }, [{ rawName: 'Bob' }])).uuid;
  }, 60_000);
  afterAll(async () => {
    await mut?.close();
  });

  async function attempt(label: string, run: () => Promise<unknown>): Promise<void> {
    try {
      await run();
    } catch (error) {
      // Typed, and not repeating a huge argument whole (it would travel into spans and logs).
      if (TYPED.some((type) => error instanceof type) && String((error as Error).message).length <= 10_000) return;
      raw.push(`${label}: ${(error as Error)?.name}: ${String((error as Error)?.message).slice(0, 120)}`);
    }
  }

  it('answers every call with a value or a typed error', async () => {
    const s = mut.service as any; // eslint-disable-line @typescript-eslint/no-explicit-any
    const fresh = () => mut.newContact({ name: 'Fresh' });
    for (const [name, v] of values(contact)) {
      const calls: Array<[string, () => Promise<unknown>]> = [
        ['getInteraction(v)', () => s.getInteraction(v)],
        ['listInvolving(v)', () => s.listInvolving(v)],
        ['listInvolving(c, v)', () => s.listInvolving(contact, v)],
        ...['limit', 'after', 'types', 'occurredFrom', 'occurredTo', 'ownerUserUuid', 'search'].map(
          (key): [string, () => Promise<unknown>] => [`listInvolving(c, {${key}: v})`, () => s.listInvolving(contact, { [key]: v })],
        ),
        ['listForContacts(v)', () => s.listForContacts(v)],
        ['listForContacts([v])', () => s.listForContacts([v])],
        ['listForContacts([c], v)', () => s.listForContacts([contact], v)],
        ['listForContacts([c], {after: v})', () => s.listForContacts([contact], { after: v })],
        ['listRecent(v)', () => s.listRecent(v)],
        ['listRecent({types: [v]})', () => s.listRecent({ types: [v] })],
        ['countInvolving(c, v)', () => s.countInvolving(contact, v)],
        ['countInvolving(v)', () => s.countInvolving(v)],
        ['countInteractions(v)', () => s.countInteractions(v)],
        ['countInteractions({occurredFrom: v})', () => s.countInteractions({ occurredFrom: v })],
        ['countInteractions({search: v})', () => s.countInteractions({ search: v })],
        ['interactionUuidsForContact(v)', () => s.interactionUuidsForContact(v)],
        ['changeInteraction(null, v)', () => s.changeInteraction(null, v)],
        ['changeInteraction(v, {subject})', () => s.changeInteraction(v, { subject: 'y' })],
        ['changeInteraction(null, {contactUuid: v})', () => s.changeInteraction(null, { contactUuid: v })],
        ['history(v)', () => s.history(v)],
        ['getInteractionAsOf(v, now)', () => s.getInteractionAsOf(v, new Date())],
        ['getInteractionAsOf(i, v)', () => s.getInteractionAsOf(interaction, v)],
        ['createInteraction(v)', () => s.createInteraction(v)],
        ['createInteraction(ok, v)', () => s.createInteraction({ contactUuid: contact }, v)],
        ['createInteraction(ok, [v])', () => s.createInteraction({ contactUuid: contact }, [v])],
        ['createInteraction(ok, [], v)', () => s.createInteraction({ contactUuid: contact }, [], v)],
        ['createInteraction(ok, [], [], v)', () => s.createInteraction({ contactUuid: contact }, [], [], v)],
        ...['actorUuid', 'correlationId', 'causationId', 'idempotencyKey'].map(
          (key): [string, () => Promise<unknown>] => [`createInteraction(ok, [], [], {${key}: v})`, () => s.createInteraction({ contactUuid: contact }, [], [], { [key]: v })],
        ),
        ['createInteraction({contactUuid: c, occurredAt: v})', () => s.createInteraction({ contactUuid: contact, occurredAt: v })],
        ['createInteraction({contactUuid: c, metadata: {k: v}})', () => s.createInteraction({ contactUuid: contact, metadata: { k: v } })],
        ['updateInteraction(v, {})', () => s.updateInteraction(v, { subject: 'z' })],
        ['updateInteraction(i, v)', () => s.updateInteraction(interaction, v)],
        ['updateInteraction(i, {}, v)', () => s.updateInteraction(interaction, {}, v)],
        ['updateInteraction(i, {}, null, v)', () => s.updateInteraction(interaction, {}, null, v)],
        ['updateInteraction(i, {}, null, {expectedVersion: v})', () => s.updateInteraction(interaction, {}, null, { expectedVersion: v })],
        ['deleteInteraction(v)', () => s.deleteInteraction(v)],
        ['linkParty(v, 0, {contactUuid})', () => s.linkParty(v, 0, { contactUuid: contact })],
        ['linkParty(i, v, {contactUuid})', () => s.linkParty(interaction, v, { contactUuid: contact })],
        ['linkParty(i, 0, v)', () => s.linkParty(interaction, 0, v)],
        ['linkParty(i, 0, {contactUuid: v})', () => s.linkParty(interaction, 0, { contactUuid: v })],
        ['linkParty(i, 0, {staffPersonUuid: v})', () => s.linkParty(interaction, 0, { staffPersonUuid: v })],
        ['linkParty(i, 0, {contactUuid}, v)', () => s.linkParty(interaction, 0, { contactUuid: contact }, v)],
        ['findUnresolvedParties(v)', () => s.findUnresolvedParties(v)],
        ['findUnresolvedParties({name: v})', () => s.findUnresolvedParties({ name: v })],
        ['findUnresolvedParties({email: v})', () => s.findUnresolvedParties({ email: v })],
        ['findUnresolvedParties({name}, v)', () => s.findUnresolvedParties({ name: 'Bob' }, v)],
        ['contactDeleted(v)', () => s.contactDeleted(v)],
        ['contactDeleted(fresh, v)', () => s.contactDeleted(fresh(), v)],
        ['staffPersonDeleted(v)', () => s.staffPersonDeleted(v)],
        ['contactsMerged(v, c)', () => s.contactsMerged(v, contact)],
        ['contactsMerged(fresh, v)', () => s.contactsMerged(fresh(), v)],
        ['contactsMerged(fresh, c, v)', () => s.contactsMerged(fresh(), contact, v)],
        ['forgetContact(v)', () => s.forgetContact(v)],
      ];
      for (const [label, run] of calls) {
        // a synchronous throw counts as raw too
        await attempt(`${label} with v=${name}`, async () => run());
      }
    }
    // deleteInteraction(i, v) last: it deletes the interaction
    for (const [name, v] of values(contact)) {
      // A contact of its own: the calls above forgot `contact` (forgetContact(v) with v its uuid).
      const target = (await mut.service.createInteraction({ contactUuid: mut.newContact({ name: 'Target' }) })).uuid;
      await attempt(`deleteInteraction(i, v) with v=${name}`, async () => (mut.service as any).deleteInteraction(target, v)); // eslint-disable-line
    }
    expect(raw).toEqual([]);
  }, 300_000);
});
