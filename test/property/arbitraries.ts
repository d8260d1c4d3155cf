import fc from 'fast-check';

/**
 * Generators shared by the property suites: valid values mixed with what an adversarial caller sends
 * (NUL, lone surrogates, out-of-range dates, mixed-case uuids, wrong types, oversize lists, metadata
 * the store could not hold). Values only JSON can carry are in `jsonOnly*`, for the HTTP suite.
 */

/** The fixed default seed; PROPERTY_SEED replays another run (fast-check prints the seed of a failure). */
export const PROPERTY_SEED = Number(process.env.PROPERTY_SEED ?? 20261201);

export const NUL_OR_INVALID = ['a\u0000b', '\u0000', '\ud800', 'x\udc00', '\udfff\ud800', 'ok\ud83d'];

/** Letters of a uuid in random case: the module must treat them as the same uuid. */
export function mixedCase(value: string): fc.Arbitrary<string> {
  return fc
    .array(fc.boolean(), { minLength: value.length, maxLength: value.length })
    .map((flips) => [...value].map((ch, i) => (flips[i] ? ch.toUpperCase() : ch.toLowerCase())).join(''));
}

export const anyUuid = fc.uuid().chain((uuid) => fc.oneof(fc.constant(uuid), mixedCase(uuid)));
export const malformedUuid = fc.oneof(
  fc.constantFrom('not-a-uuid', '01900000-0000-7000-8000-0000000000a', ' 01900000-0000-7000-8000-0000000000a1', 'zzzzzzzz-zzzz-zzzz-zzzz-zzzzzzzzzzzz'),
  fc.string({ maxLength: 40 }),
);
export const wrongType = fc.oneof(
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant({}),
  fc.constant([]),
  fc.constant(['x']),
  fc.constant({ uuid: 'x' }),
);

/** Strings, mostly fine, some the store could not hold, some too long. */
export const adversarialString = fc.oneof(
  { weight: 4, arbitrary: fc.string({ maxLength: 40 }) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 20 }) },
  { weight: 2, arbitrary: fc.constantFrom(...NUL_OR_INVALID) },
  { weight: 1, arbitrary: fc.constantFrom('😀'.repeat(255), '😀'.repeat(256), 'x'.repeat(255), 'x'.repeat(256), '  padded  ', '') },
);

const MIN_DATE = new Date('0001-01-01T00:00:00Z');
const MAX_DATE = new Date('9999-12-31T23:59:59Z');
export const validDate = fc.date({ min: MIN_DATE, max: MAX_DATE, noInvalidDate: true });
export const outOfRangeDateString = fc.constantFrom(
  '+275760-09-13T00:00:00Z',
  '-000001-01-01T00:00:00Z',
  '0000-01-01',
  '0000-12-31T23:59:59Z',
  '9999-12-31T23:59:59-05:00',
  '0001-01-01T00:00:00+01:00',
  '10000-01-01T00:00:00Z',
  '2026-13-45T00:00:00Z',
  'yesterday',
);
/** Dates and date-like values that survive JSON (strings, numbers, null). */
export const jsonOccurredAt = fc.oneof(
  validDate.map((d) => d.toISOString()),
  validDate.map((d) => d.toISOString().replace('Z', '+02:00')),
  validDate.map((d) => d.toISOString().slice(0, 10)),
  outOfRangeDateString,
  fc.constantFrom(null, '', 1755856800000),
);
export const occurredAt = fc.oneof(
  jsonOccurredAt,
  validDate,
  fc.date(), // also outside 0001–9999, and invalid Dates
  fc.constantFrom(new Date(8.64e15), new Date(-8.64e15), new Date(Number.NaN)),
);

export const interactionType = fc.oneof(
  fc.constantFrom('call', 'email', 'meeting', 'note', 'other'),
  fc.constantFrom('', null, 'CALL', 'fax', 42),
);

/** Metadata that JSON can carry: valid objects, deep, large, with bad strings or keys, or not an object. */
export const jsonMetadata: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 5, arbitrary: fc.dictionary(fc.string({ maxLength: 10 }), fc.jsonValue({ maxDepth: 3 }), { maxKeys: 6 }) },
  { weight: 1, arbitrary: fc.constantFrom(null, [], [{ a: 1 }], 'meta', 42, true) },
  { weight: 1, arbitrary: fc.integer({ min: 30, max: 34 }).map(nested) },
  { weight: 1, arbitrary: fc.integer({ min: 65_500, max: 65_560 }).map((n) => ({ s: 'x'.repeat(n) })) },
  { weight: 1, arbitrary: fc.constantFrom(...NUL_OR_INVALID).map((bad) => ({ [bad]: 1 })) },
  { weight: 1, arbitrary: fc.constantFrom(...NUL_OR_INVALID).map((bad) => ({ deep: [{ x: bad }] })) },
  { weight: 1, arbitrary: fc.constant({ a: -0, b: [-0], c: 1e300, d: 5e-324 }) },
);

/** 5,000 levels: what used to overflow the stack (only the service suite: JSON.stringify would overflow too). */
export const veryDeepMetadata = fc.constant(null).map(() => nested(5000));

/** The JSON text of a body whose metadata is nested `depth` levels, built without recursion. */
export function deeplyNestedBody(depth: number): string {
  return `{"metadata":${'{"a":'.repeat(depth - 1)}{}${'}'.repeat(depth - 1)}}`;
}

/** Nested `depth` levels: { a: { a: … {} } }. */
export function nested(depth: number): Record<string, unknown> {
  let value: Record<string, unknown> = {};
  for (let i = 1; i < depth; i++) value = { a: value };
  return value;
}

/** Values only JavaScript callers can send: BigInt, cycles, class instances, toJSON, throwing getters, Proxies. */
export const jsOnlyMetadata: fc.Arbitrary<unknown> = fc.constantFrom<() => unknown>(
  () => ({ n: BigInt(1) }),
  () => ({ f: () => 1 }),
  () => ({ s: Symbol('s') }),
  () => ({ u: undefined }),
  () => ({ n: Number.NaN }),
  () => ({ n: Number.POSITIVE_INFINITY }),
  () => {
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic.self = cyclic;
    return cyclic;
  },
  () => ({ d: new Date() }),
  () => new Map([['a', 1]]),
  () => ({ m: new Map() }),
  () => ({ b: Buffer.from('x') }),
  () => ({ toJSON: () => ({ a: 1 }) }),
  () => Object.assign(Object.create(null) as object, { a: 1 }),
  () => [1, , 3], // eslint-disable-line no-sparse-arrays
  () => ({ holes: [1, , 3] }), // eslint-disable-line no-sparse-arrays
  () => ({ [Symbol('k')]: 1 }),
  () => Object.defineProperty({}, 'boom', { enumerable: true, get: () => { throw new Error('getter'); } }),
  () => new Proxy({}, { ownKeys: () => { throw new Error('trap'); } }),
  () => new Proxy({ a: 1 }, { get: () => { throw new Error('trap'); } }),
  () => new (class Meta { a = 1; })(),
  () => ({ toString: () => { throw new Error('toString'); } }),
).map((make) => make());

/**
 * An object whose every property read throws: attrs, parties or a party from a hostile caller. (No
 * `has` trap: fast-check itself asks generated values `in` questions.)
 */
export function hostile(): object {
  return new Proxy({}, {
    get: () => { throw new Error('get trap'); },
    ownKeys: () => { throw new Error('ownKeys trap'); },
    getPrototypeOf: () => { throw new Error('getPrototypeOf trap'); },
  });
}
