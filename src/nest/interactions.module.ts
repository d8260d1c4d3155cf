import { DynamicModule, Inject, Injectable, Module, OnModuleDestroy, Optional, Provider } from '@nestjs/common';
import { CqrsModule } from '@nestjs/cqrs';
import { CONTACT_DIRECTORY, ContactDirectory, STAFF_DIRECTORY, StaffDirectory } from '../ports/directories';
import { Database } from '../ports/database';
import { EventStore } from '../ports/event-store';
import { COMMAND_HANDLERS } from './command-handlers';
import { openDatabase } from './database.provider';
import { createEventStore, startAsyncProjection } from './event-store.provider';
import { InteractionWriter } from './interaction-writer';
import { InteractionsService } from './interactions.service';
import { InteractionsMaintenance } from './interactions.maintenance';
import {
  INTERACTIONS_OPTIONS,
  InteractionsModuleAsyncOptions,
  InteractionsModuleOptions,
} from './options';
import { QUERY_HANDLERS } from './query-handlers';
import { ASYNC_PROJECTION, AsyncProjection } from './read-your-writes';
import { DATABASE, Directories, DIRECTORIES, EVENT_STORE } from './tokens';

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
    @Optional() @Inject(ASYNC_PROJECTION) private readonly projection: AsyncProjection | null = null,
  ) {}

  async onModuleDestroy(): Promise<void> {
    // The subscription first (it finishes its batch), then the client, then the pool.
    await this.projection?.stop();
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
          provide: ASYNC_PROJECTION,
          useFactory: startAsyncProjection,
          inject: [INTERACTIONS_OPTIONS, DATABASE, EVENT_STORE],
        },
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
        InteractionsMaintenance,
      ],
      exports: [InteractionsService, InteractionsMaintenance],
    };
  }
}
