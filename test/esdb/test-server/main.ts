import { EsdbTestServer } from './server';

/**
 * The protocol test server on its own: `npm run esdb:test-server -- [--port N] [--host H]`. The first line
 * on stdout is the connection string; it runs until killed (SIGINT/SIGTERM close it cleanly).
 */
export async function main(argv: string[]): Promise<void> {
  const option = (name: string): string | undefined => {
    const at = argv.indexOf(`--${name}`);
    const inline = argv.find((arg) => arg.startsWith(`--${name}=`));
    return inline ? inline.slice(name.length + 3) : at >= 0 ? argv[at + 1] : undefined;
  };
  const port = Number(option('port') ?? 2113);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    process.stderr.write(`Invalid --port ${option('port')}\n`);
    process.exit(2);
  }
  const server = await EsdbTestServer.start({ port, host: option('host') ?? '127.0.0.1' });
  process.stdout.write(`${server.connectionString}\n`);
  const stop = async () => {
    await server.close();
    process.exit(0);
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}
