import fc from 'fast-check';
import { NUL_OR_INVALID, PROPERTY_SEED } from '../property/arbitraries';
import { call, DemoUnderTest, startDemoApp, validatorOf } from './demo-app';

/**
 * What the live OpenAPI document states of parameters, headers and the demo's contact bodies, against what
 * the routes accept: a client generated from the document checks these schemas, so a rule stated only in
 * prose (or by a zod refinement, which z.toJSONSchema drops) lets it send what the host refuses with 422.
 */
describe('OpenAPI parameters, headers and contact bodies agree with the routes', () => {
  let demo: DemoUnderTest;
  let contact: string;
  let interaction: string;
  beforeAll(async () => {
    demo = await startDemoApp();
    contact = (await call(demo, 'POST', '/contacts', { name: 'Ada' })).body.uuid;
    interaction = (await call(demo, 'POST', '/interactions', { contactUuid: contact, occurredAt: '2026-01-01' })).body.uuid;
  }, 60_000);
  afterAll(() => demo?.close());

  /** The schema of a parameter (a header too) of a route, as a validator. */
  const parameter = (template: string, method: 'get' | 'post', name: string) => {
    const { parameters } = demo.document.paths[template]![method] as unknown as { parameters: Array<{ name: string; schema: object }> };
    return validatorOf(demo.document, parameters.find((p) => p.name === name)!.schema);
  };

  // The 1–200 character caps of `x-request-id` (the events' correlationId) and `Idempotency-Key`.
  it.each(['x-request-id', 'Idempotency-Key'])('the %s header', async (header) => {
    const validate = parameter('/interactions', 'post', header);
    for (const length of [1, 200, 201, 1000]) {
      const value = 'k'.repeat(length - 1) + String(length % 10);
      const { status } = await call(demo, 'POST', '/interactions', { contactUuid: contact }, { [header]: value });
      expect([201, 422]).toContain(status);
      expect({ length, documentAccepts: validate(value) }).toEqual({ length, documentAccepts: status === 201 });
    }
  });

  // The module refuses a search over 200 characters or holding NUL (422 on `search`).
  it.each([
    ['/contacts/{uuid}/interactions', (): string => `/contacts/${contact}/interactions`],
    ['/contacts/{uuid}/interactions/counts', (): string => `/contacts/${contact}/interactions/counts`],
    ['/interactions/recent', (): string => '/interactions/recent'],
  ])('q of %s', async (template, path) => {
    const validate = parameter(template, 'get', 'q');
    for (const q of ['renew', 'r'.repeat(200), 'r'.repeat(201), '😀'.repeat(200), '😀'.repeat(201), 'a\u0000b', '']) {
      const { status } = await call(demo, 'GET', `${path()}?q=${encodeURIComponent(q)}`);
      expect([200, 422]).toContain(status);
      expect({ q: q.slice(0, 12), documentAccepts: validate(q) }).toEqual({ q: q.slice(0, 12), documentAccepts: status === 200 });
    }
  });

  // An ISO-8601 date or date-time, years 0001–9999, as a body's occurredAt.
  const DATES = [
    '2026-01-01', '2026-01-01T10:00:00Z', '2026-01-01T10:00:00.123+02:00', '2026-01-01T10:00', '0001-01-01', '9999-12-31',
    '0000-06-01', '2026-02-30', '2026-13-01', 'yesterday', '1700000000', '2026-01-01 10:00:00', '2026-1-1', ' 2026-01-01', '',
  ];
  it.each([
    ['/contacts/{uuid}/interactions', 'from', (): string => `/contacts/${contact}/interactions`],
    ['/contacts/{uuid}/interactions/counts', 'to', (): string => `/contacts/${contact}/interactions/counts`],
    ['/interactions/recent', 'from', (): string => '/interactions/recent'],
    ['/interactions/{uuid}/as-of', 'at', (): string => `/interactions/${interaction}/as-of`],
  ])('%s ?%s=', async (template, name, path) => {
    const validate = parameter(template, 'get', name);
    for (const value of DATES) {
      const { status } = await call(demo, 'GET', `${path()}?${name}=${encodeURIComponent(value)}`);
      expect([200, 404, 422]).toContain(status); // 404: the interaction did not exist yet at `at`
      expect({ value, documentAccepts: validate(value) }).toEqual({ value, documentAccepts: status !== 422 });
    }
  });

  // The demo's own directory (`NewContact`, `ContactChanges`): text at the storable edge (NUL, lone surrogates)
  // and at the length cap. Not generated: text padded past 255 characters, which the route trims before counting.
  const text = fc.oneof(fc.string({ maxLength: 12 }), fc.constantFrom(...NUL_OR_INVALID, 'x'.repeat(255), 'x'.repeat(256), '😀'.repeat(255)));
  const body = fc.record(
    { name: fc.option(text), company: fc.option(text), roleInCompany: fc.option(text), department: fc.option(text) },
    { requiredKeys: [] },
  );
  it.each([
    ['NewContact', 'POST', (): string => '/contacts', 201],
    ['ContactChanges', 'PATCH', (): string => `/contacts/${contact}`, 200],
  ] as const)('%s bodies', async (component, method, path, ok) => {
    const validate = validatorOf(demo.document, { $ref: `#/components/schemas/${component}` });
    await fc.assert(
      fc.asyncProperty(body, async (sent) => {
        const { status } = await call(demo, method, path(), sent);
        expect([ok, 422]).toContain(status);
        expect({ sent, documentAccepts: validate(sent) }).toEqual({ sent, documentAccepts: status === ok });
      }),
      { seed: PROPERTY_SEED, numRuns: 150 },
    );
  }, 60_000);
});
