import { INestApplication } from '@nestjs/common';
import { AddressInfo } from 'node:net';
import { createDemoApp } from '../../src/demo/main';
import { Backend, POSTGRES } from '../support/backends';
import { uniqueSchema } from '../support/postgres';

export interface DemoUnderTest {
  app: INestApplication;
  /** http://127.0.0.1:<port> */
  base: string;
  /** Closes the app and drops its schemas. */
  close(): Promise<void>;
}

/** The demo host in this process, listening on 127.0.0.1 and a free port, over fresh schemas of `backend`. */
export async function startDemoApp(backend: Backend = POSTGRES): Promise<DemoUnderTest> {
  const schemas = { module: uniqueSchema('http'), contacts: uniqueSchema('demo') };
  const app = await createDemoApp({
    module: { database: await backend.databaseOption(), schema: schemas.module },
    contactsSchema: schemas.contacts,
    sampleData: false,
    logLevel: 'silent',
  });
  await app.listen(0, '127.0.0.1');
  return {
    app,
    base: `http://127.0.0.1:${(app.getHttpServer().address() as AddressInfo).port}`,
    async close() {
      await app.close();
      await backend.dropSchema(schemas.module);
      await backend.dropSchema(schemas.contacts);
    },
  };
}
