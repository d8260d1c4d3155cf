import { runInNewContext } from 'node:vm';
import { partyIdentity } from '../../src/domain/decider';
import { InteractionValidationError } from '../../src/domain/errors';
import { InvalidEventError, parseEvent } from '../../src/domain/events';
import {
  atMostEntries,
  givenAttrNames,
  MAX_PAGE_SIZE,
  MESSAGES,
  normaliseUuid,
  NormalisedAttrs,
  unwrapAll,
  validateAttrs,
  validateExpectedVersion,
  validateFileUuids,
  validateIdempotencyKey,
  validateLimit,
  validateParties,
  validateTraceOptions,
} from '../../src/domain/validation';
import { feedCursorOf, parseFeedCursor } from '../../src/nest/feed-cursor';

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
    expect(valueOf(validateExpectedVersion({ expectedVersion: undefined }))).toBeUndefined();
    expect(valueOf(validateExpectedVersion({ expectedVersion: null }))).toBeUndefined();
  });

  it.each([0, 1, 42])('accepts %p', (version) => {
    expect(valueOf(validateExpectedVersion({ expectedVersion: version }))).toBe(version);
  });

  it.each([-1, 1.5, '3', NaN, {}])('rejects %p under expectedVersion', (version) => {
    expect(Object.keys(errorsOf(validateExpectedVersion({ expectedVersion: version })))).toEqual(['expectedVersion']);
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

describe('input the store could not hold (additions of 2026-12-01)', () => {
  const BAD_TEXT = ['a\u0000b', '\ud800', 'x\udc00y', '\udfff\ud800'];

  describe('text fields refuse NUL and unpaired surrogates', () => {
    it.each(BAD_TEXT)('subject and body %p', (text) => {
      expect(createErrors({ subject: text, body: text })).toEqual({
        subject: [MESSAGES.invalidCharacters],
        body: [MESSAGES.invalidCharacters],
      });
    });

    it.each(BAD_TEXT)('a party rawName %p, under parties.N.rawName', (text) => {
      expect(errorsOf(validateParties([{ rawName: 'ok' }, { rawName: ` ${text} ` }]))).toEqual({
        'parties.1.rawName': [MESSAGES.invalidCharacters],
      });
    });

    it.each(BAD_TEXT)('metadata keys and values %p, at any depth', (text) => {
      for (const metadata of [{ [text]: 1 }, { a: text }, { a: [{ b: [text] }] }]) {
        expect(createErrors({ metadata })).toEqual({ metadata: [MESSAGES.invalidCharacters] });
      }
    });

    it('accepts surrogate pairs (emoji) and other control characters', () => {
      expect(createValue({ subject: '😀\t\u0001\uffff', body: '𝄞', metadata: { '😀': '\u001f' } })).toMatchObject({
        subject: '😀\t\u0001\uffff',
        body: '𝄞',
        metadata: { '😀': '\u001f' },
      });
    });

    it('uses the contract message', () => {
      expect(MESSAGES.invalidCharacters).toBe('must not contain NUL or invalid characters');
    });
  });

  describe('dates outside the years 0001–9999', () => {
    it.each([
      '+275760-09-13T00:00:00Z',
      '-000001-01-01T00:00:00Z',
      '0000-01-01',
      '0000-12-31T23:59:59Z',
      '10000-01-01T00:00:00Z',
      '9999-12-31T23:59:59-05:00', // year 10000 in UTC
      '0001-01-01T00:00:00+01:00', // year 0 in UTC
    ])('rejects the ISO string %p', (occurredAt) => {
      expect(createErrors({ occurredAt })).toEqual({ occurredAt: [MESSAGES.date] });
    });

    it.each([new Date(8.64e15), new Date(-8.64e15), new Date('0000-06-01T00:00:00Z'), new Date(Date.UTC(10000, 0, 1))])(
      'rejects the Date %p',
      (occurredAt) => {
        expect(createErrors({ occurredAt })).toEqual({ occurredAt: [MESSAGES.date] });
      },
    );

    it.each([
      ['0001-01-01T00:00:00Z', '0001-01-01T00:00:00.000Z'],
      ['9999-12-31T23:59:59.999Z', '9999-12-31T23:59:59.000Z'],
      ['0050-06-15', '0050-06-15T00:00:00.000Z'],
    ])('accepts the edges, %p', (occurredAt, expected) => {
      expect(createValue({ occurredAt }).occurredAt?.toISOString()).toBe(expected);
    });

    it('copies a valid Date rather than keeping the caller\'s object', () => {
      const given = new Date('2026-08-20T14:30:15Z');
      expect(createValue({ occurredAt: given }).occurredAt).not.toBe(given);
    });

    it('refuses a Date look-alike without throwing', () => {
      expect(createErrors({ occurredAt: Object.create(Date.prototype) })).toEqual({ occurredAt: [MESSAGES.date] });
    });
  });

  describe('metadata must be a plain JSON object', () => {
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic.self = cyclic;
    const nestedCycle: Record<string, unknown> = { list: [] };
    (nestedCycle.list as unknown[]).push({ back: nestedCycle });

    it.each([
      ['a BigInt', { n: BigInt(1) }],
      ['a function', { f: () => 1 }],
      ['a symbol value', { s: Symbol('s') }],
      ['a symbol key', { [Symbol('k')]: 1 }],
      ['an undefined value', { u: undefined }],
      ['NaN', { n: Number.NaN }],
      ['Infinity', { n: [Number.NEGATIVE_INFINITY] }],
      ['a nested Date', { d: new Date() }],
      ['a nested Map', { m: new Map() }],
      ['a Buffer', { b: Buffer.from('x') }],
      ['a class instance', { c: new (class Thing {})() }],
      ['a toJSON method', { toJSON: () => ({}) }],
      ['a nested toJSON method', { a: { toJSON: () => 1 } }],
      ['a throwing toString', { toString: () => { throw new Error('no'); } }],
      ['an array hole', { a: [1, , 3] }], // eslint-disable-line no-sparse-arrays
      ['an array subclass', { a: new (class List extends Array {})() }],
      ['a __proto__ key', JSON.parse('{"__proto__": {"a": 1}}')],
    ])('rejects %s', (_label, metadata) => {
      expect(createErrors({ metadata })).toEqual({ metadata: [MESSAGES.plainJson] });
    });

    it.each([
      ['a Map', new Map([['a', 1]])],
      ['a class instance', new (class Meta { a = 1; })()],
    ])('rejects %s as the metadata itself', (_label, metadata) => {
      expect(createErrors({ metadata })).toEqual({ metadata: [MESSAGES.object] });
    });

    it.each([
      ['itself', cyclic],
      ['a nested cycle', nestedCycle],
    ])('rejects a cycle through %s', (_label, metadata) => {
      expect(createErrors({ metadata })).toEqual({ metadata: [MESSAGES.cycle] });
    });

    it('accepts a shared (non-cyclic) reference', () => {
      const shared = { x: 1 };
      expect(createValue({ metadata: { a: shared, b: [shared] } }).metadata).toEqual({ a: { x: 1 }, b: [{ x: 1 }] });
    });

    it('accepts an object with a null prototype, as a plain copy', () => {
      const metadata = Object.assign(Object.create(null) as object, { a: 1 });
      const value = createValue({ metadata }).metadata;
      expect(value).toEqual({ a: 1 });
      expect(Object.getPrototypeOf(value)).toBe(Object.prototype);
    });

    it('turns -0 into 0 (JSON cannot say -0)', () => {
      expect(Object.is(createValue({ metadata: { z: -0 } }).metadata?.z, 0)).toBe(true);
    });

    it('stores a copy read once, so a getter cannot change its answer after the check', () => {
      let reads = 0;
      const metadata = Object.defineProperty({}, 'a', { enumerable: true, get: () => (++reads === 1 ? 'ok' : '\u0000') });
      expect(createValue({ metadata }).metadata).toEqual({ a: 'ok' });
      expect(reads).toBe(1);
    });

    it('accepts 32 levels and rejects 33, with the contract message', () => {
      expect(createValue({ metadata: nest(32) }).metadata).toEqual(nest(32));
      expect(createErrors({ metadata: nest(33) })).toEqual({ metadata: ['is nested too deeply'] });
      expect(createErrors({ metadata: { list: [[[[nest(29)]]]] } })).toEqual({ metadata: [MESSAGES.nestedTooDeeply] });
    });

    it('rejects 5,000 levels without overflowing the stack', () => {
      expect(createErrors({ metadata: nest(5000) })).toEqual({ metadata: [MESSAGES.nestedTooDeeply] });
    });

    it('accepts 65,536 bytes of JSON and rejects one more, with the contract message', () => {
      const fill = (bytes: number) => ({ s: 'x'.repeat(bytes - '{"s":""}'.length) });
      expect(Buffer.byteLength(JSON.stringify(fill(65_536)))).toBe(65_536);
      expect(createValue({ metadata: fill(65_536) }).metadata).toEqual(fill(65_536));
      expect(createErrors({ metadata: fill(65_537) })).toEqual({ metadata: ['is too large'] });
    });

    it('counts bytes, not characters, and escapes', () => {
      expect(createErrors({ metadata: { s: '€'.repeat(22_000) } })).toEqual({ metadata: [MESSAGES.tooLarge] });
      expect(createErrors({ metadata: { s: '\u0001'.repeat(11_000) } })).toEqual({ metadata: [MESSAGES.tooLarge] });
    });

    it('stops early on a huge list', () => {
      // Built before the clock starts: filling 80 MB once took 2 s of a loaded CI run, the check nothing.
      const huge = new Array(10_000_000).fill(0);
      const started = Date.now();
      expect(createErrors({ metadata: { a: huge } })).toEqual({ metadata: [MESSAGES.tooLarge] });
      expect(Date.now() - started).toBeLessThan(1000);
    });
  });

  describe('caps', () => {
    it('body: 1,000,000 characters (code points) and no more', () => {
      expect(createValue({ body: 'b'.repeat(1_000_000) }).body).toHaveLength(1_000_000);
      expect(createValue({ body: '😀'.repeat(1_000_000) }).body).toHaveLength(2_000_000);
      expect(createErrors({ body: 'b'.repeat(1_000_001) })).toEqual({ body: ['must be at most 1000000 characters'] });
    });

    it('parties: 500 entries, counted before blank ones are dropped', () => {
      expect(valueOf(validateParties(Array.from({ length: 500 }, (_, i) => ({ rawName: `P${i}` }))))).toHaveLength(500);
      expect(errorsOf(validateParties(Array.from({ length: 501 }, () => ({ rawName: '' }))))).toEqual({
        parties: ['must have at most 500 entries'],
      });
    });

    it('fileUuids: 1,000 entries', () => {
      expect(valueOf(validateFileUuids(Array.from({ length: 1000 }, () => FILE_1)))).toHaveLength(1000);
      expect(errorsOf(validateFileUuids(Array.from({ length: 1001 }, () => FILE_1)))).toEqual({
        fileUuids: [atMostEntries(1000)],
      });
    });

    it('checks the length before looking at the entries', () => {
      expect(errorsOf(validateFileUuids(new Array(2 ** 31)))).toEqual({ fileUuids: ['must have at most 1000 entries'] });
    });
  });

  describe('uuids in any letter case, normalised to lower case', () => {
    const UPPER = ADA.toUpperCase();

    it('normaliseUuid lower-cases a valid uuid and answers null for anything else', () => {
      expect(normaliseUuid(UPPER)).toBe(ADA);
      expect(normaliseUuid('550E8400-e29b-41D4-A716-446655440000')).toBe(FILE_2);
      for (const bad of ['nope', ` ${ADA}`, 42, null, undefined, {}, [ADA]]) expect(normaliseUuid(bad)).toBeNull();
    });

    it('contactUuid, ownerUserUuid', () => {
      expect(createValue({ contactUuid: UPPER, ownerUserUuid: OWNER.toUpperCase() })).toMatchObject({
        contactUuid: ADA,
        ownerUserUuid: OWNER,
      });
      expect(updateValue({ contactUuid: BOB.toUpperCase() })).toEqual({ contactUuid: BOB });
    });

    it("parties' contactUuid and staffPersonUuid", () => {
      expect(valueOf(validateParties([{ rawName: 'A', contactUuid: UPPER }, { rawName: 'S', staffPersonUuid: STAFF.toUpperCase() }]))).toEqual([
        { rawName: 'A', contactUuid: ADA, staffPersonUuid: null, inputIndex: 0 },
        { rawName: 'S', contactUuid: null, staffPersonUuid: STAFF, inputIndex: 1 },
      ]);
    });

    it('fileUuids', () => {
      expect(valueOf(validateFileUuids([FILE_1.toUpperCase(), FILE_2]))).toEqual([FILE_1, FILE_2]);
    });

    it('party identity compares lower-cased uuids (stored events may hold upper case)', () => {
      expect(partyIdentity({ rawName: 'x', contactUuid: UPPER, staffPersonUuid: null })).toBe(
        partyIdentity({ rawName: 'y', contactUuid: ADA, staffPersonUuid: null }),
      );
      expect(partyIdentity({ rawName: 'x', contactUuid: null, staffPersonUuid: STAFF.toUpperCase() })).toBe(`staff:${STAFF}`);
    });
  });

  describe('hostile objects end as validation errors, never raw errors', () => {
    const throwing = () =>
      new Proxy({}, { get: () => { throw new Error('trap'); }, has: () => { throw new Error('trap'); }, ownKeys: () => { throw new Error('trap'); } });

    it('attrs whose every read throws: each attribute "could not be read"', () => {
      expect(errorsOf(validateAttrs(throwing(), 'create', NOW))).toEqual(
        Object.fromEntries(['contactUuid', 'interactionType', 'occurredAt', 'subject', 'body', 'ownerUserUuid', 'metadata'].map((f) => [f, [MESSAGES.unreadable]])),
      );
      expect(Object.keys(errorsOf(validateAttrs(throwing(), 'update', NOW)))).toHaveLength(7);
    });

    it('a throwing getter on one attribute', () => {
      const attrs = Object.defineProperty({ contactUuid: ADA }, 'subject', { enumerable: true, get: () => { throw new Error('no'); } });
      expect(errorsOf(validateAttrs(attrs, 'create', NOW))).toEqual({ subject: [MESSAGES.unreadable] });
    });

    it('metadata behind a Proxy whose traps throw', () => {
      expect(createErrors({ metadata: throwing() })).toEqual({ metadata: [MESSAGES.unreadable] });
      const getter = Object.defineProperty({}, 'a', { enumerable: true, get: () => { throw new Error('no'); } });
      expect(createErrors({ metadata: { nested: getter } })).toEqual({ metadata: [MESSAGES.unreadable] });
    });

    it('parties: a throwing list, a throwing party', () => {
      const list = new Proxy([], { get: () => { throw new Error('trap'); } });
      expect(errorsOf(validateParties(list))).toEqual({ parties: [MESSAGES.unreadable] });
      expect(errorsOf(validateParties([{ rawName: 'ok' }, throwing()]))).toEqual({ 'parties.1': [MESSAGES.unreadable] });
    });

    it('fileUuids: a throwing list', () => {
      const list = new Proxy([FILE_1], { get: (target, key) => (key === 'length' ? 1 : (() => { throw new Error('trap'); })()) });
      expect(errorsOf(validateFileUuids(list))).toEqual({ fileUuids: [MESSAGES.unreadable] });
    });

    it('givenAttrNames never throws', () => {
      expect(givenAttrNames(throwing()).size).toBe(0);
      expect([...givenAttrNames({ subject: 'x', other: 1 })]).toEqual(['subject']);
    });
  });

  describe('validateIdempotencyKey', () => {
    it.each([undefined, null])('is absent for %p', (key) => {
      expect(valueOf(validateIdempotencyKey({ idempotencyKey: key }))).toBeUndefined();
    });

    it.each(['k', 'x'.repeat(200), '😀'.repeat(200), 'request 42 / retry'])('keeps %p as given', (key) => {
      expect(valueOf(validateIdempotencyKey({ idempotencyKey: key }))).toBe(key);
    });

    it.each([
      ['""', '', MESSAGES.idempotencyKey],
      ['201 characters', 'x'.repeat(201), MESSAGES.idempotencyKey],
      ['a number', 42, MESSAGES.string],
      ['an object', { key: 'k' }, MESSAGES.string],
      ['NUL', 'a\u0000', MESSAGES.invalidCharacters],
      ['a lone surrogate', '\ud800', MESSAGES.invalidCharacters],
    ])('rejects %s under idempotencyKey', (_label, key, message) => {
      expect(errorsOf(validateIdempotencyKey({ idempotencyKey: key }))).toEqual({ idempotencyKey: [message] });
    });

    it('says 1 to 200 characters', () => {
      expect(MESSAGES.idempotencyKey).toBe('must be 1 to 200 characters');
    });
  });

  describe('feed cursors', () => {
    const cursorOf = (key: unknown) => Buffer.from(JSON.stringify(key)).toString('base64url');

    it('reads back what feedCursorOf wrote, with the uuid lower-cased', () => {
      const at = new Date('2026-08-22T10:00:00Z');
      expect(parseFeedCursor(feedCursorOf({ occurredAt: at, insertedAt: at, uuid: ADA.toUpperCase() }))).toEqual({
        occurredAt: at,
        insertedAt: at,
        uuid: ADA,
      });
    });

    it.each([
      ['beyond the Date range', [8.64e15 + 1, 0, ADA]],
      ['year 0', [Date.parse('0001-01-01T00:00:00Z') - 1, 0, ADA]],
      ['year 10000', [0, Date.UTC(10000, 0, 1), ADA]],
      ['a fraction', [1.5, 0, ADA]],
      ['a bad uuid', [0, 0, 'nope']],
      ['too few parts', [0, 0]],
    ])('is null for timestamps %s', (_label, key) => {
      expect(parseFeedCursor(cursorOf(key))).toBeNull();
    });

    it.each(['', 'not-a-cursor', 'x'.repeat(10_000), 42, null, {}])('is null for %p', (text) => {
      expect(parseFeedCursor(text)).toBeNull();
    });
  });

  describe('event schemas refuse what the store could not hold', () => {
    const logged = {
      schemaVersion: 1,
      interactionUuid: ADA,
      contactUuid: BOB,
      interactionType: 'note',
      occurredAt: '2026-08-22T10:00:00Z',
      subject: '😀'.repeat(255),
      body: null,
      ownerUserUuid: null,
      metadata: {},
      fileUuids: [],
    };

    it('accepts a valid event, counting name lengths in code points as validation does', () => {
      expect(parseEvent('InteractionLogged', logged).type).toBe('InteractionLogged');
    });

    it.each([
      ['a NUL subject', { subject: 'a\u0000' }],
      ['a lone surrogate in the body', { body: '\ud800' }],
      ['metadata with NUL', { metadata: { a: '\u0000' } }],
      ['metadata with a lone surrogate key', { metadata: { a: [{ '\udc00': 1 }] } }],
      ['metadata with a non-finite number', { metadata: { a: Number.NaN } }],
      ['year 0', { occurredAt: '0000-01-01T00:00:00Z' }],
      ['256 code points', { subject: '😀'.repeat(256) }],
    ])('rejects %s', (_label, change) => {
      expect(() => parseEvent('InteractionLogged', { ...logged, ...change })).toThrow(InvalidEventError);
    });

    it('keeps reading metadata stored before the input caps: deep (also 5,000 levels) or large', () => {
      for (const metadata of [nest(33), nest(5000), { s: 'x'.repeat(100_000) }]) {
        expect(parseEvent('InteractionLogged', { ...logged, metadata }).type).toBe('InteractionLogged');
      }
    });

    it('rejects a party or snapshot text with NUL', () => {
      const party = { rawName: 'Bob', contactUuid: null, staffPersonUuid: null, position: 0, snapshot: { source: 'free_text', capturedAt: '2026-08-22T10:00:00Z' } };
      const rebuilt = (p: unknown) => ({ schemaVersion: 1, interactionUuid: ADA, parties: [p] });
      expect(parseEvent('PartiesRebuilt', rebuilt(party)).type).toBe('PartiesRebuilt');
      expect(() => parseEvent('PartiesRebuilt', rebuilt({ ...party, rawName: 'B\u0000' }))).toThrow(InvalidEventError);
      const snapshot = { source: 'crm_contact', name: 'x\udc00', capturedAt: '2026-08-22T10:00:00Z' };
      expect(() => parseEvent('PartiesRebuilt', rebuilt({ ...party, snapshot }))).toThrow(InvalidEventError);
    });
  });
});

function nest(depth: number): Record<string, unknown> {
  let value: Record<string, unknown> = {};
  for (let i = 1; i < depth; i++) value = { a: value };
  return value;
}

describe('metadata size is found quickly', () => {
  it('for an object of many small keys', () => {
    const metadata = Object.fromEntries(Array.from({ length: 200_000 }, (_, i) => [`k${i}`, 0]));
    const started = Date.now();
    expect(errorsOf(validateAttrs({ contactUuid: ADA, metadata }, 'create', NOW))).toEqual({ metadata: [MESSAGES.tooLarge] });
    expect(Date.now() - started).toBeLessThan(1000);
  });
});

describe('validateTraceOptions (actorUuid, correlationId, causationId: what ends in event metadata)', () => {
  it('normalises and keeps what is given', () => {
    expect(valueOf(validateTraceOptions({}))).toEqual({ actorUuid: null });
    expect(valueOf(validateTraceOptions(undefined))).toEqual({ actorUuid: null });
    expect(valueOf(validateTraceOptions({ actorUuid: OWNER.toUpperCase(), correlationId: 'req-1', causationId: null }))).toEqual({
      actorUuid: OWNER,
      correlationId: 'req-1',
    });
    expect(valueOf(validateTraceOptions({ actorUuid: '', causationId: 'c' }))).toEqual({ actorUuid: null, causationId: 'c' });
  });

  it('rejects what the store could not hold or is not a uuid, keyed by option', () => {
    expect(errorsOf(validateTraceOptions({ actorUuid: 'a\u0000', correlationId: '\ud800', causationId: 'x'.repeat(201) }))).toEqual({
      actorUuid: [MESSAGES.uuid],
      correlationId: [MESSAGES.invalidCharacters],
      causationId: ['must be 1 to 200 characters'],
    });
    expect(errorsOf(validateTraceOptions({ actorUuid: 42, correlationId: 7, causationId: '' }))).toEqual({
      actorUuid: [MESSAGES.uuid],
      correlationId: [MESSAGES.string],
      causationId: ['must be 1 to 200 characters'],
    });
  });

  it('turns a throwing options object into an error', () => {
    const options = new Proxy({}, { get: () => { throw new Error('trap'); } });
    expect(errorsOf(validateTraceOptions(options))).toEqual({ options: [MESSAGES.unreadable] });
  });
});

describe('metadata from another realm (vm context, structuredClone)', () => {
  it('accepts plain objects and arrays of another realm, as plain copies', () => {
    const foreign = runInNewContext('({ a: [1, { b: "x" }], c: null })') as Record<string, unknown>;
    expect(Object.getPrototypeOf(foreign)).not.toBe(Object.prototype);
    expect(createValue({ metadata: foreign }).metadata).toEqual({ a: [1, { b: 'x' }], c: null });
  });

  it('still refuses class instances and toJSON of another realm, and an inherited toJSON', () => {
    expect(createErrors({ metadata: { d: runInNewContext('new Date()') } })).toEqual({ metadata: [MESSAGES.plainJson] });
    expect(createErrors({ metadata: { m: runInNewContext('new Map()') } })).toEqual({ metadata: [MESSAGES.plainJson] });
    const base = Object.assign(Object.create(null) as object, { toJSON: () => 'x' });
    expect(createErrors({ metadata: { a: Object.create(base) } })).toEqual({ metadata: [MESSAGES.plainJson] });
  });

  it('keeps a "toJSON" key that holds data (JSON can carry one; stored events may hold one)', () => {
    expect(createValue({ metadata: JSON.parse('{"toJSON": "x", "b": {"toJSON": [1]}}') }).metadata).toEqual({ toJSON: 'x', b: { toJSON: [1] } });
  });
});
