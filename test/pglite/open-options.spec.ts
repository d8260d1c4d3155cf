import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PGliteDatabase } from '../../src/adapters/pglite/database';
import { installedPGliteVersion, pgliteTemplate, templateFileName } from '../../src/demo/pglite-template';

/** What tells one initdb's cluster from another's: its databases, their encoding and locale, its catalogs. */
async function clusterShape(db: PGliteDatabase): Promise<unknown> {
  const { rows } = await db.query(
    `SELECT current_setting('server_version') AS version,
            (SELECT json_agg(json_build_object('name', datname, 'encoding', pg_encoding_to_char(encoding),
                                               'collate', datcollate, 'ctype', datctype) ORDER BY datname)
               FROM pg_database) AS databases,
            (SELECT count(*) FROM pg_proc) AS functions,
            (SELECT count(*) FROM pg_class) AS relations,
            (SELECT count(*) FROM pg_extension) AS extensions`,
    [],
  );
  return rows[0];
}

describe('a new PGlite folder from a template (the demo host)', () => {
  const root = mkdtempSync(join(tmpdir(), 'crm-interactions-template-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('the demo has the template of the installed PGlite version', () => {
    const version = installedPGliteVersion();
    // After an upgrade of @electric-sql/pglite: `npm run demo:template`, and commit the file.
    expect({ version, template: pgliteTemplate() }).toEqual({
      version,
      template: expect.stringMatching(new RegExp(`${templateFileName(version).replace(/\./g, '\\.')}$`)),
    });
  });

  it('starts a new folder as initdb would have, and a folder holding a database ignores it', async () => {
    const template = pgliteTemplate()!;
    const fromInitdb = await PGliteDatabase.open({ dataDir: join(root, 'initdb'), schema: 'public' });
    const initdbShape = await clusterShape(fromInitdb).finally(() => fromInitdb.close());

    const dataDir = join(root, 'from-template');
    const created = await PGliteDatabase.open({ dataDir, schema: 'public', template });
    try {
      expect(existsSync(join(dataDir, 'PG_VERSION'))).toBe(true);
      expect(await clusterShape(created)).toEqual(initdbShape);
      await created.query('CREATE TABLE kept (n int); INSERT INTO kept VALUES (42)');
    } finally {
      await created.close();
    }

    // Opened again with the template (as every demo start passes it): the database stays as it was.
    const reopened = await PGliteDatabase.open({ dataDir, schema: 'public', template });
    try {
      expect((await reopened.query<{ n: number }>('SELECT n FROM kept', [])).rows).toEqual([{ n: 42 }]);
    } finally {
      await reopened.close();
    }

    const inMemory = await PGliteDatabase.open({ dataDir: 'memory://', schema: 'public', template });
    try {
      expect(await clusterShape(inMemory)).toEqual(initdbShape);
    } finally {
      await inMemory.close();
    }
  }, 120_000);
});

describe('a PGlite folder of another PostgreSQL major', () => {
  const root = mkdtempSync(join(tmpdir(), 'crm-interactions-major-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('fails naming the folder\'s major and what to do, and leaves the folder unlocked', async () => {
    const dataDir = join(root, 'older');
    await (await PGliteDatabase.open({ dataDir, schema: 'public', template: pgliteTemplate() })).close();
    writeFileSync(join(dataDir, 'PG_VERSION'), '16\n'); // as a folder of an older PGlite would say
    await expect(PGliteDatabase.open({ dataDir, schema: 'public' })).rejects.toThrow(
      /the folder holds a PostgreSQL 16 database: if this PGlite runs another major, it cannot open it; dump it/,
    );
    expect(existsSync(join(dataDir, 'crm-interactions.lock'))).toBe(false);
  }, 60_000);

  it('says nothing of versions when the folder is of this major and fails for another reason (a damaged file)', async () => {
    const dataDir = join(root, 'damaged');
    await (await PGliteDatabase.open({ dataDir, schema: 'public', template: pgliteTemplate() })).close();
    writeFileSync(join(dataDir, 'global', 'pg_control'), ''); // as a full disk or a bad copy could leave it
    const failed = await PGliteDatabase.open({ dataDir, schema: 'public' }).then(
      (db) => db.close().then(() => null),
      (error: unknown) => error as Error,
    );
    expect(failed).toBeInstanceOf(Error);
    expect(failed!.message).not.toMatch(/PostgreSQL \d+ database/);
    expect(existsSync(join(dataDir, 'crm-interactions.lock'))).toBe(false);
  }, 60_000);
});

describe('PGlite started with PostgreSQL settings', () => {
  it('applies them, and refuses a name that is not one', async () => {
    const settings = { shared_buffers: '16MB', work_mem: '2MB' };
    const db = await PGliteDatabase.open({ dataDir: 'memory://', schema: 'public', template: pgliteTemplate(), settings });
    try {
      const { rows } = await db.query(`SELECT current_setting('shared_buffers') AS buffers, current_setting('work_mem') AS work`, []);
      expect(rows).toEqual([{ buffers: '16MB', work: '2MB' }]);
    } finally {
      await db.close();
    }
    await expect(PGliteDatabase.open({ dataDir: 'memory://', schema: 'public', template: pgliteTemplate(), settings: { 'x=1 -c y': '1' } })).rejects.toThrow(
      'not a PostgreSQL setting name: "x=1 -c y"',
    );
  }, 60_000);
});
