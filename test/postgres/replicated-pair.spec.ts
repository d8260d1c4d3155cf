import { existsSync } from 'node:fs';
import { Client } from 'pg';
import { ReplicatedPair, startReplicatedPair } from '../support/replica';

async function on<T>(url: string, work: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: url, connectionTimeoutMillis: 3000 });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

const names = (url: string) =>
  on(url, async (client) => (await client.query<{ name: string }>('SELECT name FROM replicated ORDER BY id')).rows.map((r) => r.name));

describe('a primary and hot standby of its own (test/support/replica.ts)', () => {
  let pair: ReplicatedPair;
  beforeAll(async () => {
    pair = await startReplicatedPair();
  }, 30_000);
  afterAll(() => pair?.stop());

  it('has the standby in recovery, refusing writes', async () => {
    await on(pair.standbyUrl, async (client) => {
      expect((await client.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r')).rows[0]!.r).toBe(true);
      await expect(client.query('CREATE TABLE nope (id int)')).rejects.toThrow(/read-only transaction/);
    });
    expect(new URL(pair.standbyUrl).port).not.toBe(new URL(pair.primaryUrl).port);
  });

  it('replays on the standby what the primary writes', async () => {
    await on(pair.primaryUrl, (client) => client.query("CREATE TABLE replicated (id int PRIMARY KEY, name text); INSERT INTO replicated VALUES (1, 'one')"));
    await pair.caughtUp();
    expect(await names(pair.standbyUrl)).toEqual(['one']);
    await expect(on(pair.standbyUrl, (client) => client.query("INSERT INTO replicated VALUES (9, 'nine')"))).rejects.toThrow(/read-only/);
  });

  it('lags while its replay is paused: it receives the WAL but shows the old rows, until resumed', async () => {
    await pair.pauseReplay();
    const written = await on(pair.primaryUrl, async (client) => {
      await client.query("INSERT INTO replicated VALUES (2, 'two')");
      return (await client.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn')).rows[0]!.lsn;
    });
    // the row has reached the standby, so what it shows is replay lag, not a slow network
    await on(pair.standbyUrl, async (client) => {
      for (let tries = 0; ; tries++) {
        const { rows } = await client.query<{ received: boolean }>('SELECT pg_last_wal_receive_lsn() >= $1::pg_lsn AS received', [written]);
        if (rows[0]!.received) break;
        if (tries > 100) throw new Error(`the standby did not receive ${written}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    });
    expect(await names(pair.standbyUrl)).toEqual(['one']);
    await expect(pair.caughtUp(300)).rejects.toThrow(/replay paused/);

    await pair.resumeReplay();
    await pair.caughtUp();
    expect(await names(pair.standbyUrl)).toEqual(['one', 'two']);
  }, 20_000);

  it('stops both servers and removes their data', async () => {
    expect(pair.dataDirs.every((dir) => existsSync(dir))).toBe(true);
    await pair.stop();
    for (const url of [pair.primaryUrl, pair.standbyUrl]) await expect(on(url, async () => undefined)).rejects.toThrow();
    expect(pair.dataDirs.filter((dir) => existsSync(dir))).toEqual([]);
  });
});
