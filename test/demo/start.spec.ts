import { ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { PGliteDatabase } from '../../src/adapters/pglite/database';
import { LOCK_FILE } from '../../src/adapters/pglite/directory-lock';
import { createDemoApp } from '../../src/demo/main';
import { failedHost } from './host-process';
import { compiledPath } from '../support/compiled';

const ROOT = resolve(__dirname, '../..');

/** What `npm start` runs, on an empty data directory, with nothing but Node and the repository. */
describe('npm start', () => {
  const dataDir = join(mkdtempSync(join(tmpdir(), 'crm-interactions-start-')), 'data');
  let child: ChildProcess | undefined;
  afterAll(() => {
    child?.kill('SIGTERM');
    rmSync(resolve(dataDir, '..'), { recursive: true, force: true });
  });

  it('boots the demo host on an empty PGlite directory, with sample data and /health 200', async () => {
    child = spawn(process.execPath, [compiledPath('src/demo/main.ts')], {
      cwd: ROOT,
      env: { ...process.env, PORT: '0', PGLITE_DATA_DIR: dataDir, DATABASE_URL: '', KURRENTDB_URL: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const base = await new Promise<string>((resolveUrl, reject) => {
      let output = '';
      child!.stdout!.on('data', (chunk: Buffer) => {
        output += chunk.toString();
        const match = /demo on (http:\/\/localhost:\d+)/.exec(output);
        if (match) resolveUrl(match[1]!);
      });
      child!.on('exit', (code) => reject(new Error(`exited with ${code}: ${output}`)));
    });

    const health = await fetch(`${base}/health`);
    expect(health.status).toBe(200);
    const contacts = (await (await fetch(`${base}/contacts`)).json()) as { uuid: string }[];
    expect(contacts).toHaveLength(3);
    const feed = await fetch(`${base}/interactions?contactUuids=${contacts.map((c) => c.uuid).join(',')}`);
    expect(await feed.json()).toMatchObject({ items: [expect.anything(), expect.anything(), expect.anything()], nextCursor: null });
    const recent = (await (await fetch(`${base}/interactions/recent`)).json()) as { items: unknown[]; nextCursor: string | null };
    expect(recent).toMatchObject({ items: [expect.anything(), expect.anything(), expect.anything()], nextCursor: null });
    expect(readdirSync(dataDir).length).toBeGreaterThan(0);

    // Nest closes the app on SIGTERM (module resources, then PGlite), then re-raises the signal.
    const exited = new Promise<NodeJS.Signals | null>((resolveExit) => child!.on('exit', (_code, signal) => resolveExit(signal)));
    child.kill('SIGTERM');
    expect(await exited).toBe('SIGTERM');
    child = undefined;

    // The data stayed on disk: a second start would find it (and add no second set of samples).
    const db = await PGliteDatabase.open({ dataDir, schema: 'crm_demo' });
    try {
      expect((await db.query<{ n: string }>('SELECT count(*) AS n FROM contacts', [])).rows[0]!.n).toBe('3');
    } finally {
      await db.close();
    }
  }, 90_000);

  it('a start that fails says why in one line, naming the database without its password, and exits 1', async () => {
    const { code, output } = await failedHost({ DATABASE_URL: 'postgres://crm:s3cret-pw@127.0.0.1:1/crm' });
    expect(code).toBe(1);
    expect(output).toContain('crm-interactions demo: could not start: ');
    expect(output).toMatch(/PostgreSQL 127\.0\.0\.1:1\/crm/);
    expect(output).not.toContain('s3cret-pw');
    expect(output).not.toMatch(/\n\s+at /);
  }, 60_000);

  it('a start that fails releases the PGlite directory it opened: it can be opened again at once', async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'crm-interactions-start-fail-')), 'data');
    try {
      const seed = await PGliteDatabase.open({ dataDir: dir, schema: 'sabotaged' });
      await seed.query(
        `CREATE SCHEMA sabotaged; CREATE TABLE sabotaged.schema_migrations (id text PRIMARY KEY, applied_at timestamptz, sabotage int NOT NULL)`,
      );
      await seed.close();
      const start = createDemoApp({ module: { database: { pglite: { dataDir: dir } }, schema: 'sabotaged' }, sampleData: false, logLevel: 'silent' });
      await expect(start).rejects.toThrow(/sabotage/);
      expect(existsSync(join(dir, LOCK_FILE))).toBe(false);
      const again = await PGliteDatabase.open({ dataDir: dir, schema: 'crm_demo' });
      await again.close();
    } finally {
      rmSync(resolve(dir, '..'), { recursive: true, force: true });
    }
  }, 90_000);
});
