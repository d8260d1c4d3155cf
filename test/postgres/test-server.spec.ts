import { createServer } from 'node:net';
import { Client } from 'pg';
import { TEST_DATABASE_URL } from '../support/postgres';
import { chooseTestServer, hostOf } from '../support/test-server';

/** A loopback port that nothing listens on: the kernel hands it out, and it is closed again at once. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('the PostgreSQL a test run uses (test/support/global-setup.ts)', () => {
  it('is an embedded server when nothing is configured and nothing answers at the default address', async () => {
    const port = await closedPort();
    const choice = await chooseTestServer({}, `postgres://postgres@127.0.0.1:${port}/test`);
    expect(choice).toEqual({ kind: 'embedded', reason: expect.stringContaining(`nothing usable at 127.0.0.1:${port}/test: `) });
  });

  it('is the server at the default address when it lets us in', async () => {
    expect(await chooseTestServer({}, TEST_DATABASE_URL)).toEqual({ kind: 'default', url: TEST_DATABASE_URL });
  });

  it('is TEST_DATABASE_URL when set, as given, without trying the default address', async () => {
    const configured = `postgres://postgres@127.0.0.1:${await closedPort()}/elsewhere`;
    expect(await chooseTestServer({ TEST_DATABASE_URL: configured }, 'postgres://nowhere.invalid/test')).toEqual({
      kind: 'configured',
      url: configured,
    });
  });

  it('is an embedded server with TEST_POSTGRES=embedded, even when a server is configured', async () => {
    const env = { TEST_POSTGRES: 'embedded', TEST_DATABASE_URL };
    expect(await chooseTestServer(env, TEST_DATABASE_URL)).toEqual({ kind: 'embedded', reason: 'TEST_POSTGRES=embedded' });
    await expect(chooseTestServer({ TEST_POSTGRES: 'system' })).rejects.toThrow(/TEST_POSTGRES is 'embedded' or unset, not 'system'/);
  });

  it('is named without its password', () => {
    expect(hostOf('postgres://postgres:secret@127.0.0.1:6543/test')).toBe('127.0.0.1:6543/test');
  });

  it('is exported to the workers; an embedded one has its `test` database', async () => {
    expect(process.env.TEST_DATABASE_URL).toBe(TEST_DATABASE_URL);
    const client = new Client({ connectionString: TEST_DATABASE_URL });
    await client.connect();
    try {
      const { rows } = await client.query<{ db: string }>('SELECT current_database() AS db');
      if (process.env.TEST_POSTGRES === 'embedded') expect(rows[0]!.db).toBe('test');
    } finally {
      await client.end();
    }
  });
});
