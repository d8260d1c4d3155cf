import {
  CURRENT_SCHEMA_VERSION,
  EventUpcaster,
  InteractionLoggedData,
  InvalidEventError,
  parseEvent,
  registerUpcaster,
  unregisterUpcaster,
} from '../../src/domain/events';

/**
 * The upcaster chain of parseEvent: stored events of an older schemaVersion are read in the current shape
 * by every reader. The v0 InteractionLogged is a fixture of the module's own chain (see events.ts).
 */
const INTERACTION = '0190d8a2-5a7e-7cc1-8f3e-1a2b3c4d5e6f';
const CONTACT = '0190d8a2-5a7e-7cc1-8f3e-aaaaaaaaaaaa';

/** An InteractionLogged as a pre-release deploy wrote it: `kind` for the type, no file list. */
const LOGGED_V0 = {
  schemaVersion: 0,
  interactionUuid: INTERACTION,
  contactUuid: CONTACT,
  kind: 'meeting',
  occurredAt: '2025-11-03T09:30:00Z',
  subject: 'Kick-off',
  body: null,
  ownerUserUuid: null,
  metadata: { source: 'import' },
};

const LOGGED_V1: InteractionLoggedData = {
  schemaVersion: 1,
  interactionUuid: INTERACTION,
  contactUuid: CONTACT,
  interactionType: 'meeting',
  occurredAt: '2025-11-03T09:30:00Z',
  subject: 'Kick-off',
  body: null,
  ownerUserUuid: null,
  metadata: { source: 'import' },
  fileUuids: [],
};

const UPDATED_V0 = { schemaVersion: 0, interactionUuid: INTERACTION, changes: { kind: 'call', subject: 'Renamed' } };

/** A fix a host might ship: v0 InteractionUpdated used `kind` too. */
const updatedV0ToV1: EventUpcaster = {
  eventType: 'InteractionUpdated',
  fromVersion: 0,
  upcast: ({ changes, ...rest }) => {
    const { kind, ...others } = changes as Record<string, unknown>;
    return { ...rest, schemaVersion: 1, changes: { ...others, ...(kind !== undefined && { interactionType: kind }) } };
  },
};

describe('upcasting in parseEvent', () => {
  afterEach(() => unregisterUpcaster(updatedV0ToV1));

  it('reads the v0 InteractionLogged fixture as v1, and leaves current events untouched', () => {
    expect(CURRENT_SCHEMA_VERSION).toBe(1);
    expect(parseEvent('InteractionLogged', LOGGED_V0)).toEqual({ type: 'InteractionLogged', data: LOGGED_V1 });
    expect(parseEvent('InteractionLogged', { ...LOGGED_V0, files: [CONTACT] }).data).toEqual({ ...LOGGED_V1, fileUuids: [CONTACT] });
    expect(parseEvent('InteractionLogged', LOGGED_V1)).toEqual({ type: 'InteractionLogged', data: LOGGED_V1 });
    // The stored object is not changed by reading it.
    expect(LOGGED_V0).toHaveProperty('kind', 'meeting');
  });

  it('a v0 event that upcasts to invalid data fails the schema check after upcasting', () => {
    expect(() => parseEvent('InteractionLogged', { ...LOGGED_V0, kind: 'fax' })).toThrow(InvalidEventError);
    expect(() => parseEvent('InteractionLogged', { ...LOGGED_V0, kind: 'fax' })).toThrow(/interactionType/);
  });

  it('an older version without an upcaster is an InvalidEventError naming the version; registering one fixes it', () => {
    expect(() => parseEvent('InteractionUpdated', UPDATED_V0)).toThrow(/no upcaster from schemaVersion 0/);
    registerUpcaster(updatedV0ToV1);
    expect(parseEvent('InteractionUpdated', UPDATED_V0).data).toEqual({
      schemaVersion: 1,
      interactionUuid: INTERACTION,
      changes: { subject: 'Renamed', interactionType: 'call' },
    });
    unregisterUpcaster(updatedV0ToV1);
    expect(() => parseEvent('InteractionUpdated', UPDATED_V0)).toThrow(InvalidEventError);
  });

  it('a replacement of a built-in link is removed again and the built-in comes back', () => {
    const replacement: EventUpcaster = {
      eventType: 'InteractionLogged',
      fromVersion: 0,
      upcast: (data) => ({ ...LOGGED_V1, ...data, schemaVersion: 1, kind: undefined, interactionType: 'note' }),
    };
    const remove = registerUpcaster(replacement);
    expect(() => parseEvent('InteractionLogged', LOGGED_V0)).toThrow(InvalidEventError); // strict: `kind` is unknown
    remove();
    expect(parseEvent('InteractionLogged', LOGGED_V0).data).toEqual(LOGGED_V1);
  });

  it('an upcaster that throws, or does not move the version on by one, is an InvalidEventError', () => {
    const throwing: EventUpcaster = { ...updatedV0ToV1, upcast: () => { throw new Error('cannot read this'); } };
    const remove = registerUpcaster(throwing);
    expect(() => parseEvent('InteractionUpdated', UPDATED_V0)).toThrow(/upcaster from schemaVersion 0 failed: cannot read this/);
    remove();
    const stuck = registerUpcaster({ ...updatedV0ToV1, upcast: (data) => data });
    expect(() => parseEvent('InteractionUpdated', UPDATED_V0)).toThrow(/did not produce schemaVersion 1/);
    stuck();
  });

  it('a version from the future, a missing version or non-object data fail the schema check', () => {
    expect(() => parseEvent('InteractionLogged', { ...LOGGED_V1, schemaVersion: 2 })).toThrow(InvalidEventError);
    expect(() => parseEvent('InteractionLogged', { ...LOGGED_V1, schemaVersion: undefined })).toThrow(InvalidEventError);
    expect(() => parseEvent('InteractionLogged', null)).toThrow(InvalidEventError);
    expect(() => parseEvent('InteractionLogged', [LOGGED_V1])).toThrow(InvalidEventError);
    expect(() => parseEvent('InteractionLogged', { ...LOGGED_V0, schemaVersion: -1 })).toThrow(InvalidEventError);
  });

  it('registerUpcaster refuses an unknown event type or a version outside the chain', () => {
    expect(() => registerUpcaster({ ...updatedV0ToV1, eventType: 'Nope' as never })).toThrow(/unknown event type/);
    expect(() => registerUpcaster({ ...updatedV0ToV1, fromVersion: 1 })).toThrow(/fromVersion/);
    expect(() => registerUpcaster({ ...updatedV0ToV1, fromVersion: 0.5 })).toThrow(/fromVersion/);
  });

  it('registerUpcaster refuses what is not an upcaster (a host module file is not type-checked), keeping the chain', () => {
    expect(() => registerUpcaster(null as never)).toThrow(/registerUpcaster: an upcaster must be an object/);
    expect(() => registerUpcaster({ eventType: 'InteractionLogged', fromVersion: 0 } as never)).toThrow(/upcast must be a function/);
    expect(parseEvent('InteractionLogged', LOGGED_V0)).toMatchObject({ data: { schemaVersion: CURRENT_SCHEMA_VERSION } });
  });
});
