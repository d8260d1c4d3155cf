import { INestApplication } from '@nestjs/common';
import { AddressInfo } from 'node:net';
import { createDemoApp } from '../../src/demo/main';
import { Backend, POSTGRES } from '../support/backends';
import { uniqueSchema } from '../support/postgres';

export interface DemoUnderTest {
  app: INestApplication;
  /** http://127.0.0.1:<port> */
  base: string;
  /** The text of every answer `call` has had from this host, in order (for suites that check them all). */
  answerTexts: string[];
  /** Closes the app and drops its schemas. */
  close(): Promise<void>;
}

export interface Answer {
  status: number;
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any -- JSON from the wire
}

/**
 * One request to the demo host with a JSON body (if any); the answer's JSON, or null for an empty answer.
 * An answer that is not JSON fails the call. Its text is kept in `demo.answerTexts`.
 */
export async function call(demo: DemoUnderTest, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Answer> {
  const response = await fetch(`${demo.base}${path}`, {
    method,
    headers: { 'content-type': 'application/json', ...headers },
    ...(body !== undefined && { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  demo.answerTexts.push(text);
  if (!text) return { status: response.status, body: null };
  try {
    return { status: response.status, body: JSON.parse(text) };
  } catch {
    throw new Error(`${method} ${path} answered ${response.status} with a body that is not JSON: ${text.slice(0, 200)}`);
  }
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
    answerTexts: [],
    async close() {
      await app.close();
      await backend.dropSchema(schemas.module);
      await backend.dropSchema(schemas.contacts);
    },
  };
}
