import { call, DemoUnderTest, startDemoApp, validatorOf } from './demo-app';

/**
 * The command headers as the live OpenAPI document states them against what the routes accept: a
 * generated client checks a header's schema, so the 1–200 character caps of `x-request-id` (the events'
 * correlationId) and `Idempotency-Key` must be in it, not only in the description.
 */
describe('OpenAPI command headers agree with the routes', () => {
  let demo: DemoUnderTest;
  let contact: string;
  beforeAll(async () => {
    demo = await startDemoApp();
    contact = (await call(demo, 'POST', '/contacts', { name: 'Ada' })).body.uuid;
  }, 60_000);
  afterAll(() => demo?.close());

  it.each(['x-request-id', 'Idempotency-Key'])('%s: the document accepts exactly the values the route accepts', async (header) => {
    const { parameters } = demo.document.paths['/interactions']!.post as unknown as { parameters: Array<{ name: string; schema: object }> };
    const validate = validatorOf(demo.document, parameters.find((p) => p.name === header)!.schema);
    for (const length of [1, 200, 201, 1000]) {
      const value = 'k'.repeat(length - 1) + String(length % 10);
      const { status } = await call(demo, 'POST', '/interactions', { contactUuid: contact }, { [header]: value });
      expect([201, 422]).toContain(status);
      expect({ length, documentAccepts: validate(value) }).toEqual({ length, documentAccepts: status === 201 });
    }
  });
});
