import {
  DynamicModule,
  Inject,
  Injectable,
  Module,
  OnApplicationBootstrap,
  OnModuleDestroy,
  Provider,
} from '@nestjs/common';
import { CqrsModule } from '@nestjs/cqrs';
import { ModulesContainer } from '@nestjs/core';
import { CONTACT_DIRECTORY, ContactDirectory, STAFF_DIRECTORY, StaffDirectory } from '../ports/directories';
import type { SubscriptionProjector } from '../adapters/eventstoredb/subscription-projector';
import { COMMAND_HANDLERS } from './command-handlers';
import { createAsyncProjection, createSubscriptionProjector, ModuleResources, openResources } from './event-store.provider';
import { InteractionWriter } from './interaction-writer';
import { InteractionsService } from './interactions.service';
import { InteractionsMaintenance } from './interactions.maintenance';
import { ClaimSettler } from './claim-settler';
import { CountsCompactor } from './counts-compactor';
import { HANDLER_TYPES, InteractionsMetrics } from './metrics';
import {
  INTERACTIONS_OPTIONS,
  InteractionsModuleAsyncOptions,
  InteractionsModuleOptions,
} from './options';
import { QUERY_HANDLERS } from './query-handlers';
import { LATE_LINKING_HANDLERS } from './late-linking';
import { ASYNC_PROJECTION } from './read-your-writes';
import { LIFECYCLE_PROVIDERS, LifecycleResumer } from '../lifecycle';
import { DATABASE, Directories, DIRECTORIES, EVENT_STORE, READ_DATABASE } from './tokens';
import { UnknownOutcomes } from './unknown-outcomes';

/**
 * The module's handlers register on the application's buses, which the command and query classes name:
 * a second instance in one application would replace the first one's handlers, and the first one's
 * service would act on the second one's schema without a word. Refused at start, before anything opens.
 */
function assertOneInstance(modules: ModulesContainer): void {
  const instances = [...modules.values()].filter((module) => module.metatype === InteractionsModule).length;
  if (instances > 1) {
    throw new Error(
      `InteractionsModule: imported ${instances} times in this application (forRoot or forRootAsync called more than once); ` +
        "the instances would share the application's CommandBus and QueryBus, and one would act on the other's schema. " +
        'Import it once (see the README: a @Global() module of yours can export it to every module)',
    );
  }
}

/** Internal: the database and event store, opened together (see openResources). */
const RESOURCES = Symbol('crm-interactions:RESOURCES');
const SUBSCRIPTION_PROJECTOR = Symbol('crm-interactions:SUBSCRIPTION_PROJECTOR');

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
  const staffDirectory = options.staffDirectory ?? staff ?? null;
  // Checked at start, not found missing by the first command that looks a party up.
  if (typeof (contactDirectory as Partial<ContactDirectory>).findContacts !== 'function') {
    throw new Error('InteractionsModule: the ContactDirectory has no findContacts method');
  }
  if (staffDirectory && typeof (staffDirectory as Partial<StaffDirectory>).findStaff !== 'function') {
    throw new Error('InteractionsModule: the StaffDirectory has no findStaff method');
  }
  return { contacts: contactDirectory, staff: staffDirectory };
}

/**
 * Starts the subscription projector once the application is up (never during provider creation: a
 * start-up that fails later must not leave it running), and closes what the module opened when the
 * application closes.
 */
@Injectable()
class InteractionsResources implements OnApplicationBootstrap, OnModuleDestroy {
  constructor(
    @Inject(RESOURCES) private readonly resources: ModuleResources,
    @Inject(SUBSCRIPTION_PROJECTOR) private readonly projector: SubscriptionProjector | null,
    private readonly lifecycle: LifecycleResumer,
    private readonly counts: CountsCompactor,
    private readonly claims: ClaimSettler,
    private readonly unknownOutcomes: UnknownOutcomes,
  ) {}

  onApplicationBootstrap(): void {
    this.projector?.start();
  }

  /** Once, however often the application is closed. */
  onModuleDestroy(): Promise<void> {
    this.closed ??= this.close();
    return this.closed;
  }

  private closed: Promise<void> | null = null;

  private async close(): Promise<void> {
    // The subscription first (it finishes its batch), then the client, then the pool; each one even when
    // one before it failed, so a failure never leaves the pool (or PGlite's directory lock) behind.
    const failures: unknown[] = [];
    // A background fan-out stops before anything it writes through is closed.
    const steps = [
      () => this.lifecycle.stop(),
      () => this.counts.stop(),
      () => this.claims.stop(),
      () => this.unknownOutcomes.stop(),
      () => this.projector?.stop(),
      () => this.resources.store.close(),
      () => this.resources.readReplica?.close(),
      () => this.resources.db.close(),
    ];
    for (const step of steps) {
      await Promise.resolve()
        .then(step)
        .catch((error: unknown) => failures.push(error));
    }
    if (failures.length > 0) throw failures[0];
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
        {
          provide: DIRECTORIES,
          // The application's modules are all known before any provider is made: a second instance fails
          // the start here, before either instance opens anything.
          useFactory: (options: InteractionsModuleOptions, modules: ModulesContainer, contacts?: ContactDirectory, staff?: StaffDirectory) => {
            assertOneInstance(modules);
            return resolveDirectories(options, contacts, staff);
          },
          inject: [
            INTERACTIONS_OPTIONS,
            ModulesContainer,
            { token: CONTACT_DIRECTORY, optional: true },
            { token: STAFF_DIRECTORY, optional: true },
          ],
        },
        // Depends on DIRECTORIES only so that a missing directory fails the start before anything is opened.
        {
          provide: RESOURCES,
          useFactory: (options: InteractionsModuleOptions) => openResources(options),
          inject: [INTERACTIONS_OPTIONS, DIRECTORIES],
        },
        { provide: DATABASE, useFactory: (resources: ModuleResources) => resources.db, inject: [RESOURCES] },
        { provide: READ_DATABASE, useFactory: (resources: ModuleResources) => resources.readReplica ?? resources.db, inject: [RESOURCES] },
        { provide: EVENT_STORE, useFactory: (resources: ModuleResources) => resources.store, inject: [RESOURCES] },
        {
          provide: SUBSCRIPTION_PROJECTOR,
          useFactory: (options: InteractionsModuleOptions, resources: ModuleResources) =>
            createSubscriptionProjector(options, resources.db, resources.store),
          inject: [INTERACTIONS_OPTIONS, RESOURCES],
        },
        { provide: ASYNC_PROJECTION, useFactory: createAsyncProjection, inject: [INTERACTIONS_OPTIONS, SUBSCRIPTION_PROJECTOR] },
        InteractionsResources,
        CountsCompactor,
        ClaimSettler,
        UnknownOutcomes,
        InteractionWriter,
        ...COMMAND_HANDLERS,
        ...QUERY_HANDLERS,
        ...LATE_LINKING_HANDLERS,
        ...LIFECYCLE_PROVIDERS,
        InteractionsService,
        InteractionsMaintenance,
        { provide: HANDLER_TYPES, useValue: [...COMMAND_HANDLERS, ...QUERY_HANDLERS, ...LATE_LINKING_HANDLERS, ...LIFECYCLE_PROVIDERS] },
        InteractionsMetrics,
      ],
      exports: [InteractionsService, InteractionsMaintenance, InteractionsMetrics],
    };
  }
}
