import { execFileSync } from 'node:child_process';
import { compiledPath } from '../support/compiled';
import { TEST_DATABASE_URL } from '../support/postgres';

/**
 * A Date parameter means its instant whatever the host's time zone: node-postgres writes a Date in local
 * time with the offset cut to whole minutes, which moved instants before a zone's standardisation (Paris
 * until 1911: +00:09:21) by seconds, so a feed's cursor met its own row again. A process of its own, as
 * the time zone is read when a process starts.
 */
describe('Date parameters in a time zone whose old offsets have seconds', () => {
  it.each(['Europe/Paris', 'Asia/Kolkata', 'America/New_York'])('keeps the instant in %s', (zone) => {
    const script = `
      const { PgDatabase } = require(${JSON.stringify(compiledPath('src/adapters/postgres/database.ts'))});
      (async () => {
        const db = new PgDatabase({ connectionString: process.env.URL, schema: 'public', max: 1 });
        const instants = ['1900-01-01T00:00:00.000Z', '0050-06-01T12:00:10.000Z', '2026-12-03T10:00:00.000Z'];
        const out = [];
        for (const instant of instants) {
          const date = new Date(instant);
          const plain = await db.query('SELECT to_char($1::timestamptz AT TIME ZONE $2, $3) AS t', [date, 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS']);
          const inTx = await db.transaction((tx) => tx.query('SELECT to_char($1::timestamptz AT TIME ZONE $2, $3) AS t', [date, 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS']));
          out.push(plain.rows[0].t, inTx.rows[0].t);
        }
        await db.close();
        process.stdout.write(JSON.stringify(out));
      })().catch((error) => { console.error(error); process.exit(1); });`;
    const out = execFileSync(process.execPath, ['-e', script], { env: { ...process.env, TZ: zone, URL: TEST_DATABASE_URL }, encoding: 'utf8' });
    expect(JSON.parse(out)).toEqual(['1900-01-01T00:00:00', '1900-01-01T00:00:00', '0050-06-01T12:00:10', '0050-06-01T12:00:10', '2026-12-03T10:00:00', '2026-12-03T10:00:00']);
  });
});
