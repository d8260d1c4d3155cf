import { EmbeddedServer } from './test-server';

/** Jest's globalTeardown: stops the embedded server of this run, if one was started, and removes its data. */
export default async function globalTeardown(): Promise<void> {
  const holder = globalThis as { embeddedPostgres?: EmbeddedServer };
  await holder.embeddedPostgres?.stop();
  delete holder.embeddedPostgres;
}
