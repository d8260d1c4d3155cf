import { DynamicModule, Inject, Injectable, Module, OnModuleDestroy, Provider } from '@nestjs/common';
import { CqrsModule } from '@nestjs/cqrs';
import { Database, PgDatabase } from '../adapters/postgres/database';
import { PostgresEventStore } from '../adapters/postgres/postgres-event-store';
import { CONTACT_DIRECTORY, ContactDirectory, STAFF_DIRECTORY, StaffDirectory } from '../ports/directories';
import { EventStore } from '../ports/event-store';
import { EVENT_LOG_MIGRATIONS, migrate, READ_TABLE_MIGRATIONS } from '../../projections/migrate';
import { projectEvents } from '../../projections/interactions.projection';
import { COMMAND_HANDLERS } from './command-handlers';
import { InteractionWriter } from './interaction-writer';
import { InteractionsService } from './interactions.service';
import {
  DEFAULT_SCHEMA,
  INTERACTIONS_OPTIONS,
  InteractionsModuleAsyncOptions,
  InteractionsModuleOptions,
} from './options';
import { QUERY_HANDLERS } from './query-handlers';
import { DATABASE, Directories, DIRECTORIES, EVENT_STORE } from './tokens';

async function openDatabase(options: InteractionsModuleOptions): Promise<Database> {
  const { database } = options;
  if (!('connectionString' in database)) {
    throw new Error('InteractionsModule: database.pglite is not available in this version; use database.connectionString');
  }
  const db = new PgDatabase({
    connectionString: database.connectionString,
    max: database.maxConnections,
    schema: options.schema ?? DEFAULT_SCHEMA,
  });
  if (options.migrate !== false) {
    try {
      await migrate(db, [EVENT_LOG_MIGRATIONS, READ_TABLE_MIGRATIONS]);
    } catch (error) {
      await db.close();
      throw error;
    }
  }
  return db;
}

function createEventStore(options: InteractionsModuleOptions, db: Database): EventStore {
  const kind = options.eventStore?.kind ?? 'postgres';
  if (kind !== 'postgres') {
    throw new Error(`InteractionsModule: eventStore.kind '${kind}' is not available in this version; use 'postgres'`);
  }
  // The read tables change in the append's own transaction: queries see every write at once.
  return new PostgresEventStore(db, projectEvents);
}

function resolveDirectories(
  options: InteractionsModuleOptions,
  contacts?: ContactDirectory,
  staff?: StaffDirectory,
): Directories {
  const contactDirectory = options.contactDirectory ?? contacts;
  if (!contactDirectory) {
    throw new Error(
      'InteractionsModule: no ContactDirectory; pass options.contactDirectory or provide CONTACT_DIRECTORY',
    );
  }
  return { contacts: contactDirectory, staff: options.staffDirectory ?? staff ?? null };
}

/** Closes what the module opened when the application closes. */
@Injectable()
class InteractionsResources implements OnModuleDestroy {
  constructor(
    @Inject(DATABASE) private readonly db: Database,
    @Inject(EVENT_STORE) private readonly store: EventStore,
  ) {}

  async onModuleDestroy(): Promise<void> {
    await this.store.close();
    await this.db.close();
  }
}

@Module({})
export class InteractionsModule {
  static forRoot(options: InteractionsModuleOptions): DynamicModule {
    return InteractionsModule.build({ provide: INTERACTIONS_OPTIONS, useValue: options }, []);
  }

  static forRootAsync(options: InteractionsModuleAsyncOptions): DynamicModule {
    return InteractionsModule.build(
      { provide: INTERACTIONS_OPTIONS, useFactory: options.useFactory, inject: options.inject ?? [] },
      options.imports ?? [],
    );
  }

  private static build(optionsProvider: Provider, imports: NonNullable<DynamicModule['imports']>): DynamicModule {
    return {
      module: InteractionsModule,
      imports: [CqrsModule.forRoot(), ...imports],
      providers: [
        optionsProvider,
        { provide: DATABASE, useFactory: openDatabase, inject: [INTERACTIONS_OPTIONS] },
        { provide: EVENT_STORE, useFactory: createEventStore, inject: [INTERACTIONS_OPTIONS, DATABASE] },
        {
          provide: DIRECTORIES,
          useFactory: resolveDirectories,
          inject: [
            INTERACTIONS_OPTIONS,
            { token: CONTACT_DIRECTORY, optional: true },
            { token: STAFF_DIRECTORY, optional: true },
          ],
        },
        InteractionsResources,
        InteractionWriter,
        ...COMMAND_HANDLERS,
        ...QUERY_HANDLERS,
        InteractionsService,
      ],
      exports: [InteractionsService],
    };
  }
}
