import fc from 'fast-check';
import { NUL_OR_INVALID, PROPERTY_SEED } from '../property/arbitraries';
import { call, DemoUnderTest, startDemoApp, validatorOf } from './demo-app';

/**
 * The contact bodies of the demo's own directory (POST /contacts, PATCH /contacts/:uuid) as the live
 * OpenAPI document states them (`NewContact`, `ContactChanges`) against what the routes accept: generated
 * bodies, text at the storable edge (NUL, lone surrogates) and at the length cap, get the same verdict
 * from both. (Not generated: text padded past 255 characters, which the route trims before counting.)
 */
describe('OpenAPI contact bodies agree with the routes', () => {
  let demo: DemoUnderTest;
  let contact: string;
  beforeAll(async () => {
    demo = await startDemoApp();
    contact = (await call(demo, 'POST', '/contacts', { name: 'Ada' })).body.uuid;
  }, 60_000);
  afterAll(() => demo?.close());

  const text = fc.oneof(
    fc.string({ maxLength: 12 }),
    fc.constantFrom(...NUL_OR_INVALID, 'x'.repeat(255), 'x'.repeat(256), '😀'.repeat(255)),
  );
  const body = fc.record(
    { name: fc.option(text), company: fc.option(text), roleInCompany: fc.option(text), department: fc.option(text) },
    { requiredKeys: [] },
  );

  it.each([
    ['NewContact', 'POST', (): string => '/contacts', 201],
    ['ContactChanges', 'PATCH', (): string => `/contacts/${contact}`, 200],
  ] as const)('%s: the document accepts exactly what the route accepts', async (component, method, path, ok) => {
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
