import { partitionableProxy } from '../support/faults';
import { POSTGRES } from '../support/backends';
import { TEST_DATABASE_URL } from '../support/postgres';
import { call, checkAnswer, DemoUnderTest, startDemoApp } from './demo-app';

/**
 * The demo host once its database is gone (every connection cut, none accepted: the server down): the
 * host's own routes still answer as the OpenAPI document says.
 */
describe('the demo host with its database down', () => {
  let proxy: Awaited<ReturnType<typeof partitionableProxy>>;
  let demo: DemoUnderTest;

  beforeAll(async () => {
    proxy = await partitionableProxy();
    const database = new URL(TEST_DATABASE_URL).pathname.slice(1);
    demo = await startDemoApp({ ...POSTGRES, databaseOption: async () => ({ connectionString: proxy.url(database), maxConnections: 5 }) });
    await proxy.close();
  });
  afterAll(() => demo?.close());

  it('answers /health 503 with the parked events uncounted', async () => {
    const { status, body } = await call(demo, 'GET', '/health');
    expect(status).toBe(503);
    expect(body.details.projection.parked).toBeNull();
  });
});
