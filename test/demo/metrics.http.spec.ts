import { call, DemoUnderTest, startDemoApp } from './demo-app';

/** A Prometheus scrape of the demo host: the module's documented metrics and the process's own. */
describe('GET /metrics on the demo host', () => {
  let demo: DemoUnderTest;
  beforeAll(async () => (demo = await startDemoApp()));
  afterAll(() => demo.close());

  it('answers the Prometheus text format with every documented metric of the module', async () => {
    const contact = await call(demo, 'POST', '/contacts', { name: 'Scraped' });
    expect((await call(demo, 'POST', '/interactions', { contactUuid: contact.body.uuid })).status).toBe(201);
    expect((await call(demo, 'POST', '/interactions', { contactUuid: 'nope' })).status).toBe(422);
    expect((await call(demo, 'GET', `/contacts/${contact.body.uuid}/interactions`)).status).toBe(200);

    const response = await fetch(`${demo.base}/metrics`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/plain;/);
    expect(response.headers.get('content-type')).toContain('version=0.0.4');
    const text = await response.text();
    for (const name of [
      'crm_interactions_command_duration_seconds',
      'crm_interactions_query_duration_seconds',
      'crm_interactions_parked_events',
      'crm_interactions_projection_lag_seconds',
      'crm_interactions_projection_caught_up',
      'crm_interactions_lifecycle_pending',
      'process_cpu_seconds_total',
    ]) {
      expect(text).toMatch(new RegExp(`^# TYPE ${name} `, 'm'));
    }
    expect(text).toMatch(/^crm_interactions_command_duration_seconds_count\{command="CreateInteractionCommand",outcome="ok"\} [1-9]/m);
    expect(text).toMatch(/^crm_interactions_command_duration_seconds_count\{command="CreateInteractionCommand",outcome="invalid"\} [1-9]/m);
    expect(text).toMatch(/^crm_interactions_query_duration_seconds_count\{query="ListInvolvingQuery",outcome="ok"\} [1-9]/m);
    // Every sample line is `name{labels} value`: what a Prometheus scrape parses.
    for (const line of text.split('\n').filter((l) => l && !l.startsWith('#'))) {
      expect(line).toMatch(/^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[^}]*\})? -?[0-9.e+-]+|NaN|[+-]Inf$/);
    }
  });
});
