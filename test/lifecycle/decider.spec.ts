import { evolve, initialState, InteractionState, RecordedInteractionEvent } from '../../src/domain/decider';
import { InteractionEvent, PartiesRebuiltData } from '../../src/domain/events';
import { decideForInteraction, holdsDecision, LifecycleDecision } from '../../src/lifecycle/decider';
import { deciderSpec } from '../support/decider-spec';

/** What one lifecycle decision does to one interaction: pure, given the interaction's events. */

const ID = '01900000-0000-7000-8000-000000000001';
const GRACE = '01900000-0000-7000-8000-0000000000c1';
const INTO = '01900000-0000-7000-8000-0000000000c2';
const OTHER = '01900000-0000-7000-8000-0000000000a1';
const SAM = '01900000-0000-7000-8000-0000000005a1';
const DECISION = '01900000-0000-7000-8000-0000000d0001';
const AT = new Date('2026-08-01T09:00:00Z');
const CAPTURED = '2026-08-01T09:00:00Z';

const spec = deciderSpec<LifecycleDecision, InteractionEvent, InteractionState>({
  decide: decideForInteraction,
  evolve: (state, event) => evolve(state, { ...event, revision: state.version + 1, recordedAt: AT }),
  initialState,
});

const logged = (subject: string): InteractionEvent => ({
  type: 'InteractionLogged',
  data: {
    schemaVersion: 1, interactionUuid: ID, contactUuid: subject, interactionType: 'call', occurredAt: CAPTURED,
    subject: null, body: null, ownerUserUuid: null, metadata: {}, fileUuids: [],
  },
});
const parties: InteractionEvent = {
  type: 'PartiesRebuilt',
  data: {
    schemaVersion: 1,
    interactionUuid: ID,
    parties: [
      { rawName: 'Free', contactUuid: null, staffPersonUuid: null, position: 0, snapshot: { source: 'free_text', capturedAt: CAPTURED } },
      // An old event's upper-case uuid still matches.
      { rawName: 'Grace', contactUuid: GRACE.toUpperCase(), staffPersonUuid: null, position: 1, snapshot: { source: 'crm_contact', name: 'Grace', capturedAt: CAPTURED } },
      { rawName: 'Sam', contactUuid: null, staffPersonUuid: SAM, position: 2, snapshot: { source: 'staff', name: 'Sam', capturedAt: CAPTURED } },
      { rawName: 'Grace 2', contactUuid: GRACE, staffPersonUuid: null, position: 3, snapshot: { source: 'crm_contact', name: 'G', capturedAt: CAPTURED } },
    ],
  },
};
const deleted: InteractionEvent = { type: 'InteractionDeleted', data: { schemaVersion: 1, interactionUuid: ID } };

const contactDeleted: LifecycleDecision = { decisionId: DECISION, kind: 'contact_deleted', contactUuid: GRACE };
const staffDeleted: LifecycleDecision = { decisionId: DECISION, kind: 'staff_person_deleted', staffPersonUuid: SAM };
const merged: LifecycleDecision = { decisionId: DECISION, kind: 'contacts_merged', fromUuid: GRACE, intoUuid: INTO };

describe('contact_deleted', () => {
  it('deletes an interaction the contact is the subject of, with the reason and the decision', () =>
    spec.given([logged(GRACE), parties]).when(contactDeleted).then([
      { type: 'InteractionDeleted', data: { schemaVersion: 1, interactionUuid: ID, reason: 'contact_deleted', decisionId: DECISION } },
    ]));

  it('unlinks every party linked to the contact elsewhere', () =>
    spec.given([logged(OTHER), parties]).when(contactDeleted).then([
      {
        type: 'PartiesUnlinked',
        data: { schemaVersion: 1, interactionUuid: ID, positions: [1, 3], contactUuid: GRACE, staffPersonUuid: null, reason: 'contact_deleted', decisionId: DECISION },
      },
    ]));

  it('does nothing to an interaction not linked, deleted, or never logged', () => {
    spec.given([logged(OTHER)]).when(contactDeleted).thenNothingHappened();
    spec.given([logged(OTHER), parties, deleted]).when(contactDeleted).thenNothingHappened();
    spec.given([]).when(contactDeleted).thenNothingHappened();
  });
});

describe('staff_person_deleted', () => {
  it('unlinks the staff person', () =>
    spec.given([logged(OTHER), parties]).when(staffDeleted).then([
      {
        type: 'PartiesUnlinked',
        data: { schemaVersion: 1, interactionUuid: ID, positions: [2], contactUuid: null, staffPersonUuid: SAM, reason: 'staff_person_deleted', decisionId: DECISION },
      },
    ]));

  it('does nothing when no party is the staff person', () => spec.given([logged(GRACE)]).when(staffDeleted).thenNothingHappened());
});

describe('contacts_merged', () => {
  it('re-points the subject and the parties in one event', () =>
    spec.given([logged(GRACE), parties]).when(merged).then([
      {
        type: 'ContactRepointed',
        data: { schemaVersion: 1, interactionUuid: ID, fromContactUuid: GRACE, intoContactUuid: INTO, subject: true, positions: [1, 3], decisionId: DECISION },
      },
    ]));

  it('re-points only the subject when no party is from', () =>
    spec.given([logged(GRACE)]).when(merged).then([
      {
        type: 'ContactRepointed',
        data: { schemaVersion: 1, interactionUuid: ID, fromContactUuid: GRACE, intoContactUuid: INTO, subject: true, positions: [], decisionId: DECISION },
      },
    ]));

  it('does nothing to an interaction without from', () => spec.given([logged(OTHER)]).when(merged).thenNothingHappened());
});

describe('contact_forgotten', () => {
  const forgotten: LifecycleDecision = { decisionId: DECISION, kind: 'contact_forgotten', contactUuid: INTO };
  const stateOf = (events: InteractionEvent[]) =>
    events.reduce((state, event) => evolve(state, { ...event, revision: state.version + 1, recordedAt: AT }), initialState);

  const content = (contentErased: boolean, erasedSubject: string | null, mergedWith: string[] = []) => ({ contentErased, erasedSubject, mergedWith });

  it('deletes an interaction of a contact merged with hers whose content key went with hers (a create or a merge that raced)', () =>
    expect(decideForInteraction(forgotten, stateOf([logged(GRACE), parties]), content(true, GRACE, [GRACE]))).toEqual([
      { type: 'InteractionDeleted', data: { schemaVersion: 1, interactionUuid: ID, reason: 'contact_forgotten', decisionId: DECISION } },
    ]));

  it('deletes no interaction of anyone else: a content key she came to own by mistake, or one that stayed', () => {
    expect(decideForInteraction(forgotten, stateOf([logged(GRACE), parties]), content(true, GRACE))).toEqual([]);
    expect(decideForInteraction(forgotten, stateOf([logged(GRACE), parties]), content(true, GRACE, [OTHER]))).toEqual([]);
    // Grace's, merged with hers, whose content key stayed: kept (her parties go: below).
    const types = decideForInteraction(forgotten, stateOf([logged(GRACE), parties]), content(false, null, [GRACE])).map((e) => e.type);
    expect(types).not.toContain('InteractionDeleted');
    expect(decideForInteraction(forgotten, stateOf([logged(GRACE), parties, deleted]), content(true, GRACE, [GRACE]))).toEqual([]);
  });

  it('unlinks and erases the parties of every contact merged with hers (one person), one PartiesUnlinked per contact linked', () => {
    const data = parties.data as PartiesRebuiltData;
    const intoParty = { rawName: 'Into', contactUuid: INTO, staffPersonUuid: null, position: 4, snapshot: { source: 'crm_contact' as const, name: 'I', capturedAt: CAPTURED } };
    const withHers: InteractionEvent = { type: 'PartiesRebuilt', data: { ...data, parties: [...data.parties, intoParty] } };
    const before = stateOf([logged(OTHER), withHers]);
    const events = decideForInteraction(forgotten, before, content(false, null, [GRACE]));
    const unlinked = (contactUuid: string, positions: number[]) => ({
      type: 'PartiesUnlinked',
      data: { schemaVersion: 1, interactionUuid: ID, positions, contactUuid, staffPersonUuid: null, reason: 'contact_forgotten', decisionId: DECISION },
    });
    expect(events).toEqual([unlinked(INTO, [4]), unlinked(GRACE, [1, 3])]);
    const after = events.reduce((state, event) => evolve(state, { ...event, revision: state.version + 1, recordedAt: AT }), before);
    expect(after.interaction!.parties.map((p) => [p.rawName, p.contactUuid, p.snapshot.source])).toEqual([
      ['Free', null, 'free_text'],
      ['[erased]', null, 'erased'],
      ['Sam', null, 'staff'],
      ['[erased]', null, 'erased'],
      ['[erased]', null, 'erased'],
    ]);
  });

  const movedAway: InteractionEvent = { type: 'InteractionUpdated', data: { schemaVersion: 1, interactionUuid: ID, changes: { contactUuid: OTHER } } };

  it('deletes an interaction she was the subject of when her content key went, moved to another by an update since', () =>
    expect(decideForInteraction(forgotten, stateOf([logged(INTO), movedAway]), content(true, INTO))).toEqual([
      { type: 'InteractionDeleted', data: { schemaVersion: 1, interactionUuid: ID, reason: 'contact_forgotten', decisionId: DECISION } },
    ]));

  it('deletes none moved away from her before her keys went, even with its content key among hers (an owner left behind)', () => {
    // Its read row showed the other contact when the key went: it was the other's then.
    expect(decideForInteraction(forgotten, stateOf([logged(INTO), movedAway]), content(true, OTHER))).toEqual([]);
    expect(decideForInteraction(forgotten, stateOf([logged(INTO), movedAway]), content(false, null))).toEqual([]);
  });
});

describe('evolve of the lifecycle events', () => {
  const fold = (events: InteractionEvent[]) => events.reduce((s, e) => evolve(s, { ...e, revision: s.version + 1, recordedAt: AT }), initialState);

  it('PartiesUnlinked nulls the link only; rawName, position and snapshot stay', () => {
    const before = fold([logged(OTHER), parties]);
    const after = fold([logged(OTHER), parties, ...decideForInteraction(contactDeleted, before)]);
    expect(after.interaction!.parties).toEqual(
      before.interaction!.parties.map((p) => (p.position === 1 || p.position === 3 ? { ...p, contactUuid: null } : p)),
    );
    expect(after.version).toBe(2);
  });

  it('ContactRepointed moves the subject and the links; snapshots stay', () => {
    const before = fold([logged(GRACE), parties]);
    const after = fold([logged(GRACE), parties, ...decideForInteraction(merged, before)]);
    expect(after.interaction!.contactUuid).toBe(INTO);
    expect(after.interaction!.parties.map((p) => p.contactUuid)).toEqual([null, INTO, null, INTO]);
    expect(after.interaction!.parties.map((p) => p.snapshot)).toEqual(before.interaction!.parties.map((p) => p.snapshot));
  });

  it('holdsDecision finds a stream that has the decision already', () => {
    const events = decideForInteraction(contactDeleted, fold([logged(GRACE)]));
    const recorded: RecordedInteractionEvent[] = events.map((e, i) => ({ ...e, revision: i + 1, recordedAt: AT }));
    expect(holdsDecision(recorded, DECISION)).toBe(true);
    expect(holdsDecision(recorded, '01900000-0000-7000-8000-0000000d0002')).toBe(false);
  });
});
