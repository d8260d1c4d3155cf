import { ownDatabase, terminateBackendsWhile } from '../support/faults';
import { HostProcess, spawnHost } from './host-process';
import { checkAnswer, OpenApiDocument } from './demo-app';

/**
 * The demo host as `npm start` runs it, on a PostgreSQL database of the test's own whose backends the
 * test keeps terminating (a server restart, a failover or a proxy would do the same): the process stays
 * up, answers 201 or 503 (never 500), and is well again once the server stops dropping it.
 */
const LOAD_MS = 3000;
const WORKERS = 4;

describe('the demo host while PostgreSQL drops its connections', () => {
  let database: Awaited<ReturnType<typeof ownDatabase>>;
  let host: HostProcess | undefined;

  beforeAll(async () => (database = await ownDatabase('crm_host_faults')));
  afterAll(async () => {
    host?.child.kill('SIGKILL');
    await host?.exited;
    await database?.drop();
  });

  it('stays up, answers 503 with `committed` for what failed, and recovers by itself', async () => {
    host = await spawnHost({ DATABASE_URL: database.url(), LOG_LEVEL: 'info' }).started;
    const base = host.base;
    let exited = false;
    void host.exited.then(() => (exited = true));
    const contacts = ((await (await fetch(`${base}/contacts`)).json()) as { uuid: string }[]).map((c) => c.uuid);
    const api = { document: (await (await fetch(`${base}/docs-json`)).json()) as OpenApiDocument, answered: new Set<string>() };

    const statuses: Record<number, number> = {};
    const unavailable: unknown[] = [];
    const stopAt = Date.now() + LOAD_MS;
    const worker = async (w: number) => {
      for (let i = 0; Date.now() < stopAt && i < 500; i++) {
        const response = await fetch(`${base}/interactions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ contactUuid: contacts[i % contacts.length], subject: `w${w} #${i}` }),
        });
        statuses[response.status] = (statuses[response.status] ?? 0) + 1;
        const text = await response.text();
        checkAnswer(api, 'POST', '/interactions', response, text); // 503s too: as the OpenAPI document says
        if (response.status === 503) unavailable.push(JSON.parse(text));
      }
    };
    const [kills] = await Promise.all([
      terminateBackendsWhile(database.name, () => Date.now() < stopAt, 150),
      ...Array.from({ length: WORKERS }, (_, w) => worker(w)),
    ]);

    expect(kills).toBeGreaterThan(5);
    expect(exited).toBe(false);
    expect(Object.keys(statuses).sort()).toEqual(expect.arrayContaining(['201']));
    for (const status of Object.keys(statuses)) expect(['201', '503']).toContain(status);
    for (const body of unavailable) expect([true, false, 'unknown']).toContain((body as { committed: unknown }).committed);
    expect([...api.answered].filter((answer) => answer.endsWith(' 503')).length).toBe(statuses[503] ? 1 : 0);

    const health = await fetch(`${base}/health`);
    expect(health.status).toBe(200);
    const after = await fetch(`${base}/interactions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ contactUuid: contacts[0], subject: 'after the faults' }),
    });
    expect(after.status).toBe(201);
    process.stdout.write(`demo host under connection faults: answers ${JSON.stringify(statuses)}, ${kills} backends terminated\n`);
  }, 90_000);
});
