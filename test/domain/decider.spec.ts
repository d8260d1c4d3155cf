import {
  DecideContext,
  InteractionCommand,
  InteractionState,
  RecordedInteractionEvent,
  decide,
  evolve,
  fold,
  initialState,
  partyIdentity,
} from '../../src/domain/decider';
import {
  InteractionConflictError,
  InteractionNotFoundError,
  InteractionValidationError,
} from '../../src/domain/errors';
import {
  InteractionEvent,
  InteractionLoggedData,
  InteractionUpdatedData,
  parseEvent,
} from '../../src/domain/events';
import { ContactRecord, Party, PartySnapshot, StaffRecord, involvedContactUuids } from '../../src/domain/interaction';
import { NormalisedAttrs, NormalisedParty } from '../../src/domain/validation';

// ---------------------------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------------------------

const ID = '01900000-0000-7000-8000-000000000001';
const ADA = '01900000-0000-7000-8000-0000000000a1';
const BOB = '01900000-0000-7000-8000-0000000000b2';
const CAROL = '01900000-0000-7000-8000-0000000000c3';
const UNKNOWN = '01900000-0000-7000-8000-0000000000ff';
const STAFF_SAM = '01900000-0000-7000-8000-0000000005a1';
const STAFF_UNKNOWN = '01900000-0000-7000-8000-0000000005ff';
const OWNER = '01900000-0000-7000-8000-0000000000e1';
const FILE = '01900000-0000-7000-8000-0000000000f1';

/** When the prior events were recorded (with milliseconds, to check truncation). */
const EARLIER = new Date('2026-08-01T09:00:00.654Z');
const EARLIER_ISO = '2026-08-01T09:00:00Z';
/** The clock of the command under test. */
const NOW = new Date('2026-08-22T10:00:00.789Z');
const NOW_ISO = '2026-08-22T10:00:00Z';

const ada: ContactRecord = { uuid: ADA, name: 'Ada Lovelace', email: 'ada@example.com' };
const bob: ContactRecord = { uuid: BOB, name: 'Bob Builder' };
const carol: ContactRecord = { uuid: CAROL, name: 'Carol' };
const sam: StaffRecord = { uuid: STAFF_SAM, name: 'Sam Staff', jobTitle: 'Account Manager', employmentType: 'full_time' };

function ctx(
  opts: { now?: Date; contacts?: ContactRecord[]; staff?: StaffRecord[] | null } = {},
): DecideContext {
  const contacts = opts.contacts ?? [ada, bob, carol];
  const staff = opts.staff === undefined ? [sam] : opts.staff;
  return {
    now: opts.now ?? NOW,
    contacts: new Map(contacts.map((c) => [c.uuid, c])),
    staff: staff === null ? null : new Map(staff.map((s) => [s.uuid, s])),
  };
}

const baseAttrs: NormalisedAttrs = {
  contactUuid: ADA,
  interactionType: 'call',
  occurredAt: new Date('2026-08-01T08:30:00Z'),
  subject: 'Kick-off',
  body: 'First call',
  ownerUserUuid: null,
  metadata: {},
};

/** A normalised party; `inputIndex` defaults to its position in the list given to `parties`. */
type P = { rawName: string; contactUuid?: string | null; staffPersonUuid?: string | null; inputIndex?: number };
function parties(...list: P[]): NormalisedParty[] {
  return list.map((p, i) => ({
    rawName: p.rawName,
    contactUuid: p.contactUuid ?? null,
    staffPersonUuid: p.staffPersonUuid ?? null,
    inputIndex: p.inputIndex ?? i,
  }));
}

function create(
  attrs: Partial<NormalisedAttrs> = {},
  partyList: NormalisedParty[] = [],
  fileUuids: string[] = [],
): InteractionCommand {
  return { kind: 'create', interactionUuid: ID, attrs: { ...baseAttrs, ...attrs }, parties: partyList, fileUuids };
}

function update(
  attrs: Partial<NormalisedAttrs>,
  partyList: NormalisedParty[] | null = null,
  expectedVersion?: number,
): InteractionCommand {
  return {
    kind: 'update',
    interactionUuid: ID,
    attrs,
    parties: partyList,
    ...(expectedVersion !== undefined && { expectedVersion }),
  };
}

const del: InteractionCommand = { kind: 'delete', interactionUuid: ID };

// Event builders ------------------------------------------------------------------------------

function logged(overrides: Partial<InteractionLoggedData> = {}): InteractionEvent {
  return {
    type: 'InteractionLogged',
    data: {
      schemaVersion: 1,
      interactionUuid: ID,
      contactUuid: ADA,
      interactionType: 'call',
      occurredAt: '2026-08-01T08:30:00Z',
      subject: 'Kick-off',
      body: 'First call',
      ownerUserUuid: null,
      metadata: {},
      fileUuids: [],
      ...overrides,
    },
  };
}

function rebuilt(partyList: Party[]): InteractionEvent {
  return { type: 'PartiesRebuilt', data: { schemaVersion: 1, interactionUuid: ID, parties: partyList } };
}

function updated(changes: InteractionUpdatedData['changes']): InteractionEvent {
  return { type: 'InteractionUpdated', data: { schemaVersion: 1, interactionUuid: ID, changes } };
}

const deleted: InteractionEvent = { type: 'InteractionDeleted', data: { schemaVersion: 1, interactionUuid: ID } };

function party(
  position: number,
  rawName: string,
  snapshot: PartySnapshot,
  refs: { contactUuid?: string; staffPersonUuid?: string } = {},
): Party {
  return {
    rawName,
    contactUuid: refs.contactUuid ?? null,
    staffPersonUuid: refs.staffPersonUuid ?? null,
    position,
    snapshot,
  };
}

function recorded(event: InteractionEvent, revision: number, recordedAt: Date = EARLIER): RecordedInteractionEvent {
  return { ...event, revision, recordedAt } as RecordedInteractionEvent;
}

// given / when / then -------------------------------------------------------------------------

type ErrorClass = new (...args: never[]) => Error;

/** Prior events get revisions 0, 1, 2 … and are recorded at EARLIER. */
function given(...events: InteractionEvent[]) {
  const state: InteractionState = fold(events.map((e, i) => recorded(e, i)));
  return {
    state,
    when(command: InteractionCommand, context: DecideContext = ctx()) {
      const run = () => decide(command, state, context);
      return {
        then(expected: InteractionEvent[]): InteractionEvent[] {
          const actual = run();
          // toStrictEqual: snapshot keys with no value must be left out, not set to undefined.
          expect(actual).toStrictEqual(expected);
          return actual;
        },
        thenThrows(errorClass: ErrorClass, errors?: Record<string, string[]>): Error {
          let thrown: unknown;
          try {
            run();
          } catch (error) {
            thrown = error;
          }
          expect(thrown).toBeInstanceOf(errorClass);
          if (errors !== undefined) expect((thrown as InteractionValidationError).errors).toEqual(errors);
          return thrown as Error;
        },
      };
    },
  };
}

/** The events of a freshly created interaction with the given parties (snapshots captured EARLIER). */
const existing = (...partyList: Party[]) => [logged(), rebuilt(partyList)];

// ---------------------------------------------------------------------------------------------
// create
// ---------------------------------------------------------------------------------------------

describe('decide: create', () => {
  it('emits InteractionLogged then PartiesRebuilt (schemaVersion 1) even with no parties', () => {
    given()
      .when(
        create(
          {
            interactionType: 'meeting',
            occurredAt: new Date('2026-08-20T14:30:15Z'),
            subject: 'Review',
            body: 'Long notes',
            ownerUserUuid: OWNER,
            metadata: { source: 'import', tags: ['a'] },
          },
          [],
          [FILE],
        ),
      )
      .then([
        {
          type: 'InteractionLogged',
          data: {
            schemaVersion: 1,
            interactionUuid: ID,
            contactUuid: ADA,
            interactionType: 'meeting',
            occurredAt: '2026-08-20T14:30:15Z',
            subject: 'Review',
            body: 'Long notes',
            ownerUserUuid: OWNER,
            metadata: { source: 'import', tags: ['a'] },
            fileUuids: [FILE],
          },
        },
        { type: 'PartiesRebuilt', data: { schemaVersion: 1, interactionUuid: ID, parties: [] } },
      ]);
  });

  it('writes occurredAt as a whole-second UTC ISO string', () => {
    const [event] = given()
      .when(create({ occurredAt: new Date(Date.UTC(2026, 0, 5, 3, 4, 5)) }))
      .then([logged({ occurredAt: '2026-01-05T03:04:05Z' }), rebuilt([])]);
    expect(event?.type === 'InteractionLogged' && event.data.occurredAt).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
  });

  it('rejects an unknown subject contact', () => {
    given()
      .when(create({ contactUuid: UNKNOWN }))
      .thenThrows(InteractionValidationError, { contactUuid: ['does not exist'] });
  });

  it('keys an unknown party contact by the index in the caller input', () => {
    given()
      .when(create({}, parties({ rawName: 'Bob', inputIndex: 0 }, { rawName: 'Ghost', contactUuid: UNKNOWN, inputIndex: 2 })))
      .thenThrows(InteractionValidationError, { 'parties.2.contactUuid': ['does not exist'] });
  });

  it('reports the unknown subject and unknown party contacts together', () => {
    given()
      .when(create({ contactUuid: UNKNOWN }, parties({ rawName: 'Ghost', contactUuid: UNKNOWN })))
      .thenThrows(InteractionValidationError, {
        contactUuid: ['does not exist'],
        'parties.0.contactUuid': ['does not exist'],
      });
  });

  it('does not check staff people for existence', () => {
    given()
      .when(create({}, parties({ rawName: 'Someone', staffPersonUuid: STAFF_UNKNOWN })))
      .then([logged(), rebuilt([party(0, 'Someone', { source: 'staff', capturedAt: NOW_ISO }, { staffPersonUuid: STAFF_UNKNOWN })])]);
  });

  describe('contact snapshot', () => {
    const createWithContact = (contact: ContactRecord) =>
      given().when(create({}, parties({ rawName: 'P', contactUuid: contact.uuid })), ctx({ contacts: [ada, contact] }));

    it('captures name, company fields and capturedAt = now in whole seconds', () => {
      createWithContact({
        uuid: BOB,
        name: 'Bob Builder',
        email: 'bob@example.com',
        company: 'Acme',
        roleInCompany: 'CTO',
        department: 'R&D',
      }).then([
        logged(),
        rebuilt([
          party(
            0,
            'P',
            { source: 'crm_contact', name: 'Bob Builder', company: 'Acme', roleInCompany: 'CTO', department: 'R&D', capturedAt: NOW_ISO },
            { contactUuid: BOB },
          ),
        ]),
      ]);
    });

    it('falls back to the email when the contact has no name', () => {
      createWithContact({ uuid: BOB, name: null, email: 'bob@example.com' }).then([
        logged(),
        rebuilt([party(0, 'P', { source: 'crm_contact', name: 'bob@example.com', capturedAt: NOW_ISO }, { contactUuid: BOB })]),
      ]);
    });

    it('falls back to the email when the name is empty', () => {
      createWithContact({ uuid: BOB, name: '', email: 'bob@example.com' }).then([
        logged(),
        rebuilt([party(0, 'P', { source: 'crm_contact', name: 'bob@example.com', capturedAt: NOW_ISO }, { contactUuid: BOB })]),
      ]);
    });

    it('falls back to "Unnamed" when the contact has neither name nor email', () => {
      createWithContact({ uuid: BOB }).then([
        logged(),
        rebuilt([party(0, 'P', { source: 'crm_contact', name: 'Unnamed', capturedAt: NOW_ISO }, { contactUuid: BOB })]),
      ]);
    });

    it('includes only the company fields that have a value', () => {
      createWithContact({ uuid: BOB, name: 'Bob', company: 'Acme', roleInCompany: null, department: undefined }).then([
        logged(),
        rebuilt([party(0, 'P', { source: 'crm_contact', name: 'Bob', company: 'Acme', capturedAt: NOW_ISO }, { contactUuid: BOB })]),
      ]);
    });

    it('allows the subject contact to be a party too', () => {
      given()
        .when(create({}, parties({ rawName: 'Ada', contactUuid: ADA })))
        .then([
          logged(),
          rebuilt([
            party(0, 'Ada', { source: 'crm_contact', name: 'Ada Lovelace', capturedAt: NOW_ISO }, { contactUuid: ADA }),
          ]),
        ]);
    });
  });

  describe('staff snapshot', () => {
    it('captures name, jobTitle and employmentType from the staff directory', () => {
      given()
        .when(create({}, parties({ rawName: 'Sam', staffPersonUuid: STAFF_SAM })))
        .then([
          logged(),
          rebuilt([
            party(
              0,
              'Sam',
              { source: 'staff', name: 'Sam Staff', jobTitle: 'Account Manager', employmentType: 'full_time', capturedAt: NOW_ISO },
              { staffPersonUuid: STAFF_SAM },
            ),
          ]),
        ]);
    });

    it('leaves out staff fields with no value', () => {
      given()
        .when(create({}, parties({ rawName: 'Sam', staffPersonUuid: STAFF_SAM })), ctx({ staff: [{ uuid: STAFF_SAM, name: 'Sam', jobTitle: null }] }))
        .then([logged(), rebuilt([party(0, 'Sam', { source: 'staff', name: 'Sam', capturedAt: NOW_ISO }, { staffPersonUuid: STAFF_SAM })])]);
    });

    it('is only { source, capturedAt } when no staff directory is configured', () => {
      given()
        .when(create({}, parties({ rawName: 'Sam', staffPersonUuid: STAFF_SAM })), ctx({ staff: null }))
        .then([logged(), rebuilt([party(0, 'Sam', { source: 'staff', capturedAt: NOW_ISO }, { staffPersonUuid: STAFF_SAM })])]);
    });

    it('is only { source, capturedAt } for an unknown staff person', () => {
      given()
        .when(create({}, parties({ rawName: 'Who', staffPersonUuid: STAFF_UNKNOWN })))
        .then([logged(), rebuilt([party(0, 'Who', { source: 'staff', capturedAt: NOW_ISO }, { staffPersonUuid: STAFF_UNKNOWN })])]);
    });
  });

  it('captures a free-text snapshot for a party with no reference', () => {
    given()
      .when(create({}, parties({ rawName: 'Walk-in visitor' })))
      .then([logged(), rebuilt([party(0, 'Walk-in visitor', { source: 'free_text', capturedAt: NOW_ISO })])]);
  });

  it('numbers positions 0..n in order, regardless of gaps in the input indexes', () => {
    given()
      .when(
        create(
          {},
          parties(
            { rawName: 'Bob', contactUuid: BOB, inputIndex: 0 },
            { rawName: 'Walk-in', inputIndex: 2 },
            { rawName: 'Sam', staffPersonUuid: STAFF_SAM, inputIndex: 3 },
          ),
        ),
      )
      .then([
        logged(),
        rebuilt([
          party(0, 'Bob', { source: 'crm_contact', name: 'Bob Builder', capturedAt: NOW_ISO }, { contactUuid: BOB }),
          party(1, 'Walk-in', { source: 'free_text', capturedAt: NOW_ISO }),
          party(
            2,
            'Sam',
            { source: 'staff', name: 'Sam Staff', jobTitle: 'Account Manager', employmentType: 'full_time', capturedAt: NOW_ISO },
            { staffPersonUuid: STAFF_SAM },
          ),
        ]),
      ]);
  });

  it('keeps duplicates as given', () => {
    const bobSnap: PartySnapshot = { source: 'crm_contact', name: 'Bob Builder', capturedAt: NOW_ISO };
    given()
      .when(
        create(
          {},
          parties({ rawName: 'Bob', contactUuid: BOB }, { rawName: 'Bob', contactUuid: BOB }, { rawName: 'X' }, { rawName: 'X' }),
        ),
      )
      .then([
        logged(),
        rebuilt([
          party(0, 'Bob', bobSnap, { contactUuid: BOB }),
          party(1, 'Bob', bobSnap, { contactUuid: BOB }),
          party(2, 'X', { source: 'free_text', capturedAt: NOW_ISO }),
          party(3, 'X', { source: 'free_text', capturedAt: NOW_ISO }),
        ]),
      ]);
  });

  it('refuses to create on a stream that already has events', () => {
    given(...existing()).when(create()).thenThrows(InteractionConflictError);
  });

  it('emits events that satisfy their own schemas', () => {
    const events = decide(
      create(
        { ownerUserUuid: OWNER, metadata: { a: 1 } },
        parties(
          { rawName: 'Bob', contactUuid: BOB },
          { rawName: 'Sam', staffPersonUuid: STAFF_SAM },
          { rawName: 'Free' },
        ),
        [FILE],
      ),
      initialState,
      ctx({ contacts: [ada, { ...bob, company: 'Acme', roleInCompany: 'CTO', department: 'R&D' }] }),
    );
    for (const event of events) expect(parseEvent(event.type, event.data)).toEqual(event);
  });

  it('emits schema-valid events for a 255-character (code points) subject and party name', () => {
    const name = '😀'.repeat(255);
    const events = decide(create({ subject: name }, parties({ rawName: name })), initialState, ctx());
    for (const event of events) expect(() => parseEvent(event.type, event.data)).not.toThrow();
  });
});

// ---------------------------------------------------------------------------------------------
// frozen snapshots
// ---------------------------------------------------------------------------------------------

describe('decide: frozen snapshots', () => {
  const LATER = new Date('2026-09-30T12:00:00.500Z');
  const LATER_ISO = '2026-09-30T12:00:00Z';
  const oldAda: PartySnapshot = { source: 'crm_contact', name: 'Old Name', capturedAt: EARLIER_ISO };
  const renamed = ctx({ now: LATER, contacts: [{ uuid: ADA, name: 'New Name' }, bob] });

  it('keeps the old snapshot of a contact party saved again after the contact was renamed', () => {
    given(...existing(party(0, 'Ada', oldAda, { contactUuid: ADA })))
      .when(update({}, parties({ rawName: 'Walk-in' }, { rawName: 'Ada', contactUuid: ADA })), renamed)
      .then([
        rebuilt([
          party(0, 'Walk-in', { source: 'free_text', capturedAt: LATER_ISO }),
          party(1, 'Ada', oldAda, { contactUuid: ADA }),
        ]),
      ]);
  });

  it('emits nothing when the same contact party is saved again after a rename', () => {
    given(...existing(party(0, 'Ada', oldAda, { contactUuid: ADA })))
      .when(update({}, parties({ rawName: 'Ada', contactUuid: ADA })), renamed)
      .then([]);
  });

  it('uses contact:<uuid> as identity: a new raw name keeps the contact snapshot', () => {
    given(...existing(party(0, 'Ada', oldAda, { contactUuid: ADA })))
      .when(update({}, parties({ rawName: 'Ada L.', contactUuid: ADA })), renamed)
      .then([rebuilt([party(0, 'Ada L.', oldAda, { contactUuid: ADA })])]);
  });

  it('uses staff:<uuid> as identity', () => {
    const oldSam: PartySnapshot = { source: 'staff', name: 'Old Sam', capturedAt: EARLIER_ISO };
    given(...existing(party(0, 'Sam', oldSam, { staffPersonUuid: STAFF_SAM })))
      .when(update({}, parties({ rawName: 'Samuel', staffPersonUuid: STAFF_SAM })), renamed)
      .then([rebuilt([party(0, 'Samuel', oldSam, { staffPersonUuid: STAFF_SAM })])]);
  });

  it('uses raw:<trimmed rawName> as identity for free-text parties', () => {
    const oldFree: PartySnapshot = { source: 'free_text', capturedAt: EARLIER_ISO };
    given(...existing(party(0, 'Walk-in', oldFree)))
      .when(update({}, parties({ rawName: 'Walk-in' }, { rawName: 'Visitor' })), renamed)
      .then([
        rebuilt([
          party(0, 'Walk-in', oldFree),
          party(1, 'Visitor', { source: 'free_text', capturedAt: LATER_ISO }),
        ]),
      ]);
  });

  it('captures a fresh snapshot for a new identity', () => {
    given(...existing(party(0, 'Ada', oldAda, { contactUuid: ADA })))
      .when(update({}, parties({ rawName: 'Ada', contactUuid: BOB })), renamed)
      .then([rebuilt([party(0, 'Ada', { source: 'crm_contact', name: 'Bob Builder', capturedAt: LATER_ISO }, { contactUuid: BOB })])]);
  });

  it('treats a free-text party that gains a contact as a new identity', () => {
    given(...existing(party(0, 'Ada', { source: 'free_text', capturedAt: EARLIER_ISO })))
      .when(update({}, parties({ rawName: 'Ada', contactUuid: ADA })), renamed)
      .then([rebuilt([party(0, 'Ada', { source: 'crm_contact', name: 'New Name', capturedAt: LATER_ISO }, { contactUuid: ADA })])]);
  });

  it('treats a contact party that loses its contact as a new identity', () => {
    given(...existing(party(0, 'Ada', oldAda, { contactUuid: ADA })))
      .when(update({}, parties({ rawName: 'Ada' })), renamed)
      .then([rebuilt([party(0, 'Ada', { source: 'free_text', capturedAt: LATER_ISO })])]);
  });

  it('does not resurrect a snapshot after the party was removed and added back', () => {
    // Removed at one update, then added again: the identity is no longer on the interaction.
    given(...existing(party(0, 'Ada', oldAda, { contactUuid: ADA })), rebuilt([]))
      .when(update({}, parties({ rawName: 'Ada', contactUuid: ADA })), renamed)
      .then([rebuilt([party(0, 'Ada', { source: 'crm_contact', name: 'New Name', capturedAt: LATER_ISO }, { contactUuid: ADA })])]);
  });
});

describe('partyIdentity', () => {
  it('is contact:<uuid> when a contact is set', () => {
    expect(partyIdentity({ rawName: 'x', contactUuid: ADA, staffPersonUuid: null })).toBe(`contact:${ADA}`);
  });
  it('prefers the contact over the staff person', () => {
    expect(partyIdentity({ rawName: 'x', contactUuid: ADA, staffPersonUuid: STAFF_SAM })).toBe(`contact:${ADA}`);
  });
  it('is staff:<uuid> when only a staff person is set', () => {
    expect(partyIdentity({ rawName: 'x', contactUuid: null, staffPersonUuid: STAFF_SAM })).toBe(`staff:${STAFF_SAM}`);
  });
  it('is raw:<trimmed rawName> otherwise', () => {
    expect(partyIdentity({ rawName: '  Walk-in  ', contactUuid: null, staffPersonUuid: null })).toBe('raw:Walk-in');
  });
});

// ---------------------------------------------------------------------------------------------
// update
// ---------------------------------------------------------------------------------------------

describe('decide: update', () => {
  const bobParty = party(0, 'Bob', { source: 'crm_contact', name: 'Bob Builder', capturedAt: EARLIER_ISO }, { contactUuid: BOB });

  it('emits nothing for unchanged attrs and identical parties', () => {
    given(...existing(bobParty))
      .when(
        update(
          {
            contactUuid: ADA,
            interactionType: 'call',
            occurredAt: new Date('2026-08-01T08:30:00Z'),
            subject: 'Kick-off',
            body: 'First call',
            ownerUserUuid: null,
            metadata: {},
          },
          parties({ rawName: 'Bob', contactUuid: BOB }),
        ),
      )
      .then([]);
  });

  it('emits nothing for empty attrs and parties null', () => {
    given(...existing(bobParty)).when(update({})).then([]);
  });

  it('emits one InteractionUpdated with only the changed subject', () => {
    given(...existing(bobParty))
      .when(update({ subject: 'New subject', interactionType: 'call', body: 'First call' }))
      .then([updated({ subject: 'New subject' })]);
  });

  it('puts every changed attribute, and only those, in changes', () => {
    given(...existing())
      .when(
        update({
          contactUuid: BOB,
          interactionType: 'email',
          occurredAt: new Date('2026-08-02T10:11:12Z'),
          subject: null,
          body: 'First call',
          ownerUserUuid: OWNER,
          metadata: { k: 'v' },
        }),
      )
      .then([
        updated({
          contactUuid: BOB,
          interactionType: 'email',
          occurredAt: '2026-08-02T10:11:12Z',
          subject: null,
          ownerUserUuid: OWNER,
          metadata: { k: 'v' },
        }),
      ]);
  });

  it('does not touch the parties when parties is null', () => {
    given(...existing(bobParty))
      .when(update({ subject: 'Changed' }, null), ctx({ now: NOW, contacts: [ada, { uuid: BOB, name: 'Renamed Bob' }] }))
      .then([updated({ subject: 'Changed' })]);
  });

  it('clears the parties with []', () => {
    given(...existing(bobParty)).when(update({}, [])).then([rebuilt([])]);
  });

  it('emits nothing for [] when there were no parties', () => {
    given(...existing()).when(update({}, [])).then([]);
  });

  it('emits InteractionUpdated then PartiesRebuilt when both change', () => {
    given(...existing(bobParty))
      .when(update({ subject: 'S' }, parties({ rawName: 'Carol', contactUuid: CAROL })))
      .then([
        updated({ subject: 'S' }),
        rebuilt([party(0, 'Carol', { source: 'crm_contact', name: 'Carol', capturedAt: NOW_ISO }, { contactUuid: CAROL })]),
      ]);
  });

  it('emits PartiesRebuilt when only the order changes', () => {
    const free = party(1, 'Walk-in', { source: 'free_text', capturedAt: EARLIER_ISO });
    given(...existing(bobParty, free))
      .when(update({}, parties({ rawName: 'Walk-in' }, { rawName: 'Bob', contactUuid: BOB })))
      .then([rebuilt([{ ...free, position: 0 }, { ...bobParty, position: 1 }])]);
  });

  it('emits nothing when occurredAt is set to the same instant', () => {
    given(...existing()).when(update({ occurredAt: new Date('2026-08-01T08:30:00.000Z') })).then([]);
  });

  it('emits the new occurredAt as whole-second ISO', () => {
    given(...existing())
      .when(update({ occurredAt: new Date('2026-08-03T07:06:05Z') }))
      .then([updated({ occurredAt: '2026-08-03T07:06:05Z' })]);
  });

  it('may change the subject contact to a known contact', () => {
    given(...existing()).when(update({ contactUuid: CAROL })).then([updated({ contactUuid: CAROL })]);
  });

  it('rejects changing the subject contact to an unknown contact', () => {
    given(...existing())
      .when(update({ contactUuid: UNKNOWN }))
      .thenThrows(InteractionValidationError, { contactUuid: ['does not exist'] });
  });

  it('rejects an unknown party contact, keyed by input index', () => {
    given(...existing())
      .when(update({}, parties({ rawName: 'Ghost', contactUuid: UNKNOWN, inputIndex: 3 })))
      .thenThrows(InteractionValidationError, { 'parties.3.contactUuid': ['does not exist'] });
  });

  it('throws InteractionNotFoundError for a stream that was never created', () => {
    given().when(update({ subject: 'x' })).thenThrows(InteractionNotFoundError);
  });

  it('throws InteractionNotFoundError after InteractionDeleted', () => {
    given(...existing(), deleted).when(update({ subject: 'x' })).thenThrows(InteractionNotFoundError);
  });

  it('throws InteractionConflictError when expectedVersion does not match', () => {
    // existing() is at revision 1.
    const error = given(...existing())
      .when(update({ subject: 'x' }, null, 0))
      .thenThrows(InteractionConflictError) as InteractionConflictError;
    expect(error.expectedVersion).toBe(0);
    expect(error.actualVersion).toBe(1);
  });

  it('proceeds when expectedVersion matches', () => {
    given(...existing()).when(update({ subject: 'x' }, null, 1)).then([updated({ subject: 'x' })]);
  });
});

// ---------------------------------------------------------------------------------------------
// delete
// ---------------------------------------------------------------------------------------------

describe('decide: delete', () => {
  it('emits InteractionDeleted', () => {
    given(...existing()).when(del).then([deleted]);
  });

  it('throws InteractionNotFoundError for a stream that was never created', () => {
    given().when(del).thenThrows(InteractionNotFoundError);
  });

  it('throws InteractionNotFoundError after InteractionDeleted', () => {
    given(...existing(), deleted).when(del).thenThrows(InteractionNotFoundError);
  });
});

// ---------------------------------------------------------------------------------------------
// evolve / fold
// ---------------------------------------------------------------------------------------------

describe('evolve / fold', () => {
  const T0 = new Date('2026-08-01T09:00:00.654Z');
  const T1 = new Date('2026-08-05T11:22:33.999Z');
  const T2 = new Date('2026-08-06T00:00:01.001Z');
  const bobParty = party(0, 'Bob', { source: 'crm_contact', name: 'Bob Builder', capturedAt: EARLIER_ISO }, { contactUuid: BOB });

  it('starts from an empty state', () => {
    expect(fold([])).toEqual({ interaction: null, deleted: false, version: -1 });
    expect(initialState).toEqual({ interaction: null, deleted: false, version: -1 });
  });

  it('builds the interaction from InteractionLogged and PartiesRebuilt', () => {
    const state = fold([recorded(logged({ fileUuids: [FILE], ownerUserUuid: OWNER }), 0, T0), recorded(rebuilt([bobParty]), 1, T0)]);
    expect(state).toEqual({
      deleted: false,
      version: 1,
      interaction: {
        uuid: ID,
        contactUuid: ADA,
        interactionType: 'call',
        occurredAt: new Date('2026-08-01T08:30:00Z'),
        subject: 'Kick-off',
        body: 'First call',
        ownerUserUuid: OWNER,
        metadata: {},
        fileUuids: [FILE],
        insertedAt: new Date('2026-08-01T09:00:00Z'),
        updatedAt: new Date('2026-08-01T09:00:00Z'),
        version: 1,
        parties: [bobParty],
      },
    });
  });

  it('sets insertedAt/updatedAt to recordedAt truncated to the second and version to the revision', () => {
    const state = evolve(initialState, recorded(logged(), 7, T0));
    expect(state.version).toBe(7);
    expect(state.interaction?.version).toBe(7);
    expect(state.interaction?.insertedAt).toEqual(new Date('2026-08-01T09:00:00Z'));
    expect(state.interaction?.updatedAt).toEqual(new Date('2026-08-01T09:00:00Z'));
  });

  it('applies only the changed keys of InteractionUpdated and bumps updatedAt and version', () => {
    const before = fold([recorded(logged(), 0, T0), recorded(rebuilt([bobParty]), 1, T0)]);
    const after = evolve(before, recorded(updated({ subject: 'Changed', occurredAt: '2026-08-04T01:02:03Z' }), 2, T1));
    expect(after).toEqual({
      deleted: false,
      version: 2,
      interaction: {
        ...before.interaction,
        subject: 'Changed',
        occurredAt: new Date('2026-08-04T01:02:03Z'),
        updatedAt: new Date('2026-08-05T11:22:33Z'),
        version: 2,
      },
    });
    expect(after.interaction?.occurredAt).toBeInstanceOf(Date);
    expect(after.interaction?.insertedAt).toEqual(new Date('2026-08-01T09:00:00Z'));
  });

  it('replaces the parties on PartiesRebuilt', () => {
    const before = fold([recorded(logged(), 0, T0), recorded(rebuilt([bobParty]), 1, T0)]);
    const after = evolve(before, recorded(rebuilt([]), 2, T1));
    expect(after.interaction?.parties).toEqual([]);
    expect(after.interaction?.updatedAt).toEqual(new Date('2026-08-05T11:22:33Z'));
    expect(after.version).toBe(2);
  });

  it('sets the deleted flag on InteractionDeleted and keeps the interaction', () => {
    const before = fold([recorded(logged(), 0, T0), recorded(rebuilt([bobParty]), 1, T0)]);
    const after = evolve(before, recorded(deleted, 2, T2));
    expect(after.deleted).toBe(true);
    expect(after.version).toBe(2);
    expect(after.interaction).toEqual(before.interaction);
  });

  it('folds a prefix for point-in-time reads', () => {
    const events = [recorded(logged(), 0, T0), recorded(rebuilt([bobParty]), 1, T0), recorded(updated({ subject: 'Later' }), 2, T1)];
    expect(fold(events.slice(0, 2)).interaction?.subject).toBe('Kick-off');
    expect(fold(events).interaction?.subject).toBe('Later');
  });

  it('replays decided events into the state a query would return', () => {
    const events = decide(create({}, parties({ rawName: 'Bob', contactUuid: BOB })), initialState, ctx());
    const state = fold(events.map((e, i) => recorded(e, i, NOW)));
    expect(state.interaction?.parties).toEqual([
      party(0, 'Bob', { source: 'crm_contact', name: 'Bob Builder', capturedAt: NOW_ISO }, { contactUuid: BOB }),
    ]);
    expect(state.interaction?.insertedAt).toEqual(new Date(NOW_ISO));
    expect(state.version).toBe(1);
  });
});

// ---------------------------------------------------------------------------------------------
// involvedContactUuids
// ---------------------------------------------------------------------------------------------

describe('involvedContactUuids', () => {
  const p = (contactUuid: string | null): Party => ({
    rawName: 'x',
    contactUuid,
    staffPersonUuid: null,
    position: 0,
    snapshot: { source: 'free_text', capturedAt: NOW_ISO },
  });

  it('lists the subject and every party contact, without nulls or duplicates', () => {
    expect(involvedContactUuids({ contactUuid: ADA, parties: [p(BOB), p(null), p(ADA), p(BOB)] })).toEqual([ADA, BOB]);
  });

  it('keeps first-seen order across the before and after states', () => {
    const before = { contactUuid: ADA, parties: [p(BOB)] };
    const after = { contactUuid: CAROL, parties: [p(null), p(BOB), p(UNKNOWN)] };
    expect(involvedContactUuids(before, after)).toEqual([ADA, BOB, CAROL, UNKNOWN]);
  });

  it('skips a missing state', () => {
    expect(involvedContactUuids(null, { contactUuid: BOB, parties: [] }, undefined)).toEqual([BOB]);
  });
});
