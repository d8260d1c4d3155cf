import { DynamicModule, Inject, Injectable, Module, OnApplicationShutdown } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { LoggerModule } from 'nestjs-pino';
import { PGliteDatabase } from '../adapters/pglite/database';
import { PgDatabase } from '../adapters/postgres/database';
import { describeDatabaseTarget } from '../nest/database.provider';
import { InteractionsModule } from '../nest/interactions.module';
import { DEFAULT_PGLITE_DATA_DIR, InteractionsModuleOptions } from '../nest/options';
import { Database } from '../ports/database';
import { DemoContacts } from './contacts';
import { ContactsController } from './contacts.controller';
import { HealthController } from './health.controller';
import { InteractionsController } from './interactions.controller';
import { LateLinkingController } from './late-linking.controller';
import { MetricsController } from './metrics.controller';
import { requestForLog } from './request-log';
import { SAMPLE_DATA_ENABLED, SampleData } from './sample-data';
import { errorText } from '../domain/errors';
import { pgliteTemplate } from './pglite-template';

const DEMO_SCHEMA = 'crm_demo';
const DEMO_DATABASE = Symbol('DEMO_DATABASE');

/**
 * The demo's connection for its own contacts table. On PGlite the module and the demo share one
 * instance (PGlite is one process-local database), opened and closed here.
 */
interface DemoDatabase {
  db: Database;
  moduleDatabase: InteractionsModuleOptions['database'];
  close(): Promise<void>;
}

async function openDemoDatabase(database: InteractionsModuleOptions['database'], schema: string): Promise<DemoDatabase> {
  if ('connectionString' in database) {
    const db = new PgDatabase({ connectionString: database.connectionString, schema, max: 3 });
    return { db, moduleDatabase: database, close: () => db.close() };
  }
  const { instance } = database.pglite;
  if (instance) return { db: PGliteDatabase.on(instance, schema), moduleDatabase: database, close: async () => undefined };
  // Opened (and locked against other processes) here, and shared with the module; a new folder from the
  // template. A demo's data is small: a sixteenth of PGlite's shared buffers, ~0.4 s less to start.
  const dataDir = database.pglite.dataDir ?? DEFAULT_PGLITE_DATA_DIR;
  const settings = { shared_buffers: '16MB' };
  const opened = await PGliteDatabase.open({ dataDir, schema, template: pgliteTemplate(), settings });
  return { db: opened, moduleDatabase: { pglite: { instance: opened.instance } }, close: () => opened.close() };
}

/**
 * What the demo opened while starting. Nest closes nothing of a start that fails (no app is returned to
 * close), so createDemoApp closes these then.
 */
export class OpenedDuringStart {
  private readonly closers: Array<() => Promise<void>> = [];

  add(close: () => Promise<void>): void {
    this.closers.push(close);
  }

  async closeAll(): Promise<void> {
    for (const close of this.closers.splice(0).reverse()) await close().catch(() => undefined);
  }
}

/** Closes the demo's database after the module has closed its own resources. */
@Injectable()
class DemoDatabaseCloser implements OnApplicationShutdown {
  constructor(@Inject(DEMO_DATABASE) private readonly demo: DemoDatabase) {}

  async onApplicationShutdown(): Promise<void> {
    await this.demo.close();
  }
}

export interface DemoOptions {
  module: Pick<InteractionsModuleOptions, 'database' | 'eventStore' | 'schema' | 'upcasters'>;
  /** Schema of the demo's own contacts table; default 'crm_demo'. */
  contactsSchema?: string;
  /** Sample contacts and interactions on an empty database; default true. */
  sampleData?: boolean;
  logLevel?: string;
}

/** The demo host: imports InteractionsModule exactly as a host application would. */
@Module({})
export class DemoModule {
  static forRoot(options: DemoOptions, opened = new OpenedDuringStart()): DynamicModule {
    const demoDatabase = {
      provide: DEMO_DATABASE,
      useFactory: async () => {
        const demo = await openDemoDatabase(options.module.database, options.contactsSchema ?? DEMO_SCHEMA);
        opened.add(() => demo.close());
        return demo;
      },
    };
    const contacts = {
      provide: DemoContacts,
      inject: [DEMO_DATABASE],
      useFactory: async (demo: DemoDatabase) => {
        const directory = new DemoContacts(demo.db);
        try {
          await directory.migrate();
        } catch (error) {
          // The first statement on the database: an unreachable server shows here, named for people.
          const reason = errorText(error);
          throw new Error(`DemoModule: could not open ${describeDatabaseTarget(options.module.database)}: ${reason}`, { cause: error });
        }
        return directory;
      },
    };

    @Module({ providers: [demoDatabase, contacts, DemoDatabaseCloser], exports: [DEMO_DATABASE, DemoContacts] })
    class DemoDataModule {}

    return {
      module: DemoModule,
      imports: [
        LoggerModule.forRoot({
          pinoHttp: {
            level: options.logLevel ?? 'info',
            redact: ['req.headers.authorization', 'req.headers.cookie'],
            customProps: (req) => ({ requestId: req.id }),
            serializers: { req: requestForLog },
          },
        }),
        TerminusModule,
        DemoDataModule,
        InteractionsModule.forRootAsync({
          imports: [DemoDataModule],
          inject: [DEMO_DATABASE, DemoContacts],
          useFactory: (demo: DemoDatabase, directory: DemoContacts) => ({
            ...options.module,
            database: demo.moduleDatabase,
            contactDirectory: directory,
          }),
        }),
      ],
      controllers: [InteractionsController, ContactsController, HealthController, MetricsController, LateLinkingController],
      providers: [{ provide: SAMPLE_DATA_ENABLED, useValue: options.sampleData ?? true }, SampleData],
    };
  }
}
