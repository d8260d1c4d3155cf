import { dropSchema, TEST_DATABASE_URL, uniqueSchema } from '../support/postgres';
import { HostProcess, spawnHost } from './host-process';

/**
 * The demo host's request log lines (pino-http) are kept where the module's erasure cannot reach: they
 * must not hold the personal data a request carries in its query string (a name or email looked for
 * among unresolved parties, the words of a search), while the parameters that are not personal stay.
 */
describe("the demo host's request log", () => {
  const schemas = { module: uniqueSchema('reqlog'), contacts: uniqueSchema('reqlog_demo') };
  let host: HostProcess | undefined;
  afterAll(async () => {
    if (host) {
      host.child.kill('SIGTERM');
      await host.exited;
    }
    await dropSchema(schemas.module);
    await dropSchema(schemas.contacts);
  });

  it('logs query parameters that may be personal data without their values', async () => {
    host = await spawnHost({
      DATABASE_URL: TEST_DATABASE_URL,
      CRM_INTERACTIONS_SCHEMA: schemas.module,
      DEMO_CONTACTS_SCHEMA: schemas.contacts,
      LOG_LEVEL: 'info',
    }).started;
    const contact = ((await (await fetch(`${host.base}/contacts`)).json()) as { uuid: string }[])[0]!.uuid;
    const lookups = [
      '/parties/unresolved?name=Zelda%20Quimby&email=zelda.quimby%40example.com',
      `/contacts/${contact}/interactions?q=quimby&limit=5`,
      `/contacts/${contact}/interactions/counts?q=quimby`,
      '/interactions/recent?q=quimby',
    ];
    for (const path of lookups) expect((await fetch(`${host.base}${path}`)).status).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, 200)); // the last lines reach the pipe
    const lines = host.output().split('\n').filter((line) => line.includes('"req"'));
    expect(lines.length).toBeGreaterThanOrEqual(lookups.length);
    expect(host.output()).not.toMatch(/quimby/i);
    expect(host.output()).toContain('/parties/unresolved?name=[redacted]&email=[redacted]');
    expect(host.output()).toContain(`/contacts/${contact}/interactions?q=[redacted]&limit=5`);
  }, 60_000);
});
