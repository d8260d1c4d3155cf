import fc from 'fast-check';
import { DemoUnderTest, sendRaw, startDemoApp } from '../demo/demo-app';
import { feedCursorOf } from '../../src/nest/feed-cursor';
import {
  adversarialString,
  anyUuid,
  interactionType,
  jsonMetadata,
  jsonOccurredAt,
  malformedUuid,
  mixedCase,
  deeplyNestedBody,
  PROPERTY_SEED,
  wrongType,
} from './arbitraries';

/**
 * Generated requests against the demo host on PostgreSQL, across every route: bodies, query strings
 * and headers valid and adversarial. No answer is a 5xx (module-written data is always readable, so
 * even `interaction_unreadable` cannot be right here), and every answer is JSON without a stack trace.
 */

const RUNS = Number(process.env.PROPERTY_HTTP_RUNS ?? 400);
const TIME_LIMIT_MS = 60_000;

interface GeneratedRequest {
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  path: string;
  /** Raw text, sent as is. */
  body?: string;
  headers: Record<string, string>;
}

/** encodeURIComponent, except that a lone surrogate is sent as its WTF-8 bytes rather than throwing. */
function encode(text: string): string {
  let out = '';
  for (const ch of text) {
    const code = ch.charCodeAt(0);
    if (ch.length === 1 && code >= 0xd800 && code <= 0xdfff) {
      out += [0xe0 | (code >> 12), 0x80 | ((code >> 6) & 0x3f), 0x80 | (code & 0x3f)].map((b) => `%${b.toString(16).toUpperCase()}`).join('');
    } else out += encodeURIComponent(ch);
  }
  return out;
}

interface Answer {
  status: number;
  text: string;
}

describe('demo HTTP API under generated requests (fast-check)', () => {
  let demo: DemoUnderTest | undefined;
  let base: string;
  let contacts: string[] = [];
  let interactions: string[] = [];
  const statuses: Record<number, number> = {};

  async function send(request: GeneratedRequest): Promise<Answer> {
    const { status, text } = await sendRaw(base, request);
    return { status, text };
  }

  async function json(method: GeneratedRequest['method'], path: string, body?: unknown): Promise<{ uuid: string }> {
    const answer = await send({ method, path, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    return JSON.parse(answer.text) as { uuid: string };
  }

  beforeAll(async () => {
    demo = await startDemoApp();
    base = demo.base;
    for (const name of ['Ada', 'Bob', 'Cleo']) contacts.push((await json('POST', '/contacts', { name })).uuid);
    for (const contactUuid of contacts) {
      const parties = [{ rawName: 'Bob', contactUuid: contacts[1] }];
      interactions.push((await json('POST', '/interactions', { contactUuid, subject: 'seed', parties })).uuid);
    }
  }, 60_000);

  afterAll(async () => {
    await demo?.close();
    if (process.env.PROPERTY_STATS) console.info(`HTTP property statuses (seed ${PROPERTY_SEED}):`, JSON.stringify(statuses));
  });

  /** Built once the seed data exists (inside the test). */
  function arbitraries() {
    const knownContact = fc.constantFrom(...contacts).chain(mixedCase);
    const knownInteraction = fc.constantFrom(...interactions).chain(mixedCase);
    const pathUuid = fc.oneof(
      { weight: 4, arbitrary: knownInteraction },
      { weight: 2, arbitrary: knownContact },
      { weight: 1, arbitrary: anyUuid },
      { weight: 2, arbitrary: malformedUuid.map(encode) },
      { weight: 1, arbitrary: fc.constantFrom('%E0%A4%A', '%00', '%ud800', '..', '%2F', 'a%20b', '%F0%9F%98%80') },
    );
    const jsonValue = fc.oneof(adversarialString, wrongType, fc.constantFrom(null, ''));
    const party = fc.oneof(
      fc.record({ rawName: adversarialString, contactUuid: fc.oneof(knownContact, anyUuid, malformedUuid, fc.constant(null)) }, { requiredKeys: ['rawName'] }),
      fc.record({ rawName: adversarialString, staffPersonUuid: fc.oneof(anyUuid, malformedUuid) }),
      jsonValue,
    );
    const interactionBody = fc.record(
      {
        contactUuid: fc.oneof({ weight: 4, arbitrary: knownContact }, { weight: 1, arbitrary: fc.oneof(anyUuid, jsonValue) }),
        interactionType,
        occurredAt: jsonOccurredAt,
        subject: fc.oneof(adversarialString, jsonValue),
        body: fc.oneof(adversarialString, fc.constantFrom(null, 42)),
        ownerUserUuid: fc.oneof(anyUuid, jsonValue),
        metadata: jsonMetadata,
        parties: fc.oneof(fc.array(party, { maxLength: 4 }), jsonValue, fc.constant(Array.from({ length: 501 }, () => ({ rawName: 'p' })))),
        fileUuids: fc.oneof(fc.array(anyUuid, { maxLength: 3 }), fc.array(jsonValue, { maxLength: 2 }), jsonValue),
        expectedVersion: fc.oneof(fc.nat({ max: 5 }), jsonValue),
      },
      { requiredKeys: [] },
    );
    const contactBody = fc.record(
      { name: fc.oneof(adversarialString, jsonValue), email: fc.oneof(fc.emailAddress(), adversarialString, jsonValue), company: adversarialString },
      { requiredKeys: [] },
    );
    const rawBody = fc.oneof(
      { weight: 8, arbitrary: fc.oneof(interactionBody, contactBody).map((value) => JSON.stringify(value)) },
      {
        weight: 2,
        arbitrary: fc.constantFrom(
          'null', '[]', '[{}]', '42', '"text"', 'true', '{', '{"a":', '', '{"parties":null}', '{"metadata":{"__proto__":{"a":1}}}',
          deeplyNestedBody(5000), deeplyNestedBody(33), JSON.stringify({ contactUuid: 'x', metadata: { n: '\u0000' } }),
          '{"subject":"\\ud800"}', '{"subject":"\\u0000"}', '{"occurredAt":"+275760-09-13T00:00:00Z"}',
        ),
      },
    );

    const cursor = fc.oneof(
      fc.record({ occurredAt: fc.date(), insertedAt: fc.date(), uuid: anyUuid }).map(({ occurredAt, insertedAt, uuid }) => {
        const key = [occurredAt.getTime(), insertedAt.getTime(), uuid];
        return Buffer.from(JSON.stringify(key)).toString('base64url');
      }),
      fc.constantFrom(
        Buffer.from(JSON.stringify([8.64e15 + 1, 0, '01900000-0000-7000-8000-0000000000a1'])).toString('base64url'),
        Buffer.from(JSON.stringify([-62198755200000, 0, '01900000-0000-7000-8000-0000000000a1'])).toString('base64url'),
        Buffer.from(JSON.stringify([253402300800000, 0, '01900000-0000-7000-8000-0000000000a1'])).toString('base64url'),
        feedCursorOf({ occurredAt: new Date('2026-01-01T00:00:00Z'), insertedAt: new Date('2026-01-01T00:00:00Z'), uuid: '01900000-0000-7000-8000-0000000000A1' }),
        'not-a-cursor', '', '%00',
      ),
      adversarialString,
    );
    const queryValue = fc.oneof(
      fc.constantFrom('', '1', '50', '1000', '1001', '0', '-1', 'abc', '1e3', '1.5', ' 5', '99999999999999999999'),
      adversarialString,
    );
    /** A query string of the given parameters, each absent, once, repeated, or in bracket form. */
    const query = (params: Record<string, fc.Arbitrary<string>>) =>
      fc
        .tuple(
          ...Object.entries(params).map(([name, value]) =>
            fc.oneof(
              { weight: 4, arbitrary: value.map((v) => [[name, v]]) },
              { weight: 2, arbitrary: fc.constant([] as string[][]) },
              { weight: 1, arbitrary: fc.array(value, { minLength: 2, maxLength: 3 }).map((vs) => vs.map((v) => [name, v])) },
              { weight: 1, arbitrary: value.map((v) => [[`${name}[x]`, v]]) },
            ),
          ),
        )
        .map((pairs) => {
          const text = pairs.flat().map(([k, v]) => `${encode(k!)}=${encode(v!)}`).join('&');
          return text ? `?${text}` : '';
        });
    const uuidList = fc.oneof(
      fc.array(fc.oneof(knownContact, anyUuid), { maxLength: 3 }).map((uuids) => uuids.join(',')),
      adversarialString,
    );
    const at = fc.oneof(jsonOccurredAt.map(String), fc.date().map((d) => (Number.isNaN(d.getTime()) ? 'Invalid' : d.toISOString())));

    const headerText = fc.string({ unit: 'binary-ascii', maxLength: 30 }).map((s) => s.replace(/[^\x20-\x7e]/g, '').trim());
    const headers = fc.record(
      {
        'content-type': fc.constantFrom('application/json', 'application/json; charset=utf-8', 'text/plain', 'application/x-www-form-urlencoded'),
        'x-actor-uuid': fc.oneof(anyUuid, headerText),
        'x-request-id': headerText,
        'idempotency-key': fc.oneof(headerText, fc.constantFrom('k1', 'k2', 'x'.repeat(201))),
      },
      { requiredKeys: ['content-type'] },
    );

    const request: fc.Arbitrary<GeneratedRequest> = fc.oneof(
      fc.tuple(rawBody, headers).map(([body, h]) => ({ method: 'POST' as const, path: '/interactions', body, headers: h })),
      fc.tuple(pathUuid, rawBody, headers).map(([uuid, body, h]) => ({ method: 'PATCH' as const, path: `/interactions/${uuid}`, body, headers: h })),
      fc.tuple(pathUuid, headers).map(([uuid, h]) => ({ method: 'DELETE' as const, path: `/interactions/${uuid}`, headers: h })),
      pathUuid.map((uuid) => ({ method: 'GET' as const, path: `/interactions/${uuid}`, headers: {} })),
      pathUuid.map((uuid) => ({ method: 'GET' as const, path: `/interactions/${uuid}/history`, headers: {} })),
      fc.tuple(pathUuid, query({ at })).map(([uuid, q]) => ({ method: 'GET' as const, path: `/interactions/${uuid}/as-of${q}`, headers: {} })),
      query({ contactUuids: uuidList, limit: queryValue }).map((q) => ({ method: 'GET' as const, path: `/interactions${q}`, headers: {} })),
      fc
        .tuple(pathUuid, query({ limit: queryValue, after: cursor }))
        .map(([uuid, q]) => ({ method: 'GET' as const, path: `/contacts/${uuid}/interactions${q}`, headers: {} })),
      pathUuid.map((uuid) => ({ method: 'GET' as const, path: `/contacts/${uuid}/interaction-uuids`, headers: {} })),
      fc.tuple(rawBody, headers).map(([body, h]) => ({ method: 'POST' as const, path: '/contacts', body, headers: h })),
      fc.constantFrom<GeneratedRequest>({ method: 'GET', path: '/contacts', headers: {} }, { method: 'GET', path: '/health', headers: {} }),
    );
    return { request };
  }

  it(`answers ${RUNS} generated requests without a 5xx, always JSON, never a stack trace`, async () => {
    const { request } = arbitraries();
    let tried = 0;
    await fc.assert(
      fc.asyncProperty(request, async (req) => {
        tried++;
        const answer = await send(req);
        statuses[answer.status] = (statuses[answer.status] ?? 0) + 1;
        if (process.env.PROPERTY_COUNT_RAW) return; // measuring: count the statuses, fail on none
        expect(answer.status).toBeLessThan(500);
        expect(() => JSON.parse(answer.text)).not.toThrow();
        expect(answer.text).not.toMatch(/\n\s+at |\.ts:\d+|node_modules/);
      }),
      {
        seed: PROPERTY_SEED,
        numRuns: RUNS,
        interruptAfterTimeLimit: TIME_LIMIT_MS,
        markInterruptAsFailure: true,
        endOnFailure: !process.env.PROPERTY_SHRINK,
      },
    );
    expect(tried).toBeGreaterThanOrEqual(RUNS);
  }, 120_000);
});
