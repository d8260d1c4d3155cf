import { Global, Injectable, Module } from '@nestjs/common';
import { CommandBus, CqrsModule, QueryBus } from '@nestjs/cqrs';
import { Test } from '@nestjs/testing';
import { uuidv7 } from 'uuidv7';
import {
  CONTACT_DIRECTORY,
  CreateInteractionCommand,
  GetInteractionQuery,
  InteractionsModule,
  InteractionsService,
} from '../../src';
import { InMemoryContactDirectory } from '../support/directories';
import { dropSchema, TEST_DATABASE_URL, uniqueSchema } from '../support/postgres';

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
    expect(rows.map((r) => r.table_name)).toEqual([
      'events',
      'interaction_involvements',
      'interaction_parties',
      'interactions',
      'projection_checkpoints',
      'schema_migrations',
    ]);
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
    await app.close();
    await expect(service.getInteraction(uuidv7())).rejects.toThrow(/pool/i);
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

  it('creates no tables with migrate: false', async () => {
    const name = schema();
    const app = await Test.createTestingModule({
      imports: [InteractionsModule.forRoot({ database: { connectionString: TEST_DATABASE_URL }, schema: name, contactDirectory: contacts, migrate: false })],
    })
      .compile()
      .then((m) => m.init());
    try {
      await expect(app.get(InteractionsService).getInteraction(uuidv7())).rejects.toThrow(/does not exist/);
    } finally {
      await app.close();
    }
  });
});
