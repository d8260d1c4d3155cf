import { call, DemoUnderTest, startDemoApp, validatorOf } from './demo-app';

/**
 * The date parameters (`from` and `to` of every feed and count, `at` of as-of) as the live OpenAPI document
 * states them against what the routes accept: an ISO-8601 date or date-time, years 0001–9999. Stated in prose
 * only, a client generated from the document would send what the host refuses.
 */
describe('OpenAPI: the date parameters agree with the routes', () => {
  let demo: DemoUnderTest;
  let contact: string;
  let interaction: string;
  beforeAll(async () => {
    demo = await startDemoApp();
    contact = (await call(demo, 'POST', '/contacts', { name: 'Ada' })).body.uuid;
    interaction = (await call(demo, 'POST', '/interactions', { contactUuid: contact, occurredAt: '2026-01-01' })).body.uuid;
  }, 60_000);
  afterAll(() => demo?.close());

  const VALUES = [
    '2026-01-01', '2026-01-01T10:00:00Z', '2026-01-01T10:00:00.123+02:00', '2026-01-01T10:00', '0001-01-01', '9999-12-31',
    '0000-06-01', '2026-02-30', '2026-13-01', 'yesterday', '1700000000', '2026-01-01 10:00:00', '2026-1-1', ' 2026-01-01', '',
  ];

  it.each([
    ['/contacts/{uuid}/interactions', 'from', (): string => `/contacts/${contact}/interactions`],
    ['/contacts/{uuid}/interactions/counts', 'to', (): string => `/contacts/${contact}/interactions/counts`],
    ['/interactions/recent', 'from', (): string => '/interactions/recent'],
    ['/interactions/{uuid}/as-of', 'at', (): string => `/interactions/${interaction}/as-of`],
  ])('%s ?%s=', async (template, name, path) => {
    const { parameters } = demo.document.paths[template]!.get as unknown as { parameters: Array<{ name: string; schema: object }> };
    const validate = validatorOf(demo.document, parameters.find((p) => p.name === name)!.schema);
    for (const value of VALUES) {
      const { status } = await call(demo, 'GET', `${path()}?${name}=${encodeURIComponent(value)}`);
      expect([200, 404, 422]).toContain(status); // 404: the interaction did not exist yet at `at`
      expect({ value, documentAccepts: validate(value) }).toEqual({ value, documentAccepts: status !== 422 });
    }
  });
});
