import { compileSources } from './compiled';
import { chooseTestServer, EmbeddedServer, hostOf, serverVersion, startEmbeddedServer } from './test-server';

/**
 * Jest's globalSetup: picks the PostgreSQL of this run once (starting the embedded one if needed) and
 * exports it as TEST_DATABASE_URL, which the workers and every child process a test spawns inherit; and
 * compiles the sources those child processes run.
 */
export default async function globalSetup(): Promise<void> {
  compileSources();
  const choice = await chooseTestServer(process.env);
  if (choice.kind === 'embedded') {
    const started = Date.now();
    const server = await startEmbeddedServer();
    (globalThis as { embeddedPostgres?: EmbeddedServer }).embeddedPostgres = server;
    process.env.TEST_DATABASE_URL = server.url;
    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    console.log(
      `PostgreSQL for this run: ${await serverVersion(server.url)}, embedded at ${hostOf(server.url)}, started in ${seconds} s (${choice.reason})`,
    );
    return;
  }
  process.env.TEST_DATABASE_URL = choice.url;
  const why = choice.kind === 'configured' ? 'TEST_DATABASE_URL' : 'the default address';
  console.log(`PostgreSQL for this run: ${await serverVersion(choice.url)} at ${hostOf(choice.url)} (${why})`);
}
