import 'reflect-metadata';
import { LoggerService, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { InteractionsModule, InteractionsService } from '../../src';
import { ASYNC_PROJECTION, AsyncProjection } from '../../src/nest/read-your-writes';

/**
 * One instance of a host, for scale-out.spec.ts: `scale-out-child.ts <esdb> <schema> <databaseUrl>`
 * boots InteractionsModule (EventStoreDB, read tables in PostgreSQL) and answers the parent's requests
 * over the IPC channel: `{ id, op: 'create' | 'get' | 'status' | 'close', … }` → `{ id, ok, … }`. It sends
 * `{ ready, pid }` once the application is up, and closes the application and exits when told to or when
 * the parent goes away. Its Nest logs go to stderr, each line prefixed with `[label]`.
 */
const [esdb, schema, databaseUrl, label] = process.argv.slice(2) as [string, string, string, string];

/** Every uuid is a contact: the instances need no shared directory. */
const contacts = { findContacts: async (uuids: string[]) => uuids.map((uuid) => ({ uuid, name: `Contact ${uuid.slice(-4)}` })) };

class StderrLogger implements LoggerService {
  private write(level: string, message: unknown): void {
    process.stderr.write(`[${label} ${level}] ${String(message)}\n`);
  }
  log(message: unknown) {
    this.write('log', message);
  }
  warn(message: unknown) {
    this.write('warn', message);
  }
  error(message: unknown) {
    this.write('error', message);
  }
}

@Module({
  imports: [
    InteractionsModule.forRoot({
      database: { connectionString: databaseUrl, maxConnections: 4 },
      schema,
      eventStore: { kind: 'eventstoredb', connectionString: esdb },
      contactDirectory: contacts,
      resumeLifecycleOnStart: false,
    }),
  ],
})
class HostModule {}

type Request =
  | { id: number; op: 'create'; contactUuid: string; subject: string }
  | { id: number; op: 'get'; uuid: string }
  | { id: number; op: 'status' }
  | { id: number; op: 'close' };

async function main(): Promise<void> {
  const app = await NestFactory.createApplicationContext(HostModule, { logger: new StderrLogger(), abortOnError: false });
  const service = app.get(InteractionsService);
  const projection = app.get<AsyncProjection>(ASYNC_PROJECTION, { strict: false });
  const send = (message: object) => process.send!(message);
  let closing: Promise<void> | null = null;
  const close = () => (closing ??= app.close().finally(() => process.exit(0)));
  process.on('disconnect', () => void close()); // the parent is gone: never outlive it

  process.on('message', async (request: Request) => {
    const started = performance.now();
    try {
      switch (request.op) {
        case 'create': {
          const created = await service.createInteraction({ contactUuid: request.contactUuid, subject: request.subject });
          return send({ id: request.id, ok: true, uuid: created.uuid, ms: performance.now() - started });
        }
        case 'get': {
          const found = await service.getInteraction(request.uuid);
          return send({ id: request.id, ok: true, subject: found?.subject ?? null });
        }
        case 'status': {
          const { position, ...status } = projection.status();
          return send({ id: request.id, ok: true, status: { ...status, position: `${position.commit}/${position.prepare}` } });
        }
        case 'close':
          send({ id: request.id, ok: true });
          return void close();
      }
    } catch (error) {
      const e = error as Error;
      send({ id: request.id, ok: false, error: `${e.name}: ${e.message}` });
    }
  });
  send({ ready: true, pid: process.pid });
}

main().catch((error: unknown) => {
  process.stderr.write(`[${label} error] failed to start: ${String(error)}\n`);
  process.exit(1);
});
