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

  it("serves /metrics with the process's metrics and NaN for what the module could not read", async () => {
    const response = await fetch(`${demo.base}/metrics`);
    const text = await response.text();
    checkAnswer(demo, 'GET', '/metrics', response, text);
    expect(response.status).toBe(200);
    expect(text).toMatch(/^process_cpu_seconds_total [0-9]/m);
    // prom-client writes NaN as `Nan`: Prometheus reads its values with Go's ParseFloat, which ignores case.
    expect(text).toMatch(/^crm_interactions_parked_events NaN$/im);
    expect(text).toMatch(/^crm_interactions_lifecycle_pending\{kind="decisions"\} NaN$/im);
  });
});
