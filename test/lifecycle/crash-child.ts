import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { InteractionsModule, InteractionsService } from '../../src';

/**
 * `crash-child.ts <schema> <contactUuid> [<esdb connection string>]`: boots the module on the test
 * PostgreSQL (with the event log on that EventStoreDB server when one is given) and deletes the contact,
 * for crash.spec.ts to SIGKILL half-way through the fan-out.
 */
const [schema, contactUuid, esdbConnectionString] = process.argv.slice(2);
const connectionString = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

void (async () => {
  const app = await NestFactory.createApplicationContext(
    InteractionsModule.forRoot({
      database: { connectionString },
      schema: schema!,
      ...(esdbConnectionString && { eventStore: { kind: 'eventstoredb' as const, connectionString: esdbConnectionString } }),
      contactDirectory: { findContacts: async () => [] },
      resumeLifecycleOnStart: false,
    }),
    { logger: false },
  );
  process.stdout.write('started\n');
  const result = await app.get(InteractionsService).contactDeleted(contactUuid!);
  process.stdout.write(`finished ${JSON.stringify(result)}\n`); // never reached: killed before
})();
