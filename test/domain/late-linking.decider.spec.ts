import { DecideContext, decide, evolve, fold, InteractionState, RecordedInteractionEvent } from '../../src/domain/decider';
import { InteractionNotFoundError, InteractionValidationError } from '../../src/domain/errors';
import { InteractionEvent, parseEvent } from '../../src/domain/events';
import { ContactRecord, StaffRecord } from '../../src/domain/interaction';

/** decide/evolve of late linking: the `link` command and its PartyLinked event. */

const ID = '01900000-0000-7000-8000-000000000001';
const SUBJECT = '01900000-0000-7000-8000-0000000000a1';
const DANA = '01900000-0000-7000-8000-0000000000d1';
const GRACE = '01900000-0000-7000-8000-0000000000c1';
const SAM = '01900000-0000-7000-8000-0000000005a1';
const UNKNOWN = '01900000-0000-7000-8000-0000000000ff';
const EARLIER = new Date('2026-08-01T09:00:00.654Z');
const NOW = new Date('2026-08-22T10:00:00.789Z');

const dana: ContactRecord = { uuid: DANA, name: 'Dana Scott', company: 'Acme' };
const sam: StaffRecord = { uuid: SAM, name: 'Sam Staff', jobTitle: 'AE' };

function ctx(staff: StaffRecord[] | null = [sam]): DecideContext {
  return { now: NOW, contacts: new Map([[DANA, dana]]), staff: staff && new Map(staff.map((s) => [s.uuid, s])) };
}

function recorded(events: InteractionEvent[], from = 0, at = EARLIER): RecordedInteractionEvent[] {
  return events.map((event, i) => ({ ...event, revision: from + i, recordedAt: at }));
}

/** Given: a logged interaction with a free-text party at 0 and Grace (a contact) at 1. */
function given(): InteractionState {
  return fold(
    recorded([
      {
        type: 'InteractionLogged',
        data: {
          schemaVersion: 1, interactionUuid: ID, contactUuid: SUBJECT, interactionType: 'call', occurredAt: '2026-08-01T09:00:00Z',
          subject: null, body: null, ownerUserUuid: null, metadata: {}, fileUuids: [],
        },
      },
      {
        type: 'PartiesRebuilt',
        data: {
          schemaVersion: 1,
          interactionUuid: ID,
          parties: [
            { rawName: 'Dana from Acme', contactUuid: null, staffPersonUuid: null, position: 0, snapshot: { source: 'free_text', capturedAt: '2026-08-01T09:00:00Z' } },
            { rawName: 'Grace', contactUuid: GRACE, staffPersonUuid: null, position: 1, snapshot: { source: 'crm_contact', name: 'Grace', capturedAt: '2026-08-01T09:00:00Z' } },
          ],
        },
      },
    ]),
  );
}

const link = (position: number, ref: { contactUuid?: string; staffPersonUuid?: string }) => ({
  kind: 'link' as const,
  interactionUuid: ID,
  position,
  contactUuid: ref.contactUuid ?? null,
  staffPersonUuid: ref.staffPersonUuid ?? null,
});

function thrownBy(run: () => unknown): Error {
  try {
    run();
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected it to throw');
}

describe('decide: link', () => {
  it('links a free-text party to a contact with a snapshot taken now', () => {
    const events = decide(link(0, { contactUuid: DANA }), given(), ctx());
    expect(events).toEqual([
      {
        type: 'PartyLinked',
        data: {
          schemaVersion: 1, interactionUuid: ID, position: 0, contactUuid: DANA, staffPersonUuid: null,
          snapshot: { source: 'crm_contact', name: 'Dana Scott', company: 'Acme', capturedAt: '2026-08-22T10:00:00Z' },
        },
      },
    ]);
    // What decide returns matches its schema (parse before append).
    expect(parseEvent('PartyLinked', events[0]!.data)).toEqual(events[0]);
  });

  it('links to a staff person: the directory\'s snapshot, or a bare one without a directory', () => {
    expect(decide(link(0, { staffPersonUuid: SAM }), given(), ctx())[0]!.data).toMatchObject({
      staffPersonUuid: SAM,
      snapshot: { source: 'staff', name: 'Sam Staff', jobTitle: 'AE', capturedAt: '2026-08-22T10:00:00Z' },
    });
    expect(decide(link(0, { staffPersonUuid: SAM }), given(), ctx(null))[0]!.data).toMatchObject({
      snapshot: { source: 'staff', capturedAt: '2026-08-22T10:00:00Z' },
    });
  });

  it('linking a party to what it is linked to already decides nothing', () => {
    expect(decide(link(1, { contactUuid: GRACE }), given(), ctx())).toEqual([]);
  });

  it.each([
    ['no party at the position', link(2, { contactUuid: DANA }), { position: ['does not exist'] }],
    ['a party linked to another contact', link(1, { contactUuid: DANA }), { position: ['is already linked to another contact or staff person'] }],
    ['a party linked to a contact, to a staff person', link(1, { staffPersonUuid: SAM }), { position: ['is already linked to another contact or staff person'] }],
    ['a contact the directory does not know', link(0, { contactUuid: UNKNOWN }), { contactUuid: ['does not exist'] }],
  ])('refuses %s', (_name, command, errors) => {
    const error = thrownBy(() => decide(command, given(), ctx()));
    expect(error).toBeInstanceOf(InteractionValidationError);
    expect((error as InteractionValidationError).errors).toEqual(errors);
  });

  it('refuses an erased party (a forget unlinked it), not a free-text party typed as "[erased]"', () => {
    const forgotten = evolve(given(), {
      type: 'PartiesUnlinked',
      data: { schemaVersion: 1, interactionUuid: ID, positions: [1], contactUuid: GRACE, staffPersonUuid: null, reason: 'contact_forgotten', decisionId: SUBJECT },
      revision: 2,
      recordedAt: NOW,
    });
    expect(forgotten.interaction!.parties[1]).toMatchObject({ rawName: '[erased]', contactUuid: null, snapshot: { source: 'erased' } });
    const error = thrownBy(() => decide(link(1, { contactUuid: DANA }), forgotten, ctx()));
    expect(error).toBeInstanceOf(InteractionValidationError);
    expect((error as InteractionValidationError).errors).toEqual({ position: ['was erased'] });
    const typed = fold(recorded([{ type: 'PartiesRebuilt', data: { schemaVersion: 1, interactionUuid: ID, parties: [{ rawName: '[erased]', contactUuid: null, staffPersonUuid: null, position: 0, snapshot: { source: 'free_text', capturedAt: '2026-08-01T09:00:00Z' } }] } }], 2), given());
    expect(decide(link(0, { contactUuid: DANA }), typed, ctx())).toHaveLength(1);
  });

  it('an unknown or deleted interaction is not found', () => {
    expect(thrownBy(() => decide(link(0, { contactUuid: DANA }), fold([]), ctx()))).toBeInstanceOf(InteractionNotFoundError);
    const deleted = evolve(given(), { type: 'InteractionDeleted', data: { schemaVersion: 1, interactionUuid: ID }, revision: 2, recordedAt: NOW });
    expect(thrownBy(() => decide(link(0, { contactUuid: DANA }), deleted, ctx()))).toBeInstanceOf(InteractionNotFoundError);
  });
});

describe('evolve: PartyLinked', () => {
  it('gives the party at its position the link and the snapshot; rawName and the others stay', () => {
    const before = given();
    const [event] = decide(link(0, { contactUuid: DANA }), before, ctx());
    const after = evolve(before, { ...event!, revision: 2, recordedAt: NOW });
    expect(after.version).toBe(2);
    expect(after.interaction!.updatedAt).toEqual(new Date('2026-08-22T10:00:00Z'));
    expect(after.interaction!.parties[0]).toEqual({
      rawName: 'Dana from Acme',
      contactUuid: DANA,
      staffPersonUuid: null,
      position: 0,
      snapshot: { source: 'crm_contact', name: 'Dana Scott', company: 'Acme', capturedAt: '2026-08-22T10:00:00Z' },
    });
    expect(after.interaction!.parties[1]).toEqual(before.interaction!.parties[1]);
  });

  it('the schema takes exactly one link', () => {
    const data = { schemaVersion: 1, interactionUuid: ID, position: 0, snapshot: { source: 'free_text', capturedAt: '2026-08-22T10:00:00Z' } };
    expect(() => parseEvent('PartyLinked', { ...data, contactUuid: DANA, staffPersonUuid: SAM })).toThrow(/exactly one/);
    expect(() => parseEvent('PartyLinked', { ...data, contactUuid: null, staffPersonUuid: null })).toThrow(/exactly one/);
    expect(() => parseEvent('PartyLinked', { ...data, contactUuid: DANA, staffPersonUuid: null, position: -1 })).toThrow();
  });
});
