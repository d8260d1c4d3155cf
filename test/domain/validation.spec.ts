import { InteractionValidationError } from '../../src/domain/errors';
import {
  MAX_PAGE_SIZE,
  MESSAGES,
  NormalisedAttrs,
  unwrapAll,
  validateAttrs,
  validateExpectedVersion,
  validateFileUuids,
  validateLimit,
  validateParties,
} from '../../src/domain/validation';

const ADA = '01900000-0000-7000-8000-0000000000a1';
const BOB = '01900000-0000-7000-8000-0000000000b2';
const STAFF = '01900000-0000-7000-8000-0000000005a1';
const OWNER = '01900000-0000-7000-8000-0000000000e1';
const FILE_1 = '01900000-0000-7000-8000-0000000000f1';
const FILE_2 = '550e8400-e29b-41d4-a716-446655440000';

const NOW = new Date('2026-08-22T10:00:00.789Z');
const NOW_TRUNCATED = new Date('2026-08-22T10:00:00.000Z');

const TYPE_MESSAGE = 'must be one of: call, email, meeting, note, other';

type Result<T> = { ok: true; value: T } | { ok: false; errors: Record<string, string[]> };

function valueOf<T>(result: Result<T>): T {
  if (!result.ok) throw new Error(`expected ok, got errors ${JSON.stringify(result.errors)}`);
  return result.value;
}

function errorsOf<T>(result: Result<T>): Record<string, string[]> {
  if (result.ok) throw new Error(`expected errors, got value ${JSON.stringify(result.value)}`);
  return result.errors;
}

const create = (input: Record<string, unknown>) => validateAttrs({ contactUuid: ADA, ...input }, 'create', NOW);
const createValue = (input: Record<string, unknown>) => valueOf(create(input));
const createErrors = (input: Record<string, unknown>) => errorsOf(create(input));
const updateValue = (input: Record<string, unknown>) => valueOf(validateAttrs(input, 'update', NOW));
const updateErrors = (input: Record<string, unknown>) => errorsOf(validateAttrs(input, 'update', NOW));

describe('MESSAGES', () => {
  it('uses the messages of CONTRACT.md', () => {
    expect(MESSAGES.interactionType).toBe(TYPE_MESSAGE);
    expect(MESSAGES.doesNotExist).toBe('does not exist');
    expect(MESSAGES.bothResolved).toBe('cannot resolve to both a contact and a staff person');
  });
});

describe('validateAttrs (create)', () => {
  it('fills every default for a minimal input', () => {
    const value = valueOf(validateAttrs({ contactUuid: ADA }, 'create', NOW));
    expect(value).toEqual<NormalisedAttrs>({
      contactUuid: ADA,
      interactionType: 'note',
      occurredAt: NOW_TRUNCATED,
      subject: null,
      body: null,
      ownerUserUuid: null,
      metadata: {},
    });
  });

  it('keeps a complete valid input', () => {
    const value = createValue({
      interactionType: 'meeting',
      occurredAt: '2026-08-20T14:30:15Z',
      subject: 'Review',
      body: 'Notes',
      ownerUserUuid: OWNER,
      metadata: { source: 'import', nested: { a: [1, 2] } },
    });
    expect(value).toEqual<NormalisedAttrs>({
      contactUuid: ADA,
      interactionType: 'meeting',
      occurredAt: new Date('2026-08-20T14:30:15Z'),
      subject: 'Review',
      body: 'Notes',
      ownerUserUuid: OWNER,
      metadata: { source: 'import', nested: { a: [1, 2] } },
    });
  });

  it('collects the errors of several fields at once', () => {
    expect(
      errorsOf(
        validateAttrs({ interactionType: 'bogus', occurredAt: 'nope', subject: 'x'.repeat(256), metadata: [] }, 'create', NOW),
      ),
    ).toEqual({
      contactUuid: ['is required'],
      interactionType: [TYPE_MESSAGE],
      occurredAt: ['is not a valid date'],
      subject: ['must be at most 255 characters'],
      metadata: ['must be an object'],
    });
  });

  describe('contactUuid', () => {
    it.each([
      ['missing', {}],
      ['null', { contactUuid: null }],
      ['empty', { contactUuid: '' }],
    ])('is required when %s', (_label, input) => {
      expect(errorsOf(validateAttrs(input, 'create', NOW))).toEqual({ contactUuid: ['is required'] });
    });

    it('is required when the attrs are undefined', () => {
      expect(errorsOf(validateAttrs(undefined, 'create', NOW))).toEqual({ contactUuid: ['is required'] });
    });

    it.each(['not-a-uuid', '01900000-0000-7000-8000-0000000000a', 42, {}])('rejects the malformed %p', (contactUuid) => {
      expect(createErrors({ contactUuid })).toEqual({ contactUuid: ['is not a valid UUID'] });
    });
  });

  describe('interactionType', () => {
    it.each(['call', 'email', 'meeting', 'note', 'other'])('accepts %s', (interactionType) => {
      expect(createValue({ interactionType }).interactionType).toBe(interactionType);
    });

    it.each([
      ['missing', undefined],
      ['null', null],
      ['""', ''],
    ])('defaults to note when %s', (_label, interactionType) => {
      expect(createValue({ interactionType }).interactionType).toBe('note');
    });

    it.each(['bogus', 'CALL', 42, ['call']])('rejects %p with exactly the contract message', (interactionType) => {
      expect(createErrors({ interactionType })).toEqual({ interactionType: [TYPE_MESSAGE] });
    });
  });

  describe('occurredAt', () => {
    it.each([
      ['missing', undefined],
      ['null', null],
      ['""', ''],
    ])('becomes now truncated to the second when %s', (_label, occurredAt) => {
      expect(createValue({ occurredAt }).occurredAt).toEqual(NOW_TRUNCATED);
    });

    it('accepts a Date and truncates it to the second', () => {
      expect(createValue({ occurredAt: new Date('2026-08-20T14:30:15.999Z') }).occurredAt).toEqual(
        new Date('2026-08-20T14:30:15.000Z'),
      );
    });

    it.each([
      ['with Z', '2026-08-20T14:30:15Z', '2026-08-20T14:30:15.000Z'],
      ['with a +02:00 offset (converted to UTC)', '2026-08-20T14:30:15+02:00', '2026-08-20T12:30:15.000Z'],
      ['with a -05:30 offset (converted to UTC)', '2026-08-20T14:30:15-05:30', '2026-08-20T20:00:15.000Z'],
      ['without an offset (treated as UTC)', '2026-08-20T14:30:15', '2026-08-20T14:30:15.000Z'],
      ['with milliseconds (truncated)', '2026-08-20T14:30:15.678Z', '2026-08-20T14:30:15.000Z'],
      ['with milliseconds and no offset', '2026-08-20T14:30:15.678', '2026-08-20T14:30:15.000Z'],
    ])('accepts an ISO string %s', (_label, occurredAt, expected) => {
      const value = createValue({ occurredAt }).occurredAt;
      expect(value).toBeInstanceOf(Date);
      expect(value?.toISOString()).toBe(expected);
    });

    it('always returns whole seconds', () => {
      expect(createValue({ occurredAt: '2026-08-20T14:30:15.001+01:00' }).occurredAt?.getUTCMilliseconds()).toBe(0);
    });

    it.each([
      ['garbage', 'yesterday'],
      ['an impossible date', '2026-13-45T00:00:00Z'],
      ['an invalid Date', new Date('invalid')],
      ['a number', 1755856800000],
      ['an object', {}],
    ])('rejects %s', (_label, occurredAt) => {
      expect(createErrors({ occurredAt })).toEqual({ occurredAt: ['is not a valid date'] });
    });
  });

  describe('subject', () => {
    it('defaults to null', () => {
      expect(createValue({}).subject).toBeNull();
      expect(createValue({ subject: null }).subject).toBeNull();
    });

    it('accepts 255 characters', () => {
      expect(createValue({ subject: 'a'.repeat(255) }).subject).toBe('a'.repeat(255));
    });

    it('rejects 256 characters', () => {
      expect(createErrors({ subject: 'a'.repeat(256) })).toEqual({ subject: ['must be at most 255 characters'] });
    });

    it('counts code points: 255 emoji are fine', () => {
      const subject = '😀'.repeat(255);
      expect(createValue({ subject }).subject).toBe(subject);
    });

    it('counts code points: 256 emoji are too many', () => {
      expect(createErrors({ subject: '😀'.repeat(256) })).toEqual({ subject: ['must be at most 255 characters'] });
    });

    it.each([42, {}, ['a'], true])('rejects the non-string %p', (subject) => {
      expect(createErrors({ subject })).toEqual({ subject: [MESSAGES.string] });
    });
  });

  describe('body', () => {
    it('defaults to null', () => {
      expect(createValue({}).body).toBeNull();
      expect(createValue({ body: null }).body).toBeNull();
    });

    it('has no length limit', () => {
      const body = 'b'.repeat(10000);
      expect(createValue({ body }).body).toBe(body);
    });

    it('rejects a non-string', () => {
      expect(createErrors({ body: 42 })).toEqual({ body: [MESSAGES.string] });
    });
  });

  describe('ownerUserUuid', () => {
    it('is optional', () => {
      expect(createValue({}).ownerUserUuid).toBeNull();
      expect(createValue({ ownerUserUuid: null }).ownerUserUuid).toBeNull();
    });

    it('treats "" as null', () => {
      expect(createValue({ ownerUserUuid: '' }).ownerUserUuid).toBeNull();
    });

    it('keeps a valid uuid', () => {
      expect(createValue({ ownerUserUuid: OWNER }).ownerUserUuid).toBe(OWNER);
    });

    it.each(['not-a-uuid', 42, { uuid: OWNER }])('reports the malformed %p as an error, without crashing', (ownerUserUuid) => {
      expect(createErrors({ ownerUserUuid })).toEqual({ ownerUserUuid: ['is not a valid UUID'] });
    });
  });

  describe('metadata', () => {
    it('defaults to {}', () => {
      expect(createValue({}).metadata).toEqual({});
      expect(createValue({ metadata: null }).metadata).toEqual({});
    });

    it('keeps an object', () => {
      expect(createValue({ metadata: { a: 1, b: { c: [true] } } }).metadata).toEqual({ a: 1, b: { c: [true] } });
    });

    it.each([
      ['an array', []],
      ['an array of objects', [{ a: 1 }]],
      ['a string', 'meta'],
      ['a number', 42],
      ['a boolean', true],
      ['a Date', new Date()],
    ])('rejects %s', (_label, metadata) => {
      expect(createErrors({ metadata })).toEqual({ metadata: ['must be an object'] });
    });
  });
});

describe('validateAttrs (update)', () => {
  it('returns nothing for an empty input', () => {
    expect(updateValue({})).toEqual({});
    expect(valueOf(validateAttrs(undefined, 'update', NOW))).toEqual({});
  });

  it('returns only the keys that are present', () => {
    const value = updateValue({ subject: 'New' });
    expect(value).toEqual({ subject: 'New' });
    expect(Object.keys(value)).toEqual(['subject']);
  });

  it('treats a key set to undefined as absent', () => {
    expect(updateValue({ subject: undefined, occurredAt: undefined })).toEqual({});
  });

  it('leaves occurredAt out when the key is absent', () => {
    expect('occurredAt' in updateValue({ body: 'x' })).toBe(false);
  });

  it.each([
    ['null', null],
    ['""', ''],
  ])('sets occurredAt to now truncated to the second when it is %s', (_label, occurredAt) => {
    expect(updateValue({ occurredAt })).toEqual({ occurredAt: NOW_TRUNCATED });
  });

  it('normalises a present occurredAt', () => {
    expect(updateValue({ occurredAt: '2026-08-20T14:30:15.500+02:00' })).toEqual({
      occurredAt: new Date('2026-08-20T12:30:15Z'),
    });
  });

  it('rejects an invalid occurredAt', () => {
    expect(updateErrors({ occurredAt: 'nope' })).toEqual({ occurredAt: ['is not a valid date'] });
  });

  it('may change the subject contact, which must be a valid uuid', () => {
    expect(updateValue({ contactUuid: BOB })).toEqual({ contactUuid: BOB });
    expect(updateErrors({ contactUuid: 'nope' })).toEqual({ contactUuid: ['is not a valid UUID'] });
  });

  it('does not accept clearing the subject contact', () => {
    expect(updateErrors({ contactUuid: null })).toEqual({ contactUuid: ['is required'] });
  });

  it('validates the present fields with the create rules', () => {
    expect(
      updateErrors({ interactionType: 'bogus', subject: 'x'.repeat(256), ownerUserUuid: 'x', metadata: 'x' }),
    ).toEqual({
      interactionType: [TYPE_MESSAGE],
      subject: ['must be at most 255 characters'],
      ownerUserUuid: ['is not a valid UUID'],
      metadata: ['must be an object'],
    });
  });

  it('clears subject, body and owner with null, and metadata to {}', () => {
    expect(updateValue({ subject: null, body: null, ownerUserUuid: null, metadata: null })).toEqual({
      subject: null,
      body: null,
      ownerUserUuid: null,
      metadata: {},
    });
  });
});

describe('validateParties', () => {
  it('returns [] for undefined, null and []', () => {
    expect(valueOf(validateParties(undefined))).toEqual([]);
    expect(valueOf(validateParties(null))).toEqual([]);
    expect(valueOf(validateParties([]))).toEqual([]);
  });

  it('trims the raw name and normalises references', () => {
    expect(
      valueOf(
        validateParties([
          { rawName: '  Bob  ', contactUuid: BOB },
          { rawName: 'Sam', staffPersonUuid: STAFF, contactUuid: null },
          { rawName: 'Walk-in', contactUuid: '', staffPersonUuid: '' },
        ]),
      ),
    ).toEqual([
      { rawName: 'Bob', contactUuid: BOB, staffPersonUuid: null, inputIndex: 0 },
      { rawName: 'Sam', contactUuid: null, staffPersonUuid: STAFF, inputIndex: 1 },
      { rawName: 'Walk-in', contactUuid: null, staffPersonUuid: null, inputIndex: 2 },
    ]);
  });

  it('drops blank, whitespace-only, null and missing raw names silently, keeping the input index', () => {
    expect(
      valueOf(
        validateParties([
          { rawName: '' },
          { rawName: 'A' },
          { rawName: '   \t\n ' },
          { rawName: null, contactUuid: BOB },
          { contactUuid: BOB },
          { rawName: 'B' },
        ]),
      ),
    ).toEqual([
      { rawName: 'A', contactUuid: null, staffPersonUuid: null, inputIndex: 1 },
      { rawName: 'B', contactUuid: null, staffPersonUuid: null, inputIndex: 5 },
    ]);
  });

  it('drops a blank party even when its references are malformed', () => {
    expect(valueOf(validateParties([{ rawName: ' ', contactUuid: 'nope' }]))).toEqual([]);
  });

  it('keeps duplicates', () => {
    expect(valueOf(validateParties([{ rawName: 'Bob', contactUuid: BOB }, { rawName: 'Bob', contactUuid: BOB }]))).toHaveLength(2);
  });

  it('accepts a 255-character name, also after trimming and also in code points', () => {
    expect(valueOf(validateParties([{ rawName: `  ${'a'.repeat(255)}  ` }]))[0]?.rawName).toBe('a'.repeat(255));
    expect(valueOf(validateParties([{ rawName: '😀'.repeat(255) }]))[0]?.rawName).toBe('😀'.repeat(255));
  });

  it('rejects a name over 255 characters under parties.N.rawName', () => {
    expect(errorsOf(validateParties([{ rawName: 'ok' }, { rawName: 'x'.repeat(256) }]))).toEqual({
      'parties.1.rawName': ['must be at most 255 characters'],
    });
  });

  it('uses the index in the caller input list, counting dropped blanks', () => {
    expect(errorsOf(validateParties([{ rawName: '' }, { rawName: ' ' }, { rawName: 'x'.repeat(256) }]))).toEqual({
      'parties.2.rawName': ['must be at most 255 characters'],
    });
  });

  it('rejects a party with both a contact and a staff person on its contactUuid', () => {
    expect(errorsOf(validateParties([{ rawName: 'A' }, { rawName: 'Both', contactUuid: BOB, staffPersonUuid: STAFF }]))).toEqual({
      'parties.1.contactUuid': ['cannot resolve to both a contact and a staff person'],
    });
  });

  it('rejects malformed party uuids', () => {
    expect(
      errorsOf(
        validateParties([
          { rawName: 'A', contactUuid: 'nope' },
          { rawName: 'B', staffPersonUuid: 'nope' },
          { rawName: 'C', contactUuid: 7 },
        ]),
      ),
    ).toEqual({
      'parties.0.contactUuid': ['is not a valid UUID'],
      'parties.1.staffPersonUuid': ['is not a valid UUID'],
      'parties.2.contactUuid': ['is not a valid UUID'],
    });
  });

  it.each([
    ['a string', 'Bob'],
    ['an object', { rawName: 'Bob' }],
    ['a number', 3],
  ])('rejects parties that are %s', (_label, input) => {
    expect(Object.keys(errorsOf(validateParties(input)))).toEqual(['parties']);
  });

  it.each([
    ['null', null],
    ['a string', 'Bob'],
    ['a number', 42],
    ['an array', [{ rawName: 'Bob' }]],
  ])('rejects a party that is %s under parties.N', (_label, item) => {
    const errors = errorsOf(validateParties([{ rawName: 'ok' }, item]));
    expect(Object.keys(errors)).toHaveLength(1);
    expect(Object.keys(errors)[0]).toMatch(/^parties\.1(\.|$)/);
  });

  it('rejects a non-string raw name', () => {
    expect(Object.keys(errorsOf(validateParties([{ rawName: 42 }])))).toEqual(['parties.0.rawName']);
  });

  it('collects the errors of every party', () => {
    expect(
      Object.keys(
        errorsOf(validateParties([{ rawName: 'x'.repeat(300) }, { rawName: 'ok' }, { rawName: 'B', contactUuid: 'bad' }])),
      ),
    ).toEqual(['parties.0.rawName', 'parties.2.contactUuid']);
  });
});

describe('validateFileUuids', () => {
  it('defaults to []', () => {
    expect(valueOf(validateFileUuids(undefined))).toEqual([]);
    expect(valueOf(validateFileUuids(null))).toEqual([]);
  });

  it('keeps a list of uuids in order', () => {
    expect(valueOf(validateFileUuids([FILE_2, FILE_1]))).toEqual([FILE_2, FILE_1]);
  });

  it.each([
    ['an invalid element', [FILE_1, 'nope']],
    ['a non-string element', [42]],
    ['a string', FILE_1],
    ['an object', { 0: FILE_1 }],
  ])('rejects %s under fileUuids', (_label, input) => {
    expect(Object.keys(errorsOf(validateFileUuids(input)))).toEqual(['fileUuids']);
  });
});

describe('validateLimit', () => {
  it('means no limit when absent', () => {
    expect(valueOf(validateLimit(undefined))).toBeNull();
    expect(valueOf(validateLimit(null))).toBeNull();
  });

  it.each([1, 50, MAX_PAGE_SIZE])('accepts %p', (limit) => {
    expect(valueOf(validateLimit(limit))).toBe(limit);
  });

  it.each([0, -1, 1.5, MAX_PAGE_SIZE + 1, '10', NaN])('rejects %p under limit', (limit) => {
    expect(Object.keys(errorsOf(validateLimit(limit)))).toEqual(['limit']);
  });
});

describe('validateExpectedVersion', () => {
  it('is undefined when absent', () => {
    expect(valueOf(validateExpectedVersion(undefined))).toBeUndefined();
    expect(valueOf(validateExpectedVersion(null))).toBeUndefined();
  });

  it.each([0, 1, 42])('accepts %p', (version) => {
    expect(valueOf(validateExpectedVersion(version))).toBe(version);
  });

  it.each([-1, 1.5, '3', NaN, {}])('rejects %p under expectedVersion', (version) => {
    expect(Object.keys(errorsOf(validateExpectedVersion(version)))).toEqual(['expectedVersion']);
  });
});

describe('unwrapAll', () => {
  it('returns every value when all validations pass', () => {
    const [attrs, parties, files] = unwrapAll(
      validateAttrs({ contactUuid: ADA }, 'create', NOW),
      validateParties([{ rawName: ' Bob ' }]),
      validateFileUuids([FILE_1]),
    );
    expect(attrs.contactUuid).toBe(ADA);
    expect(parties).toEqual([{ rawName: 'Bob', contactUuid: null, staffPersonUuid: null, inputIndex: 0 }]);
    expect(files).toEqual([FILE_1]);
  });

  it('throws one InteractionValidationError with the errors of every failed validation', () => {
    let thrown: unknown;
    try {
      unwrapAll(
        validateAttrs({ interactionType: 'bogus' }, 'create', NOW),
        validateParties([{ rawName: 'ok' }, { rawName: 'A', contactUuid: BOB, staffPersonUuid: STAFF }]),
        validateFileUuids(['nope']),
        validateLimit(5),
      );
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(InteractionValidationError);
    const errors = (thrown as InteractionValidationError).errors;
    expect(errors).toEqual({
      contactUuid: ['is required'],
      interactionType: [TYPE_MESSAGE],
      'parties.1.contactUuid': ['cannot resolve to both a contact and a staff person'],
      fileUuids: expect.any(Array),
    });
    expect(errors.fileUuids).toHaveLength(1);
  });
});
