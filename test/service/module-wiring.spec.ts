import { Global, Injectable, Logger, Module } from '@nestjs/common';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { CommandBus, CqrsModule, QueryBus } from '@nestjs/cqrs';
import { Test } from '@nestjs/testing';
import { uuidv7 } from 'uuidv7';
import {
  CONTACT_DIRECTORY,
  CreateInteractionCommand,
  GetInteractionQuery,
  InteractionsMaintenance,
  InteractionsModule,
  InteractionsService,
} from '../../src';
import { PGliteDatabase } from '../../src/adapters/pglite/database';
import { InteractionUnavailableError } from '../../src/domain/errors';
import { DATABASE } from '../../src/nest/tokens';
import { Database } from '../../src/ports/database';
import { InteractionsModuleOptions } from '../../src/nest/options';
import { ASYNC_PROJECTION, AsyncProjection } from '../../src/nest/read-your-writes';
import { originOf, seedCheckpoint, startEsdb } from '../esdb/support';
import { InMemoryContactDirectory } from '../support/directories';
import { dropSchema, MODULE_TABLES, TEST_DATABASE_URL, uniqueSchema } from '../support/postgres';
import { hostOf } from '../support/test-server';

const contacts = new InMemoryContactDirectory();
const ada = contacts.add({ uuid: uuidv7(), name: 'Ada' }).uuid;

@Injectable()
class AppConfig {
  readonly databaseUrl = TEST_DATABASE_URL;
}

@Module({ providers: [AppConfig], exports: [AppConfig] })
class ConfigModule {}

@Global()
@Module({ providers: [{ provide: CONTACT_DIRECTORY, useValue: contacts }], exports: [CONTACT_DIRECTORY] })
class HostDirectoriesModule {}

describe('InteractionsModule wiring', () => {
  const schemas: string[] = [];
  const schema = () => {
    schemas.push(uniqueSchema());
    return schemas[schemas.length - 1]!;
  };
  afterEach(async () => {
    await Promise.all(schemas.splice(0).map(dropSchema));
  });

  it('boots from forRootAsync with the host config and a host-provided CONTACT_DIRECTORY; commands and queries go through the buses', async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [
        HostDirectoriesModule,
        InteractionsModule.forRootAsync({
          imports: [ConfigModule],
          inject: [AppConfig],
          useFactory: (config: AppConfig) => ({ database: { connectionString: config.databaseUrl }, schema: schema() }),
        }),
      ],
    }).compile();
    const app = await moduleRef.init();
    try {
      const created = await app.get(CommandBus).execute(new CreateInteractionCommand({ contactUuid: ada }));
      expect(await app.get(QueryBus).execute(new GetInteractionQuery(created.uuid))).toEqual(created);
      expect(await app.get(InteractionsService).getInteraction(created.uuid)).toEqual(created);
    } finally {
      await app.close();
    }
  });

  it('serves InteractionsService to every module through a @Global() module of the host that exports it (README)', async () => {
    const interactions = InteractionsModule.forRoot({ database: { connectionString: TEST_DATABASE_URL }, schema: schema(), contactDirectory: contacts });
    @Global()
    @Module({ imports: [interactions], exports: [interactions] })
    class CrmInteractionsModule {}
    @Injectable()
    class ContactPage {
      constructor(readonly interactions: InteractionsService) {}
    }
    @Module({ providers: [ContactPage], exports: [ContactPage] })
    class ContactsFeatureModule {}
    const app = await Test.createTestingModule({ imports: [CrmInteractionsModule, ContactsFeatureModule] })
      .compile()
      .then((m) => m.init());
    try {
      const created = await app.get(ContactPage).interactions.createInteraction({ contactUuid: ada });
      expect(await app.get(InteractionsService).getInteraction(created.uuid)).toEqual(created);
    } finally {
      await app.close();
    }
  });

  it("refuses a second instance in one application (it would act on the first one's schema)", async () => {
    @Module({ imports: [InteractionsModule.forRoot({ database: { connectionString: TEST_DATABASE_URL }, schema: schema(), contactDirectory: contacts })] })
    class SalesModule {}
    @Module({ imports: [InteractionsModule.forRoot({ database: { connectionString: TEST_DATABASE_URL }, schema: schema(), contactDirectory: contacts })] })
    class SupportModule {}
    const boot = Test.createTestingModule({ imports: [SalesModule, SupportModule] }).compile();
    await expect(boot).rejects.toThrow(/InteractionsModule: imported 2 times in this application/);
    // Two applications in one process each have their own: both start.
    const apps = await Promise.all(
      [schema(), schema()].map((name) =>
        Test.createTestingModule({ imports: [InteractionsModule.forRoot({ database: { connectionString: TEST_DATABASE_URL }, schema: name, contactDirectory: contacts })] })
          .compile()
          .then((m) => m.init()),
      ),
    );
    await Promise.all(apps.map((app) => app.close()));
  });

  it('keeps every table in the configured schema', async () => {
    const name = schema();
    const app = await Test.createTestingModule({
      imports: [InteractionsModule.forRoot({ database: { connectionString: TEST_DATABASE_URL }, schema: name, contactDirectory: contacts })],
    })
      .compile()
      .then((m) => m.init());
    await app.close();
    const { Client } = await import('pg');
    const client = new Client({ connectionString: TEST_DATABASE_URL });
    await client.connect();
    const { rows } = await client.query<{ table_name: string }>(
      'SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY table_name',
      [name],
    );
    await client.end();
    expect(rows.map((r) => r.table_name)).toEqual(MODULE_TABLES);
  });

  it('closes its pool when the application closes', async () => {
    const app = await Test.createTestingModule({
      imports: [
        CqrsModule.forRoot(),
        InteractionsModule.forRoot({ database: { connectionString: TEST_DATABASE_URL }, schema: schema(), contactDirectory: contacts }),
      ],
    })
      .compile()
      .then((m) => m.init());
    const service = app.get(InteractionsService);
    await service.createInteraction({ contactUuid: ada });
    const { pool } = app.get(DATABASE) as unknown as { pool: { ending: boolean } };
    await app.close();
    expect(pool.ending).toBe(true);
    await expect(service.getInteraction(uuidv7())).rejects.toMatchObject({ name: 'InteractionUnavailableError', committed: false });
  });

  it('fails to boot with a clear message when there is no ContactDirectory', async () => {
    const boot = Test.createTestingModule({
      imports: [InteractionsModule.forRoot({ database: { connectionString: TEST_DATABASE_URL }, schema: schema(), migrate: false })],
    }).compile();
    await expect(boot).rejects.toThrow(/no ContactDirectory/);
  });

  it('rejects a schema name that is not a plain identifier', async () => {
    const boot = Test.createTestingModule({
      imports: [InteractionsModule.forRoot({ database: { connectionString: TEST_DATABASE_URL }, schema: 'x; DROP TABLE y', contactDirectory: contacts })],
    }).compile();
    await expect(boot).rejects.toThrow(/Invalid schema name/);
  });

  // Node fires a timer of NaN, Infinity, a negative or a 2^31 ms delay after 1 ms: every command would time out
  // at once, or the counts be compacted in a loop.
  it.each([
    ['readYourWrites.timeoutMs', 'Infinity', { readYourWrites: { timeoutMs: Number.POSITIVE_INFINITY } }],
    ['readYourWrites.timeoutMs', '2147483648', { readYourWrites: { timeoutMs: 2 ** 31 } }],
    ['countsCompactionMs', 'NaN', { countsCompactionMs: Number.NaN }],
    ['countsCompactionMs', '-1', { countsCompactionMs: -1 }],
    ['database.queryTimeoutMs', '0.5', { database: { connectionString: TEST_DATABASE_URL, queryTimeoutMs: 0.5 } }],
    ['database.readReplica.queryTimeoutMs', 'Infinity', { database: { connectionString: TEST_DATABASE_URL, readReplica: { connectionString: TEST_DATABASE_URL, queryTimeoutMs: Infinity } } }],
  ])('fails to boot with a clear message when %s is %s', async (name, got, option) => {
    const boot = Test.createTestingModule({
      imports: [InteractionsModule.forRoot({ database: { connectionString: TEST_DATABASE_URL }, schema: schema(), contactDirectory: contacts, migrate: false, ...option })],
    }).compile();
    await expect(boot).rejects.toThrow(`InteractionsModule: ${name} must be a whole number of milliseconds from 0 to 2147483647 (got ${got})`);
  });

  it.each([
    ['a statement unanswered for database.queryTimeoutMs fails as unavailable', 500, true],
    ['queryTimeoutMs: false lets a statement take its time', false, false],
  ] as const)('%s', async (_, queryTimeoutMs, fails) => {
    const app = await Test.createTestingModule({
      imports: [InteractionsModule.forRoot({ database: { connectionString: TEST_DATABASE_URL, queryTimeoutMs }, schema: schema(), contactDirectory: contacts, migrate: false })],
    })
      .compile()
      .then((m) => m.init());
    try {
      const sleeping = app.get<Database>(DATABASE).query('SELECT pg_sleep(1.5)', []);
      if (fails) await expect(sleeping).rejects.toMatchObject({ name: InteractionUnavailableError.name, committed: false });
      else await expect(sleeping).resolves.toBeDefined();
    } finally {
      await app.close();
    }
  });

  it('creates no tables with migrate: false, and says at start that migrations are pending', async () => {
    const name = schema();
    const warned = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    const app = await Test.createTestingModule({
      imports: [InteractionsModule.forRoot({ database: { connectionString: TEST_DATABASE_URL }, schema: name, contactDirectory: contacts, migrate: false })],
    })
      .compile()
      .then((m) => m.init());
    try {
      expect(warned.mock.calls.map(([message]) => String(message))).toEqual([
        expect.stringMatching(new RegExp(`^migrate is false and \\d+ migration\\(s\\) are not applied in schema ${name} \\(the first: event_log/0001_event_log.sql\\)`)),
      ]);
      warned.mockRestore();
      await expect(app.get(InteractionsService).getInteraction(uuidv7())).rejects.toThrow(/does not exist/);
      await app.get(InteractionsMaintenance).migrate();
      expect(await app.get(InteractionsService).getInteraction(uuidv7())).toBeNull();
    } finally {
      warned.mockRestore();
      await app.close();
    }
  });

  it('with EventStoreDB, starts the subscription only once the application is up, not while providers are made', async () => {
    const esdb = await startEsdb();
    const name = schema();
    await seedCheckpoint(name, await originOf(esdb.connectionString));
    const moduleRef = await Test.createTestingModule({
      imports: [
        InteractionsModule.forRoot({
          database: { connectionString: TEST_DATABASE_URL },
          schema: name,
          eventStore: { kind: 'eventstoredb', connectionString: esdb.connectionString },
          contactDirectory: contacts,
        }),
      ],
    }).compile();
    try {
      const projection = moduleRef.get<AsyncProjection>(ASYNC_PROJECTION, { strict: false });
      expect(projection.status().running).toBe(false); // a later provider failing now would leave nothing running
      await moduleRef.init();
      expect(projection.status().running).toBe(true);
      await moduleRef.close();
      expect(projection.status().running).toBe(false);
    } finally {
      await moduleRef.close(); // a second close is harmless
      await esdb.close();
    }
  });

  describe('a start-up that fails leaves nothing open', () => {
    const dirs: string[] = [];
    afterAll(() => dirs.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

    /** Open sockets of this process: a pool or client left open keeps one (timers are jest's own noise). */
    const handles = () => process.getActiveResourcesInfo().filter((kind) => /^TCP/.test(kind)).length;

    async function sql<T extends object = Record<string, unknown>>(text: string, params: unknown[] = []): Promise<T[]> {
      const client = new Client({ connectionString: TEST_DATABASE_URL });
      await client.connect();
      try {
        return (await client.query<T>(text, params)).rows;
      } finally {
        await client.end();
      }
    }

    /** A schema whose migrations cannot be recorded: every migrating start fails inside the migration. */
    const SABOTAGE = (name: string) =>
      `CREATE SCHEMA ${name};
       CREATE TABLE ${name}.schema_migrations (id text PRIMARY KEY, applied_at timestamptz, sabotage int NOT NULL)`;

    /** Boots the module as a host would; resolves with the start-up error. */
    async function failedStart(options: Partial<InteractionsModuleOptions>): Promise<Error> {
      const before = handles();
      const started = Test.createTestingModule({
        imports: [InteractionsModule.forRoot({ database: { connectionString: TEST_DATABASE_URL }, ...options })],
      })
        .compile()
        .then((moduleRef) => moduleRef.init());
      const error = await started.then(
        async (app) => {
          await app.close();
          throw new Error('the start-up did not fail');
        },
        (failure: Error) => failure,
      );
      // Sockets being closed and timers of a moment ago may take a few ticks to go; a pool left open stays.
      for (let tries = 0; handles() > before && tries < 40; tries++) await new Promise((resolveTick) => setTimeout(resolveTick, 50));
      expect(handles()).toBeLessThanOrEqual(before);
      return error;
    }

    /** Backends of a connection string tagged with `application_name`, polled until they are gone. */
    async function backendsOf(applicationName: string): Promise<number> {
      for (let tries = 0; ; tries++) {
        const [row] = await sql<{ n: string }>('SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = $1', [applicationName]);
        if (Number(row!.n) === 0 || tries === 20) return Number(row!.n);
        await new Promise((resolveWait) => setTimeout(resolveWait, 100));
      }
    }

    it('on PostgreSQL, a migration that fails: its pool is closed, no backend remains', async () => {
      const name = schema();
      await sql(SABOTAGE(name));
      const app = `wiring_${name}`;
      const error = await failedStart({
        database: { connectionString: `${TEST_DATABASE_URL}?application_name=${app}` },
        schema: name,
        contactDirectory: contacts,
      });
      expect(error.message).toMatch(/^InteractionsModule: could not open PostgreSQL .*sabotage/);
      expect(error.message).toContain(`PostgreSQL ${hostOf(TEST_DATABASE_URL)}: `);
      expect(await backendsOf(app)).toBe(0);
      expect(await sql(`SELECT id FROM ${name}.schema_migrations`)).toEqual([]); // rolled back, nothing half-migrated
    });

    it('a bad eventStore, database or directory option fails before anything is opened or migrated', async () => {
      const name = schema();
      const app = `wiring_${name}`;
      const database = { connectionString: `${TEST_DATABASE_URL}?application_name=${app}` };
      const attempts: [Partial<InteractionsModuleOptions>, RegExp][] = [
        [{ eventStore: { kind: 'eventstoredb', connectionString: '' }, contactDirectory: contacts }, /connectionString is required/],
        [{ eventStore: { kind: 'kafka' } as never, contactDirectory: contacts }, /unknown eventStore.kind 'kafka'/],
        [{ eventStore: { kind: 'eventstoredb', connectionString: 'not a url' }, contactDirectory: contacts }, /./],
        [{}, /no ContactDirectory/],
        [{ eventStore: { kind: 'eventstoredb', connectionString: 'esdb://127.0.0.1:1?tls=false' } }, /no ContactDirectory/],
        // Shapes a host configured from JavaScript or its environment may pass: named, never a driver's TypeError.
        [{ contactDirectory: {} as never }, /^InteractionsModule: the ContactDirectory has no findContacts method$/],
        [{ contactDirectory: contacts, staffDirectory: { findStaff: 5 } as never }, /^InteractionsModule: the StaffDirectory has no findStaff method$/],
        ...[-1, 0, 1.5, 'ten'].map((max): [Partial<InteractionsModuleOptions>, RegExp] => [
          { database: { ...database, maxConnections: max as number }, contactDirectory: contacts },
          new RegExp(`^InteractionsModule: database.maxConnections must be a whole number from 1 \\(got ${max}\\)$`),
        ]),
        [
          { database: { ...database, readReplica: { connectionString: database.connectionString, maxConnections: -1 } }, contactDirectory: contacts },
          /^InteractionsModule: database.readReplica.maxConnections must be a whole number from 1 \(got -1\)$/,
        ],
        ...[undefined, {}, { pglite: 'memory://' }, null].map((bad): [Partial<InteractionsModuleOptions>, RegExp] => [
          { database: bad as never, contactDirectory: contacts },
          /^InteractionsModule: database must be \{ connectionString \} or \{ pglite: \{ dataDir\?, instance\? \} \}$/,
        ]),
        [{ database: { connectionString: 42 as never }, contactDirectory: contacts }, /^InteractionsModule: database.connectionString is required$/],
        ...[{ connectionString: 42 }, 'postgres://replica', null, {}].map((replica): [Partial<InteractionsModuleOptions>, RegExp] => [
          { database: { ...database, readReplica: replica as never }, contactDirectory: contacts },
          /^InteractionsModule: database.readReplica.connectionString is required$/,
        ]),
        [{ database: { pglite: { dataDir: 42 as never } }, contactDirectory: contacts }, /^InteractionsModule: database.pglite.dataDir must be a non-empty string$/],
        [{ database: { pglite: { instance: {} as never } }, contactDirectory: contacts }, /^InteractionsModule: database.pglite.instance must be a PGlite instance$/],
      ];
      for (const [options, message] of attempts) {
        expect((await failedStart({ database, schema: name, ...options })).message).toMatch(message);
      }
      expect(await backendsOf(app)).toBe(0);
      expect(await sql('SELECT 1 FROM information_schema.schemata WHERE schema_name = $1', [name])).toEqual([]);
    });

    it('an unreachable PostgreSQL fails with an error naming the target, never the password', async () => {
      const error = await failedStart({
        database: { connectionString: 'postgres://crm:s3cret-pw@127.0.0.1:1/crm' },
        schema: schema(),
        contactDirectory: contacts,
      });
      expect(error.message).toMatch(/^InteractionsModule: could not open PostgreSQL 127\.0\.0\.1:1\/crm: .*ECONNREFUSED/);
      expect(error.message).not.toContain('s3cret-pw');
    });

    it('with EventStoreDB, a migration that fails closes the client too and never starts the projector', async () => {
      const name = schema();
      await sql(SABOTAGE(name));
      const error = await failedStart({
        schema: name,
        eventStore: { kind: 'eventstoredb', connectionString: 'esdb://127.0.0.1:1?tls=false' },
        contactDirectory: contacts,
      });
      expect(error.message).toMatch(/sabotage/);
    });

    it('on a PGlite directory (a failed migration, a missing ContactDirectory): the directory can be opened again at once', async () => {
      const dataDir = mkdtempSync(join(tmpdir(), 'crm-interactions-wiring-'));
      dirs.push(dataDir);
      const seed = await PGliteDatabase.open({ dataDir, schema: 'crm_interactions' });
      await seed.query(SABOTAGE('sabotaged'));
      await seed.close();

      const missing = await failedStart({ database: { pglite: { dataDir } }, schema: 'crm_interactions' });
      expect(missing.message).toMatch(/no ContactDirectory/);
      const migration = await failedStart({ database: { pglite: { dataDir } }, schema: 'sabotaged', contactDirectory: contacts });
      expect(migration.message).toMatch(new RegExp(`^InteractionsModule: could not open PGlite in ${dataDir}: .*sabotage`));

      const again = await PGliteDatabase.open({ dataDir, schema: 'sabotaged' });
      try {
        expect(await again.query('SELECT id FROM schema_migrations', [])).toEqual({ rows: [] });
      } finally {
        await again.close();
      }
    }, 90_000);
  });
});
