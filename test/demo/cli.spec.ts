import { INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { PGliteDatabase } from '../../src/adapters/pglite/database';
import { InteractionsModule, InteractionsService } from '../../src';
import { InMemoryContactDirectory } from '../support/directories';
import { readTables } from '../support/read-tables';
import { dropSchema, TEST_DATABASE_URL, uniqueSchema } from '../support/postgres';
import { PgDatabase } from '../../src/adapters/postgres/database';
import { uuidv7 } from 'uuidv7';

const run = promisify(execFile);
const BIN = resolve(__dirname, '../../bin/crm-interactions.js');
const SCHEMA = 'crm_interactions';

/** The real binary against a PGlite data directory of the test's own (one process at a time uses it). */
async function cli(dataDir: string, ...args: string[]): Promise<{ stdout: string; stderr: string; code: number }> {
  return cliWith({ PGLITE_DATA_DIR: dataDir, DATABASE_URL: '' }, ...args);
}

async function cliWith(env: Record<string, string>, ...args: string[]): Promise<{ stdout: string; stderr: string; code: number }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [BIN, ...args], {
      env: { ...process.env, KURRENTDB_URL: '', DEBUG: '', ...env },
    });
    return { stdout, stderr, code: 0 };
  } catch (error) {
    const failed = error as { stdout: string; stderr: string; code: number };
    return { stdout: failed.stdout, stderr: failed.stderr, code: failed.code };
  }
}

async function readTablesOf(dataDir: string): Promise<unknown> {
  const db = await PGliteDatabase.open({ dataDir, schema: SCHEMA });
  try {
    return await readTables(db);
  } finally {
    await db.close();
  }
}

describe('crm-interactions CLI', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'crm-interactions-cli-'));
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  it('migrates, rebuilds to identical tables, audits a stream, folds as-of a time, and prints stats', async () => {
    const migrated = await cli(dataDir, 'migrate');
    expect(migrated.code).toBe(0);
    expect(migrated.stdout).toMatch(/^applied event_log\/0001_event_log.sql, event_log\/0002_lock_and_read_stream.sql, read_tables\/0001_read_tables.sql/);
    expect((await cli(dataDir, 'migrate')).stdout).toMatch(/nothing to apply/);

    // Seed through the service, as a host would, then let go of the directory for the CLI.
    const contacts = new InMemoryContactDirectory();
    const ada = contacts.add({ uuid: uuidv7(), name: 'Ada' }).uuid;
    const bob = contacts.add({ uuid: uuidv7(), name: 'Bob' }).uuid;
    const actor = uuidv7();
    const app: INestApplicationContext = await NestFactory.createApplicationContext(
      InteractionsModule.forRoot({ database: { pglite: { dataDir } }, contactDirectory: contacts }),
      { logger: false },
    );
    const service = app.get(InteractionsService);
    const created = await service.createInteraction({ contactUuid: ada, subject: 'First' }, [{ rawName: 'Bob', contactUuid: bob }], [], { actorUuid: actor });
    // A name that would drive the auditor's terminal: a screen clear, a colour, a forged row.
    const forged = await service.createInteraction({ contactUuid: ada }, [{ rawName: 'Eve\u001b[2J\u001b[31mCLEARED\u001b[0m\nrevision 9  forged\u202e' }]);
    await new Promise((resolveWait) => setTimeout(resolveWait, 1100)); // a later second for as-of
    await service.updateInteraction(created.uuid, { subject: 'Second' }, [], { actorUuid: actor });
    const gone = await service.createInteraction({ contactUuid: bob, subject: 'Gone' });
    await service.deleteInteraction(gone.uuid);
    await app.close();

    const before = await readTablesOf(dataDir);
    const rebuilt = await cli(dataDir, 'rebuild', '--batch-size', '2');
    expect(rebuilt.code).toBe(0);
    expect(rebuilt.stdout).toMatch(/rebuilt the read tables from 9 events in [\d.]+ s \(\d+ events\/s\)/);
    expect(await readTablesOf(dataDir)).toEqual(before);

    const audit = await cli(dataDir, 'audit', created.uuid);
    expect(audit.code).toBe(0);
    const lines = audit.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^revision\s+time\s+type\s+actor\s+changes$/);
    expect(lines.slice(2).map((line) => line.split(/\s+/).slice(0, 1).concat(line.split(/\s+/)[2]!))).toEqual([
      ['0', 'InteractionLogged'],
      ['1', 'PartiesRebuilt'],
      ['2', 'InteractionUpdated'],
      ['3', 'PartiesRebuilt'],
    ]);
    expect(audit.stdout).toContain(actor);
    expect(audit.stdout).toContain('subject: "First" → "Second"');
    expect(audit.stdout).toContain('parties: [Bob] → []');
    const forgedAudit = await cli(dataDir, 'audit', forged.uuid);
    expect(forgedAudit.stdout).not.toMatch(/[\u0000-\u001f\u007f\u202e](?<!\n)/);
    expect(forgedAudit.stdout.trim().split('\n')).toHaveLength(4); // header, rule, two events: no forged line
    expect(forgedAudit.stdout).toContain('Eve\\u001b[2J\\u001b[31mCLEARED\\u001b[0m\\u000arevision 9  forged\\u202e');

    const history = created.insertedAt.toISOString();
    const asOf = await cli(dataDir, 'as-of', created.uuid, history);
    expect(asOf.code).toBe(0);
    expect(JSON.parse(asOf.stdout)).toMatchObject({ uuid: created.uuid, subject: 'First', parties: [{ rawName: 'Bob' }] });
    // A time without an offset is UTC, as the API reads it, whatever the machine's zone; and only ISO-8601.
    const noOffset = history.replace(/\.\d{3}Z$/, '');
    for (const TZ of ['UTC', 'America/New_York', 'Asia/Tokyo']) {
      const local = await cliWith({ PGLITE_DATA_DIR: dataDir, DATABASE_URL: '', TZ }, 'as-of', created.uuid, noOffset);
      expect({ TZ, code: local.code, subject: local.code === 0 ? JSON.parse(local.stdout).subject : local.stderr }).toEqual({ TZ, code: 0, subject: 'First' });
    }
    for (const bad of ['0', 'yesterday', '2026-13-01']) {
      expect(await cli(dataDir, 'as-of', created.uuid, bad)).toMatchObject({ code: 1, stderr: `crm-interactions: not an ISO-8601 time: ${bad}\n` });
    }
    const tooEarly = await cli(dataDir, 'as-of', created.uuid, '2000-01-01T00:00:00Z');
    expect(tooEarly.code).toBe(1);
    expect(tooEarly.stderr).toMatch(/did not exist at 2000-01-01T00:00:00.000Z/);
    expect(tooEarly.stderr).not.toMatch(/\n\s+at /);

    const stats = await cli(dataDir, 'stats');
    expect(stats.stdout).toMatch(/^streams\s+3$/m);
    expect(stats.stdout).toMatch(/^events\s+9$/m);
    expect(stats.stdout).toMatch(/^interactions\s+2$/m);
    expect(stats.stdout).toMatch(/^interaction_involvements\s+2$/m);

    const unknown = await cli(dataDir, 'audit', uuidv7());
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/no events for interaction/);
  }, 120_000);

  it('refuses a --batch-size that is not a positive integer in one line, changing nothing', async () => {
    const before = await readTablesOf(dataDir);
    expect((before as { interactions: unknown[] }).interactions.length).toBeGreaterThan(0);
    for (const bad of ['0', '-5', 'abc', '1.5', '', '1e3']) {
      const rebuilt = await cli(dataDir, 'rebuild', '--batch-size', bad);
      expect({ bad, code: rebuilt.code, stdout: rebuilt.stdout }).toEqual({ bad, code: 1, stdout: '' });
      expect(rebuilt.stderr).toBe(`crm-interactions: --batch-size must be a positive integer, got "${bad}"\n`);
    }
    expect(await readTablesOf(dataDir)).toEqual(before);
  }, 120_000);

  it('ends quietly when the reader of its output goes away (stats | head -1)', async () => {
    // The reader is gone before the first line: every write meets EPIPE.
    const child = spawn(process.execPath, [BIN, 'stats'], {
      env: { ...process.env, PGLITE_DATA_DIR: dataDir, DATABASE_URL: '', KURRENTDB_URL: '', DEBUG: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.destroy();
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const code = await new Promise<number | null>((resolveExit) => child.once('exit', (exitCode) => resolveExit(exitCode)));
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });

    const piped = await run('sh', ['-c', `"${process.execPath}" "${BIN}" stats | head -1`], {
      env: { ...process.env, PGLITE_DATA_DIR: dataDir, DATABASE_URL: '', KURRENTDB_URL: '', DEBUG: '' },
    });
    expect(piped.stdout).toMatch(/^streams\s+\d+\n$/); // its first line only
    expect(piped.stderr).toBe('');
  }, 120_000);

  it('answers a usage error (a missing argument, an unknown command or option) in one line, opening nothing', async () => {
    const unopened = join(dataDir, 'never-opened');
    for (const args of [['audit'], ['retry-parked'], ['mirgate'], ['rebuild', '--batch'], ['stats', '--nope']]) {
      const failed = await cli(unopened, ...args);
      expect({ args, code: failed.code, stdout: failed.stdout }).toEqual({ args, code: 1, stdout: '' });
      expect(failed.stderr).toMatch(
        /^crm-interactions: (missing required argument 'uuid'|unknown command 'retry-parked'|unknown command 'mirgate' \(Did you mean migrate\?\)|unknown option '--\w+'( \(Did you mean --[\w-]+\?\))?) \(see --help\)\n$/,
      );
    }
    expect(existsSync(unopened)).toBe(false);
  }, 60_000);

  it('reports a PGlite folder it cannot open (a damaged file) in one line and exits, without a misleading version hint', async () => {
    const damaged = mkdtempSync(join(tmpdir(), 'crm-interactions-cli-damaged-'));
    try {
      expect((await cli(damaged, 'migrate')).code).toBe(0);
      writeFileSync(join(damaged, 'global', 'pg_control'), '');
      const failed = await cli(damaged, 'stats');
      expect(failed.code).toBe(1);
      expect(failed.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^crm-interactions: InteractionsModule: could not open PGlite in /)]);
      expect(failed.stderr).not.toMatch(/PostgreSQL \d+ database/);
    } finally {
      rmSync(damaged, { recursive: true, force: true });
    }
  }, 60_000);

  it('reports a database it cannot reach in one line naming the target, without the password or a stack', async () => {
    const unreachable = await cliWith({ DATABASE_URL: 'postgres://crm:s3cret-pw@127.0.0.1:1/crm' }, 'stats');
    expect(unreachable.code).toBe(1);
    expect(unreachable.stdout).toBe('');
    expect(unreachable.stderr).toMatch(/^crm-interactions: InteractionsModule: could not open PostgreSQL 127\.0\.0\.1:1\/crm: .*ECONNREFUSED.*\n$/);
    expect(unreachable.stderr).not.toContain('s3cret-pw');
  }, 60_000);
});

describe('crm-interactions CLI: parked events', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'crm-interactions-cli-parked-'));
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  /** Writes to the log past the module (one process at a time uses the directory). */
  async function onLog(sql: string, params: unknown[]): Promise<void> {
    const db = await PGliteDatabase.open({ dataDir, schema: SCHEMA });
    try {
      await db.query(sql, params);
    } finally {
      await db.close();
    }
  }

  it('lists parked events as a table, and `parked retry` applies what now applies', async () => {
    expect((await cli(dataDir, 'migrate')).code).toBe(0);
    const uuid = uuidv7();
    const stream = `interaction-${uuid}`;
    const logged = {
      schemaVersion: 1,
      interactionUuid: uuid,
      contactUuid: uuidv7(),
      interactionType: 'fax', // not one of the types: the event is parked
      occurredAt: '2026-04-01T09:00:00Z',
      subject: 'Parked',
      body: null,
      ownerUserUuid: null,
      metadata: {},
      fileUuids: [],
    };
    const metadata = { actorUuid: null, correlationId: uuidv7(), causationId: null, recordedAt: '2026-04-01T10:00:00.000Z' };
    await onLog(
      `INSERT INTO events (event_id, stream_name, stream_revision, event_type, data, metadata)
       VALUES ($1, $2, 0, 'InteractionLogged', $3::jsonb, $4::jsonb)`,
      [uuidv7(), stream, JSON.stringify(logged), JSON.stringify(metadata)],
    );
    expect((await cli(dataDir, 'rebuild')).code).toBe(0);

    const listed = await cli(dataDir, 'parked');
    expect(listed.code).toBe(0);
    const lines = listed.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^stream\s+revision\s+position\s+type\s+parked at\s+error$/);
    expect(lines).toHaveLength(3);
    expect(lines[2]).toMatch(new RegExp(`^${stream}\\s+0\\s+\\d+/\\d+\\s+InteractionLogged\\s+\\d{4}-\\d\\d-\\d\\dT\\S+Z\\s+Invalid InteractionLogged event: .*interactionType`));
    expect((await cli(dataDir, 'parked', 'retry')).stdout).toBe('applied 0, still parked 1\n');

    // The stream repaired in the log (an operator's fix): the retry applies it.
    await onLog(`UPDATE events SET data = jsonb_set(data, '{interactionType}', '"call"') WHERE stream_name = $1`, [stream]);
    expect((await cli(dataDir, 'parked', 'retry')).stdout).toBe('applied 1, still parked 0\n');
    expect((await cli(dataDir, 'parked')).stdout).toBe('no parked events\n');
    const tables = (await readTablesOf(dataDir)) as { interactions: { uuid: string; interaction_type: string }[] };
    expect(tables.interactions.map((row) => [row.uuid, row.interaction_type])).toEqual([[uuid, 'call']]);

    const unknown = await cli(dataDir, 'parked', 'purge');
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/unknown parked command: purge/);
  }, 120_000);
});

describe('crm-interactions CLI: rebuild interrupted in a terminal', () => {
  const schema = uniqueSchema('cli_tty');
  afterAll(() => dropSchema(schema));
  const scriptExists = existsSync('/usr/bin/script');

  // `script` runs the CLI on a pseudo-terminal, so the progress bar is drawn (it hides the cursor), and Ctrl-C
  // typed into it reaches the CLI as from a keyboard.
  (scriptExists ? it : it.skip)('gives the cursor back on Ctrl-C, exits 130, and leaves the read tables as they were', async () => {
    const contacts = new InMemoryContactDirectory();
    const ada = contacts.add({ uuid: uuidv7(), name: 'Ada' }).uuid;
    const app = await NestFactory.createApplicationContext(
      InteractionsModule.forRoot({ database: { connectionString: TEST_DATABASE_URL }, schema, contactDirectory: contacts }),
      { logger: false },
    );
    const service = app.get(InteractionsService);
    for (let i = 0; i < 400; i++) await service.createInteraction({ contactUuid: ada, subject: `Call ${i}` });
    await app.close();
    const db = new PgDatabase({ connectionString: TEST_DATABASE_URL, schema, max: 1 });
    try {
      const before = await readTables(db);
      const command = [process.execPath, BIN, 'rebuild', '--batch-size', '1'].map((word) => JSON.stringify(word)).join(' ');
      const child = spawn('script', ['-qfec', command, '/dev/null'], {
        env: { ...process.env, DATABASE_URL: TEST_DATABASE_URL, CRM_INTERACTIONS_SCHEMA: schema, KURRENTDB_URL: '', DEBUG: '' },
        stdio: ['pipe', 'pipe', 'pipe'],
      });
      let output = '';
      const drawn = new Promise<void>((resolveDrawn) =>
        child.stdout!.on('data', (chunk) => {
          output += String(chunk);
          if (/rebuild \[.*\] \d+% \| [1-9]\d*\//.test(output)) resolveDrawn(); // part of the way through
        }),
      );
      const exited = new Promise<number | null>((resolveExit) => child.once('exit', (code) => resolveExit(code)));
      await drawn;
      child.stdin!.write('\u0003');
      expect(await exited).toBe(130);
      const hidden = output.indexOf('\u001b[?25l');
      expect(hidden).toBeGreaterThanOrEqual(0);
      expect(output.indexOf('\u001b[?25h', hidden)).toBeGreaterThan(hidden);
      expect(output).not.toMatch(/rebuilt the read tables/);
      expect(await readTables(db)).toEqual(before);
    } finally {
      await db.close();
    }
  }, 120_000);
});
