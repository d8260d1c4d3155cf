import { call, DemoUnderTest, startDemoApp, validatorOf } from './demo-app';

/**
 * The feeds' `q` parameter as the live OpenAPI document states it against what the routes accept: the
 * module refuses a search over 200 characters or holding NUL (422 on `search`), so the document's schema
 * must say so, or a client generated from it sends what the host refuses.
 */
describe('OpenAPI: the q parameter agrees with the routes', () => {
  let demo: DemoUnderTest;
  let contact: string;
  beforeAll(async () => {
    demo = await startDemoApp();
    contact = (await call(demo, 'POST', '/contacts', { name: 'Ada' })).body.uuid;
  }, 60_000);
  afterAll(() => demo?.close());

  it.each([
    ['/contacts/{uuid}/interactions', (): string => `/contacts/${contact}/interactions`],
    ['/contacts/{uuid}/interactions/counts', (): string => `/contacts/${contact}/interactions/counts`],
    ['/interactions/recent', (): string => '/interactions/recent'],
  ])('%s', async (template, path) => {
    const { parameters } = demo.document.paths[template]!.get as unknown as { parameters: Array<{ name: string; schema: object }> };
    const validate = validatorOf(demo.document, parameters.find((p) => p.name === 'q')!.schema);
    for (const q of ['renew', 'r'.repeat(200), 'r'.repeat(201), '😀'.repeat(200), '😀'.repeat(201), 'a\u0000b', '']) {
      const { status } = await call(demo, 'GET', `${path()}?q=${encodeURIComponent(q)}`);
      expect([200, 422]).toContain(status);
      expect({ q: q.slice(0, 12), documentAccepts: validate(q) }).toEqual({ q: q.slice(0, 12), documentAccepts: status === 200 });
    }
  });
});
